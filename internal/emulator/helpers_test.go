package emulator

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Fixture data: one customer tenant (Contoso) with a member and a B2B guest
// from Fabrikam, and two registrations of the tamlink app — one asking for
// v2 access tokens, one left at Entra's default (v1).
const (
	contosoID  = "7a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d"
	fabrikamID = "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"
	aliceOID   = "11111111-2222-4333-8444-555555555555"
	bobOID     = "66666666-7777-4888-9999-aaaaaaaaaaaa"
	carolOID   = "bbbbbbbb-cccc-4ddd-8eee-ffffffffffff"
	appV2ID    = "3c9d6a1e-8f2b-4c7d-9e1a-2b3c4d5e6f70"
	appV1ID    = "4d0e7b2f-9a3c-4d8e-8f2b-3c4d5e6f7081"
	secretV2   = "v2~Secret.Value_0123456789abcdefghij"
	secretV1   = "v1~Secret.Value_9876543210zyxwvutsrq"
)

func redirectFor(appID string) string {
	return "https://tamlink.test/thirdparty/teams/" + appID + "/oauth2/callback"
}

func identifierFor(appID string) string { return "api://tamlink.test/" + appID }

// testClock is real time plus an adjustable offset, so client libraries
// that use time.Now still agree with the emulator until a test moves it.
type testClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// syncBuffer collects log output from handler goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type fixture struct {
	t      *testing.T
	srv    *httptest.Server
	e      *Emulator
	clock  *testClock
	logs   *syncBuffer
	client *http.Client // trusts the test TLS cert, never follows redirects
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	f := &fixture{t: t, srv: srv, clock: &testClock{}, logs: &syncBuffer{}}
	e, err := New(Config{
		BaseURL: srv.URL + "/emulator",
		Now:     f.clock.Now,
		Logger:  slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	f.e = e
	mux.Handle("/emulator/", http.StripPrefix("/emulator", e.Handler()))
	f.client = srv.Client()
	f.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	must(t, e.AddTenant(Tenant{ID: contosoID, DisplayName: "Contoso", Domain: "contoso.onmicrosoft.com"}))
	must(t, e.AddTenant(Tenant{ID: fabrikamID, DisplayName: "Fabrikam", Domain: "fabrikam.onmicrosoft.com"}))
	must(t, e.AddUser(contosoID, User{ObjectID: aliceOID, DisplayName: "Alice Smith", GivenName: "Alice", Surname: "Smith",
		UserPrincipalName: "alice@contoso.onmicrosoft.com", Mail: "alice@contoso.com", JobTitle: "Engineer", PreferredLanguage: "en-US"}))
	must(t, e.AddUser(contosoID, User{ObjectID: bobOID, DisplayName: "Bob Jones", GivenName: "Bob", Surname: "Jones",
		UserPrincipalName: "bob_fabrikam.com#EXT#@contoso.onmicrosoft.com", HomeTenantID: fabrikamID}))
	must(t, e.AddUser(contosoID, User{ObjectID: carolOID, DisplayName: "Carol <Admin> & \"Co\"",
		UserPrincipalName: "carol@contoso.onmicrosoft.com"}))
	for _, a := range []App{
		{AppID: appV2ID, DisplayName: "tamlink (v2)", AccessTokenVersion: 2, Secrets: []Secret{{Value: secretV2}}},
		{AppID: appV1ID, DisplayName: "tamlink (v1)", Secrets: []Secret{{Value: secretV1}}},
	} {
		a.RedirectURIs = []string{redirectFor(a.AppID)}
		a.IdentifierURIs = []string{identifierFor(a.AppID)}
		a.Scopes = []Scope{{Value: "access_as_user", Enabled: true}}
		a.PreAuthorizedClients = []string{TeamsWebClientID, TeamsDesktopClientID}
		a.RequiredGraphScopes = []string{"User.Read"}
		a.GraphAppRoles = []string{"TeamsActivity.Send"}
		must(t, e.AddApp(contosoID, a))
	}
	return f
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) authority() string { return f.e.LoginURL() + "/" + contosoID }

// postForm posts to a token endpoint path under LoginURL and decodes JSON.
func (f *fixture) postForm(tenant string, form url.Values, hdr http.Header) (int, map[string]any) {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.e.LoginURL()+"/"+tenant+"/oauth2/v2.0/token", strings.NewReader(form.Encode()))
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range hdr {
		req.Header[k] = v
	}
	return f.do(req)
}

func (f *fixture) do(req *http.Request) (int, map[string]any) {
	f.t.Helper()
	resp, err := f.client.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		f.t.Fatalf("status %d, body is not JSON: %s", resp.StatusCode, body)
	}
	return resp.StatusCode, m
}

func (f *fixture) get(u string, hdr http.Header) *http.Response {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := f.client.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	return resp
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var ctxRE = regexp.MustCompile(`name="ctx" value="([^"]+)"`)

func pageCtx(t *testing.T, html string) string {
	t.Helper()
	m := ctxRE.FindStringSubmatch(html)
	if m == nil {
		t.Fatalf("no ctx field in page:\n%s", html)
	}
	return m[1]
}

// browser drives the sign-in pages like a user would: it follows nothing
// automatically and keeps the emulator's session cookie when asked to.
type browser struct {
	f       *fixture
	cookies []*http.Cookie
}

func (b *browser) send(req *http.Request) *http.Response {
	for _, c := range b.cookies {
		req.AddCookie(c)
	}
	resp, err := b.f.client.Do(req)
	if err != nil {
		b.f.t.Fatal(err)
	}
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie && c.MaxAge >= 0 {
			b.cookies = []*http.Cookie{{Name: c.Name, Value: c.Value}}
		}
	}
	return resp
}

func (b *browser) open(u string) *http.Response {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		b.f.t.Fatal(err)
	}
	return b.send(req)
}

func (b *browser) submit(action string, form url.Values) *http.Response {
	req, err := http.NewRequest(http.MethodPost, action, strings.NewReader(form.Encode()))
	if err != nil {
		b.f.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.send(req)
}

// signIn opens an authorize URL, picks userOID on the sign-in page and, when
// a consent page follows, answers it. It returns the final response (a
// redirect to the client for query mode).
func (b *browser) signIn(authorizeURL, userOID, consent string) *http.Response {
	t := b.f.t
	t.Helper()
	resp := b.open(authorizeURL)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("authorize: status %d, Location %q, body %s", resp.StatusCode, resp.Header.Get("Location"), readBody(t, resp))
	}
	page := readBody(t, resp)
	if !strings.Contains(page, "Pick an account") {
		t.Fatalf("expected the sign-in page, got:\n%s", page)
	}
	resp = b.submit(b.f.e.LoginURL()+"/"+contosoID+"/login", url.Values{"ctx": {pageCtx(t, page)}, "user": {userOID}})
	if resp.StatusCode == http.StatusOK {
		page = readBody(t, resp)
		if !strings.Contains(page, "Permissions requested") {
			return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader(page)), Header: resp.Header}
		}
		if consent == "" {
			t.Fatalf("unexpected consent page:\n%s", page)
		}
		resp = b.submit(b.f.e.LoginURL()+"/"+contosoID+"/consent", url.Values{"ctx": {pageCtx(t, page)}, "decision": {consent}})
	}
	return resp
}

// redirectParams asserts a 302 to the expected redirect URI and returns its
// query.
func redirectParams(t *testing.T, resp *http.Response, wantPrefix string) url.Values {
	t.Helper()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("status %d, want 302; body %s", resp.StatusCode, readBody(t, resp))
	}
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, wantPrefix) {
		t.Fatalf("redirect to %q, want prefix %q", loc, wantPrefix)
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

// claimsOf decodes a JWT without verifying it (the verifying paths are
// tested separately) and returns header and claims.
func claimsOf(t *testing.T, tok string) (map[string]any, jwt.MapClaims) {
	t.Helper()
	claims := jwt.MapClaims{}
	parsed, _, err := jwt.NewParser().ParseUnverified(tok, claims)
	if err != nil {
		t.Fatalf("token does not parse: %v", err)
	}
	return parsed.Header, claims
}

// errorBodyRE is Microsoft's error_description layout.
var errorBodyRE = regexp.MustCompile(`^AADSTS(\d+): .+\r\nTrace ID: [0-9a-f-]{36}\r\nCorrelation ID: [0-9a-f-]{36}\r\nTimestamp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$`)

// assertAADError checks status, error and AADSTS code of an error body, and
// that the body has exactly Microsoft's shape.
func assertAADError(t *testing.T, status int, body map[string]any, wantStatus int, wantErr string, wantCode int) {
	t.Helper()
	if status != wantStatus || body["error"] != wantErr {
		t.Fatalf("got %d %v, want %d %s; body %v", status, body["error"], wantStatus, wantErr, body)
	}
	codes, _ := body["error_codes"].([]any)
	if len(codes) != 1 || codes[0] != float64(wantCode) {
		t.Fatalf("error_codes = %v, want [%d]; description %q", body["error_codes"], wantCode, body["error_description"])
	}
	desc, _ := body["error_description"].(string)
	m := errorBodyRE.FindStringSubmatch(desc)
	if m == nil || m[1] != itoa(wantCode) {
		t.Fatalf("error_description %q does not have Microsoft's layout for %d", desc, wantCode)
	}
	for _, k := range []string{"timestamp", "trace_id", "correlation_id", "error_uri"} {
		if s, _ := body[k].(string); s == "" {
			t.Fatalf("missing %s in %v", k, body)
		}
	}
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$`).MatchString(body["timestamp"].(string)) {
		t.Fatalf("timestamp %q", body["timestamp"])
	}
	if !strings.HasSuffix(body["error_uri"].(string), "/login/error?code="+itoa(wantCode)) {
		t.Fatalf("error_uri %q", body["error_uri"])
	}
	if !strings.Contains(desc, "Trace ID: "+body["trace_id"].(string)) || !strings.Contains(desc, "Correlation ID: "+body["correlation_id"].(string)) {
		t.Fatalf("description and ids disagree: %v", body)
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func teamsToken(t *testing.T, f *fixture, appID, userOID string, opt TokenOptions) string {
	t.Helper()
	tok, err := f.e.IssueTeamsToken(contosoID, userOID, appID, opt)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
