package emulator

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// deviceCode asks the devicecode endpoint for a code.
func (f *fixture) deviceCode(client, scope string) (int, map[string]any) {
	f.t.Helper()
	form := url.Values{"client_id": {client}, "scope": {scope}}
	req, _ := http.NewRequest(http.MethodPost, f.e.LoginURL()+"/"+contosoID+"/oauth2/v2.0/devicecode", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return f.do(req)
}

func (f *fixture) pollDevice(client, code string) (int, map[string]any) {
	f.t.Helper()
	return f.postForm(contosoID, url.Values{"grant_type": {grantDeviceCode}, "client_id": {client}, "device_code": {code}}, nil)
}

// adminToken signs alice in through the device code flow with the given
// Graph permissions.
func (f *fixture) adminToken(perms ...string) string {
	f.t.Helper()
	var scopes []string
	for _, p := range perms {
		scopes = append(scopes, "https://graph.microsoft.com/"+p)
	}
	_, dc := f.deviceCode(GraphCommandLineToolsClientID, strings.Join(scopes, " "))
	must(f.t, f.e.Approve(dc["user_code"].(string), aliceOID))
	status, tok := f.pollDevice(GraphCommandLineToolsClientID, dc["device_code"].(string))
	if status != http.StatusOK {
		f.t.Fatalf("device token: %d %v", status, tok)
	}
	return tok["access_token"].(string)
}

func TestDeviceCodeFlow(t *testing.T) {
	f := newFixture(t)
	scope := "https://graph.microsoft.com/Application.ReadWrite.All https://graph.microsoft.com/AppCatalog.ReadWrite.All"
	status, dc := f.deviceCode(GraphCommandLineToolsClientID, scope)
	if status != http.StatusOK {
		t.Fatalf("%d %v", status, dc)
	}
	code, user := dc["device_code"].(string), dc["user_code"].(string)
	if len(user) != 9 || dc["verification_uri"] != f.e.VerificationURL() || dc["interval"] != float64(5) || dc["expires_in"] != float64(900) ||
		!strings.Contains(dc["message"].(string), user) {
		t.Fatalf("device code answer %v", dc)
	}
	status, body := f.pollDevice(GraphCommandLineToolsClientID, code)
	assertAADError(t, status, body, http.StatusBadRequest, "authorization_pending", 70016)
	if got := f.e.DeviceCodes(); len(got) != 1 || got[0].UserCode != user || got[0].TenantID != contosoID {
		t.Fatalf("pending %v", got)
	}

	// The verification page lists the tenant's users; picking one signs in.
	page := readBody(t, f.get(f.e.VerificationURL()+"?code="+strings.ToLower(user), nil))
	for _, want := range []string{"alice@contoso.onmicrosoft.com", "Microsoft Graph Command Line Tools", "Application.ReadWrite.All"} {
		if !strings.Contains(page, want) {
			t.Fatalf("verification page lacks %q:\n%s", want, page)
		}
	}
	form := url.Values{"code": {user}, "user": {aliceOID}, "decision": {"approve"}}
	resp, err := f.client.PostForm(f.e.VerificationURL(), form)
	if err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(readBody(t, resp), "signed in") {
		t.Fatalf("approve: %v %v", err, resp)
	}
	status, body = f.pollDevice(GraphCommandLineToolsClientID, code)
	if status != http.StatusOK {
		t.Fatalf("%d %v", status, body)
	}
	_, claims := claimsOf(t, body["access_token"].(string))
	if claims["scp"] != "Application.ReadWrite.All AppCatalog.ReadWrite.All" || claims["oid"] != aliceOID ||
		claims["appid"] != GraphCommandLineToolsClientID || claims["aud"] != GraphResource || claims["tid"] != contosoID {
		t.Fatalf("claims %v", claims)
	}
	// A device code is redeemed once.
	status, body = f.pollDevice(GraphCommandLineToolsClientID, code)
	assertAADError(t, status, body, http.StatusBadRequest, "bad_verification_code", 9002313)
}

func TestDeviceCodeRefusals(t *testing.T) {
	f := newFixture(t)
	const scope = "https://graph.microsoft.com/User.Read"
	status, body := f.deviceCode("99999999-9999-4999-8999-999999999999", scope)
	assertAADError(t, status, body, http.StatusBadRequest, "unauthorized_client", 700016)
	status, body = f.deviceCode(appV2ID, scope) // a confidential app
	assertAADError(t, status, body, http.StatusUnauthorized, "invalid_client", 7000218)
	status, body = f.deviceCode(GraphCommandLineToolsClientID, "https://graph.microsoft.com/not a scope/")
	if status != http.StatusBadRequest {
		t.Fatalf("%d %v", status, body)
	}

	// Declined.
	_, dc := f.deviceCode(GraphCommandLineToolsClientID, scope)
	must(t, f.e.Deny(dc["user_code"].(string)))
	status, body = f.pollDevice(GraphCommandLineToolsClientID, dc["device_code"].(string))
	assertAADError(t, status, body, http.StatusBadRequest, "authorization_declined", 70000)
	if err := f.e.Approve(dc["user_code"].(string), aliceOID); err == nil {
		t.Fatal("a declined code was approved")
	}

	// Another client cannot redeem the code.
	_, dc = f.deviceCode(GraphCommandLineToolsClientID, scope)
	must(t, f.e.Approve(dc["user_code"].(string), aliceOID))
	status, body = f.pollDevice("04b07795-8ddb-461a-bbee-02f9e1bf7b46", dc["device_code"].(string))
	assertAADError(t, status, body, http.StatusBadRequest, "bad_verification_code", 9002313)

	// Expired.
	_, dc = f.deviceCode(GraphCommandLineToolsClientID, scope)
	f.clock.Advance(16 * time.Minute)
	status, body = f.pollDevice(GraphCommandLineToolsClientID, dc["device_code"].(string))
	assertAADError(t, status, body, http.StatusBadRequest, "expired_token", 70020)

	// Unknown user at approval; an app that allows public client flows.
	f.clock.Advance(-16 * time.Minute)
	must(t, f.e.UpdateApp(contosoID, appV1ID, func(a *App) { a.PublicClient = true }))
	_, dc = f.deviceCode(appV1ID, scope)
	if err := f.e.Approve(dc["user_code"].(string), "12345678-1234-4234-8234-123456789012"); err == nil {
		t.Fatal("approved for an unknown user")
	}

	// The token endpoint still serves the other grants on POST and refuses GET.
	status, body = f.postForm(contosoID, url.Values{"grant_type": {"client_credentials"}, "client_id": {appV2ID},
		"client_secret": {secretV2}, "scope": {"https://graph.microsoft.com/.default"}}, nil)
	if status != http.StatusOK {
		t.Fatalf("client credentials through the device route: %d %v", status, body)
	}
	req, _ := http.NewRequest(http.MethodGet, f.e.LoginURL()+"/"+contosoID+"/oauth2/v2.0/token", nil)
	status, body = f.do(req)
	assertAADError(t, status, body, http.StatusBadRequest, "invalid_request", 900561)
}
