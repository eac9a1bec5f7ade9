package emulator

import (
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
)

const (
	codeLifetime    = 10 * time.Minute // Entra's authorization codes live ~10 minutes
	pendingLifetime = time.Hour        // a sign-in page left open this long is dropped
	sessionCookie   = "ESTSAUTH"       // the name of Entra's session cookie
)

// authRequest is an authorize request between the sign-in/consent pages.
type authRequest struct {
	id              string
	t               *tenantState
	app             *appState
	clientID        string
	redirectURI     string
	responseMode    string
	state           string
	nonce           string
	challenge       string
	challengeMethod string
	loginHint       string
	prompt          string
	scopes          *scopeSet
	created         time.Time
	userOID         string // set once the user has signed in
	mfa             bool
	sessionID       string
}

// authCode is an issued authorization code.
type authCode struct {
	tenantID        string
	clientID        string
	redirectURI     string
	userOID         string
	nonce           string
	challenge       string
	challengeMethod string
	scopes          *scopeSet
	issued          time.Time
	used            bool
	mfa             bool
}

// session is a browser sign-in (the ESTSAUTH cookie); it lets prompt=none
// and later authorize requests skip the sign-in page, like Entra's SSO.
type session struct {
	tenantID string
	userOID  string
	mfa      bool
}

func (e *Emulator) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		e.errorPage(w, r, newErr(http.StatusBadRequest, "invalid_request", 90023, "Invalid request: %v", err))
		return
	}
	q := r.Form
	seg := r.PathValue("tenant")

	e.mu.RLock()
	t, kind, ok := e.resolveTenantLocked(seg)
	if !ok {
		e.mu.RUnlock()
		e.errorPage(w, r, errTenantNotFound(seg, http.StatusBadRequest, "invalid_tenant"))
		return
	}
	clientID := q.Get("client_id")
	if clientID == "" {
		e.mu.RUnlock()
		e.errorPage(w, r, errMissingParam("client_id"))
		return
	}
	var a *appState
	if kind == tenantSpecific {
		a = t.apps[lower(clientID)]
	} else {
		t, a = e.findAppAnywhereLocked(clientID)
	}
	if a == nil {
		name := seg
		if t != nil {
			name = t.DisplayName
		}
		e.mu.RUnlock()
		e.errorPage(w, r, errAppNotFound(clientID, name))
		return
	}
	redirect := q.Get("redirect_uri")
	if redirect == "" && len(a.RedirectURIs) > 0 {
		redirect = a.RedirectURIs[0]
	}
	if redirect == "" {
		e.mu.RUnlock()
		e.errorPage(w, r, newErr(http.StatusBadRequest, "invalid_request", 900971, "No reply address provided."))
		return
	}
	if !a.redirectRegistered(redirect) {
		// Never redirect to an unregistered URI: Entra shows this on its
		// own page, which is what protects the code from theft.
		e.mu.RUnlock()
		e.errorPage(w, r, newErr(http.StatusBadRequest, "invalid_request", 50011,
			"The redirect URI '%s' specified in the request does not match the redirect URIs configured for the application '%s'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal. Navigate to https://aka.ms/redirectUriMismatchError to learn more about how to fix this.",
			redirect, a.AppID))
		return
	}
	ar := &authRequest{
		id:              randB64(24),
		t:               t,
		app:             a,
		clientID:        a.AppID,
		redirectURI:     redirect,
		responseMode:    q.Get("response_mode"),
		state:           q.Get("state"),
		nonce:           q.Get("nonce"),
		challenge:       q.Get("code_challenge"),
		challengeMethod: q.Get("code_challenge_method"),
		loginHint:       q.Get("login_hint"),
		prompt:          q.Get("prompt"),
		created:         e.now(),
	}
	ae := e.validateAuthorizeLocked(ar, kind, q)
	e.mu.RUnlock()
	if ae != nil {
		e.redirectError(w, r, ar, ae)
		return
	}

	sess := e.sessionFor(r, ar.t.ID)
	if ar.prompt == "none" {
		e.silentAuthorize(w, r, ar, sess)
		return
	}
	if sess != nil && ar.prompt != "login" && ar.prompt != "select_account" && e.hintMatches(ar, sess.userOID) {
		ar.userOID, ar.mfa, ar.sessionID = sess.userOID, sess.mfa, sess.id
		e.afterSignIn(w, r, ar)
		return
	}
	e.storePending(ar)
	e.renderSignIn(w, ar)
}

// validateAuthorizeLocked checks everything that is reported back to the
// (now trusted) redirect URI.
func (e *Emulator) validateAuthorizeLocked(ar *authRequest, kind tenantKind, q url.Values) *aadError {
	switch ar.responseMode {
	case "":
		ar.responseMode = "query"
	case "query", "fragment", "form_post":
	default:
		mode := ar.responseMode
		ar.responseMode = "query"
		return newErr(http.StatusBadRequest, "invalid_request", 70007, "The response_mode '%s' is not supported.", mode)
	}
	if kind != tenantSpecific {
		return errNotMultiTenant(ar.app)
	}
	switch rt := q.Get("response_type"); {
	case rt == "":
		return errMissingParam("response_type")
	case rt == "code":
	case strings.Contains(rt, "token"):
		// Implicit/hybrid grants are not enabled on emulated apps.
		return newErr(http.StatusBadRequest, "unsupported_response_type", 700054,
			"response_type 'id_token' is not enabled for the application.")
	default:
		return newErr(http.StatusBadRequest, "unsupported_response_type", 70005,
			"response_type '%s' is not supported.", rt)
	}
	raw := q.Get("scope")
	if strings.TrimSpace(raw) == "" {
		return errMissingParam("scope")
	}
	set, ae := parseScopes(ar.t, raw)
	if ae != nil {
		return ae
	}
	ar.scopes = set
	if ar.challenge != "" {
		switch ar.challengeMethod {
		case "":
			ar.challengeMethod = "plain" // RFC 7636 default
		case "plain", "S256":
		default:
			return newErr(http.StatusBadRequest, "invalid_request", 50149, "Invalid Code_Challenge_method parameter.")
		}
		if n := len(ar.challenge); n < 43 || n > 128 {
			return newErr(http.StatusBadRequest, "invalid_request", 501491, "Invalid size of Code_Challenge parameter.")
		}
	} else if ar.challengeMethod != "" {
		return errMissingParam("code_challenge")
	}
	switch ar.prompt {
	case "", "login", "none", "consent", "select_account":
	default:
		return newErr(http.StatusBadRequest, "invalid_request", 90023, "Unsupported 'prompt' value '%s'.", ar.prompt)
	}
	return nil
}

func (e *Emulator) hintMatches(ar *authRequest, oid string) bool {
	if ar.loginHint == "" {
		return true
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	u := findUserByHintLocked(ar.t, ar.loginHint)
	return u != nil && u.ObjectID == oid
}

// silentAuthorize answers prompt=none: only an existing session for the
// right user, with consent and MFA in place, gets a code.
func (e *Emulator) silentAuthorize(w http.ResponseWriter, r *http.Request, ar *authRequest, sess *sessionView) {
	if sess == nil {
		e.redirectError(w, r, ar, newErr(http.StatusBadRequest, "login_required", 50058,
			"A silent sign-in request was sent but no user is signed in."))
		return
	}
	if !e.hintMatches(ar, sess.userOID) {
		e.redirectError(w, r, ar, newErr(http.StatusBadRequest, "login_required", 50058,
			"A silent sign-in request was sent but none of the currently signed in user(s) match the requested login hint."))
		return
	}
	e.mu.RLock()
	mfaNeeded := ar.t.mfa[sess.userOID] && !sess.mfa
	missing := e.missingConsentLocked(ar.t, ar.clientID, sess.userOID, ar.scopes)
	e.mu.RUnlock()
	if mfaNeeded {
		ae := errMFARequired(50076, ar.resourceID())
		e.redirectError(w, r, ar, ae)
		return
	}
	if len(missing) > 0 {
		ae := errConsentRequired(ar.clientID, ar.app.DisplayName)
		ae.err, ae.suberror = "consent_required", ""
		e.redirectError(w, r, ar, ae)
		return
	}
	ar.userOID, ar.mfa, ar.sessionID = sess.userOID, sess.mfa, sess.id
	e.issueCode(w, r, ar)
}

func (ar *authRequest) resourceID() string {
	if ar.scopes != nil && ar.scopes.resource != nil {
		return ar.scopes.resource.appID
	}
	return GraphAppID
}

// handleSignIn is the POST of a user tile on the sign-in page.
func (e *Emulator) handleSignIn(w http.ResponseWriter, r *http.Request) {
	ar := e.pendingFromForm(w, r)
	if ar == nil {
		return
	}
	oid := lower(r.PostForm.Get("user"))
	e.mu.Lock()
	u, ok := ar.t.users[oid]
	if !ok {
		e.mu.Unlock()
		e.errorPage(w, r, newErr(http.StatusBadRequest, "invalid_request", 50034,
			"The user account %s does not exist in the %s directory. To sign into this application, the account must be added to the directory.",
			r.PostForm.Get("user"), ar.t.ID))
		return
	}
	// An interactive sign-in performs MFA for users that require it.
	ar.userOID, ar.mfa = u.ObjectID, ar.t.mfa[u.ObjectID]
	s := &session{tenantID: ar.t.ID, userOID: u.ObjectID, mfa: ar.mfa}
	ar.sessionID = uuid.NewString()
	e.sessions[ar.sessionID] = s
	e.mu.Unlock()
	http.SetCookie(w, e.sessionCookie(ar.sessionID, false))
	e.log.Info("emulator: user signed in", "tenant", ar.t.ID, "user", u.ObjectID, "client", ar.clientID)
	e.afterSignIn(w, r, ar)
}

// afterSignIn shows the consent page when needed, else issues the code.
func (e *Emulator) afterSignIn(w http.ResponseWriter, r *http.Request, ar *authRequest) {
	e.mu.RLock()
	missing := e.missingConsentLocked(ar.t, ar.clientID, ar.userOID, ar.scopes)
	e.mu.RUnlock()
	if len(missing) > 0 || ar.prompt == "consent" {
		e.storePending(ar)
		e.renderConsent(w, ar)
		return
	}
	e.issueCode(w, r, ar)
}

// handleConsent is the POST of the consent page's Accept/Cancel.
func (e *Emulator) handleConsent(w http.ResponseWriter, r *http.Request) {
	ar := e.pendingFromForm(w, r)
	if ar == nil {
		return
	}
	if ar.userOID == "" {
		e.errorPage(w, r, newErr(http.StatusBadRequest, "invalid_request", 90023, "Consent was posted before sign-in."))
		return
	}
	if r.PostForm.Get("decision") != "accept" {
		e.dropPending(ar.id)
		ae := newErr(http.StatusBadRequest, "access_denied", 65004, "User declined to consent to access the app.")
		ae.subcode = "cancel"
		e.redirectError(w, r, ar, ae)
		return
	}
	e.mu.Lock()
	e.recordConsentLocked(ar.t, ar.clientID, ar.userOID, e.expandPerms(ar.app, ar.scopes)) // teamshost.go: may lag like Entra's
	e.mu.Unlock()
	e.log.Info("emulator: user consented", "tenant", ar.t.ID, "user", ar.userOID, "client", ar.clientID)
	e.issueCode(w, r, ar)
}

func (e *Emulator) pendingFromForm(w http.ResponseWriter, r *http.Request) *authRequest {
	if err := r.ParseForm(); err != nil {
		e.errorPage(w, r, newErr(http.StatusBadRequest, "invalid_request", 90023, "Invalid request: %v", err))
		return nil
	}
	id := r.PostForm.Get("ctx")
	e.mu.RLock()
	ar, ok := e.pending[id]
	e.mu.RUnlock()
	if !ok || e.now().Sub(ar.created) > pendingLifetime {
		e.errorPage(w, r, newErr(http.StatusBadRequest, "invalid_request", 50089,
			"Authentication failed due to flow token expired. Sign in again from the application."))
		return nil
	}
	return ar
}

func (e *Emulator) storePending(ar *authRequest) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	for id, p := range e.pending {
		if now.Sub(p.created) > pendingLifetime {
			delete(e.pending, id)
		}
	}
	e.pending[ar.id] = ar
}

func (e *Emulator) dropPending(id string) {
	e.mu.Lock()
	delete(e.pending, id)
	e.mu.Unlock()
}

// issueCode stores a single-use code and sends it to the redirect URI.
func (e *Emulator) issueCode(w http.ResponseWriter, r *http.Request, ar *authRequest) {
	code := "1.A" + randB64(96)
	e.mu.Lock()
	now := e.now()
	for c, ac := range e.codes {
		if now.Sub(ac.issued) > codeLifetime {
			delete(e.codes, c)
		}
	}
	e.codes[code] = &authCode{
		tenantID: ar.t.ID, clientID: ar.clientID, redirectURI: ar.redirectURI, userOID: ar.userOID,
		nonce: ar.nonce, challenge: ar.challenge, challengeMethod: ar.challengeMethod,
		scopes: ar.scopes, issued: now, mfa: ar.mfa,
	}
	delete(e.pending, ar.id)
	e.mu.Unlock()
	v := url.Values{}
	v.Set("code", code)
	if ar.state != "" {
		v.Set("state", ar.state)
	}
	v.Set("session_state", ar.sessionID)
	e.log.Info("emulator: authorization code issued", "tenant", ar.t.ID, "client", ar.clientID, "user", ar.userOID)
	e.respondToClient(w, ar, v)
}

// respondToClient delivers parameters per response_mode.
func (e *Emulator) respondToClient(w http.ResponseWriter, ar *authRequest, v url.Values) {
	switch ar.responseMode {
	case "form_post":
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fields := make([]map[string]string, 0, len(keys))
		for _, k := range keys {
			fields = append(fields, map[string]string{"Name": k, "Value": v.Get(k)})
		}
		// The redirect URI is registered (checked before any response), so
		// it may be used verbatim as the form action.
		e.renderPage(w, http.StatusOK, formPostTmpl, map[string]any{
			"Action": template.URL(ar.redirectURI), "Fields": fields,
		})
	case "fragment":
		base, _, _ := strings.Cut(ar.redirectURI, "#")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Location", base+"#"+v.Encode())
		w.WriteHeader(http.StatusFound)
	default:
		u, err := url.Parse(ar.redirectURI)
		if err != nil {
			e.log.Error("emulator: registered redirect URI does not parse", "uri", ar.redirectURI)
			http.Error(w, "bad redirect URI", http.StatusInternalServerError)
			return
		}
		q := u.Query()
		for k := range v {
			q.Set(k, v.Get(k))
		}
		u.RawQuery = q.Encode()
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Location", u.String())
		w.WriteHeader(http.StatusFound)
	}
}

// sessionView is a session as seen by a request.
type sessionView struct {
	id      string
	userOID string
	mfa     bool
}

func (e *Emulator) sessionFor(r *http.Request, tenantID string) *sessionView {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	s, ok := e.sessions[c.Value]
	if !ok || s.tenantID != tenantID {
		return nil
	}
	if _, ok := e.tenants[s.tenantID].users[s.userOID]; !ok {
		return nil
	}
	return &sessionView{id: c.Value, userOID: s.userOID, mfa: s.mfa}
}

func (e *Emulator) sessionCookie(value string, expire bool) *http.Cookie {
	path := "/"
	if u, err := url.Parse(e.login); err == nil && u.Path != "" {
		path = u.Path + "/"
	}
	c := &http.Cookie{Name: sessionCookie, Value: value, Path: path, HttpOnly: true, SameSite: http.SameSiteLaxMode}
	if strings.HasPrefix(e.login, "https://") {
		c.Secure = true
		c.SameSite = http.SameSiteNoneMode
	}
	if expire {
		c.MaxAge = -1
	}
	return c
}

// handleLogout ends the emulator session and returns to a registered
// post_logout_redirect_uri, or shows the signed-out page.
func (e *Emulator) handleLogout(w http.ResponseWriter, r *http.Request) {
	seg := r.PathValue("tenant")
	e.mu.Lock()
	t, _, ok := e.resolveTenantLocked(seg)
	if c, err := r.Cookie(sessionCookie); err == nil {
		delete(e.sessions, c.Value)
	}
	target := r.URL.Query().Get("post_logout_redirect_uri")
	allowed := false
	if ok && t != nil && target != "" {
		for _, a := range t.apps {
			if slices.Contains(a.RedirectURIs, target) {
				allowed = true
			}
		}
	}
	e.mu.Unlock()
	http.SetCookie(w, e.sessionCookie("", true))
	if allowed {
		if st := r.URL.Query().Get("state"); st != "" {
			target += map[bool]string{true: "&", false: "?"}[strings.Contains(target, "?")] + "state=" + url.QueryEscape(st)
		}
		http.Redirect(w, r, target, http.StatusFound)
		return
	}
	e.renderPage(w, http.StatusOK, signedOutTmpl, nil)
}
