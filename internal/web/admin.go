package web

import (
	"net/http"
	"time"

	"github.com/tamlink/tamlink/internal/desk"
)

// The admin REST API: channels for automation (tamlink setup --register, an
// operator's own tooling). Authenticated by an admin's API token.
func (s *Server) adminRoutes() {
	m := s.mux
	m.HandleFunc("GET /api/admin/channels", s.admin(s.adminListChannels))
	m.HandleFunc("POST /api/admin/channels", s.admin(s.adminAddChannel))
	m.HandleFunc("GET /api/admin/channels/{appId}", s.admin(s.adminGetChannel))
	m.HandleFunc("DELETE /api/admin/channels/{appId}", s.admin(s.adminDeleteChannel))
	m.HandleFunc("POST /api/admin/channels/{appId}/test", s.admin(s.adminTestChannel))
}

// NewAPIToken returns a fresh API token and its stored hash.
func NewAPIToken() (string, []byte) { return newToken("tla_") }

func (s *Server) admin(h func(http.ResponseWriter, *http.Request, desk.Staff)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		unauth := func() {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tamlink admin"`)
			writeJSON(w, http.StatusUnauthorized, apiError{Error: desk.EUnauthorized, Message: "an admin API token is required (tamlink staff token)"})
		}
		tok := bearer(r)
		if tok == "" {
			unauth()
			return
		}
		sess, err := s.svc.Store.SessionByHash(r.Context(), hashToken(tok))
		if err != nil || sess.Kind != desk.SessionAPI || !time.Now().Before(sess.ExpiresAt) {
			unauth()
			return
		}
		st, err := s.svc.Store.StaffByID(r.Context(), sess.StaffID)
		if err != nil {
			unauth()
			return
		}
		if !st.Admin {
			writeJSON(w, http.StatusForbidden, apiError{Error: desk.EForbidden, Message: "the token's owner is not an admin"})
			return
		}
		h(w, r, st)
	}
}

func (s *Server) adminListChannels(w http.ResponseWriter, r *http.Request, _ desk.Staff) {
	chs, err := s.svc.Channels(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]channelView, len(chs))
	for i, c := range chs {
		out[i] = channelOf(c)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) adminAddChannel(w http.ResponseWriter, r *http.Request, st desk.Staff) {
	cfg, err := desk.ParseChannelConfig(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var expiry time.Time
	if v := r.URL.Query().Get("secretExpires"); v != "" {
		if expiry, err = time.Parse(time.RFC3339, v); err != nil {
			s.writeError(w, r, desk.Invalid("secretExpires", "must be an RFC 3339 time"))
			return
		}
	}
	ch, err := s.svc.AddChannel(r.Context(), cfg, r.URL.Query().Get("org"), expiry)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.log.Info("channel added", "app_id", ch.AppID, "tenant_id", ch.TenantID, "staff_id", st.ID, "via", "api")
	writeJSON(w, http.StatusCreated, channelOf(ch))
}

func (s *Server) adminGetChannel(w http.ResponseWriter, r *http.Request, _ desk.Staff) {
	ch, err := s.channel(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, channelOf(ch))
}

func (s *Server) adminDeleteChannel(w http.ResponseWriter, r *http.Request, _ desk.Staff) {
	if err := s.svc.RemoveChannel(r.Context(), r.PathValue("appId")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) adminTestChannel(w http.ResponseWriter, r *http.Request, _ desk.Staff) {
	if _, err := s.channel(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	ok, msg := s.testChannel(r, r.PathValue("appId"))
	writeJSON(w, http.StatusOK, map[string]any{"ok": ok, "message": msg})
}
