package emulator

import (
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"
)

func ccForm(appID, secret, scope string) url.Values {
	return url.Values{"grant_type": {"client_credentials"}, "client_id": {appID}, "client_secret": {secret}, "scope": {scope}}
}

func oboForm(appID, secret, assertion, scope string) url.Values {
	return url.Values{
		"grant_type": {grantJWTBearer}, "client_id": {appID}, "client_secret": {secret},
		"assertion": {assertion}, "scope": {scope}, "requested_token_use": {"on_behalf_of"},
	}
}

func TestErrorBodyHasMicrosoftShape(t *testing.T) {
	f := newFixture(t)
	corr := "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
	status, body := f.postForm(contosoID, ccForm(appV2ID, "wrong", "https://graph.microsoft.com/.default"),
		http.Header{"Client-Request-Id": {corr}})
	assertAADError(t, status, body, http.StatusUnauthorized, "invalid_client", 7000215)
	keys := make([]string, 0, len(body))
	for k := range body {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if strings.Join(keys, ",") != "correlation_id,error,error_codes,error_description,error_uri,timestamp,trace_id" {
		t.Errorf("keys = %v", keys)
	}
	if body["correlation_id"] != corr {
		t.Errorf("correlation_id %v should echo client-request-id", body["correlation_id"])
	}
}

func TestTokenEndpointClientErrors(t *testing.T) {
	f := newFixture(t)
	graphDefault := "https://graph.microsoft.com/.default"
	expiredApp := "8b4c1f6d-3e70-4b2c-94e5-f60718293a41"
	must(t, f.e.AddApp(contosoID, App{AppID: expiredApp, Secrets: []Secret{{Value: "old-secret", EndDateTime: time.Now().Add(-time.Hour)}}}))

	for _, tc := range []struct {
		name   string
		tenant string
		form   url.Values
		status int
		err    string
		code   int
	}{
		{"bad secret", contosoID, ccForm(appV2ID, "nope", graphDefault), 401, "invalid_client", 7000215},
		{"expired secret", contosoID, ccForm(expiredApp, "old-secret", graphDefault), 401, "invalid_client", 7000222},
		{"no secret", contosoID, ccForm(appV2ID, "", graphDefault), 401, "invalid_client", 7000218},
		{"unknown app", contosoID, ccForm("00000000-1111-4222-8333-444444444444", "x", graphDefault), 400, "unauthorized_client", 700016},
		{"unknown tenant", "00000000-0000-4000-8000-000000000000", ccForm(appV2ID, secretV2, graphDefault), 400, "invalid_request", 90002},
		{"no grant_type", contosoID, url.Values{"client_id": {appV2ID}}, 400, "invalid_request", 900144},
		{"unsupported grant", contosoID, url.Values{"grant_type": {"password"}, "client_id": {appV2ID}}, 400, "unsupported_grant_type", 70003},
		{"no client_id", contosoID, url.Values{"grant_type": {"client_credentials"}, "scope": {graphDefault}}, 400, "invalid_request", 900144},
		{"cc without .default", contosoID, ccForm(appV2ID, secretV2, "https://graph.microsoft.com/User.Read"), 400, "invalid_scope", 1002012},
		{"cc unknown resource", contosoID, ccForm(appV2ID, secretV2, "api://nowhere/.default"), 400, "invalid_resource", 500011},
		{"cc on /common", "common", ccForm(appV2ID, secretV2, graphDefault), 400, "invalid_request", 9001023},
		{"OBO on /common", "common", oboForm(appV2ID, secretV2, "x.y.z", "User.Read"), 400, "invalid_request", 9001023},
		{"cc on /organizations", "organizations", ccForm(appV2ID, secretV2, graphDefault), 400, "invalid_request", 50194},
		{"client assertion", contosoID, url.Values{"grant_type": {"client_credentials"}, "client_id": {appV2ID}, "scope": {graphDefault},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {"a.b.c"}}, 401, "invalid_client", 700027},
		{"bad code", contosoID, url.Values{"grant_type": {"authorization_code"}, "client_id": {appV2ID}, "client_secret": {secretV2},
			"code": {"garbage"}, "redirect_uri": {redirectFor(appV2ID)}}, 400, "invalid_grant", 9002313},
		{"bad refresh token", contosoID, url.Values{"grant_type": {"refresh_token"}, "client_id": {appV2ID}, "client_secret": {secretV2},
			"refresh_token": {"garbage"}}, 400, "invalid_grant", 9002313},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := f.postForm(tc.tenant, tc.form, nil)
			assertAADError(t, status, body, tc.status, tc.err, tc.code)
		})
	}

	// GET on the token endpoint.
	resp := f.get(f.authority()+"/oauth2/v2.0/token", nil)
	if resp.StatusCode != 400 || !strings.Contains(readBody(t, resp), "AADSTS900561") {
		t.Errorf("GET /token: %d", resp.StatusCode)
	}
}

func TestClientCredentialsBasicAuthAndCustomAPI(t *testing.T) {
	f := newFixture(t)
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {identifierFor(appV1ID) + "/.default"}}
	req, _ := http.NewRequest(http.MethodPost, f.authority()+"/oauth2/v2.0/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	// RFC 6749 §2.3.1: both parts are form-urlencoded before Basic.
	req.SetBasicAuth(url.QueryEscape(appV2ID), url.QueryEscape(secretV2))
	status, body := f.do(req)
	if status != 200 {
		t.Fatalf("%d %v", status, body)
	}
	if _, ok := body["scope"]; ok {
		t.Error("client credentials responses carry no scope")
	}
	if body["token_type"] != "Bearer" || body["expires_in"] == nil || body["ext_expires_in"] == nil || body["refresh_token"] != nil {
		t.Errorf("body %v", body)
	}
	_, c := claimsOf(t, body["access_token"].(string))
	// The v1 API gets a v1 token whose aud is the identifier used.
	if c["aud"] != identifierFor(appV1ID) || c["ver"] != "1.0" || c["appid"] != appV2ID || c["idtyp"] != "app" {
		t.Errorf("claims %v", c)
	}
	if _, ok := c["roles"]; ok {
		t.Error("no roles were assigned on the custom API")
	}

	// The v2 API gets a v2 token with aud = its GUID.
	status, body = f.postForm(contosoID, ccForm(appV1ID, secretV1, identifierFor(appV2ID)+"/.default"), nil)
	if status != 200 {
		t.Fatalf("%d %v", status, body)
	}
	_, c = claimsOf(t, body["access_token"].(string))
	if c["aud"] != appV2ID || c["ver"] != "2.0" || c["azp"] != appV1ID || c["azpacr"] != "1" ||
		c["iss"] != f.e.LoginURL()+"/"+contosoID+"/v2.0" {
		t.Errorf("claims %v", c)
	}

	// A domain name works as the tenant segment.
	status, body = f.postForm("contoso.onmicrosoft.com", ccForm(appV2ID, secretV2, "https://graph.microsoft.com/.default"), nil)
	if status != 200 {
		t.Fatalf("%d %v", status, body)
	}
}

func TestOnBehalfOfErrors(t *testing.T) {
	f := newFixture(t)
	must(t, f.e.GrantConsent(contosoID, "", appV2ID, "User.Read"))
	good := teamsToken(t, f, appV2ID, aliceOID, TokenOptions{})
	forOtherApp := teamsToken(t, f, appV1ID, aliceOID, TokenOptions{})

	other, err := New(Config{BaseURL: f.e.base})
	must(t, err)
	must(t, other.AddTenant(Tenant{ID: contosoID}))
	must(t, other.AddUser(contosoID, User{ObjectID: aliceOID, UserPrincipalName: "alice@contoso.onmicrosoft.com"}))
	must(t, other.AddApp(contosoID, App{AppID: appV2ID, AccessTokenVersion: 2, IdentifierURIs: []string{identifierFor(appV2ID)},
		Scopes: []Scope{{Value: "access_as_user", Enabled: true}}, PreAuthorizedClients: []string{TeamsWebClientID}}))
	forged, err := other.IssueTeamsToken(contosoID, aliceOID, appV2ID, TokenOptions{})
	must(t, err)

	_, cc := f.postForm(contosoID, ccForm(appV2ID, secretV2, identifierFor(appV2ID)+"/.default"), nil)
	appOnly := cc["access_token"].(string)

	code := func(assertion, scope string) (int, map[string]any) {
		return f.postForm(contosoID, oboForm(appV2ID, secretV2, assertion, scope), nil)
	}
	for _, tc := range []struct {
		name, assertion, scope, err string
		code                        int
	}{
		{"other app's token", forOtherApp, "User.Read", "invalid_grant", 50013},
		{"foreign signer", forged, "User.Read", "invalid_grant", 50013},
		{"garbage", "not-a-jwt", "User.Read", "invalid_grant", 50013},
		{"app-only token", appOnly, "User.Read", "invalid_grant", 50013},
		{"missing assertion", "", "User.Read", "invalid_request", 900144},
		{"two resources", good, "User.Read " + identifierFor(appV1ID) + "/access_as_user", "invalid_scope", 28000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := code(tc.assertion, tc.scope)
			assertAADError(t, status, body, 400, tc.err, tc.code)
		})
	}

	// An ID token is not an assertion.
	must(t, f.e.GrantConsent(contosoID, aliceOID, appV2ID, "User.Read"))
	id := f.idTokenFor(t, aliceOID)
	status, body := code(id, "User.Read")
	assertAADError(t, status, body, 400, "invalid_grant", 240002)

	// Expired assertion: AADSTS500133.
	f.clock.Advance(3 * time.Hour)
	status, body = code(good, "User.Read")
	assertAADError(t, status, body, 400, "invalid_grant", 500133)
}

// idTokenFor runs the auth-code flow for the v2 app and returns its ID token.
func (f *fixture) idTokenFor(t *testing.T, userOID string) string {
	t.Helper()
	v := url.Values{"client_id": {appV2ID}, "response_type": {"code"}, "redirect_uri": {redirectFor(appV2ID)},
		"scope": {"openid profile offline_access User.Read"}}
	b := &browser{f: f}
	q := redirectParams(t, b.signIn(f.authority()+"/oauth2/v2.0/authorize?"+v.Encode(), userOID, "accept"), redirectFor(appV2ID))
	status, body := f.postForm(contosoID, url.Values{"grant_type": {"authorization_code"}, "client_id": {appV2ID},
		"client_secret": {secretV2}, "code": {q.Get("code")}, "redirect_uri": {redirectFor(appV2ID)}}, nil)
	if status != 200 {
		t.Fatalf("%d %v", status, body)
	}
	return body["id_token"].(string)
}

func TestOnBehalfOfMFARequired(t *testing.T) {
	f := newFixture(t)
	must(t, f.e.GrantConsent(contosoID, aliceOID, appV2ID, "User.Read"))
	must(t, f.e.SetMFARequired(contosoID, aliceOID, true))
	status, body := f.postForm(contosoID, oboForm(appV2ID, secretV2, teamsToken(t, f, appV2ID, aliceOID, TokenOptions{}),
		"https://graph.microsoft.com/User.Read offline_access"), nil)
	assertAADError(t, status, body, 400, "interaction_required", 50079)
	if claims, _ := body["claims"].(string); !strings.Contains(claims, `"access_token"`) {
		t.Errorf("claims challenge missing: %v", body)
	}
	// A token obtained with MFA passes (v2 tokens have no amr: the emulator
	// reads its own aio).
	status, body = f.postForm(contosoID, oboForm(appV2ID, secretV2, teamsToken(t, f, appV2ID, aliceOID, TokenOptions{MFA: true}),
		"https://graph.microsoft.com/User.Read offline_access"), nil)
	if status != 200 || body["refresh_token"] == nil || !strings.Contains(body["scope"].(string), "User.Read") {
		t.Fatalf("%d %v", status, body)
	}
	// The v1 path: amr carries mfa.
	must(t, f.e.GrantConsent(contosoID, aliceOID, appV1ID, "User.Read"))
	status, body = f.postForm(contosoID, oboForm(appV1ID, secretV1, teamsToken(t, f, appV1ID, aliceOID, TokenOptions{MFA: true}), "User.Read"), nil)
	if status != 200 {
		t.Fatalf("%d %v", status, body)
	}
	_, c := claimsOf(t, body["access_token"].(string))
	if amr, _ := c["amr"].([]any); len(amr) != 2 || amr[1] != "mfa" {
		t.Errorf("amr %v", c["amr"])
	}
}

func TestRefreshTokenGrant(t *testing.T) {
	f := newFixture(t)
	must(t, f.e.GrantConsent(contosoID, aliceOID, appV2ID, "User.Read"))
	status, body := f.postForm(contosoID, oboForm(appV2ID, secretV2, teamsToken(t, f, appV2ID, aliceOID, TokenOptions{}),
		"User.Read offline_access"), nil)
	if status != 200 {
		t.Fatalf("%d %v", status, body)
	}
	rt := body["refresh_token"].(string)
	refresh := func(appID, secret, scope string) (int, map[string]any) {
		form := url.Values{"grant_type": {"refresh_token"}, "client_id": {appID}, "client_secret": {secret}, "refresh_token": {rt}}
		if scope != "" {
			form.Set("scope", scope)
		}
		return f.postForm(contosoID, form, nil)
	}
	status, body = refresh(appV2ID, secretV2, "")
	if status != 200 || body["refresh_token"] == nil || body["refresh_token"] == rt {
		t.Fatalf("refresh: %d %v", status, body)
	}
	// Another client cannot use it.
	status, body = refresh(appV1ID, secretV1, "")
	assertAADError(t, status, body, 400, "invalid_grant", 70000)
	// Asking for an unconsented scope needs consent.
	status, body = refresh(appV2ID, secretV2, "Mail.Read")
	assertAADError(t, status, body, 400, "invalid_grant", 65001)
	if body["suberror"] != "consent_required" {
		t.Errorf("suberror %v", body["suberror"])
	}
	// Revoked consent is re-evaluated.
	must(t, f.e.RevokeConsent(contosoID, aliceOID, appV2ID))
	status, body = refresh(appV2ID, secretV2, "")
	assertAADError(t, status, body, 400, "invalid_grant", 65001)
	// MFA injected after the grant: interaction_required.
	must(t, f.e.GrantConsent(contosoID, aliceOID, appV2ID, "User.Read"))
	must(t, f.e.SetMFARequired(contosoID, aliceOID, true))
	status, body = refresh(appV2ID, secretV2, "")
	assertAADError(t, status, body, 400, "interaction_required", 50076)
	// Expired after 90 days.
	must(t, f.e.SetMFARequired(contosoID, aliceOID, false))
	f.clock.Advance(91 * 24 * time.Hour)
	status, body = refresh(appV2ID, secretV2, "")
	assertAADError(t, status, body, 400, "invalid_grant", 700082)
}

func TestOBODefaultScopeAndScopeForms(t *testing.T) {
	f := newFixture(t)
	must(t, f.e.GrantConsent(contosoID, aliceOID, appV2ID)) // RequiredGraphScopes
	tok := teamsToken(t, f, appV2ID, aliceOID, TokenOptions{})
	for _, scope := range []string{"https://graph.microsoft.com/.default", "user.read", "00000003-0000-0000-c000-000000000000/User.Read"} {
		status, body := f.postForm(contosoID, oboForm(appV2ID, secretV2, tok, scope), nil)
		if status != 200 {
			t.Fatalf("%s: %d %v", scope, status, body)
		}
		_, c := claimsOf(t, body["access_token"].(string))
		if !strings.EqualFold(c["scp"].(string), "User.Read") {
			t.Errorf("%s: scp %v", scope, c["scp"])
		}
	}
}
