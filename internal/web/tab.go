package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tamlink/tamlink/internal/desk"
	"github.com/tamlink/tamlink/internal/entra"
	"github.com/tamlink/tamlink/internal/ssotoken"
)

// tabCtx is who is calling a tab route, checked against the channel in the URL.
type tabCtx struct {
	ch    desk.Channel
	user  desk.User
	actor desk.Actor
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

var errNoSession = &desk.Error{Code: desk.EUnauthorized, Message: "sign in again: no valid session for this app"}

// tabSession resolves a tab session token for the channel ch. A session of
// another channel, or a user outside ch's tenant and organisation, is refused
// even if the token itself is valid: one tenant never reaches another's data.
func (s *Server) tabSession(ctx context.Context, ch desk.Channel, token string) (tabCtx, error) {
	if token == "" {
		return tabCtx{}, errNoSession
	}
	sess, err := s.svc.Store.SessionByHash(ctx, hashToken(token))
	if err != nil {
		if desk.ErrorCode(err) == desk.ENotFound {
			return tabCtx{}, errNoSession
		}
		return tabCtx{}, err
	}
	if sess.Kind != desk.SessionTab || sess.AppID != ch.AppID || !time.Now().Before(sess.ExpiresAt) {
		return tabCtx{}, errNoSession
	}
	u, err := s.svc.Store.UserByID(ctx, sess.UserID)
	if err != nil {
		return tabCtx{}, errNoSession
	}
	if u.OrgID != ch.OrgID || !strings.EqualFold(u.TenantID, ch.TenantID) {
		return tabCtx{}, errNoSession
	}
	return tabCtx{ch: ch, user: u, actor: desk.UserActor(u)}, nil
}

// tab wraps a handler that needs a signed-in customer of the URL's channel.
func (s *Server) tab(h func(http.ResponseWriter, *http.Request, tabCtx)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ch, err := s.channel(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		tc, err := s.tabSession(r.Context(), ch, bearer(r))
		if err != nil {
			if desk.ErrorCode(err) == desk.EUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="tamlink"`)
			}
			s.writeError(w, r, err)
			return
		}
		h(w, r, tc)
	}
}

// startTabSession signs u in and returns a fresh bearer session.
func (s *Server) startTabSession(ctx context.Context, ch desk.Channel, u desk.User) (string, time.Time, error) {
	tok, hash := newToken("tls_")
	now := time.Now().UTC()
	sess := desk.Session{TokenHash: hash, Kind: desk.SessionTab, UserID: u.ID, AppID: ch.AppID, CreatedAt: now, ExpiresAt: now.Add(s.cfg.TabSessionTTL)}
	if err := s.svc.Store.CreateSession(ctx, &sess); err != nil {
		return "", time.Time{}, err
	}
	return tok, sess.ExpiresAt, nil
}

type ssoRequest struct {
	Token string `json:"token"`
}

type sessionView struct {
	Session   string    `json:"session"`
	ExpiresAt time.Time `json:"expiresAt"`
	User      userView  `json:"user"`
	Org       orgView   `json:"org"`
}

// sso takes a Teams SSO token, verifies it for the channel, exchanges it
// on-behalf-of for Graph User.Read, reads the profile and starts a session.
func (s *Server) sso(w http.ResponseWriter, r *http.Request) {
	ch, err := s.channel(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req ssoRequest
	if err := readJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx := r.Context()
	id, err := s.cfg.Verifier.Verify(ctx, req.Token, ssotoken.Expect{
		TenantID: ch.TenantID, AppID: ch.AppID, AppIDURIs: []string{desk.AppIDURI(s.domain(), ch.AppID)}, Scope: "access_as_user",
	})
	if err != nil {
		var ve *ssotoken.Error
		reason := "invalid"
		if errors.As(err, &ve) {
			reason = string(ve.Reason)
		}
		s.metrics.ssoTotal.WithLabelValues("rejected_" + reason).Inc()
		// The detail (expected audiences, the tenant's key URL) stays in the
		// log: an anonymous caller learns only the reason code.
		s.log.Info("sso token refused", "app_id", ch.AppID, "reason", reason, "err", err)
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, apiError{Error: "invalid_token", Reason: reason, Message: "the Teams sign-in token was refused (" + reason + ")"})
		return
	}
	secret, err := s.svc.ChannelSecret(ch)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	obo, err := s.cfg.Entra.OnBehalfOf(ctx, ch.TenantID, ch.AppID, secret, req.Token, s.cfg.Entra.GraphScope("User.Read"))
	if err != nil {
		s.oboFailed(w, r, ch, err)
		return
	}
	me, err := s.cfg.Entra.Me(ctx, obo.AccessToken)
	if err != nil {
		s.metrics.ssoTotal.WithLabelValues("graph_failed").Inc()
		s.log.Warn("graph /me failed after OBO", "app_id", ch.AppID, "err", err)
		writeJSON(w, http.StatusBadGateway, apiError{Error: "upstream", Message: "Microsoft Graph did not return your profile; try again"})
		return
	}
	prof := desk.Profile{TenantID: id.TenantID, ObjectID: id.ObjectID, Name: firstNonEmpty(me.DisplayName, id.Name),
		Email: firstNonEmpty(me.Mail, id.PreferredUsername, me.UserPrincipalName), HomeTenantID: homeTenant(id.IdentityProvider, id.TenantID)}
	s.finishSignIn(w, r, ch, prof, "sso")
}

func (s *Server) finishSignIn(w http.ResponseWriter, r *http.Request, ch desk.Channel, prof desk.Profile, how string) {
	u, err := s.svc.SignIn(r.Context(), ch, prof)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	tok, exp, err := s.startTabSession(r.Context(), ch, u)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.metrics.ssoTotal.WithLabelValues("ok_" + how).Inc()
	s.log.Info("signed in", "app_id", ch.AppID, "user_id", u.ID, "via", how)
	writeJSON(w, http.StatusOK, sessionView{Session: tok, ExpiresAt: exp, User: userOf(u), Org: orgView{ID: ch.OrgID, Name: ch.OrgName}})
}

// oboFailed tells the tab what to do when on-behalf-of fails: consent or MFA
// needs the interactive popup (403, machine readable); a broken channel is the
// desk's problem, not the user's.
func (s *Server) oboFailed(w http.ResponseWriter, r *http.Request, ch desk.Channel, err error) {
	var ae *entra.AADError
	loginURL := "/thirdparty/teams/" + ch.AppID + "/login?popup=1&prompt=consent"
	if errors.As(err, &ae) {
		s.log.Info("on-behalf-of refused", "app_id", ch.AppID, "error", ae.Code, "aadsts", ae.AADSTS())
		if ae.NeedsInteraction() {
			code := "consent_required"
			if ae.Code == "interaction_required" && ae.AADSTS() != 65001 {
				// MFA or another Conditional Access step: an interactive sign-in.
				code = "interaction_required"
				loginURL = "/thirdparty/teams/" + ch.AppID + "/login?popup=1&prompt=login"
			}
			s.metrics.ssoTotal.WithLabelValues(code).Inc()
			writeJSON(w, http.StatusForbidden, apiError{Error: code, Reason: "AADSTS" + strconv.Itoa(ae.AADSTS()),
				Message: "Microsoft needs you to approve access before tamlink can read your profile", LoginURL: loginURL})
			return
		}
		if userSideAADSTS[ae.AADSTS()] {
			// The token or its user, not the channel, is at fault.
			s.metrics.ssoTotal.WithLabelValues("rejected_obo").Inc()
			writeJSON(w, http.StatusUnauthorized, apiError{Error: "invalid_token", Reason: "AADSTS" + strconv.Itoa(ae.AADSTS()),
				Message: "Microsoft refused the Teams sign-in token; get a fresh one and try again"})
			return
		}
		s.metrics.ssoTotal.WithLabelValues("channel_broken").Inc()
		writeJSON(w, http.StatusServiceUnavailable, apiError{Error: "channel_misconfigured", Reason: "AADSTS" + strconv.Itoa(ae.AADSTS()),
			Message: "this organisation's tamlink channel is misconfigured; ask your administrator to run tamlink doctor"})
		return
	}
	s.metrics.ssoTotal.WithLabelValues("obo_failed").Inc()
	s.log.Warn("on-behalf-of failed", "app_id", ch.AppID, "err", err)
	writeJSON(w, http.StatusBadGateway, apiError{Error: "upstream", Message: "Microsoft sign-in is unreachable; try again"})
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

// homeTenant reads a guest's home tenant from the idp claim
// (https://sts.windows.net/{tid}/); members have none.
//
// A guest's idp is their home tenant's v1 issuer, {STS}/{home tid}/ (the STS
// being sts.windows.net, or the emulator's); a personal Microsoft account
// invited as a guest has idp "live.com". The user is still keyed by the
// resource tenant's (tid, oid): the guest is a member of the customer's
// directory, with its own object id there.
func homeTenant(idp, tid string) string {
	if strings.EqualFold(idp, "live.com") {
		return ssotoken.PersonalAccountsTenant
	}
	if u, err := url.Parse(idp); err == nil && (u.Scheme == "https" || u.Scheme == "http") {
		segs := strings.Split(strings.Trim(u.Path, "/"), "/")
		if h := segs[len(segs)-1]; desk.IsGUID(h) {
			return strings.ToLower(h)
		}
	}
	return tid
}

func (s *Server) tabMe(w http.ResponseWriter, r *http.Request, tc tabCtx) {
	ctx := r.Context()
	unread, err := s.svc.Unread(ctx, tc.actor, tc.ch.OrgID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	users, staff, err := s.svc.Members(ctx, tc.actor, tc.ch.OrgID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	type staffView struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	}
	uv := make([]userView, len(users))
	for i, u := range users {
		uv[i] = userOf(u)
	}
	sv := make([]staffView, len(staff))
	for i, st := range staff {
		sv[i] = staffView{st.ID, st.Name}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"user": userOf(tc.user), "org": orgView{ID: tc.ch.OrgID, Name: tc.ch.OrgName}, "unread": unread,
		"members": map[string]any{"users": uv, "staff": sv},
	})
}

func int64Param(r *http.Request, name string) (int64, error) {
	v := r.PathValue(name)
	if v == "" {
		v = r.URL.Query().Get(name)
	}
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, desk.Invalid(name, "must be a positive integer")
	}
	return n, nil
}

func (s *Server) tabMessages(w http.ResponseWriter, r *http.Request, tc tabCtx) {
	s.listMessages(w, r, tc.actor, tc.ch.OrgID)
}

func (s *Server) listMessages(w http.ResponseWriter, r *http.Request, a desk.Actor, orgID int64) {
	before, err := int64Param(r, "before")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	msgs, err := s.svc.History(r.Context(), a, orgID, before, historyPage)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	unread, err := s.svc.Unread(r.Context(), a, orgID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// hasMore tells the client whether "load earlier" can find anything.
	writeJSON(w, http.StatusOK, map[string]any{"messages": messagesOf(msgs), "unread": unread, "hasMore": len(msgs) == historyPage})
}

type sendRequest struct {
	Body     string `json:"body"`
	ClientID string `json:"clientId"`
}

func (s *Server) tabSend(w http.ResponseWriter, r *http.Request, tc tabCtx) {
	s.sendMessage(w, r, tc.actor, tc.ch.OrgID)
}

func (s *Server) sendMessage(w http.ResponseWriter, r *http.Request, a desk.Actor, orgID int64) {
	var req sendRequest
	if err := readJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	m, err := s.svc.SendMessage(r.Context(), a, orgID, req.Body, req.ClientID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, messageOf(m))
}

type readRequest struct {
	MessageID int64 `json:"messageId"`
}

func (s *Server) tabRead(w http.ResponseWriter, r *http.Request, tc tabCtx) {
	s.markRead(w, r, tc.actor, tc.ch.OrgID)
}

func (s *Server) markRead(w http.ResponseWriter, r *http.Request, a desk.Actor, orgID int64) {
	var req readRequest
	if err := readJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.svc.MarkRead(r.Context(), a, orgID, req.MessageID); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) tabTickets(w http.ResponseWriter, r *http.Request, tc tabCtx) {
	ts, err := s.svc.Tickets(r.Context(), tc.actor, desk.TicketFilter{})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"tickets": ticketsOf(ts)})
}

type ticketRequest struct {
	Title       string `json:"title"`
	Description string `json:"description"`
	Severity    string `json:"severity"`
	ExternalID  string `json:"externalId"`
}

func (s *Server) tabCreateTicket(w http.ResponseWriter, r *http.Request, tc tabCtx) {
	var req ticketRequest
	if err := readJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	t, err := s.svc.CreateTicket(r.Context(), tc.actor, tc.ch.OrgID, desk.TicketInput{Title: req.Title, Description: req.Description, Severity: desk.Severity(req.Severity)})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, ticketOf(t))
}

func (s *Server) tabTicket(w http.ResponseWriter, r *http.Request, tc tabCtx) {
	s.showTicket(w, r, tc.actor)
}

func (s *Server) showTicket(w http.ResponseWriter, r *http.Request, a desk.Actor) {
	id, err := int64Param(r, "id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	t, evs, err := s.svc.Ticket(r.Context(), a, id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ticket": ticketOf(t), "events": eventsOf(evs)})
}

type changeRequest struct {
	Status     *string `json:"status"`
	Severity   *string `json:"severity"`
	AssigneeID *int64  `json:"assigneeId"`
}

func (c changeRequest) change() desk.TicketChange {
	var tc desk.TicketChange
	if c.Status != nil {
		st := desk.Status(*c.Status)
		tc.Status = &st
	}
	if c.Severity != nil {
		sv := desk.Severity(*c.Severity)
		tc.Severity = &sv
	}
	tc.AssigneeID = c.AssigneeID
	return tc
}

func (s *Server) tabChangeTicket(w http.ResponseWriter, r *http.Request, tc tabCtx) {
	s.changeTicket(w, r, tc.actor)
}

func (s *Server) changeTicket(w http.ResponseWriter, r *http.Request, a desk.Actor) {
	id, err := int64Param(r, "id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req changeRequest
	if err := readJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	t, evs, err := s.svc.ChangeTicket(r.Context(), a, id, req.change())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ticket": ticketOf(t), "events": eventsOf(evs)})
}

type commentRequest struct {
	Body string `json:"body"`
}

func (s *Server) tabComment(w http.ResponseWriter, r *http.Request, tc tabCtx) {
	s.comment(w, r, tc.actor)
}

func (s *Server) comment(w http.ResponseWriter, r *http.Request, a desk.Actor) {
	id, err := int64Param(r, "id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req commentRequest
	if err := readJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	ev, err := s.svc.Comment(r.Context(), a, id, req.Body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, eventOf(ev))
}

type acceptRequest struct {
	Invite string `json:"invite"`
	Exp    string `json:"exp"`
	Sig    string `json:"sig"`
}

func (s *Server) tabAcceptInvite(w http.ResponseWriter, r *http.Request, tc tabCtx) {
	var req acceptRequest
	if err := readJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.svc.AcceptInvite(r.Context(), tc.ch, tc.user, req.Invite, req.Exp, req.Sig); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// userSideAADSTS are on-behalf-of refusals caused by the presented token or
// its user (expired or foreign assertion, user gone), not by the channel.
var userSideAADSTS = map[int]bool{50013: true, 500133: true, 50034: true, 50053: true, 50057: true, 240002: true}

// historyPage is how many messages one history request returns.
const historyPage = 50
