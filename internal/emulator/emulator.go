// Package emulator is a local, in-memory stand-in for the parts of Microsoft's
// identity platform (Entra ID, login.microsoftonline.com / sts.windows.net) and
// Microsoft Graph that tamlink talks to. It exists so that the whole product —
// SSO token validation, on-behalf-of exchange, the auth-code fallback, "test
// connection" — runs and is tested offline with Microsoft's own client libraries
// (MSAL Go, go-oidc, x/oauth2) pointed at it.
//
// Fidelity goals: the same URL layout, discovery documents, JWKS shape, token
// claims (v1 and v2), token-endpoint JSON and AADSTS error shapes as Microsoft.
// Non-goals: passwords, Conditional Access beyond a per-user "MFA required"
// switch, multi-tenant apps, certificates as client credentials.
//
// All state is in memory and guarded by one mutex; an Emulator is safe for
// concurrent use.
package emulator

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Well-known identifiers. The Teams client IDs are the values the azp (v2) /
// appid (v1) claim carries on tokens Teams obtains for a tab app.
const (
	TeamsWebClientID     = "5e3ce6c0-2b1f-4285-8d4b-75ee78787346"
	TeamsDesktopClientID = "1fec8e78-bce4-4aaf-ab1b-5451cc387264"
	// GraphAppID is Microsoft Graph's first-party application ID.
	GraphAppID = "00000003-0000-0000-c000-000000000000"
	// GraphResource is the resource identifier (and v1 token audience) of
	// Microsoft Graph. Tokens keep Microsoft's real value even though the
	// emulator serves Graph under GraphURL(): clients validate nothing about
	// Graph tokens, and the emulator's Graph checks for this audience.
	GraphResource = "https://graph.microsoft.com"
)

// Config configures an Emulator.
type Config struct {
	// BaseURL is the absolute URL where Handler() is mounted, e.g.
	// "http://127.0.0.1:8080/emulator" (no trailing slash).
	BaseURL string
	// Now is the clock; nil means time.Now. Tests inject a fake clock to
	// exercise expiry.
	Now func() time.Time
	// Logger receives one line per protocol event; nil discards. Secrets,
	// codes and tokens are never logged.
	Logger *slog.Logger
}

// Emulator is an in-memory Entra ID + Graph emulator.
type Emulator struct {
	base  string // BaseURL without trailing slash
	login string // base + "/login"
	sts   string // base + "/sts"
	graph string // base + "/graph"
	now   func() time.Time
	log   *slog.Logger
	mux   *http.ServeMux

	mu       sync.RWMutex
	tenants  map[string]*tenantState // by lower-case tenant GUID
	domains  map[string]string       // lower-case domain -> tenant GUID
	keys     []*signingKey           // all published keys, oldest first
	active   *signingKey             // the key that signs new tokens
	pending  map[string]*authRequest // sign-in pages in flight, by ctx id
	codes    map[string]*authCode    // authorization codes
	refresh  map[string]*refreshGrant
	sessions map[string]*session // browser sign-in sessions (ESTSAUTH cookie)

	teamworkOnce sync.Once
	teamwork     *teamwork // Teams notifications and installations (graph_teamwork.go)

	graphx graphExt // app registrations, consent, catalog, device code (graph_apps.go); guarded by mu

	host teamsHost // the Teams host page: tabs and consent propagation (teamshost.go)
}

// New creates an emulator with a fresh RSA-2048 signing key.
func New(cfg Config) (*Emulator, error) {
	base := strings.TrimRight(strings.TrimSpace(cfg.BaseURL), "/")
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("emulator: BaseURL must be an absolute http(s) URL, got %q", cfg.BaseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("emulator: BaseURL must not carry a query or fragment")
	}
	e := &Emulator{
		base:     base,
		login:    base + "/login",
		sts:      base + "/sts",
		graph:    base + "/graph",
		now:      cfg.Now,
		log:      cfg.Logger,
		tenants:  map[string]*tenantState{},
		domains:  map[string]string{},
		pending:  map[string]*authRequest{},
		codes:    map[string]*authCode{},
		refresh:  map[string]*refreshGrant{},
		sessions: map[string]*session{},
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.log == nil {
		e.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	k, err := e.newSigningKey()
	if err != nil {
		return nil, fmt.Errorf("emulator: generating signing key: %w", err)
	}
	e.keys = []*signingKey{k}
	e.active = k
	e.mux = e.routes()
	return e, nil
}

// Handler serves every emulated endpoint at paths relative to BaseURL; mount
// it with http.StripPrefix(<BaseURL path>, e.Handler()).
func (e *Emulator) Handler() http.Handler { return e.mux }

// LoginURL plays https://login.microsoftonline.com.
func (e *Emulator) LoginURL() string { return e.login }

// STSURL plays https://sts.windows.net (only as the v1 issuer base).
func (e *Emulator) STSURL() string { return e.sts }

// GraphURL plays https://graph.microsoft.com.
func (e *Emulator) GraphURL() string { return e.graph }

func (e *Emulator) routes() *http.ServeMux {
	m := http.NewServeMux()
	// Discovery and keys (discovery.go, keys.go).
	m.HandleFunc("GET /login/{tenant}/v2.0/.well-known/openid-configuration", e.handleDiscoveryV2)
	m.HandleFunc("GET /login/{tenant}/.well-known/openid-configuration", e.handleDiscoveryV1)
	m.HandleFunc("GET /login/{tenant}/discovery/v2.0/keys", e.handleKeysV2)
	m.HandleFunc("GET /login/{tenant}/discovery/keys", e.handleKeysV1)
	// Interactive sign-in (authorize.go).
	m.HandleFunc("GET /login/{tenant}/oauth2/v2.0/authorize", e.handleAuthorize)
	m.HandleFunc("POST /login/{tenant}/oauth2/v2.0/authorize", e.handleAuthorize)
	m.HandleFunc("POST /login/{tenant}/login", e.handleSignIn)
	m.HandleFunc("POST /login/{tenant}/consent", e.handleConsent)
	m.HandleFunc("GET /login/{tenant}/oauth2/v2.0/logout", e.handleLogout)
	m.HandleFunc("GET /login/error", e.handleErrorLookup)
	// Token endpoint (token_endpoint.go); any method so that a GET gets
	// Microsoft's AADSTS900561 rather than a bare 405.
	m.HandleFunc("/login/{tenant}/oauth2/v2.0/token", e.handleToken)
	// Graph (graph.go).
	m.HandleFunc("GET /graph/v1.0/me", e.handleGraphMe)
	m.HandleFunc("GET /graph/oidc/userinfo", e.handleUserInfo)
	m.HandleFunc("POST /graph/oidc/userinfo", e.handleUserInfo)
	e.teamworkRoutes(m)   // graph_teamwork.go
	e.appRoutes(m)        // graph_apps.go
	e.catalogRoutes(m)    // graph_catalog.go
	e.deviceCodeRoutes(m) // devicecode.go
	e.teamsHostRoutes(m)  // teamshost.go
	m.HandleFunc("/graph/", e.handleGraphNotFound)
	return m
}
