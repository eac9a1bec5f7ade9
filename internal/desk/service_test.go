package desk_test

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tamlink/tamlink/internal/desk"
	"github.com/tamlink/tamlink/internal/secretbox"
	"github.com/tamlink/tamlink/internal/sqlstore"
)

type recorder struct{ events []desk.Event }

func (r *recorder) Publish(ev desk.Event) { r.events = append(r.events, ev) }

type fixture struct {
	svc   *desk.Service
	pub   *recorder
	ch    desk.Channel
	user  desk.Actor
	admin desk.Actor
	agent desk.Actor
	now   time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	box, _ := secretbox.New(bytes.Repeat([]byte{1}, 32))
	f := &fixture{pub: &recorder{}, now: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	f.svc = &desk.Service{Store: db, Publisher: f.pub, Sealer: box, InviteKey: []byte("k"), Now: func() time.Time { return f.now }}
	f.ch, err = f.svc.AddChannel(ctx, desk.ChannelConfig{AppID: "11111111-1111-4111-8111-111111111111", AppSecret: "s3cret~value",
		TenantID: "22222222-2222-4222-8222-222222222222", TeamsPublishedAppID: "33333333-3333-4333-8333-333333333333"}, "Contoso", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	u, err := f.svc.SignIn(ctx, f.ch, desk.Profile{TenantID: f.ch.TenantID, ObjectID: "44444444-4444-4444-8444-444444444444", Name: "Adele", Email: "a@c.example"})
	if err != nil {
		t.Fatal(err)
	}
	f.user = desk.UserActor(u)
	adm, _ := f.svc.AddStaff(ctx, "admin@desk.example", "Ada", "h", true)
	agt, _ := f.svc.AddStaff(ctx, "agent@desk.example", "Gus", "h", false)
	f.admin, f.agent = desk.StaffActor(adm), desk.StaffActor(agt)
	return f
}

func TestSignInRefusesOtherTenant(t *testing.T) {
	f := newFixture(t)
	_, err := f.svc.SignIn(context.Background(), f.ch, desk.Profile{TenantID: "99999999-9999-4999-8999-999999999999", ObjectID: "x"})
	if desk.ErrorCode(err) != desk.EForbidden {
		t.Fatalf("got %v", err)
	}
}

func TestChannelSecretSealed(t *testing.T) {
	f := newFixture(t)
	if bytes.Contains(f.ch.SealedSecret, []byte("s3cret~value")) {
		t.Fatal("secret stored in plaintext")
	}
	if s, err := f.svc.ChannelSecret(f.ch); err != nil || s != "s3cret~value" {
		t.Fatalf("ChannelSecret = %q, %v", s, err)
	}
}

func TestAgentSeesOnlyAssignedOrgs(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.svc.SendMessage(ctx, f.agent, f.ch.OrgID, "hi", ""); desk.ErrorCode(err) != desk.ENotFound {
		t.Fatalf("unassigned agent posted: %v", err)
	}
	tk, err := f.svc.CreateTicket(ctx, f.user, f.ch.OrgID, desk.TicketInput{Title: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.Ticket(ctx, f.agent, tk.ID); desk.ErrorCode(err) != desk.ENotFound {
		t.Fatalf("unassigned agent read a ticket: %v", err)
	}
	if ts, _ := f.svc.Tickets(ctx, f.agent, desk.TicketFilter{}); len(ts) != 0 {
		t.Fatalf("unassigned agent lists %d tickets", len(ts))
	}
	if err := f.svc.Store.AssignStaff(ctx, f.ch.OrgID, f.agent.ID); err != nil {
		t.Fatal(err)
	}
	if ts, _ := f.svc.Tickets(ctx, f.agent, desk.TicketFilter{}); len(ts) != 1 {
		t.Fatalf("assigned agent lists %d tickets", len(ts))
	}
}

func TestTicketLifecycle(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, bad := range []desk.TicketInput{{Title: " "}, {Title: strings.Repeat("x", 201)}, {Title: "t", Severity: "sev9"}} {
		if _, err := f.svc.CreateTicket(ctx, f.user, f.ch.OrgID, bad); desk.ErrorCode(err) != desk.EInvalid {
			t.Errorf("%+v: %v", bad, err)
		}
	}
	tk, err := f.svc.CreateTicket(ctx, f.user, f.ch.OrgID, desk.TicketInput{Title: "Outage", Description: "down", Severity: desk.Sev1})
	if err != nil {
		t.Fatal(err)
	}
	if got := tk.ResponseDue(); !got.Equal(f.now.Add(time.Hour)) {
		t.Fatalf("sev1 response due %v", got)
	}
	f.now = f.now.Add(10 * time.Minute)
	inProgress, sev2 := desk.StatusInProgress, desk.Sev2
	aid := f.admin.ID
	tk2, evs, err := f.svc.ChangeTicket(ctx, f.admin, tk.ID, desk.TicketChange{Status: &inProgress, Severity: &sev2, AssigneeID: &aid})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 3 || tk2.AssigneeName != "Ada" || tk2.FirstResponseAt.IsZero() {
		t.Fatalf("change: %d events, %+v", len(evs), tk2)
	}
	// The same change again changes nothing and records nothing.
	if _, evs, _ := f.svc.ChangeTicket(ctx, f.admin, tk.ID, desk.TicketChange{Status: &inProgress}); len(evs) != 0 {
		t.Fatalf("no-op change recorded %d events", len(evs))
	}
	resolved := desk.StatusResolved
	if _, _, err := f.svc.ChangeTicket(ctx, f.user, tk.ID, desk.TicketChange{Status: &resolved}); desk.ErrorCode(err) != desk.EForbidden {
		t.Fatalf("customer resolved: %v", err)
	}
	if _, _, err := f.svc.ChangeTicket(ctx, f.user, tk.ID, desk.TicketChange{AssigneeID: &aid}); desk.ErrorCode(err) != desk.EForbidden {
		t.Fatalf("customer assigned: %v", err)
	}
	waiting := desk.StatusWaitingOnCustomer
	f.svc.ChangeTicket(ctx, f.admin, tk.ID, desk.TicketChange{Status: &waiting})
	if _, err := f.svc.Comment(ctx, f.user, tk.ID, "here are the logs"); err != nil {
		t.Fatal(err)
	}
	got, timeline, _ := f.svc.Ticket(ctx, f.user, tk.ID)
	if got.Status != desk.StatusOpen {
		t.Fatalf("customer reply did not hand the ticket back: %s", got.Status)
	}
	kinds := ""
	for _, e := range timeline {
		kinds += string(e.Kind) + " "
	}
	if kinds != "created status severity assignee status comment " {
		t.Fatalf("timeline %q", kinds)
	}
	// Every committed change was published once.
	n := 0
	for _, e := range f.pub.events {
		if e.Type == desk.EventTypeTicket {
			n++
		}
	}
	if n != len(timeline) {
		t.Fatalf("published %d ticket events for %d timeline entries", n, len(timeline))
	}
}

func TestMessages(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.svc.SendMessage(ctx, f.user, f.ch.OrgID, "  ", ""); desk.ErrorCode(err) != desk.EInvalid {
		t.Fatal("empty message accepted")
	}
	if _, err := f.svc.SendMessage(ctx, f.user, f.ch.OrgID, strings.Repeat("é", desk.MaxMessageLen+1), ""); desk.ErrorCode(err) != desk.EInvalid {
		t.Fatal("oversized message accepted")
	}
	if _, err := f.svc.SendMessage(ctx, f.user, f.ch.OrgID+1, "other org", ""); desk.ErrorCode(err) != desk.ENotFound {
		t.Fatal("user posted into another organisation")
	}
	m1, _ := f.svc.SendMessage(ctx, f.user, f.ch.OrgID, "hello", "k1")
	m2, _ := f.svc.SendMessage(ctx, f.user, f.ch.OrgID, "hello", "k1")
	if m1.ID != m2.ID || len(f.pub.events) != 1 {
		t.Fatalf("idempotent send: %d %d, %d events", m1.ID, m2.ID, len(f.pub.events))
	}
	if n, _ := f.svc.Unread(ctx, f.admin, f.ch.OrgID); n != 1 {
		t.Fatalf("staff unread %d", n)
	}
	if n, _ := f.svc.Unread(ctx, f.user, f.ch.OrgID); n != 0 {
		t.Fatalf("own message counted unread: %d", n)
	}
}

func TestInviteRules(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, _, err := f.svc.CreateInvite(ctx, f.user, f.ch, 0, ""); desk.ErrorCode(err) != desk.EForbidden {
		t.Fatal("customer created an invite")
	}
	inv, q, err := f.svc.CreateInvite(ctx, f.admin, f.ch, time.Hour, "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(q, "invite="+inv.ID) {
		t.Fatalf("query %q", q)
	}
	exp := inv.ExpiresAt.Unix()
	sig := q[strings.Index(q, "sig=")+4:]
	u, _ := f.svc.Store.UserByID(ctx, f.user.ID)
	f.now = f.now.Add(2 * time.Hour)
	if err := f.svc.AcceptInvite(ctx, f.ch, u, inv.ID, itoa(exp), sig); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired invite: %v", err)
	}
	f.now = f.now.Add(-2 * time.Hour)
	other := f.ch
	other.AppID = "55555555-5555-4555-8555-555555555555"
	if err := f.svc.AcceptInvite(ctx, other, u, inv.ID, itoa(exp), sig); err == nil {
		t.Fatal("invite used through another channel")
	}
	if err := f.svc.AcceptInvite(ctx, f.ch, u, inv.ID, itoa(exp), sig); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.AcceptInvite(ctx, f.ch, u, inv.ID, itoa(exp), sig); desk.ErrorCode(err) != desk.EConflict {
		t.Fatalf("reused invite: %v", err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
