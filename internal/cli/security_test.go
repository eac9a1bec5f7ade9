package cli_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tamlink/tamlink/internal/desk"
	"github.com/tamlink/tamlink/internal/password"
)

// Regression tests for the findings of the security review.

func TestConsoleLoginBackOff(t *testing.T) {
	d := startDemo(t)
	c := noRedirect(mustJar())
	post := func(pw string) int {
		resp, err := c.PostForm(d.URL+"/console/login", url.Values{"email": {d.StaffEmail}, "password": {pw}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for i := 0; i < 5; i++ {
		if code := post("wrong password!"); code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i, code)
		}
	}
	// Locked out now, even with the right password.
	if code := post(d.StaffPassword); code != http.StatusTooManyRequests {
		t.Fatalf("after 5 failures: %d, want 429", code)
	}
}

func TestMetricsMethodLabelBounded(t *testing.T) {
	d := startDemo(t)
	for _, m := range []string{"ZZ1", "ZZ2", "BREW"} {
		req, _ := http.NewRequest(m, d.URL+"/healthz", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}
	resp, _ := http.Get(d.URL + "/metrics")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(body), "ZZ1") || strings.Contains(string(body), "BREW") {
		t.Fatal("client-chosen methods became metric labels")
	}
}

func TestAgentSeesOnlyOwnChannels(t *testing.T) {
	d := startDemo(t)
	ctx := context.Background()
	hash, _ := password.Hash("agent-password-1")
	if _, err := d.Service.AddStaff(ctx, "agent@desk.example", "Agent", hash, false); err != nil {
		t.Fatal(err)
	}
	c := noRedirect(mustJar())
	resp, err := c.PostForm(d.URL+"/console/login", url.Values{"email": {"agent@desk.example"}, "password": {"agent-password-1"}})
	if err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("agent login: %v %v", err, resp)
	}
	_, page := get(t, c, d.URL+"/console/channels")
	if strings.Contains(page, d.AppID) || strings.Contains(page, d.TenantID) {
		t.Fatal("an unassigned agent sees Contoso's channel")
	}
	m := csrfRE.FindStringSubmatch(page)
	resp, _ = c.PostForm(d.URL+"/console/channels/"+d.AppID+"/test", url.Values{"csrf": {m[1]}})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("agent tested another organisation's channel: %d", resp.StatusCode)
	}
}

func TestOrgNotMergedAcrossTenants(t *testing.T) {
	d := startDemo(t)
	_, err := d.Service.AddChannel(context.Background(), desk.ChannelConfig{
		AppID: "cccccccc-0000-4000-8000-0000000000a1", AppSecret: "x~secret", TenantID: "cccccccc-0000-4000-8000-00000000000c",
		TeamsPublishedAppID: "cccccccc-0000-4000-8000-0000000000b1"}, "Contoso Ltd", time.Time{})
	if desk.ErrorCode(err) != desk.EConflict || desk.ErrorField(err) != "org" {
		t.Fatalf("second tenant joined Contoso: %v", err)
	}
}

// TestStaffRevocation: staff access can be taken back from the CLI while the
// server runs: revoked API tokens stop working, removed staff cannot sign in.
func TestStaffRevocation(t *testing.T) {
	d := startDemo(t)
	_, tok, _ := tamlink(t, "", "staff", "token", "--data", d.Dir, "--email", d.StaffEmail)
	tok = strings.TrimSpace(tok)
	adminGet := func() int {
		req, _ := http.NewRequest("GET", d.URL+"/api/admin/channels", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := adminGet(); code != 200 {
		t.Fatalf("fresh token: %d", code)
	}
	if code, _, errs := tamlink(t, "", "staff", "revoke", "--data", d.Dir, "--email", d.StaffEmail); code != 0 {
		t.Fatalf("revoke: %s", errs)
	}
	if code := adminGet(); code != 401 {
		t.Fatalf("revoked token: %d", code)
	}
	if code, _, errs := tamlink(t, "", "staff", "token", "--data", d.Dir, "--email", d.StaffEmail, "--days", "5000"); code == 0 || !strings.Contains(errs, "days") {
		t.Fatalf("a 5000-day token: %d %s", code, errs)
	}
	if code, _, errs := tamlink(t, "", "staff", "remove", "--data", d.Dir, "--email", d.StaffEmail); code != 0 {
		t.Fatalf("remove: %s", errs)
	}
	c := noRedirect(mustJar())
	resp, err := c.PostForm(d.URL+"/console/login", url.Values{"email": {d.StaffEmail}, "password": {d.StaffPassword}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("removed staff signed in: %d", resp.StatusCode)
	}
}

// TestConsoleNoticeNotFromURL: the notifications page's notice comes from a
// code, so a link cannot put words in the console's mouth.
func TestConsoleNoticeNotFromURL(t *testing.T) {
	d := startDemo(t)
	staff, _ := consoleLogin(t, d)
	_, page := get(t, staff, d.URL+"/console/notifications?msg="+url.QueryEscape("Session expired: sign in at evil.example")+"&done=bogus")
	if strings.Contains(page, "evil.example") {
		t.Fatal("the console shows text from the URL")
	}
}

func TestStaffAssignCLI(t *testing.T) {
	d := startDemo(t)
	run := func(stdin string, args ...string) string {
		t.Helper()
		code, out, errs := tamlink(t, stdin, append(args, "--data", d.Dir)...)
		if code != 0 {
			t.Fatalf("%v: %d %s", args, code, errs)
		}
		return out
	}
	run("agent-password-1\n", "staff", "add", "--email", "agent@desk.example")
	if out := run("", "staff", "assign", "--email", "agent@desk.example", "--org", "Contoso Ltd"); !strings.Contains(out, "now serves Contoso Ltd") {
		t.Fatal(out)
	}
	st, _ := d.Service.Store.StaffByEmail(context.Background(), "agent@desk.example")
	if ids, _ := d.Service.Store.StaffOrgIDs(context.Background(), st.ID); len(ids) != 1 {
		t.Fatalf("assigned to %v", ids)
	}
	if out := run("", "staff", "unassign", "--email", "agent@desk.example", "--org", "Contoso Ltd"); !strings.Contains(out, "no longer serves") {
		t.Fatal(out)
	}
	if ids, _ := d.Service.Store.StaffOrgIDs(context.Background(), st.ID); len(ids) != 0 {
		t.Fatalf("still assigned to %v", ids)
	}
	if code, _, errs := tamlink(t, "", "staff", "token", "--data", d.Dir, "--email", "agent@desk.example"); code == 0 || !strings.Contains(errs, "not an admin") {
		t.Fatalf("token for an agent: %d %s", code, errs)
	}
}
