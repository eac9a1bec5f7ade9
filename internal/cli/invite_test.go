package cli_test

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tamlink/tamlink/internal/emulator"
)

var inviteRE = regexp.MustCompile(`id="invite-url" readonly value="([^"]+)"`)

func TestInvite(t *testing.T) {
	d := startDemo(t)
	staff, csrf := consoleLogin(t, d)
	resp, err := staff.PostForm(d.URL+"/console/orgs/1/invites", url.Values{"csrf": {csrf}, "days": {"7"}, "note": {"for Megan"}})
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	buf := make([]byte, 64<<10)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	resp.Body.Close()
	m := inviteRE.FindStringSubmatch(sb.String())
	if m == nil {
		t.Fatalf("no invite link on the page (%d)", resp.StatusCode)
	}
	link := html.UnescapeString(m[1])
	if !strings.HasPrefix(link, d.URL+"/teams/"+d.AppID+"/person/inviteToGroup?") {
		t.Fatalf("invite link %q", link)
	}
	// A forged form without the CSRF token is refused.
	if resp, _ := staff.PostForm(d.URL+"/console/orgs/1/invites", url.Values{"days": {"7"}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("invite without csrf: %d", resp.StatusCode)
	}

	c := &http.Client{Timeout: 10 * time.Second}
	if resp, page := get(t, c, link); resp.StatusCode != 200 || !strings.Contains(page, `"invite":{`) {
		t.Fatalf("landing: %d", resp.StatusCode)
	}
	u, _ := url.Parse(link)
	q := u.Query()
	tampered := strings.Replace(link, "sig="+q.Get("sig"), "sig=AAAA"+q.Get("sig")[4:], 1)
	if resp, _ := get(t, c, tampered); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("tampered invite: %d", resp.StatusCode)
	}
	expLater := strings.Replace(link, "exp="+q.Get("exp"), fmt.Sprintf("exp=%d", time.Now().Add(90*24*time.Hour).Unix()), 1)
	if resp, _ := get(t, c, expLater); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("invite with a changed expiry: %d", resp.StatusCode)
	}

	// Megan signs in with SSO and accepts; the group hears of it live.
	tok, err := d.Emulator.IssueTeamsToken(d.TenantID, d.Users[2].ObjectID, d.AppID, emulator.TokenOptions{})
	must(t, err)
	var sso struct{ Session string }
	call(t, c, "POST", d.URL+"/api/tab/"+d.AppID+"/sso", "", map[string]string{"token": tok}, &sso)
	lc := dialLive(t, d.URL+"/api/tab/"+d.AppID+"/live", nil, sso.Session)
	accept := map[string]string{"invite": q.Get("invite"), "exp": q.Get("exp"), "sig": q.Get("sig")}
	if code := call(t, c, "POST", d.URL+"/api/tab/"+d.AppID+"/invites/accept", sso.Session, accept, nil); code != 204 {
		t.Fatalf("accept: %d", code)
	}
	f := lc.waitFor("join message", func(f frame) bool { return f.Type == "message" && f.Message.Author.Kind == "system" })
	if !strings.Contains(f.Message.Body, "Megan Bowen joined") {
		t.Fatalf("join message %q", f.Message.Body)
	}
	var e struct{ Error string }
	if code := call(t, c, "POST", d.URL+"/api/tab/"+d.AppID+"/invites/accept", sso.Session, accept, &e); code != 409 {
		t.Fatalf("second use: %d %+v", code, e)
	}
}
