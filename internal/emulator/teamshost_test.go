package emulator

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

const tabURL = "https://tamlink.test/teams/" + appV2ID + "/workbench"

var hostConfigRE = regexp.MustCompile(`(?s)<script type="application/json" id="host-config">(.*?)</script>`)

func (f *fixture) hostPage(q url.Values) (*http.Response, string) {
	f.t.Helper()
	resp := f.get(f.e.base+"/teams/host?"+q.Encode(), nil)
	return resp, readBody(f.t, resp)
}

func TestTeamsHostPage(t *testing.T) {
	f := newFixture(t)
	must(t, f.e.SetTeamsTab(contosoID, appV2ID, TeamsTab{ContentURL: tabURL, Name: "Service desk"}))

	u := f.e.TeamsHostURL(contosoID, appV2ID, bobOID, url.Values{"consent": {"once"}, "client": {"android"}})
	if !strings.HasPrefix(u, f.e.base+"/teams/host?") {
		t.Fatalf("TeamsHostURL = %s", u)
	}
	resp := f.get(u, nil)
	body := readBody(t, resp)
	if resp.StatusCode != 200 {
		t.Fatalf("host page: %d %s", resp.StatusCode, body)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "frame-src https://tamlink.test;") || !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
	m := hostConfigRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no host config in %s", body)
	}
	var cfg hostConfig
	must(t, json.Unmarshal([]byte(m[1]), &cfg))
	if cfg.ContentOrigin != "https://tamlink.test" || cfg.Tab.ContentURL != tabURL || cfg.Tab.EntityID != "workbench" || cfg.TenantID != contosoID || cfg.AppID != appV2ID {
		t.Errorf("config %+v", cfg)
	}
	// Bob is a guest from Fabrikam: his login hint is his home address.
	if cfg.User.ID != bobOID || !cfg.User.Guest || cfg.User.LoginHint != "bob@fabrikam.com" || cfg.User.Home != fabrikamID {
		t.Errorf("user %+v", cfg.User)
	}
	want := map[string]string{"consent": "once", "client": "android", "context": "personal", "theme": "default", "hostname": "Teams", "locale": "en-US"}
	for k, v := range want {
		if cfg.Flags[k] != v {
			t.Errorf("flag %s = %q, want %q", k, cfg.Flags[k], v)
		}
	}

	// Without user, the tenant's first user; their preferred language is the locale.
	_, body = f.hostPage(url.Values{"tenant": {contosoID}, "app": {appV2ID}, "locale": {"de-DE"}})
	must(t, json.Unmarshal([]byte(hostConfigRE.FindStringSubmatch(body)[1]), &cfg))
	if cfg.User.ID != aliceOID || cfg.Flags["locale"] != "de-DE" || len(cfg.Users) != 3 {
		t.Errorf("default user %+v locale %s users %d", cfg.User, cfg.Flags["locale"], len(cfg.Users))
	}

	for _, tc := range []struct {
		q      url.Values
		status int
		text   string
	}{
		{url.Values{"tenant": {contosoID}, "app": {appV2ID}, "token": {"sometimes"}}, 400, `token="sometimes" is not one of hang, empty, junk, otherapp, expired`},
		{url.Values{"tenant": {contosoID}, "app": {appV2ID}, "colour": {"red"}}, 400, `unknown parameter "colour"`},
		{url.Values{"tenant": {contosoID}, "app": {appV2ID}, "locale": {"<script>"}}, 400, "not a language tag"},
		{url.Values{"tenant": {contosoID}, "app": {appV2ID}, "lifetime": {"0"}}, 400, "1–86400 seconds"},
		{url.Values{"tenant": {contosoID}, "app": {appV1ID}}, 404, "no personal tab is declared"},
		{url.Values{"tenant": {contosoID}, "app": {appV2ID}, "user": {carolOID[:35] + "0"}}, 404, "not found in tenant"},
		{url.Values{"app": {appV2ID}}, 400, "tenant and app are required"},
	} {
		resp, body := f.hostPage(tc.q)
		if resp.StatusCode != tc.status || !strings.Contains(body, tc.text) || !strings.Contains(body, "Usage: "+f.e.base+"/teams/host") {
			t.Errorf("%v: %d %s", tc.q, resp.StatusCode, body)
		}
	}

	if err := f.e.SetTeamsTab(contosoID, appV2ID, TeamsTab{ContentURL: "/relative"}); err == nil {
		t.Error("a relative content URL was accepted")
	}
	if err := f.e.SetTeamsTab(contosoID, "00000000-0000-4000-8000-000000000000", TeamsTab{ContentURL: tabURL}); err == nil {
		t.Error("a tab for an unknown app was accepted")
	}

	resp = f.get(f.e.base+"/teams/host.js", nil)
	if js := readBody(t, resp); resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") || !strings.Contains(js, "authentication.getAuthToken") {
		t.Errorf("host.js: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

func (f *fixture) hostToken(req teamsTokenRequest) (int, map[string]any) {
	f.t.Helper()
	b, _ := json.Marshal(req)
	r, err := http.NewRequest(http.MethodPost, f.e.base+"/teams/token", strings.NewReader(string(b)))
	must(f.t, err)
	r.Header.Set("Content-Type", "application/json")
	return f.do(r)
}

func TestTeamsHostToken(t *testing.T) {
	f := newFixture(t)
	status, body := f.hostToken(teamsTokenRequest{Tenant: contosoID, App: appV2ID, User: aliceOID, Lifetime: 60})
	if status != 200 {
		t.Fatalf("token: %d %v", status, body)
	}
	tok := body["token"].(string)
	if _, err := f.e.parseOwnToken(tok); err != nil {
		t.Fatal(err)
	}
	_, c := claimsOf(t, tok)
	if c["aud"] != appV2ID || c["oid"] != aliceOID || c["scp"] != "access_as_user" || c["azp"] != TeamsWebClientID {
		t.Errorf("claims %v", c)
	}
	if left := time.Until(time.UnixMilli(int64(body["expiresOn"].(float64)))); left < 50*time.Second || left > 70*time.Second {
		t.Errorf("expiresOn is %v away, want about 60 s", left)
	}

	// A token for another app: here the tenant's other registration (v1,
	// so its Application ID URI is the audience).
	_, body = f.hostToken(teamsTokenRequest{Tenant: contosoID, App: appV2ID, User: aliceOID, Kind: "otherapp"})
	if _, c := claimsOf(t, body["token"].(string)); c["aud"] != identifierFor(appV1ID) {
		t.Errorf("otherapp aud = %v", c["aud"])
	}
	_, body = f.hostToken(teamsTokenRequest{Tenant: contosoID, App: appV2ID, User: aliceOID, Kind: "expired"})
	if _, c := claimsOf(t, body["token"].(string)); int64(c["exp"].(float64)) > time.Now().Unix() {
		t.Errorf("expired token expires at %v", c["exp"])
	}

	for _, tc := range []struct {
		req  teamsTokenRequest
		code string
	}{
		{teamsTokenRequest{Tenant: contosoID, App: appV2ID, User: "00000000-0000-4000-8000-000000000000"}, TeamsErrUnknownUser},
		{teamsTokenRequest{Tenant: fabrikamID, App: appV2ID, User: aliceOID}, TeamsErrUnknownUser},
		{teamsTokenRequest{Tenant: contosoID, App: "00000000-0000-4000-8000-000000000000", User: aliceOID}, TeamsErrResourceDisabled},
		{teamsTokenRequest{Tenant: contosoID, App: appV2ID, User: aliceOID, Kind: "forged"}, "invalidRequest"},
	} {
		status, body := f.hostToken(tc.req)
		if status != 400 || body["error"] != tc.code {
			t.Errorf("%+v: %d %v", tc.req, status, body)
		}
	}
}

// Consent given on the consent page reaches on-behalf-of only after the
// propagation delay, as at Entra.
func TestConsentPropagationDelay(t *testing.T) {
	f := newFixture(t)
	f.e.SetConsentPropagationDelay(300 * time.Millisecond)
	assertion := teamsToken(t, f, appV2ID, aliceOID, TokenOptions{})
	obo := func() (int, map[string]any) {
		return f.postForm(contosoID, oboForm(appV2ID, secretV2, assertion, "User.Read"), nil)
	}
	status, body := obo()
	assertAADError(t, status, body, 400, "invalid_grant", 65001)

	f.e.mu.Lock()
	t0 := f.e.tenants[contosoID]
	f.e.recordConsentLocked(t0, appV2ID, aliceOID, map[string]string{consentKey(GraphAppID, "User.Read"): "User.Read"})
	f.e.mu.Unlock()
	status, body = obo()
	assertAADError(t, status, body, 400, "invalid_grant", 65001)
	time.Sleep(500 * time.Millisecond)
	if status, body = obo(); status != 200 {
		t.Fatalf("after propagation: %d %v", status, body)
	}

	// Without a delay, consent counts at once.
	f.e.SetConsentPropagationDelay(0)
	must(t, f.e.RevokeConsent(contosoID, aliceOID, appV2ID))
	f.e.mu.Lock()
	f.e.recordConsentLocked(t0, appV2ID, aliceOID, map[string]string{consentKey(GraphAppID, "User.Read"): "User.Read"})
	f.e.mu.Unlock()
	if status, body = obo(); status != 200 {
		t.Fatalf("immediate consent: %d %v", status, body)
	}
}
