package emulator

import (
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// The control API lets another process drive an emulator it does not hold:
// `tamlink emulator` serves it next to the emulated endpoints, and
// `tamlink bench notify --emulator URL` seeds tenants, sets faults and reads
// back what Graph accepted through it. It is never mounted inside a tamlink
// server (demo or serve).
//
//	POST /control/tenants              Seed: a tenant with its users, apps and installations
//	PUT  /control/teamwork/faults      TeamworkFaults
//	GET  /control/teamwork/notifications?after=SEQ   {"notifications": [...]} (at most 5000)
//	GET  /control/teamwork/stats       TeamworkStats
//	POST /control/teamwork/reset       forget notifications and counters

// Seed is a tenant with everything in it, as the control API takes it.
type Seed struct {
	Tenant Tenant `json:"tenant"`
	Users  []User `json:"users"`
	Apps   []App  `json:"apps"`
	// Installed lists (user object id, catalog app id) pairs to install.
	Installed []SeedInstall `json:"installed"`
	// GrantConsent gives tenant-wide admin consent to each app's
	// RequiredGraphScopes.
	GrantConsent bool `json:"grantConsent"`
}

// SeedInstall is one installation of a catalog app for a user.
type SeedInstall struct {
	User       string `json:"user"`
	TeamsAppID string `json:"teamsAppId"`
}

// Apply adds the seed's tenant, users, apps and installations.
func (e *Emulator) Apply(s Seed) error {
	if err := e.AddTenant(s.Tenant); err != nil {
		return err
	}
	for _, u := range s.Users {
		if err := e.AddUser(s.Tenant.ID, u); err != nil {
			return err
		}
	}
	for _, a := range s.Apps {
		if err := e.AddApp(s.Tenant.ID, a); err != nil {
			return err
		}
		if s.GrantConsent && len(a.RequiredGraphScopes) > 0 {
			if err := e.GrantConsent(s.Tenant.ID, "", a.AppID); err != nil {
				return err
			}
		}
	}
	for _, in := range s.Installed {
		e.InstallTeamsApp(s.Tenant.ID, in.User, in.TeamsAppID)
	}
	return nil
}

// Standalone serves the emulator at the root of a server of its own (its
// BaseURL is that server's URL) together with the control API at /control/.
func (e *Emulator) Standalone() http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("POST /control/tenants", func(w http.ResponseWriter, r *http.Request) {
		var s Seed
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 8<<20)).Decode(&s); err != nil {
			controlJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		if err := e.Apply(s); err != nil {
			status := http.StatusBadRequest
			if strings.Contains(err.Error(), "already") {
				status = http.StatusConflict
			}
			controlJSON(w, status, map[string]string{"error": err.Error()})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	m.HandleFunc("PUT /control/teamwork/faults", func(w http.ResponseWriter, r *http.Request) {
		var f TeamworkFaults
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&f); err != nil {
			controlJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		e.SetTeamworkFaults(f)
		w.WriteHeader(http.StatusNoContent)
	})
	m.HandleFunc("GET /control/teamwork/notifications", func(w http.ResponseWriter, r *http.Request) {
		after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
		ns := e.ActivityNotifications(after)
		if len(ns) > 5000 {
			ns = ns[:5000]
		}
		controlJSON(w, http.StatusOK, map[string]any{"notifications": ns})
	})
	m.HandleFunc("GET /control/teamwork/stats", func(w http.ResponseWriter, r *http.Request) {
		controlJSON(w, http.StatusOK, e.TeamworkStats())
	})
	m.HandleFunc("POST /control/teamwork/reset", func(w http.ResponseWriter, r *http.Request) {
		e.ResetTeamwork()
		w.WriteHeader(http.StatusNoContent)
	})
	m.Handle("/", e.Handler())
	return controlGuard(m)
}

// controlGuard keeps web pages a developer visits from driving the
// standalone emulator: cross-site state changes are refused (Fetch
// metadata), control calls must be JSON (not a "simple" form post), and the
// Host must be a loopback name (no DNS rebinding).
func controlGuard(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	return cop.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if ip := net.ParseIP(host); !(host == "localhost" || (ip != nil && ip.IsLoopback())) {
			controlJSON(w, http.StatusForbidden, map[string]string{"error": "the emulator answers loopback hosts only"})
			return
		}
		if strings.HasPrefix(r.URL.Path, "/control/") && r.Method != http.MethodGet && r.ContentLength != 0 &&
			!strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			controlJSON(w, http.StatusUnsupportedMediaType, map[string]string{"error": "control calls take application/json"})
			return
		}
		next.ServeHTTP(w, r)
	}))
}

func controlJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
