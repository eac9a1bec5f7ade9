package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tamlink/tamlink/internal/cli"
	"github.com/tamlink/tamlink/internal/desk"
	"github.com/tamlink/tamlink/internal/emulator"
)

// startDemo runs the whole server, with the emulator, on a random port and a
// temporary data dir.
func startDemo(t *testing.T) *cli.Demo {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	d, err := cli.StartDemo(ctx, cli.DemoOptions{Listen: "127.0.0.1:0", Data: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return d
}

func noRedirect(jar http.CookieJar) *http.Client {
	return &http.Client{Jar: jar, Timeout: 20 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

var (
	actionRE = regexp.MustCompile(`<form method="post" action="([^"]+)">\s*<input type="hidden" name="ctx" value="([^"]+)">\s*<input type="hidden" name="user" value="([^"]+)">`)
	resultRE = regexp.MustCompile(`(?s)<script type="application/json" id="tl-result">(.*?)</script>`)
)

func get(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// browserSignIn walks /login → the emulator's sign-in page → /callback as a
// browser would, choosing the user with object id oid, and returns the
// session the callback page hands to the tab.
func browserSignIn(t *testing.T, d *cli.Demo, oid string) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := noRedirect(jar)
	resp, _ := get(t, c, d.URL+"/thirdparty/teams/"+d.AppID+"/login?popup=1")
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("login: status %d", resp.StatusCode)
	}
	authz := resp.Header.Get("Location")
	au, _ := url.Parse(authz)
	q := au.Query()
	if !strings.Contains(au.Path, "/"+d.TenantID+"/oauth2/v2.0/authorize") {
		t.Fatalf("login must use the channel's tenant authority, got %s", au.Path)
	}
	if q.Get("code_challenge_method") != "S256" || q.Get("state") == "" || q.Get("nonce") == "" {
		t.Fatalf("authorize request lacks PKCE/state/nonce: %v", q)
	}
	resp, page := get(t, c, authz)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sign-in page: %d %s %s", resp.StatusCode, resp.Header.Get("Location"), page)
	}
	var action, ctxv string
	for _, m := range actionRE.FindAllStringSubmatch(page, -1) {
		if m[3] == oid {
			action, ctxv = html.UnescapeString(m[1]), html.UnescapeString(m[2])
		}
	}
	if action == "" {
		t.Fatalf("user %s not offered on the sign-in page:\n%s", oid, page)
	}
	if !strings.HasPrefix(action, "http") {
		action = d.URL + action
	}
	resp, err := c.PostForm(action, url.Values{"ctx": {ctxv}, "user": {oid}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cb := resp.Header.Get("Location")
	if !strings.HasPrefix(cb, d.URL+"/thirdparty/teams/"+d.AppID+"/oauth2/callback?") {
		t.Fatalf("emulator did not redirect to the callback: %d %q", resp.StatusCode, cb)
	}
	resp, page = get(t, c, cb)
	m := resultRE.FindStringSubmatch(page)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("callback: %d\n%s", resp.StatusCode, page)
	}
	var res struct {
		OK      bool
		Session string
		Message string
	}
	if err := json.Unmarshal([]byte(m[1]), &res); err != nil || !res.OK {
		t.Fatalf("callback result %s: %v", m[1], err)
	}
	// The state is single use: replaying the callback fails.
	if resp, _ := get(t, c, cb); resp.StatusCode == http.StatusOK {
		t.Fatal("replayed callback accepted")
	}
	return res.Session
}

// TestLoginCSRF: a callback URL started in one browser does not sign in
// another (the attacker's session cannot be planted on a victim).
func TestLoginCSRF(t *testing.T) {
	d := startDemo(t)
	attacker := noRedirect(mustJar())
	resp, _ := get(t, attacker, d.URL+"/thirdparty/teams/"+d.AppID+"/login?popup=1")
	_, page := get(t, attacker, resp.Header.Get("Location"))
	m := actionRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no sign-in form")
	}
	action := html.UnescapeString(m[1])
	if !strings.HasPrefix(action, "http") {
		action = d.URL + action
	}
	resp, err := attacker.PostForm(action, url.Values{"ctx": {html.UnescapeString(m[2])}, "user": {m[3]}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cb := resp.Header.Get("Location")
	victim := noRedirect(mustJar())
	resp, page = get(t, victim, cb)
	if resp.StatusCode == http.StatusOK || !strings.Contains(page, "StateDoesNotMatch") {
		t.Fatalf("victim's browser finished the attacker's sign-in: %d", resp.StatusCode)
	}
	// An error description in the URL is not echoed onto the page.
	resp, _ = get(t, attacker, d.URL+"/thirdparty/teams/"+d.AppID+"/login?popup=1")
	st := mustQuery(t, resp.Header.Get("Location")).Get("state")
	_, page = get(t, attacker, d.URL+"/thirdparty/teams/"+d.AppID+"/oauth2/callback?state="+url.QueryEscape(st)+"&error=access_denied&error_description="+url.QueryEscape("AADSTS65004: Call +1-555-0100 now"))
	if strings.Contains(page, "555-0100") || !strings.Contains(page, "AADSTS65004") {
		t.Fatalf("callback page echoes the error description:\n%s", page)
	}
}

func mustJar() http.CookieJar {
	j, _ := cookiejar.New(nil)
	return j
}

func mustQuery(t *testing.T, u string) url.Values {
	t.Helper()
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return pu.Query()
}

// call makes a JSON request and decodes the answer into out (if not nil).
func call(t *testing.T, c *http.Client, method, u, bearer string, body, out any, hdr ...string) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, u, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, u, resp.StatusCode, data, err)
		}
	}
	return resp.StatusCode
}

type frame struct {
	Type    string
	Message struct {
		ID     int64
		Body   string
		Author struct{ Kind, Name string }
	}
	Ticket struct {
		ID     int64
		Status string
		Title  string
	}
	Event struct{ Kind, From, To string }
}

type liveConn struct {
	t *testing.T
	c *websocket.Conn
}

func dialLive(t *testing.T, u string, hdr http.Header, auth string) *liveConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, strings.Replace(u, "http", "ws", 1), &websocket.DialOptions{HTTPHeader: hdr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	lc := &liveConn{t: t, c: c}
	if auth != "" {
		b, _ := json.Marshal(map[string]string{"type": "auth", "token": auth})
		if err := c.Write(ctx, websocket.MessageText, b); err != nil {
			t.Fatal(err)
		}
	}
	if f := lc.next(); f.Type != "ready" {
		t.Fatalf("first frame %q, want ready", f.Type)
	}
	return lc
}

func (l *liveConn) next() frame {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, data, err := l.c.Read(ctx)
	if err != nil {
		l.t.Fatalf("live read: %v", err)
	}
	var f frame
	if err := json.Unmarshal(data, &f); err != nil {
		l.t.Fatal(err)
	}
	return f
}

// waitFor reads frames until one satisfies ok.
func (l *liveConn) waitFor(what string, ok func(frame) bool) frame {
	l.t.Helper()
	for i := 0; i < 20; i++ {
		if f := l.next(); ok(f) {
			return f
		}
	}
	l.t.Fatalf("no %s frame", what)
	return frame{}
}

var csrfRE = regexp.MustCompile(`data-csrf="([^"]+)"`)

// consoleLogin signs the demo staff member in and returns a client with the
// cookie and the page's CSRF token.
func consoleLogin(t *testing.T, d *cli.Demo) (*http.Client, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := noRedirect(jar)
	resp, err := c.PostForm(d.URL+"/console/login", url.Values{"email": {d.StaffEmail}, "password": {"wrong password!"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: status %d", resp.StatusCode)
	}
	resp, err = c.PostForm(d.URL+"/console/login", url.Values{"email": {d.StaffEmail}, "password": {d.StaffPassword}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("console login: %d", resp.StatusCode)
	}
	_, page := get(t, c, d.URL+"/console")
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no csrf token on the console page:\n%s", page)
	}
	return c, m[1]
}

func TestMainPath(t *testing.T) {
	d := startDemo(t)
	c := &http.Client{Timeout: 20 * time.Second}
	for _, p := range []string{"/healthz", "/readyz"} {
		if resp, _ := get(t, c, d.URL+p); resp.StatusCode != 200 {
			t.Fatalf("%s: %d", p, resp.StatusCode)
		}
	}
	resp, page := get(t, c, d.URL+"/teams/"+d.AppID+"/workbench")
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'self' https://teams.microsoft.com") {
		t.Fatalf("workbench: %d CSP %q", resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
	}
	if !strings.Contains(page, `id="tl-config"`) {
		t.Fatal("workbench page lacks its config")
	}
	// Tab routes answer 401 JSON, never a redirect.
	var e struct{ Error string }
	if code := call(t, c, "GET", d.URL+"/api/tab/"+d.AppID+"/messages", "", nil, &e); code != 401 || e.Error != "unauthorized" {
		t.Fatalf("no session: %d %+v", code, e)
	}

	// Adele signs in through the browser flow; Alex with a Teams SSO token.
	adele := browserSignIn(t, d, d.Users[0].ObjectID)
	teamsTok, err := d.Emulator.IssueTeamsToken(d.TenantID, d.Users[1].ObjectID, d.AppID, emulator.TokenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var sso struct {
		Session string
		User    struct{ Name, Email string }
		Org     struct{ Name string }
	}
	if code := call(t, c, "POST", d.URL+"/api/tab/"+d.AppID+"/sso", "", map[string]string{"token": teamsTok}, &sso); code != 200 {
		t.Fatalf("sso: %d %+v", code, sso)
	}
	if sso.User.Name != "Alex Wilber" || sso.User.Email != "AlexW@contoso.example" || sso.Org.Name != "Contoso Ltd" {
		t.Fatalf("sso profile: %+v", sso)
	}
	alex := sso.Session

	staff, csrf := consoleLogin(t, d)
	var org struct {
		User struct{ ID int64 }
		Org  struct{ ID int64 }
	}
	call(t, c, "GET", d.URL+"/api/tab/"+d.AppID+"/me", adele, nil, &org)
	orgPath := fmt.Sprintf("%s/api/console/orgs/%d", d.URL, org.Org.ID)

	// Live sockets on both sides.
	adeleLive := dialLive(t, d.URL+"/api/tab/"+d.AppID+"/live", nil, adele)
	alexLive := dialLive(t, d.URL+"/api/tab/"+d.AppID+"/live", nil, alex)
	cookieHdr := http.Header{"Cookie": {cookieHeader(staff, d.URL)}}
	staffLive := dialLive(t, d.URL+"/console/live", cookieHdr, "")

	// Customer → desk, live.
	var sent struct{ ID int64 }
	if code := call(t, c, "POST", d.URL+"/api/tab/"+d.AppID+"/messages", adele, map[string]string{"body": "Hello desk, the VPN dropped again", "clientId": "c-1"}, &sent); code != 201 {
		t.Fatalf("send: %d", code)
	}
	f := staffLive.waitFor("message", func(f frame) bool { return f.Type == "message" && f.Message.ID == sent.ID })
	if f.Message.Author.Name != "Adele Vance" || f.Message.Author.Kind != "user" {
		t.Fatalf("staff saw %+v", f.Message)
	}
	alexLive.waitFor("message", func(f frame) bool { return f.Type == "message" && f.Message.ID == sent.ID })
	// A retry with the same client id is not posted twice.
	var again struct{ ID int64 }
	call(t, c, "POST", d.URL+"/api/tab/"+d.AppID+"/messages", adele, map[string]string{"body": "Hello desk, the VPN dropped again", "clientId": "c-1"}, &again)
	if again.ID != sent.ID {
		t.Fatalf("retry stored a second message: %d vs %d", again.ID, sent.ID)
	}

	// Desk → customer, live, and counted unread for Alex.
	var reply struct{ ID int64 }
	if code := call(t, staff, "POST", orgPath+"/messages", "", map[string]string{"body": "On it — checking the gateway now.", "clientId": "s-1"}, &reply, "X-CSRF-Token", csrf); code != 201 {
		t.Fatalf("staff reply: %d", code)
	}
	if code := call(t, staff, "POST", orgPath+"/messages", "", map[string]string{"body": "forged"}, nil); code != 403 {
		t.Fatalf("console call without CSRF token: %d, want 403", code)
	}
	f = adeleLive.waitFor("reply", func(f frame) bool { return f.Type == "message" && f.Message.ID == reply.ID })
	if f.Message.Author.Kind != "staff" || f.Message.Body != "On it — checking the gateway now." {
		t.Fatalf("customer saw %+v", f.Message)
	}
	var hist struct {
		Messages []struct {
			ID     int64
			Author struct{ Name string }
		}
		Unread  int
		HasMore bool
	}
	call(t, c, "GET", d.URL+"/api/tab/"+d.AppID+"/messages", alex, nil, &hist)
	if len(hist.Messages) < 3 || hist.Messages[len(hist.Messages)-1].ID != reply.ID || hist.Unread < 2 || hist.HasMore {
		t.Fatalf("alex history: %+v", hist)
	}
	call(t, c, "POST", d.URL+"/api/tab/"+d.AppID+"/read", alex, map[string]int64{"messageId": reply.ID}, nil)
	call(t, c, "GET", d.URL+"/api/tab/"+d.AppID+"/messages", alex, nil, &hist)
	if hist.Unread != 0 {
		t.Fatalf("unread after mark read: %d", hist.Unread)
	}

	// Ticket: opened by the customer, seen by staff, moved to in progress, seen by the customer.
	var tk struct {
		ID       int64
		Status   string
		Severity string
	}
	if code := call(t, c, "POST", d.URL+"/api/tab/"+d.AppID+"/tickets", adele, map[string]string{"title": "Database failover test", "description": "Please schedule it.", "severity": "sev2"}, &tk); code != 201 || tk.Status != "new" {
		t.Fatalf("create ticket: %d %+v", code, tk)
	}
	staffLive.waitFor("ticket created", func(f frame) bool { return f.Type == "ticket" && f.Ticket.ID == tk.ID && f.Event.Kind == "created" })
	tpath := fmt.Sprintf("%s/api/console/tickets/%d", d.URL, tk.ID)
	if code := call(t, staff, "PATCH", tpath, "", map[string]string{"status": "in_progress"}, nil, "X-CSRF-Token", csrf); code != 200 {
		t.Fatalf("status change: %d", code)
	}
	f = adeleLive.waitFor("status change", func(f frame) bool { return f.Type == "ticket" && f.Ticket.ID == tk.ID && f.Event.Kind == "status" })
	if f.Ticket.Status != "in_progress" || f.Event.From != "new" || f.Event.To != "in_progress" {
		t.Fatalf("customer saw %+v", f)
	}
	var detail struct {
		Ticket struct{ Status string }
		Events []struct{ Kind string }
	}
	call(t, c, "GET", fmt.Sprintf("%s/api/tab/%s/tickets/%d", d.URL, d.AppID, tk.ID), adele, nil, &detail)
	if detail.Ticket.Status != "in_progress" || len(detail.Events) != 2 || detail.Events[1].Kind != "status" {
		t.Fatalf("timeline: %+v", detail)
	}
	// Customers cannot assign or set arbitrary statuses.
	if code := call(t, c, "PATCH", fmt.Sprintf("%s/api/tab/%s/tickets/%d", d.URL, d.AppID, tk.ID), adele, map[string]string{"status": "resolved"}, nil); code != 403 {
		t.Fatalf("customer resolved a ticket: %d", code)
	}
}

func cookieHeader(c *http.Client, u string) string {
	pu, _ := url.Parse(u)
	var parts []string
	for _, ck := range c.Jar.Cookies(pu) {
		parts = append(parts, ck.Name+"="+ck.Value)
	}
	return strings.Join(parts, "; ")
}

// TestTenantIsolation: a second customer (tenant B) on the same server never
// reaches channel A's data, whatever token or session it presents.
func TestTenantIsolation(t *testing.T) {
	d := startDemo(t)
	ctx := context.Background()
	const (
		tenantB = "bbbbbbbb-0000-4000-8000-00000000000b"
		appB    = "bbbbbbbb-0000-4000-8000-0000000000a2"
		userB   = "bbbbbbbb-0000-4000-8000-0000000000b1"
	)
	secretB := "b-secret~Value.0123456789abcdefghijklmn"
	must(t, d.Emulator.AddTenant(emulator.Tenant{ID: tenantB, DisplayName: "Fabrikam", Domain: "fabrikam.example"}))
	must(t, d.Emulator.AddUser(tenantB, emulator.User{ObjectID: userB, DisplayName: "Bianca B", UserPrincipalName: "bianca@fabrikam.example", Mail: "bianca@fabrikam.example"}))
	u, _ := url.Parse(d.URL)
	must(t, d.Emulator.AddApp(tenantB, emulator.App{AppID: appB, Secrets: []emulator.Secret{{KeyID: "k", Value: secretB, EndDateTime: time.Now().Add(time.Hour)}},
		IdentifierURIs: []string{desk.AppIDURI(u.Host, appB)}, Scopes: []emulator.Scope{{ID: "cccccccc-0000-4000-8000-000000000001", Value: "access_as_user", Enabled: true}},
		PreAuthorizedClients: []string{"5e3ce6c0-2b1f-4285-8d4b-75ee78787346"}, AccessTokenVersion: 2, RequiredGraphScopes: []string{"User.Read"}}))
	must(t, d.Emulator.GrantConsent(tenantB, "", appB, "User.Read"))
	if _, err := d.Service.AddChannel(ctx, desk.ChannelConfig{AppID: appB, AppSecret: secretB, TenantID: tenantB, TeamsPublishedAppID: "bbbbbbbb-0000-4000-8000-0000000000c3"}, "Fabrikam", time.Time{}); err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Timeout: 20 * time.Second}
	tokB, err := d.Emulator.IssueTeamsToken(tenantB, userB, appB, emulator.TokenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// B's token on A's SSO endpoint: wrong audience and tenant.
	var e struct{ Error, Reason string }
	if code := call(t, c, "POST", d.URL+"/api/tab/"+d.AppID+"/sso", "", map[string]string{"token": tokB}, &e); code != 401 || e.Error != "invalid_token" {
		t.Fatalf("tenant B token on channel A: %d %+v", code, e)
	}
	// B signs in properly on B's channel.
	var sso struct{ Session string }
	if code := call(t, c, "POST", d.URL+"/api/tab/"+appB+"/sso", "", map[string]string{"token": tokB}, &sso); code != 200 {
		t.Fatalf("tenant B on its own channel: %d", code)
	}
	// B's session on every one of A's routes: 401.
	for _, r := range []struct{ method, path string }{
		{"GET", "/me"}, {"GET", "/messages"}, {"POST", "/messages"}, {"GET", "/tickets"}, {"POST", "/tickets"}, {"GET", "/tickets/1"},
		{"PATCH", "/tickets/1"}, {"POST", "/tickets/1/comments"}, {"POST", "/read"}, {"POST", "/invites/accept"},
	} {
		code := call(t, c, r.method, d.URL+"/api/tab/"+d.AppID+r.path, sso.Session, map[string]string{}, nil)
		if code != 401 {
			t.Errorf("%s %s with tenant B's session: %d, want 401", r.method, r.path, code)
		}
	}
	// On its own channel, B cannot see A's tickets by id.
	ts, _ := d.Service.Tickets(ctx, desk.Actor{Kind: desk.ActorSystem}, desk.TicketFilter{})
	for _, tk := range ts {
		if code := call(t, c, "GET", fmt.Sprintf("%s/api/tab/%s/tickets/%d", d.URL, appB, tk.ID), sso.Session, nil, nil); code != 404 {
			t.Errorf("tenant B read ticket %d of A: %d", tk.ID, code)
		}
		if code := call(t, c, "POST", fmt.Sprintf("%s/api/tab/%s/tickets/%d/comments", d.URL, appB, tk.ID), sso.Session, map[string]string{"body": "x"}, nil); code != 404 {
			t.Errorf("tenant B commented on ticket %d of A: %d", tk.ID, code)
		}
	}
	var list struct{ Tickets []any }
	call(t, c, "GET", d.URL+"/api/tab/"+appB+"/tickets", sso.Session, nil, &list)
	if len(list.Tickets) != 0 {
		t.Fatalf("tenant B sees %d tickets", len(list.Tickets))
	}
	var hist struct{ Messages []any }
	call(t, c, "GET", d.URL+"/api/tab/"+appB+"/messages", sso.Session, nil, &hist)
	if len(hist.Messages) != 0 {
		t.Fatalf("tenant B sees %d messages", len(hist.Messages))
	}
	// B's session cannot open A's live channel.
	ctx2, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx2, strings.Replace(d.URL, "http", "ws", 1)+"/api/tab/"+d.AppID+"/live", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]string{"type": "auth", "token": sso.Session})
	_ = ws.Write(ctx2, websocket.MessageText, b)
	_, _, err = ws.Read(ctx2)
	if websocket.CloseStatus(err) != 4401 {
		t.Fatalf("tenant B on A's live socket: %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
