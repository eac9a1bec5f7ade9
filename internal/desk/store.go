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
	AssignStaff(ctx context.Context, orgID, staffID int64) error   // idempotent
	UnassignStaff(ctx context.Context, orgID, staffID int64) error // idempotent
	// DeleteStaff removes a staff account with its sessions, tokens and
	// assignments; tickets it was assigned become unassigned.
	DeleteStaff(ctx context.Context, id int64) error
	// DeleteStaffSessions ends every session of a staff member of the given
	// kind (console sign-ins or API tokens).
	DeleteStaffSessions(ctx context.Context, staffID int64, kind SessionKind) error
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

	NotificationStore
}

// NotificationStore keeps notifications, what decides who gets them, and what
// the Teams notifier learned about reaching people (notifications.go).
type NotificationStore interface {
	// AddNotifications stores ns and fills their IDs (and zero CreatedAt,
	// UpdatedAt). Those in DeliveryPending are queued for Teams delivery in
	// the same transaction: an implementation must never commit one without
	// the other. Called outside Atomic, it makes its own transaction.
	AddNotifications(ctx context.Context, ns []Notification) error
	// Notifications returns up to limit of a user's notifications with ids
	// below beforeID (0 = no bound), newest first.
	Notifications(ctx context.Context, userID, beforeID int64, limit int) ([]Notification, error)
	NotificationByID(ctx context.Context, id int64) (Notification, error)
	UnreadNotifications(ctx context.Context, userID int64) (int, error)
	// MarkNotificationsRead marks the user's notifications ids read (all
	// when ids is empty); others' ids are ignored.
	MarkNotificationsRead(ctx context.Context, userID int64, ids []int64, at time.Time) error
	// UpdateDelivery applies u to a notification that is still pending and
	// reports whether it was; a notification in any other state is left alone.
	UpdateDelivery(ctx context.Context, id int64, u DeliveryUpdate) (bool, error)
	// RequeueNotification sets a dead or skipped notification pending again
	// and queues it, in one transaction; any other state is EConflict.
	RequeueNotification(ctx context.Context, id int64, at time.Time) error
	// Deliveries lists notifications by delivery state, newest first.
	Deliveries(ctx context.Context, f DeliveryFilter) ([]Notification, error)
	// DeliveryCounts counts notifications per delivery state (orgIDs as in DeliveryFilter).
	DeliveryCounts(ctx context.Context, orgIDs []int64) (map[DeliveryState]int, error)

	MutedKinds(ctx context.Context, userID int64) ([]NotificationKind, error)
	SetMutedKinds(ctx context.Context, userID int64, kinds []NotificationKind) error
	// OrgNotifySettings returns the organisation's settings, or the defaults
	// (DefaultGroupKinds) when it has none.
	OrgNotifySettings(ctx context.Context, orgID int64) (OrgNotifySettings, error)
	SetOrgNotifySettings(ctx context.Context, s OrgNotifySettings) error

	Watch(ctx context.Context, ticketID, userID int64, at time.Time) error // idempotent
	Unwatch(ctx context.Context, ticketID, userID int64) error
	TicketWatchers(ctx context.Context, ticketID int64) ([]int64, error)

	// TicketsAwaitingResponse returns up to limit open tickets that have no
	// staff response and no SLA warning yet, oldest first.
	TicketsAwaitingResponse(ctx context.Context, limit int) ([]Ticket, error)
	// ClaimSLAWarning records that a ticket's SLA warning is sent; false
	// when it already was.
	ClaimSLAWarning(ctx context.Context, ticketID int64, at time.Time) (bool, error)

	// TeamsRecipient is ENotFound until SetTeamsRecipient records one.
	TeamsRecipient(ctx context.Context, appID string, userID int64) (TeamsRecipient, error)
	SetTeamsRecipient(ctx context.Context, r TeamsRecipient) error
	// ChannelDelivery returns the channel's Teams delivery status (on, with
	// a zero CheckedAt, when nothing was recorded).
	ChannelDelivery(ctx context.Context, appID string) (ChannelDelivery, error)
	SetChannelDelivery(ctx context.Context, c ChannelDelivery) error
	ChannelDeliveries(ctx context.Context) ([]ChannelDelivery, error)
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
