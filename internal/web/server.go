// Package web is tamlink's HTTP face: the guide's Teams URLs (workbench,
// sign-in, invites), the tab's JSON API and live socket, the staff console and
// the admin API. Handlers translate HTTP to calls on desk.Service and back;
// the rules live in desk.
package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tamlink/tamlink/internal/desk"
	"github.com/tamlink/tamlink/internal/entra"
	"github.com/tamlink/tamlink/internal/live"
	"github.com/tamlink/tamlink/internal/ssotoken"
)

// Config wires a Server.
type Config struct {
	// PublicURL is where users reach tamlink, e.g. https://desk.example.com.
	// Redirect URIs and the Application ID URI are derived from it.
	PublicURL string
	Service   *desk.Service
	Entra     *entra.Client
	Verifier  *ssotoken.Verifier
	Hub       *live.Hub
	Log       *slog.Logger
	// Ready reports whether dependencies (the database) answer.
	Ready func(context.Context) error
	// TeamsJSPath is the file of @microsoft/teams-js's UMD bundle, served at
	// /static/teams-js.js; empty when not installed.
	TeamsJSPath string
	// Emulator, when set, is mounted at /emulator/ and its origin is trusted
	// by the Teams SDK in the workbench (demo and tests only).
	Emulator http.Handler
	// ExtraFrameAncestors are origins allowed to frame the workbench besides
	// Microsoft's hosts (the emulator's Teams host page).
	ExtraFrameAncestors []string
	TabSessionTTL       time.Duration
	ConsoleSessionTTL   time.Duration
	Registry            *prometheus.Registry
}

// Server serves tamlink over HTTP.
type Server struct {
	cfg     Config
	svc     *desk.Service
	log     *slog.Logger
	mux     *http.ServeMux
	public  *url.URL
	metrics *metrics
	teamsJS []byte

	logins     *loginGuard // console password checks
	loginStart *ipLimiter  // unauthenticated sign-in starts (each writes a row)
	sockets    *socketCount
}

// New builds a Server.
func New(cfg Config) (*Server, error) {
	pu, err := url.Parse(strings.TrimRight(cfg.PublicURL, "/"))
	if err != nil || pu.Host == "" || (pu.Scheme != "http" && pu.Scheme != "https") {
		return nil, desk.Invalid("public-url", "must be an absolute http(s) URL, got %q", cfg.PublicURL)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.TabSessionTTL == 0 {
		cfg.TabSessionTTL = 8 * time.Hour
	}
	if cfg.ConsoleSessionTTL == 0 {
		cfg.ConsoleSessionTTL = 12 * time.Hour
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
		cfg.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	s := &Server{cfg: cfg, svc: cfg.Service, log: cfg.Log, mux: http.NewServeMux(), public: pu, metrics: newMetrics(cfg.Registry),
		logins: newLoginGuard(), loginStart: newIPLimiter(60, 30), sockets: newSocketCount()}
	if cfg.TeamsJSPath != "" {
		if s.teamsJS, err = os.ReadFile(cfg.TeamsJSPath); err != nil {
			s.log.Warn("teams-js bundle not readable; the workbench will only offer browser sign-in", "path", cfg.TeamsJSPath, "err", err)
		}
	}
	s.routes()
	return s, nil
}

// Handler returns the server's root handler.
func (s *Server) Handler() http.Handler { return s.recoverer(s.instrument(s.mux)) }

func (s *Server) routes() {
	m := s.mux
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, map[string]string{"status": "ok"}) })
	m.HandleFunc("GET /readyz", s.readyz)
	m.Handle("GET /metrics", promhttp.HandlerFor(s.cfg.Registry, promhttp.HandlerOpts{}))
	m.HandleFunc("GET /static/", s.static)
	m.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/console", http.StatusFound) })
	if s.cfg.Emulator != nil {
		m.Handle("/emulator/", http.StripPrefix("/emulator", s.cfg.Emulator))
	}

	// The guide's URLs.
	m.HandleFunc("GET /teams/{appId}", s.appHome)
	m.HandleFunc("GET /teams/{appId}/workbench", s.workbench)
	m.HandleFunc("GET /teams/{appId}/person/inviteToGroup", s.inviteLanding)
	m.HandleFunc("GET /thirdparty/teams/{appId}/login", s.login)
	m.HandleFunc("GET /thirdparty/teams/{appId}/oauth2/callback", s.callback)
	m.HandleFunc("POST /thirdparty/teams/{appId}/oauth2/callback", s.callback)

	// The tab's API.
	m.HandleFunc("POST /api/tab/{appId}/sso", s.sso)
	m.HandleFunc("GET /api/tab/{appId}/live", s.tabLive)
	m.HandleFunc("GET /api/tab/{appId}/me", s.tab(s.tabMe))
	m.HandleFunc("GET /api/tab/{appId}/messages", s.tab(s.tabMessages))
	m.HandleFunc("POST /api/tab/{appId}/messages", s.tab(s.tabSend))
	m.HandleFunc("POST /api/tab/{appId}/read", s.tab(s.tabRead))
	m.HandleFunc("GET /api/tab/{appId}/tickets", s.tab(s.tabTickets))
	m.HandleFunc("POST /api/tab/{appId}/tickets", s.tab(s.tabCreateTicket))
	m.HandleFunc("GET /api/tab/{appId}/tickets/{id}", s.tab(s.tabTicket))
	m.HandleFunc("PATCH /api/tab/{appId}/tickets/{id}", s.tab(s.tabChangeTicket))
	m.HandleFunc("POST /api/tab/{appId}/tickets/{id}/comments", s.tab(s.tabComment))
	m.HandleFunc("POST /api/tab/{appId}/invites/accept", s.tab(s.tabAcceptInvite))
	m.HandleFunc("/api/tab/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, apiError{Error: desk.ENotFound, Message: "no such API route"})
	})

	s.consoleRoutes()
	s.adminRoutes()
	s.notificationRoutes() // notifications.go
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.cfg.Ready(ctx); err != nil {
			s.log.Warn("not ready", "err", err)
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// recoverer turns a panic into a 500 and a log line instead of a dropped connection.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic", "method", r.Method, "path", r.URL.Path, "panic", v)
				writeJSON(w, http.StatusInternalServerError, apiError{Error: desk.EInternal, Message: "internal error"})
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// publicURL builds an absolute URL on tamlink's public origin.
func (s *Server) publicURL(path string) string { return s.public.String() + path }

// domain is the host of the public URL: the one in api://{domain}/{appId}.
func (s *Server) domain() string { return s.public.Host }

// newToken returns a random token and the hash under which it is stored.
func newToken(prefix string) (string, []byte) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	tok := prefix + base64.RawURLEncoding.EncodeToString(b[:])
	return tok, hashToken(tok)
}

func hashToken(tok string) []byte {
	h := sha256.Sum256([]byte(tok))
	return h[:]
}

func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// channel finds the channel named in the path.
func (s *Server) channel(r *http.Request) (desk.Channel, error) {
	return s.svc.Channel(r.Context(), r.PathValue("appId"))
}
