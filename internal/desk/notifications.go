package desk

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ---- kinds ----

// NotificationKind is what a notification is about. Its value is the Teams
// activity type it is delivered as; ActivityTypes declares every kind, so the
// app package (and Graph) know them all.
type NotificationKind string

// Notification kinds, one per entry of ActivityTypes.
const (
	NotifyTicketCreated  NotificationKind = "ticketCreated"
	NotifyTicketComment  NotificationKind = "ticketComment"
	NotifyTicketStatus   NotificationKind = "ticketStatusChanged"
	NotifyTicketSeverity NotificationKind = "ticketSeverityChanged"
	NotifyTicketAssigned NotificationKind = "ticketAssigned"
	NotifySLAWarning     NotificationKind = "slaWarning"
	NotifyDeskReply      NotificationKind = "deskReply"
)

// NotificationKinds lists the kinds in the order of ActivityTypes.
var NotificationKinds = func() []NotificationKind {
	out := make([]NotificationKind, len(ActivityTypes))
	for i, a := range ActivityTypes {
		out[i] = NotificationKind(a.Type)
	}
	return out
}()

// Valid reports whether k is a declared kind.
func (k NotificationKind) Valid() bool { return slices.Contains(NotificationKinds, k) }

// Description is the declared activity type's description, e.g. "A ticket was assigned".
func (k NotificationKind) Description() string {
	for _, a := range ActivityTypes {
		if a.Type == string(k) {
			return a.Description
		}
	}
	return string(k)
}

// DefaultGroupKinds are the kinds every member of an organisation's service
// group hears of when the organisation has no settings of its own: a new
// ticket concerns the whole group; everything after it concerns the
// requester and the ticket's watchers.
var DefaultGroupKinds = []NotificationKind{NotifyTicketCreated}

// WorkbenchEntityID is the entityId of the personal tab in the app manifest;
// deep links name it to open the workbench.
const WorkbenchEntityID = "workbench"

// ---- delivery ----

// DeliveryState is where a notification's copy in Teams stands. Every
// notification is in the workbench's notification centre whatever its state.
type DeliveryState string

// Delivery states. Pending is the only one a worker acts on; the others are
// final, except that the console may send Dead and Skipped ones back to Pending.
const (
	DeliveryPending   DeliveryState = "pending"   // queued for Teams
	DeliveryDelivered DeliveryState = "delivered" // Graph accepted it (204)
	DeliveryMuted     DeliveryState = "muted"     // the person muted this kind: workbench only
	DeliverySkipped   DeliveryState = "skipped"   // Teams cannot be reached for this person or channel (Reason says why)
	DeliveryDead      DeliveryState = "dead"      // given up after retries (Reason says why); the console can retry
)

// DeliveryStates lists every state.
var DeliveryStates = []DeliveryState{DeliveryPending, DeliveryDelivered, DeliveryMuted, DeliverySkipped, DeliveryDead}

// Param is a named value for an activity type's template text.
type Param struct {
	Name, Value string
}

// Notification tells one customer user of something that concerns them. It
// is shown in the workbench's notification centre and, unless muted or
// unreachable, sent to the person's Teams activity feed.
type Notification struct {
	ID        int64
	OrgID     int64
	UserID    int64
	Kind      NotificationKind
	TicketID  int64  // 0 when not about a ticket (deskReply)
	ActorName string // who did it
	Title     string // what it is about: the ticket's title, or the organisation's name
	Text      string // one line (≤ MaxNotificationText characters): the Teams preview and the centre's line
	Params    []Param
	CreatedAt time.Time
	ReadAt    time.Time // zero while unread

	Delivery    DeliveryState
	Reason      string    // why skipped or dead, or what the last failed attempt got
	Attempts    int       // failed delivery attempts so far
	QueuedAt    time.Time // when it last became pending: its delivery window starts here
	DeliveredAt time.Time
	UpdatedAt   time.Time
}

// MaxNotificationText bounds Notification.Text: Teams shows the first 150
// characters of an activity's preview text.
const MaxNotificationText = 150

// SubEntityID names the notification's ticket for a Teams deep link; the
// workbench opens that ticket when Teams hands it over (page.subPageId).
func (n Notification) SubEntityID() string {
	if n.TicketID == 0 {
		return "conversation"
	}
	return "ticket-" + strconv.FormatInt(n.TicketID, 10)
}

// DeliveryUpdate is a worker's report on a pending notification.
type DeliveryUpdate struct {
	State      DeliveryState // the new state; DeliveryPending records a failed attempt
	Reason     string
	AddAttempt bool
	At         time.Time
}

// DeliveryFilter selects notifications for the console. Zero fields do not filter.
type DeliveryFilter struct {
	States []DeliveryState
	OrgIDs []int64 // nil = all; empty = none
	Limit  int
}

// OrgNotifySettings say which kinds reach every member of an organisation's
// service group (besides the requester and watchers, who hear of their tickets).
type OrgNotifySettings struct {
	OrgID      int64
	GroupKinds []NotificationKind
	UpdatedAt  time.Time
}

// Reachability of one person in Teams through one channel.
const (
	RecipientInstalled = "installed" // the app is installed for the person: notifications can be sent
	RecipientRemoved   = "removed"   // the person removed the app after it was installed: not reinstalled
	RecipientBlocked   = "blocked"   // installing was refused (the person or their admin blocked the app)
)

// TeamsRecipient records whether the channel's Teams app can notify a user.
type TeamsRecipient struct {
	AppID     string
	UserID    int64
	State     string
	Reason    string
	CheckedAt time.Time
}

// ChannelDelivery records whether a channel can send to Teams at all. Off
// with a Reason when its registration lacks the Graph permissions.
type ChannelDelivery struct {
	AppID     string
	Off       bool
	Reason    string
	CheckedAt time.Time
}

// ---- presence ----

// Presence tells whether a user has the workbench open right now (a live
// socket). A desk reply reaches Teams only for those who are not.
type Presence interface {
	Connected(userID int64) bool
}

// ---- rules: who hears of what ----

// draft is a notification before its recipients are known.
type draft struct {
	kind   NotificationKind
	orgID  int64
	ticket int64
	actor  Actor
	title  string
	text   string
	params []Param
}

// clip shortens s to n characters on one line.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:n-1])) + "…"
}

func actorName(a Actor) string {
	if a.Name != "" {
		return a.Name
	}
	if a.Kind == ActorSystem {
		return "tamlink"
	}
	return "Someone"
}

// ticketDraft describes a timeline entry as a notification, or reports that
// the entry notifies nobody (a customer's own comment: the desk sees it in
// the console).
func ticketDraft(t Ticket, ev TicketEvent) (draft, bool) {
	d := draft{orgID: t.OrgID, ticket: t.ID, actor: ev.Actor, title: t.Title}
	who := actorName(ev.Actor)
	title := Param{"ticketTitle", clip(t.Title, 60)}
	switch ev.Kind {
	case EventCreated:
		d.kind = NotifyTicketCreated
		d.text = fmt.Sprintf("%s opened %q (%s)", who, t.Title, t.Severity.Label())
		d.params = []Param{title}
	case EventComment:
		if ev.Actor.Kind == ActorUser {
			return d, false
		}
		d.kind = NotifyTicketComment
		d.text = who + ": " + ev.Body
		d.params = []Param{title}
	case EventStatus:
		to := Status(ev.To).Label()
		d.kind = NotifyTicketStatus
		d.text = fmt.Sprintf("Status %s → %s, by %s", Status(ev.From).Label(), to, who)
		d.params = []Param{title, {"status", to}}
	case EventSeverity:
		to := Severity(ev.To).Label()
		d.kind = NotifyTicketSeverity
		d.text = fmt.Sprintf("Severity %s → %s, by %s", Severity(ev.From).Label(), to, who)
		d.params = []Param{title, {"severity", to}}
	case EventAssignee:
		to := ev.To
		if to == "" {
			to = "nobody"
		}
		d.kind = NotifyTicketAssigned
		d.text = fmt.Sprintf("Assigned to %s by %s", to, who)
		if to == who {
			d.text = who + " took the ticket"
		}
		d.params = []Param{title, {"assignee", to}}
	default:
		return d, false
	}
	return d, true
}

// ticketRecipients are the users who hear of kind on t: the requester, the
// watchers and, when the organisation says so, every member of its group —
// never the person who acted.
func (s *Service) ticketRecipients(ctx context.Context, st Store, t Ticket, kind NotificationKind, actor Actor) ([]int64, error) {
	var ids []int64
	if t.Requester.Kind == ActorUser {
		ids = append(ids, t.Requester.ID)
	}
	w, err := st.TicketWatchers(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	ids = append(ids, w...)
	set, err := st.OrgNotifySettings(ctx, t.OrgID)
	if err != nil {
		return nil, err
	}
	if slices.Contains(set.GroupKinds, kind) {
		users, err := st.UsersByOrg(ctx, t.OrgID)
		if err != nil {
			return nil, err
		}
		for _, u := range users {
			ids = append(ids, u.ID)
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if actor.Kind == ActorUser {
		ids = slices.DeleteFunc(ids, func(id int64) bool { return id == actor.ID })
	}
	return ids, nil
}

// queue stores one notification per recipient inside the caller's
// transaction: the store enqueues Teams delivery in that same transaction, so
// the event and its notifications commit together or not at all.
func (s *Service) queue(ctx context.Context, st Store, d draft, userIDs []int64, now time.Time) ([]Notification, error) {
	if len(userIDs) == 0 {
		return nil, nil
	}
	ns := make([]Notification, 0, len(userIDs))
	for _, uid := range userIDs {
		muted, err := st.MutedKinds(ctx, uid)
		if err != nil {
			return nil, err
		}
		state := DeliveryPending
		if slices.Contains(muted, d.kind) {
			state = DeliveryMuted
		}
		ns = append(ns, Notification{
			OrgID: d.orgID, UserID: uid, Kind: d.kind, TicketID: d.ticket, ActorName: actorName(d.actor),
			Title: clip(d.title, MaxTitleLen), Text: clip(d.text, MaxNotificationText), Params: d.params,
			CreatedAt: now, UpdatedAt: now, Delivery: state,
		})
	}
	if err := st.AddNotifications(ctx, ns); err != nil {
		return nil, err
	}
	return ns, nil
}

// notifyTicketEvents queues the notifications of timeline entries of t.
func (s *Service) notifyTicketEvents(ctx context.Context, st Store, t Ticket, evs []TicketEvent) ([]Notification, error) {
	var out []Notification
	for _, ev := range evs {
		d, ok := ticketDraft(t, ev)
		if !ok {
			continue
		}
		ids, err := s.ticketRecipients(ctx, st, t, d.kind, ev.Actor)
		if err != nil {
			return nil, err
		}
		ns, err := s.queue(ctx, st, d, ids, ev.CreatedAt)
		if err != nil {
			return nil, err
		}
		out = append(out, ns...)
	}
	return out, nil
}

// notifyDeskReply queues a deskReply for every member of the organisation
// who is not connected to the workbench when the desk writes.
func (s *Service) notifyDeskReply(ctx context.Context, st Store, m Message) ([]Notification, error) {
	users, err := st.UsersByOrg(ctx, m.OrgID)
	if err != nil {
		return nil, err
	}
	org, err := st.OrgByID(ctx, m.OrgID)
	if err != nil {
		return nil, err
	}
	var ids []int64
	for _, u := range users {
		if s.Presence != nil && s.Presence.Connected(u.ID) {
			continue
		}
		ids = append(ids, u.ID)
	}
	d := draft{kind: NotifyDeskReply, orgID: m.OrgID, actor: m.Author, title: org.Name, text: actorName(m.Author) + ": " + m.Body}
	return s.queue(ctx, st, d, ids, m.CreatedAt)
}

func (s *Service) publishNotifications(ns []Notification) {
	for i := range ns {
		s.publish(Event{Type: EventTypeNotification, OrgID: ns[i].OrgID, Notification: &ns[i]})
	}
}

// ---- SLA warnings ----

// SLAWarningShare is the share of a severity's first-response target left
// when the SLA warning goes out (a quarter: 15 minutes of Sev 1's hour).
const SLAWarningShare = 4

// SLAWarnAt is when a ticket's SLA warning is due.
func SLAWarnAt(t Ticket) time.Time {
	return t.ResponseDue().Add(-FirstResponseSLA[t.Severity] / SLAWarningShare)
}

// WarnSLA sends the SLA warning of every open ticket still without a staff
// response whose response target is a quarter of its SLA away (or past).
// Each ticket is warned once; it returns how many were.
func (s *Service) WarnSLA(ctx context.Context) (int, error) {
	now := s.now()
	ts, err := s.Store.TicketsAwaitingResponse(ctx, 500)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, t := range ts {
		if now.Before(SLAWarnAt(t)) {
			continue
		}
		var ns []Notification
		err := s.Store.Atomic(ctx, func(st Store) error {
			claimed, err := st.ClaimSLAWarning(ctx, t.ID, now)
			if err != nil || !claimed {
				return err
			}
			due := t.ResponseDue()
			when := "now (overdue since " + due.Format("15:04 UTC") + ")"
			if due.After(now) {
				when = "by " + due.Format("Jan 2 15:04 UTC")
			}
			d := draft{kind: NotifySLAWarning, orgID: t.OrgID, ticket: t.ID, actor: Actor{Kind: ActorSystem, Name: "tamlink"},
				title: t.Title, text: fmt.Sprintf("%s: the desk's first response is due %s", t.Severity.Label(), when),
				params: []Param{{"ticketTitle", clip(t.Title, 60)}, {"due", when}}}
			ids, err := s.ticketRecipients(ctx, st, t, NotifySLAWarning, d.actor)
			if err != nil {
				return err
			}
			ns, err = s.queue(ctx, st, d, ids, now)
			return err
		})
		if err != nil {
			return n, err
		}
		s.publishNotifications(ns)
		n++
	}
	return n, nil
}

// ---- the notification centre ----

// Notifications returns a user's notifications, newest first, before beforeID
// (0 = the newest), with the unread count.
func (s *Service) Notifications(ctx context.Context, u User, beforeID int64, limit int) ([]Notification, int, error) {
	if limit <= 0 || limit > 100 {
		limit = 30
	}
	ns, err := s.Store.Notifications(ctx, u.ID, beforeID, limit)
	if err != nil {
		return nil, 0, err
	}
	unread, err := s.Store.UnreadNotifications(ctx, u.ID)
	return ns, unread, err
}

// MarkNotificationsRead marks a user's notifications read: ids, or all when ids is empty.
func (s *Service) MarkNotificationsRead(ctx context.Context, u User, ids []int64) error {
	if len(ids) > 500 {
		return Invalid("ids", "at most 500 at a time")
	}
	return s.Store.MarkNotificationsRead(ctx, u.ID, ids, s.now())
}

// MutedKinds returns the kinds a user muted.
func (s *Service) MutedKinds(ctx context.Context, u User) ([]NotificationKind, error) {
	return s.Store.MutedKinds(ctx, u.ID)
}

// SetMutedKinds replaces the kinds a user muted: muted kinds still appear in
// the workbench but are not sent to Teams.
func (s *Service) SetMutedKinds(ctx context.Context, u User, kinds []NotificationKind) error {
	for _, k := range kinds {
		if !k.Valid() {
			return Invalid("muted", "unknown notification kind %q", k)
		}
	}
	slices.Sort(kinds)
	return s.Store.SetMutedKinds(ctx, u.ID, slices.Compact(kinds))
}

// Watch makes u a watcher of a ticket of their organisation (on = false stops).
func (s *Service) Watch(ctx context.Context, u User, ticketID int64, on bool) error {
	a := UserActor(u)
	if _, err := s.ticketFor(ctx, s.Store, a, ticketID); err != nil {
		return err
	}
	if on {
		return s.Store.Watch(ctx, ticketID, u.ID, s.now())
	}
	return s.Store.Unwatch(ctx, ticketID, u.ID)
}

// Watching reports whether u watches a ticket (the requester always does).
func (s *Service) Watching(ctx context.Context, u User, t Ticket) (bool, error) {
	if t.Requester.Kind == ActorUser && t.Requester.ID == u.ID {
		return true, nil
	}
	ids, err := s.Store.TicketWatchers(ctx, t.ID)
	return slices.Contains(ids, u.ID), err
}

// ---- the console ----

// OrgNotifySettings returns an organisation's settings, if a may see it.
func (s *Service) OrgNotifySettings(ctx context.Context, a Actor, orgID int64) (OrgNotifySettings, error) {
	if err := s.authorize(ctx, a, orgID); err != nil {
		return OrgNotifySettings{}, err
	}
	return s.Store.OrgNotifySettings(ctx, orgID)
}

// SetOrgNotifySettings sets which kinds reach the whole group (staff only).
func (s *Service) SetOrgNotifySettings(ctx context.Context, a Actor, orgID int64, kinds []NotificationKind) error {
	if a.Kind != ActorStaff {
		return Errorf(EForbidden, "only desk staff change notification settings")
	}
	if err := s.authorize(ctx, a, orgID); err != nil {
		return err
	}
	for _, k := range kinds {
		if !k.Valid() {
			return Invalid("groupKinds", "unknown notification kind %q", k)
		}
	}
	slices.Sort(kinds)
	return s.Store.SetOrgNotifySettings(ctx, OrgNotifySettings{OrgID: orgID, GroupKinds: slices.Compact(kinds), UpdatedAt: s.now()})
}

// Deliveries lists notifications in the given delivery states that a may see
// (dead letters for the console).
func (s *Service) Deliveries(ctx context.Context, a Actor, states []DeliveryState, limit int) ([]Notification, error) {
	f := DeliveryFilter{States: states, Limit: limit}
	if a.Kind != ActorStaff {
		return nil, Errorf(EForbidden, "only desk staff see deliveries")
	}
	if !a.Admin {
		ids, err := s.Store.StaffOrgIDs(ctx, a.ID)
		if err != nil {
			return nil, err
		}
		f.OrgIDs = ids
		if f.OrgIDs == nil {
			f.OrgIDs = []int64{}
		}
	}
	return s.Store.Deliveries(ctx, f)
}

// RetryDelivery sends a dead (or skipped) notification back to the queue.
func (s *Service) RetryDelivery(ctx context.Context, a Actor, id int64) error {
	if a.Kind != ActorStaff {
		return Errorf(EForbidden, "only desk staff retry deliveries")
	}
	n, err := s.Store.NotificationByID(ctx, id)
	if err != nil {
		return err
	}
	if err := s.authorize(ctx, a, n.OrgID); err != nil {
		return Errorf(ENotFound, "notification not found")
	}
	if n.Delivery != DeliveryDead && n.Delivery != DeliverySkipped {
		return Errorf(EConflict, "only dead or skipped deliveries can be retried (this one is %s)", n.Delivery)
	}
	return s.Store.RequeueNotification(ctx, id, s.now())
}

// ChannelDeliveryOff explains, in an admin's terms, why a channel does not
// send to Teams and how to turn it on.
func ChannelDeliveryOff(reason string) string {
	return reason + " — notifications still appear in the workbench. To send them to Teams, re-run `tamlink setup` for this channel, " +
		"or in the Azure portal open the app registration → API permissions → Add a permission → Microsoft Graph → Application permissions, " +
		"add TeamsActivity.Send and TeamsAppInstallation.ReadWriteSelfForUser.All, and click “Grant admin consent”."
}
