package emulator

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// oidcSetup returns a go-oidc provider for the tenant's v2 issuer and an
// oauth2 config for the v2 test app.
func oidcSetup(t *testing.T, f *fixture) (context.Context, *oidc.Provider, *oauth2.Config) {
	t.Helper()
	ctx := oidc.ClientContext(context.Background(), f.srv.Client())
	provider, err := oidc.NewProvider(ctx, f.authority()+"/v2.0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &oauth2.Config{
		ClientID:     appV2ID,
		ClientSecret: secretV2,
		Endpoint:     provider.Endpoint(),
		RedirectURL:  redirectFor(appV2ID),
		Scopes:       []string{oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess, "User.Read"},
	}
	return ctx, provider, cfg
}

func TestOIDCAuthCodePKCE(t *testing.T) {
	f := newFixture(t)
	ctx, provider, cfg := oidcSetup(t, f)
	verifier := oauth2.GenerateVerifier()
	authURL := cfg.AuthCodeURL("state-123", oidc.Nonce("nonce-456"), oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("login_hint", "bob@fabrikam.com"))

	b := &browser{f: f}
	q := redirectParams(t, b.signIn(authURL, bobOID, "accept"), cfg.RedirectURL+"?")
	if q.Get("state") != "state-123" {
		t.Fatalf("state = %q", q.Get("state"))
	}
	tok, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&oidc.Config{ClientID: appV2ID}).Verify(ctx, rawID)
	if err != nil {
		t.Fatal(err)
	}
	if idt.Nonce != "nonce-456" {
		t.Errorf("nonce = %q", idt.Nonce)
	}
	var claims struct {
		OID               string `json:"oid"`
		TID               string `json:"tid"`
		Name              string `json:"name"`
		PreferredUsername string `json:"preferred_username"`
		IDP               string `json:"idp"`
		Ver               string `json:"ver"`
	}
	must(t, idt.Claims(&claims))
	// Bob is a B2B guest: tid is the resource tenant, his home is in idp
	// and preferred_username shows his home sign-in name.
	if claims.OID != bobOID || claims.TID != contosoID || claims.Name != "Bob Jones" || claims.Ver != "2.0" ||
		claims.PreferredUsername != "bob@fabrikam.com" || claims.IDP != f.e.STSURL()+"/"+fabrikamID+"/" {
		t.Errorf("ID token claims %+v", claims)
	}
	if idt.Subject != pairwiseSub(bobOID, appV2ID) {
		t.Errorf("sub %q is not the pairwise value", idt.Subject)
	}
	if tok.RefreshToken == "" || tok.TokenType != "Bearer" || tok.Expiry.IsZero() {
		t.Errorf("token = %+v", tok)
	}
	if s, _ := tok.Extra("scope").(string); !strings.Contains(s, "User.Read") || !strings.Contains(s, "openid") {
		t.Errorf("scope = %q", s)
	}

	// The userinfo endpoint the discovery document names answers for the
	// Graph access token.
	ui, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatal(err)
	}
	if ui.Subject != idt.Subject {
		t.Errorf("userinfo sub %q != id token sub %q", ui.Subject, idt.Subject)
	}

	// The refresh token works through x/oauth2 too.
	tok.Expiry = tok.Expiry.Add(-24 * time.Hour)
	fresh, err := cfg.TokenSource(ctx, tok).Token()
	if err != nil {
		t.Fatal(err)
	}
	if fresh.AccessToken == tok.AccessToken {
		t.Error("refresh returned the old access token")
	}
}

func TestAuthorizeWrongRedirectURIShowsErrorPage(t *testing.T) {
	f := newFixture(t)
	_, _, cfg := oidcSetup(t, f)
	cfg.RedirectURL = "https://evil.test/callback"
	resp := f.get(cfg.AuthCodeURL("s"), nil)
	body := readBody(t, resp)
	if resp.StatusCode == http.StatusFound || resp.Header.Get("Location") != "" {
		t.Fatalf("an unregistered redirect URI must not be redirected to (status %d)", resp.StatusCode)
	}
	if !strings.Contains(body, "AADSTS50011") || !strings.Contains(body, "https://evil.test/callback") ||
		!strings.Contains(body, "having trouble signing you in") {
		t.Fatalf("error page:\n%s", body)
	}
	if resp.Header.Get("X-Frame-Options") != "DENY" {
		t.Error("sign-in pages must refuse framing")
	}
}

func TestAuthorizeUnknownClientShowsErrorPage(t *testing.T) {
	f := newFixture(t)
	resp := f.get(f.authority()+"/oauth2/v2.0/authorize?client_id=00000000-1111-4222-8333-444444444444&response_type=code&scope=openid", nil)
	if body := readBody(t, resp); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "AADSTS700016") {
		t.Fatalf("%d\n%s", resp.StatusCode, body)
	}
}

func TestTokenWrongVerifierAndReuse(t *testing.T) {
	f := newFixture(t)
	must(t, f.e.GrantConsent(contosoID, aliceOID, appV2ID, "User.Read"))
	ctx, _, cfg := oidcSetup(t, f)

	code := func() string {
		verifier := oauth2.GenerateVerifier()
		b := &browser{f: f}
		q := redirectParams(t, b.signIn(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)), aliceOID, ""), cfg.RedirectURL+"?")
		return q.Get("code")
	}

	// Wrong verifier.
	_, err := cfg.Exchange(ctx, code(), oauth2.VerifierOption(oauth2.GenerateVerifier()))
	assertRetrieveError(t, err, "invalid_grant", "AADSTS501481")

	// Missing verifier.
	_, err = cfg.Exchange(ctx, code())
	assertRetrieveError(t, err, "invalid_grant", "AADSTS50148")

	// Reuse: the first redemption works, the second is refused.
	verifier := oauth2.GenerateVerifier()
	b := &browser{f: f}
	c := redirectParams(t, b.signIn(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)), aliceOID, ""), cfg.RedirectURL+"?").Get("code")
	if _, err := cfg.Exchange(ctx, c, oauth2.VerifierOption(verifier)); err != nil {
		t.Fatal(err)
	}
	_, err = cfg.Exchange(ctx, c, oauth2.VerifierOption(verifier))
	assertRetrieveError(t, err, "invalid_grant", "AADSTS54005")

	// Expired code.
	verifier = oauth2.GenerateVerifier()
	b = &browser{f: f}
	c = redirectParams(t, b.signIn(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)), aliceOID, ""), cfg.RedirectURL+"?").Get("code")
	f.clock.Advance(11 * time.Minute)
	_, err = cfg.Exchange(ctx, c, oauth2.VerifierOption(verifier))
	assertRetrieveError(t, err, "invalid_grant", "AADSTS70008")
}

func assertRetrieveError(t *testing.T, err error, wantErr, wantCode string) {
	t.Helper()
	re, ok := err.(*oauth2.RetrieveError)
	if !ok {
		t.Fatalf("err = %v (%T), want *oauth2.RetrieveError", err, err)
	}
	if re.ErrorCode != wantErr || !strings.HasPrefix(re.ErrorDescription, wantCode+":") {
		t.Fatalf("got %s %q, want %s %s", re.ErrorCode, re.ErrorDescription, wantErr, wantCode)
	}
}

func TestAuthorizePlainPKCEAndFormPost(t *testing.T) {
	f := newFixture(t)
	must(t, f.e.GrantConsent(contosoID, aliceOID, appV2ID, "User.Read"))
	verifier := oauth2.GenerateVerifier()
	v := url.Values{
		"client_id": {appV2ID}, "response_type": {"code"}, "redirect_uri": {redirectFor(appV2ID)},
		"scope": {"openid User.Read"}, "state": {`"><script>x</script>`}, "response_mode": {"form_post"},
		"code_challenge": {verifier}, "code_challenge_method": {"plain"},
	}
	b := &browser{f: f}
	resp := b.signIn(f.authority()+"/oauth2/v2.0/authorize?"+v.Encode(), aliceOID, "")
	page := readBody(t, resp)
	if resp.StatusCode != 200 || !strings.Contains(page, `<form method="POST" action="`+redirectFor(appV2ID)+`">`) {
		t.Fatalf("form_post page (%d):\n%s", resp.StatusCode, page)
	}
	if strings.Contains(page, "<script>x</script>") {
		t.Fatal("state was not escaped")
	}
	m := strings.SplitN(page, `name="code" value="`, 2)
	if len(m) != 2 {
		t.Fatalf("no code field:\n%s", page)
	}
	code := m[1][:strings.Index(m[1], `"`)]
	status, body := f.postForm(contosoID, url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectFor(appV2ID)},
		"client_id": {appV2ID}, "client_secret": {secretV2}, "code_verifier": {verifier},
	}, nil)
	if status != 200 || body["id_token"] == nil || body["refresh_token"] != nil {
		t.Fatalf("%d %v (no offline_access => no refresh token)", status, body)
	}
}

func TestAuthorizeConsentCancel(t *testing.T) {
	f := newFixture(t)
	_, _, cfg := oidcSetup(t, f)
	b := &browser{f: f}
	q := redirectParams(t, b.signIn(cfg.AuthCodeURL("st"), aliceOID, "cancel"), cfg.RedirectURL+"?")
	if q.Get("error") != "access_denied" || q.Get("error_subcode") != "cancel" || q.Get("state") != "st" ||
		!strings.HasPrefix(q.Get("error_description"), "AADSTS65004: ") || q.Get("code") != "" {
		t.Fatalf("redirect params %v", q)
	}
}

func TestAuthorizePromptNone(t *testing.T) {
	f := newFixture(t)
	_, _, cfg := oidcSetup(t, f)
	silent := cfg.AuthCodeURL("s1", oauth2.SetAuthURLParam("prompt", "none"))

	// No session: login_required, sent to the client.
	b := &browser{f: f}
	q := redirectParams(t, b.open(silent), cfg.RedirectURL+"?")
	if q.Get("error") != "login_required" || !strings.HasPrefix(q.Get("error_description"), "AADSTS50058: ") {
		t.Fatalf("%v", q)
	}

	// Signed in but consent missing: consent_required. (Sign in through a
	// consent page and cancel, which still leaves the session.)
	b.signIn(cfg.AuthCodeURL("s0"), aliceOID, "cancel")
	q = redirectParams(t, b.open(silent), cfg.RedirectURL+"?")
	if q.Get("error") != "consent_required" || !strings.HasPrefix(q.Get("error_description"), "AADSTS65001: ") {
		t.Fatalf("%v", q)
	}

	// With consent, the session yields a code without any page.
	must(t, f.e.GrantConsent(contosoID, aliceOID, appV2ID))
	q = redirectParams(t, b.open(silent), cfg.RedirectURL+"?")
	if q.Get("code") == "" || q.Get("state") != "s1" {
		t.Fatalf("%v", q)
	}

	// A login_hint naming someone else is login_required.
	q = redirectParams(t, b.open(cfg.AuthCodeURL("s2", oauth2.SetAuthURLParam("prompt", "none"),
		oauth2.SetAuthURLParam("login_hint", "carol@contoso.onmicrosoft.com"))), cfg.RedirectURL+"?")
	if q.Get("error") != "login_required" {
		t.Fatalf("%v", q)
	}

	// MFA turned on after the session began: interaction_required.
	must(t, f.e.SetMFARequired(contosoID, aliceOID, true))
	q = redirectParams(t, b.open(silent), cfg.RedirectURL+"?")
	if q.Get("error") != "interaction_required" || !strings.HasPrefix(q.Get("error_description"), "AADSTS50076: ") {
		t.Fatalf("%v", q)
	}

	// prompt=login shows the sign-in page despite the session.
	resp := b.open(cfg.AuthCodeURL("s3", oauth2.SetAuthURLParam("prompt", "login")))
	if body := readBody(t, resp); resp.StatusCode != 200 || !strings.Contains(body, "Pick an account") {
		t.Fatalf("prompt=login: %d", resp.StatusCode)
	}
}

func TestAuthorizeRedirectedErrors(t *testing.T) {
	f := newFixture(t)
	base := url.Values{"client_id": {appV2ID}, "redirect_uri": {redirectFor(appV2ID)}, "state": {"s"}}
	for _, tc := range []struct {
		name  string
		set   map[string]string
		error string
		code  string
	}{
		{"missing scope", map[string]string{"response_type": "code"}, "invalid_request", "AADSTS900144"},
		{"implicit", map[string]string{"response_type": "id_token", "scope": "openid"}, "unsupported_response_type", "AADSTS700054"},
		{"unknown resource", map[string]string{"response_type": "code", "scope": "api://nowhere/x"}, "invalid_resource", "AADSTS500011"},
		{"two resources", map[string]string{"response_type": "code", "scope": "User.Read " + identifierFor(appV1ID) + "/access_as_user"}, "invalid_scope", "AADSTS28000"},
		{"unknown app scope", map[string]string{"response_type": "code", "scope": identifierFor(appV1ID) + "/nope"}, "invalid_client", "AADSTS65005"},
		{"bad pkce method", map[string]string{"response_type": "code", "scope": "openid", "code_challenge": strings.Repeat("a", 43), "code_challenge_method": "S512"}, "invalid_request", "AADSTS50149"},
		{"bad prompt", map[string]string{"response_type": "code", "scope": "openid", "prompt": "sometimes"}, "invalid_request", "AADSTS90023"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := url.Values{}
			for k, x := range base {
				v[k] = x
			}
			for k, x := range tc.set {
				v.Set(k, x)
			}
			q := redirectParams(t, f.get(f.authority()+"/oauth2/v2.0/authorize?"+v.Encode(), nil), redirectFor(appV2ID)+"?")
			if q.Get("error") != tc.error || !strings.HasPrefix(q.Get("error_description"), tc.code+": ") || q.Get("state") != "s" {
				t.Fatalf("%v", q)
			}
		})
	}
	// /common with a single-tenant app.
	v := url.Values{"client_id": {appV2ID}, "redirect_uri": {redirectFor(appV2ID)}, "response_type": {"code"}, "scope": {"openid"}}
	q := redirectParams(t, f.get(f.e.LoginURL()+"/common/oauth2/v2.0/authorize?"+v.Encode(), nil), redirectFor(appV2ID)+"?")
	if !strings.HasPrefix(q.Get("error_description"), "AADSTS50194: ") {
		t.Fatalf("%v", q)
	}
}

func TestSignInPageEscapesAndListsUsers(t *testing.T) {
	f := newFixture(t)
	_, _, cfg := oidcSetup(t, f)
	resp := f.get(cfg.AuthCodeURL("s", oauth2.SetAuthURLParam("login_hint", "carol@contoso.onmicrosoft.com")), nil)
	page := readBody(t, resp)
	if strings.Contains(page, "<Admin>") || !strings.Contains(page, "Carol &lt;Admin&gt; &amp; &#34;Co&#34;") {
		t.Fatalf("display name not escaped:\n%s", page)
	}
	for _, upn := range []string{"alice@contoso.onmicrosoft.com", "bob_fabrikam.com#EXT#@contoso.onmicrosoft.com"} {
		if !strings.Contains(page, upn) {
			t.Errorf("page lacks %s", upn)
		}
	}
	if strings.Index(page, "carol@") > strings.Index(page, "alice@") {
		t.Error("the login_hint user should be listed first")
	}
}

func TestLogoutEndsSession(t *testing.T) {
	f := newFixture(t)
	must(t, f.e.GrantConsent(contosoID, aliceOID, appV2ID))
	_, _, cfg := oidcSetup(t, f)
	b := &browser{f: f}
	redirectParams(t, b.signIn(cfg.AuthCodeURL("s"), aliceOID, ""), cfg.RedirectURL+"?")
	resp := b.open(f.authority() + "/oauth2/v2.0/logout?post_logout_redirect_uri=" + url.QueryEscape(cfg.RedirectURL))
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != cfg.RedirectURL {
		t.Fatalf("logout: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	q := redirectParams(t, b.open(cfg.AuthCodeURL("s", oauth2.SetAuthURLParam("prompt", "none"))), cfg.RedirectURL+"?")
	if q.Get("error") != "login_required" {
		t.Fatalf("after logout: %v", q)
	}
}
