package web

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/tamlink/tamlink/internal/desk"
)

// Notifications: the workbench's notification centre and preferences (tab
// API), and the console's view of Teams delivery — which channels deliver,
// why one does not and how to turn it on, and the dead letters with a retry
// button.

func (s *Server) notificationRoutes() {
	m := s.mux
	m.HandleFunc("GET /api/tab/{appId}/notifications", s.tab(s.tabNotifications))
	m.HandleFunc("POST /api/tab/{appId}/notifications/read", s.tab(s.tabNotificationsRead))
	m.HandleFunc("GET /api/tab/{appId}/notifications/preferences", s.tab(s.tabNotifyPrefs))
	m.HandleFunc("PUT /api/tab/{appId}/notifications/preferences", s.tab(s.tabSetNotifyPrefs))
	m.HandleFunc("GET /api/tab/{appId}/tickets/{id}/watch", s.tab(s.tabWatching))
	m.HandleFunc("PUT /api/tab/{appId}/tickets/{id}/watch", s.tab(func(w http.ResponseWriter, r *http.Request, tc tabCtx) { s.tabWatch(w, r, tc, true) }))
	m.HandleFunc("DELETE /api/tab/{appId}/tickets/{id}/watch", s.tab(func(w http.ResponseWriter, r *http.Request, tc tabCtx) { s.tabWatch(w, r, tc, false) }))

	// Console pages, with the console's cross-origin protection.
	cop := http.NewCrossOriginProtection()
	m.Handle("GET /console/notifications", cop.Handler(s.console(s.consoleNotifications)))
	m.Handle("POST /console/notifications/{id}/retry", cop.Handler(s.console(s.consoleRetryDelivery)))
	m.Handle("POST /console/notifications/retry-dead", cop.Handler(s.console(s.consoleRetryAllDead)))
	m.Handle("POST /console/notifications/channels/{appId}/recheck", cop.Handler(s.console(s.consoleRecheckChannel)))
	m.Handle("POST /console/orgs/{id}/notify", cop.Handler(s.console(s.consoleOrgNotify)))
}

// ---- views ----

type notificationView struct {
	ID        int64      `json:"id"`
	Kind      string     `json:"kind"`
	KindLabel string     `json:"kindLabel"`
	TicketID  *int64     `json:"ticketId"`
	Actor     string     `json:"actor"`
	Title     string     `json:"title"`
	Text      string     `json:"text"`
	CreatedAt time.Time  `json:"createdAt"`
	ReadAt    *time.Time `json:"readAt"`
	Delivery  string     `json:"delivery"`
}

func notificationOf(n desk.Notification) notificationView {
	v := notificationView{ID: n.ID, Kind: string(n.Kind), KindLabel: n.Kind.Description(), Actor: n.ActorName, Title: n.Title,
		Text: n.Text, CreatedAt: n.CreatedAt, ReadAt: timePtr(n.ReadAt), Delivery: string(n.Delivery)}
	if n.TicketID != 0 {
		id := n.TicketID
		v.TicketID = &id
	}
	return v
}

func notificationsOf(ns []desk.Notification) []notificationView {
	out := make([]notificationView, len(ns))
	for i, n := range ns {
		out[i] = notificationOf(n)
	}
	return out
}

// ---- the workbench ----

func (s *Server) tabNotifications(w http.ResponseWriter, r *http.Request, tc tabCtx) {
	before, err := int64Param(r, "before")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ns, unread, err := s.svc.Notifications(r.Context(), tc.user, before, 30)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"notifications": notificationsOf(ns), "unread": unread})
}

type readNotificationsRequest struct {
	IDs []int64 `json:"ids"` // empty: all
}

func (s *Server) tabNotificationsRead(w http.ResponseWriter, r *http.Request, tc tabCtx) {
	var req readNotificationsRequest
	if err := readJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.svc.MarkNotificationsRead(r.Context(), tc.user, req.IDs); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type kindView struct {
	Type        string `json:"type"`
	Description string `json:"description"`
}

func (s *Server) writePrefs(w http.ResponseWriter, r *http.Request, tc tabCtx) {
	muted, err := s.svc.MutedKinds(r.Context(), tc.user)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	kinds := make([]kindView, len(desk.NotificationKinds))
	for i, k := range desk.NotificationKinds {
		kinds[i] = kindView{string(k), k.Description()}
	}
	m := make([]string, len(muted))
	for i, k := range muted {
		m[i] = string(k)
	}
	writeJSON(w, http.StatusOK, map[string]any{"muted": m, "kinds": kinds})
}

func (s *Server) tabNotifyPrefs(w http.ResponseWriter, r *http.Request, tc tabCtx) {
	s.writePrefs(w, r, tc)
}

type prefsRequest struct {
	Muted []string `json:"muted"`
}

func (s *Server) tabSetNotifyPrefs(w http.ResponseWriter, r *http.Request, tc tabCtx) {
	var req prefsRequest
	if err := readJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	kinds := make([]desk.NotificationKind, len(req.Muted))
	for i, k := range req.Muted {
		kinds[i] = desk.NotificationKind(k)
	}
	if err := s.svc.SetMutedKinds(r.Context(), tc.user, kinds); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writePrefs(w, r, tc)
}

func (s *Server) tabWatching(w http.ResponseWriter, r *http.Request, tc tabCtx) {
	id, err := int64Param(r, "id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	t, _, err := s.svc.Ticket(r.Context(), tc.actor, id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	on, err := s.svc.Watching(r.Context(), tc.user, t)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	requester := t.Requester.Kind == desk.ActorUser && t.Requester.ID == tc.user.ID
	writeJSON(w, http.StatusOK, map[string]bool{"watching": on, "requester": requester})
}

func (s *Server) tabWatch(w http.ResponseWriter, r *http.Request, tc tabCtx, on bool) {
	id, err := int64Param(r, "id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.svc.Watch(r.Context(), tc.user, id, on); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// ---- the console ----

// channelStatus is a channel's Teams delivery as the console shows it.
type channelStatus struct {
	Channel desk.Channel
	Off     bool
	Reason  string
	HowTo   string
	Checked time.Time
}

func (s *Server) consoleNotifications(w http.ResponseWriter, r *http.Request, cs *consoleSession) {
	ctx := r.Context()
	orgs, err := s.svc.VisibleOrgs(ctx, cs.actor)
	if err != nil {
		s.consoleFail(w, r, cs, err)
		return
	}
	visible := map[int64]string{}
	var orgIDs []int64
	for _, o := range orgs {
		visible[o.ID] = o.Name
		orgIDs = append(orgIDs, o.ID)
	}
	if cs.Admin {
		orgIDs = nil
	} else if orgIDs == nil {
		orgIDs = []int64{}
	}
	chs, err := s.svc.Channels(ctx)
	if err != nil {
		s.consoleFail(w, r, cs, err)
		return
	}
	var statuses []channelStatus
	for _, c := range chs {
		if _, ok := visible[c.OrgID]; !ok {
			continue
		}
		cd, err := s.svc.Store.ChannelDelivery(ctx, c.AppID)
		if err != nil {
			s.consoleFail(w, r, cs, err)
			return
		}
		st := channelStatus{Channel: c, Off: cd.Off, Reason: cd.Reason, Checked: cd.CheckedAt}
		if cd.Off {
			st.HowTo = desk.ChannelDeliveryOff("Teams delivery is off")
		}
		statuses = append(statuses, st)
	}
	counts, err := s.svc.Store.DeliveryCounts(ctx, orgIDs)
	if err != nil {
		s.consoleFail(w, r, cs, err)
		return
	}
	dead, err := s.svc.Deliveries(ctx, cs.actor, []desk.DeliveryState{desk.DeliveryDead}, 100)
	if err != nil {
		s.consoleFail(w, r, cs, err)
		return
	}
	skipped, err := s.svc.Deliveries(ctx, cs.actor, []desk.DeliveryState{desk.DeliverySkipped}, 50)
	if err != nil {
		s.consoleFail(w, r, cs, err)
		return
	}
	var states []stateCount
	for _, st := range desk.DeliveryStates {
		states = append(states, stateCount{string(st), counts[st]})
	}
	s.page(w, r, http.StatusOK, "console_notifications", pageData{Title: "Notifications – tamlink console", Console: cs,
		Message: s.notificationsDone(r), Data: map[string]any{
			"Channels": statuses, "Counts": states, "Dead": dead, "Skipped": skipped, "OrgNames": visible,
		}})
}

type stateCount struct {
	State string
	N     int
}

// backToNotifications redirects to the page with what was done as a code,
// never as text: a link must not be able to put words in the console's mouth.
func (s *Server) backToNotifications(w http.ResponseWriter, r *http.Request, done string, n int64, appID string) {
	q := url.Values{"done": {done}, "n": {strconv.FormatInt(n, 10)}}
	if appID != "" {
		q.Set("app", appID)
	}
	http.Redirect(w, r, "/console/notifications?"+q.Encode(), http.StatusSeeOther)
}

// notificationsDone is the notice for a backToNotifications code.
func (s *Server) notificationsDone(r *http.Request) string {
	q := r.URL.Query()
	n, _ := strconv.ParseInt(q.Get("n"), 10, 64)
	switch q.Get("done") {
	case "retried":
		return "Notification " + strconv.FormatInt(n, 10) + " is queued again."
	case "retried-all":
		return strconv.FormatInt(n, 10) + " dead notifications are queued again."
	case "recheck":
		if ch, err := s.svc.Channel(r.Context(), q.Get("app")); err == nil {
			return "Teams delivery for " + ch.OrgName + " will be tried again with the next notification."
		}
	}
	return ""
}

func (s *Server) consoleRetryDelivery(w http.ResponseWriter, r *http.Request, cs *consoleSession) {
	id, err := int64Param(r, "id")
	if err == nil {
		err = s.svc.RetryDelivery(r.Context(), cs.actor, id)
	}
	if err != nil {
		s.consoleFail(w, r, cs, err)
		return
	}
	s.log.Info("notification delivery retried", "notification_id", id, "staff_id", cs.staff.ID)
	s.backToNotifications(w, r, "retried", id, "")
}

func (s *Server) consoleRetryAllDead(w http.ResponseWriter, r *http.Request, cs *consoleSession) {
	dead, err := s.svc.Deliveries(r.Context(), cs.actor, []desk.DeliveryState{desk.DeliveryDead}, 1000)
	if err != nil {
		s.consoleFail(w, r, cs, err)
		return
	}
	n := 0
	for _, d := range dead {
		if err := s.svc.RetryDelivery(r.Context(), cs.actor, d.ID); err == nil {
			n++
		}
	}
	s.backToNotifications(w, r, "retried-all", int64(n), "")
}

// consoleRecheckChannel turns a channel's Teams delivery back on after the
// admin fixed its permissions; the next notification proves it either way.
func (s *Server) consoleRecheckChannel(w http.ResponseWriter, r *http.Request, cs *consoleSession) {
	ch, err := s.svc.Channel(r.Context(), r.PathValue("appId"))
	if err == nil {
		_, err = s.svc.OrgNotifySettings(r.Context(), cs.actor, ch.OrgID) // may this person see the organisation?
	}
	if err == nil {
		err = s.svc.Store.SetChannelDelivery(r.Context(), desk.ChannelDelivery{AppID: ch.AppID, CheckedAt: time.Now()})
	}
	if err != nil {
		s.consoleFail(w, r, cs, err)
		return
	}
	s.log.Info("teams delivery re-enabled from the console", "app_id", ch.AppID, "staff_id", cs.staff.ID)
	s.backToNotifications(w, r, "recheck", 0, ch.AppID)
}

func (s *Server) consoleOrgNotify(w http.ResponseWriter, r *http.Request, cs *consoleSession) {
	id, err := int64Param(r, "id")
	if err != nil {
		s.consoleFail(w, r, cs, err)
		return
	}
	if err := r.ParseForm(); err != nil {
		s.consoleFail(w, r, cs, desk.Invalid("form", "cannot read the form"))
		return
	}
	var kinds []desk.NotificationKind
	for _, k := range r.PostForm["group"] {
		kinds = append(kinds, desk.NotificationKind(k))
	}
	if err := s.svc.SetOrgNotifySettings(r.Context(), cs.actor, id, kinds); err != nil {
		s.consoleFail(w, r, cs, err)
		return
	}
	http.Redirect(w, r, "/console/orgs/"+strconv.FormatInt(id, 10), http.StatusSeeOther)
}

// orgNotifyData is the org page's notification section: which kinds reach
// the whole group, and whether the organisation's channels deliver to Teams.
func (s *Server) orgNotifyData(r *http.Request, cs *consoleSession, orgID int64, chs []desk.Channel) map[string]any {
	set, err := s.svc.OrgNotifySettings(r.Context(), cs.actor, orgID)
	if err != nil {
		return nil
	}
	type kindRow struct {
		Type, Description string
		Group             bool
	}
	var kinds []kindRow
	for _, k := range desk.NotificationKinds {
		kinds = append(kinds, kindRow{string(k), k.Description(), slices.Contains(set.GroupKinds, k)})
	}
	var off []channelStatus
	for _, c := range chs {
		if cd, err := s.svc.Store.ChannelDelivery(r.Context(), c.AppID); err == nil && cd.Off {
			off = append(off, channelStatus{Channel: c, Off: true, Reason: cd.Reason, HowTo: desk.ChannelDeliveryOff("Teams delivery is off"), Checked: cd.CheckedAt})
		}
	}
	return map[string]any{"Kinds": kinds, "Off": off}
}
