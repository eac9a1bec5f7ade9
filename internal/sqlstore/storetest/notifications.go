package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/tamlink/tamlink/internal/desk"
)

// ---- notifications ----

func newTicket(t *testing.T, s desk.Store, orgID int64, requester desk.Actor, title string) desk.Ticket {
	t.Helper()
	tk := desk.Ticket{OrgID: orgID, Title: title, Severity: desk.Sev3, Status: desk.StatusNew, Requester: requester, CreatedAt: t0, UpdatedAt: t0}
	must(t, s.CreateTicket(t.Context(), &tk))
	return tk
}

// usec is t as stores keep it (whole microseconds).
func usec(t time.Time) time.Time { return t.Truncate(time.Microsecond) }

func notificationIDs(ns []desk.Notification) []int64 {
	ids := make([]int64, len(ns))
	for i, n := range ns {
		ids[i] = n.ID
	}
	return ids
}

func testNotifications(t *testing.T, s desk.Store) {
	ctx := t.Context()
	org := newOrg(t, s, "Contoso")
	u := newUser(t, s, org.ID, "u1", "Ursula")
	v := newUser(t, s, org.ID, "u2", "Victor")
	tk := newTicket(t, s, org.ID, userActor(u), "VPN down")

	ns := []desk.Notification{
		{OrgID: org.ID, UserID: u.ID, Kind: desk.NotifyTicketComment, TicketID: tk.ID, ActorName: "Alice", Title: "VPN down",
			Text: "Alice: any news?", Params: []desk.Param{{Name: "ticketTitle", Value: "VPN down"}}, CreatedAt: at(time.Minute), Delivery: desk.DeliveryPending},
		{OrgID: org.ID, UserID: u.ID, Kind: desk.NotifyDeskReply, Title: "Contoso", Text: "Alice: hello", CreatedAt: at(2 * time.Minute), Delivery: desk.DeliveryMuted},
		{OrgID: org.ID, UserID: v.ID, Kind: desk.NotifyTicketCreated, TicketID: tk.ID, Title: "VPN down", CreatedAt: at(3 * time.Minute)},
	}
	must(t, s.Atomic(ctx, func(tx desk.Store) error { return tx.AddNotifications(ctx, ns) }))
	for i, n := range ns {
		if n.ID == 0 {
			t.Fatalf("notification %d: no ID", i)
		}
	}
	if ns[2].Delivery != desk.DeliveryPending || !ns[2].QueuedAt.Equal(usec(ns[2].CreatedAt)) || ns[2].UpdatedAt.IsZero() {
		t.Fatalf("defaults not filled: %+v", ns[2])
	}
	got, err := s.NotificationByID(ctx, ns[0].ID)
	must(t, err)
	wantEqual(t, "NotificationByID", got, ns[0])
	if _, err := s.NotificationByID(ctx, 999999); desk.ErrorCode(err) != desk.ENotFound {
		t.Fatalf("unknown notification: %v", err)
	}

	// Outside a transaction AddNotifications makes its own.
	more := []desk.Notification{{OrgID: org.ID, UserID: u.ID, Kind: desk.NotifyTicketStatus, TicketID: tk.ID, CreatedAt: at(4 * time.Minute)}}
	must(t, s.AddNotifications(ctx, more))

	list, err := s.Notifications(ctx, u.ID, 0, 10)
	must(t, err)
	if want := []int64{more[0].ID, ns[1].ID, ns[0].ID}; !slices.Equal(notificationIDs(list), want) {
		t.Fatalf("Notifications: %v, want newest first %v", notificationIDs(list), want)
	}
	page, err := s.Notifications(ctx, u.ID, ns[1].ID, 10)
	must(t, err)
	if !slices.Equal(notificationIDs(page), []int64{ns[0].ID}) {
		t.Fatalf("page before %d: %v", ns[1].ID, notificationIDs(page))
	}
	if n, err := s.UnreadNotifications(ctx, u.ID); err != nil || n != 3 {
		t.Fatalf("unread %d %v, want 3", n, err)
	}

	// Marking someone else's notification does nothing; own ids, then all.
	must(t, s.MarkNotificationsRead(ctx, u.ID, []int64{ns[2].ID, ns[0].ID}, at(time.Hour)))
	if n, _ := s.UnreadNotifications(ctx, u.ID); n != 2 {
		t.Fatalf("unread after marking one: %d", n)
	}
	if n, _ := s.UnreadNotifications(ctx, v.ID); n != 1 {
		t.Fatalf("another user's notification was marked read")
	}
	got, _ = s.NotificationByID(ctx, ns[0].ID)
	if !got.ReadAt.Equal(usec(at(time.Hour))) {
		t.Fatalf("read_at %v", got.ReadAt)
	}
	must(t, s.MarkNotificationsRead(ctx, u.ID, nil, at(2*time.Hour)))
	if n, _ := s.UnreadNotifications(ctx, u.ID); n != 0 {
		t.Fatalf("unread after marking all: %d", n)
	}
	got, _ = s.NotificationByID(ctx, ns[0].ID)
	if !got.ReadAt.Equal(usec(at(time.Hour))) {
		t.Fatalf("marking all moved an earlier read time: %v", got.ReadAt)
	}

	// Rolled back with its transaction.
	boom := errors.New("boom")
	err = s.Atomic(ctx, func(tx desk.Store) error {
		if err := tx.AddNotifications(ctx, []desk.Notification{{OrgID: org.ID, UserID: v.ID, Kind: desk.NotifyTicketComment, CreatedAt: t0}}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Atomic: %v", err)
	}
	if list, _ := s.Notifications(ctx, v.ID, 0, 10); len(list) != 1 {
		t.Fatalf("rolled back notification stored: %v", notificationIDs(list))
	}
}

func testDeliveries(t *testing.T, s desk.Store) {
	ctx := t.Context()
	org := newOrg(t, s, "Contoso")
	other := newOrg(t, s, "Fabrikam")
	u := newUser(t, s, org.ID, "u1", "Ursula")
	w := newUser(t, s, other.ID, "w1", "Wanda")
	ns := []desk.Notification{
		{OrgID: org.ID, UserID: u.ID, Kind: desk.NotifyTicketComment, CreatedAt: t0},
		{OrgID: org.ID, UserID: u.ID, Kind: desk.NotifyTicketComment, CreatedAt: t0},
		{OrgID: other.ID, UserID: w.ID, Kind: desk.NotifyTicketComment, CreatedAt: t0},
	}
	must(t, s.AddNotifications(ctx, ns))

	ok, err := s.UpdateDelivery(ctx, ns[0].ID, desk.DeliveryUpdate{State: desk.DeliveryPending, Reason: "graph: 503", AddAttempt: true, At: at(time.Second)})
	must(t, err)
	if !ok {
		t.Fatal("failed attempt on a pending notification not recorded")
	}
	ok, err = s.UpdateDelivery(ctx, ns[0].ID, desk.DeliveryUpdate{State: desk.DeliveryDelivered, At: at(2 * time.Second)})
	must(t, err)
	got, _ := s.NotificationByID(ctx, ns[0].ID)
	if !ok || got.Delivery != desk.DeliveryDelivered || got.Attempts != 1 || !got.DeliveredAt.Equal(usec(at(2*time.Second))) || got.Reason != "" {
		t.Fatalf("delivered: %v %+v", ok, got)
	}
	// A final state is final: a late worker cannot change it.
	ok, err = s.UpdateDelivery(ctx, ns[0].ID, desk.DeliveryUpdate{State: desk.DeliveryDead, Reason: "late"})
	must(t, err)
	if got, _ := s.NotificationByID(ctx, ns[0].ID); ok || got.Delivery != desk.DeliveryDelivered {
		t.Fatalf("final state overwritten: %v %+v", ok, got)
	}

	_, err = s.UpdateDelivery(ctx, ns[1].ID, desk.DeliveryUpdate{State: desk.DeliveryDead, Reason: "gave up after 24h: graph: 503", At: at(time.Hour)})
	must(t, err)
	_, err = s.UpdateDelivery(ctx, ns[2].ID, desk.DeliveryUpdate{State: desk.DeliverySkipped, Reason: "app blocked", At: at(time.Hour)})
	must(t, err)

	dead, err := s.Deliveries(ctx, desk.DeliveryFilter{States: []desk.DeliveryState{desk.DeliveryDead, desk.DeliverySkipped}})
	must(t, err)
	if !slices.Equal(notificationIDs(dead), []int64{ns[2].ID, ns[1].ID}) {
		t.Fatalf("dead and skipped: %v", notificationIDs(dead))
	}
	mine, err := s.Deliveries(ctx, desk.DeliveryFilter{States: []desk.DeliveryState{desk.DeliveryDead, desk.DeliverySkipped}, OrgIDs: []int64{org.ID}})
	must(t, err)
	if !slices.Equal(notificationIDs(mine), []int64{ns[1].ID}) || mine[0].Reason != "gave up after 24h: graph: 503" {
		t.Fatalf("filtered by org: %+v", mine)
	}
	if none, _ := s.Deliveries(ctx, desk.DeliveryFilter{OrgIDs: []int64{}}); len(none) != 0 {
		t.Fatal("an empty OrgIDs must select nothing")
	}
	counts, err := s.DeliveryCounts(ctx, nil)
	must(t, err)
	if counts[desk.DeliveryDelivered] != 1 || counts[desk.DeliveryDead] != 1 || counts[desk.DeliverySkipped] != 1 || counts[desk.DeliveryPending] != 0 {
		t.Fatalf("counts %v", counts)
	}
	if c, _ := s.DeliveryCounts(ctx, []int64{other.ID}); c[desk.DeliverySkipped] != 1 || len(c) != 1 {
		t.Fatalf("counts of one org: %v", c)
	}

	must(t, s.RequeueNotification(ctx, ns[1].ID, at(2*time.Hour)))
	got, _ = s.NotificationByID(ctx, ns[1].ID)
	if got.Delivery != desk.DeliveryPending || got.Reason != "" || !got.QueuedAt.Equal(usec(at(2*time.Hour))) {
		t.Fatalf("requeued: %+v", got)
	}
	wantCode(t, s.RequeueNotification(ctx, ns[1].ID, at(3*time.Hour)), desk.EConflict)
	wantCode(t, s.RequeueNotification(ctx, ns[0].ID, at(3*time.Hour)), desk.EConflict)
	wantCode(t, s.RequeueNotification(ctx, 999999, at(3*time.Hour)), desk.ENotFound)
}

func testNotifySettings(t *testing.T, s desk.Store) {
	ctx := t.Context()
	org := newOrg(t, s, "Contoso")
	u := newUser(t, s, org.ID, "u1", "Ursula")
	v := newUser(t, s, org.ID, "u2", "Victor")

	if m, err := s.MutedKinds(ctx, u.ID); err != nil || len(m) != 0 {
		t.Fatalf("muted by default: %v %v", m, err)
	}
	must(t, s.SetMutedKinds(ctx, u.ID, []desk.NotificationKind{desk.NotifyDeskReply, desk.NotifySLAWarning}))
	must(t, s.SetMutedKinds(ctx, u.ID, []desk.NotificationKind{desk.NotifyTicketComment, desk.NotifyDeskReply}))
	m, err := s.MutedKinds(ctx, u.ID)
	must(t, err)
	if !slices.Equal(m, []desk.NotificationKind{desk.NotifyDeskReply, desk.NotifyTicketComment}) {
		t.Fatalf("muted replaced: %v", m)
	}
	must(t, s.SetMutedKinds(ctx, u.ID, nil))
	if m, _ := s.MutedKinds(ctx, u.ID); len(m) != 0 {
		t.Fatalf("muted cleared: %v", m)
	}

	set, err := s.OrgNotifySettings(ctx, org.ID)
	must(t, err)
	if !slices.Equal(set.GroupKinds, desk.DefaultGroupKinds) {
		t.Fatalf("default settings %v", set.GroupKinds)
	}
	must(t, s.SetOrgNotifySettings(ctx, desk.OrgNotifySettings{OrgID: org.ID, GroupKinds: []desk.NotificationKind{}, UpdatedAt: t0}))
	if set, _ := s.OrgNotifySettings(ctx, org.ID); len(set.GroupKinds) != 0 || set.GroupKinds == nil {
		t.Fatalf("explicitly none: %#v", set.GroupKinds)
	}
	must(t, s.SetOrgNotifySettings(ctx, desk.OrgNotifySettings{OrgID: org.ID, GroupKinds: []desk.NotificationKind{desk.NotifyTicketCreated, desk.NotifySLAWarning}, UpdatedAt: t0}))
	if set, _ := s.OrgNotifySettings(ctx, org.ID); !slices.Equal(set.GroupKinds, []desk.NotificationKind{desk.NotifyTicketCreated, desk.NotifySLAWarning}) {
		t.Fatalf("settings %v", set.GroupKinds)
	}
	wantCode(t, s.SetOrgNotifySettings(ctx, desk.OrgNotifySettings{OrgID: 999999, UpdatedAt: t0}), desk.ENotFound)

	tk := newTicket(t, s, org.ID, userActor(u), "VPN down")
	must(t, s.Watch(ctx, tk.ID, v.ID, t0))
	must(t, s.Watch(ctx, tk.ID, v.ID, t0)) // idempotent
	must(t, s.Watch(ctx, tk.ID, u.ID, t0))
	w, err := s.TicketWatchers(ctx, tk.ID)
	must(t, err)
	if !slices.Equal(w, []int64{u.ID, v.ID}) {
		t.Fatalf("watchers %v", w)
	}
	must(t, s.Unwatch(ctx, tk.ID, u.ID))
	if w, _ := s.TicketWatchers(ctx, tk.ID); !slices.Equal(w, []int64{v.ID}) {
		t.Fatalf("after unwatch %v", w)
	}
	wantCode(t, s.Watch(ctx, 999999, v.ID, t0), desk.ENotFound)
}

func testSLAWarnings(t *testing.T, s desk.Store) {
	ctx := t.Context()
	org := newOrg(t, s, "Contoso")
	u := newUser(t, s, org.ID, "u1", "Ursula")
	waiting := newTicket(t, s, org.ID, userActor(u), "waiting")
	answered := newTicket(t, s, org.ID, userActor(u), "answered")
	answered.FirstResponseAt = at(time.Minute)
	must(t, s.UpdateTicket(ctx, &answered))
	closed := newTicket(t, s, org.ID, userActor(u), "closed")
	closed.Status = desk.StatusClosed
	must(t, s.UpdateTicket(ctx, &closed))

	ts, err := s.TicketsAwaitingResponse(ctx, 10)
	must(t, err)
	if !slices.Equal(ticketIDs(ts), []int64{waiting.ID}) {
		t.Fatalf("awaiting response: %v", ticketIDs(ts))
	}
	ok, err := s.ClaimSLAWarning(ctx, waiting.ID, at(time.Hour))
	must(t, err)
	if !ok {
		t.Fatal("first claim refused")
	}
	if ok, _ := s.ClaimSLAWarning(ctx, waiting.ID, at(2*time.Hour)); ok {
		t.Fatal("second claim granted")
	}
	if ts, _ := s.TicketsAwaitingResponse(ctx, 10); len(ts) != 0 {
		t.Fatalf("warned ticket still listed: %v", ticketIDs(ts))
	}
}

func testTeamsReach(t *testing.T, s desk.Store) {
	ctx := t.Context()
	org := newOrg(t, s, "Contoso")
	ch := newChannel(t, s, org.ID, "app-1")
	u := newUser(t, s, org.ID, "u1", "Ursula")

	_, err := s.TeamsRecipient(ctx, ch.AppID, u.ID)
	wantCode(t, err, desk.ENotFound)
	r := desk.TeamsRecipient{AppID: ch.AppID, UserID: u.ID, State: desk.RecipientInstalled, CheckedAt: t0}
	must(t, s.SetTeamsRecipient(ctx, r))
	r.State, r.Reason, r.CheckedAt = desk.RecipientBlocked, "App is blocked by app permission policy.", at(time.Hour)
	must(t, s.SetTeamsRecipient(ctx, r))
	got, err := s.TeamsRecipient(ctx, ch.AppID, u.ID)
	must(t, err)
	wantEqual(t, "TeamsRecipient", got, r)

	c, err := s.ChannelDelivery(ctx, ch.AppID)
	must(t, err)
	if c.Off || !c.CheckedAt.IsZero() || c.AppID != ch.AppID {
		t.Fatalf("default channel delivery %+v", c)
	}
	off := desk.ChannelDelivery{AppID: ch.AppID, Off: true, Reason: "no TeamsActivity.Send", CheckedAt: t0}
	must(t, s.SetChannelDelivery(ctx, off))
	got2, err := s.ChannelDelivery(ctx, ch.AppID)
	must(t, err)
	wantEqual(t, "ChannelDelivery", got2, off)
	all, err := s.ChannelDeliveries(ctx)
	must(t, err)
	if len(all) != 1 || !all[0].Off {
		t.Fatalf("ChannelDeliveries %+v", all)
	}
	wantCode(t, s.SetChannelDelivery(ctx, desk.ChannelDelivery{AppID: "nope", CheckedAt: t0}), desk.ENotFound)
}
