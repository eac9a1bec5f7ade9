package emulator

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TokenOptions tunes IssueTeamsToken.
type TokenOptions struct {
	// ClientID is the Teams/Office client that asked for the token (azp /
	// appid). Empty means the Teams web client.
	ClientID string
	// Lifetime overrides Entra's random 60–90 minutes.
	Lifetime time.Duration
	// ExtraClaims are merged over the standard claims; a nil value removes
	// a claim (to build malformed tokens in tests).
	ExtraClaims map[string]any
	// MFA marks the token as obtained with multifactor authentication, which
	// satisfies SetMFARequired when the token is used for OBO.
	MFA bool
}

// Reasons IssueTeamsToken fails with, named like the Teams JS SDK's
// getAuthToken failures where one exists.
const (
	TeamsErrUnknownTenant           = "unknownTenant"
	TeamsErrUnknownUser             = "unknownUser"
	TeamsErrResourceDisabled        = "resourceDisabled"
	TeamsErrResourceRequiresConsent = "resourceRequiresConsent"
)

// TeamsTokenError is why Teams could not get a token for the app.
type TeamsTokenError struct {
	Code    string // one of the TeamsErr* constants
	Message string
}

func (e *TeamsTokenError) Error() string { return "emulator: " + e.Code + ": " + e.Message }

// IssueTeamsToken returns what Teams' authentication.getAuthToken hands a tab
// app: an access token for the app itself (aud = appId for v2 apps, the
// Application ID URI for v1 apps), scp access_as_user, azp/appid = the Teams
// client, in the app's token version. Like Teams, it fails when the app has
// no Application ID URI or scope (resourceDisabled) or the client is neither
// pre-authorized nor consented (resourceRequiresConsent).
func (e *Emulator) IssueTeamsToken(tenantID, userOID, appID string, opt TokenOptions) (string, error) {
	client := opt.ClientID
	if client == "" {
		client = TeamsWebClientID
	}
	e.mu.RLock()
	t, ok := e.tenants[lower(tenantID)]
	if !ok {
		e.mu.RUnlock()
		return "", &TeamsTokenError{TeamsErrUnknownTenant, fmt.Sprintf("tenant %s not found", tenantID)}
	}
	u, ok := t.users[lower(userOID)]
	if !ok {
		e.mu.RUnlock()
		return "", &TeamsTokenError{TeamsErrUnknownUser, fmt.Sprintf("user %s not found in tenant %s", userOID, t.ID)}
	}
	a, ok := t.apps[lower(appID)]
	if !ok {
		e.mu.RUnlock()
		return "", &TeamsTokenError{TeamsErrResourceDisabled, fmt.Sprintf("app %s not found in tenant %s", appID, t.ID)}
	}
	if len(a.IdentifierURIs) == 0 {
		e.mu.RUnlock()
		return "", &TeamsTokenError{TeamsErrResourceDisabled, fmt.Sprintf("app %s has no Application ID URI", a.AppID)}
	}
	scope := ""
	for _, sc := range a.Scopes {
		if sc.Enabled && (scope == "" || strings.EqualFold(sc.Value, "access_as_user")) {
			scope = sc.Value
		}
	}
	if scope == "" {
		e.mu.RUnlock()
		return "", &TeamsTokenError{TeamsErrResourceDisabled, fmt.Sprintf("app %s exposes no enabled scope", a.AppID)}
	}
	res := &resource{appID: a.AppID, app: a, audV1: a.IdentifierURIs[0]}
	set := &scopeSet{resource: res, perms: []string{scope}}
	if missing := e.missingConsentLocked(t, client, u.ObjectID, set); len(missing) > 0 {
		e.mu.RUnlock()
		return "", &TeamsTokenError{TeamsErrResourceRequiresConsent,
			fmt.Sprintf("client %s is not pre-authorized for %s and nobody consented", client, scope)}
	}
	spec := userTokenSpec{
		tenantID: t.ID, user: *u, clientID: client, clientName: "Microsoft Teams", clientAcr: "0",
		res: res, scp: []string{scope}, lifetime: opt.Lifetime, mfa: opt.MFA, extra: opt.ExtraClaims,
	}
	e.mu.RUnlock()
	tok, _, err := e.userAccessToken(spec)
	if err != nil {
		return "", err
	}
	e.log.Info("emulator: Teams token issued", "tenant", spec.tenantID, "app", a.AppID, "client", client, "user", u.ObjectID)
	return tok, nil
}

// userTokenSpec describes a delegated access token.
type userTokenSpec struct {
	tenantID   string
	user       User
	clientID   string
	clientName string
	clientAcr  string // "0" public client, "1" client secret
	res        *resource
	scp        []string
	lifetime   time.Duration
	mfa        bool
	extra      map[string]any
}

// appTokenSpec describes an app-only (client credentials) access token.
type appTokenSpec struct {
	tenantID   string
	clientID   string
	clientName string
	spID       string // the client's service principal object ID
	res        *resource
	roles      []string
}

func (r *resource) version() int {
	if r.isGraph() {
		return 1 // the resource decides: Graph accepts v1 tokens
	}
	return r.app.AccessTokenVersion
}

func (r *resource) audience() string {
	if r.version() == 2 {
		return r.appID
	}
	return r.audV1
}

// lifetime is Entra's default: a random 60–90 minutes.
func (e *Emulator) lifetime(d time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return time.Duration(3600+mrand.IntN(1801)) * time.Second
}

// baseClaims sets iss/iat/nbf/exp and the opaque claims. Entra back-dates
// iat and nbf by five minutes to absorb clock skew.
func (e *Emulator) baseClaims(tid string, v int, aud string, life time.Duration, mfa bool) (jwt.MapClaims, time.Time) {
	now := e.now()
	exp := now.Add(life)
	c := jwt.MapClaims{
		"aud": aud,
		"iat": now.Add(-5 * time.Minute).Unix(),
		"nbf": now.Add(-5 * time.Minute).Unix(),
		"exp": exp.Unix(),
		"aio": newAIO(mfa),
		"rh":  "0.A" + randB64(48) + ".",
		"tid": tid,
		"uti": randB64(16),
	}
	if v == 2 {
		c["iss"] = e.login + "/" + tid + "/v2.0"
		c["ver"] = "2.0"
	} else {
		c["iss"] = e.sts + "/" + tid + "/"
		c["ver"] = "1.0"
	}
	return c, exp
}

func (e *Emulator) userAccessToken(s userTokenSpec) (string, int, error) {
	v := s.res.version()
	life := e.lifetime(s.lifetime)
	c, _ := e.baseClaims(s.tenantID, v, s.res.audience(), life, s.mfa)
	u := s.user
	c["oid"] = u.ObjectID
	c["sub"] = pairwiseSub(u.ObjectID, s.res.appID)
	c["name"] = u.DisplayName
	c["scp"] = strings.Join(s.scp, " ")
	if u.isGuest(s.tenantID) {
		c["idp"] = e.sts + "/" + u.HomeTenantID + "/"
	}
	if v == 2 {
		c["azp"] = s.clientID
		c["azpacr"] = s.clientAcr
		c["preferred_username"] = u.signInName(s.tenantID)
	} else {
		c["appid"] = s.clientID
		c["appidacr"] = s.clientAcr
		c["acr"] = "1"
		amr := []string{"pwd"}
		if s.mfa {
			amr = append(amr, "mfa")
		}
		c["amr"] = amr
		if u.GivenName != "" {
			c["given_name"] = u.GivenName
		}
		if u.Surname != "" {
			c["family_name"] = u.Surname
		}
		c["unique_name"] = u.signInName(s.tenantID)
		if u.isGuest(s.tenantID) {
			c["email"] = u.signInName(s.tenantID)
		} else {
			c["upn"] = u.UserPrincipalName
		}
		if s.res.isGraph() {
			c["idtyp"] = "user"
			c["app_displayname"] = s.clientName
		}
	}
	mergeClaims(c, s.extra)
	tok, err := e.sign(c, v == 1)
	return tok, int(life / time.Second), err
}

func (e *Emulator) appAccessToken(s appTokenSpec) (string, int, error) {
	v := s.res.version()
	life := e.lifetime(0)
	c, _ := e.baseClaims(s.tenantID, v, s.res.audience(), life, false)
	c["oid"] = s.spID
	c["sub"] = s.spID
	c["idtyp"] = "app"
	if len(s.roles) > 0 {
		c["roles"] = s.roles
	}
	if v == 2 {
		c["azp"] = s.clientID
		c["azpacr"] = "1"
	} else {
		c["appid"] = s.clientID
		c["appidacr"] = "1"
		c["idp"] = c["iss"]
		c["app_displayname"] = s.clientName
	}
	tok, err := e.sign(c, v == 1)
	return tok, int(life / time.Second), err
}

// idToken builds a v2 ID token for the client (the v2 endpoint always issues
// v2 ID tokens); profile and email claims follow the requested scopes.
func (e *Emulator) idToken(tid string, u User, clientID, nonce string, set *scopeSet, mfa bool) (string, error) {
	c, _ := e.baseClaims(tid, 2, clientID, time.Hour, mfa)
	c["oid"] = u.ObjectID
	c["sub"] = pairwiseSub(u.ObjectID, clientID)
	if set.has("profile") {
		c["name"] = u.DisplayName
		c["preferred_username"] = u.signInName(tid)
	}
	if set.has("email") && u.Mail != "" {
		c["email"] = u.Mail
	}
	if nonce != "" {
		c["nonce"] = nonce
	}
	if u.isGuest(tid) {
		c["idp"] = e.sts + "/" + u.HomeTenantID + "/"
	}
	return e.sign(c, false)
}

// clientInfo is what MSAL asks for with client_info=1: base64url JSON with
// the home account (uid = object ID, utid = home tenant).
func clientInfo(u User) string {
	js := fmt.Sprintf(`{"uid":%q,"utid":%q}`, u.ObjectID, u.HomeTenantID)
	return base64.RawURLEncoding.EncodeToString([]byte(js))
}

func mergeClaims(c jwt.MapClaims, extra map[string]any) {
	for k, v := range extra {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
}

// pairwiseSub makes sub unique per (user, application), as Entra's is.
func pairwiseSub(oid, appID string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(oid) + strings.ToLower(appID)))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func randB64(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// aio is opaque to everyone but Entra, which keeps session facts in it. The
// emulator does the same: the first byte records whether MFA was done, so
// OBO and refresh can evaluate SetMFARequired against a v2 token (which has
// no amr claim).
func newAIO(mfa bool) string {
	b := make([]byte, 49)
	_, _ = rand.Read(b[1:])
	b[0] = 0x41
	if mfa {
		b[0] = 0x4d
	}
	return base64.StdEncoding.EncodeToString(b)
}

func aioHasMFA(aio string) bool {
	b, err := base64.StdEncoding.DecodeString(aio)
	return err == nil && len(b) > 0 && b[0] == 0x4d
}
