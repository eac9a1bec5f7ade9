package cli_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tamlink/tamlink/internal/cli"
	"github.com/tamlink/tamlink/internal/desk"
	"github.com/tamlink/tamlink/internal/emulator"
)

type notificationJSON struct {
	ID        int64
	Kind      string
	KindLabel string
	TicketID  *int64
	Title     string
	Text      string
	ReadAt    *time.Time
	Delivery  string
}

// nextNotification reads live frames until a notification frame (or fails).
func (l *liveConn) nextNotification(within time.Duration) (notificationJSON, bool) {
	l.t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		_, data, err := l.c.Read(ctx)
		cancel()
		if err != nil {
			return notificationJSON{}, false
		}
		var f struct {
			Type         string
			Notification notificationJSON
		}
		if json.Unmarshal(data, &f) == nil && f.Type == "notification" {
			return f.Notification, true
		}
	}
	return notificationJSON{}, false
}

// received waits until the emulator accepted a notification for user oid
// that satisfies ok.
func received(t *testing.T, e *emulator.Emulator, oid string, ok func(emulator.ActivityNotification) bool) emulator.ActivityNotification {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		for _, a := range e.ActivityNotifications(0) {
			if a.UserID == oid && ok(a) {
				return a
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no such notification reached Teams for %s; got %+v", oid, e.ActivityNotifications(0))
	return emulator.ActivityNotification{}
}

// TestNotificationsEndToEnd drives the demo server: desk actions produce
// notifications that reach the right people live in the workbench and in
// Teams through the emulator's Graph; the centre's API, preferences and
// watching work; the console shows Teams delivery, dead letters and retries.
func TestNotificationsEndToEnd(t *testing.T) {
	d := startDemo(t)
	adele, alex := d.Users[0], d.Users[1]
	api := d.URL + "/api/tab/" + d.AppID
	c := &http.Client{Timeout: 20 * time.Second}

	// The demo's seed queued notifications for Adele (the desk's comment on
	// her ticket, the welcome message); the notifier installed the Teams app
	// for her and delivered them.
	received(t, d.Emulator, adele.ObjectID, func(a emulator.ActivityNotification) bool { return a.ActivityType == "ticketComment" })
	received(t, d.Emulator, adele.ObjectID, func(a emulator.ActivityNotification) bool { return a.ActivityType == "deskReply" })
	if !d.Emulator.TeamsAppInstalled(d.TenantID, adele.ObjectID, d.PublishedAppID) {
		t.Fatal("the Teams app was not installed for Adele")
	}

	sa := browserSignIn(t, d, adele.ObjectID)
	sx := browserSignIn(t, d, alex.ObjectID)
	la := dialLive(t, api+"/live", nil, sa) // Adele has the workbench open; Alex does not

	var tickets struct{ Tickets []struct{ ID int64 } }
	call(t, c, "GET", api+"/tickets", sa, nil, &tickets)
	if len(tickets.Tickets) == 0 {
		t.Fatal("no seeded tickets")
	}
	tk := tickets.Tickets[0].ID

	// A staff comment on Adele's ticket: live to Adele, and to Teams.
	cc, csrf := consoleLogin(t, d)
	if st := call(t, cc, "POST", d.URL+"/api/console/tickets/"+strconv.FormatInt(tk, 10)+"/comments", "", map[string]string{"body": "We found the cause."}, nil, "X-CSRF-Token", csrf); st != http.StatusCreated {
		t.Fatalf("staff comment: %d", st)
	}
	n, ok := la.nextNotification(10 * time.Second)
	if !ok || n.Kind != "ticketComment" || n.TicketID == nil || *n.TicketID != tk || !strings.Contains(n.Text, "We found the cause.") {
		t.Fatalf("live notification %+v %v", n, ok)
	}
	a := received(t, d.Emulator, adele.ObjectID, func(a emulator.ActivityNotification) bool { return a.ChainID == n.ID })
	if a.ActivityType != "ticketComment" || a.TeamsAppID != d.PublishedAppID ||
		!strings.Contains(a.WebURL, "/l/entity/"+d.PublishedAppID+"/workbench?context=") ||
		!strings.Contains(a.WebURL, url.QueryEscape(`"subEntityId":"ticket-`+strconv.FormatInt(tk, 10)+`"`)) {
		t.Fatalf("Teams notification %+v", a)
	}

	// A desk reply: Alex is not connected and is notified; Adele, connected, is not.
	if st := call(t, cc, "POST", d.URL+"/api/console/orgs/"+strconv.FormatInt(demoOrgID(t, d), 10)+"/messages", "", map[string]string{"body": "Anyone there?", "clientId": "e2e-1"}, nil, "X-CSRF-Token", csrf); st != http.StatusCreated {
		t.Fatalf("desk reply: %d", st)
	}
	received(t, d.Emulator, alex.ObjectID, func(a emulator.ActivityNotification) bool {
		return a.ActivityType == "deskReply" && strings.Contains(a.PreviewText, "Anyone there?")
	})
	var centre struct {
		Notifications []notificationJSON
		Unread        int
	}
	call(t, c, "GET", api+"/notifications", sa, nil, &centre)
	for _, n := range centre.Notifications {
		if n.Kind == "deskReply" && strings.Contains(n.Text, "Anyone there?") {
			t.Fatal("a connected user got a desk-reply notification")
		}
	}

	// The notification centre: unread count, mark one read, then all.
	call(t, c, "GET", api+"/notifications", sx, nil, &centre)
	if centre.Unread == 0 || len(centre.Notifications) == 0 || centre.Notifications[0].KindLabel == "" {
		t.Fatalf("Alex's centre %+v", centre)
	}
	before := centre.Unread
	if st := call(t, c, "POST", api+"/notifications/read", sx, map[string]any{"ids": []int64{centre.Notifications[0].ID}}, nil); st != http.StatusNoContent {
		t.Fatalf("mark read: %d", st)
	}
	call(t, c, "GET", api+"/notifications", sx, nil, &centre)
	if centre.Unread != before-1 || centre.Notifications[0].ReadAt == nil {
		t.Fatalf("after marking one read: %+v", centre)
	}
	call(t, c, "POST", api+"/notifications/read", sx, map[string]any{"ids": []int64{}}, nil)
	if call(t, c, "GET", api+"/notifications", sx, nil, &centre); centre.Unread != 0 {
		t.Fatalf("after marking all read: %d unread", centre.Unread)
	}
	// Another user's notification cannot be marked through one's session.
	call(t, c, "GET", api+"/notifications", sa, nil, &centre)
	adeleUnread := centre.Unread
	call(t, c, "POST", api+"/notifications/read", sx, map[string]any{"ids": []int64{centre.Notifications[0].ID}}, nil)
	if call(t, c, "GET", api+"/notifications", sa, nil, &centre); centre.Unread != adeleUnread {
		t.Fatal("Alex marked Adele's notification read")
	}

	// Preferences: Alex mutes desk replies; the next one stays in the
	// workbench and is not sent to Teams.
	var prefs struct {
		Muted []string
		Kinds []struct{ Type, Description string }
	}
	if st := call(t, c, "PUT", api+"/notifications/preferences", sx, map[string]any{"muted": []string{"deskReply"}}, &prefs); st != 200 || len(prefs.Muted) != 1 || len(prefs.Kinds) != len(desk.ActivityTypes) {
		t.Fatalf("preferences: %d %+v", st, prefs)
	}
	if st := call(t, c, "PUT", api+"/notifications/preferences", sx, map[string]any{"muted": []string{"bogus"}}, nil); st != http.StatusBadRequest {
		t.Fatalf("unknown kind muted: %d", st)
	}
	sent := len(d.Emulator.ActivityNotifications(0))
	call(t, cc, "POST", d.URL+"/api/console/orgs/"+strconv.FormatInt(demoOrgID(t, d), 10)+"/messages", "", map[string]string{"body": "Muted one", "clientId": "e2e-2"}, nil, "X-CSRF-Token", csrf)
	time.Sleep(500 * time.Millisecond)
	call(t, c, "GET", api+"/notifications", sx, nil, &centre)
	if centre.Notifications[0].Delivery != "muted" || len(d.Emulator.ActivityNotifications(0)) != sent {
		t.Fatalf("muted desk reply: %+v (Teams got %d more)", centre.Notifications[0], len(d.Emulator.ActivityNotifications(0))-sent)
	}

	// Watching: Alex watches Adele's ticket and hears of the next change.
	var w struct{ Watching, Requester bool }
	call(t, c, "GET", api+"/tickets/"+strconv.FormatInt(tk, 10)+"/watch", sx, nil, &w)
	if w.Watching || w.Requester {
		t.Fatalf("watch state %+v", w)
	}
	if st := call(t, c, "PUT", api+"/tickets/"+strconv.FormatInt(tk, 10)+"/watch", sx, nil, nil); st != http.StatusNoContent {
		t.Fatalf("watch: %d", st)
	}
	if st := call(t, cc, "PATCH", d.URL+"/api/console/tickets/"+strconv.FormatInt(tk, 10), "", map[string]string{"status": "in_progress"}, nil, "X-CSRF-Token", csrf); st != 200 {
		t.Fatalf("status change: %d", st)
	}
	received(t, d.Emulator, alex.ObjectID, func(a emulator.ActivityNotification) bool { return a.ActivityType == "ticketStatusChanged" })
	call(t, c, "DELETE", api+"/tickets/"+strconv.FormatInt(tk, 10)+"/watch", sx, nil, nil)
	if call(t, c, "GET", api+"/tickets/"+strconv.FormatInt(tk, 10)+"/watch", sx, nil, &w); w.Watching {
		t.Fatal("still watching")
	}

	// The console: Teams delivery per channel, off with the reason and the
	// fix; dead letters with a retry that delivers.
	ctx := context.Background()
	st := d.Service.Store
	must(t, st.SetChannelDelivery(ctx, desk.ChannelDelivery{AppID: d.AppID, Off: true, Reason: "the app registration lacks TeamsActivity.Send", CheckedAt: time.Now()}))
	_, page := get(t, cc, d.URL+"/console/notifications")
	for _, want := range []string{"Teams delivery by channel", "the app registration lacks TeamsActivity.Send", "tamlink setup", "Grant admin consent", "/recheck"} {
		if !strings.Contains(page, want) {
			t.Fatalf("notifications page lacks %q:\n%s", want, page)
		}
	}
	resp, err := cc.PostForm(d.URL+"/console/notifications/channels/"+d.AppID+"/recheck", url.Values{"csrf": {csrf}})
	must(t, err)
	resp.Body.Close()
	if cd, _ := st.ChannelDelivery(ctx, d.AppID); cd.Off {
		t.Fatal("recheck did not turn Teams delivery back on")
	}

	// A notification that died (forced here: Graph refused it for a day).
	call(t, c, "GET", api+"/notifications", sa, nil, &centre)
	dead := centre.Notifications[0].ID
	_, err = st.(interface{ SQL() *sql.DB }).SQL().ExecContext(ctx,
		`UPDATE notifications SET delivery = 'dead', reason = 'gave up after 24h0m0s pending; last error: graph: 503' WHERE id = ?`, dead)
	must(t, err)
	_, page = get(t, cc, d.URL+"/console/notifications")
	if !strings.Contains(page, `data-id="`+strconv.FormatInt(dead, 10)+`"`) || !strings.Contains(page, "graph: 503") {
		t.Fatalf("dead letter not listed:\n%s", page)
	}
	chainBefore := countChain(d.Emulator, dead)
	resp, err = cc.PostForm(d.URL+"/console/notifications/"+strconv.FormatInt(dead, 10)+"/retry", url.Values{"csrf": {csrf}})
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("retry: %d", resp.StatusCode)
	}
	received(t, d.Emulator, adele.ObjectID, func(a emulator.ActivityNotification) bool {
		return a.ChainID == dead && countChain(d.Emulator, dead) > chainBefore
	})

	// The org page: group-wide kinds can be set.
	orgID := demoOrgID(t, d)
	resp, err = cc.PostForm(d.URL+"/console/orgs/"+strconv.FormatInt(orgID, 10)+"/notify", url.Values{"csrf": {csrf}, "group": {"ticketCreated", "slaWarning"}})
	must(t, err)
	resp.Body.Close()
	set, _ := st.OrgNotifySettings(ctx, orgID)
	if len(set.GroupKinds) != 2 {
		t.Fatalf("org settings %v", set.GroupKinds)
	}
	_, page = get(t, cc, d.URL+"/console/orgs/"+strconv.FormatInt(orgID, 10))
	if !strings.Contains(page, `value="slaWarning" checked`) {
		t.Fatal("org page does not show the settings")
	}
}

func demoOrgID(t *testing.T, d *cli.Demo) int64 {
	t.Helper()
	o, err := d.Service.Store.OrgByName(context.Background(), "Contoso Ltd")
	if err != nil {
		t.Fatal(err)
	}
	return o.ID
}

func countChain(e *emulator.Emulator, id int64) int {
	n := 0
	for _, a := range e.ActivityNotifications(0) {
		if a.ChainID == id {
			n++
		}
	}
	return n
}
