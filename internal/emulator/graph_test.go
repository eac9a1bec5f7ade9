package emulator

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func assertGraphError(t *testing.T, status int, body map[string]any, wantStatus int, wantCode, wantMsg string) {
	t.Helper()
	e, _ := body["error"].(map[string]any)
	if status != wantStatus || e == nil || e["code"] != wantCode {
		t.Fatalf("got %d %v, want %d %s", status, body, wantStatus, wantCode)
	}
	if msg, _ := e["message"].(string); !strings.Contains(msg, wantMsg) {
		t.Errorf("message %q, want it to contain %q", msg, wantMsg)
	}
	inner, _ := e["innerError"].(map[string]any)
	for _, k := range []string{"date", "request-id", "client-request-id"} {
		if s, _ := inner[k].(string); s == "" {
			t.Errorf("innerError lacks %s: %v", k, inner)
		}
	}
}

func TestGraphMeErrors(t *testing.T) {
	f := newFixture(t)

	status, body := f.me("")
	assertGraphError(t, status, body, 401, "InvalidAuthenticationToken", "Access token is empty.")

	status, body = f.me("garbage")
	assertGraphError(t, status, body, 401, "InvalidAuthenticationToken", "IDX14100")

	// A Teams SSO token is for the app, not for Graph.
	status, body = f.me(teamsToken(t, f, appV2ID, aliceOID, TokenOptions{}))
	assertGraphError(t, status, body, 401, "InvalidAuthenticationToken", "Invalid audience")

	// App-only Graph token.
	_, cc := f.postForm(contosoID, ccForm(appV2ID, secretV2, "https://graph.microsoft.com/.default"), nil)
	status, body = f.me(cc["access_token"].(string))
	assertGraphError(t, status, body, 400, "BadRequest", "/me request is only valid with delegated authentication flow.")

	// Delegated token without a user-read permission.
	must(t, f.e.GrantConsent(contosoID, aliceOID, appV2ID, "Mail.Read"))
	_, obo := f.postForm(contosoID, oboForm(appV2ID, secretV2, teamsToken(t, f, appV2ID, aliceOID, TokenOptions{}), "Mail.Read"), nil)
	status, body = f.me(obo["access_token"].(string))
	assertGraphError(t, status, body, 403, "Authorization_RequestDenied", "Insufficient privileges")

	// Unknown $select property.
	tok := f.graphToken(t)
	req, _ := http.NewRequest(http.MethodGet, f.e.GraphURL()+"/v1.0/me?$select=displayName,shoeSize", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	status, body = f.do(req)
	assertGraphError(t, status, body, 400, "BadRequest", "shoeSize")

	// Unknown Graph path.
	req, _ = http.NewRequest(http.MethodGet, f.e.GraphURL()+"/v1.0/nothing", nil)
	status, body = f.do(req)
	assertGraphError(t, status, body, 400, "BadRequest", "nothing")

	// Expired (beyond Graph's 5-minute skew).
	f.clock.Advance(100 * time.Minute)
	status, body = f.me(tok)
	assertGraphError(t, status, body, 401, "InvalidAuthenticationToken", "expired")
}

func TestGraphMeHeadersAndGuest(t *testing.T) {
	f := newFixture(t)
	must(t, f.e.GrantConsent(contosoID, "", appV2ID, "User.Read"))
	_, obo := f.postForm(contosoID, oboForm(appV2ID, secretV2, teamsToken(t, f, appV2ID, bobOID, TokenOptions{}), "User.Read"), nil)
	req, _ := http.NewRequest(http.MethodGet, f.e.GraphURL()+"/v1.0/me", nil)
	req.Header.Set("Authorization", "Bearer "+obo["access_token"].(string))
	req.Header.Set("client-request-id", "c0ffee00-0000-4000-8000-000000000000")
	resp, err := f.client.Do(req)
	must(t, err)
	body := readBody(t, resp)
	if resp.Header.Get("client-request-id") != "c0ffee00-0000-4000-8000-000000000000" || resp.Header.Get("request-id") == "" ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json;odata.metadata=minimal") {
		t.Errorf("headers %v", resp.Header)
	}
	// Key order is Graph's: @odata.context first, id last.
	if !strings.HasPrefix(body, `{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#users/$entity","businessPhones":[],"displayName":"Bob Jones"`) ||
		!strings.HasSuffix(strings.TrimSpace(body), `"userPrincipalName":"bob_fabrikam.com#EXT#@contoso.onmicrosoft.com","id":"`+bobOID+`"}`) {
		t.Errorf("body %s", body)
	}
	if !strings.Contains(body, `"mail":null`) {
		t.Errorf("empty mail should be null: %s", body)
	}
	// A removed user's token stops working.
	must(t, f.e.RemoveUser(contosoID, bobOID))
	status, eb := f.me(obo["access_token"].(string))
	assertGraphError(t, status, eb, 401, "InvalidAuthenticationToken", "no longer exists")
}

// TestConcurrentUse exercises the mutex under -race: tokens, rotation,
// consent and Graph calls at once.
func TestConcurrentUse(t *testing.T) {
	f := newFixture(t)
	must(t, f.e.GrantConsent(contosoID, "", appV2ID, "User.Read"))
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < 5; j++ {
				tok, err := f.e.IssueTeamsToken(contosoID, aliceOID, appV2ID, TokenOptions{})
				if err != nil {
					errs <- err.Error()
					return
				}
				switch (i + j) % 4 {
				case 0:
					f.e.RotateSigningKey()
				case 1:
					_ = f.e.GrantConsent(contosoID, carolOID, appV1ID, "User.Read")
					_ = f.e.RevokeConsent(contosoID, carolOID, appV1ID)
				case 2:
					_ = f.e.Users(contosoID)
				}
				status, body := f.postForm(contosoID, oboForm(appV2ID, secretV2, tok, "User.Read"), nil)
				if status != 200 {
					errs <- "OBO failed"
					return
				}
				if s, _ := f.me(body["access_token"].(string)); s != 200 {
					errs <- "GET /me failed"
					return
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestSecretsNeverLogged runs every flow and checks that no secret, code or
// token reaches the log.
func TestSecretsNeverLogged(t *testing.T) {
	f := newFixture(t)
	must(t, f.e.GrantConsent(contosoID, aliceOID, appV2ID, "User.Read"))
	teams := teamsToken(t, f, appV2ID, aliceOID, TokenOptions{})
	_, obo := f.postForm(contosoID, oboForm(appV2ID, secretV2, teams, "User.Read offline_access"), nil)
	_, _ = f.postForm(contosoID, ccForm(appV2ID, "wrong-secret-value", "https://graph.microsoft.com/.default"), nil)
	id := f.idTokenFor(t, aliceOID)
	logs := f.logs.String()
	if logs == "" {
		t.Fatal("nothing was logged")
	}
	for _, s := range []string{secretV2, "wrong-secret-value", teams, obo["access_token"].(string), obo["refresh_token"].(string), id} {
		if strings.Contains(logs, s) {
			t.Fatalf("a secret or token reached the log")
		}
	}
	if strings.Contains(logs, "code=1.A") {
		t.Fatal("an authorization code reached the log")
	}
}
