package notify

import (
	"math/rand/v2"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// tenantLimit paces one channel's calls. Graph throttles per app per tenant,
// and a channel is one app in one tenant, so the channel is the unit.
//
// A worker asks for a slot: when the limiter can give one within maxWait
// the worker waits for it (holding its River worker); otherwise it is handed
// a slot further in the future and its job is snoozed until shortly before
// it, so that a backlog in one tenant never occupies the workers every other
// tenant needs. After a 429 the whole tenant pauses for Retry-After.
type tenantLimit struct {
	send    *rate.Limiter // sendActivityNotification
	install *rate.Limiter // installedApps GET/POST (a separate, higher Graph limit)
	maxWait time.Duration

	mu       sync.Mutex
	paused   time.Time // no calls before this (Retry-After)
	deferred time.Time // the last future slot handed to a snoozed job
}

func newTenantLimit(perSecond, installPerSecond float64, maxWait time.Duration) *tenantLimit {
	return &tenantLimit{
		send:    rate.NewLimiter(rate.Limit(perSecond), 1),
		install: rate.NewLimiter(rate.Limit(installPerSecond), 1),
		maxWait: maxWait,
	}
}

// admit returns how long to wait for a send slot (wait), or, when the slot
// is too far off, how long to snooze the job instead (snooze > 0).
// returning marks a job that was snoozed before: it may wait up to three
// times maxWait rather than go to the back of the line again.
func (l *tenantLimit) admit(now time.Time, returning bool) (wait, snooze time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Before(l.paused) {
		return 0, l.paused.Sub(now) + jitter(time.Second)
	}
	r := l.send.ReserveN(now, 1)
	d := r.DelayFrom(now)
	limit := l.maxWait
	if returning {
		limit *= 3
	}
	// Jobs that arrive while others are snoozed queue behind them.
	if d <= limit && (returning || !l.deferred.After(now.Add(d))) {
		return d, 0
	}
	r.CancelAt(now)
	interval := time.Duration(float64(time.Second) / float64(l.send.Limit()))
	slot := now.Add(d)
	if l.deferred.After(slot) {
		slot = l.deferred
	}
	slot = slot.Add(interval)
	l.deferred = slot
	// Come back a little early: the limiter's wait absorbs the difference.
	return 0, max(slot.Sub(now)-l.maxWait/2, 10*time.Millisecond)
}

// pause stops every call of the tenant for d (Graph's Retry-After).
func (l *tenantLimit) pause(now time.Time, d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if until := now.Add(d); until.After(l.paused) {
		l.paused = until
	}
}

// jitter returns a random duration in [0, d).
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(d)))
}

// pausedFor reports how much of a Retry-After pause is left.
func (l *tenantLimit) pausedFor(now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return max(l.paused.Sub(now), 0)
}

// backoff is the wait before retry n (1-based) after a 5xx, time-out or
// network error: exponential from base (1 s), capped at 10 minutes, with
// jitter (±50%) so that a tenant's failed jobs do not all come back at once.
func backoff(base time.Duration, n int) time.Duration {
	d := base << min(max(n-1, 0), 16)
	d = min(d, 10*time.Minute)
	return d/2 + jitter(d/2) + jitter(d/2)
}
