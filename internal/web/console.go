package web

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tamlink/tamlink/internal/desk"
	"github.com/tamlink/tamlink/internal/entra"
	"github.com/tamlink/tamlink/internal/password"
)

const consoleCookie = "tamlink_console"

// consoleSession is a signed-in staff member.
type consoleSession struct {
	staff desk.Staff
	actor desk.Actor
	CSRF  string
	Name  string
	Admin bool
}

func (s *Server) consoleRoutes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /console/login", s.consoleLoginPage)
	m.HandleFunc("POST /console/login", s.consoleLogin)
	m.HandleFunc("POST /console/logout", s.console(s.consoleLogout))
	m.HandleFunc("GET /console", s.console(s.consoleHome))
	m.HandleFunc("GET /console/orgs/{id}", s.console(s.consoleOrg))
	m.HandleFunc("POST /console/orgs/{id}/invites", s.console(s.consoleInvite))
	m.HandleFunc("POST /console/orgs/{id}/staff", s.console(s.consoleAssign))
	m.HandleFunc("GET /console/tickets/{id}", s.console(s.consoleTicket))
	m.HandleFunc("POST /console/tickets/{id}", s.console(s.consoleChangeTicket))
	m.HandleFunc("POST /console/tickets/{id}/comments", s.console(s.consoleComment))
	m.HandleFunc("GET /console/channels", s.console(s.consoleChannels))
	m.HandleFunc("POST /console/channels", s.console(s.consoleAddChannel))
	m.HandleFunc("POST /console/channels/{appId}/test", s.console(s.consoleTestChannel))
	m.HandleFunc("POST /console/channels/{appId}/delete", s.console(s.consoleDeleteChannel))
	m.HandleFunc("GET /console/live", s.consoleLive)
	// The console's own JSON calls (its scripts), cookie-authenticated.
	m.HandleFunc("GET /api/console/orgs/{id}/messages", s.consoleAPI(func(w http.ResponseWriter, r *http.Request, cs *consoleSession, id int64) {
		s.listMessages(w, r, cs.actor, id)
	}))
	m.HandleFunc("POST /api/console/orgs/{id}/messages", s.consoleAPI(func(w http.ResponseWriter, r *http.Request, cs *consoleSession, id int64) {
		s.sendMessage(w, r, cs.actor, id)
	}))
	m.HandleFunc("POST /api/console/orgs/{id}/read", s.consoleAPI(func(w http.ResponseWriter, r *http.Request, cs *consoleSession, id int64) {
		s.markRead(w, r, cs.actor, id)
	}))
	m.HandleFunc("GET /api/console/tickets/{id}", s.consoleAPI(func(w http.ResponseWriter, r *http.Request, cs *consoleSession, _ int64) {
		s.showTicket(w, r, cs.actor)
	}))
	m.HandleFunc("PATCH /api/console/tickets/{id}", s.consoleAPI(func(w http.ResponseWriter, r *http.Request, cs *consoleSession, _ int64) {
		s.changeTicket(w, r, cs.actor)
	}))
	m.HandleFunc("POST /api/console/tickets/{id}/comments", s.consoleAPI(func(w http.ResponseWriter, r *http.Request, cs *consoleSession, _ int64) {
		s.comment(w, r, cs.actor)
	}))
	// Cross-origin state changes are refused by Go's Fetch-metadata check;
	// each form and call also carries the session's own token (consoleGuard).
	cop := http.NewCrossOriginProtection()
	h := cop.Handler(m)
	s.mux.Handle("/console", h)
	s.mux.Handle("/console/", h)
	s.mux.Handle("/api/console/", h)
}

// consoleUser resolves the console cookie.
func (s *Server) consoleUser(r *http.Request) (*consoleSession, bool) {
	c, err := r.Cookie(consoleCookie)
	if err != nil || c.Value == "" {
		return nil, false
	}
	sess, err := s.svc.Store.SessionByHash(r.Context(), hashToken(c.Value))
	if err != nil || sess.Kind != desk.SessionConsole || !time.Now().Before(sess.ExpiresAt) {
		return nil, false
	}
	st, err := s.svc.Store.StaffByID(r.Context(), sess.StaffID)
	if err != nil {
		return nil, false
	}
	return &consoleSession{staff: st, actor: desk.StaffActor(st), CSRF: sess.CSRF, Name: st.Name, Admin: st.Admin}, true
}

// csrfOK checks the session's anti-forgery token on a state-changing request.
func csrfOK(r *http.Request, cs *consoleSession) bool {
	tok := r.Header.Get("X-CSRF-Token")
	if tok == "" {
		tok = r.PostFormValue("csrf")
	}
	return tok != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(cs.CSRF)) == 1
}

func safeMethod(m string) bool { return m == http.MethodGet || m == http.MethodHead }

// console wraps a page handler that needs a signed-in staff member.
func (s *Server) console(h func(http.ResponseWriter, *http.Request, *consoleSession)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		cs, ok := s.consoleUser(r)
		if !ok {
			http.Redirect(w, r, "/console/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if !safeMethod(r.Method) && !csrfOK(r, cs) {
			s.page(w, r, http.StatusForbidden, "message", pageData{Title: "Form expired", Message: "This form is stale or came from another site. Go back, reload and try again."})
			return
		}
		h(w, r, cs)
	}
}

// consoleAPI wraps a console JSON handler; {id} is parsed for it.
func (s *Server) consoleAPI(h func(http.ResponseWriter, *http.Request, *consoleSession, int64)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		cs, ok := s.consoleUser(r)
		if !ok {
			writeJSON(w, http.StatusUnauthorized, apiError{Error: desk.EUnauthorized, Message: "sign in to the console"})
			return
		}
		if !safeMethod(r.Method) && !csrfOK(r, cs) {
			writeJSON(w, http.StatusForbidden, apiError{Error: desk.EForbidden, Message: "missing or wrong X-CSRF-Token"})
			return
		}
		id, err := int64Param(r, "id")
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		h(w, r, cs, id)
	}
}

func (s *Server) consoleLoginPage(w http.ResponseWriter, r *http.Request) {
	s.page(w, r, http.StatusOK, "console_login", pageData{Title: "tamlink console – sign in", Data: map[string]string{"Next": localPath(r.URL.Query().Get("next"), "/console")}})
}

func (s *Server) consoleLogin(w http.ResponseWriter, r *http.Request) {
	email := strings.ToLower(strings.TrimSpace(r.PostFormValue("email")))
	pw := r.PostFormValue("password")
	next := localPath(r.PostFormValue("next"), "/console")
	keys := []string{"acct:" + email, "ip:" + clientIP(r)}
	again := func(status int, msg string) {
		s.page(w, r, status, "console_login", pageData{Title: "tamlink console – sign in", Message: msg, Data: map[string]string{"Next": next, "Email": email}})
	}
	at := time.Now()
	if d := s.logins.wait(at, keys...); d > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(d.Seconds()+1)))
		again(http.StatusTooManyRequests, "Too many failed sign-ins. Try again in "+d.Round(time.Second).String()+".")
		return
	}
	if !s.logins.acquire() {
		w.Header().Set("Retry-After", "1")
		again(http.StatusServiceUnavailable, "The desk is busy signing others in. Try again in a moment.")
		return
	}
	st, err := s.svc.Store.StaffByEmail(r.Context(), email)
	ok := err == nil && password.Verify(pw, st.PasswordHash)
	if err != nil {
		// Spend the same time on unknown accounts, so timing does not reveal which exist.
		password.Verify(pw, dummyHash)
	}
	s.logins.release()
	if !ok {
		s.logins.fail(at, keys...)
		s.log.Info("console sign-in refused", "remote", clientIP(r))
		again(http.StatusUnauthorized, "Wrong e-mail or password.")
		return
	}
	s.logins.succeed(keys[0])
	tok, hash := newToken("tlc_")
	now := time.Now().UTC()
	sess := desk.Session{TokenHash: hash, Kind: desk.SessionConsole, StaffID: st.ID, CSRF: randomString(24), CreatedAt: now, ExpiresAt: now.Add(s.cfg.ConsoleSessionTTL)}
	if err := s.svc.Store.CreateSession(r.Context(), &sess); err != nil {
		s.log.Error("create console session", "err", err)
		s.page(w, r, http.StatusInternalServerError, "message", pageData{Title: "Sign-in failed", Message: "Try again."})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: consoleCookie, Value: tok, Path: "/", HttpOnly: true, Secure: s.public.Scheme == "https",
		SameSite: http.SameSiteLaxMode, Expires: sess.ExpiresAt})
	s.log.Info("console sign-in", "staff_id", st.ID)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// dummyHash is verified against when the account does not exist.
var dummyHash, _ = password.Hash("not-a-real-password-at-all")

func (s *Server) consoleLogout(w http.ResponseWriter, r *http.Request, cs *consoleSession) {
	if c, err := r.Cookie(consoleCookie); err == nil {
		_ = s.svc.Store.DeleteSession(r.Context(), hashToken(c.Value))
	}
	http.SetCookie(w, &http.Cookie{Name: consoleCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true})
	http.Redirect(w, r, "/console/login", http.StatusSeeOther)
}

type orgRow struct {
	Org    desk.Org
	Unread int
	Open   int
}

func (s *Server) consoleHome(w http.ResponseWriter, r *http.Request, cs *consoleSession) {
	ctx := r.Context()
	orgs, err := s.svc.VisibleOrgs(ctx, cs.actor)
	if err != nil {
		s.consoleFail(w, r, cs, err)
		return
	}
	f := desk.TicketFilter{OpenOnly: r.URL.Query().Get("all") == ""}
	if st := r.URL.Query().Get("status"); st != "" {
		f.Status, f.OpenOnly = desk.Status(st), false
	}
	if r.URL.Query().Get("mine") != "" {
		f.AssigneeID = cs.staff.ID
	}
	tickets, err := s.svc.Tickets(ctx, cs.actor, f)
	if err != nil {
		s.consoleFail(w, r, cs, err)
		return
	}
	names := map[int64]string{}
	rows := make([]orgRow, 0, len(orgs))
	for _, o := range orgs {
		names[o.ID] = o.Name
		n, _ := s.svc.Unread(ctx, cs.actor, o.ID)
		open := 0
		for _, t := range tickets {
			if t.OrgID == o.ID && t.Status.Open() {
				open++
			}
		}
		rows = append(rows, orgRow{Org: o, Unread: n, Open: open})
	}
	s.page(w, r, http.StatusOK, "console_home", pageData{Title: "tamlink console", Console: cs, Data: map[string]any{
		"Orgs": rows, "Tickets": tickets, "OrgNames": names, "Now": time.Now().UTC(), "Filter": r.URL.Query(),
	}})
}

func (s *Server) consoleFail(w http.ResponseWriter, r *http.Request, cs *consoleSession, err error) {
	code := desk.ErrorCode(err)
	if code == desk.EInternal {
		s.log.Error("console request failed", "path", r.URL.Path, "err", err)
	}
	s.page(w, r, statusOf(code), "message", pageData{Title: "Cannot do that", Message: desk.ErrorMessage(err), Console: cs})
}

func (s *Server) orgChannels(r *http.Request, orgID int64) []desk.Channel {
	all, _ := s.svc.Channels(r.Context())
	var out []desk.Channel
	for _, c := range all {
		if c.OrgID == orgID {
			out = append(out, c)
		}
	}
	return out
}

func (s *Server) consoleOrg(w http.ResponseWriter, r *http.Request, cs *consoleSession) {
	s.renderOrg(w, r, cs, "")
}

func (s *Server) renderOrg(w http.ResponseWriter, r *http.Request, cs *consoleSession, inviteURL string) {
	ctx := r.Context()
	id, err := int64Param(r, "id")
	if err != nil {
		s.consoleFail(w, r, cs, err)
		return
	}
	users, staff, err := s.svc.Members(ctx, cs.actor, id)
	if err != nil {
		s.consoleFail(w, r, cs, err)
		return
	}
	org, err := s.svc.Store.OrgByID(ctx, id)
	if err != nil {
		s.consoleFail(w, r, cs, err)
		return
	}
	tickets, err := s.svc.Tickets(ctx, cs.actor, desk.TicketFilter{OrgID: id})
	if err != nil {
		s.consoleFail(w, r, cs, err)
		return
	}
	var allStaff []desk.Staff
	if cs.Admin {
		allStaff, _ = s.svc.Store.ListStaff(ctx)
	}
	s.page(w, r, http.StatusOK, "console_org", pageData{Title: org.Name + " – tamlink console", Console: cs, Data: map[string]any{
		"Org": org, "Users": users, "Staff": staff, "AllStaff": allStaff, "Tickets": tickets, "Channels": s.orgChannels(r, id), "InviteURL": inviteURL,
		"Notify": s.orgNotifyData(r, cs, id, s.orgChannels(r, id)), // notifications.go
	}})
}

func (s *Server) consoleInvite(w http.ResponseWriter, r *http.Request, cs *consoleSession) {
	id, err := int64Param(r, "id")
	if err != nil {
		s.consoleFail(w, r, cs, err)
		return
	}
	chs := s.orgChannels(r, id)
	if len(chs) == 0 {
		s.consoleFail(w, r, cs, desk.Errorf(desk.EInvalid, "this organisation has no Teams channel to invite through"))
		return
	}
	ch := chs[0]
	for _, c := range chs {
		if c.AppID == r.PostFormValue("appId") {
			ch = c
		}
	}
	days, _ := strconv.Atoi(r.PostFormValue("days"))
	_, q, err := s.svc.CreateInvite(r.Context(), cs.actor, ch, time.Duration(days)*24*time.Hour, r.PostFormValue("note"))
	if err != nil {
		s.consoleFail(w, r, cs, err)
		return
	}
	s.renderOrg(w, r, cs, s.InviteURL(ch.AppID, q))
}

func (s *Server) consoleAssign(w http.ResponseWriter, r *http.Request, cs *consoleSession) {
	if !cs.Admin {
		s.consoleFail(w, r, cs, desk.Errorf(desk.EForbidden, "only admins assign staff"))
		return
	}
	id, err := int64Param(r, "id")
	if err != nil {
		s.consoleFail(w, r, cs, err)
		return
	}
	staffID, _ := strconv.ParseInt(r.PostFormValue("staffId"), 10, 64)
	if err := s.svc.Store.AssignStaff(r.Context(), id, staffID); err != nil {
		s.consoleFail(w, r, cs, err)
		return
	}
	http.Redirect(w, r, "/console/orgs/"+strconv.FormatInt(id, 10), http.StatusSeeOther)
}

func (s *Server) consoleTicket(w http.ResponseWriter, r *http.Request, cs *consoleSession) {
	ctx := r.Context()
	id, err := int64Param(r, "id")
	if err != nil {
		s.consoleFail(w, r, cs, err)
		return
	}
	t, evs, err := s.svc.Ticket(ctx, cs.actor, id)
	if err != nil {
		s.consoleFail(w, r, cs, err)
		return
	}
	org, _ := s.svc.Store.OrgByID(ctx, t.OrgID)
	staff, _ := s.svc.StaffServing(ctx, t.OrgID)
	s.page(w, r, http.StatusOK, "console_ticket", pageData{Title: t.Title + " – tamlink console", Console: cs, Data: map[string]any{
		"Ticket": t, "Events": evs, "Org": org, "Staff": staff,
	}})
}

func (s *Server) consoleChangeTicket(w http.ResponseWriter, r *http.Request, cs *consoleSession) {
	id, err := int64Param(r, "id")
	if err != nil {
		s.consoleFail(w, r, cs, err)
		return
	}
	var c desk.TicketChange
	if v := r.PostFormValue("status"); v != "" {
		st := desk.Status(v)
		c.Status = &st
	}
	if v := r.PostFormValue("severity"); v != "" {
		sv := desk.Severity(v)
		c.Severity = &sv
	}
	if v := r.PostFormValue("assignee"); v != "" {
		n, _ := strconv.ParseInt(v, 10, 64)
		c.AssigneeID = &n
	}
	if _, _, err := s.svc.ChangeTicket(r.Context(), cs.actor, id, c); err != nil {
		s.consoleFail(w, r, cs, err)
		return
	}
	http.Redirect(w, r, "/console/tickets/"+strconv.FormatInt(id, 10), http.StatusSeeOther)
}

func (s *Server) consoleComment(w http.ResponseWriter, r *http.Request, cs *consoleSession) {
	id, err := int64Param(r, "id")
	if err != nil {
		s.consoleFail(w, r, cs, err)
		return
	}
	if _, err := s.svc.Comment(r.Context(), cs.actor, id, r.PostFormValue("body")); err != nil {
		s.consoleFail(w, r, cs, err)
		return
	}
	http.Redirect(w, r, "/console/tickets/"+strconv.FormatInt(id, 10), http.StatusSeeOther)
}

func (s *Server) consoleChannels(w http.ResponseWriter, r *http.Request, cs *consoleSession) {
	s.renderChannels(w, r, cs, http.StatusOK, "", "")
}

func (s *Server) renderChannels(w http.ResponseWriter, r *http.Request, cs *consoleSession, status int, msg, formErr string) {
	chs, err := s.visibleChannels(r, cs)
	if err != nil {
		s.consoleFail(w, r, cs, err)
		return
	}
	s.page(w, r, status, "console_channels", pageData{Title: "Channels – tamlink console", Console: cs, Message: msg, Data: map[string]any{
		"Channels": chs, "Error": formErr, "Org": r.PostFormValue("org"), "Domain": s.domain(), "PublicURL": s.public.String(),
	}})
}

// visibleChannels lists the channels of the organisations cs may see.
func (s *Server) visibleChannels(r *http.Request, cs *consoleSession) ([]desk.Channel, error) {
	chs, err := s.svc.Channels(r.Context())
	if err != nil || cs.Admin {
		return chs, err
	}
	orgs, err := s.svc.VisibleOrgs(r.Context(), cs.actor)
	if err != nil {
		return nil, err
	}
	ok := map[int64]bool{}
	for _, o := range orgs {
		ok[o.ID] = true
	}
	var out []desk.Channel
	for _, c := range chs {
		if ok[c.OrgID] {
			out = append(out, c)
		}
	}
	return out, nil
}

func (s *Server) consoleAddChannel(w http.ResponseWriter, r *http.Request, cs *consoleSession) {
	if !cs.Admin {
		s.consoleFail(w, r, cs, desk.Errorf(desk.EForbidden, "only admins add channels"))
		return
	}
	cfg, err := desk.ParseChannelConfig(strings.NewReader(r.PostFormValue("config")))
	if err == nil {
		var expiry time.Time
		if v := r.PostFormValue("secretExpires"); v != "" {
			if expiry, err = time.Parse("2006-01-02", v); err != nil {
				err = desk.Invalid("secretExpires", "must be a date like 2027-12-31")
			}
		}
		if err == nil {
			_, err = s.svc.AddChannel(r.Context(), cfg, r.PostFormValue("org"), expiry)
		}
	}
	if err != nil {
		// The form is shown again without the JSON: it holds the secret.
		s.renderChannels(w, r, cs, statusOf(desk.ErrorCode(err)), "", desk.ErrorMessage(err))
		return
	}
	s.log.Info("channel added", "app_id", cfg.AppID, "tenant_id", cfg.TenantID, "staff_id", cs.staff.ID)
	s.renderChannels(w, r, cs, http.StatusCreated, "Channel "+cfg.AppID+" added. Test its connection below.", "")
}

func (s *Server) consoleTestChannel(w http.ResponseWriter, r *http.Request, cs *consoleSession) {
	if !cs.Admin {
		s.consoleFail(w, r, cs, desk.Errorf(desk.EForbidden, "only admins test channels"))
		return
	}
	ok, msg := s.testChannel(r, r.PathValue("appId"))
	if !ok {
		msg = "Test failed: " + msg
	}
	s.renderChannels(w, r, cs, http.StatusOK, msg, "")
}

// testChannel runs and records a connection test.
func (s *Server) testChannel(r *http.Request, appID string) (bool, string) {
	ch, err := s.svc.Channel(r.Context(), appID)
	if err != nil {
		return false, desk.ErrorMessage(err)
	}
	secret, err := s.svc.ChannelSecret(ch)
	if err != nil {
		return false, "the stored secret cannot be decrypted with this server's key"
	}
	ok, msg := true, "connection works: the tenant issued a token for the app"
	if err := s.cfg.Entra.TestConnection(r.Context(), ch.TenantID, ch.AppID, secret); err != nil {
		ok, msg = false, entra.Explain(err)
	}
	if err := s.svc.RecordChannelTest(r.Context(), ch.AppID, ok, msg); err != nil {
		s.log.Error("record channel test", "err", err)
	}
	return ok, msg
}

func (s *Server) consoleDeleteChannel(w http.ResponseWriter, r *http.Request, cs *consoleSession) {
	if !cs.Admin {
		s.consoleFail(w, r, cs, desk.Errorf(desk.EForbidden, "only admins remove channels"))
		return
	}
	if err := s.svc.RemoveChannel(r.Context(), r.PathValue("appId")); err != nil {
		s.consoleFail(w, r, cs, err)
		return
	}
	http.Redirect(w, r, "/console/channels", http.StatusSeeOther)
}
