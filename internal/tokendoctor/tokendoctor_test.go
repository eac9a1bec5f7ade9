package tokendoctor

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tamlink/tamlink/internal/emulator"
	"github.com/tamlink/tamlink/internal/shareddata"
)

// realData reads the real Entra token and key sets in place (see
// internal/shareddata).
func realData(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(shareddata.Dir(t, "real-aad-tokens"), name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const (
	realToken  = "v2-access-token-user-nav-2024-06-28.jwt"
	realJWKS   = "jwks-common-v2-snapshot-2024-07-22.json"
	realTenant = "966ac572-f5b7-4bbe-aa88-c76419c0f851"
	realApp    = "bff62dcb-88dc-4a13-9e26-1cbffb96ec64"
)

var inside = time.Date(2024, 6, 28, 8, 0, 0, 0, time.UTC)

func statuses(r Report) map[string]Status {
	m := map[string]Status{}
	for _, c := range r.Checks {
		m[c.ID] = c.Status
	}
	return m
}

func check(t *testing.T, r Report, id string) Check {
	t.Helper()
	for _, c := range r.Checks {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("no check %s in %+v", id, r.Checks)
	return Check{}
}

func expect(t *testing.T, r Report, want map[string]Status) {
	t.Helper()
	got := statuses(r)
	for id, s := range want {
		if got[id] != s {
			var b bytes.Buffer
			_ = r.WriteText(&b)
			t.Errorf("check %s = %s, want %s\n%s", id, got[id], s, b.String())
		}
	}
}

func TestRealToken(t *testing.T) {
	tok := string(realData(t, realToken))
	keys := realData(t, realJWKS)
	ctx := context.Background()

	// Only keys and a time: signature and time are the checks.
	r := Diagnose(ctx, Input{Token: tok, Keys: keys, KeysName: realJWKS, At: inside})
	if !r.OK {
		t.Fatalf("the real token inside its window should pass: %+v", r.Checks)
	}
	expect(t, r, map[string]Status{"format": StatusPass, "signature": StatusPass, "time": StatusPass, "version": StatusSkip,
		"tenant": StatusSkip, "issuer": StatusSkip, "audience": StatusSkip, "scope": StatusSkip, "user": StatusSkip, "client": StatusSkip, "server": StatusSkip})
	if r.Claims["tid"] != realTenant || r.Header["kid"] != "MGLqj98VNLoXaFfpJCBpgB4JaKs" {
		t.Errorf("decoded header %v claims tid %v", r.Header, r.Claims["tid"])
	}
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`header  {"alg":"RS256"`, "exp                 1719566541  (2024-06-28T09:22:21Z)", "PASS  Signature", "all 3 checks that apply passed"} {
		if !strings.Contains(text.String(), s) {
			t.Errorf("text lacks %q:\n%s", s, text.String())
		}
	}
	var js bytes.Buffer
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || !back.OK || len(back.Checks) != len(r.Checks) {
		t.Errorf("JSON round trip: %v %+v", err, back)
	}

	// After exp: the time check fails and says why.
	r = Diagnose(ctx, Input{Token: tok, Keys: keys, At: time.Date(2024, 6, 28, 12, 0, 0, 0, time.UTC)})
	expect(t, r, map[string]Status{"signature": StatusPass, "time": StatusFail})
	if c := check(t, r, "time"); !strings.Contains(c.Detail, "expired at 2024-06-28T09:22:21Z") || !strings.Contains(c.Cause, "cached token") {
		t.Errorf("time check %+v", c)
	}
	if r.OK {
		t.Error("an expired token passed")
	}

	// As the channel it was issued for: everything but the scope (this is
	// not a Teams token, its scope is defaultaccess) and the server agrees.
	r = Diagnose(ctx, Input{Token: tok, Keys: keys, At: inside, TenantID: realTenant, AppID: realApp})
	expect(t, r, map[string]Status{"version": StatusPass, "tenant": StatusPass, "issuer": StatusPass, "audience": StatusPass, "user": StatusPass,
		"scope": StatusFail, "client": StatusWarn, "server": StatusFail})
	if c := check(t, r, "server"); !strings.Contains(c.Detail, "scope") {
		t.Errorf("server check %+v", c)
	}

	// Another tenant's channel.
	r = Diagnose(ctx, Input{Token: tok, Keys: keys, At: inside, TenantID: "72f988bf-0000-4c5b-a000-00000000c0de", AppID: realApp})
	expect(t, r, map[string]Status{"tenant": StatusFail, "server": StatusFail})

	// Tampered claims: the signature no longer verifies.
	parts := strings.Split(strings.TrimSpace(tok), ".")
	claims := r.Claims
	claims["name"] = "Mallory"
	b, _ := json.Marshal(claims)
	tampered := parts[0] + "." + b64(b) + "." + parts[2]
	r = Diagnose(ctx, Input{Token: tampered, Keys: keys, At: inside})
	expect(t, r, map[string]Status{"format": StatusPass, "signature": StatusFail})
	if c := check(t, r, "signature"); !strings.Contains(c.Cause, "changed after it was issued") {
		t.Errorf("signature check %+v", c)
	}

	// A key set without the token's key (e.g. after a rotation).
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(keys, &set); err != nil {
		t.Fatal(err)
	}
	var others []map[string]any
	for _, k := range set.Keys {
		if k["kid"] != r.Header["kid"] {
			others = append(others, k)
		}
	}
	otherKeys, _ := json.Marshal(map[string]any{"keys": others})
	r = Diagnose(ctx, Input{Token: tok, Keys: otherKeys, KeysName: "rotated.json", At: inside})
	if c := check(t, r, "signature"); c.Status != StatusFail || !strings.Contains(c.Detail, "is not among") {
		t.Errorf("signature with the v1 key set: %+v", c)
	}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func TestHeaderFaults(t *testing.T) {
	enc := func(v any) string { b, _ := json.Marshal(v); return b64(b) }
	claims := enc(map[string]any{"ver": "2.0", "exp": time.Now().Add(time.Hour).Unix()})
	for _, c := range []struct {
		header map[string]any
		cause  string
	}{
		{map[string]any{"alg": "none", "kid": "k"}, "not issued by Microsoft Entra ID"},
		{map[string]any{"alg": "HS256", "kid": "k"}, "not issued by Microsoft Entra ID"},
		{map[string]any{"alg": "RS256"}, "not issued by Microsoft Entra ID"},
		{map[string]any{"alg": "RS256", "kid": "k", "crit": []string{"exp"}}, "not issued by Microsoft Entra ID"},
		{map[string]any{"alg": "RS256", "kid": "k", "nonce": "abc"}, "Microsoft Graph"},
	} {
		r := Diagnose(context.Background(), Input{Token: enc(c.header) + "." + claims + ".c2ln", Keys: []byte(`{"keys":[]}`)})
		if got := check(t, r, "signature"); got.Status != StatusFail || !strings.Contains(got.Cause, c.cause) || r.OK {
			t.Errorf("%v: %+v", c.header, got)
		}
	}
}

func TestNotAToken(t *testing.T) {
	for _, tok := range []string{"", "Bearer ", "not-a-token", "a.b", "e30.e30.e30.e30", "%%%.%%%.%%%"} {
		r := Diagnose(context.Background(), Input{Token: tok, Keys: []byte(`{"keys":[]}`)})
		if r.OK || len(r.Checks) != 1 || r.Checks[0].ID != "format" || r.Checks[0].Status != StatusFail || r.Checks[0].Cause == "" {
			t.Errorf("%q: %+v", tok, r.Checks)
		}
	}
}

// Tokens the emulator signs, with the faults customers make.
func TestEmulatorTokens(t *testing.T) {
	const (
		tenant = "7a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d"
		user   = "11111111-2222-4333-8444-555555555555"
		app    = "3c9d6a1e-8f2b-4c7d-9e1a-2b3c4d5e6f70"
		appV1  = "4d0e7b2f-9a3c-4d8e-8f2b-3c4d5e6f7081"
		domain = "desk.example.com"
	)
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	e, err := emulator.New(emulator.Config{BaseURL: srv.URL + "/emulator"})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/emulator/", http.StripPrefix("/emulator", e.Handler()))
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(e.AddTenant(emulator.Tenant{ID: tenant, Domain: "contoso.example"}))
	must(e.AddUser(tenant, emulator.User{ObjectID: user, DisplayName: "Alice", UserPrincipalName: "alice@contoso.example"}))
	for _, a := range []emulator.App{{AppID: app, AccessTokenVersion: 2}, {AppID: appV1}} {
		a.IdentifierURIs = []string{"api://" + domain + "/" + a.AppID}
		a.Scopes = []emulator.Scope{{Value: "access_as_user", Enabled: true}}
		a.PreAuthorizedClients = []string{emulator.TeamsWebClientID}
		must(e.AddApp(tenant, a))
	}
	fetch := func(ctx context.Context, u string) ([]byte, error) {
		resp, err := http.Get(u)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		return io.ReadAll(resp.Body)
	}
	issue := func(appID string, extra map[string]any) string {
		tok, err := e.IssueTeamsToken(tenant, user, appID, emulator.TokenOptions{ExtraClaims: extra})
		must(err)
		return tok
	}
	diagnose := func(tok string, mod func(*Input)) Report {
		in := Input{Token: tok, FetchKeys: fetch, LoginURL: e.LoginURL(), STSURL: e.STSURL(), TenantID: tenant, AppID: app, Domain: domain}
		if mod != nil {
			mod(&in)
		}
		return Diagnose(context.Background(), in)
	}

	r := diagnose(issue(app, nil), nil)
	if !r.OK {
		t.Fatalf("a good Teams token: %+v", r.Checks)
	}
	expect(t, r, map[string]Status{"signature": StatusPass, "audience": StatusPass, "client": StatusPass, "server": StatusPass})

	cases := []struct {
		name  string
		tok   string
		mod   func(*Input)
		id    string
		want  Status
		cause string
	}{
		{"webApplicationInfo on another domain", issue(app, map[string]any{"aud": "api://other.example.com/" + app}), nil,
			"audience", StatusFail, "the manifest's webApplicationInfo.resource does not match the Application ID URI"},
		{"another app", issue(app, map[string]any{"aud": "0f0f0f0f-1e1e-4d2d-8c3c-4b4b4b4b4b4b"}), nil,
			"audience", StatusFail, "another app registration"},
		{"Graph token", issue(app, map[string]any{"aud": "https://graph.microsoft.com"}), nil,
			"audience", StatusFail, "Microsoft Graph token"},
		{"another tenant's channel", issue(app, nil), func(in *Input) { in.TenantID = "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0" },
			"tenant", StatusFail, "signed in to another organisation"},
		{"personal account", issue(app, map[string]any{"tid": "9188040d-6c67-4c5b-b112-36a304b66dad"}), nil,
			"tenant", StatusFail, "personal Microsoft account"},
		{"issuer of another platform", issue(app, map[string]any{"iss": "https://login.microsoftonline.us/" + tenant + "/v2.0"}), nil,
			"issuer", StatusFail, "another identity platform"},
		{"wrong scope", issue(app, map[string]any{"scp": "user_impersonation"}), nil,
			"scope", StatusFail, "no scope named access_as_user"},
		{"app-only", issue(app, map[string]any{"scp": nil, "roles": []string{"Desk.Read"}}), nil,
			"scope", StatusFail, "app-only token"},
		{"no oid", issue(app, map[string]any{"oid": nil}), nil, "user", StatusFail, "not a user's access token"},
		{"not from Teams", issue(app, map[string]any{"azp": "5f28c10f-ecd5-45ef-96b8-db4311802e89"}), nil,
			"client", StatusWarn, "obtained outside Teams"},
		{"expired", issue(app, map[string]any{"exp": time.Now().Add(-time.Hour).Unix()}), nil, "time", StatusFail, "cached token"},
		{"clock behind", issue(app, nil), func(in *Input) { in.At = time.Now().Add(-time.Hour) }, "time", StatusFail, "clock is behind"},
		{"v1 token", issue(appV1, nil), func(in *Input) { in.AppID = appV1 }, "version", StatusWarn, "accessTokenAcceptedVersion"},
		{"URI audience without a domain", issue(appV1, nil), func(in *Input) { in.AppID, in.Domain = appV1, "" }, "audience", StatusWarn, "accepts only api://"},
		{"keys unreachable", issue(app, nil), func(in *Input) { in.LoginURL = "http://127.0.0.1:1/emulator/login" }, "signature", StatusFail, "unreachable"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := diagnose(c.tok, c.mod)
			got := check(t, r, c.id)
			if got.Status != c.want || !strings.Contains(got.Cause, c.cause) || got.Fix == "" {
				var b bytes.Buffer
				_ = r.WriteText(&b)
				t.Errorf("%s: %+v, want %s with cause %q\n%s", c.id, got, c.want, c.cause, b.String())
			}
			if c.want == StatusFail && r.OK {
				t.Error("the report passed with a failed check")
			}
			// The doctor never passes what the server refuses.
			if srv := statuses(r)["server"]; srv == StatusFail && r.OK {
				t.Error("server refused, report OK")
			}
		})
	}

	// A v1 token with its Application ID URI audience is fine for the server.
	r = diagnose(issue(appV1, nil), func(in *Input) { in.AppID = appV1 })
	expect(t, r, map[string]Status{"audience": StatusPass, "issuer": StatusPass, "server": StatusPass})
	if !r.OK {
		t.Errorf("v1 token: %+v", r.Checks)
	}
}
