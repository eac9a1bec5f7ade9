package emulator

// The Teams host: a page that plays the Microsoft Teams client for a tab app.
// It frames the app's personal tab (its content URL) and answers the Teams JS
// SDK (@microsoft/teams-js) over postMessage the way Teams does —
// initialize, getContext, authentication.getAuthToken (a token from this
// emulator for the signed-in user), authentication.authenticate (the popup,
// finished by the popup's notifySuccess/notifyFailure) and theme changes — and
// can be told to misbehave the ways real hosts do.
//
//	GET  /teams/host?tenant=TID&app=APPID[&user=OID][&flag=value…]   the page
//	GET  /teams/host.js, /teams/host.css                              its script and style
//	POST /teams/token   {"tenant","app","user","lifetime","kind"}     what the page's getAuthToken asks for
//
// The flags (each documented in hostFlags) are read by the page's script;
// the server only checks that their values are known, so a typo is an error
// rather than a silently well-behaved host.

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

//go:embed assets/teamshost.html assets/teamshost.js assets/teamshost.css
var hostFS embed.FS

var hostTmpl = template.Must(template.ParseFS(hostFS, "assets/teamshost.html"))

// TeamsTab is an app's personal tab as its Teams manifest declares it
// (staticTabs[]): what the Teams host frames.
type TeamsTab struct {
	ContentURL string `json:"contentUrl"` // staticTabs[].contentUrl: absolute http(s) URL
	Name       string `json:"name"`       // staticTabs[].name, e.g. "Service desk"; default the app's display name
	EntityID   string `json:"entityId"`   // staticTabs[].entityId; default "workbench"
}

// teamsHost is the Teams host's state; its own lock is taken after e.mu,
// never before.
type teamsHost struct {
	mu           sync.Mutex
	tabs         map[string]TeamsTab // by lower-case "tenant|app"
	consentDelay time.Duration
}

// hostFlags are the ways the host can be told to misbehave, with their
// allowed values ("" is the default, well-behaved host). The page's script
// implements them.
var hostFlags = map[string][]string{
	// consent: "once" answers getAuthToken with resourceRequiresConsent until
	// a non-silent call (Teams' own consent prompt, accepted); "deny" also
	// fails the non-silent call (CancelledByUser: the person closed it).
	"consent": {"", "once", "deny"},
	// token: "hang" never answers getAuthToken; "empty" answers with ""; "junk"
	// with a string that is no JWT; "otherapp" with a token whose audience is
	// another app; "expired" with a token past its exp.
	"token": {"", "hang", "empty", "junk", "otherapp", "expired"},
	// context: where the tab is opened. Only "personal" is a personal app;
	// the others frame it as a channel tab, a shared channel's tab (of
	// another tenant's team), a group chat or a meeting tab.
	"context": {"", "personal", "channel", "sharedchannel", "groupchat", "meeting"},
	// client: hostClientType. Mobile clients answer initialize without a
	// runtime config, as Teams mobile does (the SDK then assumes one).
	"client": {"", "web", "desktop", "android", "ios"},
	// theme: the starting theme; the page's buttons change it live.
	"theme": {"", "default", "dark", "contrast"},
	// popup: "block" fails authentication.authenticate with FailedToOpenWindow.
	"popup": {"", "block"},
	// hostname: app.host.name in the context.
	"hostname": {"", "Teams", "Outlook", "Office"},
	// locale (BCP 47 tag, default the user's preferred language) and lifetime
	// (seconds a token lives; default Entra's 60–90 minutes) take values.
	"locale":   nil,
	"lifetime": nil,
}

var localeRE = regexp.MustCompile(`^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$`)

func (e *Emulator) teamsHostRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /teams/host", e.handleTeamsHost)
	m.HandleFunc("GET /teams/host.js", e.hostAsset("assets/teamshost.js", "text/javascript; charset=utf-8"))
	m.HandleFunc("GET /teams/host.css", e.hostAsset("assets/teamshost.css", "text/css; charset=utf-8"))
	m.HandleFunc("POST /teams/token", e.handleTeamsToken)
}

func tabKey(tenantID, appID string) string { return lower(tenantID) + "|" + lower(appID) }

// SetTeamsTab declares appID's personal tab in tenantID, as the app's
// manifest would: the Teams host page frames tab.ContentURL.
func (e *Emulator) SetTeamsTab(tenantID, appID string, tab TeamsTab) error {
	u, err := url.Parse(tab.ContentURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("emulator: tab content URL %q is not an absolute http(s) URL", tab.ContentURL)
	}
	a, ok := e.App(tenantID, appID)
	if !ok {
		return fmt.Errorf("emulator: app %s not found in tenant %s", appID, tenantID)
	}
	if tab.Name == "" {
		tab.Name = a.DisplayName
	}
	if tab.EntityID == "" {
		tab.EntityID = "workbench"
	}
	e.host.mu.Lock()
	defer e.host.mu.Unlock()
	if e.host.tabs == nil {
		e.host.tabs = map[string]TeamsTab{}
	}
	e.host.tabs[tabKey(tenantID, appID)] = tab
	return nil
}

func (e *Emulator) teamsTab(tenantID, appID string) (TeamsTab, bool) {
	e.host.mu.Lock()
	defer e.host.mu.Unlock()
	t, ok := e.host.tabs[tabKey(tenantID, appID)]
	return t, ok
}

// TeamsHostURL is the Teams host page for appID's tab in tenantID, signed in
// as userOID (empty: the tenant's first user), with misbehaviour flags (see
// hostFlags), e.g. url.Values{"consent": {"once"}}.
func (e *Emulator) TeamsHostURL(tenantID, appID, userOID string, flags url.Values) string {
	q := url.Values{}
	for k, v := range flags {
		q[k] = v
	}
	q.Set("tenant", lower(tenantID))
	q.Set("app", lower(appID))
	if userOID != "" {
		q.Set("user", lower(userOID))
	}
	return e.base + "/teams/host?" + q.Encode()
}

// SetConsentPropagationDelay makes consent given on the sign-in consent page
// take effect only d later, like Entra's (3–5 s): on-behalf-of requests in
// between still fail with AADSTS65001. Zero (the default) makes it immediate.
func (e *Emulator) SetConsentPropagationDelay(d time.Duration) {
	e.host.mu.Lock()
	e.host.consentDelay = d
	e.host.mu.Unlock()
}

// recordConsentLocked stores consent a user gave interactively, after the
// propagation delay when one is set.
func (e *Emulator) recordConsentLocked(t *tenantState, clientID, userOID string, grant map[string]string) {
	e.host.mu.Lock()
	d := e.host.consentDelay
	e.host.mu.Unlock()
	if d <= 0 {
		e.addConsentLocked(t, clientID, userOID, grant)
		return
	}
	time.AfterFunc(d, func() {
		e.mu.Lock()
		e.addConsentLocked(t, clientID, userOID, grant)
		e.mu.Unlock()
		e.log.Info("emulator: consent propagated", "tenant", t.ID, "user", userOID, "client", clientID)
	})
}

func (e *Emulator) hostAsset(name, ctype string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, err := hostFS.ReadFile(name)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(b)
	}
}

// hostUser is a user as the host page shows and describes them.
type hostUser struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	UPN       string `json:"upn"`
	LoginHint string `json:"loginHint"`
	Guest     bool   `json:"guest"`
	Home      string `json:"homeTenantId"`
	Locale    string `json:"locale"`
}

// hostConfig is what the page's script runs on.
type hostConfig struct {
	TenantID      string            `json:"tenantId"`
	TenantName    string            `json:"tenantName"`
	AppID         string            `json:"appId"`
	AppName       string            `json:"appName"`
	TeamsAppID    string            `json:"teamsAppId"`
	Tab           TeamsTab          `json:"tab"`
	ContentOrigin string            `json:"contentOrigin"`
	User          hostUser          `json:"user"`
	Users         []hostUser        `json:"users"`
	Flags         map[string]string `json:"flags"`
	TokenURL      string            `json:"tokenUrl"`
}

func (e *Emulator) handleTeamsHost(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	cfg, status, msg := e.hostConfig(q)
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if msg != "" {
		h.Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		fmt.Fprintln(w, "Teams host emulator:", msg)
		fmt.Fprintln(w, "\nUsage: "+e.base+"/teams/host?tenant=TENANT&app=APPID[&user=OBJECTID] plus any of:")
		for _, k := range hostFlagNames(hostFlags) {
			if v := hostFlags[k]; v != nil {
				fmt.Fprintf(w, "  %s=%s\n", k, strings.Join(v[1:], "|"))
			} else {
				fmt.Fprintf(w, "  %s=VALUE\n", k)
			}
		}
		return
	}
	js, _ := json.Marshal(cfg)
	var buf strings.Builder
	if err := hostTmpl.Execute(&buf, map[string]any{"Config": template.JS(js), "Title": cfg.Tab.Name + " | Microsoft Teams (emulated)",
		"Client": cfg.Flags["client"], "Theme": cfg.Flags["theme"]}); err != nil {
		e.log.Error("emulator: rendering Teams host", "err", err)
		http.Error(w, "emulator: page rendering failed", http.StatusInternalServerError)
		return
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	// The page frames only the tab's origin; it is not framable itself.
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-src "+
		cfg.ContentOrigin+"; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	_, _ = w.Write([]byte(buf.String()))
}

func hostFlagNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// hostConfig validates the page's query. A non-empty msg is the error.
func (e *Emulator) hostConfig(q url.Values) (cfg hostConfig, status int, msg string) {
	flags := map[string]string{}
	for k, vs := range q {
		switch k {
		case "tenant", "app", "user":
			continue
		}
		allowed, known := hostFlags[k]
		if !known {
			return cfg, http.StatusBadRequest, fmt.Sprintf("unknown parameter %q", k)
		}
		v := vs[0]
		if allowed != nil && !slices.Contains(allowed, v) {
			return cfg, http.StatusBadRequest, fmt.Sprintf("%s=%q is not one of %s", k, v, strings.Join(allowed[1:], ", "))
		}
		flags[k] = v
	}
	if l := flags["locale"]; l != "" && !localeRE.MatchString(l) {
		return cfg, http.StatusBadRequest, fmt.Sprintf("locale=%q is not a language tag like de-DE", l)
	}
	if s := flags["lifetime"]; s != "" {
		if n, err := strconv.Atoi(s); err != nil || n < 1 || n > 86400 {
			return cfg, http.StatusBadRequest, fmt.Sprintf("lifetime=%q must be 1–86400 seconds", s)
		}
	}
	for k, def := range map[string]string{"context": "personal", "client": "web", "theme": "default", "hostname": "Teams"} {
		if flags[k] == "" {
			flags[k] = def
		}
	}
	tenantID, appID := lower(q.Get("tenant")), lower(q.Get("app"))
	if tenantID == "" || appID == "" {
		return cfg, http.StatusBadRequest, "tenant and app are required"
	}
	tab, ok := e.teamsTab(tenantID, appID)
	if !ok {
		return cfg, http.StatusNotFound, fmt.Sprintf("no personal tab is declared for app %s in tenant %s (Emulator.SetTeamsTab)", appID, tenantID)
	}
	cu, _ := url.Parse(tab.ContentURL)

	e.mu.RLock()
	defer e.mu.RUnlock()
	t, err := e.tenantLocked(tenantID)
	if err != nil {
		return cfg, http.StatusNotFound, err.Error()
	}
	a, ok := t.apps[appID]
	if !ok {
		return cfg, http.StatusNotFound, fmt.Sprintf("app %s not found in tenant %s", appID, tenantID)
	}
	var users []hostUser
	for _, oid := range t.userOrder {
		u := t.users[oid]
		users = append(users, hostUser{ID: u.ObjectID, Name: u.DisplayName, UPN: u.UserPrincipalName, LoginHint: u.signInName(t.ID),
			Guest: u.isGuest(t.ID), Home: u.HomeTenantID, Locale: u.PreferredLanguage})
	}
	if len(users) == 0 {
		return cfg, http.StatusNotFound, "tenant " + tenantID + " has no users to sign in"
	}
	user := users[0]
	if oid := lower(q.Get("user")); oid != "" {
		i := slices.IndexFunc(users, func(u hostUser) bool { return u.ID == oid })
		if i < 0 {
			return cfg, http.StatusNotFound, fmt.Sprintf("user %s not found in tenant %s", oid, tenantID)
		}
		user = users[i]
	}
	if flags["locale"] == "" {
		flags["locale"] = user.Locale
		if flags["locale"] == "" {
			flags["locale"] = "en-US"
		}
	}
	teamsAppID := a.TeamsAppID
	if teamsAppID == "" {
		teamsAppID = a.AppID
	}
	return hostConfig{
		TenantID: t.ID, TenantName: t.DisplayName, AppID: a.AppID, AppName: a.DisplayName, TeamsAppID: teamsAppID,
		Tab: tab, ContentOrigin: cu.Scheme + "://" + cu.Host, User: user, Users: users, Flags: flags, TokenURL: "token",
	}, http.StatusOK, ""
}

// teamsTokenRequest is what the host page's getAuthToken posts.
type teamsTokenRequest struct {
	Tenant   string `json:"tenant"`
	App      string `json:"app"`
	User     string `json:"user"`
	Lifetime int    `json:"lifetime"` // seconds; 0 = Entra's default
	// Kind is "" for the token Teams would get, "otherapp" for one whose
	// audience is another app, "expired" for one past its exp.
	Kind string `json:"kind"`
}

// handleTeamsToken answers the host page: {"token", "expiresOn"} or, when
// Teams itself could not get one, {"error": reason, "message"} with the
// reason the SDK hands the tab (resourceDisabled, resourceRequiresConsent …).
func (e *Emulator) handleTeamsToken(w http.ResponseWriter, r *http.Request) {
	var req teamsTokenRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req); err != nil {
		hostJSON(w, http.StatusBadRequest, map[string]string{"error": "invalidRequest", "message": err.Error()})
		return
	}
	opt := TokenOptions{Lifetime: time.Duration(req.Lifetime) * time.Second}
	now := e.now()
	switch req.Kind {
	case "":
	case "otherapp":
		opt.ExtraClaims = map[string]any{"aud": e.otherAudience(req.Tenant, req.App)}
	case "expired":
		opt.ExtraClaims = map[string]any{"iat": now.Add(-2 * time.Hour).Unix(), "nbf": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Hour).Unix()}
	default:
		hostJSON(w, http.StatusBadRequest, map[string]string{"error": "invalidRequest", "message": "unknown kind " + req.Kind})
		return
	}
	tok, err := e.IssueTeamsToken(req.Tenant, req.User, req.App, opt)
	if err != nil {
		var te *TeamsTokenError
		if errors.As(err, &te) {
			hostJSON(w, http.StatusBadRequest, map[string]string{"error": te.Code, "message": te.Message})
			return
		}
		e.log.Error("emulator: Teams token", "err", err)
		hostJSON(w, http.StatusInternalServerError, map[string]string{"error": "internalError", "message": "the emulator could not sign a token"})
		return
	}
	exp := now.Add(e.lifetimeOf(tok))
	if req.Kind == "expired" {
		exp = now.Add(-time.Hour)
	}
	hostJSON(w, http.StatusOK, map[string]any{"token": tok, "expiresOn": exp.UnixMilli()})
}

// lifetimeOf reads how long a token the emulator just signed lives.
func (e *Emulator) lifetimeOf(tok string) time.Duration {
	c, err := e.parseOwnToken(tok)
	if err != nil {
		return time.Hour
	}
	exp, err := c.GetExpirationTime()
	if err != nil || exp == nil {
		return time.Hour
	}
	return exp.Sub(e.now())
}

// otherAudience is the audience of "a token for another app": another app
// of the tenant that exposes an API, else a made-up one on another domain
// (the manifest's webApplicationInfo.resource pointing elsewhere).
func (e *Emulator) otherAudience(tenantID, appID string) string {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if t, err := e.tenantLocked(tenantID); err == nil {
		for _, id := range t.appOrder {
			if a := t.apps[id]; id != lower(appID) && len(a.IdentifierURIs) > 0 {
				if a.AccessTokenVersion == 2 {
					return a.AppID
				}
				return a.IdentifierURIs[0]
			}
		}
	}
	return "api://other.example.com/" + uuid.NewSHA1(uuid.NameSpaceURL, []byte("tamlink-other-app:"+lower(appID))).String()
}

func hostJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
