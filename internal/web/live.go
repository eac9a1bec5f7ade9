package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/coder/websocket"

	"github.com/tamlink/tamlink/internal/desk"
	"github.com/tamlink/tamlink/internal/live"
)

// Close codes of the live socket (4000–4999 are the application's).
const (
	closeUnauthorized = 4401
	closeSlow         = 4408
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
	tc, err := s.readAuthFrame(ctx, c, func(ctx context.Context, tok string) (tabCtx, error) { return s.tabSession(ctx, ch, tok) })
	if err != nil {
		c.Close(closeUnauthorized, "sign in again")
		return
	}
	sub := s.cfg.Hub.Subscribe(nil, tc.ch.OrgID)
	s.pump(ctx, c, sub, "tab")
}

func (s *Server) readAuthFrame(ctx context.Context, c *websocket.Conn, resolve func(context.Context, string) (tabCtx, error)) (tabCtx, error) {
	actx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c.SetReadLimit(8 << 10)
	_, data, err := c.Read(actx)
	if err != nil {
		return tabCtx{}, err
	}
	var f struct{ Type, Token string }
	if json.Unmarshal(data, &f) != nil || f.Type != "auth" {
		return tabCtx{}, errors.New("first frame must be auth")
	}
	return resolve(ctx, f.Token)
}

// pump writes the subscriber's events to the socket until either side ends.
func (s *Server) pump(ctx context.Context, c *websocket.Conn, sub *live.Subscriber, side string) {
	defer sub.Close()
	s.metrics.sockets.WithLabelValues(side).Inc()
	defer s.metrics.sockets.WithLabelValues(side).Dec()
	// Clients send nothing after auth; reading still handles pings and close.
	ctx = c.CloseRead(ctx)
	ready, _ := json.Marshal(liveFrame{Type: "ready"})
	if err := writeFrame(ctx, c, ready); err != nil {
		return
	}
	keepalive := time.NewTicker(30 * time.Second)
	defer keepalive.Stop()
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
		case <-keepalive.C:
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := c.Ping(pctx)
			cancel()
			if err != nil {
				return
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
	sub := s.cfg.Hub.Subscribe(nil, orgIDs...)
	s.pump(r.Context(), c, sub, "console")
}
