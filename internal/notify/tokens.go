package notify

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tamlink/tamlink/internal/desk"
	"github.com/tamlink/tamlink/internal/entra"
)

// Graph application permissions the notifier needs (graph-api.md 0, 3.1, 3.4).
var (
	sendRoles    = []string{"TeamsActivity.Send", "TeamsActivity.Send.User"}
	installRoles = []string{"TeamsAppInstallation.ReadWriteSelfForUser.All", "TeamsAppInstallation.ReadWriteForUser.All",
		"TeamsAppInstallation.ReadWriteAndConsentSelfForUser.All", "TeamsAppInstallation.ReadWriteAndConsentForUser.All"}
)

// appToken is a channel's app-only Graph token.
type appToken struct {
	value  string
	expiry time.Time
	roles  []string // the token's roles claim, if it could be read
	parsed bool
}

// tokenSlot caches one channel's token; its mutex makes concurrent misses
// share one request to the token endpoint.
type tokenSlot struct {
	mu  sync.Mutex
	tok *appToken
}

// tokenCache holds a client-credentials token per channel (scope
// https://graph.microsoft.com/.default), renewed five minutes before expiry.
type tokenCache struct {
	entra *entra.Client
	svc   *desk.Service
	now   func() time.Time

	mu    sync.Mutex
	slots map[string]*tokenSlot
}

func (c *tokenCache) slot(appID string) *tokenSlot {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.slots[appID]
	if s == nil {
		s = &tokenSlot{}
		c.slots[appID] = s
	}
	return s
}

// get returns a valid token for ch; fresh reports whether it was just fetched.
func (c *tokenCache) get(ctx context.Context, ch desk.Channel) (tok *appToken, fresh bool, err error) {
	s := c.slot(ch.AppID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok != nil && c.now().Add(5*time.Minute).Before(s.tok.expiry) {
		return s.tok, false, nil
	}
	secret, err := c.svc.ChannelSecret(ch)
	if err != nil {
		return nil, false, err
	}
	t, err := c.entra.ClientCredentials(ctx, ch.TenantID, ch.AppID, secret, entra.GraphResource+"/.default")
	if err != nil {
		return nil, false, err
	}
	at := &appToken{value: t.AccessToken, expiry: t.Expiry}
	if at.expiry.IsZero() {
		at.expiry = c.now().Add(time.Hour)
	}
	at.roles, at.parsed = rolesOf(t.AccessToken)
	s.tok = at
	return at, true, nil
}

// drop forgets a channel's token (Graph answered 401).
func (c *tokenCache) drop(appID string) {
	s := c.slot(appID)
	s.mu.Lock()
	s.tok = nil
	s.mu.Unlock()
}

// rolesOf reads the roles claim of an app-only token. It verifies nothing:
// the token came straight from the token endpoint and the claim is only a
// hint for explaining what is missing — Graph's answer decides (a Teams app
// may hold resource-specific consent that no roles claim shows). A token
// that is not a readable JWT yields ok = false.
func rolesOf(token string) (roles []string, ok bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, false
	}
	var claims struct {
		Roles []string `json:"roles"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return nil, false
	}
	return claims.Roles, true
}

// hasAny reports whether the token is known to carry one of want.
func (t *appToken) hasAny(want []string) bool {
	return slices.ContainsFunc(t.roles, func(r string) bool {
		return slices.ContainsFunc(want, func(w string) bool { return strings.EqualFold(r, w) })
	})
}

// missing names the permissions a readable token lacks, for the console.
func (t *appToken) missing() []string {
	if !t.parsed {
		return nil
	}
	var out []string
	if !t.hasAny(sendRoles) {
		out = append(out, "TeamsActivity.Send")
	}
	if !t.hasAny(installRoles) {
		out = append(out, "TeamsAppInstallation.ReadWriteSelfForUser.All")
	}
	return out
}
