package graph

import (
	"context"
	"net/http"
	"net/url"
	"strings"
)

// Delegated permission grants: admin consent for all users (graph-api.md 1.5).

// OAuth2PermissionGrant consents client (a service principal) to scopes of
// resource, for all users (AllPrincipals) or one (Principal).
type OAuth2PermissionGrant struct {
	ID          string  `json:"id,omitempty"`
	ClientID    string  `json:"clientId"`
	ConsentType string  `json:"consentType"`
	PrincipalID *string `json:"principalId"`
	ResourceID  string  `json:"resourceId"`
	Scope       string  `json:"scope"`
}

// HasScope reports whether the grant includes scope value s.
func (g OAuth2PermissionGrant) HasScope(s string) bool {
	for _, x := range strings.Fields(g.Scope) {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// PermissionGrants lists the delegated grants of client service principal
// clientSPID.
func (c *Client) PermissionGrants(ctx context.Context, clientSPID string) ([]OAuth2PermissionGrant, error) {
	var out list[OAuth2PermissionGrant]
	err := c.Do(ctx, http.MethodGet, "/v1.0/oauth2PermissionGrants"+Query("$filter", "clientId eq "+Quote(clientSPID)), nil, &out)
	return out.Value, err
}

// CreatePermissionGrant records a consent (201).
func (c *Client) CreatePermissionGrant(ctx context.Context, g OAuth2PermissionGrant) (OAuth2PermissionGrant, error) {
	var out OAuth2PermissionGrant
	err := c.Do(ctx, http.MethodPost, "/v1.0/oauth2PermissionGrants", g, &out, RetryNotFound(ReplicationRetries))
	return out, err
}

// UpdatePermissionGrant replaces a grant's scopes (204).
func (c *Client) UpdatePermissionGrant(ctx context.Context, id, scope string) error {
	return c.Do(ctx, http.MethodPatch, "/v1.0/oauth2PermissionGrants/"+url.PathEscape(id), map[string]string{"scope": scope}, nil)
}
