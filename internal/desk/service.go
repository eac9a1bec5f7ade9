package desk

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Sealer encrypts secrets at rest.
type Sealer interface {
	Seal(plaintext []byte) ([]byte, error)
	Open(sealed []byte) ([]byte, error)
}

// Publisher delivers events to whoever is connected to an organisation's
// group. Publish must not block on slow receivers.
type Publisher interface {
	Publish(ev Event)
}

// Event types.
const (
	EventTypeMessage = "message"
	EventTypeTicket  = "ticket"
	EventTypeMember  = "member"
	// EventTypeNotification carries a notification for one user
	// (Notification.UserID); subscribers must pass it to that user only.
	EventTypeNotification = "notification"
)

// Event is something connected clients of an organisation should see now.
type Event struct {
	Type        string
	OrgID       int64
	Message     *Message
	Ticket      *Ticket
	TicketEvent *TicketEvent
	User        *User
	// Notification is set for EventTypeNotification.
	Notification *Notification
}

// Service carries the desk's rules. Adapters (web, CLI) call it; it calls the
// Store and the Publisher and nothing else.
type Service struct {
	Store     Store
	Publisher Publisher
	// Presence tells who has the workbench open (desk replies reach Teams
	// only for those who do not); nil counts nobody as connected.
	Presence  Presence
	Sealer    Sealer
	InviteKey []byte // signs invite links
	Now       func() time.Time
	Log       *slog.Logger
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) publish(ev Event) {
	if s.Publisher != nil {
		s.Publisher.Publish(ev)
	}
}

// Limits on what people type.
const (
	MaxMessageLen     = 8000
	MaxTitleLen       = 200
	MaxDescriptionLen = 20000
	MaxOrgNameLen     = 120
)

// ---- access ----

// authorize checks that actor may see orgID. Another organisation's data is
// reported as not found, so that ids cannot be probed.
func (s *Service) authorize(ctx context.Context, a Actor, orgID int64) error {
	switch a.Kind {
	case ActorSystem:
		return nil
	case ActorUser:
		if a.OrgID == orgID && orgID != 0 {
			return nil
		}
	case ActorStaff:
		if a.Admin {
			return nil
		}
		ids, err := s.Store.StaffOrgIDs(ctx, a.ID)
		if err != nil {
			return err
		}
		if slices.Contains(ids, orgID) {
			return nil
		}
	}
	return Errorf(ENotFound, "organisation not found")
}

// VisibleOrgs lists the organisations actor may see.
func (s *Service) VisibleOrgs(ctx context.Context, a Actor) ([]Org, error) {
	orgs, err := s.Store.ListOrgs(ctx)
	if err != nil {
		return nil, err
	}
	var out []Org
	for _, o := range orgs {
		if s.authorize(ctx, a, o.ID) == nil {
			out = append(out, o)
		}
	}
	return out, nil
}

// ---- channels ----

// AddChannel validates cfg, finds or creates the organisation orgName and
// stores the channel with its secret sealed. Nothing is stored on error.
func (s *Service) AddChannel(ctx context.Context, cfg ChannelConfig, orgName string, secretExpiry time.Time) (Channel, error) {
	if err := cfg.Validate(); err != nil {
		return Channel{}, err
	}
	orgName = strings.TrimSpace(orgName)
	if orgName == "" {
		return Channel{}, Invalid("org", "is required: the customer organisation's name")
	}
	if utf8.RuneCountInString(orgName) > MaxOrgNameLen {
		return Channel{}, Invalid("org", "is longer than %d characters", MaxOrgNameLen)
	}
	sealed, err := s.Sealer.Seal([]byte(cfg.AppSecret))
	if err != nil {
		return Channel{}, fmt.Errorf("seal secret: %w", err)
	}
	now := s.now()
	ch := Channel{
		AppID:               cfg.AppID,
		TenantID:            cfg.TenantID,
		TeamsPublishedAppID: cfg.TeamsPublishedAppID,
		PublishedIDKind:     PublishedIDUnknown,
		SealedSecret:        sealed,
		SecretExpiresAt:     secretExpiry,
		OrgName:             orgName,
		CreatedAt:           now,
		UpdatedAt:           now,
	}
	err = s.Store.Atomic(ctx, func(st Store) error {
		if _, err := st.ChannelByAppID(ctx, cfg.AppID); err == nil {
			return &Error{Code: EConflict, Field: "appId", Message: "a channel with this appId already exists"}
		} else if ErrorCode(err) != ENotFound {
			return err
		}
		org, err := st.OrgByName(ctx, orgName)
		if ErrorCode(err) == ENotFound {
			org, err = st.CreateOrg(ctx, orgName)
		}
		if err != nil {
			return err
		}
		// An organisation's users see its whole conversation and every
		// ticket: joining a second tenant to it by a name typed twice would
		// silently share them, so it is refused.
		others, err := st.ListChannels(ctx)
		if err != nil {
			return err
		}
		for _, o := range others {
			if o.OrgID == org.ID && o.TenantID != cfg.TenantID {
				return &Error{Code: EConflict, Field: "org", Message: fmt.Sprintf("organisation %q is already served through tenant %s; choose another name for tenant %s", orgName, o.TenantID, cfg.TenantID)}
			}
		}
		ch.OrgID = org.ID
		return st.CreateChannel(ctx, &ch)
	})
	if err != nil {
		return Channel{}, err
	}
	return ch, nil
}

// Channel returns the channel of appID. The id is normalised, so that any
// capitalisation of the GUID in a URL finds it.
func (s *Service) Channel(ctx context.Context, appID string) (Channel, error) {
	if !IsGUID(appID) {
		return Channel{}, Errorf(ENotFound, "channel not found")
	}
	return s.Store.ChannelByAppID(ctx, strings.ToLower(appID))
}

// Channels lists every channel.
func (s *Service) Channels(ctx context.Context) ([]Channel, error) { return s.Store.ListChannels(ctx) }

// RemoveChannel deletes a channel; its organisation and history stay.
func (s *Service) RemoveChannel(ctx context.Context, appID string) error {
	ch, err := s.Channel(ctx, appID)
	if err != nil {
		return err
	}
	return s.Store.DeleteChannel(ctx, ch.AppID)
}

// ChannelSecret decrypts a channel's client secret for a token request.
func (s *Service) ChannelSecret(ch Channel) (string, error) {
	p, err := s.Sealer.Open(ch.SealedSecret)
	if err != nil {
		return "", fmt.Errorf("open secret of channel %s: %w", ch.AppID, err)
	}
	return string(p), nil
}

// RecordChannelTest stores the outcome of a connection test.
func (s *Service) RecordChannelTest(ctx context.Context, appID string, ok bool, msg string) error {
	return s.Store.SetChannelTest(ctx, appID, ChannelTest{At: s.now(), OK: ok, Message: msg})
}

// ---- people ----

// Profile is what sign-in learned about a customer user.
type Profile struct {
	TenantID, ObjectID, Name, Email, HomeTenantID string
}

// SignIn records a verified user of ch's tenant and makes them a member of the
// organisation's service group.
func (s *Service) SignIn(ctx context.Context, ch Channel, p Profile) (User, error) {
	if !strings.EqualFold(p.TenantID, ch.TenantID) {
		return User{}, Errorf(EForbidden, "user belongs to another tenant")
	}
	if p.ObjectID == "" {
		return User{}, Errorf(EUnauthorized, "identity has no object id")
	}
	u := User{
		OrgID: ch.OrgID, TenantID: strings.ToLower(p.TenantID), ObjectID: strings.ToLower(p.ObjectID),
		Name: p.Name, Email: p.Email, HomeTenantID: strings.ToLower(p.HomeTenantID), LastSeenAt: s.now(),
	}
	if u.HomeTenantID == "" {
		u.HomeTenantID = u.TenantID
	}
	if u.Name == "" {
		u.Name = u.Email
	}
	if err := s.Store.UpsertUser(ctx, &u); err != nil {
		return User{}, err
	}
	return u, nil
}

// UserActor returns the actor for a user.
func UserActor(u User) Actor { return Actor{Kind: ActorUser, ID: u.ID, Name: u.Name, OrgID: u.OrgID} }

// StaffActor returns the actor for a staff member.
func StaffActor(st Staff) Actor {
	return Actor{Kind: ActorStaff, ID: st.ID, Name: st.Name, Admin: st.Admin}
}

// AddStaff creates a staff account; hash is the password hash.
func (s *Service) AddStaff(ctx context.Context, email, name, hash string, admin bool) (Staff, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	if !strings.Contains(email, "@") || len(email) > 254 {
		return Staff{}, Invalid("email", "must be an e-mail address")
	}
	name = strings.TrimSpace(name)
	if name == "" {
		name = email
	}
	st := Staff{Email: email, Name: name, PasswordHash: hash, Admin: admin, CreatedAt: s.now()}
	if err := s.Store.CreateStaff(ctx, &st); err != nil {
		return Staff{}, err
	}
	return st, nil
}

// StaffServing lists the staff who may work on orgID: admins and the staff
// assigned to it.
func (s *Service) StaffServing(ctx context.Context, orgID int64) ([]Staff, error) {
	all, err := s.Store.ListStaff(ctx)
	if err != nil {
		return nil, err
	}
	var out []Staff
	for _, st := range all {
		if s.authorize(ctx, StaffActor(st), orgID) == nil {
			out = append(out, st)
		}
	}
	return out, nil
}

// Members returns an organisation's service group: its users and assigned staff.
func (s *Service) Members(ctx context.Context, a Actor, orgID int64) ([]User, []Staff, error) {
	if err := s.authorize(ctx, a, orgID); err != nil {
		return nil, nil, err
	}
	users, err := s.Store.UsersByOrg(ctx, orgID)
	if err != nil {
		return nil, nil, err
	}
	staff, err := s.Store.OrgStaff(ctx, orgID)
	return users, staff, err
}

// ---- conversation ----

// SendMessage posts body to the organisation's service group. A retry with the
// same clientID returns the stored message instead of posting twice.
func (s *Service) SendMessage(ctx context.Context, a Actor, orgID int64, body, clientID string) (Message, error) {
	if err := s.authorize(ctx, a, orgID); err != nil {
		return Message{}, err
	}
	body = strings.TrimSpace(body)
	if body == "" {
		return Message{}, Invalid("body", "is empty")
	}
	if utf8.RuneCountInString(body) > MaxMessageLen {
		return Message{}, Invalid("body", "is longer than %d characters", MaxMessageLen)
	}
	if len(clientID) > 64 {
		return Message{}, Invalid("clientId", "is longer than 64 characters")
	}
	m := Message{OrgID: orgID, Author: a, Body: body, ClientID: clientID, CreatedAt: s.now()}
	var fresh bool
	var ns []Notification
	err := s.Store.Atomic(ctx, func(st Store) error {
		var err error
		if fresh, err = st.AddMessage(ctx, &m); err != nil || !fresh || a.Kind != ActorStaff {
			return err
		}
		ns, err = s.notifyDeskReply(ctx, st, m)
		return err
	})
	if err != nil {
		return Message{}, err
	}
	if fresh {
		s.publish(Event{Type: EventTypeMessage, OrgID: orgID, Message: &m})
		s.publishNotifications(ns)
	}
	// The sender has read what they wrote.
	_ = s.Store.MarkRead(ctx, orgID, a, m.ID)
	return m, nil
}

// History returns up to limit messages before beforeID (0 = the newest).
func (s *Service) History(ctx context.Context, a Actor, orgID, beforeID int64, limit int) ([]Message, error) {
	if err := s.authorize(ctx, a, orgID); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	return s.Store.Messages(ctx, orgID, beforeID, limit)
}

// MarkRead records that a has read up to messageID.
func (s *Service) MarkRead(ctx context.Context, a Actor, orgID, messageID int64) error {
	if err := s.authorize(ctx, a, orgID); err != nil {
		return err
	}
	return s.Store.MarkRead(ctx, orgID, a, messageID)
}

// Unread counts the messages a has not read in the organisation's group.
func (s *Service) Unread(ctx context.Context, a Actor, orgID int64) (int, error) {
	if err := s.authorize(ctx, a, orgID); err != nil {
		return 0, err
	}
	return s.Store.Unread(ctx, orgID, a)
}

// ---- tickets ----

// TicketInput is what opening a ticket takes.
type TicketInput struct {
	Title       string
	Description string
	Severity    Severity
	ExternalID  string
}

// CreateTicket opens a ticket in orgID; its first timeline entry says so.
func (s *Service) CreateTicket(ctx context.Context, a Actor, orgID int64, in TicketInput) (Ticket, error) {
	if err := s.authorize(ctx, a, orgID); err != nil {
		return Ticket{}, err
	}
	in.Title = strings.TrimSpace(in.Title)
	in.Description = strings.TrimSpace(in.Description)
	switch {
	case in.Title == "":
		return Ticket{}, Invalid("title", "is required")
	case utf8.RuneCountInString(in.Title) > MaxTitleLen:
		return Ticket{}, Invalid("title", "is longer than %d characters", MaxTitleLen)
	case utf8.RuneCountInString(in.Description) > MaxDescriptionLen:
		return Ticket{}, Invalid("description", "is longer than %d characters", MaxDescriptionLen)
	}
	if in.Severity == "" {
		in.Severity = Sev3
	}
	if !in.Severity.Valid() {
		return Ticket{}, Invalid("severity", "must be one of sev1, sev2, sev3, sev4")
	}
	now := s.now()
	t := Ticket{
		OrgID: orgID, Title: in.Title, Description: in.Description, Severity: in.Severity,
		Status: StatusNew, Requester: a, ExternalID: in.ExternalID, CreatedAt: now, UpdatedAt: now,
	}
	ev := TicketEvent{OrgID: orgID, Kind: EventCreated, Actor: a, To: string(StatusNew), CreatedAt: now}
	var ns []Notification
	err := s.Store.Atomic(ctx, func(st Store) error {
		if err := st.CreateTicket(ctx, &t); err != nil {
			return err
		}
		ev.TicketID = t.ID
		if err := st.AddTicketEvent(ctx, &ev); err != nil {
			return err
		}
		var err error
		ns, err = s.notifyTicketEvents(ctx, st, t, []TicketEvent{ev})
		return err
	})
	if err != nil {
		return Ticket{}, err
	}
	s.publish(Event{Type: EventTypeTicket, OrgID: orgID, Ticket: &t, TicketEvent: &ev})
	s.publishNotifications(ns)
	return t, nil
}

// Ticket returns a ticket with its timeline, if a may see it.
func (s *Service) Ticket(ctx context.Context, a Actor, id int64) (Ticket, []TicketEvent, error) {
	t, err := s.Store.TicketByID(ctx, id)
	if err != nil {
		return Ticket{}, nil, err
	}
	if err := s.authorize(ctx, a, t.OrgID); err != nil {
		return Ticket{}, nil, Errorf(ENotFound, "ticket not found")
	}
	evs, err := s.Store.TicketEvents(ctx, id)
	return t, evs, err
}

// Tickets lists tickets a may see, narrowed by f.
func (s *Service) Tickets(ctx context.Context, a Actor, f TicketFilter) ([]Ticket, error) {
	switch {
	case a.Kind == ActorUser:
		f.OrgID, f.OrgIDs = a.OrgID, nil
	case f.OrgID != 0:
		if err := s.authorize(ctx, a, f.OrgID); err != nil {
			return nil, err
		}
	case a.Kind == ActorStaff && !a.Admin:
		ids, err := s.Store.StaffOrgIDs(ctx, a.ID)
		if err != nil {
			return nil, err
		}
		if len(ids) == 0 {
			return nil, nil
		}
		f.OrgIDs = ids
	}
	return s.Store.Tickets(ctx, f)
}

// Comment adds a comment to a ticket's timeline.
func (s *Service) Comment(ctx context.Context, a Actor, ticketID int64, body string) (TicketEvent, error) {
	body = strings.TrimSpace(body)
	if body == "" {
		return TicketEvent{}, Invalid("body", "is empty")
	}
	if utf8.RuneCountInString(body) > MaxDescriptionLen {
		return TicketEvent{}, Invalid("body", "is longer than %d characters", MaxDescriptionLen)
	}
	var t Ticket
	var ns []Notification
	ev := TicketEvent{Kind: EventComment, Actor: a, Body: body, CreatedAt: s.now()}
	err := s.Store.Atomic(ctx, func(st Store) error {
		var err error
		if t, err = s.ticketFor(ctx, st, a, ticketID); err != nil {
			return err
		}
		ev.TicketID, ev.OrgID = t.ID, t.OrgID
		t.UpdatedAt = ev.CreatedAt
		if a.Kind == ActorStaff && t.FirstResponseAt.IsZero() {
			t.FirstResponseAt = ev.CreatedAt
		}
		// A customer answering a ticket that waited on them hands it back to the desk.
		if a.Kind == ActorUser && t.Status == StatusWaitingOnCustomer {
			t.Status = StatusOpen
		}
		if err := st.UpdateTicket(ctx, &t); err != nil {
			return err
		}
		if err := st.AddTicketEvent(ctx, &ev); err != nil {
			return err
		}
		// A customer who joins the discussion hears of what follows.
		if a.Kind == ActorUser && !(t.Requester.Kind == ActorUser && t.Requester.ID == a.ID) {
			if err := st.Watch(ctx, t.ID, a.ID, ev.CreatedAt); err != nil {
				return err
			}
		}
		ns, err = s.notifyTicketEvents(ctx, st, t, []TicketEvent{ev})
		return err
	})
	if err != nil {
		return TicketEvent{}, err
	}
	s.publish(Event{Type: EventTypeTicket, OrgID: t.OrgID, Ticket: &t, TicketEvent: &ev})
	s.publishNotifications(ns)
	return ev, nil
}

func (s *Service) ticketFor(ctx context.Context, st Store, a Actor, id int64) (Ticket, error) {
	t, err := st.TicketByID(ctx, id)
	if err != nil {
		return Ticket{}, err
	}
	if err := s.authorize(ctx, a, t.OrgID); err != nil {
		return Ticket{}, Errorf(ENotFound, "ticket not found")
	}
	return t, nil
}

// TicketChange is a set of changes; nil fields stay as they are.
type TicketChange struct {
	Status     *Status
	Severity   *Severity
	AssigneeID *int64 // 0 unassigns
}

// ChangeTicket applies c, adding one timeline entry per field that changed.
// Customers may change severity and close or reopen their tickets; staff may
// change anything.
func (s *Service) ChangeTicket(ctx context.Context, a Actor, ticketID int64, c TicketChange) (Ticket, []TicketEvent, error) {
	if c.Status != nil && !c.Status.Valid() {
		return Ticket{}, nil, Invalid("status", "must be one of new, open, in_progress, waiting_on_customer, resolved, closed")
	}
	if c.Severity != nil && !c.Severity.Valid() {
		return Ticket{}, nil, Invalid("severity", "must be one of sev1, sev2, sev3, sev4")
	}
	if a.Kind == ActorUser {
		if c.AssigneeID != nil {
			return Ticket{}, nil, &Error{Code: EForbidden, Field: "assignee", Message: "only desk staff assign tickets"}
		}
		if c.Status != nil && *c.Status != StatusClosed && *c.Status != StatusOpen {
			return Ticket{}, nil, &Error{Code: EForbidden, Field: "status", Message: "customers may close or reopen a ticket"}
		}
	}
	var t Ticket
	var evs []TicketEvent
	var ns []Notification
	now := s.now()
	err := s.Store.Atomic(ctx, func(st Store) error {
		var err error
		if t, err = s.ticketFor(ctx, st, a, ticketID); err != nil {
			return err
		}
		add := func(kind EventKind, from, to string) {
			evs = append(evs, TicketEvent{TicketID: t.ID, OrgID: t.OrgID, Kind: kind, Actor: a, From: from, To: to, CreatedAt: now})
		}
		if c.Status != nil && *c.Status != t.Status {
			add(EventStatus, string(t.Status), string(*c.Status))
			t.Status = *c.Status
		}
		if c.Severity != nil && *c.Severity != t.Severity {
			add(EventSeverity, string(t.Severity), string(*c.Severity))
			t.Severity = *c.Severity
		}
		if c.AssigneeID != nil && *c.AssigneeID != t.AssigneeID {
			name := ""
			if *c.AssigneeID != 0 {
				st2, err := st.StaffByID(ctx, *c.AssigneeID)
				if err != nil {
					return &Error{Code: EInvalid, Field: "assignee", Message: "no such staff member"}
				}
				// The assignee must be able to see the ticket.
				if s.authorize(ctx, StaffActor(st2), t.OrgID) != nil {
					return &Error{Code: EInvalid, Field: "assignee", Message: st2.Name + " does not serve this organisation; assign them to it first"}
				}
				name = st2.Name
			}
			add(EventAssignee, t.AssigneeName, name)
			t.AssigneeID, t.AssigneeName = *c.AssigneeID, name
		}
		if len(evs) == 0 {
			return nil
		}
		if a.Kind == ActorStaff && t.FirstResponseAt.IsZero() {
			t.FirstResponseAt = now
		}
		t.UpdatedAt = now
		if err := st.UpdateTicket(ctx, &t); err != nil {
			return err
		}
		for i := range evs {
			if err := st.AddTicketEvent(ctx, &evs[i]); err != nil {
				return err
			}
		}
		ns, err = s.notifyTicketEvents(ctx, st, t, evs)
		return err
	})
	if err != nil {
		return Ticket{}, nil, err
	}
	for i := range evs {
		s.publish(Event{Type: EventTypeTicket, OrgID: t.OrgID, Ticket: &t, TicketEvent: &evs[i]})
	}
	s.publishNotifications(ns)
	return t, evs, nil
}

// ---- invites ----

// CreateInvite makes a signed invite into the group of ch's organisation.
func (s *Service) CreateInvite(ctx context.Context, a Actor, ch Channel, ttl time.Duration, note string) (Invite, string, error) {
	if a.Kind != ActorStaff {
		return Invite{}, "", Errorf(EForbidden, "only desk staff invite people")
	}
	if err := s.authorize(ctx, a, ch.OrgID); err != nil {
		return Invite{}, "", err
	}
	if ttl <= 0 || ttl > 30*24*time.Hour {
		ttl = 7 * 24 * time.Hour
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return Invite{}, "", err
	}
	now := s.now()
	inv := Invite{
		ID: base64.RawURLEncoding.EncodeToString(b[:]), OrgID: ch.OrgID, AppID: ch.AppID,
		CreatedBy: a.ID, Note: strings.TrimSpace(note), CreatedAt: now, ExpiresAt: now.Add(ttl).Truncate(time.Second),
	}
	if err := s.Store.CreateInvite(ctx, &inv); err != nil {
		return Invite{}, "", err
	}
	return inv, s.inviteQuery(inv), nil
}

func (s *Service) inviteSig(id, appID string, exp int64) string {
	m := hmac.New(sha256.New, s.InviteKey)
	fmt.Fprintf(m, "invite|%s|%s|%d", id, appID, exp)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// inviteQuery is the query string of the invite link.
func (s *Service) inviteQuery(inv Invite) string {
	exp := inv.ExpiresAt.Unix()
	return fmt.Sprintf("invite=%s&exp=%d&sig=%s", inv.ID, exp, s.inviteSig(inv.ID, inv.AppID, exp))
}

// CheckInvite verifies an invite link's signature and expiry for ch without
// using it; it is what the landing page shows before sign-in.
func (s *Service) CheckInvite(ctx context.Context, ch Channel, id, exp, sig string) (Invite, error) {
	bad := Errorf(EForbidden, "this invite link is not valid")
	expUnix, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || exp != strconv.FormatInt(expUnix, 10) || id == "" || !hmac.Equal([]byte(sig), []byte(s.inviteSig(id, ch.AppID, expUnix))) {
		return Invite{}, bad
	}
	if s.now().Unix() > expUnix {
		return Invite{}, Errorf(EForbidden, "this invite link has expired; ask your account manager for a new one")
	}
	inv, err := s.Store.InviteByID(ctx, id)
	if err != nil || inv.AppID != ch.AppID || inv.OrgID != ch.OrgID {
		return Invite{}, bad
	}
	if !inv.UsedAt.IsZero() {
		return Invite{}, Errorf(EConflict, "this invite link has already been used")
	}
	return inv, nil
}

// AcceptInvite uses a checked invite for u, a signed-in user of the channel's
// tenant, and tells the group who joined.
func (s *Service) AcceptInvite(ctx context.Context, ch Channel, u User, id, exp, sig string) error {
	if u.OrgID != ch.OrgID || !strings.EqualFold(u.TenantID, ch.TenantID) {
		return Errorf(EForbidden, "this invite is for another organisation")
	}
	if _, err := s.CheckInvite(ctx, ch, id, exp, sig); err != nil {
		return err
	}
	if err := s.Store.UseInvite(ctx, id, u.ID, s.now()); err != nil {
		return err
	}
	s.publish(Event{Type: EventTypeMember, OrgID: u.OrgID, User: &u})
	_, err := s.SendMessage(ctx, Actor{Kind: ActorSystem, Name: "tamlink"}, u.OrgID, u.Name+" joined the service group by invitation.", "invite-"+id)
	return err
}
