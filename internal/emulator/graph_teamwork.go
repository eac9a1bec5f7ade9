package emulator

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Teams activity-feed notifications and per-user app installation, as
// Graph serves them (graph-api.md 2.5, 3.1, 4):
//
//	POST /v1.0/users/{id|upn}/teamwork/sendActivityNotification
//	GET  /v1.0/users/{id|upn}/teamwork/installedApps[?$expand=teamsApp&$filter=teamsApp/id eq '…']
//	POST /v1.0/users/{id|upn}/teamwork/installedApps   {"teamsApp@odata.bind": ".../appCatalogs/teamsApps/{id}"}
//
// A notification is checked as Graph checks it — a valid token with the
// TeamsActivity.Send role (app-only) or scope (delegated, never to oneself),
// a recipient in the caller's tenant, a well-formed topic, an activity type
// the Teams app declares (App.ActivityTypes) or systemDefault, and the app
// installed for the recipient — then recorded and answered 204. Every
// accepted notification is kept (ActivityNotifications) so that tests and
// the benchmark can count what arrived, and what arrived twice.
//
// Misbehaviour on demand (SetTeamworkFaults): a per-app-per-tenant rate
// limit answered with 429 and Retry-After (Graph documents 5 requests per
// second for this call), and a share of requests answered with a 5xx, held
// until the client times out, or answered slowly.
//
// A Teams app in the emulator is the org catalog app App.TeamsAppID of an
// app registration; its manifest's activity types are App.ActivityTypes.

// TeamworkFaults configures how sendActivityNotification misbehaves.
type TeamworkFaults struct {
	// Rate is how many requests per second one app may make in one tenant
	// (counted over a sliding second, rejected requests included); more are
	// answered 429 with Retry-After. 0 means no limit.
	Rate float64 `json:"rate"`
	// FaultRate is the share (0..1) of requests answered with a fault
	// instead: half of them a 5xx (500, 502, 503 with Retry-After, 504), a
	// quarter held until the client gives up (then 504), a quarter slow
	// (answered normally after Slow).
	FaultRate float64 `json:"faultRate"`
	// Timeout bounds how long a held request waits for its client to give
	// up before it is answered 504 (default 60 s).
	Timeout time.Duration `json:"timeout"`
	// Slow is the delay of a slow answer (default 1 s).
	Slow time.Duration `json:"slow"`
}

// ActivityNotification is one notification the emulator accepted.
type ActivityNotification struct {
	Seq          int64             `json:"seq"`
	TenantID     string            `json:"tenantId"`
	UserID       string            `json:"userId"` // recipient object id
	AppID        string            `json:"appId"`  // the caller's Entra app id
	TeamsAppID   string            `json:"teamsAppId"`
	ActivityType string            `json:"activityType"`
	ChainID      int64             `json:"chainId"`
	TopicSource  string            `json:"topicSource"`
	TopicValue   string            `json:"topicValue"`
	WebURL       string            `json:"webUrl"`
	PreviewText  string            `json:"previewText"`
	Parameters   map[string]string `json:"parameters"`
	At           time.Time         `json:"at"`
}

// TeamworkStats counts what sendActivityNotification saw.
type TeamworkStats struct {
	Requests  int `json:"requests"`  // every request that carried a valid token
	Accepted  int `json:"accepted"`  // answered 204
	Throttled int `json:"throttled"` // answered 429 by the rate limit
	Faults    int `json:"faults"`    // injected 5xx and time-outs
	Slow      int `json:"slow"`      // injected slow answers
	Rejected  int `json:"rejected"`  // refused by a check (4xx other than 429)
	// PerApp is keyed by "appId/tenantId": Graph's unit of throttling.
	PerApp map[string]TeamworkAppStats `json:"perApp"`
}

// TeamworkAppStats is one app's traffic in one tenant.
type TeamworkAppStats struct {
	Requests int `json:"requests"`
	Accepted int `json:"accepted"`
	// PeakPerSecond is the most requests seen in any one-second window;
	// PeakPer5s the most in any five-second window (divided by five, a
	// rate less sensitive to when the emulator itself got the CPU).
	PeakPerSecond int       `json:"peakPerSecond"`
	PeakPer5s     int       `json:"peakPer5s"`
	First         time.Time `json:"first"`
	Last          time.Time `json:"last"`
	// Arrivals are the requests' arrival times, in order of admission.
	Arrivals []time.Time `json:"arrivals,omitempty"`
}

// teamwork is the emulator's Teams state; it has its own lock so that a
// benchmark's traffic does not contend with sign-ins.
type teamwork struct {
	mu       sync.Mutex
	faults   TeamworkFaults
	rnd      *rand.Rand
	installs map[string]bool   // tenant|user|teamsApp -> installed
	blocked  map[string]string // tenant|user|teamsApp -> why installing is refused
	windows  map[string][]time.Time
	windows5 map[string][]time.Time
	stats    TeamworkStats
	records  []ActivityNotification
	seq      int64
}

func (e *Emulator) tw() *teamwork {
	e.teamworkOnce.Do(func() {
		e.teamwork = &teamwork{
			rnd:      rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
			installs: map[string]bool{}, blocked: map[string]string{}, windows: map[string][]time.Time{}, windows5: map[string][]time.Time{},
			stats: TeamworkStats{PerApp: map[string]TeamworkAppStats{}},
		}
	})
	return e.teamwork
}

func installKey(tenant, user, teamsApp string) string {
	return lower(tenant) + "|" + lower(user) + "|" + lower(teamsApp)
}

// SetTeamworkFaults replaces the rate limit and fault injection.
func (e *Emulator) SetTeamworkFaults(f TeamworkFaults) {
	tw := e.tw()
	tw.mu.Lock()
	tw.faults = f
	tw.mu.Unlock()
}

// InstallTeamsApp installs catalog app teamsAppID for a user (as the user
// or their admin would).
func (e *Emulator) InstallTeamsApp(tenantID, userOID, teamsAppID string) {
	tw := e.tw()
	tw.mu.Lock()
	tw.installs[installKey(tenantID, userOID, teamsAppID)] = true
	tw.mu.Unlock()
}

// UninstallTeamsApp removes the app from a user's personal scope (the
// user removing it).
func (e *Emulator) UninstallTeamsApp(tenantID, userOID, teamsAppID string) {
	tw := e.tw()
	tw.mu.Lock()
	delete(tw.installs, installKey(tenantID, userOID, teamsAppID))
	tw.mu.Unlock()
}

// BlockTeamsApp makes installing teamsAppID for the user fail with 403:
// byAdmin as Teams' app permission policy answers, otherwise as a user who
// blocked the app. It also removes an existing installation.
func (e *Emulator) BlockTeamsApp(tenantID, userOID, teamsAppID string, byAdmin bool) {
	why := "The user has blocked this app."
	if byAdmin {
		why = "App is blocked by app permission policy."
	}
	tw := e.tw()
	tw.mu.Lock()
	k := installKey(tenantID, userOID, teamsAppID)
	tw.blocked[k] = why
	delete(tw.installs, k)
	tw.mu.Unlock()
}

// TeamsAppInstalled reports whether teamsAppID is installed for the user.
func (e *Emulator) TeamsAppInstalled(tenantID, userOID, teamsAppID string) bool {
	tw := e.tw()
	tw.mu.Lock()
	defer tw.mu.Unlock()
	return tw.installs[installKey(tenantID, userOID, teamsAppID)]
}

// ActivityNotifications returns the accepted notifications with Seq > after, oldest first.
func (e *Emulator) ActivityNotifications(after int64) []ActivityNotification {
	tw := e.tw()
	tw.mu.Lock()
	defer tw.mu.Unlock()
	i, _ := slices.BinarySearchFunc(tw.records, after+1, func(a ActivityNotification, seq int64) int {
		return int(a.Seq - seq)
	})
	return slices.Clone(tw.records[i:])
}

// TeamworkStats returns the counters so far.
func (e *Emulator) TeamworkStats() TeamworkStats {
	tw := e.tw()
	tw.mu.Lock()
	defer tw.mu.Unlock()
	s := tw.stats
	s.PerApp = make(map[string]TeamworkAppStats, len(tw.stats.PerApp))
	for k, v := range tw.stats.PerApp {
		v.Arrivals = slices.Clone(v.Arrivals)
		s.PerApp[k] = v
	}
	return s
}

// ResetTeamwork forgets recorded notifications and counters (installations stay).
func (e *Emulator) ResetTeamwork() {
	tw := e.tw()
	tw.mu.Lock()
	tw.records, tw.windows, tw.windows5 = nil, map[string][]time.Time{}, map[string][]time.Time{}
	tw.stats = TeamworkStats{PerApp: map[string]TeamworkAppStats{}}
	tw.mu.Unlock()
}

func (e *Emulator) teamworkRoutes(m *http.ServeMux) {
	m.HandleFunc("POST /graph/v1.0/users/{user}/teamwork/sendActivityNotification", e.handleSendActivity)
	m.HandleFunc("GET /graph/v1.0/users/{user}/teamwork/installedApps", e.handleListInstalled)
	m.HandleFunc("POST /graph/v1.0/users/{user}/teamwork/installedApps", e.handleInstall)
}

// ---- errors ----

func twError(status int, code, msg string) *graphError { return &graphError{status, code, msg} }

func twMissingRoles(c *graphCaller, needed ...string) *graphError {
	return twError(http.StatusForbidden, "Forbidden", "Missing role permissions on the request. API requires one of '"+
		strings.Join(needed, ", ")+"'. Roles on the request '"+strings.Join(twRoles(c), ", ")+"'.")
}

func twRoles(c *graphCaller) []string {
	var out []string
	if rs, ok := c.claims["roles"].([]any); ok {
		for _, r := range rs {
			if s, ok := r.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

func twHasRole(c *graphCaller, want ...string) bool {
	return slices.ContainsFunc(twRoles(c), func(r string) bool {
		return slices.ContainsFunc(want, func(w string) bool { return strings.EqualFold(r, w) })
	})
}

// ---- lookups ----

// twUser finds the {user} path segment (object id or UPN) in the caller's tenant.
func (e *Emulator) twUser(c *graphCaller, seg string) (*User, *graphError) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	t := e.tenants[lower(c.tenant.ID)]
	if t == nil {
		return nil, errGraphAuth("Access token validation failure. Invalid issuer.")
	}
	if u, ok := t.users[lower(seg)]; ok {
		uc := *u
		return &uc, nil
	}
	for _, oid := range t.userOrder {
		if u := t.users[oid]; strings.EqualFold(u.UserPrincipalName, seg) {
			uc := *u
			return &uc, nil
		}
	}
	return nil, twError(http.StatusNotFound, "Request_ResourceNotFound",
		"Resource '"+seg+"' does not exist or one of its queried reference-property objects are not present.")
}

// catalogApp is a Teams app of the tenant's org catalog: an app
// registration's TeamsAppID.
type catalogApp struct {
	id, appID, name string
	activityTypes   []string
}

func (e *Emulator) catalogApps(tenantID string) []catalogApp {
	e.mu.RLock()
	defer e.mu.RUnlock()
	t := e.tenants[lower(tenantID)]
	if t == nil {
		return nil
	}
	var out []catalogApp
	for _, id := range t.appOrder {
		if a := t.apps[id]; a != nil && a.TeamsAppID != "" {
			out = append(out, catalogApp{id: lower(a.TeamsAppID), appID: a.AppID, name: a.DisplayName, activityTypes: slices.Clone(a.ActivityTypes)})
		}
	}
	return out
}

func installationID(userOID, teamsAppID string) string {
	return base64.StdEncoding.EncodeToString([]byte(lower(userOID) + "##" + lower(teamsAppID)))
}

// ---- sendActivityNotification ----

type activityBody struct {
	Topic *struct {
		Source string `json:"source"`
		Value  string `json:"value"`
		WebURL string `json:"webUrl"`
	} `json:"topic"`
	ActivityType string `json:"activityType"`
	PreviewText  *struct {
		Content string `json:"content"`
	} `json:"previewText"`
	ChainID            json.Number `json:"chainId"`
	TemplateParameters []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"templateParameters"`
	TeamsAppID string `json:"teamsAppId"`
	IconID     string `json:"iconId"`
}

// fault is what the dice chose for one request.
type fault int

const (
	faultNone fault = iota
	faultError
	faultHang
	faultSlow
)

// admit counts a request of one app in one tenant, applies the rate limit
// and rolls the fault dice. It returns the Retry-After of a throttled
// request (0 when admitted).
func (tw *teamwork) admit(key string, now time.Time) (retryAfter time.Duration, f fault, status int, f5 TeamworkFaults) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	f5 = tw.faults
	w := slide(tw.windows, key, now, time.Second)
	w5 := slide(tw.windows5, key, now, 5*time.Second)
	st := tw.stats.PerApp[key]
	st.Requests++
	if st.First.IsZero() {
		st.First = now
	}
	st.Last = now
	st.PeakPerSecond = max(st.PeakPerSecond, len(w))
	st.PeakPer5s = max(st.PeakPer5s, len(w5))
	st.Arrivals = append(st.Arrivals, now)
	tw.stats.PerApp[key] = st
	tw.stats.Requests++
	if f5.Rate > 0 {
		limit := max(1, int(math.Floor(f5.Rate+1e-9)))
		if len(w) > limit {
			tw.stats.Throttled++
			// The window frees up when its oldest requests age out.
			wait := w[len(w)-limit].Add(time.Second).Sub(now)
			return max(time.Second, wait.Round(time.Second)), faultNone, 0, f5
		}
	}
	if f5.FaultRate > 0 && tw.rnd.Float64() < f5.FaultRate {
		switch x := tw.rnd.Float64(); {
		case x < 0.5:
			tw.stats.Faults++
			return 0, faultError, []int{500, 502, 503, 504}[tw.rnd.IntN(4)], f5
		case x < 0.75:
			tw.stats.Faults++
			return 0, faultHang, 0, f5
		default:
			tw.stats.Slow++
			return 0, faultSlow, 0, f5
		}
	}
	return 0, faultNone, 0, f5
}

// slide adds an arrival to a sliding window of arrivals and returns the
// window: those of the last d, in order (requests are admitted a little out
// of the order they arrived in).
func slide(ws map[string][]time.Time, key string, now time.Time, d time.Duration) []time.Time {
	w := ws[key]
	cut := 0
	for cut < len(w) && !w[cut].After(now.Add(-d)) {
		cut++
	}
	w = w[cut:]
	i, _ := slices.BinarySearchFunc(w, now, func(a, b time.Time) int { return a.Compare(b) })
	w = slices.Insert(w, i, now)
	ws[key] = w
	return w
}

func (tw *teamwork) count(accepted bool, key string) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if accepted {
		tw.stats.Accepted++
		st := tw.stats.PerApp[key]
		st.Accepted++
		tw.stats.PerApp[key] = st
	} else {
		tw.stats.Rejected++
	}
}

func (e *Emulator) handleSendActivity(w http.ResponseWriter, r *http.Request) {
	arrived := time.Now() // what the rate limit counts: arrivals
	c, ge := e.authenticateGraph(r)
	if ge != nil {
		e.writeGraphError(w, r, ge)
		return
	}
	// Read the whole request first, as Graph's front door does; it also
	// lets the server notice a client that gives up on a held request.
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		e.writeGraphError(w, r, twError(http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "The request body is too large."))
		return
	}
	tw := e.tw()
	key := lower(c.clientID) + "/" + lower(c.tenant.ID)
	retry, f, status, cfg := tw.admit(key, arrived)
	if retry > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(retry/time.Second)))
		e.writeGraphError(w, r, twError(http.StatusTooManyRequests, "TooManyRequests",
			"Too many requests from Identifier:"+c.clientID+"+"+c.tenant.ID+" under category:throttle.teams.activityfeed. Please try again later."))
		return
	}
	switch f {
	case faultError:
		if status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "1")
		}
		e.writeGraphError(w, r, twError(status, strings.ReplaceAll(http.StatusText(status), " ", ""),
			"Some error was generated by the emulator's fault injection."))
		return
	case faultHang:
		d := cmpDur(cfg.Timeout, 60*time.Second)
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-r.Context().Done():
			return // the client gave up; nothing was processed
		case <-t.C:
		}
		e.writeGraphError(w, r, twError(http.StatusGatewayTimeout, "GatewayTimeout", "The request timed out."))
		return
	case faultSlow:
		t := time.NewTimer(cmpDur(cfg.Slow, time.Second))
		defer t.Stop()
		select {
		case <-r.Context().Done():
			return // abandoned before it was processed
		case <-t.C:
		}
	}
	if ge := e.sendActivity(r, c, data); ge != nil {
		tw.count(false, key)
		e.writeGraphError(w, r, ge)
		return
	}
	tw.count(true, key)
	reqID, clientReqID := graphIDs(r)
	w.Header().Set("request-id", reqID)
	w.Header().Set("client-request-id", clientReqID)
	w.WriteHeader(http.StatusNoContent)
}

func cmpDur(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// sendActivity runs Graph's checks and records the notification.
func (e *Emulator) sendActivity(r *http.Request, c *graphCaller, data []byte) *graphError {
	if c.user != nil {
		if !c.hasScope("TeamsActivity.Send") {
			return twError(http.StatusForbidden, "Forbidden", "Missing scope permissions on the request. API requires one of 'TeamsActivity.Send'.")
		}
	} else if !twHasRole(c, "TeamsActivity.Send", "TeamsActivity.Send.User") {
		return twMissingRoles(c, "TeamsActivity.Send", "TeamsActivity.Send.User")
	}
	u, ge := e.twUser(c, r.PathValue("user"))
	if ge != nil {
		return ge
	}
	if c.user != nil && strings.EqualFold(c.user.ObjectID, u.ObjectID) {
		return twError(http.StatusBadRequest, "BadRequest", "A user cannot send an activity feed notification to themselves; use application permissions.")
	}
	var b activityBody
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.UseNumber()
	if err := dec.Decode(&b); err != nil {
		return twError(http.StatusBadRequest, "BadRequest", "Invalid request body: "+err.Error())
	}
	switch {
	case b.Topic == nil:
		return twError(http.StatusBadRequest, "BadRequest", "The 'topic' property is required.")
	case b.Topic.Source == "text":
		if b.Topic.Value == "" || b.Topic.WebURL == "" {
			return twError(http.StatusBadRequest, "BadRequest", "A topic with source 'text' needs a value and a webUrl.")
		}
		if !strings.HasPrefix(strings.ToLower(b.Topic.WebURL), "https://teams.microsoft.com/") {
			return twError(http.StatusBadRequest, "BadRequest", "The topic's webUrl must be a Teams link (https://teams.microsoft.com/...).")
		}
	case b.Topic.Source == "entityUrl":
		if !strings.HasPrefix(b.Topic.Value, "https://graph.microsoft.com/") {
			return twError(http.StatusBadRequest, "BadRequest", "The topic's value must be a Microsoft Graph URL when its source is 'entityUrl'.")
		}
	default:
		return twError(http.StatusBadRequest, "BadRequest", "The topic's source must be 'entityUrl' or 'text'.")
	}
	var chain int64
	if b.ChainID != "" {
		var err error
		if chain, err = b.ChainID.Int64(); err != nil {
			return twError(http.StatusBadRequest, "BadRequest", "Invalid value for property 'chainId': an Int64 is expected.")
		}
	}
	params := map[string]string{}
	for _, p := range b.TemplateParameters {
		params[p.Name] = p.Value
	}
	// The Teams app of the caller that is installed for the recipient.
	var app *catalogApp
	installedAny := false
	tw := e.tw()
	for _, ca := range e.catalogApps(c.tenant.ID) {
		if !strings.EqualFold(ca.appID, c.clientID) || (b.TeamsAppID != "" && !strings.EqualFold(ca.id, b.TeamsAppID)) {
			continue
		}
		tw.mu.Lock()
		ok := tw.installs[installKey(c.tenant.ID, u.ObjectID, ca.id)]
		tw.mu.Unlock()
		if ok {
			installedAny = true
			cc := ca
			app = &cc
			break
		}
	}
	if !installedAny {
		return twError(http.StatusForbidden, "Forbidden",
			"Could not find a Teams app with Microsoft Entra app id '"+c.clientID+"' installed for the recipient user '"+u.ObjectID+"'.")
	}
	if b.ActivityType == "" {
		return twError(http.StatusBadRequest, "BadRequest", "The 'activityType' property is required.")
	}
	if b.ActivityType == "systemDefault" {
		if params["systemDefaultText"] == "" {
			return twError(http.StatusBadRequest, "BadRequest", "The systemDefault activity type needs the template parameter 'systemDefaultText'.")
		}
	} else if !slices.Contains(app.activityTypes, b.ActivityType) {
		return twError(http.StatusBadRequest, "BadRequest",
			"Activity type '"+b.ActivityType+"' is not declared in the app manifest of Teams app '"+app.id+"'.")
	}
	rec := ActivityNotification{
		TenantID: lower(c.tenant.ID), UserID: u.ObjectID, AppID: lower(c.clientID), TeamsAppID: app.id,
		ActivityType: b.ActivityType, ChainID: chain, TopicSource: b.Topic.Source, TopicValue: b.Topic.Value,
		WebURL: b.Topic.WebURL, Parameters: params, At: e.now(),
	}
	if b.PreviewText != nil {
		rec.PreviewText = b.PreviewText.Content
	}
	if r.Context().Err() != nil {
		// The client hung up before the notification was processed: Graph's
		// front door drops such a request, and so does the emulator.
		return twError(499, "ClientClosedRequest", "The client closed the request.")
	}
	tw.mu.Lock()
	tw.seq++
	rec.Seq = tw.seq
	tw.records = append(tw.records, rec)
	tw.mu.Unlock()
	return nil
}

// ---- installedApps ----

var installReadRoles = []string{"TeamsAppInstallation.ReadForUser.All", "TeamsAppInstallation.ReadWriteForUser.All",
	"TeamsAppInstallation.ReadWriteSelfForUser.All", "TeamsAppInstallation.ReadWriteAndConsentForUser.All",
	"TeamsAppInstallation.ReadWriteAndConsentSelfForUser.All", "TeamsAppInstallation.ReadSelfForUser.All"}

var installWriteRoles = []string{"TeamsAppInstallation.ReadWriteForUser.All", "TeamsAppInstallation.ReadWriteSelfForUser.All",
	"TeamsAppInstallation.ReadWriteAndConsentForUser.All", "TeamsAppInstallation.ReadWriteAndConsentSelfForUser.All"}

func (e *Emulator) installPermitted(c *graphCaller, roles []string) *graphError {
	if c.user != nil {
		for _, r := range roles {
			if c.hasScope(strings.TrimSuffix(r, ".All")) {
				return nil
			}
		}
		return twError(http.StatusForbidden, "Forbidden", "Missing scope permissions on the request. API requires one of '"+strings.Join(roles, ", ")+"'.")
	}
	if !twHasRole(c, roles...) {
		return twMissingRoles(c, roles...)
	}
	return nil
}

func (e *Emulator) handleListInstalled(w http.ResponseWriter, r *http.Request) {
	c, ge := e.authenticateGraph(r)
	if ge == nil {
		ge = e.installPermitted(c, installReadRoles)
	}
	var u *User
	if ge == nil {
		u, ge = e.twUser(c, r.PathValue("user"))
	}
	want := ""
	if ge == nil {
		if f := strings.TrimSpace(r.URL.Query().Get("$filter")); f != "" {
			prop, val, ok := strings.Cut(f, " eq ")
			val = strings.TrimSpace(val)
			if !ok || strings.TrimSpace(prop) != "teamsApp/id" || len(val) < 2 || val[0] != '\'' || val[len(val)-1] != '\'' {
				ge = twError(http.StatusBadRequest, "BadRequest", "Unsupported or invalid query filter clause specified: '"+f+"'.")
			} else {
				want = lower(strings.ReplaceAll(val[1:len(val)-1], "''", "'"))
			}
		}
	}
	if ge != nil {
		e.writeGraphError(w, r, ge)
		return
	}
	expand := strings.Contains(r.URL.Query().Get("$expand"), "teamsApp")
	tw := e.tw()
	fields := []any{}
	for _, ca := range e.catalogApps(c.tenant.ID) {
		tw.mu.Lock()
		ok := tw.installs[installKey(c.tenant.ID, u.ObjectID, ca.id)]
		tw.mu.Unlock()
		if !ok || (want != "" && ca.id != want) {
			continue
		}
		item := map[string]any{"id": installationID(u.ObjectID, ca.id)}
		if expand {
			item["teamsApp"] = map[string]any{"id": ca.id, "externalId": ca.id, "displayName": ca.name, "distributionMethod": "organization"}
		}
		fields = append(fields, item)
	}
	e.writeGraphJSON(w, r, [][2]any{
		{"@odata.context", "https://graph.microsoft.com/v1.0/$metadata#users('" + u.ObjectID + "')/teamwork/installedApps"},
		{"value", fields},
	})
}

func (e *Emulator) handleInstall(w http.ResponseWriter, r *http.Request) {
	c, ge := e.authenticateGraph(r)
	if ge == nil {
		ge = e.installPermitted(c, installWriteRoles)
	}
	var u *User
	if ge == nil {
		u, ge = e.twUser(c, r.PathValue("user"))
	}
	if ge == nil {
		ge = e.install(w, r, c, u)
	}
	if ge != nil {
		e.writeGraphError(w, r, ge)
		return
	}
	reqID, clientReqID := graphIDs(r)
	w.Header().Set("request-id", reqID)
	w.Header().Set("client-request-id", clientReqID)
	w.WriteHeader(http.StatusCreated)
}

func (e *Emulator) install(w http.ResponseWriter, r *http.Request, c *graphCaller, u *User) *graphError {
	var body map[string]json.RawMessage
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10)).Decode(&body); err != nil {
		return twError(http.StatusBadRequest, "BadRequest", "Invalid request body.")
	}
	var bind string
	if err := json.Unmarshal(body["teamsApp@odata.bind"], &bind); err != nil || bind == "" {
		return twError(http.StatusBadRequest, "BadRequest", "The 'teamsApp@odata.bind' property is required.")
	}
	i := strings.LastIndex(bind, "/appCatalogs/teamsApps/")
	if i < 0 {
		return twError(http.StatusBadRequest, "BadRequest", "Invalid 'teamsApp@odata.bind': expected .../appCatalogs/teamsApps/{id}.")
	}
	id := lower(strings.Trim(bind[i+len("/appCatalogs/teamsApps/"):], "'()"))
	var app *catalogApp
	for _, ca := range e.catalogApps(c.tenant.ID) {
		if ca.id == id {
			cc := ca
			app = &cc
		}
	}
	if app == nil {
		return twError(http.StatusNotFound, "NotFound", "Teams app '"+id+"' was not found in the organization's app catalog.")
	}
	// The "Self" permissions let an app install only itself.
	if c.user == nil && !twHasRole(c, "TeamsAppInstallation.ReadWriteForUser.All", "TeamsAppInstallation.ReadWriteAndConsentForUser.All") &&
		!strings.EqualFold(app.appID, c.clientID) {
		return twError(http.StatusForbidden, "Forbidden", "The app may only install itself (TeamsAppInstallation.ReadWriteSelfForUser.All).")
	}
	tw := e.tw()
	tw.mu.Lock()
	defer tw.mu.Unlock()
	k := installKey(c.tenant.ID, u.ObjectID, id)
	if why := tw.blocked[k]; why != "" {
		return twError(http.StatusForbidden, "Forbidden", why)
	}
	if tw.installs[k] {
		return twError(http.StatusConflict, "Conflict", "The app is already installed for this user.")
	}
	tw.installs[k] = true
	return nil
}
