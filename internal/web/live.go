package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/tamlink/tamlink/internal/desk"
	"github.com/tamlink/tamlink/internal/live"
)

// Close codes of the live socket (4000–4999 are the application's).
const (
	closeUnauthorized = 4401
	closeSlow         = 4408
	closeTooMany      = 4429
)

// tabLive is the customer's live socket. Browsers cannot set headers on a
// WebSocket, and a token in the URL ends up in logs, so the session arrives
// in the first frame.
func (s *Server) tabLive(w http.ResponseWriter, r *http.Request) {
	ch, err := s.channel(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	c, err := websocket.Accept(w, r, nil) // same-origin only: the default origin check
	if err != nil {
		return
	}
	defer c.CloseNow()
	ctx := r.Context()
	tok, err := readAuthFrame(ctx, c)
	if err != nil {
		c.Close(closeUnauthorized, "sign in again")
		return
	}
	// Re-checked now and every recheckEvery: a session that ends, a user
	// moved or a channel removed closes the socket.
	check := func(ctx context.Context) bool {
		ch, err := s.svc.Channel(ctx, ch.AppID)
		if err != nil {
			return false
		}
		_, err = s.tabSession(ctx, ch, tok)
		return err == nil
	}
	tc, err := s.tabSession(ctx, ch, tok)
	if err != nil {
		c.Close(closeUnauthorized, "sign in again")
		return
	}
	key := string(hashToken(tok))
	if !s.sockets.add(key) {
		c.Close(closeTooMany, "too many live connections for this session")
		return
	}
	defer s.sockets.done(key)
	// A notification goes to its user only; while the socket is open the
	// user counts as connected (desk replies then skip Teams).
	uid := tc.user.ID
	sub := s.cfg.Hub.Subscribe(func(ev desk.Event) bool {
		return ev.Type != desk.EventTypeNotification || ev.Notification != nil && ev.Notification.UserID == uid
	}, tc.ch.OrgID)
	defer s.cfg.Hub.Present(uid)()
	s.pump(ctx, c, sub, "tab", check)
}

func readAuthFrame(ctx context.Context, c *websocket.Conn) (string, error) {
	actx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c.SetReadLimit(8 << 10)
	_, data, err := c.Read(actx)
	if err != nil {
		return "", err
	}
	var f struct{ Type, Token string }
	if json.Unmarshal(data, &f) != nil || f.Type != "auth" || f.Token == "" {
		return "", errors.New("first frame must be auth")
	}
	return f.Token, nil
}

// recheckEvery is how stale a live socket's authorisation may get.
const recheckEvery = 15 * time.Second

// pump writes the subscriber's events to the socket until either side ends
// or valid says the session no longer holds.
func (s *Server) pump(ctx context.Context, c *websocket.Conn, sub *live.Subscriber, side string, valid func(context.Context) bool) {
	defer sub.Close()
	s.metrics.sockets.WithLabelValues(side).Inc()
	defer s.metrics.sockets.WithLabelValues(side).Dec()
	// Clients send nothing after auth; reading still handles pings and close.
	ctx = c.CloseRead(ctx)
	ready, _ := json.Marshal(liveFrame{Type: "ready"})
	if err := writeFrame(ctx, c, ready); err != nil {
		return
	}
	recheck := time.NewTicker(recheckEvery)
	defer recheck.Stop()
	pings := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-sub.Done:
			c.Close(closeSlow, "too slow; reconnect")
			return
		case data := <-sub.C:
			if err := writeFrame(ctx, c, data); err != nil {
				return
			}
		case <-recheck.C:
			if !valid(ctx) {
				c.Close(closeUnauthorized, "session ended")
				return
			}
			if pings++; pings%2 == 0 { // a ping every 30 s keeps proxies from idling the socket out
				pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				err := c.Ping(pctx)
				cancel()
				if err != nil {
					return
				}
			}
		}
	}
}

func writeFrame(ctx context.Context, c *websocket.Conn, data []byte) error {
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return c.Write(wctx, websocket.MessageText, data)
}

// consoleLive is a staff member's live socket: every organisation they may see.
func (s *Server) consoleLive(w http.ResponseWriter, r *http.Request) {
	cs, ok := s.consoleUser(r)
	if !ok {
		writeJSON(w, http.StatusUnauthorized, apiError{Error: desk.EUnauthorized, Message: "sign in to the console"})
		return
	}
	var orgIDs []int64
	if !cs.staff.Admin {
		ids, err := s.svc.Store.StaffOrgIDs(r.Context(), cs.staff.ID)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if len(ids) == 0 {
			ids = []int64{-1} // subscribe to nothing rather than to everything
		}
		orgIDs = ids
	}
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	cookie, _ := r.Cookie(consoleCookie)
	key := string(hashToken(cookie.Value))
	if !s.sockets.add(key) {
		c.Close(closeTooMany, "too many live connections for this session")
		return
	}
	defer s.sockets.done(key)
	// The cookie is re-checked like a tab session: logout or expiry closes
	// the socket. A change of assignments takes effect on reconnect.
	valid := func(ctx context.Context) bool {
		rr := r.Clone(ctx)
		_, ok := s.consoleUser(rr)
		return ok
	}
	sub := s.cfg.Hub.Subscribe(func(ev desk.Event) bool { return ev.Type != desk.EventTypeNotification }, orgIDs...)
	s.pump(r.Context(), c, sub, "console", valid)
}

// socketCount bounds live sockets per session.
type socketCount struct {
	mu sync.Mutex
	n  map[string]int
}

// maxSocketsPerSession allows a few tabs and windows, not a flood.
const maxSocketsPerSession = 8

func newSocketCount() *socketCount { return &socketCount{n: map[string]int{}} }

func (c *socketCount) add(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n[key] >= maxSocketsPerSession {
		return false
	}
	c.n[key]++
	return true
}

func (c *socketCount) done(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n[key]--; c.n[key] <= 0 {
		delete(c.n, key)
	}
}
