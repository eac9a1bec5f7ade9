package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Teams fixture: one tenant, two users, the tamlink app published to the
// org catalog as twTeamsApp with two declared activity types.
const (
	twTenant   = "5b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"
	twAppID    = "6c2d3e4f-5061-4b7c-9d8e-0f1a2b3c4d5e"
	twTeamsApp = "7d3e4f50-6172-4c8d-ae9f-1a2b3c4d5e6f"
	twOther    = "8e4f5061-7283-4d9e-bf0a-2b3c4d5e6f70" // an app without notification permissions
	twOtherTA  = "9f506172-8394-4eaf-8a1b-3c4d5e6f7081"
	twAda      = "a0617283-94a5-4fb0-9b2c-4d5e6f708192"
	twBen      = "b1728394-a5b6-40c1-8c3d-5e6f708192a3"
	twSecret   = "tw~Secret.Value_0123456789abcdefghij"
)

type twFixture struct {
	t   *testing.T
	e   *Emulator
	srv *httptest.Server
}

func newTWFixture(t *testing.T) *twFixture {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	e, err := New(Config{BaseURL: srv.URL})
	must(t, err)
	mux.Handle("/", e.Standalone())
	must(t, e.Apply(Seed{
		Tenant: Tenant{ID: twTenant, DisplayName: "Woodgrove"},
		Users: []User{{ObjectID: twAda, DisplayName: "Ada", UserPrincipalName: "ada@woodgrove.example"},
			{ObjectID: twBen, DisplayName: "Ben", UserPrincipalName: "ben@woodgrove.example"}},
		Apps: []App{
			{AppID: twAppID, DisplayName: "tamlink", Secrets: []Secret{{Value: twSecret}}, TeamsAppID: twTeamsApp,
				ActivityTypes: []string{"ticketComment", "deskReply"},
				GraphAppRoles: []string{"TeamsActivity.Send", "TeamsAppInstallation.ReadWriteSelfForUser.All"}},
			{AppID: twOther, DisplayName: "guide-only", Secrets: []Secret{{Value: twSecret}}, TeamsAppID: twOtherTA,
				ActivityTypes: []string{"ticketComment"}},
		},
	}))
	return &twFixture{t: t, e: e, srv: srv}
}

// token gets an app-only Graph token by client credentials.
func (f *twFixture) token(appID string) string {
	f.t.Helper()
	resp, err := http.PostForm(f.e.LoginURL()+"/"+twTenant+"/oauth2/v2.0/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {appID}, "client_secret": {twSecret},
		"scope": {"https://graph.microsoft.com/.default"},
	})
	must(f.t, err)
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	must(f.t, json.NewDecoder(resp.Body).Decode(&tok))
	if tok.AccessToken == "" {
		f.t.Fatalf("no token (status %d)", resp.StatusCode)
	}
	return tok.AccessToken
}

type twAnswer struct {
	status     int
	code, msg  string
	retryAfter string
	body       map[string]any
}

func (f *twFixture) call(ctx context.Context, tok, method, path string, body any) (twAnswer, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequestWithContext(ctx, method, f.e.GraphURL()+path, rd)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return twAnswer{}, err
	}
	defer resp.Body.Close()
	a := twAnswer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
	data, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(data, &a.body)
	if e, ok := a.body["error"].(map[string]any); ok {
		a.code, _ = e["code"].(string)
		a.msg, _ = e["message"].(string)
	}
	return a, nil
}

func (f *twFixture) must(tok, method, path string, body any) twAnswer {
	f.t.Helper()
	a, err := f.call(context.Background(), tok, method, path, body)
	must(f.t, err)
	return a
}

func notification(activityType string, chain int64) map[string]any {
	return map[string]any{
		"topic":              map[string]string{"source": "text", "value": "VPN down", "webUrl": "https://teams.microsoft.com/l/entity/" + twTeamsApp + "/workbench"},
		"activityType":       activityType,
		"previewText":        map[string]string{"content": "Alice: any news?"},
		"chainId":            chain,
		"templateParameters": []map[string]string{{"name": "ticketTitle", "value": "VPN down"}},
	}
}

func sendPath(user string) string {
	return "/v1.0/users/" + user + "/teamwork/sendActivityNotification"
}
func installPath(user string) string {
	return "/v1.0/users/" + user + "/teamwork/installedApps"
}
func bind(teamsApp string) map[string]string {
	return map[string]string{"teamsApp@odata.bind": "https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/" + teamsApp}
}

func TestTeamworkChecksLikeGraph(t *testing.T) {
	f := newTWFixture(t)
	tok := f.token(twAppID)

	// The app is not installed for Ada yet.
	a := f.must(tok, "POST", sendPath(twAda), notification("ticketComment", 1))
	if a.status != 403 || !strings.Contains(a.msg, "installed") {
		t.Fatalf("not installed: %+v", a)
	}
	// The listing is empty, then the app installs itself; twice is 409.
	if a := f.must(tok, "GET", installPath(twAda)+"?$expand=teamsApp&$filter="+url.QueryEscape("teamsApp/id eq '"+twTeamsApp+"'"), nil); a.status != 200 || len(a.body["value"].([]any)) != 0 {
		t.Fatalf("list before install: %+v", a)
	}
	if a := f.must(tok, "POST", installPath(twAda), bind(twTeamsApp)); a.status != 201 {
		t.Fatalf("install: %+v", a)
	}
	if a := f.must(tok, "POST", installPath(twAda), bind(twTeamsApp)); a.status != 409 {
		t.Fatalf("second install: %+v", a)
	}
	a = f.must(tok, "GET", installPath(twAda)+"?$expand=teamsApp&$filter="+url.QueryEscape("teamsApp/id eq '"+twTeamsApp+"'"), nil)
	items, _ := a.body["value"].([]any)
	if a.status != 200 || len(items) != 1 || items[0].(map[string]any)["teamsApp"].(map[string]any)["id"] != twTeamsApp {
		t.Fatalf("list after install: %+v", a)
	}
	// "Self" may install only its own Teams app; an unknown catalog app is 404.
	if a := f.must(tok, "POST", installPath(twAda), bind(twOtherTA)); a.status != 403 {
		t.Fatalf("installing another app with a Self permission: %+v", a)
	}
	if a := f.must(tok, "POST", installPath(twAda), bind("00000000-0000-4000-8000-000000000000")); a.status != 404 {
		t.Fatalf("unknown catalog app: %+v", a)
	}

	bad := []struct {
		name   string
		user   string
		body   map[string]any
		status int
		want   string
	}{
		{"undeclared activity type", twAda, notification("ticketCreated", 2), 400, "not declared"},
		{"systemDefault without text", twAda, notification("systemDefault", 2), 400, "systemDefaultText"},
		{"webUrl outside Teams", twAda, func() map[string]any {
			n := notification("ticketComment", 2)
			n["topic"] = map[string]string{"source": "text", "value": "x", "webUrl": "https://evil.example/"}
			return n
		}(), 400, "Teams link"},
		{"no topic", twAda, map[string]any{"activityType": "ticketComment"}, 400, "topic"},
		{"unknown recipient", "c2839405-b6c7-41d2-9d4e-6f708192a3b4", notification("ticketComment", 2), 404, "does not exist"},
		{"recipient without the app", twBen, notification("ticketComment", 2), 403, "installed"},
	}
	for _, tc := range bad {
		a := f.must(tok, "POST", sendPath(tc.user), tc.body)
		if a.status != tc.status || !strings.Contains(a.msg, tc.want) {
			t.Errorf("%s: %d %s %q", tc.name, a.status, a.code, a.msg)
		}
	}
	if got := f.e.ActivityNotifications(0); len(got) != 0 {
		t.Fatalf("refused notifications were recorded: %+v", got)
	}

	// By UPN or object id, a valid notification is accepted and recorded.
	if a := f.must(tok, "POST", sendPath("ada@woodgrove.example"), notification("ticketComment", 41)); a.status != 204 {
		t.Fatalf("send: %+v", a)
	}
	got := f.e.ActivityNotifications(0)
	if len(got) != 1 {
		t.Fatalf("recorded %d", len(got))
	}
	n := got[0]
	if n.UserID != twAda || n.AppID != twAppID || n.TeamsAppID != twTeamsApp || n.ActivityType != "ticketComment" || n.ChainID != 41 ||
		n.PreviewText != "Alice: any news?" || n.Parameters["ticketTitle"] != "VPN down" || n.Seq != 1 || n.TenantID != twTenant {
		t.Fatalf("record %+v", n)
	}
	if st := f.e.TeamworkStats(); st.Accepted != 1 || st.Rejected != len(bad)+1 {
		t.Fatalf("stats %+v", st)
	}

	// A registration without TeamsActivity.Send (the guide's clicks alone)
	// is refused with Graph's missing-role message, whatever is installed.
	f.e.InstallTeamsApp(twTenant, twAda, twOtherTA)
	other := f.token(twOther)
	if a := f.must(other, "POST", sendPath(twAda), notification("ticketComment", 1)); a.status != 403 || !strings.Contains(a.msg, "Missing role permissions") {
		t.Fatalf("no role: %+v", a)
	}
	if a := f.must(other, "GET", installPath(twAda), nil); a.status != 403 || !strings.Contains(a.msg, "TeamsAppInstallation") {
		t.Fatalf("list without a role: %+v", a)
	}
}

func TestTeamworkBlockedAndRemoved(t *testing.T) {
	f := newTWFixture(t)
	tok := f.token(twAppID)
	f.e.BlockTeamsApp(twTenant, twAda, twTeamsApp, true)
	if a := f.must(tok, "POST", installPath(twAda), bind(twTeamsApp)); a.status != 403 || a.msg != "App is blocked by app permission policy." {
		t.Fatalf("admin policy: %+v", a)
	}
	f.e.BlockTeamsApp(twTenant, twBen, twTeamsApp, false)
	if a := f.must(tok, "POST", installPath(twBen), bind(twTeamsApp)); a.status != 403 || !strings.Contains(a.msg, "user has blocked") {
		t.Fatalf("user block: %+v", a)
	}
	if f.e.TeamsAppInstalled(twTenant, twBen, twTeamsApp) {
		t.Fatal("blocked app installed")
	}
}

func TestTeamworkThrottlesPerAppAndTenant(t *testing.T) {
	f := newTWFixture(t)
	tok := f.token(twAppID)
	f.e.InstallTeamsApp(twTenant, twAda, twTeamsApp)
	f.e.SetTeamworkFaults(TeamworkFaults{Rate: 2})
	var ok, throttled int
	for i := range 6 {
		a := f.must(tok, "POST", sendPath(twAda), notification("deskReply", int64(i)))
		switch a.status {
		case 204:
			ok++
		case 429:
			throttled++
			if a.retryAfter == "" || a.retryAfter == "0" || a.code != "TooManyRequests" {
				t.Fatalf("429 without Retry-After: %+v", a)
			}
		default:
			t.Fatalf("unexpected %+v", a)
		}
	}
	if ok != 2 || throttled != 4 {
		t.Fatalf("%d accepted, %d throttled; want 2 and 4 within one second", ok, throttled)
	}
	st := f.e.TeamworkStats().PerApp[twAppID+"/"+twTenant]
	if st.Requests != 6 || st.Accepted != 2 || st.PeakPerSecond != 6 {
		t.Fatalf("per-app stats %+v", st)
	}
	// Retrying after Retry-After works.
	time.Sleep(1100 * time.Millisecond)
	if a := f.must(tok, "POST", sendPath(twAda), notification("deskReply", 9)); a.status != 204 {
		t.Fatalf("after the window: %+v", a)
	}
}

func TestTeamworkFaults(t *testing.T) {
	f := newTWFixture(t)
	tok := f.token(twAppID)
	f.e.InstallTeamsApp(twTenant, twAda, twTeamsApp)
	f.e.SetTeamworkFaults(TeamworkFaults{FaultRate: 1, Timeout: 2 * time.Second, Slow: 10 * time.Millisecond})
	var mu sync.Mutex
	statuses := map[int]int{}
	timeouts := 0
	var wg sync.WaitGroup
	for i := range 60 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			a, err := f.call(ctx, tok, "POST", sendPath(twAda), notification("ticketComment", int64(i)))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("request error %v", err)
				}
				timeouts++
				return
			}
			statuses[a.status]++
			if a.status == 503 && a.retryAfter == "" {
				t.Error("503 without Retry-After")
			}
		})
	}
	wg.Wait()
	var fivexx int
	for s, n := range statuses {
		if s >= 500 {
			fivexx += n
		} else if s != 204 {
			t.Errorf("status %d under faults", s)
		}
	}
	if fivexx == 0 || timeouts == 0 || statuses[204] == 0 {
		t.Fatalf("want 5xx, time-outs and slow successes; got %v and %d time-outs", statuses, timeouts)
	}
	st := f.e.TeamworkStats()
	if got := len(f.e.ActivityNotifications(0)); got != statuses[204] || st.Accepted != got || st.Slow != got {
		t.Fatalf("recorded %d, 204s %d, stats %+v", got, statuses[204], st)
	}
}

func TestControlAPI(t *testing.T) {
	f := newTWFixture(t)
	put := func(method, path string, body any) *http.Response {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, f.srv.URL+path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json") // the control API takes JSON only
		resp, err := http.DefaultClient.Do(req)
		must(t, err)
		resp.Body.Close()
		return resp
	}
	seed := Seed{Tenant: Tenant{ID: "c3940516-c7d8-42e3-8e5f-708192a3b4c5"}, Users: []User{{ObjectID: "d4051627-d8e9-43f4-9f60-8192a3b4c5d6", UserPrincipalName: "x@y.example"}},
		Apps:      []App{{AppID: "e5162738-e9fa-4405-a071-92a3b4c5d6e7", Secrets: []Secret{{Value: twSecret}}, TeamsAppID: "f6273849-fa0b-4516-b182-a3b4c5d6e7f8", ActivityTypes: []string{"x"}}},
		Installed: []SeedInstall{{User: "d4051627-d8e9-43f4-9f60-8192a3b4c5d6", TeamsAppID: "f6273849-fa0b-4516-b182-a3b4c5d6e7f8"}}}
	if r := put("POST", "/control/tenants", seed); r.StatusCode != 204 {
		t.Fatalf("seed: %d", r.StatusCode)
	}
	if r := put("POST", "/control/tenants", seed); r.StatusCode != 409 {
		t.Fatalf("seed twice: %d", r.StatusCode)
	}
	if !f.e.TeamsAppInstalled(seed.Tenant.ID, seed.Users[0].ObjectID, seed.Installed[0].TeamsAppID) {
		t.Fatal("seeded installation missing")
	}
	if r := put("PUT", "/control/teamwork/faults", TeamworkFaults{Rate: 5}); r.StatusCode != 204 {
		t.Fatalf("faults: %d", r.StatusCode)
	}
	f.e.InstallTeamsApp(twTenant, twAda, twTeamsApp)
	tok := f.token(twAppID)
	for i := range 3 {
		f.must(tok, "POST", sendPath(twAda), notification("deskReply", int64(i+1)))
	}
	resp, err := http.Get(f.srv.URL + "/control/teamwork/notifications?after=1")
	must(t, err)
	var page struct{ Notifications []ActivityNotification }
	must(t, json.NewDecoder(resp.Body).Decode(&page))
	resp.Body.Close()
	if seqs := func() (s []int64) {
		for _, n := range page.Notifications {
			s = append(s, n.ChainID)
		}
		return
	}(); !slices.Equal(seqs, []int64{2, 3}) {
		t.Fatalf("notifications after 1: %v", seqs)
	}
	resp, err = http.Get(f.srv.URL + "/control/teamwork/stats")
	must(t, err)
	var st TeamworkStats
	must(t, json.NewDecoder(resp.Body).Decode(&st))
	resp.Body.Close()
	if st.Accepted != 3 || st.PerApp[twAppID+"/"+twTenant].Requests != 3 {
		t.Fatalf("stats %+v", st)
	}
	put("POST", "/control/teamwork/reset", nil)
	if len(f.e.ActivityNotifications(0)) != 0 || f.e.TeamworkStats().Requests != 0 {
		t.Fatal("reset kept records")
	}
}
