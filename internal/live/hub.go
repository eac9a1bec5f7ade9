// Package live fans events out to the browsers connected to an organisation's
// service group. An event is encoded once and handed to every subscriber's
// buffer without blocking: a subscriber too slow to keep up is cut off (its
// client reconnects and reloads history) rather than slowing everyone else.
package live

import (
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/tamlink/tamlink/internal/desk"
)

// Encoder turns an event into the bytes sent to clients.
type Encoder func(desk.Event) ([]byte, error)

// Hub routes events to subscribers by organisation.
type Hub struct {
	encode Encoder
	log    *slog.Logger

	mu     sync.RWMutex
	byOrg  map[int64]map[*Subscriber]struct{}
	all    map[*Subscriber]struct{} // admins' consoles: every organisation
	nextID atomic.Uint64

	presence presence // users with a live workbench (presence.go)
}

// NewHub returns a hub that encodes events with enc.
func NewHub(enc Encoder, log *slog.Logger) *Hub {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Hub{encode: enc, log: log, byOrg: map[int64]map[*Subscriber]struct{}{}, all: map[*Subscriber]struct{}{}}
}

// Subscriber receives encoded events on C until Done is closed.
type Subscriber struct {
	ID   uint64
	C    chan []byte
	Done chan struct{}

	filter func(desk.Event) bool
	once   sync.Once
	orgs   []int64
	hub    *Hub
}

// BufferSize is how many events a subscriber may lag behind before it is cut off.
const BufferSize = 256

// Subscribe registers a subscriber for orgIDs; with no orgIDs it receives
// every organisation's events. filter, if not nil, is asked about each event.
func (h *Hub) Subscribe(filter func(desk.Event) bool, orgIDs ...int64) *Subscriber {
	s := &Subscriber{ID: h.nextID.Add(1), C: make(chan []byte, BufferSize), Done: make(chan struct{}), orgs: orgIDs, hub: h, filter: filter}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(orgIDs) == 0 {
		h.all[s] = struct{}{}
	}
	for _, id := range orgIDs {
		m := h.byOrg[id]
		if m == nil {
			m = map[*Subscriber]struct{}{}
			h.byOrg[id] = m
		}
		m[s] = struct{}{}
	}
	return s
}

// Close unregisters s and closes Done. It is safe to call more than once.
func (s *Subscriber) Close() {
	s.once.Do(func() {
		h := s.hub
		h.mu.Lock()
		delete(h.all, s)
		for _, id := range s.orgs {
			if m := h.byOrg[id]; m != nil {
				delete(m, s)
				if len(m) == 0 {
					delete(h.byOrg, id)
				}
			}
		}
		h.mu.Unlock()
		close(s.Done)
	})
}

// Count returns the number of subscribers of an organisation (not counting
// all-organisation subscribers).
func (h *Hub) Count(orgID int64) int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.byOrg[orgID])
}

// Publish implements desk.Publisher.
func (h *Hub) Publish(ev desk.Event) {
	data, err := h.encode(ev)
	if err != nil {
		h.log.Error("encode live event", "type", ev.Type, "err", err)
		return
	}
	var slow []*Subscriber
	h.mu.RLock()
	send := func(set map[*Subscriber]struct{}) {
		for s := range set {
			if s.filter != nil && !s.filter(ev) {
				continue
			}
			select {
			case s.C <- data:
			default:
				slow = append(slow, s)
			}
		}
	}
	send(h.byOrg[ev.OrgID])
	send(h.all)
	h.mu.RUnlock()
	for _, s := range slow {
		h.log.Warn("live subscriber too slow; disconnecting", "subscriber", s.ID, "org_id", ev.OrgID)
		s.Close()
	}
}
