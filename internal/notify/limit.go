package notify

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
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
// it, so that a backlog in one tenant never occupies more than
// rate × maxWait of the workers every other tenant needs. After a 429 the
// whole tenant pauses for Retry-After.
type tenantLimit struct {
	send    *rate.Limiter // sendActivityNotification
	install *rate.Limiter // installedApps GET/POST (a separate, higher Graph limit)
	maxWait time.Duration

	mu       sync.Mutex
	paused   time.Time     // no calls before this (Retry-After)
	deferred time.Time     // the last future slot handed to a snoozed job
	last     time.Time     // the latest instant the limiter was asked about
	sent     time.Time     // when the last request's headers were written (gate)
	writing  chan struct{} // closed when the request that passed the gate is written
}

func newTenantLimit(perSecond, installPerSecond float64, maxWait time.Duration) *tenantLimit {
	return &tenantLimit{
		send:    rate.NewLimiter(rate.Limit(perSecond), 1),
		install: rate.NewLimiter(rate.Limit(installPerSecond), 1),
		maxWait: maxWait,
	}
}

// admit returns how long to wait for a send slot (wait), or, when the slot
// is more than maxWait away, how long to snooze the job instead (snooze > 0):
// until shortly before a slot handed out beyond those already promised.
func (l *tenantLimit) admit(now time.Time) (wait, snooze time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// The limiter must never see time go backwards: a reservation at an
	// earlier instant than the last one would hand out extra tokens.
	if now.Before(l.last) {
		now = l.last
	}
	l.last = now
	if now.Before(l.paused) {
		return 0, l.paused.Sub(now) + jitter(time.Second)
	}
	r := l.send.ReserveN(now, 1)
	d := r.DelayFrom(now)
	if d <= l.maxWait {
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

// gate is passed as a request leaves — inside the HTTP transport, after the
// limiter's wait (gatedTransport) — and spaces a tenant's requests by when
// they were really written: a request may go only a full interval after the
// previous one's headers were on the wire (its release). The limiter
// schedules by when slots were due; a worker stalled by a busy machine
// between its slot and the write would otherwise write right before or
// after the next one, and Graph's one-second window could count one
// request too many. A tenant paused by a 429 since the slot was granted is
// errPaused.
func (l *tenantLimit) gate(ctx context.Context) (release func(), err error) {
	interval := time.Duration(float64(time.Second) / float64(l.send.Limit()))
	for {
		l.mu.Lock()
		now := time.Now()
		if now.Before(l.paused) {
			l.mu.Unlock()
			return nil, errPaused
		}
		var wait <-chan struct{}
		var d time.Duration
		if l.writing != nil {
			wait = l.writing // the previous request is not written yet
		} else if d = l.sent.Add(interval).Sub(now); d <= 0 {
			ch := make(chan struct{})
			l.writing = ch
			l.mu.Unlock()
			var once sync.Once
			return func() {
				once.Do(func() {
					l.mu.Lock()
					l.sent, l.writing = time.Now(), nil
					l.mu.Unlock()
					close(ch)
				})
			}, nil
		}
		l.mu.Unlock()
		if wait == nil {
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			case <-t.C:
			}
			continue
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-wait:
		}
	}
}

var errPaused = errors.New("notify: tenant paused by Graph's Retry-After")

type gateKey struct{}

// gatedTransport passes a request through its tenant's gate (carried in
// the request's context) immediately before it is written, and releases
// the gate once the request's headers are written (or it failed).
type gatedTransport struct{ base http.RoundTripper }

func (g gatedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	l, ok := r.Context().Value(gateKey{}).(*tenantLimit)
	if !ok {
		return g.base.RoundTrip(r)
	}
	release, err := l.gate(r.Context())
	if err != nil {
		if r.Body != nil {
			r.Body.Close()
		}
		return nil, err
	}
	defer release()
	trace := &httptrace.ClientTrace{WroteHeaders: release}
	return g.base.RoundTrip(r.WithContext(httptrace.WithClientTrace(r.Context(), trace)))
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
