package entra

import (
	"context"
	"errors"
	"fmt"
)

// hints say, in the customer admin's terms, what an AADSTS code usually means
// for a tamlink channel and what to do about it.
var hints = map[int]string{
	7000215: "the client secret is wrong: paste the secret's Value (not its Secret ID) from Certificates & secrets",
	7000222: "the client secret has expired: create a new one under Certificates & secrets and update the channel",
	700016:  "no app with this appId exists in the tenant: check appId and tenantId were not swapped or mistyped",
	90002:   "the tenant does not exist: check tenantId (the Directory (tenant) ID on the app's Overview page)",
	50011:   "the redirect URI is not registered: add this server's /thirdparty/teams/{appId}/oauth2/callback under Authentication",
	65001:   "the user or an admin has not consented: grant admin consent for User.Read under API permissions",
	500011:  "the resource is not known in this tenant: the app was never consented or installed there",
	50194:   "the app is single tenant: use the tenant's own authority, not /common",
	700054:  "ID tokens are not enabled for the app under Authentication",
}

// Explain describes err for a person fixing the channel.
func Explain(err error) string {
	var ae *AADError
	if errors.As(err, &ae) {
		if h, ok := hints[ae.AADSTS()]; ok {
			return fmt.Sprintf("AADSTS%d: %s", ae.AADSTS(), h)
		}
		return ae.Error()
	}
	return err.Error()
}

// TestConnection proves a channel's credentials work: it asks the channel's
// tenant for an app-only Graph token, which needs a valid appId, tenantId and
// secret but no permission grants.
func (c *Client) TestConnection(ctx context.Context, tenant, appID, secret string) error {
	_, err := c.ClientCredentials(ctx, tenant, appID, secret, GraphResource+"/.default")
	return err
}
