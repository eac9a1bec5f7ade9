package desk

import (
	"context"
	"time"
)

// Store keeps the desk's data. Implementations return *Error with ENotFound
// for missing rows and EConflict for unique-key violations, so that callers can
// tell "no such thing" from a failure.
type Store interface {
	// Atomic runs fn in one transaction: everything fn does through the
	// Store it is given commits together or not at all.
	Atomic(ctx context.Context, fn func(Store) error) error

	CreateOrg(ctx context.Context, name string) (Org, error)
	OrgByID(ctx context.Context, id int64) (Org, error)
	OrgByName(ctx context.Context, name string) (Org, error)
	ListOrgs(ctx context.Context) ([]Org, error)

	// CreateChannel stores c; a second channel with the same AppID is EConflict.
	CreateChannel(ctx context.Context, c *Channel) error
	ChannelByAppID(ctx context.Context, appID string) (Channel, error)
	ListChannels(ctx context.Context) ([]Channel, error)
	DeleteChannel(ctx context.Context, appID string) error
	SetChannelTest(ctx context.Context, appID string, t ChannelTest) error

	// UpsertUser inserts u or, for an existing (TenantID, ObjectID), updates its
	// profile and LastSeenAt; it fills u.ID and u.CreatedAt.
	UpsertUser(ctx context.Context, u *User) error
	UserByID(ctx context.Context, id int64) (User, error)
	UsersByOrg(ctx context.Context, orgID int64) ([]User, error)

	CreateStaff(ctx context.Context, s *Staff) error // duplicate e-mail is EConflict
	StaffByID(ctx context.Context, id int64) (Staff, error)
	StaffByEmail(ctx context.Context, email string) (Staff, error)
	ListStaff(ctx context.Context) ([]Staff, error)
	SetStaffPassword(ctx context.Context, id int64, hash string) error
	AssignStaff(ctx context.Context, orgID, staffID int64) error // idempotent
	OrgStaff(ctx context.Context, orgID int64) ([]Staff, error)
	StaffOrgIDs(ctx context.Context, staffID int64) ([]int64, error)

	// AddMessage stores m and fills ID and CreatedAt. A message whose
	// (OrgID, author, ClientID) already exists is not stored again: the stored
	// one is returned in m and the result is false.
	AddMessage(ctx context.Context, m *Message) (bool, error)
	// Messages returns up to limit messages of an org older than beforeID
	// (0 = newest), oldest first.
	Messages(ctx context.Context, orgID, beforeID int64, limit int) ([]Message, error)
	MarkRead(ctx context.Context, orgID int64, reader Actor, messageID int64) error
	// Unread counts messages after the reader's mark that others wrote.
	Unread(ctx context.Context, orgID int64, reader Actor) (int, error)

	CreateTicket(ctx context.Context, t *Ticket) error
	TicketByID(ctx context.Context, id int64) (Ticket, error)
	Tickets(ctx context.Context, f TicketFilter) ([]Ticket, error)
	UpdateTicket(ctx context.Context, t *Ticket) error
	AddTicketEvent(ctx context.Context, e *TicketEvent) error
	TicketEvents(ctx context.Context, ticketID int64) ([]TicketEvent, error)

	CreateInvite(ctx context.Context, inv *Invite) error
	InviteByID(ctx context.Context, id string) (Invite, error)
	// UseInvite marks an invite used by userID; using it again is EConflict.
	UseInvite(ctx context.Context, id string, userID int64, at time.Time) error

	CreateSession(ctx context.Context, s *Session) error
	SessionByHash(ctx context.Context, hash []byte) (Session, error)
	DeleteSession(ctx context.Context, hash []byte) error
	DeleteExpired(ctx context.Context, now time.Time) error

	CreateLoginState(ctx context.Context, s *LoginState) error
	// TakeLoginState returns and deletes the state: it can be used once.
	TakeLoginState(ctx context.Context, state string) (LoginState, error)
}

// TicketFilter selects tickets. Zero fields do not filter.
type TicketFilter struct {
	OrgIDs     []int64 // restrict to these orgs (nil = all)
	OrgID      int64
	Status     Status
	OpenOnly   bool
	AssigneeID int64
	Limit      int
}
