package setup

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/tamlink/tamlink/internal/emulator"
	"github.com/tamlink/tamlink/internal/graph"
)

const (
	tenantID = "7a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d"
	adminOID = "11111111-2222-4333-8444-555555555555"
	userOID  = "66666666-7777-4888-9999-aaaaaaaaaaaa"
	domain   = "desk.example.com"
)

// world is an emulated tenant with an admin, served over HTTP in-process.
type world struct {
	t      *testing.T
	e      *emulator.Emulator
	srv    *httptest.Server
	log    *syncBuffer
	tenant string
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func newWorld(t *testing.T) *world {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	e, err := emulator.New(emulator.Config{BaseURL: srv.URL + "/emulator"})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/emulator/", http.StripPrefix("/emulator", e.Handler()))
	w := &world{t: t, e: e, srv: srv, log: &syncBuffer{}, tenant: tenantID}
	w.addTenant(tenantID, "contoso")
	return w
}

func (w *world) addTenant(id, name string) {
	w.t.Helper()
	must(w.t, w.e.AddTenant(emulator.Tenant{ID: id, DisplayName: name, Domain: name + ".onmicrosoft.com"}))
	must(w.t, w.e.AddUser(id, emulator.User{ObjectID: adminOID, DisplayName: "Ada Admin", UserPrincipalName: "ada@" + name + ".onmicrosoft.com"}))
	must(w.t, w.e.AddUser(id, emulator.User{ObjectID: userOID, DisplayName: "Uma User", UserPrincipalName: "uma@" + name + ".onmicrosoft.com"}))
}

// fork is a fresh tenant in the same emulator (one signing key for many
// subtests keeps them fast).
func (w *world) fork(t *testing.T) *world {
	t.Helper()
	id := uuid.NewString()
	f := &world{t: t, e: w.e, srv: w.srv, log: &syncBuffer{}, tenant: id}
	f.addTenant(id, "t"+strings.ReplaceAll(id, "-", "")[:12])
	return f
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func noSleep(context.Context, time.Duration) error { return nil }

// signIn runs the device-code flow, approving as the admin.
func (w *world) signIn(scopes []string) *Token {
	w.t.Helper()
	d := &DeviceLogin{LoginURL: w.e.LoginURL(), Tenant: w.tenant, Scopes: scopes, Sleep: noSleep,
		Prompt: func(dc DeviceCode) {
			if !strings.Contains(dc.Message, dc.UserCode) {
				w.t.Errorf("prompt %q lacks the code", dc.Message)
			}
			must(w.t, w.e.Approve(dc.UserCode, adminOID))
		}}
	tok, err := d.Token(context.Background())
	if err != nil {
		w.t.Fatal(err)
	}
	return tok
}

func (w *world) graph(tok *Token) *graph.Client {
	c := &graph.Client{BaseURL: w.e.GraphURL(), Sleep: noSleep}
	if tok != nil {
		c.Token = tok.Source()
	}
	return c
}

// setup runs tamlink setup against the emulator.
func (w *world) setup(mod func(*Config)) (*Result, error) {
	w.t.Helper()
	cfg := Config{Tenant: w.tenant, Domain: domain, Graph: w.graph(w.signIn(SetupScopes)), Out: w.log}
	if mod != nil {
		mod(&cfg)
	}
	return Run(context.Background(), cfg)
}

func (w *world) writes() int {
	n := 0
	for _, r := range w.e.GraphRequests() {
		if r.Write() && r.Tenant == w.tenant {
			n++
		}
	}
	return n
}
