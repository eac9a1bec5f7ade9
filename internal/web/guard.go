package web

import (
	"net"
	"net/http"
	"runtime"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// loginGuard protects password sign-in. Argon2id spends 19 MiB per check, so
// checks run a few at a time (beyond that the server answers 503 rather than
// run out of memory), and repeated failures for one account or one address
// back off exponentially.
type loginGuard struct {
	sem chan struct{}

	mu    sync.Mutex
	fails map[string]*failures
}

type failures struct {
	n     int
	until time.Time
	last  time.Time
}

// Failures allowed before back-off starts, and its bounds.
const (
	freeFailures = 5
	firstLockout = 30 * time.Second
	maxLockout   = 15 * time.Minute
)

func newLoginGuard() *loginGuard {
	return &loginGuard{sem: make(chan struct{}, 2*runtime.GOMAXPROCS(0)), fails: map[string]*failures{}}
}

// acquire takes a password-check slot without waiting.
func (g *loginGuard) acquire() bool {
	select {
	case g.sem <- struct{}{}:
		return true
	default:
		return false
	}
}

func (g *loginGuard) release() { <-g.sem }

// wait returns how long the keys are locked out.
func (g *loginGuard) wait(now time.Time, keys ...string) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	var d time.Duration
	for _, k := range keys {
		if f := g.fails[k]; f != nil && f.until.After(now) {
			d = max(d, f.until.Sub(now))
		}
	}
	return d
}

func (g *loginGuard) fail(now time.Time, keys ...string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.fails) > 50000 { // forget old entries rather than grow without bound
		for k, f := range g.fails {
			if now.Sub(f.last) > time.Hour {
				delete(g.fails, k)
			}
		}
	}
	for _, k := range keys {
		f := g.fails[k]
		if f == nil || now.Sub(f.last) > time.Hour {
			f = &failures{}
			g.fails[k] = f
		}
		f.n++
		f.last = now
		if f.n >= freeFailures {
			f.until = now.Add(min(firstLockout<<min(f.n-freeFailures, 10), maxLockout))
		}
	}
}

func (g *loginGuard) succeed(keys ...string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, k := range keys {
		delete(g.fails, k)
	}
}

// ipLimiter rate-limits an unauthenticated action per client address.
type ipLimiter struct {
	mu    sync.Mutex
	every rate.Limit
	burst int
	m     map[string]*ipEntry
}

type ipEntry struct {
	l    *rate.Limiter
	last time.Time
}

func newIPLimiter(perMinute, burst int) *ipLimiter {
	return &ipLimiter{every: rate.Limit(float64(perMinute) / 60), burst: burst, m: map[string]*ipEntry{}}
}

func (l *ipLimiter) allow(r *http.Request) bool {
	ip := clientIP(r)
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.m) > 50000 {
		for k, e := range l.m {
			if now.Sub(e.last) > 10*time.Minute {
				delete(l.m, k)
			}
		}
	}
	e := l.m[ip]
	if e == nil {
		e = &ipEntry{l: rate.NewLimiter(l.every, l.burst)}
		l.m[ip] = e
	}
	e.last = now
	return e.l.AllowN(now, 1)
}

// clientIP is the peer address. Forwarded headers are not trusted: a proxy
// in front of tamlink must be configured to limit on its own side.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
