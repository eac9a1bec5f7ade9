package live

import "sync"

// presence counts each user's open workbench sockets. It answers the desk's
// "is this customer connected?" (desk.Presence): a desk reply reaches Teams
// only for those who are not. It is per process: with several instances
// behind a load balancer a user connected to another instance counts as not
// connected here, and gets a Teams notification they could have done without.
type presence struct {
	mu sync.Mutex
	n  map[int64]int
}

// Present records that userID has a live socket until the returned func is
// called (once).
func (h *Hub) Present(userID int64) (release func()) {
	p := &h.presence
	p.mu.Lock()
	if p.n == nil {
		p.n = map[int64]int{}
	}
	p.n[userID]++
	p.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			p.mu.Lock()
			if p.n[userID]--; p.n[userID] <= 0 {
				delete(p.n, userID)
			}
			p.mu.Unlock()
		})
	}
}

// Connected implements desk.Presence.
func (h *Hub) Connected(userID int64) bool {
	p := &h.presence
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n[userID] > 0
}
