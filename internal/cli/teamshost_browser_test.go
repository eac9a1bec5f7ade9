package cli_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"github.com/tamlink/tamlink/internal/cli"
	"github.com/tamlink/tamlink/internal/emulator"
	"github.com/tamlink/tamlink/internal/sqlstore"
)

// TestTeamsHost drives the workbench inside the emulator's Teams host page
// with the real @microsoft/teams-js in headless Chromium, through every path
// issue 3 lists: silent SSO, Teams consent, a hanging or lying host, a
// channel instead of a personal tab, a mobile client, themes and locale,
// guests, on-behalf-of consent (with Microsoft's propagation delay) and MFA,
// and a session that ends while the workbench is open.
//
// As in real Teams, the host and the tab are different origins: the host is
// served as localhost, the workbench as 127.0.0.1 (Chromium puts the tab in
// its own process; the test attaches to that frame's target). One browser
// serves every subtest, each in its own tab.
func TestTeamsHost(t *testing.T) {
	sdk := teamsJSPath(t)
	if sdk == "" {
		t.Skip("@microsoft/teams-js not installed (scripts/test installs it)")
	}
	bctx := sharedBrowser(t)
	d := startTeamsDemo(t, sdk, 0)
	adele, alex, megan := d.Users[0], d.Users[1], d.Users[2]
	guest := emulator.User{ObjectID: "00000000-0000-4000-a000-0000000000e1", DisplayName: "Gus Guest",
		UserPrincipalName: "gus_fabrikam.example#EXT#@contoso.example", Mail: "gus@fabrikam.example",
		HomeTenantID: "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0", PreferredLanguage: "en-US"}
	if err := d.Emulator.AddUser(d.TenantID, guest); err != nil {
		t.Fatal(err)
	}
	if err := d.Emulator.SetMFARequired(d.TenantID, megan.ObjectID, true); err != nil {
		t.Fatal(err)
	}

	t.Run("silent", func(t *testing.T) {
		t.Parallel()
		h := openHost(t, bctx, d, adele.ObjectID, nil)
		h.waitFrame("signed in silently", `document.body.dataset.state === "ready"`, 20*time.Second)
		h.expectFrame(`document.body.dataset.via`, "sso")
		h.expectFrame(`document.body.dataset.ssoAttempts`, "1")
		h.expectFrame(`document.body.dataset.client`, "web")
		h.expectFrame(`document.documentElement.lang`, "en-GB")
		h.expectFrame(`document.getElementById("user-name").textContent`, "Adele Vance")
		h.waitFrame("conversation loaded", `document.querySelectorAll("#messages li").length > 0`, 10*time.Second)
		h.expectHost(`tamlinkHost.tokenRequests.map(r => (r.silent ? "silent:" : "prompt:") + r.answer).join(",")`, "silent:token")
		screenshot(t, h.ctx, "teams-host-silent.png")
	})

	t.Run("theme-and-locale", func(t *testing.T) {
		t.Parallel()
		h := openHost(t, bctx, d, alex.ObjectID, url.Values{"theme": {"dark"}, "locale": {"de-DE"}})
		h.waitFrame("signed in", `document.body.dataset.state === "ready"`, 20*time.Second)
		h.expectFrame(`document.body.className`, "theme-dark")
		h.expectFrame(`document.documentElement.lang`, "de-DE")
		// Dates follow the Teams locale: 24-hour German times, no AM/PM.
		h.waitFrame("times rendered", `document.querySelectorAll("#messages time").length > 0`, 10*time.Second)
		times := evalIn[string](t, h.frame, `Array.from(document.querySelectorAll("#messages time")).map(t => t.textContent).join(" | ")`)
		if strings.Contains(times, "AM") || strings.Contains(times, "PM") || !strings.Contains(times, ":") {
			t.Errorf("times %q are not in de-DE form", times)
		}
		screenshot(t, h.ctx, "teams-host-dark-de.png")
		dark := evalIn[string](t, h.frame, `getComputedStyle(document.body).backgroundColor`)
		run(t, h.ctx, "switch Teams to high contrast", chromedp.Click(chromedp.CSS("#theme-contrast")))
		h.waitFrame("theme followed Teams", `document.body.classList.contains("theme-contrast")`, 5*time.Second)
		screenshot(t, h.ctx, "teams-host-contrast.png")
		if contrast := evalIn[string](t, h.frame, `getComputedStyle(document.body).backgroundColor`); contrast == dark {
			t.Errorf("background %s did not change with the theme", contrast)
		}
		run(t, h.ctx, "switch Teams to light", chromedp.Click(chromedp.CSS("#theme-default")))
		h.waitFrame("light theme", `document.body.classList.contains("theme-default")`, 5*time.Second)
	})

	t.Run("consent-once", func(t *testing.T) {
		t.Parallel()
		h := openHost(t, bctx, d, alex.ObjectID, url.Values{"consent": {"once"}})
		h.waitFrame("signed in after one non-silent call", `document.body.dataset.state === "ready"`, 20*time.Second)
		h.expectFrame(`document.body.dataset.via`, "sso")
		h.expectHost(`tamlinkHost.tokenRequests.map(r => (r.silent ? "silent:" : "prompt:") + r.answer).join(",")`,
			"silent:resourceRequiresConsent,prompt:token")
	})

	t.Run("consent-declined-then-popup", func(t *testing.T) {
		t.Parallel()
		h := openHost(t, bctx, d, adele.ObjectID, url.Values{"consent": {"deny"}})
		h.waitFrame("consent asked for", `document.body.dataset.state === "consent"`, 20*time.Second)
		h.expectHost(`tamlinkHost.tokenRequests.map(r => (r.silent ? "silent:" : "prompt:") + r.answer).join(",")`,
			"silent:resourceRequiresConsent,prompt:CancelledByUser")
		h.popup("#consent-button", "AdeleV@contoso.example")
		h.waitFrame("signed in through the Teams sign-in window", `document.body.dataset.state === "ready"`, 20*time.Second)
		h.expectFrame(`document.body.dataset.via`, "popup")
		h.expectHost(`tamlinkHost.authResults.join(",")`, "success")
		h.expectFrame(`document.getElementById("user-name").textContent`, "Adele Vance")
	})

	t.Run("consent-popup-cancelled", func(t *testing.T) {
		t.Parallel()
		h := openHost(t, bctx, d, megan.ObjectID, url.Values{"consent": {"deny"}})
		h.waitFrame("consent asked for", `document.body.dataset.state === "consent"`, 20*time.Second)
		// Cancel on the consent page: the callback page's notifyFailure
		// reaches the tab through the host.
		h.popupWith("#consent-button", "MeganB@contoso.example", "cancel")
		h.waitFrame("back at the consent button", `document.body.dataset.state === "consent" && !document.getElementById("consent-button").hidden`, 15*time.Second)
		h.expectFrameContains(`document.getElementById("status-message").textContent`, "Sign-in was cancelled.")
		h.expectHost(`tamlinkHost.authResults.join(",")`, "CancelledByUser")
	})

	t.Run("popup-blocked", func(t *testing.T) {
		t.Parallel()
		h := openHost(t, bctx, d, alex.ObjectID, url.Values{"token": {"empty"}, "popup": {"block"}})
		h.waitFrame("sign-in button", `document.body.dataset.state === "signed-out"`, 20*time.Second)
		run(t, h.frame, "click sign in", chromedp.Click(chromedp.CSS("#signin-button")))
		h.waitFrame("told the window could not open", `document.getElementById("status-message").textContent.includes("could not open the sign-in window")`, 10*time.Second)
		h.expectFrame(`document.body.dataset.state`, "signed-out")
		h.expectHost(`tamlinkHost.authResults.join(",")`, "FailedToOpenWindow")
	})

	t.Run("token-hangs", func(t *testing.T) {
		t.Parallel()
		h := openHost(t, bctx, d, alex.ObjectID, url.Values{"token": {"hang"}})
		h.waitFrame("time-out, then the sign-in button", `document.body.dataset.state === "signed-out" && !document.getElementById("signin-button").hidden`, 25*time.Second)
		h.expectFrameContains(`document.getElementById("status-message").textContent`, "did not hand over a sign-in token in time")
		h.popup("#signin-button", "AlexW@contoso.example")
		h.waitFrame("signed in through the sign-in window", `document.body.dataset.state === "ready"`, 20*time.Second)
		h.expectFrame(`document.body.dataset.via`, "popup")
	})

	for _, c := range []struct{ flag, status string }{
		{"empty", "an empty sign-in token"},
		{"junk", "not a sign-in token"},
	} {
		t.Run("token-"+c.flag, func(t *testing.T) {
			t.Parallel()
			h := openHost(t, bctx, d, alex.ObjectID, url.Values{"token": {c.flag}})
			h.waitFrame("failure shown", `document.body.dataset.state === "signed-out"`, 20*time.Second)
			h.expectFrameContains(`document.getElementById("status-message").textContent`, c.status)
			// Never sent to the server (let alone to on-behalf-of).
			h.expectFrame(`document.body.dataset.ssoAttempts || "0"`, "0")
		})
	}

	for _, c := range []struct{ flag, status string }{
		{"otherapp", "for another app (audience)"},
		{"expired", "expired sign-in token (expired)"},
	} {
		t.Run("token-"+c.flag, func(t *testing.T) {
			t.Parallel()
			h := openHost(t, bctx, d, alex.ObjectID, url.Values{"token": {c.flag}})
			h.waitFrame("refusal shown", `document.body.dataset.state === "signed-out"`, 20*time.Second)
			h.expectFrameContains(`document.getElementById("status-message").textContent`, c.status)
			h.expectFrame(`document.body.dataset.ssoAttempts`, "1")
		})
	}

	for _, c := range []struct{ context, status string }{
		{"channel", "does not work as a channel tab"},
		{"sharedchannel", "shared channel of another organisation"},
	} {
		t.Run("context-"+c.context, func(t *testing.T) {
			t.Parallel()
			h := openHost(t, bctx, d, alex.ObjectID, url.Values{"context": {c.context}})
			h.waitFrame("plain message", `document.body.dataset.state === "unsupported"`, 20*time.Second)
			h.expectFrameContains(`document.getElementById("status-message").textContent`, c.status)
			h.expectFrame(`String(document.getElementById("signin-button").hidden && document.getElementById("consent-button").hidden)`, "true")
			h.expectHost(`String(tamlinkHost.tokenRequests.length)`, "0")
			screenshot(t, h.ctx, "teams-host-"+c.context+".png")
		})
	}

	t.Run("mobile", func(t *testing.T) {
		t.Parallel()
		h := openHost(t, bctx, d, adele.ObjectID, url.Values{"client": {"android"}})
		h.waitFrame("signed in on Teams for Android", `document.body.dataset.state === "ready"`, 20*time.Second)
		h.expectFrame(`document.body.dataset.client`, "android")
		screenshot(t, h.ctx, "teams-host-android.png")
		h.expectFrame(`document.body.dataset.via`, "sso")
	})

	t.Run("guest", func(t *testing.T) {
		t.Parallel()
		h := openHost(t, bctx, d, guest.ObjectID, nil)
		h.waitFrame("guest signed in", `document.body.dataset.state === "ready"`, 20*time.Second)
		h.expectFrame(`document.getElementById("user-name").textContent`, "Gus Guest")
		ch, err := d.Service.Channel(context.Background(), d.AppID)
		if err != nil {
			t.Fatal(err)
		}
		users, err := d.Service.Store.UsersByOrg(context.Background(), ch.OrgID)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, u := range users {
			if u.ObjectID == guest.ObjectID {
				found = true
				// Keyed by the customer's tenant and the guest's object id there.
				if u.TenantID != d.TenantID || u.HomeTenantID != guest.HomeTenantID {
					t.Errorf("guest stored as tenant %s home %s, want %s home %s", u.TenantID, u.HomeTenantID, d.TenantID, guest.HomeTenantID)
				}
			}
		}
		if !found {
			t.Errorf("guest %s not among the organisation's users", guest.ObjectID)
		}
	})

	t.Run("mfa-required", func(t *testing.T) {
		t.Parallel()
		h := openHost(t, bctx, d, megan.ObjectID, nil)
		h.waitFrame("interaction asked for", `document.body.dataset.state === "consent"`, 20*time.Second)
		h.expectFrame(`document.getElementById("consent-button").textContent`, "Continue sign-in")
		h.popup("#consent-button", "MeganB@contoso.example")
		h.waitFrame("signed in after MFA", `document.body.dataset.state === "ready"`, 20*time.Second)
		h.expectFrame(`document.body.dataset.via`, "popup")
	})

	t.Run("obo-consent-with-propagation", func(t *testing.T) {
		t.Parallel()
		d2 := startTeamsDemo(t, sdk, 0)
		// The admin consent is withdrawn: on-behalf-of answers AADSTS65001
		// until the user consents, and that consent reaches the token
		// service 2.5 s after it is given.
		if err := d2.Emulator.RevokeConsent(d2.TenantID, "", d2.AppID); err != nil {
			t.Fatal(err)
		}
		d2.Emulator.SetConsentPropagationDelay(2500 * time.Millisecond)
		h := openHost(t, bctx, d2, d2.Users[0].ObjectID, nil)
		h.waitFrame("consent asked for", `document.body.dataset.state === "consent"`, 20*time.Second)
		h.expectFrame(`document.body.dataset.ssoAttempts`, "1")
		h.expectFrame(`document.getElementById("consent-button").textContent`, "Grant consent")
		screenshot(t, h.ctx, "teams-host-obo-consent.png")
		h.popup("#consent-button", "AdeleV@contoso.example")
		h.waitFrame("signed in by SSO once consent propagated", `document.body.dataset.state === "ready"`, 20*time.Second)
		h.expectFrame(`document.body.dataset.via`, "sso")
		// 1 before consent, a refused retry after 1 s, a good one after 2 s more.
		h.expectFrame(`document.body.dataset.ssoAttempts`, "3")
	})

	t.Run("session-renewal", func(t *testing.T) {
		t.Parallel()
		d3 := startTeamsDemo(t, sdk, 3*time.Second)
		h := openHost(t, bctx, d3, d3.Users[1].ObjectID, url.Values{"lifetime": {"4"}})
		h.waitFrame("signed in", `document.body.dataset.state === "ready"`, 20*time.Second)
		evalIn[bool](t, h.frame, `(window.__states = [], new MutationObserver(() => __states.push(document.body.dataset.state))
			.observe(document.body, {attributes: true, attributeFilter: ["data-state"]}), true)`)
		// Sessions last 3 s and Teams tokens 4 s: the workbench renews its
		// session before it ends, with fresh Teams tokens, unnoticed.
		h.waitFrame("renewed twice", `Number(document.body.dataset.renewals || 0) >= 2`, 15*time.Second)
		h.waitHost("Teams fetched a fresh token", `tamlinkHost.tokensIssued >= 2`, 10*time.Second)
		// The server ends the session early: the next request gets 401, the
		// workbench renews silently and sends the message anyway.
		if _, err := d3.Service.Store.(*sqlstore.DB).SQL().Exec(`DELETE FROM sessions WHERE kind = 'tab'`); err != nil {
			t.Fatal(err)
		}
		msg := fmt.Sprintf("after renewal %d", time.Now().UnixNano())
		evalIn[bool](t, h.frame, fmt.Sprintf(`(document.getElementById("composer-text").value = %q,
			document.getElementById("composer").requestSubmit(), true)`, msg))
		h.waitFrame("message delivered", fmt.Sprintf(`Array.from(document.querySelectorAll("#messages li[data-id]")).some(li => li.textContent.includes(%q))`, msg), 15*time.Second)
		h.expectFrame(`__states.filter(s => s !== "ready").join(",")`, "")
		h.expectFrame(`document.body.dataset.state`, "ready")
	})
}

// startTeamsDemo runs a demo with the Teams SDK; tabTTL > 0 shortens sessions.
func startTeamsDemo(t *testing.T, sdk string, tabTTL time.Duration) *cli.Demo {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	d, err := cli.StartDemo(ctx, cli.DemoOptions{Listen: "127.0.0.1:0", Data: t.TempDir(), TeamsJS: sdk, TabSessionTTL: tabTTL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	if d.HostOrigin == d.URL {
		t.Fatalf("the Teams host must be another origin than the workbench, both are %s", d.URL)
	}
	return d
}

// sharedBrowser starts one headless Chromium for a test and its subtests.
func sharedBrowser(t *testing.T) context.Context {
	t.Helper()
	path := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("no-first-run", true),
		chromedp.Flag("block-new-web-contents", false), chromedp.WindowSize(1280, 860),
		// Parallel tabs are all "in the background"; their timers must run.
		chromedp.Flag("disable-background-timer-throttling", true), chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
	)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	ctx, cancel3 := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(cancel3)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// hostTab is one browser tab showing the Teams host page, and the workbench
// frame inside it.
type hostTab struct {
	t     *testing.T
	ctx   context.Context // the host page
	frame context.Context // the workbench frame's target
	id    target.ID
}

// openHost opens the Teams host page for userOID with the host's flags and
// attaches to the workbench frame.
func openHost(t *testing.T, bctx context.Context, d *cli.Demo, userOID string, flags url.Values) *hostTab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(bctx)
	t.Cleanup(cancel)
	u := d.TeamsHostURL(userOID, flags)
	if err := chromedp.Do(ctx, chromedp.Navigate(u)); err != nil {
		t.Fatalf("open %s: %v", u, err)
	}
	h := &hostTab{t: t, ctx: ctx, id: chromedp.FromContext(ctx).Target.TargetID}
	workbench := d.URL + "/teams/" + d.AppID + "/workbench"
	deadline := time.Now().Add(15 * time.Second)
	for h.frame == nil {
		infos, err := chromedp.Targets(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range infos {
			if i.Type == "iframe" && i.ParentFrameID == cdp.FrameID(h.id) && strings.HasPrefix(i.URL, workbench) {
				fctx, fcancel := chromedp.NewContext(ctx, chromedp.WithTargetID(i.TargetID))
				t.Cleanup(fcancel)
				h.frame = fctx
			}
		}
		if h.frame != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the host page did not frame the workbench (%s) in its own process", workbench)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The frame target may be listed before its document has loaded.
	h.waitFrame("workbench script running", `!!document.body && !!document.body.dataset.state`, 15*time.Second)
	return h
}

func evalIn[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// diagnose describes both pages for a failure message.
func (h *hostTab) diagnose() string {
	ctx, cancel := context.WithTimeout(h.ctx, 3*time.Second)
	defer cancel()
	var b strings.Builder
	if h.frame != nil {
		fctx, fcancel := context.WithTimeout(h.frame, 3*time.Second)
		defer fcancel()
		st, _ := chromedp.Run(fctx, chromedp.Evaluate[string](`JSON.stringify(Object.assign({}, document.body.dataset))`))
		msg, _ := chromedp.Run(fctx, chromedp.Evaluate[string](`(document.getElementById("status-message") || {}).textContent || ""`))
		fmt.Fprintf(&b, "workbench %s, status %q\n", st, msg)
	}
	events, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`window.tamlinkHost ? tamlinkHost.events.join("\n") : "(no host)"`))
	fmt.Fprintf(&b, "host log:\n%s", events)
	return b.String()
}

func (h *hostTab) wait(ctx context.Context, what, cond string, timeout time.Duration) {
	h.t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](cond, chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		h.t.Fatalf("%s: %v\n%s", what, err, h.diagnose())
	}
}

func (h *hostTab) waitFrame(what, cond string, timeout time.Duration) {
	h.t.Helper()
	h.wait(h.frame, what, cond, timeout)
}

func (h *hostTab) waitHost(what, cond string, timeout time.Duration) {
	h.t.Helper()
	h.wait(h.ctx, what, cond, timeout)
}

func (h *hostTab) expect(ctx context.Context, expr, want string, contains bool) {
	h.t.Helper()
	got, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		h.t.Fatalf("%s: %v", expr, err)
	}
	if (contains && !strings.Contains(got, want)) || (!contains && got != want) {
		h.t.Errorf("%s = %q, want %q\n%s", expr, got, want, h.diagnose())
	}
}

func (h *hostTab) expectFrame(expr, want string) {
	h.t.Helper()
	h.expect(h.frame, expr, want, false)
}

func (h *hostTab) expectFrameContains(expr, want string) {
	h.t.Helper()
	h.expect(h.frame, expr, want, true)
}

func (h *hostTab) expectHost(expr, want string) {
	h.t.Helper()
	h.expect(h.ctx, expr, want, false)
}

// popup clicks button (in the workbench) and walks the sign-in window the
// Teams host opens: the emulator's account picker (as upn) and consent page,
// until the callback page hands the session back and the window closes.
func (h *hostTab) popup(button, upn string) {
	h.t.Helper()
	h.popupWith(button, upn, "accept")
}

// popupWith is popup answering the consent page with decision (accept or
// cancel).
func (h *hostTab) popupWith(button, upn, decision string) {
	h.t.Helper()
	opened := chromedp.WaitNewTarget(h.ctx, func(i *target.Info) bool { return i.OpenerID == h.id })
	if err := chromedp.Do(h.frame, chromedp.Click(chromedp.CSS(button))); err != nil {
		h.t.Fatalf("click %s: %v\n%s", button, err, h.diagnose())
	}
	var id target.ID
	select {
	case id = <-opened:
	case <-time.After(15 * time.Second):
		h.t.Fatalf("no sign-in window opened after %s\n%s", button, h.diagnose())
	}
	pctx, cancel := chromedp.NewContext(h.ctx, chromedp.WithTargetID(id))
	defer cancel()
	step := `(() => {
		const tile = document.querySelector('button[data-upn="` + upn + `"]');
		if (tile) { tile.click(); return "picked"; }
		const answer = document.querySelector('button[value="` + decision + `"]');
		if (answer) { answer.click(); return "answered"; }
		if (location.pathname.endsWith("/oauth2/callback")) return "callback:" + (document.body.dataset.state || "");
		return "waiting";
	})()`
	deadline := time.Now().Add(20 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		sctx, scancel := context.WithTimeout(pctx, 2*time.Second)
		got, err := chromedp.Run(sctx, chromedp.Evaluate[string](step))
		scancel()
		if err != nil {
			// The window closed itself (notifySuccess), or is navigating.
			if !targetExists(h.ctx, id) {
				return
			}
			time.Sleep(150 * time.Millisecond)
			continue
		}
		if strings.HasPrefix(got, "callback:error") && decision == "accept" {
			msg, _ := chromedp.Run(pctx, chromedp.Evaluate[string](`document.body.innerText`))
			h.t.Fatalf("sign-in window failed: %s", msg)
		}
		last = got
		time.Sleep(150 * time.Millisecond)
	}
	h.t.Fatalf("sign-in window did not finish (last step %q)\n%s", last, h.diagnose())
}

func targetExists(ctx context.Context, id target.ID) bool {
	infos, err := chromedp.Targets(ctx)
	if err != nil {
		return false
	}
	for _, i := range infos {
		if i.TargetID == id {
			return true
		}
	}
	return false
}

// screenshot saves a screenshot of ctx's page when TAMLINK_SCREENSHOTS names
// a directory.
func screenshot(t *testing.T, ctx context.Context, name string) {
	dir := os.Getenv("TAMLINK_SCREENSHOTS")
	if dir == "" {
		return
	}
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot: %v", err)
		return
	}
	if err := os.WriteFile(dir+"/"+name, buf, 0o644); err != nil {
		t.Logf("screenshot: %v", err)
	}
}
