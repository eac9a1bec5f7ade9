package cli_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"github.com/tamlink/tamlink/internal/cli"
)

// chromium returns the browser the tests drive: Debian's package. CI
// installs it (scripts/test); a developer machine without it skips.
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("TAMLINK_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := exec.LookPath(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed; scripts/test installs Debian's chromium package")
	}
	t.Skip("chromium not installed")
	return ""
}

// browser starts headless Chromium for one test (see sharedBrowser for
// the flags this machine's closed network needs).
func browser(t *testing.T) context.Context {
	t.Helper()
	return sharedBrowser(t)
}

// TestBrowserMainPath is the "done when" in a real browser: a
// customer signs in on the workbench through the popup, writes to the desk,
// sees the desk's answer arrive, opens a ticket and sees staff move it to
// "in progress" — all without reloading.
func TestBrowserMainPath(t *testing.T) {
	ctx := browser(t)
	d := startDemoWithSDK(t)
	wb := d.URL + "/teams/" + d.AppID + "/workbench"

	popup := chromedp.WaitNewTarget(ctx, func(i *target.Info) bool {
		return strings.Contains(i.URL, "/login") || strings.Contains(i.URL, "/emulator/")
	})
	run(t, ctx, "open workbench and click sign in",
		chromedp.Navigate(wb),
		chromedp.WaitVisible(chromedp.CSS("#signin-button")),
		chromedp.Click(chromedp.CSS("#signin-button")),
	)
	var pid target.ID
	select {
	case pid = <-popup:
	case <-time.After(15 * time.Second):
		t.Fatal("no sign-in popup opened")
	}
	pctx, cancel := chromedp.NewContext(ctx, chromedp.WithTargetID(pid))
	defer cancel()
	run(t, pctx, "pick Adele on the emulator's sign-in page",
		chromedp.WaitVisible(chromedp.CSS(`button[data-upn="AdeleV@contoso.example"]`)),
		chromedp.Click(chromedp.CSS(`button[data-upn="AdeleV@contoso.example"]`)),
	)
	run(t, ctx, "workbench ready", chromedp.WaitVisible(chromedp.CSS(`body[data-state="ready"]`)), chromedp.WaitVisible(chromedp.CSS(`body[data-live="open"]`)))

	// Customer → desk.
	msg := fmt.Sprintf("Browser hello %d", time.Now().UnixNano())
	run(t, ctx, "send a message",
		chromedp.SendKeys(chromedp.CSS("#composer-text"), msg),
		chromedp.Click(chromedp.CSS("#composer-send")),
	)
	staff, csrf := consoleLogin(t, d)
	eventually(t, "staff sees the customer's message", func() bool {
		var h struct{ Messages []struct{ Body string } }
		call(t, staff, "GET", d.URL+"/api/console/orgs/1/messages", "", nil, &h)
		for _, m := range h.Messages {
			if m.Body == msg {
				return true
			}
		}
		return false
	})
	// Desk → customer, live.
	reply := "Desk answer " + msg
	if code := call(t, staff, "POST", d.URL+"/api/console/orgs/1/messages", "", map[string]string{"body": reply}, nil, "X-CSRF-Token", csrf); code != 201 {
		t.Fatalf("staff reply: %d", code)
	}
	run(t, ctx, "customer sees the answer live",
		chromedp.WaitVisible(fmt.Sprintf(`//ul[@id="messages"]/li[contains(., %q)]`, reply)))

	// A ticket, then staff moves it to in progress.
	title := "Browser ticket " + msg
	run(t, ctx, "open a ticket",
		chromedp.Click(chromedp.CSS("#tab-tickets")),
		chromedp.WaitVisible(chromedp.CSS("#new-ticket-title")),
		chromedp.SendKeys(chromedp.CSS("#new-ticket-title"), title),
		chromedp.SendKeys(chromedp.CSS("#new-ticket-description"), "Opened from the browser test."),
		chromedp.Click(chromedp.CSS("#new-ticket-submit")),
		chromedp.WaitVisible(fmt.Sprintf(`//ul[@id="tickets"]/li[contains(., %q)]`, title)),
	)
	attr, err := chromedp.Run(ctx, chromedp.AttributeValue(fmt.Sprintf(`//ul[@id="tickets"]/li[contains(., %q)]`, title), "data-id"))
	if err != nil || !attr.Exists {
		t.Fatalf("ticket id: %v", err)
	}
	id := attr.Value
	run(t, ctx, "open the ticket",
		chromedp.Click(fmt.Sprintf(`//ul[@id="tickets"]/li[contains(., %q)]`, title)),
		chromedp.WaitVisible(chromedp.CSS("#ticket-status")),
	)
	if code := call(t, staff, "PATCH", d.URL+"/api/console/tickets/"+id, "", map[string]string{"status": "in_progress"}, nil, "X-CSRF-Token", csrf); code != http.StatusOK {
		t.Fatalf("staff status change: %d", code)
	}
	run(t, ctx, "customer sees in progress live",
		chromedp.WaitVisible(`//*[@id="ticket-status"][contains(., "In progress")]`),
		chromedp.WaitVisible(`//ul[@id="timeline"]/li[contains(., "progress")]`),
	)
	if buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(80)); err == nil && os.Getenv("TAMLINK_SCREENSHOTS") != "" {
		os.WriteFile(os.Getenv("TAMLINK_SCREENSHOTS")+"/workbench-ticket.jpg", buf, 0o644)
	}
}

func startDemoWithSDK(t *testing.T) *cli.Demo {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	d, err := cli.StartDemo(ctx, cli.DemoOptions{Listen: "127.0.0.1:0", Data: t.TempDir(), TeamsJS: teamsJSPath(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return d
}

// teamsJSPath finds the npm-installed SDK (scripts/test installs it).
func teamsJSPath(t *testing.T) string {
	p := "../../web/node_modules/@microsoft/teams-js/dist/umd/MicrosoftTeams.min.js"
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("@microsoft/teams-js not installed: %v", err)
		}
		return ""
	}
	return p
}

func run(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		state, _ := chromedp.Run(sctx, chromedp.Evaluate[string](`document.body.dataset.state`))
		status, _ := chromedp.Run(sctx, chromedp.Evaluate[string](`(document.getElementById("status-message")||{}).textContent||""`))
		t.Fatalf("%s: %v (page state %q, status %q)", what, err, state, status)
	}
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if ok() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out: %s", what)
}
