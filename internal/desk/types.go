package desk

import (
	"strings"
	"time"
)

// Org is a customer organisation: one Microsoft 365 tenant served by the desk.
type Org struct {
	ID        int64
	Name      string
	CreatedAt time.Time
}

// Channel links one customer tenant's Entra app registration to an Org. It is
// keyed by the app's client id, which appears in every channel URL.
type Channel struct {
	AppID               string // Application (client) ID, lower-case GUID
	TenantID            string // Directory (tenant) ID, lower-case GUID
	TeamsPublishedAppID string // the guide's fourth field; see PublishedIDKind
	PublishedIDKind     string // PublishedIDUnknown, PublishedIDCatalogApp or PublishedIDScope
	OrgID               int64
	OrgName             string
	SealedSecret        []byte    // client secret, encrypted by a Sealer; never shown
	SecretExpiresAt     time.Time // zero when unknown
	CreatedAt           time.Time
	UpdatedAt           time.Time
	LastTest            *ChannelTest
}

// Kinds of GUID found in teamsPublishedAppId. The guide calls the field the
// scope id in one place and the published app's id in another.
const (
	PublishedIDUnknown    = "unknown"
	PublishedIDCatalogApp = "catalog_app"
	PublishedIDScope      = "scope_id"
)

// ChannelTest is the outcome of the last "test connection".
type ChannelTest struct {
	At      time.Time
	OK      bool
	Message string
}

// User is a customer person, keyed by the tenant they signed in to and their
// object id there: (TenantID, ObjectID). A guest is keyed by the host tenant.
type User struct {
	ID           int64
	OrgID        int64
	TenantID     string
	ObjectID     string
	Name         string
	Email        string
	HomeTenantID string // differs from TenantID for guests
	CreatedAt    time.Time
	LastSeenAt   time.Time
}

// Staff is a desk staff member with a local console account.
type Staff struct {
	ID           int64
	Email        string
	Name         string
	PasswordHash string
	Admin        bool // admins see every organisation; agents their assigned ones
	CreatedAt    time.Time
}

// ActorKind tells who did something.
type ActorKind string

// Actor kinds.
const (
	ActorUser   ActorKind = "user"
	ActorStaff  ActorKind = "staff"
	ActorSystem ActorKind = "system"
)

// Actor is whoever acts: a customer user, a staff member or the system.
type Actor struct {
	Kind ActorKind
	ID   int64
	Name string
	// OrgID is the organisation of a user actor; staff have none.
	OrgID int64
	// Admin marks an admin staff member.
	Admin bool
}

// Message is one post in an organisation's service-group conversation.
type Message struct {
	ID        int64
	OrgID     int64
	Author    Actor
	Body      string
	ClientID  string // the sender's idempotency key; a retry with the same key is not stored twice
	CreatedAt time.Time
}

// Severity of a ticket: Sev1 is the most urgent.
type Severity string

// Severities.
const (
	Sev1 Severity = "sev1"
	Sev2 Severity = "sev2"
	Sev3 Severity = "sev3"
	Sev4 Severity = "sev4"
)

// Severities lists the severities from most to least urgent.
var Severities = []Severity{Sev1, Sev2, Sev3, Sev4}

// Valid reports whether s is a known severity.
func (s Severity) Valid() bool {
	for _, v := range Severities {
		if s == v {
			return true
		}
	}
	return false
}

// Label is the human name of a severity.
func (s Severity) Label() string {
	switch s {
	case Sev1:
		return "Sev 1 – critical"
	case Sev2:
		return "Sev 2 – high"
	case Sev3:
		return "Sev 3 – normal"
	case Sev4:
		return "Sev 4 – low"
	}
	return string(s)
}

// SLA targets for the first staff response, by severity.
var FirstResponseSLA = map[Severity]time.Duration{
	Sev1: time.Hour,
	Sev2: 4 * time.Hour,
	Sev3: 24 * time.Hour,
	Sev4: 72 * time.Hour,
}

// Status of a ticket.
type Status string

// Statuses.
const (
	StatusNew               Status = "new"
	StatusOpen              Status = "open"
	StatusInProgress        Status = "in_progress"
	StatusWaitingOnCustomer Status = "waiting_on_customer"
	StatusResolved          Status = "resolved"
	StatusClosed            Status = "closed"
)

// Statuses lists every status in workflow order.
var Statuses = []Status{StatusNew, StatusOpen, StatusInProgress, StatusWaitingOnCustomer, StatusResolved, StatusClosed}

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	for _, v := range Statuses {
		if s == v {
			return true
		}
	}
	return false
}

// Label is the human name of a status.
func (s Status) Label() string {
	r := strings.ReplaceAll(string(s), "_", " ")
	if r == "" {
		return r
	}
	return strings.ToUpper(r[:1]) + r[1:]
}

// Open reports whether a ticket in this status still needs work.
func (s Status) Open() bool { return s != StatusResolved && s != StatusClosed }

// Ticket is a support case of one organisation.
type Ticket struct {
	ID           int64
	OrgID        int64
	Title        string
	Description  string
	Severity     Severity
	Status       Status
	Requester    Actor
	AssigneeID   int64 // 0 when unassigned
	AssigneeName string
	ExternalID   string // id in an operator's own ticket system, if any
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// FirstResponseAt is when staff first answered; zero until then.
	FirstResponseAt time.Time
}

// ResponseDue is when the first staff response is due under the SLA.
func (t Ticket) ResponseDue() time.Time {
	return t.CreatedAt.Add(FirstResponseSLA[t.Severity])
}

// EventKind says what happened to a ticket.
type EventKind string

// Ticket event kinds.
const (
	EventCreated  EventKind = "created"
	EventComment  EventKind = "comment"
	EventStatus   EventKind = "status"
	EventSeverity EventKind = "severity"
	EventAssignee EventKind = "assignee"
)

// TicketEvent is one entry of a ticket's timeline.
type TicketEvent struct {
	ID        int64
	TicketID  int64
	OrgID     int64
	Kind      EventKind
	Actor     Actor
	Body      string // comment text
	From, To  string // old and new value for changes
	CreatedAt time.Time
}

// Invite lets staff bring a person into an organisation's service group.
type Invite struct {
	ID        string // random, URL-safe
	OrgID     int64
	AppID     string
	CreatedBy int64 // staff id
	Note      string
	ExpiresAt time.Time
	CreatedAt time.Time
	UsedAt    time.Time
	UsedBy    int64 // user id
}

// SessionKind separates tab sessions (bearer tokens) from console sessions (cookies).
type SessionKind string

// Session kinds.
const (
	SessionTab     SessionKind = "tab"
	SessionConsole SessionKind = "console"
	SessionAPI     SessionKind = "api" // admin API tokens of a staff member
)

// Session is a signed-in session. Only a hash of its token is stored.
type Session struct {
	TokenHash []byte
	Kind      SessionKind
	UserID    int64 // tab sessions
	StaffID   int64 // console sessions
	AppID     string
	CSRF      string // console sessions: the anti-forgery token bound to this session
	CreatedAt time.Time
	ExpiresAt time.Time
}

// LoginState is what the browser sign-in keeps between /login and /callback:
// single use, short lived, stored server side so any instance can finish it.
type LoginState struct {
	State        string
	AppID        string
	Nonce        string
	CodeVerifier string
	ReturnTo     string // where to go after sign-in (validated to be a local path)
	InviteID     string
	Popup        bool
	CreatedAt    time.Time
	ExpiresAt    time.Time
}
