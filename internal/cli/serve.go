package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tamlink/tamlink/internal/emulator"
	"github.com/tamlink/tamlink/internal/entra"
	"github.com/tamlink/tamlink/internal/live"
	"github.com/tamlink/tamlink/internal/notify"
	"github.com/tamlink/tamlink/internal/ssotoken"
	"github.com/tamlink/tamlink/internal/web"
)

// serverFlags are the flags serve and demo share.
type serverFlags struct {
	listen, publicURL, data, teamsJS *string
}

func addServerFlags(fs interface {
	String(string, string, string) *string
}, env Env, defListen, defData string) serverFlags {
	get := func(k, d string) string {
		if v := env.Getenv(k); v != "" {
			return v
		}
		return d
	}
	return serverFlags{
		listen:    fs.String("listen", get("TAMLINK_LISTEN", defListen), "address to listen on (env TAMLINK_LISTEN)"),
		publicURL: fs.String("public-url", get("TAMLINK_PUBLIC_URL", ""), "URL users reach tamlink at, e.g. https://desk.example.com (env TAMLINK_PUBLIC_URL)"),
		data:      fs.String("data", get("TAMLINK_DATA", defData), "data directory (env TAMLINK_DATA)"),
		teamsJS:   fs.String("teams-js", get("TAMLINK_TEAMS_JS", ""), "path of @microsoft/teams-js dist/umd/MicrosoftTeams.min.js (env TAMLINK_TEAMS_JS; default: look in web/node_modules)"),
	}
}

func newLogger(env Env) *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if env.Getenv("TAMLINK_LOG_FORMAT") == "json" {
		return slog.New(slog.NewJSONHandler(env.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(env.Stderr, opts))
}

// findTeamsJS looks for the npm-installed Teams SDK bundle: it is not part of
// the repository, the test setup and `make demo` install it under web/.
func findTeamsJS(explicit string) string {
	if explicit != "" {
		return explicit
	}
	rel := filepath.Join("web", "node_modules", "@microsoft", "teams-js", "dist", "umd", "MicrosoftTeams.min.js")
	cands := []string{rel}
	if exe, err := os.Executable(); err == nil {
		cands = append(cands, filepath.Join(filepath.Dir(exe), "..", rel), filepath.Join(filepath.Dir(exe), rel))
	}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			cands = append(cands, filepath.Join(d, rel))
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	for _, c := range cands {
		if st, err := os.Stat(c); err == nil && !st.IsDir() {
			return c
		}
	}
	return ""
}

// running is a started server.
type running struct {
	notifier *notify.Notifier
	srv      *http.Server
	ln       net.Listener
	cancel   context.CancelFunc
	public   string
}

// listen opens the listener first so that the public URL (and the emulator's
// issuer) can name the real port when --listen asks for port 0.
func listen(addr, publicURL string) (net.Listener, string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", &exitError{1, fmt.Errorf("cannot listen on %s: %w (is another tamlink running? use --listen)", addr, err)}
	}
	if publicURL == "" {
		host := ln.Addr().String()
		if tcp, ok := ln.Addr().(*net.TCPAddr); ok && tcp.IP.IsUnspecified() {
			host = fmt.Sprintf("localhost:%d", tcp.Port)
		}
		publicURL = "http://" + host
	}
	return ln, strings.TrimRight(publicURL, "/"), nil
}

type serverDeps struct {
	o         *opened
	ln        net.Listener
	publicURL string
	endpoints entra.Endpoints
	emu       *emulator.Emulator
	teamsJS   string
	log       *slog.Logger
	// frameAncestors are extra origins that may frame the workbench (the
	// emulated Teams host's, in demo); tabTTL overrides the tab session lifetime.
	frameAncestors []string
	tabTTL         time.Duration
}

// startServer wires the packages and serves until ctx ends.
func startServer(ctx context.Context, d serverDeps) (*running, error) {
	hc := &http.Client{Timeout: 15 * time.Second}
	hub := live.NewHub(web.EncodeEvent, d.log)
	d.o.svc.Publisher = hub
	d.o.svc.Presence = hub
	cfg := web.Config{
		PublicURL:   d.publicURL,
		Service:     d.o.svc,
		Entra:       entra.New(d.endpoints, hc),
		Verifier:    ssotoken.New(ssotoken.Config{LoginURL: d.endpoints.LoginURL, STSURL: d.endpoints.STSURL, HTTPClient: hc}),
		Hub:         hub,
		Log:         d.log,
		Ready:       func(ctx context.Context) error { return d.o.db.SQL().PingContext(ctx) },
		TeamsJSPath: d.teamsJS,

		ExtraFrameAncestors: d.frameAncestors,
		TabSessionTTL:       d.tabTTL,
	}
	if d.emu != nil {
		cfg.Emulator = d.emu.Handler()
	}
	srv, err := web.New(cfg)
	if err != nil {
		return nil, err
	}
	if err := saveEndpoints(d.o.dir, d.endpoints, d.publicURL); err != nil {
		return nil, err
	}
	base, cancel := context.WithCancel(context.Background())
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		// Live sockets are hijacked and outlive Shutdown's wait; cancelling the
		// base context ends them too.
		BaseContext: func(net.Listener) context.Context { return base },
		ErrorLog:    slog.NewLogLogger(d.log.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := hs.Serve(d.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("server stopped", "err", err)
		}
	}()
	go d.o.sweep(base, d.log)
	// Notifications to Teams: River workers on this database (notify.go).
	notifier, err := startNotifier(ctx, d, hc)
	if err != nil {
		cancel()
		hs.Close()
		return nil, err
	}
	return &running{srv: hs, ln: d.ln, cancel: cancel, public: d.publicURL, notifier: notifier}, nil
}

// shutdown stops accepting, lets requests finish for up to 10 s, then closes sockets.
func (r *running) shutdown(log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	log.Info("shutting down")
	r.cancel()
	if err := r.srv.Shutdown(ctx); err != nil {
		log.Warn("shutdown", "err", err)
	}
	// Deliveries in flight get the rest of the grace period; any cut short
	// are run again on the next start.
	if err := r.notifier.Stop(ctx); err != nil {
		log.Warn("notifier stop", "err", err)
	}
}

// sweep deletes expired sessions and sign-in states now and then.
func (o *opened) sweep(ctx context.Context, log *slog.Logger) {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		if err := o.db.DeleteExpired(ctx, time.Now().UTC()); err != nil && ctx.Err() == nil {
			log.Warn("sweep expired sessions", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func runServe(ctx context.Context, args []string, env Env) error {
	fs := newFlags("serve", env)
	sf := addServerFlags(fs, env, ":8080", "")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *sf.publicURL == "" {
		return &exitError{2, errors.New("--public-url is required: the https URL customers reach tamlink at (its host goes into api://HOST/APPID)")}
	}
	log := newLogger(env)
	o, err := open(ctx, *sf.data, false, log)
	if err != nil {
		return err
	}
	defer o.Close()
	ln, public, err := listen(*sf.listen, *sf.publicURL)
	if err != nil {
		return err
	}
	r, err := startServer(ctx, serverDeps{o: o, ln: ln, publicURL: public, endpoints: loadEndpointsOverride(env), teamsJS: findTeamsJS(*sf.teamsJS), log: log})
	if err != nil {
		ln.Close()
		return err
	}
	log.Info("tamlink serving", "listen", ln.Addr().String(), "public_url", public)
	<-ctx.Done()
	r.shutdown(log)
	return nil
}

// loadEndpointsOverride is Microsoft's cloud unless the environment says otherwise.
func loadEndpointsOverride(env Env) entra.Endpoints {
	ep := entra.Microsoft
	if v := env.Getenv("TAMLINK_LOGIN_URL"); v != "" {
		ep.LoginURL = v
	}
	if v := env.Getenv("TAMLINK_STS_URL"); v != "" {
		ep.STSURL = v
	}
	if v := env.Getenv("TAMLINK_GRAPH_URL"); v != "" {
		ep.GraphURL = v
	}
	return ep
}
