package cli_test

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserNotificationCentre: a deep link with #ticket=ID opens that
// ticket; the bell counts unread notifications and takes live ones; opening
// one marks it read and opens its ticket.
func TestBrowserNotificationCentre(t *testing.T) {
	ctx := browser(t)
	d := startDemoWithSDK(t)
	adele := d.Users[0]
	session := browserSignIn(t, d, adele.ObjectID)
	api := d.URL + "/api/tab/" + d.AppID
	c := &http.Client{Timeout: 20 * time.Second}
	var tickets struct{ Tickets []struct{ ID int64 } }
	call(t, c, "GET", api+"/tickets", session, nil, &tickets)
	if len(tickets.Tickets) < 2 {
		t.Fatal("the demo seeds three tickets")
	}
	deep, other := tickets.Tickets[1].ID, tickets.Tickets[0].ID

	// The callback hands a session over in the fragment; a deep link adds the ticket.
	wb := fmt.Sprintf("%s/teams/%s/workbench#session=%s&ticket=%d", d.URL, d.AppID, session, deep)
	run(t, ctx, "open the workbench at a ticket",
		chromedp.Navigate(wb),
		chromedp.WaitVisible(chromedp.CSS(`body[data-state="ready"]`)),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#ticket-view[data-id="%d"]`, deep))),
		chromedp.WaitVisible(chromedp.CSS(`body[data-live="open"]`)),
		chromedp.WaitVisible(chromedp.CSS("#notify-bell")),
	)
	unread := func() int {
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("notify-unread").dataset.count || "0"`))
		if err != nil {
			t.Fatal(err)
		}
		n, _ := strconv.Atoi(v)
		return n
	}
	eventually(t, "the seeded notifications are counted", func() bool { return unread() > 0 })
	before := unread()

	staff, csrf := consoleLogin(t, d)
	body := fmt.Sprintf("Browser notification %d", time.Now().UnixNano())
	if code := call(t, staff, "POST", d.URL+"/api/console/tickets/"+strconv.FormatInt(other, 10)+"/comments", "", map[string]string{"body": body}, nil, "X-CSRF-Token", csrf); code != http.StatusCreated {
		t.Fatalf("staff comment: %d", code)
	}
	eventually(t, "the live notification is counted", func() bool { return unread() == before+1 })

	item := fmt.Sprintf(`//ul[@id="notify-list"]/li[contains(., %q)]`, body)
	run(t, ctx, "open the centre and the new notification",
		chromedp.Click(chromedp.CSS("#notify-bell")),
		chromedp.WaitVisible(item),
		chromedp.Click(item+`/button`),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#ticket-view[data-id="%d"]`, other))),
	)
	eventually(t, "the opened notification is read", func() bool { return unread() == before })
	var centre struct{ Unread int }
	call(t, c, "GET", api+"/notifications", session, nil, &centre)
	if centre.Unread != before {
		t.Fatalf("server unread %d, page %d", centre.Unread, before)
	}
	run(t, ctx, "mark all read",
		chromedp.Click(chromedp.CSS("#notify-bell")),
		chromedp.WaitVisible(chromedp.CSS("#notify-read-all")),
		chromedp.Click(chromedp.CSS("#notify-read-all")),
	)
	eventually(t, "nothing unread", func() bool { return unread() == 0 })
	html, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("notify-list").innerHTML`))
	if err != nil || strings.Contains(html, "<script") {
		t.Fatalf("centre markup: %v", err)
	}
	if dir := os.Getenv("TAMLINK_SCREENSHOTS"); dir != "" {
		if buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
			_ = os.WriteFile(dir+"/workbench-notifications.png", buf, 0o644)
		}
	}
}
