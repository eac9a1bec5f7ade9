// Package notify delivers the desk's notifications to Microsoft Teams
// activity feeds through Microsoft Graph, durably.
//
// The queue is River's: desk.Service writes a notification and sqlstore
// inserts its delivery job in the same transaction as the event that caused
// it. This package runs River workers that, for each job:
//
//  1. read the notification and stop if it is no longer pending (a job run
//     a second time after a crash finds it delivered and does nothing);
//  2. give up into the dead-letter state once it has been pending longer
//     than Config.GiveUpAfter, with the last error as the reason;
//  3. find the user's channel, get the channel's app-only token (cached per
//     channel, entra.ClientCredentials with https://graph.microsoft.com/.default)
//     and make sure the Teams app is installed for the user, installing it
//     through Graph if not — people who removed or blocked it, and channels
//     without the Graph permissions, are recorded and skipped, not retried
//     forever;
//  4. wait for a slot of the channel's rate limit (Graph allows 5 calls per
//     second per app per tenant), or snooze the job until one is free;
//  5. call sendActivityNotification once (graph.NoRetry) and record the
//     outcome at once: a 204 is appended to the journal (one write(2), see
//     journal.go) and then marks the row delivered in a single-row UPDATE;
//     429 pauses the tenant and snoozes the job for Retry-After; 5xx,
//     time-outs and network errors return an error, and River retries with
//     exponential back-off and jitter.
//
// The duplicate window is step 5's: between Graph accepting the request and
// the journal write — the time it takes the answer to reach the process.
// A crash there leaves the job running in River's table; it is run again
// after restart and sends a second time; so does a time-out that hides an
// accepted request's answer. Nothing else can resend a delivered
// notification: the journal is replayed into the database before any job
// runs, and every run starts by reading the row. chainId is the
// notification's id, so a second copy replaces the first in the person's
// feed rather than appearing beside it (Graph: the same chainId overrides
// the previous notification).
package notify

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/riverqueue/river"

	"github.com/tamlink/tamlink/internal/desk"
	"github.com/tamlink/tamlink/internal/entra"
	"github.com/tamlink/tamlink/internal/sqlstore"
)

// AllowedRate is Graph's documented limit for
// POST /users/{id}/teamwork/sendActivityNotification: 5 requests per second
// per app per tenant (graph-api.md 4.3).
const AllowedRate = 5.0

// Config configures a Notifier. Zero fields take the defaults shown.
type Config struct {
	DB       *sqlstore.DB
	Service  *desk.Service // opens channel secrets; runs the SLA sweep
	Entra    *entra.Client // tokens from each channel's tenant
	GraphURL string        // https://graph.microsoft.com, or the emulator's
	HTTP     *http.Client  // for Graph (default: pooled transport, no overall time-out)
	Log      *slog.Logger

	// Rate is the send rate per channel (default 96% of AllowedRate, which
	// keeps clock jitter from ever pushing a second over the limit).
	Rate float64
	// InstallRate paces installedApps calls per channel (default 20/s; Graph allows 30).
	InstallRate float64
	// MaxWait is the longest a job waits for a rate-limit slot while
	// holding a worker; longer, it is snoozed (default 10 s: a channel then
	// holds at most Rate × MaxWait ≈ 48 workers).
	MaxWait time.Duration
	// RetryBase is the first retry's back-off after a failure; later ones
	// double it, up to 10 minutes, with jitter (default 500 ms; retries
	// pass the channel's rate limit like first attempts, so Graph never sees
	// more than Rate from a channel however short the back-off).
	RetryBase time.Duration
	// RequestTimeout bounds one Graph call (default 30 s).
	RequestTimeout time.Duration
	// GiveUpAfter is how long a notification may stay pending before it is
	// dead-lettered (default 24 h).
	GiveUpAfter time.Duration
	// RecheckAfter is how long people who removed or blocked the app, and
	// channels without permissions, are skipped before being checked again
	// (default 24 h).
	RecheckAfter time.Duration
	// Workers is River's MaxWorkers for the notification queue (default 200).
	Workers int
	// PollInterval is how often River looks for due jobs (default 100 ms).
	PollInterval time.Duration
	// JobTimeout bounds one job (default 2 min); RescueAfter is when River
	// considers a running job abandoned (default JobTimeout + 1 min).
	JobTimeout, RescueAfter time.Duration
	// SLAInterval is how often the SLA warning sweep runs (default 1 min;
	// negative: never).
	SLAInterval time.Duration
	// LockDir is the data directory. The notifier takes an exclusive lock
	// on LockDir/notify.lock and keeps its journal of Graph's 204s in
	// LockDir/notify.journal (journal.go). On SQLite — one process per
	// database — holding the lock also lets it requeue at once the jobs a
	// crashed process left running, instead of waiting for River's rescuer.
	LockDir string
	Now     func() time.Time
}

func (c *Config) defaults() {
	if c.Rate <= 0 {
		c.Rate = AllowedRate * 0.96
	}
	if c.InstallRate <= 0 {
		c.InstallRate = 20
	}
	if c.MaxWait <= 0 {
		c.MaxWait = 10 * time.Second
	}
	if c.RetryBase <= 0 {
		c.RetryBase = 500 * time.Millisecond
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 30 * time.Second
	}
	if c.GiveUpAfter <= 0 {
		c.GiveUpAfter = 24 * time.Hour
	}
	if c.RecheckAfter <= 0 {
		c.RecheckAfter = 24 * time.Hour
	}
	if c.Workers <= 0 {
		c.Workers = 200
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 100 * time.Millisecond
	}
	if c.JobTimeout <= 0 {
		c.JobTimeout = 2 * time.Minute
	}
	if c.RescueAfter <= c.JobTimeout {
		c.RescueAfter = c.JobTimeout + time.Minute
	}
	if c.SLAInterval == 0 {
		c.SLAInterval = time.Minute
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.HTTP == nil {
		c.HTTP = &http.Client{Transport: &http.Transport{
			Proxy: http.ProxyFromEnvironment, MaxIdleConns: 512, MaxIdleConnsPerHost: 256,
			IdleConnTimeout: 90 * time.Second, TLSHandshakeTimeout: 10 * time.Second, ForceAttemptHTTP2: true,
		}}
	}
}

// Stats counts what the notifier did since it started.
type Stats struct {
	Delivered, Skipped, Dead, Throttled, Failed, Snoozed, Installed int64
}

// Notifier runs the delivery workers.
type Notifier struct {
	cfg     Config
	http    *http.Client // cfg.HTTP with each channel's send gate (gatedTransport)
	river   *river.Client[*sql.Tx]
	tokens  *tokenCache
	lock    *os.File
	journal *journal // receipts of 204s, written before the database (journal.go)

	stopping chan struct{} // closed by Stop: jobs waiting for a slot give it up
	stopOnce sync.Once

	mu       sync.Mutex
	limits   map[string]*tenantLimit
	chans    map[chanKey]chanEntry
	checking map[recipientKey]*sync.Mutex

	delivered, skipped, dead, throttled, failed, snoozed, installed atomic.Int64
}

// Stats returns the counters.
func (n *Notifier) Stats() Stats {
	return Stats{Delivered: n.delivered.Load(), Skipped: n.skipped.Load(), Dead: n.dead.Load(), Throttled: n.throttled.Load(),
		Failed: n.failed.Load(), Snoozed: n.snoozed.Load(), Installed: n.installed.Load()}
}

// slaSweep is the periodic job that sends SLA warnings.
type slaSweep struct{}

func (slaSweep) Kind() string { return "tamlink_sla_sweep" }

type slaWorker struct {
	river.WorkerDefaults[slaSweep]
	n *Notifier
}

func (w *slaWorker) Work(ctx context.Context, _ *river.Job[slaSweep]) error {
	sent, err := w.n.cfg.Service.WarnSLA(ctx)
	if sent > 0 {
		w.n.cfg.Log.Info("sla warnings sent", "tickets", sent)
	}
	return err
}

// New builds a Notifier; Start runs it.
func New(cfg Config) (*Notifier, error) {
	if cfg.DB == nil || cfg.Service == nil || cfg.Entra == nil || cfg.GraphURL == "" {
		return nil, errors.New("notify: DB, Service, Entra and GraphURL are required")
	}
	cfg.defaults()
	n := &Notifier{cfg: cfg, limits: map[string]*tenantLimit{}, chans: map[chanKey]chanEntry{}, checking: map[recipientKey]*sync.Mutex{},
		stopping: make(chan struct{}),
		tokens:   &tokenCache{entra: cfg.Entra, svc: cfg.Service, now: cfg.Now, slots: map[string]*tokenSlot{}}}
	workers := river.NewWorkers()
	river.AddWorker(workers, &deliveryWorker{n: n})
	river.AddWorker(workers, &slaWorker{n: n})
	rc := &river.Config{
		Logger:               slog.New(atLeast{cfg.Log.Handler(), slog.LevelWarn}).With("component", "river"),
		Queues:               map[string]river.QueueConfig{sqlstore.NotifyQueue: {MaxWorkers: cfg.Workers}},
		Workers:              workers,
		FetchPollInterval:    cfg.PollInterval,
		FetchCooldown:        cfg.PollInterval / 5,
		JobTimeout:           cfg.JobTimeout,
		RescueStuckJobsAfter: cfg.RescueAfter,
		MaxAttempts:          100_000,
		// Finished jobs are history only; the notification rows keep the record.
		CompletedJobRetentionPeriod: time.Hour,
		CancelledJobRetentionPeriod: 24 * time.Hour,
		DiscardedJobRetentionPeriod: 7 * 24 * time.Hour,
	}
	if cfg.SLAInterval > 0 {
		rc.PeriodicJobs = []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(cfg.SLAInterval),
			func() (river.JobArgs, *river.InsertOpts) {
				return slaSweep{}, &river.InsertOpts{Queue: sqlstore.NotifyQueue, MaxAttempts: 1}
			}, &river.PeriodicJobOpts{RunOnStart: true})}
	}
	c, err := cfg.DB.NewRiverClient(rc)
	if err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	n.river = c
	base := cfg.HTTP.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	n.http = &http.Client{Transport: gatedTransport{base: base}, Timeout: cfg.HTTP.Timeout, Jar: cfg.HTTP.Jar}
	return n, nil
}

// Start takes the queue lock (SQLite), requeues what a crashed process left
// running, and starts the workers. It returns once they run.
func (n *Notifier) Start(ctx context.Context) error {
	if n.cfg.LockDir != "" {
		f, err := os.OpenFile(filepath.Join(n.cfg.LockDir, "notify.lock"), os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			return fmt.Errorf("notify: lock: %w", err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			return fmt.Errorf("notify: another tamlink process is delivering notifications from %s: %w", n.cfg.LockDir, err)
		}
		n.lock = f
		if n.journal, err = openJournal(n.cfg.LockDir); err != nil {
			return err
		}
		// Deliveries a killed process journalled but had not recorded.
		if k, err := n.journal.replay(ctx, n.cfg.DB, n.cfg.Now()); err != nil {
			return err
		} else if k > 0 {
			n.cfg.Log.Warn("recorded deliveries a crash left in the journal", "notifications", k)
		}
		if n.cfg.DB.Dialect() == "sqlite" {
			if err := n.recoverAfterCrash(ctx); err != nil {
				return err
			}
		}
	}
	if err := n.river.Start(ctx); err != nil {
		return fmt.Errorf("notify: start: %w", err)
	}
	return nil
}

// recoverAfterCrash runs with the SQLite queue lock held, so no other
// process works this queue: a delivery job still marked running was cut off
// by a crash (or a kill). It is made available again now — rather than after
// River's rescuer notices it (RescueAfter) — and the dead process's
// leadership is released, so that River's maintenance starts at once. The
// notification row decides what the rerun does: a delivered one is not sent
// again.
func (n *Notifier) recoverAfterCrash(ctx context.Context) error {
	db := n.cfg.DB.SQL()
	res, err := db.ExecContext(ctx, `UPDATE river_job SET state = 'available', scheduled_at = datetime('now', 'subsec')
		WHERE state = 'running' AND kind = ?`, sqlstore.DeliveryJobKind)
	if err != nil {
		return fmt.Errorf("notify: requeue interrupted jobs: %w", err)
	}
	if k, _ := res.RowsAffected(); k > 0 {
		n.cfg.Log.Warn("requeued deliveries interrupted by a crash", "jobs", k)
	}
	if _, err := db.ExecContext(ctx, `DELETE FROM river_leader`); err != nil {
		return fmt.Errorf("notify: release stale leadership: %w", err)
	}
	return nil
}

// Stop lets requests already sent to Graph finish and be recorded (up to
// ctx), sends jobs still waiting for a rate-limit slot back to the queue,
// and stops.
func (n *Notifier) Stop(ctx context.Context) error {
	n.stopOnce.Do(func() { close(n.stopping) })
	err := n.river.Stop(ctx)
	if n.journal != nil {
		n.journal.close()
		n.journal = nil
	}
	if n.lock != nil {
		_ = syscall.Flock(int(n.lock.Fd()), syscall.LOCK_UN)
		n.lock.Close()
		n.lock = nil
	}
	return err
}

func (n *Notifier) limit(appID string) *tenantLimit {
	n.mu.Lock()
	defer n.mu.Unlock()
	l := n.limits[appID]
	if l == nil {
		l = newTenantLimit(n.cfg.Rate, n.cfg.InstallRate, n.cfg.MaxWait)
		n.limits[appID] = l
	}
	return l
}

type recipientKey struct {
	appID  string
	userID int64
}

// lockRecipient serialises the installation check of one person.
func (n *Notifier) lockRecipient(appID string, userID int64) (unlock func()) {
	k := recipientKey{appID, userID}
	n.mu.Lock()
	m := n.checking[k]
	if m == nil {
		m = &sync.Mutex{}
		n.checking[k] = m
	}
	n.mu.Unlock()
	m.Lock()
	return m.Unlock
}

// chanKey finds a user's channel: the organisation's channel in the user's tenant.
type chanKey struct {
	orgID  int64
	tenant string
}

type chanEntry struct {
	ch    desk.Channel
	ok    bool
	until time.Time
}

// channelFor returns the channel through which u is reached (cached for a minute).
func (n *Notifier) channelFor(ctx context.Context, u desk.User) (desk.Channel, bool, error) {
	k := chanKey{u.OrgID, u.TenantID}
	now := n.cfg.Now()
	n.mu.Lock()
	e, hit := n.chans[k]
	n.mu.Unlock()
	if hit && now.Before(e.until) {
		return e.ch, e.ok, nil
	}
	chs, err := n.cfg.DB.ListChannels(ctx)
	if err != nil {
		return desk.Channel{}, false, err
	}
	e = chanEntry{until: now.Add(time.Minute)}
	for _, c := range chs {
		if c.OrgID == u.OrgID && c.TenantID == u.TenantID {
			e.ch, e.ok = c, true
			break
		}
	}
	n.mu.Lock()
	n.chans[k] = e
	n.mu.Unlock()
	return e.ch, e.ok, nil
}

// atLeast passes on only records at or above min: River reports routine
// maintenance at INFO every minute, which is noise in an operator's log.
type atLeast struct {
	slog.Handler
	min slog.Level
}

func (h atLeast) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h atLeast) WithAttrs(a []slog.Attr) slog.Handler { return atLeast{h.Handler.WithAttrs(a), h.min} }

func (h atLeast) WithGroup(n string) slog.Handler { return atLeast{h.Handler.WithGroup(n), h.min} }
