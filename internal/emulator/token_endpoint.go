package emulator

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

const (
	grantAuthCode    = "authorization_code"
	grantClientCreds = "client_credentials"
	grantRefresh     = "refresh_token"
	grantJWTBearer   = "urn:ietf:params:oauth:grant-type:jwt-bearer"

	refreshLifetime = 90 * 24 * time.Hour // Entra's inactivity lifetime
	assertionSkew   = 5 * time.Minute
)

// refreshGrant is what an (opaque) refresh token stands for.
type refreshGrant struct {
	tenantID string
	clientID string
	userOID  string
	scopes   *scopeSet
	issued   time.Time
	mfa      bool
}

// tokenResponse mirrors Entra's success JSON, field order included.
type tokenResponse struct {
	TokenType    string `json:"token_type"`
	Scope        string `json:"scope,omitempty"`
	ExpiresIn    int    `json:"expires_in"`
	ExtExpiresIn int    `json:"ext_expires_in"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
	ClientInfo   string `json:"client_info,omitempty"`
}

// tokenCtx is one token request after client authentication.
type tokenCtx struct {
	w      http.ResponseWriter
	r      *http.Request
	f      url.Values
	t      *tenantState
	client *appState
}

func (e *Emulator) handleToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		e.writeAADError(w, r, newErr(http.StatusBadRequest, "invalid_request", 900561,
			"The endpoint only accepts POST, OPTIONS requests. Received a %s request.", r.Method))
		return
	}
	if !e.parseTokenForm(w, r) {
		return
	}
	// Only the body counts: credentials in a query string are refused by
	// Entra too.
	f := r.PostForm
	seg := r.PathValue("tenant")
	e.mu.RLock()
	t, kind, ok := e.resolveTenantLocked(seg)
	e.mu.RUnlock()
	if !ok {
		e.writeAADError(w, r, errTenantNotFound(seg, http.StatusBadRequest, "invalid_request"))
		return
	}
	grant := f.Get("grant_type")
	switch grant {
	case "":
		e.writeAADError(w, r, errMissingParam("grant_type"))
		return
	case grantAuthCode, grantClientCreds, grantRefresh, grantJWTBearer:
	default:
		e.writeAADError(w, r, newErr(http.StatusBadRequest, "unsupported_grant_type", 70003,
			"The app requested an unsupported grant type '%s'.", grant))
		return
	}
	if kind == tenantCommon && (grant == grantClientCreds || grant == grantJWTBearer) {
		e.writeAADError(w, r, newErr(http.StatusBadRequest, "invalid_request", 9001023,
			"The grant type is not supported over the /common or /consumers endpoints. Please use the /organizations or tenant-specific endpoint."))
		return
	}
	t, client, ae := e.authenticateClient(r, f, t, kind, seg)
	if ae != nil {
		e.writeAADError(w, r, ae)
		return
	}
	tc := &tokenCtx{w: w, r: r, f: f, t: t, client: client}
	switch grant {
	case grantAuthCode:
		e.grantAuthorizationCode(tc)
	case grantClientCreds:
		e.grantClientCredentials(tc)
	case grantRefresh:
		e.grantRefreshToken(tc)
	case grantJWTBearer:
		e.grantOnBehalfOf(tc)
	}
}

// authenticateClient finds the app and checks its secret, sent in the body
// (client_secret_post) or in HTTP Basic (client_secret_basic, whose parts
// are form-urlencoded per RFC 6749 §2.3.1).
func (e *Emulator) authenticateClient(r *http.Request, f url.Values, t *tenantState, kind tenantKind, seg string) (*tenantState, *appState, *aadError) {
	clientID, secret := f.Get("client_id"), f.Get("client_secret")
	if user, pass, ok := r.BasicAuth(); ok {
		u, err1 := url.QueryUnescape(user)
		p, err2 := url.QueryUnescape(pass)
		if err1 != nil || err2 != nil {
			return nil, nil, newErr(http.StatusBadRequest, "invalid_request", 90023, "The Authorization header is malformed.")
		}
		if clientID != "" && !strings.EqualFold(clientID, u) {
			return nil, nil, newErr(http.StatusBadRequest, "invalid_request", 90023,
				"The client_id in the request body does not match the one in the Authorization header.")
		}
		if secret != "" {
			return nil, nil, newErr(http.StatusBadRequest, "invalid_request", 90023,
				"The client must use only one authentication method (client_secret_basic or client_secret_post).")
		}
		clientID, secret = u, p
	}
	if clientID == "" {
		return nil, nil, errMissingParam("client_id")
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	var a *appState
	if kind == tenantSpecific {
		a = t.apps[lower(clientID)]
		if a == nil {
			return nil, nil, errAppNotFound(clientID, t.DisplayName)
		}
	} else {
		if _, a = e.findAppAnywhereLocked(clientID); a == nil {
			return nil, nil, errAppNotFound(clientID, seg)
		}
		// Emulated apps are single-tenant, so /common and /organizations
		// are refused as Entra refuses them for such apps.
		return nil, nil, errNotMultiTenant(a)
	}
	if f.Get("client_assertion") != "" || f.Get("client_assertion_type") != "" {
		return nil, nil, newErr(http.StatusUnauthorized, "invalid_client", 700027,
			"Client assertion failed signature validation. (The emulator accepts client secrets only.)")
	}
	if secret == "" {
		return nil, nil, newErr(http.StatusUnauthorized, "invalid_client", 7000218,
			"The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
	}
	now := e.now()
	for _, s := range a.Secrets {
		if subtle.ConstantTimeCompare([]byte(s.Value), []byte(secret)) == 1 {
			if !s.EndDateTime.IsZero() && now.After(s.EndDateTime) {
				return nil, nil, newErr(http.StatusUnauthorized, "invalid_client", 7000222,
					"The provided client secret keys for app '%s' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.", a.AppID)
			}
			return t, a, nil
		}
	}
	return nil, nil, newErr(http.StatusUnauthorized, "invalid_client", 7000215,
		"Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", a.AppID)
}

func (e *Emulator) grantAuthorizationCode(tc *tokenCtx) {
	code := tc.f.Get("code")
	if code == "" {
		e.writeAADError(tc.w, tc.r, errMissingParam("code"))
		return
	}
	redirect := tc.f.Get("redirect_uri")
	verifier := tc.f.Get("code_verifier")

	e.mu.Lock()
	ac, ae := e.redeemCodeLocked(tc, code, redirect, verifier)
	var user User
	if ae == nil {
		u, ok := tc.t.users[ac.userOID]
		if !ok {
			ae = newErr(http.StatusBadRequest, "invalid_grant", 50034, "The user account does not exist in the %s directory.", tc.t.ID)
		} else {
			user = *u
		}
	}
	var (
		scp []string
		set *scopeSet
	)
	if ae == nil {
		scp = e.grantedPermsLocked(tc.t, tc.client.AppID, ac.userOID, ac.scopes)
		set = withOIDCScopes(ac.scopes, tc.f.Get("scope"))
	}
	e.mu.Unlock()
	if ae != nil {
		e.writeAADError(tc.w, tc.r, ae)
		return
	}
	e.writeUserTokens(tc, user, set, scp, ac.nonce, ac.mfa, false)
}

// redeemCodeLocked checks a code and, when every check passes, marks it
// redeemed. A failed attempt (wrong redirect URI or verifier) leaves the
// code usable: x/oauth2 retries a failed exchange with the other client
// authentication style and must then see the same error, not AADSTS54005.
func (e *Emulator) redeemCodeLocked(tc *tokenCtx, code, redirect, verifier string) (*authCode, *aadError) {
	ac, ok := e.codes[code]
	if !ok {
		return nil, newErr(http.StatusBadRequest, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
	}
	if ac.used {
		return nil, newErr(http.StatusBadRequest, "invalid_grant", 54005,
			"OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.")
	}
	if e.now().Sub(ac.issued) > codeLifetime {
		return nil, newErr(http.StatusBadRequest, "invalid_grant", 70008,
			"The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.")
	}
	if ac.tenantID != tc.t.ID {
		return nil, newErr(http.StatusBadRequest, "invalid_grant", 700005,
			"Provided Authorization Code is intended to use against other tenant, thus rejected.")
	}
	if ac.clientID != tc.client.AppID {
		return nil, newErr(http.StatusBadRequest, "invalid_grant", 70000,
			"Provided grant is invalid or malformed. The authorization code was issued to another client.")
	}
	if redirect == "" {
		return nil, errMissingParam("redirect_uri")
	}
	if redirect != ac.redirectURI {
		return nil, newErr(http.StatusBadRequest, "invalid_grant", 500112,
			"The reply address '%s' does not match the reply address '%s' provided when requesting Authorization code.", redirect, ac.redirectURI)
	}
	if ac.challenge != "" {
		if verifier == "" {
			return nil, newErr(http.StatusBadRequest, "invalid_grant", 50148,
				"The code_verifier does not match the code_challenge supplied in the authorization request for PKCE.")
		}
		want := verifier
		if ac.challengeMethod == "S256" {
			sum := sha256.Sum256([]byte(verifier))
			want = base64.RawURLEncoding.EncodeToString(sum[:])
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(ac.challenge)) != 1 {
			return nil, newErr(http.StatusBadRequest, "invalid_grant", 501481,
				"The Code_Verifier does not match the code_challenge supplied in the authorization request.")
		}
	}
	ac.used = true
	return ac, nil
}

func (e *Emulator) grantClientCredentials(tc *tokenCtx) {
	raw := tc.f.Get("scope")
	if strings.TrimSpace(raw) == "" {
		e.writeAADError(tc.w, tc.r, errMissingParam("scope"))
		return
	}
	// MSAL appends openid/profile/offline_access even here; Entra ignores
	// them for client credentials, so only the resource scopes count.
	var resScopes []string
	for _, s := range strings.Fields(raw) {
		if !oidcScopes[strings.ToLower(s)] {
			resScopes = append(resScopes, s)
		}
	}
	if len(resScopes) != 1 || !strings.HasSuffix(resScopes[0], "/.default") {
		e.writeAADError(tc.w, tc.r, newErr(http.StatusBadRequest, "invalid_scope", 1002012,
			"The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", raw))
		return
	}
	e.mu.RLock()
	set, ae := parseScopes(tc.t, resScopes[0])
	e.mu.RUnlock()
	if ae != nil {
		e.writeAADError(tc.w, tc.r, ae)
		return
	}
	var roles []string
	if set.resource.isGraph() {
		roles = slices.Clone(tc.client.GraphAppRoles)
	}
	tok, exp, err := e.appAccessToken(appTokenSpec{
		tenantID: tc.t.ID, clientID: tc.client.AppID, clientName: tc.client.DisplayName,
		spID: tc.client.spID, res: set.resource, roles: roles,
	})
	if err != nil {
		e.internalError(tc, err)
		return
	}
	e.log.Info("emulator: token issued", "grant", grantClientCreds, "tenant", tc.t.ID, "client", tc.client.AppID, "resource", set.resource.appID)
	e.writeTokenJSON(tc.w, tc.r, tokenResponse{TokenType: "Bearer", ExpiresIn: exp, ExtExpiresIn: exp, AccessToken: tok})
}

func (e *Emulator) grantOnBehalfOf(tc *tokenCtx) {
	f := tc.f
	switch f.Get("requested_token_use") {
	case "on_behalf_of":
	case "":
		e.writeAADError(tc.w, tc.r, errMissingParam("requested_token_use"))
		return
	default:
		e.writeAADError(tc.w, tc.r, newErr(http.StatusBadRequest, "invalid_request", 90023,
			"The value '%s' of requested_token_use is not valid; use on_behalf_of.", f.Get("requested_token_use")))
		return
	}
	assertion := f.Get("assertion")
	if assertion == "" {
		e.writeAADError(tc.w, tc.r, errMissingParam("assertion"))
		return
	}
	raw := f.Get("scope")
	if strings.TrimSpace(raw) == "" {
		e.writeAADError(tc.w, tc.r, errMissingParam("scope"))
		return
	}
	claims, ae := e.checkAssertion(tc, assertion)
	if ae != nil {
		e.writeAADError(tc.w, tc.r, ae)
		return
	}
	oid, _ := claims["oid"].(string)
	mfa := tokenHasMFA(claims)

	e.mu.RLock()
	u, ok := tc.t.users[lower(oid)]
	var (
		user    User
		set     *scopeSet
		scp     []string
		missing []string
	)
	if !ok {
		ae = newErr(http.StatusBadRequest, "invalid_grant", 50034, "The user account %s does not exist in the %s directory.", oid, tc.t.ID)
	} else {
		user = *u
		set, ae = parseScopes(tc.t, raw)
	}
	if ae == nil {
		missing = e.missingConsentLocked(tc.t, tc.client.AppID, user.ObjectID, set)
		scp = e.grantedPermsLocked(tc.t, tc.client.AppID, user.ObjectID, set)
	}
	mfaRequired := ok && tc.t.mfa[user.ObjectID]
	e.mu.RUnlock()
	switch {
	case ae != nil:
	case len(missing) > 0:
		ae = errConsentRequired(tc.client.AppID, tc.client.DisplayName)
	case mfaRequired && !mfa:
		ae = errMFARequired(50079, resourceAppID(set))
	}
	if ae != nil {
		e.writeAADError(tc.w, tc.r, ae)
		return
	}
	e.writeUserTokens(tc, user, set, scp, "", mfa, false)
}

// withOIDCScopes adds the OIDC scopes of a token request's scope parameter
// to the code's scopes. The resource stays the one consented at authorize;
// OIDC scopes need no consent, and MSAL sends openid/profile/offline_access
// only at redemption (its AuthCodeURL does not add them).
func withOIDCScopes(set *scopeSet, raw string) *scopeSet {
	out := *set
	out.oidc = slices.Clone(set.oidc)
	for _, s := range strings.Fields(raw) {
		if l := strings.ToLower(s); oidcScopes[l] && !slices.Contains(out.oidc, l) {
			out.oidc = append(out.oidc, l)
		}
	}
	return &out
}

func resourceAppID(set *scopeSet) string {
	if set != nil && set.resource != nil {
		return set.resource.appID
	}
	return GraphAppID
}

// checkAssertion validates an OBO assertion: issued (signed) by this
// emulator for this tenant, unexpired, for this client, and a user's access
// token.
func (e *Emulator) checkAssertion(tc *tokenCtx, assertion string) (jwt.MapClaims, *aadError) {
	claims, err := e.parseOwnToken(assertion)
	if err != nil {
		reason := "The provided signature value did not match the expected signature value."
		switch {
		case errors.Is(err, jwt.ErrTokenMalformed):
			reason = "The assertion is not a well-formed JWT."
		case errors.Is(err, errUnknownKey):
			reason = "The key was not found."
		}
		return nil, newErr(http.StatusBadRequest, "invalid_grant", 50013, "Assertion failed signature validation. [Reason - %s]", reason)
	}
	now := e.now()
	exp, errExp := claims.GetExpirationTime()
	if errExp != nil || exp == nil || now.After(exp.Time) {
		expText := "unknown"
		if exp != nil {
			expText = exp.UTC().Format(time.RFC1123)
		}
		return nil, newErr(http.StatusBadRequest, "invalid_grant", 500133,
			"Assertion is not within its valid time range. Ensure that the access token is not expired before using it for user assertion, or request a new token. Current time: %s, expiry time of assertion %s.",
			now.UTC().Format(time.RFC1123), expText)
	}
	if nbf, _ := claims.GetNotBefore(); nbf != nil && nbf.After(now.Add(assertionSkew)) {
		return nil, newErr(http.StatusBadRequest, "invalid_grant", 500133,
			"Assertion is not within its valid time range. Current time: %s, assertion not valid before %s.",
			now.UTC().Format(time.RFC1123), nbf.UTC().Format(time.RFC1123))
	}
	tid, _ := claims["tid"].(string)
	iss, _ := claims["iss"].(string)
	if tid != tc.t.ID || (iss != e.sts+"/"+tid+"/" && iss != e.login+"/"+tid+"/v2.0") {
		return nil, newErr(http.StatusBadRequest, "invalid_grant", 50013,
			"Assertion is invalid: its issuer '%s' is not tenant %s of this emulator.", iss, tc.t.ID)
	}
	aud, _ := claims.GetAudience()
	if !audienceIsApp(aud, tc.client) {
		return nil, newErr(http.StatusBadRequest, "invalid_grant", 50013,
			"Assertion audience claim does not match the required value. The audience in the assertion was '%s' and the expected audience is '%s' or one of the Application Id URIs of this application with App ID '%s'(%s). The downstream client must request a token for the expected audience (the application that made the OBO request) and this application should use that token as the assertion.",
			strings.Join(aud, ","), tc.client.AppID, tc.client.AppID, tc.client.DisplayName)
	}
	scp, _ := claims["scp"].(string)
	_, hasRoles := claims["roles"]
	idtyp, _ := claims["idtyp"].(string)
	switch {
	case scp != "":
	case hasRoles || idtyp == "app":
		return nil, newErr(http.StatusBadRequest, "invalid_grant", 50013,
			"Assertion is an application token; only tokens issued to users can be used on behalf of them.")
	default:
		return nil, newErr(http.StatusBadRequest, "invalid_grant", 240002,
			"Input id_token cannot be used as 'urn:ietf:params:oauth:grant-type:jwt-bearer' grant.")
	}
	return claims, nil
}

func audienceIsApp(aud []string, a *appState) bool {
	for _, x := range aud {
		if strings.EqualFold(x, a.AppID) {
			return true
		}
		for _, u := range a.IdentifierURIs {
			if strings.EqualFold(x, u) {
				return true
			}
		}
	}
	return false
}

func tokenHasMFA(c jwt.MapClaims) bool {
	if aio, _ := c["aio"].(string); aioHasMFA(aio) {
		return true
	}
	if amr, ok := c["amr"].([]any); ok {
		for _, m := range amr {
			if m == "mfa" {
				return true
			}
		}
	}
	return false
}

func (e *Emulator) grantRefreshToken(tc *tokenCtx) {
	rt := tc.f.Get("refresh_token")
	if rt == "" {
		e.writeAADError(tc.w, tc.r, errMissingParam("refresh_token"))
		return
	}
	raw := tc.f.Get("scope")
	e.mu.RLock()
	g, ok := e.refresh[rt]
	var (
		ae      *aadError
		user    User
		set     *scopeSet
		scp     []string
		missing []string
	)
	switch {
	case !ok:
		ae = newErr(http.StatusBadRequest, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
	case g.clientID != tc.client.AppID || g.tenantID != tc.t.ID:
		ae = newErr(http.StatusBadRequest, "invalid_grant", 70000,
			"Provided grant is invalid or malformed. The refresh token was issued to another client.")
	case e.now().Sub(g.issued) > refreshLifetime:
		ae = newErr(http.StatusBadRequest, "invalid_grant", 700082,
			"The refresh token has expired due to inactivity. The token was issued on %s and was inactive for 90.00:00:00.",
			g.issued.UTC().Format(time.RFC3339))
	}
	if ae == nil {
		if u, found := tc.t.users[g.userOID]; !found {
			ae = newErr(http.StatusBadRequest, "invalid_grant", 50173,
				"The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.")
		} else {
			user = *u
			set = g.scopes
			if strings.TrimSpace(raw) != "" {
				set, ae = parseScopes(tc.t, raw)
			}
		}
	}
	mfaRequired := false
	if ae == nil {
		missing = e.missingConsentLocked(tc.t, tc.client.AppID, user.ObjectID, set)
		scp = e.grantedPermsLocked(tc.t, tc.client.AppID, user.ObjectID, set)
		mfaRequired = tc.t.mfa[user.ObjectID] && !g.mfa
	}
	e.mu.RUnlock()
	switch {
	case ae != nil:
	case len(missing) > 0:
		ae = errConsentRequired(tc.client.AppID, tc.client.DisplayName)
	case mfaRequired:
		ae = errMFARequired(50076, resourceAppID(set))
	}
	if ae != nil {
		e.writeAADError(tc.w, tc.r, ae)
		return
	}
	e.writeUserTokens(tc, user, set, scp, "", g.mfa, true)
}

// writeUserTokens issues the delegated token set: access token for the
// requested resource (Graph when only OIDC scopes were asked for), ID token
// for openid, refresh token for offline_access, client_info for MSAL.
func (e *Emulator) writeUserTokens(tc *tokenCtx, user User, set *scopeSet, scp []string, nonce string, mfa, forceRefresh bool) {
	res := set.resource
	if res == nil {
		res = &resource{appID: GraphAppID, audV1: GraphResource}
	}
	if res.isGraph() {
		// Graph tokens list the granted OIDC scopes in scp too.
		for _, s := range set.oidc {
			if s != "offline_access" && !slices.Contains(scp, s) {
				scp = append(scp, s)
			}
		}
	}
	at, exp, err := e.userAccessToken(userTokenSpec{
		tenantID: tc.t.ID, user: user, clientID: tc.client.AppID, clientName: tc.client.DisplayName,
		clientAcr: "1", res: res, scp: scp, mfa: mfa,
	})
	if err != nil {
		e.internalError(tc, err)
		return
	}
	resp := tokenResponse{TokenType: "Bearer", Scope: set.String(), ExpiresIn: exp, ExtExpiresIn: exp, AccessToken: at}
	if set.has("openid") {
		if resp.IDToken, err = e.idToken(tc.t.ID, user, tc.client.AppID, nonce, set, mfa); err != nil {
			e.internalError(tc, err)
			return
		}
	}
	if set.has("offline_access") || forceRefresh {
		rt := "1.A" + randB64(160)
		e.mu.Lock()
		e.refresh[rt] = &refreshGrant{tenantID: tc.t.ID, clientID: tc.client.AppID, userOID: user.ObjectID,
			scopes: set, issued: e.now(), mfa: mfa}
		e.mu.Unlock()
		resp.RefreshToken = rt
	}
	if tc.f.Get("client_info") == "1" {
		resp.ClientInfo = clientInfo(user)
	}
	e.log.Info("emulator: token issued", "grant", tc.f.Get("grant_type"), "tenant", tc.t.ID,
		"client", tc.client.AppID, "user", user.ObjectID, "resource", res.appID)
	e.writeTokenJSON(tc.w, tc.r, resp)
}

func (e *Emulator) writeTokenJSON(w http.ResponseWriter, r *http.Request, v any) {
	trace, corr := requestIDs(r)
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store, no-cache")
	h.Set("Pragma", "no-cache")
	h.Set("x-ms-request-id", trace)
	h.Set("client-request-id", corr)
	_ = json.NewEncoder(w).Encode(v)
}

func (e *Emulator) internalError(tc *tokenCtx, err error) {
	e.log.Error("emulator: signing failed", "err", err)
	e.writeAADError(tc.w, tc.r, newErr(http.StatusInternalServerError, "temporarily_unavailable", 50000,
		"There was an error issuing a token. (%s)", uuid.NewString()))
}

// parseTokenForm reads a token-style form body (bounded), answering Entra's
// error itself when it cannot; it reports whether the handler may go on.
func (e *Emulator) parseTokenForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		e.writeAADError(w, r, newErr(http.StatusBadRequest, "invalid_request", 90023, "The request body could not be parsed: %v", err))
		return false
	}
	return true
}
