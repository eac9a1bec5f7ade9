package emulator

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
)

// These tests drive the emulator with MSAL Go, Microsoft's own client, the
// way tamlink's server will: authority {LoginURL}/{tenant}, instance
// discovery off (it would call the real Microsoft), the test TLS client.

func (f *fixture) msal(appID, secret string) confidential.Client {
	f.t.Helper()
	cred, err := confidential.NewCredFromSecret(secret)
	if err != nil {
		f.t.Fatal(err)
	}
	c, err := confidential.New(f.authority(), appID, cred,
		confidential.WithHTTPClient(f.srv.Client()),
		confidential.WithInstanceDiscovery(false))
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

func TestMSALClientCredentials(t *testing.T) {
	f := newFixture(t)
	res, err := f.msal(appV2ID, secretV2).AcquireTokenByCredential(context.Background(), []string{"https://graph.microsoft.com/.default"})
	if err != nil {
		t.Fatal(err)
	}
	hdr, c := claimsOf(t, res.AccessToken)
	if hdr["alg"] != "RS256" || hdr["kid"] != f.e.ActiveKeyID() || hdr["x5t"] != f.e.ActiveKeyID() {
		t.Errorf("header = %v", hdr)
	}
	want := map[string]any{
		"aud": "https://graph.microsoft.com", "iss": f.e.STSURL() + "/" + contosoID + "/", "ver": "1.0",
		"appid": appV2ID, "appidacr": "1", "idtyp": "app", "tid": contosoID,
	}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("claim %s = %v, want %v", k, c[k], v)
		}
	}
	if roles, _ := c["roles"].([]any); len(roles) != 1 || roles[0] != "TeamsActivity.Send" {
		t.Errorf("roles = %v", c["roles"])
	}
	if _, ok := c["scp"]; ok {
		t.Error("app-only token carries scp")
	}
	if c["oid"] != c["sub"] || c["oid"] == "" {
		t.Errorf("app-only oid/sub = %v/%v", c["oid"], c["sub"])
	}
	// MSAL serves the second call from its cache: the emulator's
	// expires_in was understood.
	again, err := f.msal(appV2ID, secretV2).AcquireTokenByCredential(context.Background(), []string{"https://graph.microsoft.com/.default"})
	if err != nil || again.AccessToken == "" {
		t.Fatal(err)
	}
}

func TestMSALBadSecret(t *testing.T) {
	f := newFixture(t)
	_, err := f.msal(appV2ID, "not-the-secret").AcquireTokenByCredential(context.Background(), []string{"https://graph.microsoft.com/.default"})
	if err == nil || !strings.Contains(err.Error(), "AADSTS7000215") || !strings.Contains(err.Error(), "invalid_client") {
		t.Fatalf("err = %v, want AADSTS7000215 invalid_client", err)
	}
	// A wrong tenant surfaces as MSAL failing discovery with AADSTS90002.
	cred, _ := confidential.NewCredFromSecret(secretV2)
	c, err := confidential.New(f.e.LoginURL()+"/00000000-0000-4000-8000-000000000000", appV2ID, cred,
		confidential.WithHTTPClient(f.srv.Client()), confidential.WithInstanceDiscovery(false))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AcquireTokenByCredential(context.Background(), []string{"https://graph.microsoft.com/.default"}); err == nil ||
		!strings.Contains(err.Error(), "AADSTS90002") {
		t.Fatalf("err = %v, want AADSTS90002", err)
	}
}

// TestMSALOnBehalfOfAndGraphMe is tamlink's SSO path: Teams token in, OBO
// for Graph User.Read, then GET /me.
func TestMSALOnBehalfOfAndGraphMe(t *testing.T) {
	for _, tc := range []struct {
		name, appID, secret string
	}{{"v2 app", appV2ID, secretV2}, {"v1 app (aud is the App ID URI)", appV1ID, secretV1}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			must(t, f.e.GrantConsent(contosoID, aliceOID, tc.appID, "User.Read"))
			assertion := teamsToken(t, f, tc.appID, aliceOID, TokenOptions{})
			res, err := f.msal(tc.appID, tc.secret).AcquireTokenOnBehalfOf(context.Background(), assertion,
				[]string{"https://graph.microsoft.com/User.Read"})
			if err != nil {
				t.Fatal(err)
			}
			_, c := claimsOf(t, res.AccessToken)
			if c["aud"] != GraphResource || c["appid"] != tc.appID || c["oid"] != aliceOID || c["ver"] != "1.0" {
				t.Errorf("OBO token claims %v", c)
			}
			if !strings.Contains(c["scp"].(string), "User.Read") {
				t.Errorf("scp = %v", c["scp"])
			}
			if res.Account.PreferredUsername != "alice@contoso.onmicrosoft.com" || res.Account.HomeAccountID != aliceOID+"."+contosoID {
				t.Errorf("MSAL account = %+v", res.Account)
			}

			req, _ := http.NewRequest(http.MethodGet, f.e.GraphURL()+"/v1.0/me", nil)
			req.Header.Set("Authorization", "Bearer "+res.AccessToken)
			status, me := f.do(req)
			if status != http.StatusOK {
				t.Fatalf("GET /me: %d %v", status, me)
			}
			if me["@odata.context"] != "https://graph.microsoft.com/v1.0/$metadata#users/$entity" ||
				me["id"] != aliceOID || me["userPrincipalName"] != "alice@contoso.onmicrosoft.com" ||
				me["displayName"] != "Alice Smith" || me["mail"] != "alice@contoso.com" || me["jobTitle"] != "Engineer" {
				t.Errorf("/me = %v", me)
			}
			if _, ok := me["mobilePhone"]; !ok || me["mobilePhone"] != nil {
				t.Errorf("mobilePhone should be present and null: %v", me)
			}
		})
	}
}

func TestMSALOnBehalfOfWithoutConsent(t *testing.T) {
	f := newFixture(t)
	assertion := teamsToken(t, f, appV2ID, aliceOID, TokenOptions{})
	_, err := f.msal(appV2ID, secretV2).AcquireTokenOnBehalfOf(context.Background(), assertion,
		[]string{"https://graph.microsoft.com/User.Read"})
	if err == nil || !strings.Contains(err.Error(), "AADSTS65001") || !strings.Contains(err.Error(), "invalid_grant") ||
		!strings.Contains(err.Error(), `"suberror":"consent_required"`) {
		t.Fatalf("err = %v, want invalid_grant AADSTS65001 consent_required", err)
	}
	// Admin consent (userOID "") unblocks every user.
	must(t, f.e.GrantConsent(contosoID, "", appV2ID))
	if _, err := f.msal(appV2ID, secretV2).AcquireTokenOnBehalfOf(context.Background(), assertion,
		[]string{"https://graph.microsoft.com/User.Read"}); err != nil {
		t.Fatal(err)
	}
}

// TestMSALAuthCode is the fallback sign-in: MSAL builds the authorize URL,
// a "browser" drives the sign-in and consent pages, MSAL redeems the code
// with the PKCE verifier.
func TestMSALAuthCode(t *testing.T) {
	f := newFixture(t)
	cca := f.msal(appV1ID, secretV1)
	redirect := redirectFor(appV1ID)
	scopes := []string{"User.Read"}
	authURL, err := cca.AuthCodeURL(context.Background(), appV1ID, redirect, scopes,
		confidential.WithLoginHint("alice@contoso.onmicrosoft.com"))
	if err != nil {
		t.Fatal(err)
	}
	verifier := strings.Repeat("verifier-", 6)
	sum := sha256.Sum256([]byte(verifier))
	authURL += "&state=xyz&code_challenge_method=S256&code_challenge=" + base64.RawURLEncoding.EncodeToString(sum[:])

	b := &browser{f: f}
	q := redirectParams(t, b.signIn(authURL, aliceOID, "accept"), redirect+"?")
	if q.Get("state") != "xyz" || q.Get("code") == "" || q.Get("session_state") == "" {
		t.Fatalf("redirect params %v", q)
	}
	res, err := cca.AcquireTokenByAuthCode(context.Background(), q.Get("code"), redirect, scopes,
		confidential.WithChallenge(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if res.IDToken.Oid != aliceOID || res.IDToken.PreferredUsername != "alice@contoso.onmicrosoft.com" ||
		res.IDToken.TenantID != contosoID || res.IDToken.Issuer != f.authority()+"/v2.0" {
		t.Errorf("ID token = %+v", res.IDToken)
	}
	if res.Account.HomeAccountID != aliceOID+"."+contosoID {
		t.Errorf("home account %q (client_info not understood?)", res.Account.HomeAccountID)
	}
	// MSAL now has a refresh token: a silent call for the same account
	// works, and the Graph token it holds reads /me.
	accounts, err := cca.Account(context.Background(), res.Account.HomeAccountID)
	if err != nil {
		t.Fatal(err)
	}
	silent, err := cca.AcquireTokenSilent(context.Background(), scopes, confidential.WithSilentAccount(accounts))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, f.e.GraphURL()+"/v1.0/me?$select=displayName,mail", nil)
	req.Header.Set("Authorization", "Bearer "+silent.AccessToken)
	status, me := f.do(req)
	if status != 200 || me["displayName"] != "Alice Smith" || len(me) != 3 ||
		me["@odata.context"] != "https://graph.microsoft.com/v1.0/$metadata#users(displayName,mail)/$entity" {
		t.Fatalf("/me?$select: %d %v", status, me)
	}
	// Consent was remembered: a second sign-in goes straight back.
	b2 := &browser{f: f}
	resp := b2.signIn(authURL, aliceOID, "")
	redirectParams(t, resp, redirect+"?")

	// The second redemption of the first code fails in MSAL too.
	if _, err := cca.AcquireTokenByAuthCode(context.Background(), q.Get("code"), redirect, scopes,
		confidential.WithChallenge(verifier)); err == nil || !strings.Contains(err.Error(), "AADSTS54005") {
		t.Fatalf("reuse: err = %v", err)
	}
}

// TestMSALErrorsCarryMicrosoftJSON checks MSAL's view of an error response:
// it is valid JSON with Microsoft's fields.
func TestMSALErrorsCarryMicrosoftJSON(t *testing.T) {
	f := newFixture(t)
	_, err := f.msal(appV2ID, secretV2).AcquireTokenByCredential(context.Background(), []string{"https://graph.microsoft.com/User.Read"})
	if err == nil {
		t.Fatal("expected an error for a non-.default client credentials scope")
	}
	msg := err.Error()
	i := strings.Index(msg, "{")
	var body map[string]any
	if i < 0 || json.Unmarshal([]byte(msg[i:]), &body) != nil {
		t.Fatalf("no JSON body in MSAL error: %s", msg)
	}
	assertAADError(t, http.StatusBadRequest, body, http.StatusBadRequest, "invalid_scope", 1002012)
}
