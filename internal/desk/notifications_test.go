package desk_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tamlink/tamlink/internal/desk"
)

type presence map[int64]bool

func (p presence) Connected(id int64) bool { return p[id] }

// inbox is what a user was notified of, oldest first, as kind strings.
func inbox(t *testing.T, f *fixture, u desk.Actor) []string {
	t.Helper()
	ns, _, err := f.svc.Notifications(context.Background(), desk.User{ID: u.ID}, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(ns) - 1; i >= 0; i-- {
		out = append(out, string(ns[i].Kind))
	}
	return out
}

func (f *fixture) second(t *testing.T) desk.Actor {
	t.Helper()
	u, err := f.svc.SignIn(context.Background(), f.ch, desk.Profile{TenantID: f.ch.TenantID, ObjectID: "55555555-5555-4555-8555-555555555555", Name: "Ben", Email: "b@c.example"})
	if err != nil {
		t.Fatal(err)
	}
	return desk.UserActor(u)
}

func TestTicketNotificationRules(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ben := f.second(t)

	// A new ticket concerns the whole group (the default), never its author.
	tk, err := f.svc.CreateTicket(ctx, f.user, f.ch.OrgID, desk.TicketInput{Title: "VPN down", Severity: desk.Sev2})
	must(t, err)
	if got := inbox(t, f, f.user); len(got) != 0 {
		t.Fatalf("author notified of own ticket: %v", got)
	}
	if got := inbox(t, f, ben); !slices.Equal(got, []string{"ticketCreated"}) {
		t.Fatalf("group member: %v", got)
	}

	// A staff comment reaches the requester, not other members.
	_, err = f.svc.Comment(ctx, f.admin, tk.ID, "Looking into it")
	must(t, err)
	if got := inbox(t, f, f.user); !slices.Equal(got, []string{"ticketComment"}) {
		t.Fatalf("requester after staff comment: %v", got)
	}
	if got := inbox(t, f, ben); len(got) != 1 {
		t.Fatalf("non-watcher heard of a comment: %v", got)
	}

	// A customer's comment notifies nobody, and makes them a watcher.
	_, err = f.svc.Comment(ctx, ben, tk.ID, "Same here")
	must(t, err)
	if got := inbox(t, f, f.user); len(got) != 1 {
		t.Fatalf("customer comment notified the requester: %v", got)
	}

	// Status, severity and assignment changes reach requester and watchers.
	st, sev, who := desk.StatusInProgress, desk.Sev1, f.agent.ID
	must(t, f.svc.Store.AssignStaff(ctx, f.ch.OrgID, f.agent.ID)) // an assignee must serve the organisation
	_, _, err = f.svc.ChangeTicket(ctx, f.admin, tk.ID, desk.TicketChange{Status: &st, Severity: &sev, AssigneeID: &who})
	must(t, err)
	want := []string{"ticketComment", "ticketStatusChanged", "ticketSeverityChanged", "ticketAssigned"}
	if got := inbox(t, f, f.user); !slices.Equal(got, want) {
		t.Fatalf("requester: %v, want %v", got, want)
	}
	if got := inbox(t, f, ben); !slices.Equal(got, []string{"ticketCreated", "ticketStatusChanged", "ticketSeverityChanged", "ticketAssigned"}) {
		t.Fatalf("watcher: %v", got)
	}
	// The requester's own change notifies the watcher only.
	sev = desk.Sev2
	_, _, err = f.svc.ChangeTicket(ctx, f.user, tk.ID, desk.TicketChange{Severity: &sev})
	must(t, err)
	if got := inbox(t, f, f.user); len(got) != 4 {
		t.Fatalf("actor notified of own change: %v", got)
	}
	if got := inbox(t, f, ben); len(got) != 5 {
		t.Fatalf("watcher missed the requester's change: %v", got)
	}

	// What the notification says, and what went live to whom.
	ns, unread, err := f.svc.Notifications(ctx, desk.User{ID: f.user.ID}, 0, 10)
	must(t, err)
	if unread != 4 {
		t.Fatalf("unread %d", unread)
	}
	assigned := ns[0]
	if assigned.Kind != desk.NotifyTicketAssigned || assigned.TicketID != tk.ID || assigned.Title != "VPN down" ||
		assigned.Delivery != desk.DeliveryPending || !strings.Contains(assigned.Text, "Gus") || assigned.SubEntityID() != "ticket-"+itoa(tk.ID) {
		t.Fatalf("assignment notification %+v", assigned)
	}
	if !slices.Contains(assigned.Params, desk.Param{Name: "assignee", Value: "Gus"}) {
		t.Fatalf("template parameters %v", assigned.Params)
	}
	live := 0
	for _, ev := range f.pub.events {
		if ev.Type == desk.EventTypeNotification {
			live++
			if ev.Notification == nil || ev.Notification.ID == 0 || ev.OrgID != f.ch.OrgID {
				t.Fatalf("live notification event %+v", ev)
			}
		}
	}
	if live != 4+5 {
		t.Fatalf("%d live notification events, want 9", live)
	}

	must(t, f.svc.MarkNotificationsRead(ctx, desk.User{ID: f.user.ID}, []int64{assigned.ID}))
	if _, unread, _ := f.svc.Notifications(ctx, desk.User{ID: f.user.ID}, 0, 10); unread != 3 {
		t.Fatalf("unread after marking one: %d", unread)
	}
	must(t, f.svc.MarkNotificationsRead(ctx, desk.User{ID: f.user.ID}, nil))
	if _, unread, _ := f.svc.Notifications(ctx, desk.User{ID: f.user.ID}, 0, 10); unread != 0 {
		t.Fatalf("unread after marking all: %d", unread)
	}
}

func TestMutedKindsStayInTheWorkbench(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	u := desk.User{ID: f.user.ID}
	if err := f.svc.SetMutedKinds(ctx, u, []desk.NotificationKind{"nonsense"}); desk.ErrorCode(err) != desk.EInvalid {
		t.Fatalf("unknown kind: %v", err)
	}
	must(t, f.svc.SetMutedKinds(ctx, u, []desk.NotificationKind{desk.NotifyTicketComment, desk.NotifyTicketComment}))
	tk, err := f.svc.CreateTicket(ctx, f.user, f.ch.OrgID, desk.TicketInput{Title: "Quota"})
	must(t, err)
	_, err = f.svc.Comment(ctx, f.admin, tk.ID, "Approved")
	must(t, err)
	ns, _, err := f.svc.Notifications(ctx, u, 0, 10)
	must(t, err)
	if len(ns) != 1 || ns[0].Delivery != desk.DeliveryMuted {
		t.Fatalf("muted comment: %+v", ns)
	}
	if m, _ := f.svc.MutedKinds(ctx, u); !slices.Equal(m, []desk.NotificationKind{desk.NotifyTicketComment}) {
		t.Fatalf("muted %v", m)
	}
}

func TestDeskReplyOnlyToThoseNotConnected(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ben := f.second(t)
	f.svc.Presence = presence{f.user.ID: true}

	_, err := f.svc.SendMessage(ctx, f.admin, f.ch.OrgID, "We are on it", "c1")
	must(t, err)
	_, err = f.svc.SendMessage(ctx, f.admin, f.ch.OrgID, "We are on it", "c1") // a retry: stored once
	must(t, err)
	_, err = f.svc.SendMessage(ctx, ben, f.ch.OrgID, "thanks", "c2") // customers' messages notify nobody
	must(t, err)
	if got := inbox(t, f, f.user); len(got) != 0 {
		t.Fatalf("connected user notified: %v", got)
	}
	if got := inbox(t, f, ben); !slices.Equal(got, []string{"deskReply"}) {
		t.Fatalf("disconnected user: %v", got)
	}
	ns, _, _ := f.svc.Notifications(ctx, desk.User{ID: ben.ID}, 0, 1)
	if ns[0].Title != "Contoso" || ns[0].TicketID != 0 || ns[0].SubEntityID() != "conversation" || ns[0].Text != "Ada: We are on it" {
		t.Fatalf("desk reply %+v", ns[0])
	}
}

func TestSLAWarnings(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tk, err := f.svc.CreateTicket(ctx, f.user, f.ch.OrgID, desk.TicketInput{Title: "Outage", Severity: desk.Sev1})
	must(t, err)
	answered, err := f.svc.CreateTicket(ctx, f.user, f.ch.OrgID, desk.TicketInput{Title: "Other", Severity: desk.Sev1})
	must(t, err)
	_, err = f.svc.Comment(ctx, f.admin, answered.ID, "on it")
	must(t, err)

	f.now = f.now.Add(44 * time.Minute) // Sev 1: warn at 45 of 60 minutes
	if n, err := f.svc.WarnSLA(ctx); err != nil || n != 0 {
		t.Fatalf("early: %d %v", n, err)
	}
	f.now = f.now.Add(2 * time.Minute)
	if n, err := f.svc.WarnSLA(ctx); err != nil || n != 1 {
		t.Fatalf("due: %d %v", n, err)
	}
	if n, _ := f.svc.WarnSLA(ctx); n != 0 {
		t.Fatal("warned twice")
	}
	ns, _, _ := f.svc.Notifications(ctx, desk.User{ID: f.user.ID}, 0, 10)
	var sla []desk.Notification
	for _, n := range ns {
		if n.Kind == desk.NotifySLAWarning {
			sla = append(sla, n)
		}
	}
	if len(sla) != 1 || sla[0].TicketID != tk.ID || !strings.Contains(sla[0].Text, "due by") {
		t.Fatalf("SLA warnings %+v", sla)
	}
}

func TestNotifySettingsAndRetryAccess(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if err := f.svc.SetOrgNotifySettings(ctx, f.user, f.ch.OrgID, nil); desk.ErrorCode(err) != desk.EForbidden {
		t.Fatalf("customer changed settings: %v", err)
	}
	if err := f.svc.SetOrgNotifySettings(ctx, f.agent, f.ch.OrgID, nil); desk.ErrorCode(err) != desk.ENotFound {
		t.Fatalf("unassigned agent: %v", err)
	}
	must(t, f.svc.SetOrgNotifySettings(ctx, f.admin, f.ch.OrgID, []desk.NotificationKind{desk.NotifyTicketStatus}))
	set, err := f.svc.OrgNotifySettings(ctx, f.admin, f.ch.OrgID)
	must(t, err)
	if !slices.Equal(set.GroupKinds, []desk.NotificationKind{desk.NotifyTicketStatus}) {
		t.Fatalf("settings %v", set.GroupKinds)
	}
	ben := f.second(t)
	tk, err := f.svc.CreateTicket(ctx, f.user, f.ch.OrgID, desk.TicketInput{Title: "x"})
	must(t, err)
	if got := inbox(t, f, ben); len(got) != 0 {
		t.Fatalf("ticketCreated no longer group-wide: %v", got)
	}
	st := desk.StatusOpen
	_, _, err = f.svc.ChangeTicket(ctx, f.admin, tk.ID, desk.TicketChange{Status: &st})
	must(t, err)
	if got := inbox(t, f, ben); !slices.Equal(got, []string{"ticketStatusChanged"}) {
		t.Fatalf("status group-wide: %v", got)
	}

	ns, _, _ := f.svc.Notifications(ctx, desk.User{ID: ben.ID}, 0, 1)
	if err := f.svc.RetryDelivery(ctx, f.admin, ns[0].ID); desk.ErrorCode(err) != desk.EConflict {
		t.Fatalf("retrying a pending delivery: %v", err)
	}
	if _, err := f.svc.Store.UpdateDelivery(ctx, ns[0].ID, desk.DeliveryUpdate{State: desk.DeliveryDead, Reason: "gave up"}); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.RetryDelivery(ctx, f.agent, ns[0].ID); desk.ErrorCode(err) != desk.ENotFound {
		t.Fatalf("unassigned agent retried: %v", err)
	}
	if err := f.svc.RetryDelivery(ctx, f.user, ns[0].ID); desk.ErrorCode(err) != desk.EForbidden {
		t.Fatalf("customer retried: %v", err)
	}
	dead, err := f.svc.Deliveries(ctx, f.admin, []desk.DeliveryState{desk.DeliveryDead}, 10)
	must(t, err)
	if len(dead) != 1 || dead[0].Reason != "gave up" {
		t.Fatalf("dead letters %+v", dead)
	}
	if d, _ := f.svc.Deliveries(ctx, f.agent, []desk.DeliveryState{desk.DeliveryDead}, 10); len(d) != 0 {
		t.Fatalf("agent sees another organisation's dead letters")
	}
	must(t, f.svc.RetryDelivery(ctx, f.admin, ns[0].ID))
	if n, _ := f.svc.Store.NotificationByID(ctx, ns[0].ID); n.Delivery != desk.DeliveryPending {
		t.Fatalf("after retry %s", n.Delivery)
	}
}

func TestWatch(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ben := f.second(t)
	tk, err := f.svc.CreateTicket(ctx, f.user, f.ch.OrgID, desk.TicketInput{Title: "x"})
	must(t, err)
	bu := desk.User{ID: ben.ID, OrgID: ben.OrgID, Name: ben.Name}
	must(t, f.svc.Watch(ctx, bu, tk.ID, true))
	if w, _ := f.svc.Watching(ctx, bu, tk); !w {
		t.Fatal("not watching")
	}
	_, err = f.svc.Comment(ctx, f.admin, tk.ID, "hi")
	must(t, err)
	if got := inbox(t, f, ben); !slices.Equal(got, []string{"ticketCreated", "ticketComment"}) {
		t.Fatalf("watcher: %v", got)
	}
	must(t, f.svc.Watch(ctx, bu, tk.ID, false))
	if w, _ := f.svc.Watching(ctx, bu, tk); w {
		t.Fatal("still watching")
	}
	other := desk.User{ID: 999, OrgID: 999}
	if err := f.svc.Watch(ctx, other, tk.ID, true); desk.ErrorCode(err) != desk.ENotFound {
		t.Fatalf("another organisation's ticket: %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// A staff member who assigns a ticket to themselves is not named twice
// ("Assigned to Taylor (Taylor)", seen in the first-use trial).
func TestAssignToSelfText(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tk, err := f.svc.CreateTicket(ctx, f.user, f.ch.OrgID, desk.TicketInput{Title: "t"})
	must(t, err)
	me := f.admin.ID
	_, _, err = f.svc.ChangeTicket(ctx, f.admin, tk.ID, desk.TicketChange{AssigneeID: &me})
	must(t, err)
	ns, _, err := f.svc.Notifications(ctx, desk.User{ID: f.user.ID}, 0, 10)
	must(t, err)
	if len(ns) == 0 || ns[0].Text != "Ada took the ticket" {
		t.Fatalf("notification %+v", ns)
	}
}
