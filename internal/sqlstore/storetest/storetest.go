// Package storetest is the contract test suite of desk.Store. Each storage
// implementation runs it from its own tests:
//
//	func TestStore(t *testing.T) {
//		storetest.RunStoreSuite(t, func(t *testing.T) desk.Store { ... a new, empty store ... })
//	}
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tamlink/tamlink/internal/desk"
)

// RunStoreSuite runs every contract test against stores made by open. open is
// called once per subtest and must return a new, empty store, closing it in a
// t.Cleanup of its own.
func RunStoreSuite(t *testing.T, open func(t *testing.T) desk.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s desk.Store)
	}{
		{"Orgs", testOrgs},
		{"Channels", testChannels},
		{"DeleteChannel", testDeleteChannel},
		{"Users", testUsers},
		{"Staff", testStaff},
		{"AssignStaff", testAssignStaff},
		{"RemoveStaff", testRemoveStaff},
		{"Messages", testMessages},
		{"MessageIdempotency", testMessageIdempotency},
		{"MessagePagination", testMessagePagination},
		{"Unread", testUnread},
		{"Tickets", testTickets},
		{"TicketFilters", testTicketFilters},
		{"TicketEvents", testTicketEvents},
		{"Invites", testInvites},
		{"Sessions", testSessions},
		{"LoginStates", testLoginStates},
		{"Atomic", testAtomic},
		{"Times", testTimes},
		{"Concurrency", testConcurrency},
		{"Notifications", testNotifications},
		{"Deliveries", testDeliveries},
		{"NotifySettings", testNotifySettings},
		{"SLAWarnings", testSLAWarnings},
		{"TeamsReach", testTeamsReach},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

// t0 is the suite's clock: in a non-UTC zone and with nanoseconds, so that
// stores have something to normalise.
var t0 = time.Date(2030, 5, 6, 7, 8, 9, 123456789, time.FixedZone("UTC+2", 2*3600))

func at(d time.Duration) time.Time { return t0.Add(d) }

// ---- helpers ----

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := desk.ErrorCode(err); got != code {
		t.Fatalf("error %v: code %q, want %q", err, got, code)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

var timeType = reflect.TypeFor[time.Time]()

// same compares two values field by field; times compare as instants to the
// microsecond, and a nil slice equals an empty one.
func same(a, b reflect.Value) bool {
	if a.Type() == timeType {
		x, y := a.Interface().(time.Time), b.Interface().(time.Time)
		return x.Truncate(time.Microsecond).Equal(y.Truncate(time.Microsecond))
	}
	switch a.Kind() {
	case reflect.Struct:
		for i := range a.NumField() {
			if !same(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return same(a.Elem(), b.Elem())
	case reflect.Slice:
		if a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !same(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a.Interface(), b.Interface())
}

func wantEqual[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !same(reflect.ValueOf(got), reflect.ValueOf(want)) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func newOrg(t *testing.T, s desk.Store, name string) desk.Org {
	t.Helper()
	o, err := s.CreateOrg(t.Context(), name)
	must(t, err)
	return o
}

func newChannel(t *testing.T, s desk.Store, orgID int64, appID string) desk.Channel {
	t.Helper()
	c := desk.Channel{
		AppID: appID, TenantID: "tenant-" + appID, TeamsPublishedAppID: "pub-" + appID,
		PublishedIDKind: desk.PublishedIDCatalogApp, OrgID: orgID, SealedSecret: []byte{0, 1, 2, 0xff},
		SecretExpiresAt: at(90 * 24 * time.Hour), CreatedAt: t0, UpdatedAt: t0,
	}
	must(t, s.CreateChannel(t.Context(), &c))
	return c
}

func newUser(t *testing.T, s desk.Store, orgID int64, objectID, name string) desk.User {
	t.Helper()
	u := desk.User{
		OrgID: orgID, TenantID: fmt.Sprintf("tenant-%d", orgID), ObjectID: objectID, Name: name,
		Email: objectID + "@example.com", HomeTenantID: fmt.Sprintf("tenant-%d", orgID), LastSeenAt: t0,
	}
	must(t, s.UpsertUser(t.Context(), &u))
	return u
}

func newStaff(t *testing.T, s desk.Store, email, name string, admin bool) desk.Staff {
	t.Helper()
	st := desk.Staff{Email: email, Name: name, PasswordHash: "hash-" + name, Admin: admin, CreatedAt: t0}
	must(t, s.CreateStaff(t.Context(), &st))
	return st
}

func userActor(u desk.User) desk.Actor {
	return desk.Actor{Kind: desk.ActorUser, ID: u.ID, Name: u.Name, OrgID: u.OrgID}
}

func staffActor(st desk.Staff) desk.Actor {
	return desk.Actor{Kind: desk.ActorStaff, ID: st.ID, Name: st.Name}
}

func addMessage(t *testing.T, s desk.Store, orgID int64, a desk.Actor, body string) desk.Message {
	t.Helper()
	m := desk.Message{OrgID: orgID, Author: a, Body: body, CreatedAt: t0}
	fresh, err := s.AddMessage(t.Context(), &m)
	must(t, err)
	if !fresh {
		t.Fatalf("message %q not fresh", body)
	}
	return m
}

func messageIDs(ms []desk.Message) []int64 {
	ids := make([]int64, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	return ids
}

func ticketIDs(ts []desk.Ticket) []int64 {
	ids := make([]int64, len(ts))
	for i, x := range ts {
		ids[i] = x.ID
	}
	return ids
}

// ---- organisations and channels ----

func testOrgs(t *testing.T, s desk.Store) {
	ctx := t.Context()
	orgs, err := s.ListOrgs(ctx)
	must(t, err)
	if len(orgs) != 0 {
		t.Fatalf("new store has orgs %v", orgs)
	}
	c := newOrg(t, s, "Contoso")
	if c.ID == 0 || c.Name != "Contoso" || c.CreatedAt.IsZero() {
		t.Fatalf("created %+v", c)
	}
	_, err = s.CreateOrg(ctx, "Contoso")
	wantCode(t, err, desk.EConflict)

	got, err := s.OrgByID(ctx, c.ID)
	must(t, err)
	wantEqual(t, "OrgByID", got, c)
	got, err = s.OrgByName(ctx, "Contoso")
	must(t, err)
	wantEqual(t, "OrgByName", got, c)
	_, err = s.OrgByID(ctx, c.ID+1000)
	wantCode(t, err, desk.ENotFound)
	_, err = s.OrgByName(ctx, "contoso")
	wantCode(t, err, desk.ENotFound)

	f := newOrg(t, s, "Fabrikam")
	a := newOrg(t, s, "Adatum")
	orgs, err = s.ListOrgs(ctx)
	must(t, err)
	wantEqual(t, "ListOrgs", orgs, []desk.Org{a, c, f})
}

func testChannels(t *testing.T, s desk.Store) {
	ctx := t.Context()
	org := newOrg(t, s, "Contoso")
	c := newChannel(t, s, org.ID, "app-1")

	got, err := s.ChannelByAppID(ctx, "app-1")
	must(t, err)
	want := c
	want.OrgName = "Contoso"
	wantEqual(t, "ChannelByAppID", got, want)
	if got.LastTest != nil {
		t.Fatalf("untested channel has LastTest %+v", got.LastTest)
	}

	dup := c
	dup.TenantID = "other"
	wantCode(t, s.CreateChannel(ctx, &dup), desk.EConflict)
	orphan := desk.Channel{AppID: "app-orphan", TenantID: "t", OrgID: org.ID + 1000, CreatedAt: t0, UpdatedAt: t0}
	wantCode(t, s.CreateChannel(ctx, &orphan), desk.ENotFound)
	_, err = s.ChannelByAppID(ctx, "app-none")
	wantCode(t, err, desk.ENotFound)

	// Optional fields left empty read back empty.
	bare := desk.Channel{AppID: "app-0", TenantID: "t0", OrgID: org.ID, CreatedAt: t0, UpdatedAt: t0}
	must(t, s.CreateChannel(ctx, &bare))
	got, err = s.ChannelByAppID(ctx, "app-0")
	must(t, err)
	if !got.SecretExpiresAt.IsZero() || len(got.SealedSecret) != 0 || got.LastTest != nil {
		t.Fatalf("bare channel read back as %+v", got)
	}

	test := desk.ChannelTest{At: at(time.Hour), OK: true, Message: "token acquired"}
	must(t, s.SetChannelTest(ctx, "app-1", test))
	got, err = s.ChannelByAppID(ctx, "app-1")
	must(t, err)
	want.LastTest = &test
	wantEqual(t, "after SetChannelTest", got, want)
	fail := desk.ChannelTest{At: at(2 * time.Hour), OK: false, Message: "AADSTS7000215"}
	must(t, s.SetChannelTest(ctx, "app-1", fail))
	got, err = s.ChannelByAppID(ctx, "app-1")
	must(t, err)
	wantEqual(t, "LastTest after failure", got.LastTest, &fail)
	wantCode(t, s.SetChannelTest(ctx, "app-none", test), desk.ENotFound)

	other := newOrg(t, s, "Adatum")
	c2 := newChannel(t, s, other.ID, "app-2")
	list, err := s.ListChannels(ctx)
	must(t, err)
	if len(list) != 3 || list[0].AppID != c2.AppID || list[0].OrgName != "Adatum" {
		t.Fatalf("ListChannels = %+v, want app-2 (Adatum) first of 3", list)
	}
}

func testDeleteChannel(t *testing.T, s desk.Store) {
	ctx := t.Context()
	org := newOrg(t, s, "Contoso")
	newChannel(t, s, org.ID, "app-1")
	keep := newChannel(t, s, org.ID, "app-2")
	u := newUser(t, s, org.ID, "u1", "Ursula")
	st := newStaff(t, s, "sam@desk.example", "Sam", false)
	m := addMessage(t, s, org.ID, userActor(u), "hello")

	// What hangs off the channel does not stop its removal.
	must(t, s.CreateInvite(ctx, &desk.Invite{ID: "inv-1", OrgID: org.ID, AppID: "app-1", CreatedBy: st.ID,
		ExpiresAt: at(time.Hour), CreatedAt: t0}))
	tab := desk.Session{TokenHash: []byte("tab"), Kind: desk.SessionTab, UserID: u.ID, AppID: "app-1",
		CreatedAt: t0, ExpiresAt: at(time.Hour)}
	must(t, s.CreateSession(ctx, &tab))
	console := desk.Session{TokenHash: []byte("console"), Kind: desk.SessionConsole, StaffID: st.ID,
		CSRF: "x", CreatedAt: t0, ExpiresAt: at(time.Hour)}
	must(t, s.CreateSession(ctx, &console))
	must(t, s.CreateLoginState(ctx, &desk.LoginState{State: "st-1", AppID: "app-1", Nonce: "n",
		CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}))

	must(t, s.DeleteChannel(ctx, "app-1"))
	_, err := s.ChannelByAppID(ctx, "app-1")
	wantCode(t, err, desk.ENotFound)
	wantCode(t, s.DeleteChannel(ctx, "app-1"), desk.ENotFound)
	if _, err := s.ChannelByAppID(ctx, keep.AppID); err != nil {
		t.Fatalf("other channel: %v", err)
	}

	// The organisation, its people and history stay; the channel's sign-ins go.
	_, err = s.OrgByID(ctx, org.ID)
	must(t, err)
	_, err = s.UserByID(ctx, u.ID)
	must(t, err)
	ms, err := s.Messages(ctx, org.ID, 0, 10)
	must(t, err)
	wantEqual(t, "messages after channel removal", messageIDs(ms), []int64{m.ID})
	_, err = s.SessionByHash(ctx, []byte("tab"))
	wantCode(t, err, desk.ENotFound)
	_, err = s.SessionByHash(ctx, []byte("console"))
	must(t, err)
	_, err = s.TakeLoginState(ctx, "st-1")
	wantCode(t, err, desk.ENotFound)
}

// ---- people ----

func testUsers(t *testing.T, s desk.Store) {
	ctx := t.Context()
	org := newOrg(t, s, "Contoso")
	other := newOrg(t, s, "Fabrikam")

	u := desk.User{OrgID: org.ID, TenantID: "tid", ObjectID: "oid", Name: "Zoe", Email: "zoe@contoso.example",
		HomeTenantID: "home", LastSeenAt: t0}
	must(t, s.UpsertUser(ctx, &u))
	if u.ID == 0 || u.CreatedAt.IsZero() {
		t.Fatalf("UpsertUser did not fill ID and CreatedAt: %+v", u)
	}
	created := u

	got, err := s.UserByID(ctx, u.ID)
	must(t, err)
	wantEqual(t, "UserByID", got, u)

	// Signing in again updates the profile and LastSeenAt, nothing else.
	again := desk.User{OrgID: other.ID, TenantID: "tid", ObjectID: "oid", Name: "Zoë", Email: "zoe@new.example",
		HomeTenantID: "home2", LastSeenAt: at(time.Hour), CreatedAt: at(time.Hour)}
	must(t, s.UpsertUser(ctx, &again))
	want := desk.User{ID: created.ID, OrgID: org.ID, TenantID: "tid", ObjectID: "oid", Name: "Zoë",
		Email: "zoe@new.example", HomeTenantID: "home2", CreatedAt: created.CreatedAt, LastSeenAt: at(time.Hour)}
	wantEqual(t, "UpsertUser result", again, want)
	got, err = s.UserByID(ctx, u.ID)
	must(t, err)
	wantEqual(t, "UserByID after upsert", got, want)

	_, err = s.UserByID(ctx, u.ID+1000)
	wantCode(t, err, desk.ENotFound)
	bad := desk.User{OrgID: org.ID + 1000, TenantID: "x", ObjectID: "y", LastSeenAt: t0}
	wantCode(t, s.UpsertUser(ctx, &bad), desk.ENotFound)

	// The same object id in another tenant is another person.
	a := newUser(t, s, org.ID, "oid", "Adam")
	newUser(t, s, other.ID, "oid-x", "Xavier")
	users, err := s.UsersByOrg(ctx, org.ID)
	must(t, err)
	wantEqual(t, "UsersByOrg", users, []desk.User{a, got})
	users, err = s.UsersByOrg(ctx, org.ID+1000)
	must(t, err)
	if len(users) != 0 {
		t.Fatalf("UsersByOrg(unknown) = %v", users)
	}
}

func testStaff(t *testing.T, s desk.Store) {
	ctx := t.Context()
	al := desk.Staff{Email: " Alice@Example.COM ", Name: "Alice", PasswordHash: "h1", Admin: true, CreatedAt: t0}
	must(t, s.CreateStaff(ctx, &al))
	if al.ID == 0 || al.Email != "alice@example.com" {
		t.Fatalf("CreateStaff filled %+v", al)
	}
	for _, email := range []string{"alice@example.com", "ALICE@example.com"} {
		dup := desk.Staff{Email: email, Name: "Other", CreatedAt: t0}
		wantCode(t, s.CreateStaff(ctx, &dup), desk.EConflict)
	}
	bob := newStaff(t, s, "bob@example.com", "Bob", false)

	got, err := s.StaffByID(ctx, al.ID)
	must(t, err)
	wantEqual(t, "StaffByID", got, al)
	got, err = s.StaffByEmail(ctx, "ALICE@example.Com")
	must(t, err)
	wantEqual(t, "StaffByEmail", got, al)
	_, err = s.StaffByEmail(ctx, "carol@example.com")
	wantCode(t, err, desk.ENotFound)
	_, err = s.StaffByID(ctx, bob.ID+1000)
	wantCode(t, err, desk.ENotFound)

	list, err := s.ListStaff(ctx)
	must(t, err)
	wantEqual(t, "ListStaff", list, []desk.Staff{al, bob})

	must(t, s.SetStaffPassword(ctx, bob.ID, "new-hash"))
	got, err = s.StaffByID(ctx, bob.ID)
	must(t, err)
	if got.PasswordHash != "new-hash" || got.Admin {
		t.Fatalf("after SetStaffPassword: %+v", got)
	}
	wantCode(t, s.SetStaffPassword(ctx, bob.ID+1000, "x"), desk.ENotFound)
}

func testAssignStaff(t *testing.T, s desk.Store) {
	ctx := t.Context()
	c := newOrg(t, s, "Contoso")
	f := newOrg(t, s, "Fabrikam")
	al := newStaff(t, s, "alice@example.com", "Alice", false)
	bob := newStaff(t, s, "bob@example.com", "Bob", false)
	newStaff(t, s, "root@example.com", "Root", true)

	must(t, s.AssignStaff(ctx, c.ID, bob.ID))
	must(t, s.AssignStaff(ctx, c.ID, al.ID))
	must(t, s.AssignStaff(ctx, c.ID, al.ID)) // idempotent
	must(t, s.AssignStaff(ctx, f.ID, al.ID))
	wantCode(t, s.AssignStaff(ctx, c.ID+1000, al.ID), desk.ENotFound)
	wantCode(t, s.AssignStaff(ctx, c.ID, bob.ID+1000), desk.ENotFound)

	staff, err := s.OrgStaff(ctx, c.ID)
	must(t, err)
	wantEqual(t, "OrgStaff", staff, []desk.Staff{al, bob})
	staff, err = s.OrgStaff(ctx, f.ID)
	must(t, err)
	wantEqual(t, "OrgStaff", staff, []desk.Staff{al})

	ids, err := s.StaffOrgIDs(ctx, al.ID)
	must(t, err)
	slices.Sort(ids)
	wantEqual(t, "StaffOrgIDs", ids, []int64{c.ID, f.ID})
	ids, err = s.StaffOrgIDs(ctx, bob.ID+1000)
	must(t, err)
	if len(ids) != 0 {
		t.Fatalf("StaffOrgIDs(unknown) = %v", ids)
	}
}

// ---- conversation ----

func testMessages(t *testing.T, s desk.Store) {
	ctx := t.Context()
	org := newOrg(t, s, "Contoso")
	u := newUser(t, s, org.ID, "u1", "Ursula")
	st := newStaff(t, s, "sam@desk.example", "Sam", true)

	m1 := desk.Message{OrgID: org.ID, Author: userActor(u), Body: "printer on fire", ClientID: "c-1", CreatedAt: t0}
	fresh, err := s.AddMessage(ctx, &m1)
	must(t, err)
	if !fresh || m1.ID == 0 {
		t.Fatalf("AddMessage: fresh=%v %+v", fresh, m1)
	}
	m2 := addMessage(t, s, org.ID, staffActor(st), "have you tried water?")
	m3 := addMessage(t, s, org.ID, desk.Actor{Kind: desk.ActorSystem, Name: "tamlink"}, "Ursula joined.")
	if !(m1.ID < m2.ID && m2.ID < m3.ID) {
		t.Fatalf("ids not increasing: %d %d %d", m1.ID, m2.ID, m3.ID)
	}

	// History keeps the name the author had when writing.
	renamed := desk.User{OrgID: org.ID, TenantID: u.TenantID, ObjectID: u.ObjectID, Name: "Ursula K.", LastSeenAt: t0}
	must(t, s.UpsertUser(ctx, &renamed))

	ms, err := s.Messages(ctx, org.ID, 0, 10)
	must(t, err)
	wantEqual(t, "Messages", ms, []desk.Message{m1, m2, m3})
	if ms[0].Author.Name != "Ursula" || ms[0].Author.OrgID != org.ID {
		t.Fatalf("user author read back as %+v", ms[0].Author)
	}

	orphan := desk.Message{OrgID: org.ID + 1000, Author: userActor(u), Body: "x", CreatedAt: t0}
	_, err = s.AddMessage(ctx, &orphan)
	wantCode(t, err, desk.ENotFound)

	ms, err = s.Messages(ctx, org.ID+1000, 0, 10)
	must(t, err)
	if len(ms) != 0 {
		t.Fatalf("Messages(unknown org) = %v", ms)
	}
}

func testMessageIdempotency(t *testing.T, s desk.Store) {
	ctx := t.Context()
	org := newOrg(t, s, "Contoso")
	other := newOrg(t, s, "Fabrikam")
	ann := desk.Actor{Kind: desk.ActorUser, ID: 1, Name: "Ann", OrgID: org.ID}
	ben := desk.Actor{Kind: desk.ActorUser, ID: 2, Name: "Ben", OrgID: org.ID}
	staff1 := desk.Actor{Kind: desk.ActorStaff, ID: 1, Name: "Sam"}

	first := desk.Message{OrgID: org.ID, Author: ann, Body: "hello", ClientID: "k1", CreatedAt: t0}
	fresh, err := s.AddMessage(ctx, &first)
	must(t, err)
	if !fresh {
		t.Fatal("first message not fresh")
	}

	retry := desk.Message{OrgID: org.ID, Author: ann, Body: "hello (retry)", ClientID: "k1", CreatedAt: at(time.Minute)}
	fresh, err = s.AddMessage(ctx, &retry)
	must(t, err)
	if fresh {
		t.Fatal("retry stored again")
	}
	wantEqual(t, "retry returns the stored message", retry, first)

	// The key is per organisation and author (kind and id).
	for _, m := range []desk.Message{
		{OrgID: org.ID, Author: ben, Body: "b", ClientID: "k1", CreatedAt: t0},
		{OrgID: org.ID, Author: staff1, Body: "s", ClientID: "k1", CreatedAt: t0},
		{OrgID: other.ID, Author: ann, Body: "o", ClientID: "k1", CreatedAt: t0},
		{OrgID: org.ID, Author: ann, Body: "n1", CreatedAt: t0},
		{OrgID: org.ID, Author: ann, Body: "n2", CreatedAt: t0}, // no key: always stored
	} {
		fresh, err := s.AddMessage(ctx, &m)
		must(t, err)
		if !fresh || m.ID == first.ID {
			t.Fatalf("message %q: fresh=%v id=%d", m.Body, fresh, m.ID)
		}
	}
	ms, err := s.Messages(ctx, org.ID, 0, 100)
	must(t, err)
	if len(ms) != 5 {
		t.Fatalf("org has %d messages, want 5", len(ms))
	}

	// A retry inside a transaction behaves the same and does not spoil it.
	err = s.Atomic(ctx, func(tx desk.Store) error {
		m := desk.Message{OrgID: org.ID, Author: ann, Body: "again", ClientID: "k1", CreatedAt: t0}
		fresh, err := tx.AddMessage(ctx, &m)
		if err != nil {
			return err
		}
		if fresh || m.ID != first.ID {
			return fmt.Errorf("retry in tx: fresh=%v id=%d", fresh, m.ID)
		}
		n := desk.Message{OrgID: org.ID, Author: ann, Body: "more", ClientID: "k2", CreatedAt: t0}
		_, err = tx.AddMessage(ctx, &n)
		return err
	})
	must(t, err)
}

func testMessagePagination(t *testing.T, s desk.Store) {
	ctx := t.Context()
	org := newOrg(t, s, "Contoso")
	other := newOrg(t, s, "Fabrikam")
	a := desk.Actor{Kind: desk.ActorStaff, ID: 1, Name: "Sam"}
	var ids []int64
	for i := range 25 {
		ids = append(ids, addMessage(t, s, org.ID, a, fmt.Sprint("m", i)).ID)
		addMessage(t, s, other.ID, a, fmt.Sprint("other", i))
	}

	page, err := s.Messages(ctx, org.ID, 0, 10)
	must(t, err)
	wantEqual(t, "newest page", messageIDs(page), ids[15:])
	page, err = s.Messages(ctx, org.ID, page[0].ID, 10)
	must(t, err)
	wantEqual(t, "second page", messageIDs(page), ids[5:15])
	page, err = s.Messages(ctx, org.ID, page[0].ID, 10)
	must(t, err)
	wantEqual(t, "last page", messageIDs(page), ids[:5])
	page, err = s.Messages(ctx, org.ID, page[0].ID, 10)
	must(t, err)
	if len(page) != 0 {
		t.Fatalf("before the first message: %v", messageIDs(page))
	}
	// beforeID need not be an id of the org's.
	page, err = s.Messages(ctx, org.ID, ids[20]+1, 3)
	must(t, err)
	wantEqual(t, "before an arbitrary id", messageIDs(page), ids[18:21])
	// A limit ≤ 0 means a default page, not nothing.
	page, err = s.Messages(ctx, org.ID, 0, 0)
	must(t, err)
	if len(page) == 0 || page[len(page)-1].ID != ids[24] {
		t.Fatalf("default limit page: %v", messageIDs(page))
	}
}

func testUnread(t *testing.T, s desk.Store) {
	ctx := t.Context()
	org := newOrg(t, s, "Contoso")
	other := newOrg(t, s, "Fabrikam")
	// A user and a staff member with the same id are different readers.
	user := desk.Actor{Kind: desk.ActorUser, ID: 7, Name: "Ursula", OrgID: org.ID}
	staff := desk.Actor{Kind: desk.ActorStaff, ID: 7, Name: "Sam"}
	sys := desk.Actor{Kind: desk.ActorSystem, Name: "tamlink"}

	unread := func(r desk.Actor) int {
		t.Helper()
		n, err := s.Unread(ctx, org.ID, r)
		must(t, err)
		return n
	}
	if n := unread(user); n != 0 {
		t.Fatalf("empty group: unread %d", n)
	}
	addMessage(t, s, org.ID, user, "u1")
	addMessage(t, s, org.ID, user, "u2")
	addMessage(t, s, org.ID, staff, "s1")
	addMessage(t, s, org.ID, sys, "sys")
	last := addMessage(t, s, org.ID, staff, "s2")
	addMessage(t, s, other.ID, staff, "elsewhere")

	if n := unread(user); n != 3 {
		t.Fatalf("user unread %d, want 3 (never read; own messages do not count)", n)
	}
	if n := unread(staff); n != 3 {
		t.Fatalf("staff unread %d, want 3", n)
	}

	must(t, s.MarkRead(ctx, org.ID, user, last.ID))
	if n := unread(user); n != 0 {
		t.Fatalf("after MarkRead: unread %d", n)
	}
	if n := unread(staff); n != 3 {
		t.Fatalf("another reader's mark changed staff unread to %d", n)
	}
	addMessage(t, s, org.ID, staff, "s3")
	addMessage(t, s, org.ID, user, "u3")
	if n := unread(user); n != 1 {
		t.Fatalf("after one more: unread %d", n)
	}
	// Marks only move forward.
	must(t, s.MarkRead(ctx, org.ID, user, last.ID-3))
	if n := unread(user); n != 1 {
		t.Fatalf("after an older mark: unread %d", n)
	}
	must(t, s.MarkRead(ctx, org.ID, staff, last.ID))
	if n := unread(staff); n != 1 {
		t.Fatalf("staff after mark: unread %d, want 1", n)
	}
	n, err := s.Unread(ctx, other.ID, user)
	must(t, err)
	if n != 1 {
		t.Fatalf("other org: unread %d, want 1", n)
	}
	wantCode(t, s.MarkRead(ctx, org.ID+1000, user, 1), desk.ENotFound)
}

// ---- tickets ----

func testTickets(t *testing.T, s desk.Store) {
	ctx := t.Context()
	org := newOrg(t, s, "Contoso")
	u := newUser(t, s, org.ID, "u1", "Ursula")
	al := newStaff(t, s, "alice@example.com", "Alice", false)

	tk := desk.Ticket{
		OrgID: org.ID, Title: "VPN down", Description: "since 9am", Severity: desk.Sev2,
		Status: desk.StatusNew, Requester: userActor(u), ExternalID: "INC-1", CreatedAt: t0, UpdatedAt: t0,
	}
	must(t, s.CreateTicket(ctx, &tk))
	if tk.ID == 0 {
		t.Fatal("CreateTicket did not fill ID")
	}
	got, err := s.TicketByID(ctx, tk.ID)
	must(t, err)
	wantEqual(t, "TicketByID", got, tk)
	if !got.FirstResponseAt.IsZero() || got.AssigneeID != 0 || got.AssigneeName != "" {
		t.Fatalf("new ticket: %+v", got)
	}
	_, err = s.TicketByID(ctx, tk.ID+1000)
	wantCode(t, err, desk.ENotFound)

	// Requester names are kept as they were.
	renamed := desk.User{OrgID: org.ID, TenantID: u.TenantID, ObjectID: u.ObjectID, Name: "Ursula K.", LastSeenAt: t0}
	must(t, s.UpsertUser(ctx, &renamed))

	got.Status = desk.StatusInProgress
	got.Severity = desk.Sev1
	got.Title = "VPN down for everyone"
	got.Description = "since 8am"
	got.ExternalID = "INC-2"
	got.AssigneeID, got.AssigneeName = al.ID, "Alice"
	got.UpdatedAt = at(time.Hour)
	got.FirstResponseAt = at(time.Hour)
	must(t, s.UpdateTicket(ctx, &got))
	again, err := s.TicketByID(ctx, tk.ID)
	must(t, err)
	wantEqual(t, "after UpdateTicket", again, got)
	if again.Requester.Name != "Ursula" || again.Requester.OrgID != org.ID || again.CreatedAt.IsZero() {
		t.Fatalf("requester after update: %+v", again.Requester)
	}

	// The assignee's name is the staff member's current one.
	again.AssigneeName = "stale"
	again.UpdatedAt = at(2 * time.Hour)
	must(t, s.UpdateTicket(ctx, &again))
	got, err = s.TicketByID(ctx, tk.ID)
	must(t, err)
	if got.AssigneeName != "Alice" {
		t.Fatalf("assignee name %q, want Alice", got.AssigneeName)
	}

	got.AssigneeID, got.AssigneeName = 0, "Alice"
	must(t, s.UpdateTicket(ctx, &got))
	got, err = s.TicketByID(ctx, tk.ID)
	must(t, err)
	if got.AssigneeID != 0 || got.AssigneeName != "" {
		t.Fatalf("unassigned ticket: %d %q", got.AssigneeID, got.AssigneeName)
	}

	got.AssigneeID = al.ID + 1000
	wantCode(t, s.UpdateTicket(ctx, &got), desk.ENotFound)
	missing := got
	missing.ID = tk.ID + 1000
	missing.AssigneeID = 0
	wantCode(t, s.UpdateTicket(ctx, &missing), desk.ENotFound)
	bad := tk
	bad.ID, bad.OrgID = 0, org.ID+1000
	wantCode(t, s.CreateTicket(ctx, &bad), desk.ENotFound)
}

func testTicketFilters(t *testing.T, s desk.Store) {
	ctx := t.Context()
	a := newOrg(t, s, "A")
	b := newOrg(t, s, "B")
	c := newOrg(t, s, "C")
	x := newStaff(t, s, "x@example.com", "X", false)
	y := newStaff(t, s, "y@example.com", "Y", false)
	req := desk.Actor{Kind: desk.ActorSystem, Name: "tamlink"}

	mk := func(org desk.Org, status desk.Status, assignee int64, updated time.Duration) desk.Ticket {
		t.Helper()
		tk := desk.Ticket{OrgID: org.ID, Title: fmt.Sprint(org.Name, status), Severity: desk.Sev3, Status: status,
			Requester: req, AssigneeID: assignee, CreatedAt: t0, UpdatedAt: at(updated)}
		must(t, s.CreateTicket(ctx, &tk))
		return tk
	}
	a1 := mk(a, desk.StatusNew, 0, 5*time.Minute)
	a2 := mk(a, desk.StatusOpen, x.ID, 9*time.Minute)
	a3 := mk(a, desk.StatusResolved, x.ID, 1*time.Minute)
	b1 := mk(b, desk.StatusInProgress, y.ID, 7*time.Minute)
	b2 := mk(b, desk.StatusClosed, 0, 3*time.Minute)
	c1 := mk(c, desk.StatusWaitingOnCustomer, x.ID, 8*time.Minute)
	c2 := mk(c, desk.StatusOpen, 0, 8*time.Minute) // same time as c1: newer id first

	for _, tc := range []struct {
		name string
		f    desk.TicketFilter
		want []desk.Ticket
	}{
		{"all", desk.TicketFilter{}, []desk.Ticket{a2, c2, c1, b1, a1, b2, a3}},
		{"org", desk.TicketFilter{OrgID: a.ID}, []desk.Ticket{a2, a1, a3}},
		{"orgs", desk.TicketFilter{OrgIDs: []int64{a.ID, c.ID}}, []desk.Ticket{a2, c2, c1, a1, a3}},
		{"no orgs", desk.TicketFilter{OrgIDs: []int64{}}, nil},
		{"org and orgs", desk.TicketFilter{OrgIDs: []int64{a.ID, b.ID}, OrgID: b.ID}, []desk.Ticket{b1, b2}},
		{"status", desk.TicketFilter{Status: desk.StatusOpen}, []desk.Ticket{a2, c2}},
		{"open", desk.TicketFilter{OpenOnly: true}, []desk.Ticket{a2, c2, c1, b1, a1}},
		{"assignee", desk.TicketFilter{AssigneeID: x.ID}, []desk.Ticket{a2, c1, a3}},
		{"open of assignee in orgs", desk.TicketFilter{OrgIDs: []int64{a.ID, b.ID}, OpenOnly: true, AssigneeID: x.ID},
			[]desk.Ticket{a2}},
		{"status and open", desk.TicketFilter{Status: desk.StatusClosed, OpenOnly: true}, nil},
		{"limit", desk.TicketFilter{Limit: 2}, []desk.Ticket{a2, c2}},
		{"unknown org", desk.TicketFilter{OrgID: c.ID + 1000}, nil},
	} {
		got, err := s.Tickets(ctx, tc.f)
		must(t, err)
		wantEqual(t, tc.name, ticketIDs(got), ticketIDs(tc.want))
	}

	got, err := s.Tickets(ctx, desk.TicketFilter{AssigneeID: y.ID})
	must(t, err)
	if len(got) != 1 || got[0].AssigneeName != "Y" {
		t.Fatalf("listed ticket lacks assignee name: %+v", got)
	}

	// The default limit is 200.
	for range 201 {
		mk(b, desk.StatusNew, 0, time.Hour)
	}
	got, err = s.Tickets(ctx, desk.TicketFilter{})
	must(t, err)
	if len(got) != 200 {
		t.Fatalf("default limit: %d tickets, want 200", len(got))
	}
}

func testTicketEvents(t *testing.T, s desk.Store) {
	ctx := t.Context()
	org := newOrg(t, s, "Contoso")
	other := newOrg(t, s, "Fabrikam")
	u := newUser(t, s, org.ID, "u1", "Ursula")
	al := newStaff(t, s, "alice@example.com", "Alice", false)
	tk := desk.Ticket{OrgID: org.ID, Title: "t", Severity: desk.Sev3, Status: desk.StatusNew,
		Requester: userActor(u), CreatedAt: t0, UpdatedAt: t0}
	must(t, s.CreateTicket(ctx, &tk))

	evs := []desk.TicketEvent{
		{TicketID: tk.ID, OrgID: org.ID, Kind: desk.EventCreated, Actor: userActor(u), To: "new", CreatedAt: t0},
		{TicketID: tk.ID, Kind: desk.EventComment, Actor: staffActor(al), Body: "on it", CreatedAt: at(time.Minute)},
		{TicketID: tk.ID, Kind: desk.EventStatus, Actor: staffActor(al), From: "new", To: "open", CreatedAt: at(time.Minute)},
	}
	for i := range evs {
		must(t, s.AddTicketEvent(ctx, &evs[i]))
		if evs[i].ID == 0 || evs[i].OrgID != org.ID {
			t.Fatalf("AddTicketEvent filled %+v", evs[i])
		}
	}
	got, err := s.TicketEvents(ctx, tk.ID)
	must(t, err)
	wantEqual(t, "TicketEvents", got, evs)

	wantCode(t, s.AddTicketEvent(ctx, &desk.TicketEvent{TicketID: tk.ID + 1000, Kind: desk.EventComment,
		Actor: staffActor(al), CreatedAt: t0}), desk.ENotFound)
	wantCode(t, s.AddTicketEvent(ctx, &desk.TicketEvent{TicketID: tk.ID, OrgID: other.ID, Kind: desk.EventComment,
		Actor: staffActor(al), CreatedAt: t0}), desk.ENotFound)
	got, err = s.TicketEvents(ctx, tk.ID+1000)
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("events of unknown ticket: %v", got)
	}
}

// ---- access ----

func testInvites(t *testing.T, s desk.Store) {
	ctx := t.Context()
	org := newOrg(t, s, "Contoso")
	newChannel(t, s, org.ID, "app-1")
	st := newStaff(t, s, "sam@desk.example", "Sam", false)
	u := newUser(t, s, org.ID, "u1", "Ursula")

	inv := desk.Invite{ID: "inv-1", OrgID: org.ID, AppID: "app-1", CreatedBy: st.ID, Note: "for the CFO",
		ExpiresAt: at(7 * 24 * time.Hour), CreatedAt: t0}
	must(t, s.CreateInvite(ctx, &inv))
	got, err := s.InviteByID(ctx, "inv-1")
	must(t, err)
	wantEqual(t, "InviteByID", got, inv)
	if !got.UsedAt.IsZero() || got.UsedBy != 0 {
		t.Fatalf("new invite is used: %+v", got)
	}
	dup := inv
	wantCode(t, s.CreateInvite(ctx, &dup), desk.EConflict)
	_, err = s.InviteByID(ctx, "inv-none")
	wantCode(t, err, desk.ENotFound)
	orphan := desk.Invite{ID: "inv-x", OrgID: org.ID, AppID: "app-none", CreatedAt: t0}
	wantCode(t, s.CreateInvite(ctx, &orphan), desk.ENotFound)

	must(t, s.UseInvite(ctx, "inv-1", u.ID, at(time.Hour)))
	got, err = s.InviteByID(ctx, "inv-1")
	must(t, err)
	inv.UsedAt, inv.UsedBy = at(time.Hour), u.ID
	wantEqual(t, "used invite", got, inv)
	err = s.UseInvite(ctx, "inv-1", u.ID, at(2*time.Hour))
	wantCode(t, err, desk.EConflict)
	wantCode(t, s.UseInvite(ctx, "inv-none", u.ID, t0), desk.ENotFound)

	// Optional fields may be empty.
	bare := desk.Invite{ID: "inv-2", OrgID: org.ID, CreatedAt: t0}
	must(t, s.CreateInvite(ctx, &bare))
	got, err = s.InviteByID(ctx, "inv-2")
	must(t, err)
	wantEqual(t, "bare invite", got, bare)

	// Of concurrent uses exactly one wins.
	must(t, s.CreateInvite(ctx, &desk.Invite{ID: "inv-3", OrgID: org.ID, CreatedAt: t0}))
	results := make([]error, 8)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() { results[i] = s.UseInvite(ctx, "inv-3", u.ID, t0) })
	}
	wg.Wait()
	wins := 0
	for _, err := range results {
		switch desk.ErrorCode(err) {
		case "":
			wins++
		case desk.EConflict:
		default:
			t.Fatalf("concurrent UseInvite: %v", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d concurrent uses won, want 1", wins)
	}
}

func testSessions(t *testing.T, s desk.Store) {
	ctx := t.Context()
	org := newOrg(t, s, "Contoso")
	newChannel(t, s, org.ID, "app-1")
	u := newUser(t, s, org.ID, "u1", "Ursula")
	st := newStaff(t, s, "sam@desk.example", "Sam", false)

	tab := desk.Session{TokenHash: []byte{0xde, 0xad, 0, 0xbe, 0xef}, Kind: desk.SessionTab, UserID: u.ID,
		AppID: "app-1", CreatedAt: t0, ExpiresAt: at(time.Hour)}
	console := desk.Session{TokenHash: []byte("console-hash"), Kind: desk.SessionConsole, StaffID: st.ID,
		CSRF: "csrf-token", CreatedAt: t0, ExpiresAt: at(3 * time.Hour)}
	must(t, s.CreateSession(ctx, &tab))
	must(t, s.CreateSession(ctx, &console))

	got, err := s.SessionByHash(ctx, tab.TokenHash)
	must(t, err)
	wantEqual(t, "tab session", got, tab)
	got, err = s.SessionByHash(ctx, console.TokenHash)
	must(t, err)
	wantEqual(t, "console session", got, console)
	_, err = s.SessionByHash(ctx, []byte("none"))
	wantCode(t, err, desk.ENotFound)

	dup := tab
	wantCode(t, s.CreateSession(ctx, &dup), desk.EConflict)
	noExpiry := desk.Session{TokenHash: []byte("x"), Kind: desk.SessionConsole, StaffID: st.ID, CreatedAt: t0}
	wantCode(t, s.CreateSession(ctx, &noExpiry), desk.EInvalid)
	orphan := desk.Session{TokenHash: []byte("y"), Kind: desk.SessionTab, UserID: u.ID + 1000,
		CreatedAt: t0, ExpiresAt: at(time.Hour)}
	wantCode(t, s.CreateSession(ctx, &orphan), desk.ENotFound)

	// DeleteExpired removes what expired by then, inclusive.
	must(t, s.DeleteExpired(ctx, at(time.Hour)))
	_, err = s.SessionByHash(ctx, tab.TokenHash)
	wantCode(t, err, desk.ENotFound)
	_, err = s.SessionByHash(ctx, console.TokenHash)
	must(t, err)

	must(t, s.DeleteSession(ctx, console.TokenHash))
	_, err = s.SessionByHash(ctx, console.TokenHash)
	wantCode(t, err, desk.ENotFound)
	must(t, s.DeleteSession(ctx, console.TokenHash)) // signing out twice is fine
}

func testLoginStates(t *testing.T, s desk.Store) {
	ctx := t.Context()
	org := newOrg(t, s, "Contoso")
	newChannel(t, s, org.ID, "app-1")
	now := time.Now()

	ls := desk.LoginState{State: "state-1", AppID: "app-1", Nonce: "nonce", CodeVerifier: "verifier",
		ReturnTo: "/tickets/7", InviteID: "inv-1", Popup: true, CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)}
	must(t, s.CreateLoginState(ctx, &ls))
	dup := ls
	wantCode(t, s.CreateLoginState(ctx, &dup), desk.EConflict)
	noExpiry := desk.LoginState{State: "state-x", AppID: "app-1"}
	wantCode(t, s.CreateLoginState(ctx, &noExpiry), desk.EInvalid)

	got, err := s.TakeLoginState(ctx, "state-1")
	must(t, err)
	wantEqual(t, "TakeLoginState", got, ls)
	_, err = s.TakeLoginState(ctx, "state-1")
	wantCode(t, err, desk.ENotFound)
	_, err = s.TakeLoginState(ctx, "state-none")
	wantCode(t, err, desk.ENotFound)

	// Expired states are not handed out, and are gone afterwards.
	old := desk.LoginState{State: "state-old", AppID: "app-1", CreatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(-time.Minute)}
	must(t, s.CreateLoginState(ctx, &old))
	_, err = s.TakeLoginState(ctx, "state-old")
	wantCode(t, err, desk.ENotFound)

	// Minimal state, and DeleteExpired.
	bare := desk.LoginState{State: "state-2", CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	must(t, s.CreateLoginState(ctx, &bare))
	must(t, s.DeleteExpired(ctx, now.Add(time.Hour)))
	_, err = s.TakeLoginState(ctx, "state-2")
	wantCode(t, err, desk.ENotFound)

	// Of concurrent callbacks exactly one gets the state.
	must(t, s.CreateLoginState(ctx, &desk.LoginState{State: "state-3", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}))
	results := make([]error, 8)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() { _, results[i] = s.TakeLoginState(ctx, "state-3") })
	}
	wg.Wait()
	wins := 0
	for _, err := range results {
		switch desk.ErrorCode(err) {
		case "":
			wins++
		case desk.ENotFound:
		default:
			t.Fatalf("concurrent TakeLoginState: %v", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d callbacks took the state, want 1", wins)
	}
}

// ---- transactions ----

func testAtomic(t *testing.T, s desk.Store) {
	ctx := t.Context()

	// Commit: everything is there afterwards, and visible inside.
	err := s.Atomic(ctx, func(tx desk.Store) error {
		o, err := tx.CreateOrg(ctx, "Contoso")
		if err != nil {
			return err
		}
		if _, err := tx.OrgByName(ctx, "Contoso"); err != nil {
			return fmt.Errorf("own write not visible: %w", err)
		}
		c := desk.Channel{AppID: "app-1", TenantID: "t", OrgID: o.ID, CreatedAt: t0, UpdatedAt: t0}
		return tx.CreateChannel(ctx, &c)
	})
	must(t, err)
	if _, err := s.ChannelByAppID(ctx, "app-1"); err != nil {
		t.Fatalf("committed channel: %v", err)
	}

	// Rollback: fn's error comes back as it is, and nothing is stored.
	boom := errors.New("boom")
	err = s.Atomic(ctx, func(tx desk.Store) error {
		if _, err := tx.CreateOrg(ctx, "Fabrikam"); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Atomic returned %v, want boom", err)
	}
	_, err = s.OrgByName(ctx, "Fabrikam")
	wantCode(t, err, desk.ENotFound)

	// A store error inside keeps its code and rolls back the rest.
	err = s.Atomic(ctx, func(tx desk.Store) error {
		if _, err := tx.CreateOrg(ctx, "Adatum"); err != nil {
			return err
		}
		_, err := tx.CreateOrg(ctx, "Contoso")
		return err
	})
	wantCode(t, err, desk.EConflict)
	_, err = s.OrgByName(ctx, "Adatum")
	wantCode(t, err, desk.ENotFound)

	// Nested: the inner call joins the outer transaction.
	err = s.Atomic(ctx, func(tx desk.Store) error {
		err := tx.Atomic(ctx, func(inner desk.Store) error {
			_, err := inner.CreateOrg(ctx, "Northwind")
			return err
		})
		if err != nil {
			return err
		}
		if _, err := tx.OrgByName(ctx, "Northwind"); err != nil {
			return fmt.Errorf("inner write not visible in outer: %w", err)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("nested Atomic returned %v", err)
	}
	_, err = s.OrgByName(ctx, "Northwind")
	wantCode(t, err, desk.ENotFound)

	// A panic rolls back and goes on up.
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("panic swallowed")
			}
		}()
		_ = s.Atomic(ctx, func(tx desk.Store) error {
			if _, err := tx.CreateOrg(ctx, "Tailspin"); err != nil {
				return err
			}
			panic("oops")
		})
	}()
	_, err = s.OrgByName(ctx, "Tailspin")
	wantCode(t, err, desk.ENotFound)

	// The store works normally afterwards.
	newOrg(t, s, "Woodgrove")

	// A cancelled context does not commit.
	cctx, cancel := context.WithCancel(ctx)
	err = s.Atomic(cctx, func(tx desk.Store) error {
		if _, err := tx.CreateOrg(cctx, "Litware"); err != nil {
			return err
		}
		cancel()
		return nil
	})
	if err == nil {
		t.Fatal("Atomic with a cancelled context committed")
	}
	_, err = s.OrgByName(ctx, "Litware")
	wantCode(t, err, desk.ENotFound)
}

// testTimes checks that times read back in UTC, to the microsecond, and that
// zero times stay zero.
func testTimes(t *testing.T, s desk.Store) {
	ctx := t.Context()
	org := newOrg(t, s, "Contoso")
	newChannel(t, s, org.ID, "app-1")
	c, err := s.ChannelByAppID(ctx, "app-1")
	must(t, err)
	for name, tm := range map[string]time.Time{
		"org created": org.CreatedAt, "channel created": c.CreatedAt, "channel secret expiry": c.SecretExpiresAt,
	} {
		if tm.Location() != time.UTC {
			t.Errorf("%s in %v, want UTC", name, tm.Location())
		}
	}
	want := t0.UTC().Truncate(time.Microsecond)
	if !c.CreatedAt.Equal(want) || c.CreatedAt.Nanosecond()%1000 != 0 {
		t.Errorf("CreatedAt %v, want %v", c.CreatedAt, want)
	}
	tk := desk.Ticket{OrgID: org.ID, Title: "t", Severity: desk.Sev4, Status: desk.StatusNew,
		Requester: desk.Actor{Kind: desk.ActorSystem}, CreatedAt: t0, UpdatedAt: t0}
	must(t, s.CreateTicket(ctx, &tk))
	got, err := s.TicketByID(ctx, tk.ID)
	must(t, err)
	if !got.FirstResponseAt.IsZero() {
		t.Errorf("zero FirstResponseAt read back as %v", got.FirstResponseAt)
	}
	if got.UpdatedAt.Location() != time.UTC {
		t.Errorf("UpdatedAt in %v", got.UpdatedAt.Location())
	}

	// Zero creation times are filled in.
	m := desk.Message{OrgID: org.ID, Author: desk.Actor{Kind: desk.ActorSystem}, Body: "x"}
	_, err = s.AddMessage(ctx, &m)
	must(t, err)
	if m.CreatedAt.IsZero() || time.Since(m.CreatedAt) > time.Minute {
		t.Errorf("zero CreatedAt filled as %v", m.CreatedAt)
	}
}

// ---- concurrency ----

// testConcurrency has 8 goroutines write at once, some in transactions that
// read before they write (the pattern that deadlocks deferred SQLite
// transactions); none may fail.
func testConcurrency(t *testing.T, s desk.Store) {
	ctx := t.Context()
	org := newOrg(t, s, "Contoso")
	const workers, each = 8, 20
	errs := make(chan error, workers*each*2)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			a := desk.Actor{Kind: desk.ActorUser, ID: int64(w + 1), Name: fmt.Sprint("user", w), OrgID: org.ID}
			for i := range each {
				if i%2 == 0 {
					m := desk.Message{OrgID: org.ID, Author: a, Body: fmt.Sprint(w, "/", i), ClientID: fmt.Sprint("c", i)}
					if _, err := s.AddMessage(ctx, &m); err != nil {
						errs <- err
					}
					if err := s.MarkRead(ctx, org.ID, a, m.ID); err != nil {
						errs <- err
					}
					continue
				}
				err := s.Atomic(ctx, func(tx desk.Store) error {
					if _, err := tx.Unread(ctx, org.ID, a); err != nil {
						return err
					}
					m := desk.Message{OrgID: org.ID, Author: a, Body: fmt.Sprint(w, "/", i), ClientID: fmt.Sprint("c", i)}
					if _, err := tx.AddMessage(ctx, &m); err != nil {
						return err
					}
					return tx.MarkRead(ctx, org.ID, a, m.ID)
				})
				if err != nil {
					errs <- err
				}
			}
			// Everyone retries the same message at once: stored once.
			m := desk.Message{OrgID: org.ID, Author: desk.Actor{Kind: desk.ActorSystem}, Body: "once", ClientID: "same"}
			if _, err := s.AddMessage(ctx, &m); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent write: %v", err)
	}
	ms, err := s.Messages(ctx, org.ID, 0, workers*each+10)
	must(t, err)
	if len(ms) != workers*each+1 {
		t.Fatalf("%d messages stored, want %d", len(ms), workers*each+1)
	}
	for i := 1; i < len(ms); i++ {
		if ms[i].ID <= ms[i-1].ID {
			t.Fatalf("messages out of order at %d", i)
		}
	}
	for w := range workers {
		a := desk.Actor{Kind: desk.ActorUser, ID: int64(w + 1)}
		if _, err := s.Unread(ctx, org.ID, a); err != nil {
			t.Fatal(err)
		}
	}
}

// testRemoveStaff: unassigning, revoking sessions by kind, and deleting a
// staff member with their sessions while their tickets stay, unassigned.
func testRemoveStaff(t *testing.T, s desk.Store) {
	ctx := t.Context()
	c := newOrg(t, s, "Contoso")
	al := newStaff(t, s, "alice@example.com", "Alice", false)
	must(t, s.AssignStaff(ctx, c.ID, al.ID))
	must(t, s.UnassignStaff(ctx, c.ID, al.ID))
	must(t, s.UnassignStaff(ctx, c.ID, al.ID)) // idempotent
	if ids, _ := s.StaffOrgIDs(ctx, al.ID); len(ids) != 0 {
		t.Fatalf("still assigned to %v", ids)
	}
	exp := t0.Add(1000 * time.Hour)
	console := desk.Session{TokenHash: []byte("console-1"), Kind: desk.SessionConsole, StaffID: al.ID, CreatedAt: t0, ExpiresAt: exp}
	api := desk.Session{TokenHash: []byte("api-1"), Kind: desk.SessionAPI, StaffID: al.ID, CreatedAt: t0, ExpiresAt: exp}
	must(t, s.CreateSession(ctx, &console))
	must(t, s.CreateSession(ctx, &api))
	must(t, s.DeleteStaffSessions(ctx, al.ID, desk.SessionAPI))
	if _, err := s.SessionByHash(ctx, api.TokenHash); desk.ErrorCode(err) != desk.ENotFound {
		t.Fatalf("API token survived revocation: %v", err)
	}
	if _, err := s.SessionByHash(ctx, console.TokenHash); err != nil {
		t.Fatalf("console session revoked with the API tokens: %v", err)
	}
	tk := desk.Ticket{OrgID: c.ID, Title: "t", Severity: desk.Sev3, Status: desk.StatusOpen, Requester: desk.Actor{Kind: desk.ActorSystem, Name: "x"},
		AssigneeID: al.ID, AssigneeName: "Alice", CreatedAt: t0, UpdatedAt: t0}
	must(t, s.CreateTicket(ctx, &tk))
	must(t, s.DeleteStaff(ctx, al.ID))
	if _, err := s.StaffByID(ctx, al.ID); desk.ErrorCode(err) != desk.ENotFound {
		t.Fatalf("deleted staff still found: %v", err)
	}
	if _, err := s.SessionByHash(ctx, console.TokenHash); desk.ErrorCode(err) != desk.ENotFound {
		t.Fatalf("deleted staff's session survived: %v", err)
	}
	got, err := s.TicketByID(ctx, tk.ID)
	if err != nil || got.AssigneeID != 0 {
		t.Fatalf("ticket after its assignee left: %+v %v", got, err)
	}
	if err := s.DeleteStaff(ctx, al.ID); desk.ErrorCode(err) != desk.ENotFound {
		t.Fatalf("second delete: %v", err)
	}
}
