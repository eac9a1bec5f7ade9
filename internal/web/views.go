package web

import (
	"encoding/json"
	"time"

	"github.com/tamlink/tamlink/internal/desk"
)

// JSON views. Domain types stay free of JSON tags; these are the wire format
// documented in docs/api.md.

type actorView struct {
	Kind string `json:"kind"`
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

type userView struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

type orgView struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

type messageView struct {
	ID        int64     `json:"id"`
	OrgID     int64     `json:"orgId"`
	Author    actorView `json:"author"`
	Body      string    `json:"body"`
	ClientID  string    `json:"clientId"`
	CreatedAt time.Time `json:"createdAt"`
}

type assigneeView struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

type ticketView struct {
	ID              int64         `json:"id"`
	OrgID           int64         `json:"orgId"`
	Title           string        `json:"title"`
	Description     string        `json:"description"`
	Severity        string        `json:"severity"`
	SeverityLabel   string        `json:"severityLabel"`
	Status          string        `json:"status"`
	StatusLabel     string        `json:"statusLabel"`
	Open            bool          `json:"open"`
	Requester       actorView     `json:"requester"`
	Assignee        *assigneeView `json:"assignee"`
	ExternalID      string        `json:"externalId"`
	CreatedAt       time.Time     `json:"createdAt"`
	UpdatedAt       time.Time     `json:"updatedAt"`
	ResponseDue     time.Time     `json:"responseDue"`
	FirstResponseAt *time.Time    `json:"firstResponseAt"`
}

type eventView struct {
	ID        int64     `json:"id"`
	TicketID  int64     `json:"ticketId"`
	Kind      string    `json:"kind"`
	Actor     actorView `json:"actor"`
	Body      string    `json:"body"`
	From      string    `json:"from"`
	To        string    `json:"to"`
	CreatedAt time.Time `json:"createdAt"`
}

type channelView struct {
	AppID               string           `json:"appId"`
	TenantID            string           `json:"tenantId"`
	TeamsPublishedAppID string           `json:"teamsPublishedAppId"`
	PublishedIDKind     string           `json:"publishedIdKind"`
	Organisation        string           `json:"organisation"`
	OrgID               int64            `json:"orgId"`
	SecretExpiresAt     *time.Time       `json:"secretExpiresAt"`
	CreatedAt           time.Time        `json:"createdAt"`
	LastTest            *channelTestView `json:"lastTest"`
}

type channelTestView struct {
	At      time.Time `json:"at"`
	OK      bool      `json:"ok"`
	Message string    `json:"message"`
}

func actorOf(a desk.Actor) actorView { return actorView{Kind: string(a.Kind), ID: a.ID, Name: a.Name} }

func userOf(u desk.User) userView { return userView{ID: u.ID, Name: u.Name, Email: u.Email} }

func messageOf(m desk.Message) messageView {
	return messageView{ID: m.ID, OrgID: m.OrgID, Author: actorOf(m.Author), Body: m.Body, ClientID: m.ClientID, CreatedAt: m.CreatedAt}
}

func messagesOf(ms []desk.Message) []messageView {
	out := make([]messageView, len(ms))
	for i, m := range ms {
		out[i] = messageOf(m)
	}
	return out
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func ticketOf(t desk.Ticket) ticketView {
	v := ticketView{
		ID: t.ID, OrgID: t.OrgID, Title: t.Title, Description: t.Description,
		Severity: string(t.Severity), SeverityLabel: t.Severity.Label(), Status: string(t.Status), StatusLabel: t.Status.Label(),
		Open: t.Status.Open(), Requester: actorOf(t.Requester), ExternalID: t.ExternalID,
		CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt, ResponseDue: t.ResponseDue(), FirstResponseAt: timePtr(t.FirstResponseAt),
	}
	if t.AssigneeID != 0 {
		v.Assignee = &assigneeView{ID: t.AssigneeID, Name: t.AssigneeName}
	}
	return v
}

func ticketsOf(ts []desk.Ticket) []ticketView {
	out := make([]ticketView, len(ts))
	for i, t := range ts {
		out[i] = ticketOf(t)
	}
	return out
}

func eventOf(e desk.TicketEvent) eventView {
	return eventView{ID: e.ID, TicketID: e.TicketID, Kind: string(e.Kind), Actor: actorOf(e.Actor), Body: e.Body, From: e.From, To: e.To, CreatedAt: e.CreatedAt}
}

func eventsOf(es []desk.TicketEvent) []eventView {
	out := make([]eventView, len(es))
	for i, e := range es {
		out[i] = eventOf(e)
	}
	return out
}

func channelOf(c desk.Channel) channelView {
	v := channelView{
		AppID: c.AppID, TenantID: c.TenantID, TeamsPublishedAppID: c.TeamsPublishedAppID, PublishedIDKind: c.PublishedIDKind,
		Organisation: c.OrgName, OrgID: c.OrgID, SecretExpiresAt: timePtr(c.SecretExpiresAt), CreatedAt: c.CreatedAt,
	}
	if c.LastTest != nil {
		v.LastTest = &channelTestView{At: c.LastTest.At, OK: c.LastTest.OK, Message: c.LastTest.Message}
	}
	return v
}

// ChannelJSON is the admin view of a channel, shared with the CLI's --json.
func ChannelJSON(c desk.Channel) any { return channelOf(c) }

// liveFrame is what the live socket sends.
type liveFrame struct {
	Type    string       `json:"type"`
	Message *messageView `json:"message,omitempty"`
	Ticket  *ticketView  `json:"ticket,omitempty"`
	Event   *eventView   `json:"event,omitempty"`
	User    *userView    `json:"user,omitempty"`
	// Notification is sent to its user only (see tabLive).
	Notification *notificationView `json:"notification,omitempty"`
}

// EncodeEvent is the live hub's encoder.
func EncodeEvent(ev desk.Event) ([]byte, error) {
	f := liveFrame{Type: ev.Type}
	if ev.Message != nil {
		m := messageOf(*ev.Message)
		f.Message = &m
	}
	if ev.Ticket != nil {
		t := ticketOf(*ev.Ticket)
		f.Ticket = &t
	}
	if ev.TicketEvent != nil {
		e := eventOf(*ev.TicketEvent)
		f.Event = &e
	}
	if ev.User != nil {
		u := userOf(*ev.User)
		f.User = &u
	}
	if ev.Notification != nil {
		n := notificationOf(*ev.Notification)
		f.Notification = &n
	}
	return json.Marshal(f)
}
