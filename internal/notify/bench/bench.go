// Package bench measures notification delivery end to end: tamlink's store,
// desk rules and notifier against the emulator's Graph, with faults. It is
// what `tamlink bench notify` runs.
//
// A run seeds N tenants in the emulator (each with its app registration, its
// Teams app in the org catalog and a few users, none of whom has the app
// installed yet), adds their channels to a fresh data directory, and then
// makes desk staff act on the users' tickets — comments, status, severity and
// assignment changes, round robin over tenants — so that M notifications
// are queued, one per action, while the notifier delivers them. When the
// queue is empty it compares what the database queued with what the
// emulator accepted:
//
//	delivered   notifications the emulator accepted at least once
//	lost        notifications queued but never accepted (dead letters included)
//	duplicates  extra copies accepted of the same notification (chainId)
//	seconds     from the notifier's start until the queue was empty (the
//	            workload is queued first, and timed apart)
//	max_tenant_rate  the most requests one app made in one tenant in any one
//	            second (every request counts: accepted, throttled or failed)
//	allowed_rate     Graph's limit the emulator enforced (5/s per app per tenant)
//
// With Resume the run seeds and queues nothing: it delivers what an earlier
// run in the same data directory left (for instance after it was killed) and
// reports on everything that run queued.
package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tamlink/tamlink/internal/desk"
	"github.com/tamlink/tamlink/internal/emulator"
	"github.com/tamlink/tamlink/internal/entra"
	"github.com/tamlink/tamlink/internal/notify"
	"github.com/tamlink/tamlink/internal/secretbox"
	"github.com/tamlink/tamlink/internal/sqlstore"
)

// Options configure a run.
type Options struct {
	Tenants        int
	Notifications  int
	UsersPerTenant int     // default 4
	FaultRate      float64 // share of Graph requests answered with a fault
	// AllowedRate is the per-app-per-tenant limit the emulator enforces
	// (default notify.AllowedRate, Graph's documented 5/s).
	AllowedRate float64
	// Rate is the notifier's own pace per tenant (default 96% of AllowedRate).
	Rate float64
	// EmulatorURL is a running `tamlink emulator`; empty starts one in process.
	EmulatorURL string
	// Dir is the data directory; empty uses a temporary one, removed after.
	Dir    string
	Resume bool
	// RequestTimeout bounds one Graph call (default 10 s).
	RequestTimeout time.Duration
	Log            *slog.Logger
	Progress       io.Writer // a line every few seconds; nil for none
}

// Result is what a run measured.
type Result struct {
	Queued, Delivered, Lost, Duplicates int
	Seconds                             float64 // delivery: from the notifier's start until the queue was empty
	QueueSeconds                        float64 // queueing the workload before that
	MaxTenantRate                       float64 // most requests of one tenant in any one second
	MaxTenantRate5s                     float64 // most in any five seconds, divided by five
	MeanTenantRate                      float64 // requests per second per tenant from its first request to its last, averaged
	// SustainedTenantRate is the same between the 5th and the 95th
	// percentile of each tenant's requests: the rate while it had work
	// queued, without the start and the last retries' back-off.
	SustainedTenantRate               float64
	AllowedRate                       float64
	Requests, Throttled, Faults, Slow int
	Notifier                          notify.Stats
	// DuplicateIDs are (up to 20) notifications accepted more than once.
	DuplicateIDs   []int64
	duplicateTimes [][]time.Time
}

// Line is the run's one-line summary.
func (r Result) Line() string {
	return fmt.Sprintf("delivered=%d lost=%d duplicates=%d seconds=%.1f max_tenant_rate=%.2f allowed_rate=%.2f",
		r.Delivered, r.Lost, r.Duplicates, r.Seconds, r.MaxTenantRate, r.AllowedRate)
}

// Details is a second line with the rest of the figures.
func (r Result) Details() string {
	util := 0.0
	if r.AllowedRate > 0 {
		util = 100 * r.SustainedTenantRate / r.AllowedRate
	}
	return fmt.Sprintf("queued=%d queue_seconds=%.1f requests=%d throttled=%d faults=%d slow=%d sustained_tenant_rate=%.2f (%.0f%% of allowed) mean_tenant_rate=%.2f max_tenant_rate_5s=%.2f retries=%d snoozes=%d installs=%d",
		r.Queued, r.QueueSeconds, r.Requests, r.Throttled, r.Faults, r.Slow, r.SustainedTenantRate, util, r.MeanTenantRate, r.MaxTenantRate5s,
		r.Notifier.Failed, r.Notifier.Snoozed, r.Notifier.Installed)
}

// state is what a run leaves in its data directory for a resumed run.
type state struct {
	EmulatorURL string   `json:"emulatorUrl"`
	Apps        []string `json:"apps"` // app ids of this run's channels
	AllowedRate float64  `json:"allowedRate"`
}

const stateFile = "bench.json"

// Run runs the benchmark.
func Run(ctx context.Context, o Options) (Result, error) {
	if o.UsersPerTenant <= 0 {
		o.UsersPerTenant = 4
	}
	if o.AllowedRate <= 0 {
		o.AllowedRate = notify.AllowedRate
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 10 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if !o.Resume && (o.Tenants <= 0 || o.Notifications <= 0) {
		return Result{}, errors.New("bench: --tenants and --notifications must be positive")
	}
	dir := o.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "tamlink-bench-")
		if err != nil {
			return Result{}, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	var st state
	if o.Resume {
		data, err := os.ReadFile(filepath.Join(dir, stateFile))
		if err != nil {
			return Result{}, fmt.Errorf("bench: nothing to resume in %s: %w", dir, err)
		}
		if err := json.Unmarshal(data, &st); err != nil {
			return Result{}, fmt.Errorf("bench: %s: %w", stateFile, err)
		}
		if o.EmulatorURL == "" {
			o.EmulatorURL = st.EmulatorURL
		}
		o.AllowedRate = st.AllowedRate
	}
	if o.Rate <= 0 {
		o.Rate = o.AllowedRate * 0.96 // as notify's default does for Graph's 5/s
	}
	emuURL := strings.TrimRight(o.EmulatorURL, "/")
	if emuURL == "" {
		if o.Resume {
			return Result{}, errors.New("bench: resuming needs the emulator the first run used (--emulator URL)")
		}
		url, stop, err := startEmulator()
		if err != nil {
			return Result{}, err
		}
		defer stop()
		emuURL = url
	}
	ctl := &control{base: emuURL, http: &http.Client{Timeout: 30 * time.Second}}

	key, err := secretbox.LoadKey(filepath.Join(dir, "secret.key"), !o.Resume)
	if err != nil {
		return Result{}, err
	}
	box, err := secretbox.New(key)
	if err != nil {
		return Result{}, err
	}
	db, err := sqlstore.Open(ctx, dir)
	if err != nil {
		return Result{}, err
	}
	defer db.Close()
	svc := &desk.Service{Store: db, Sealer: box, InviteKey: []byte("bench"), Log: o.Log}

	var plan *plan
	if !o.Resume {
		// Held requests are answered 504 after 2 s (Graph's own time-out),
		// well within the notifier's time-out: a request the notifier gives
		// up on while Graph goes on to accept it is the one way to send a
		// notification twice, and the bench measures the notifier, not how
		// often a loaded machine stalls a round trip past its time-out.
		if err := ctl.put("/control/teamwork/faults", emulator.TeamworkFaults{Rate: o.AllowedRate, FaultRate: o.FaultRate,
			Timeout: min(2*time.Second, o.RequestTimeout/2), Slow: min(500*time.Millisecond, o.RequestTimeout/4)}); err != nil {
			return Result{}, err
		}
		if plan, err = seed(ctx, ctl, svc, o); err != nil {
			return Result{}, err
		}
		st = state{EmulatorURL: emuURL, Apps: plan.apps, AllowedRate: o.AllowedRate}
		data, _ := json.Marshal(st)
		if err := os.WriteFile(filepath.Join(dir, stateFile), data, 0o600); err != nil {
			return Result{}, err
		}
	}

	// Queue everything first, so that what is timed is delivery alone (with
	// 2 CPUs, SQLite queues ~250 actions a second; concurrent queueing
	// would make the figure about the workload generator).
	var queueing time.Duration
	if plan != nil {
		t0 := time.Now()
		if err := plan.run(ctx, svc); err != nil {
			return Result{}, fmt.Errorf("bench: queueing notifications: %w", err)
		}
		queueing = time.Since(t0)
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "bench: queued %d notifications in %.1fs; delivering\n", o.Notifications, queueing.Seconds())
		}
	}

	n, err := notify.New(notify.Config{
		DB: db, Service: svc, Entra: entra.New(entra.Endpoints{LoginURL: emuURL + "/login", STSURL: emuURL + "/sts", GraphURL: emuURL + "/graph"}, nil),
		GraphURL: emuURL + "/graph", Log: o.Log, Rate: o.Rate, RequestTimeout: o.RequestTimeout,
		Workers: 500, JobTimeout: 30 * time.Second, SLAInterval: -1, LockDir: dir,
	})
	if err != nil {
		return Result{}, err
	}
	start := time.Now()
	if err := n.Start(ctx); err != nil {
		return Result{}, err
	}
	stopNotifier := func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = n.Stop(sctx)
	}
	defer stopNotifier()

	// Wait for the queue to empty.
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	lastReport := time.Now()
	for {
		select {
		case <-ctx.Done():
			return Result{}, ctx.Err()
		case <-tick.C:
		}
		counts, err := db.DeliveryCounts(ctx, nil)
		if err != nil {
			return Result{}, err
		}
		if o.Progress != nil && time.Since(lastReport) > 5*time.Second {
			lastReport = time.Now()
			fmt.Fprintf(o.Progress, "bench: %4.0fs pending=%d delivered=%d skipped=%d dead=%d\n", time.Since(start).Seconds(),
				counts[desk.DeliveryPending], counts[desk.DeliveryDelivered], counts[desk.DeliverySkipped], counts[desk.DeliveryDead])
		}
		if counts[desk.DeliveryPending] == 0 {
			break
		}
	}
	elapsed := time.Since(start)
	stopNotifier()
	res, err := measure(ctx, ctl, db, st)
	if err != nil {
		return res, err
	}
	res.Seconds = elapsed.Seconds()
	res.QueueSeconds = queueing.Seconds()
	if o.Progress != nil {
		for i, id := range res.DuplicateIDs {
			no, _ := db.NotificationByID(ctx, id)
			fmt.Fprintf(o.Progress, "bench: duplicate notification %d accepted at %v; attempts=%d last error %q\n", id, res.duplicateTimes[i], no.Attempts, no.Reason)
		}
	}
	res.Notifier = n.Stats()
	return res, nil
}

// measure compares what the database queued with what the emulator accepted.
func measure(ctx context.Context, ctl *control, db *sqlstore.DB, st state) (Result, error) {
	res := Result{AllowedRate: st.AllowedRate}
	ours := map[string]bool{}
	for _, a := range st.Apps {
		ours[a] = true
	}
	got := map[int64]int{}
	times := map[int64][]time.Time{}
	var after int64
	for {
		var page struct {
			Notifications []emulator.ActivityNotification
		}
		if err := ctl.get(fmt.Sprintf("/control/teamwork/notifications?after=%d", after), &page); err != nil {
			return res, err
		}
		if len(page.Notifications) == 0 {
			break
		}
		for _, a := range page.Notifications {
			after = a.Seq
			if ours[a.AppID] {
				got[a.ChainID]++
				times[a.ChainID] = append(times[a.ChainID], a.At)
			}
		}
	}
	// Every notification this run queued for Teams (muted ones are not).
	rows, err := db.SQL().QueryContext(ctx, `SELECT id FROM notifications WHERE delivery <> 'muted'`)
	if err != nil {
		return res, err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return res, err
		}
		res.Queued++
		switch c := got[id]; {
		case c == 0:
			res.Lost++
		default:
			res.Delivered++
			res.Duplicates += c - 1
			if c > 1 && len(res.DuplicateIDs) < 20 {
				res.DuplicateIDs = append(res.DuplicateIDs, id)
				res.duplicateTimes = append(res.duplicateTimes, times[id])
			}
		}
	}
	if err := rows.Err(); err != nil {
		return res, err
	}
	var stats emulator.TeamworkStats
	if err := ctl.get("/control/teamwork/stats", &stats); err != nil {
		return res, err
	}
	res.Faults, res.Slow = stats.Faults, stats.Slow
	var sum, sustained float64
	var n int
	for k, s := range stats.PerApp {
		app, _, _ := strings.Cut(k, "/")
		if !ours[app] {
			continue
		}
		res.Requests += s.Requests
		res.MaxTenantRate = max(res.MaxTenantRate, float64(s.PeakPerSecond))
		res.MaxTenantRate5s = max(res.MaxTenantRate5s, float64(s.PeakPer5s)/5)
		if span := s.Last.Sub(s.First).Seconds(); span > 0 {
			// Requests in the span [First, Last]: the last one closes it.
			sum += float64(s.Requests-1) / span
			n++
			a := slices.SortedFunc(slices.Values(s.Arrivals), func(x, y time.Time) int { return x.Compare(y) })
			lo, hi := len(a)*5/100, len(a)*95/100
			if hi > lo && a[hi].After(a[lo]) {
				sustained += float64(hi-lo) / a[hi].Sub(a[lo]).Seconds()
			}
		}
	}
	res.Throttled = stats.Throttled
	if n > 0 {
		res.MeanTenantRate = sum / float64(n)
		res.SustainedTenantRate = sustained / float64(n)
	}
	return res, nil
}

// ---- the emulator ----

func startEmulator() (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	url := "http://" + ln.Addr().String()
	e, err := emulator.New(emulator.Config{BaseURL: url})
	if err != nil {
		ln.Close()
		return "", nil, err
	}
	srv := &http.Server{Handler: e.Standalone(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return url, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		srv.Close()
	}, nil
}

// control talks to the emulator's control API.
type control struct {
	base string
	http *http.Client
}

func (c *control) do(method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("bench: emulator control %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1000))
		return fmt.Errorf("bench: emulator control %s answered %d: %s (is %s a `tamlink emulator`?)", path, resp.StatusCode, bytes.TrimSpace(msg), c.base)
	}
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	return nil
}

func (c *control) put(path string, body any) error  { return c.do(http.MethodPut, path, body, nil) }
func (c *control) post(path string, body any) error { return c.do(http.MethodPost, path, body, nil) }
func (c *control) get(path string, out any) error   { return c.do(http.MethodGet, path, nil, out) }

// ---- seeding and the workload ----

// guid makes a GUID from a run id and two numbers, so that several runs can
// share one emulator.
func guid(run string, kind, i int) string {
	return fmt.Sprintf("%s-%04x-4%03x-8%03x-%012x", run, kind, i>>12&0xfff, i&0xfff, i)
}

type plan struct {
	apps    []string
	tickets [][]*benchTicket // per tenant
	staff   [2]desk.Actor
	total   int
}

type benchTicket struct {
	mu  sync.Mutex
	t   desk.Ticket
	n   int
	org int64
}

func seed(ctx context.Context, ctl *control, svc *desk.Service, o Options) (*plan, error) {
	var rb [4]byte
	_, _ = rand.Read(rb[:])
	run := hex.EncodeToString(rb[:])
	var types []string
	for _, a := range desk.ActivityTypes {
		types = append(types, a.Type)
	}
	p := &plan{total: o.Notifications}
	for i := range 2 {
		st, err := svc.AddStaff(ctx, fmt.Sprintf("tam%d@bench.example", i), fmt.Sprintf("TAM %d", i), "x", true)
		if err != nil {
			return nil, err
		}
		p.staff[i] = desk.StaffActor(st)
	}
	for i := range o.Tenants {
		tenant, app, teams := guid(run, 1, i), guid(run, 2, i), guid(run, 3, i)
		secret := "bench~" + run + fmt.Sprintf("_%06d_secret.value", i)
		s := emulator.Seed{
			Tenant: emulator.Tenant{ID: tenant, DisplayName: fmt.Sprintf("Tenant %d", i), Domain: fmt.Sprintf("t%d-%s.bench.example", i, run)},
			Apps: []emulator.App{{AppID: app, DisplayName: "tamlink", Secrets: []emulator.Secret{{Value: secret}}, TeamsAppID: teams, ActivityTypes: types,
				GraphAppRoles: []string{"TeamsActivity.Send", "TeamsAppInstallation.ReadWriteSelfForUser.All"}}},
		}
		for j := range o.UsersPerTenant {
			s.Users = append(s.Users, emulator.User{ObjectID: guid(run, 4, i*1000+j), DisplayName: fmt.Sprintf("User %d.%d", i, j),
				UserPrincipalName: fmt.Sprintf("u%d@t%d-%s.bench.example", j, i, run)})
		}
		if err := ctl.post("/control/tenants", s); err != nil {
			return nil, err
		}
		ch, err := svc.AddChannel(ctx, desk.ChannelConfig{AppID: app, AppSecret: secret, TenantID: tenant, TeamsPublishedAppID: teams},
			fmt.Sprintf("Org %d", i), time.Time{})
		if err != nil {
			return nil, err
		}
		p.apps = append(p.apps, app)
		// Only requesters and watchers hear of changes: one notification per action.
		if err := svc.SetOrgNotifySettings(ctx, p.staff[0], ch.OrgID, []desk.NotificationKind{}); err != nil {
			return nil, err
		}
		var ts []*benchTicket
		for _, u := range s.Users {
			du, err := svc.SignIn(ctx, ch, desk.Profile{TenantID: tenant, ObjectID: u.ObjectID, Name: u.DisplayName})
			if err != nil {
				return nil, err
			}
			t, err := svc.CreateTicket(ctx, desk.UserActor(du), ch.OrgID, desk.TicketInput{Title: "Bench ticket of " + u.DisplayName, Severity: desk.Sev3})
			if err != nil {
				return nil, err
			}
			ts = append(ts, &benchTicket{t: t, org: ch.OrgID})
		}
		p.tickets = append(p.tickets, ts)
	}
	return p, nil
}

// run makes the staff act: action k goes to tenant k mod N, one of its
// tickets in turn, and is a comment, a status, severity or assignment change
// in turn. Each notifies the ticket's requester only.
func (p *plan) run(ctx context.Context, svc *desk.Service) error {
	const workers = 8
	next := make(chan int)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for k := range next {
				if err := p.act(ctx, svc, k); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	var err error
loop:
	for k := range p.total {
		select {
		case next <- k:
		case err = <-errs:
			break loop
		case <-ctx.Done():
			err = ctx.Err()
			break loop
		}
	}
	close(next)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errs:
		default:
		}
	}
	return err
}

func (p *plan) act(ctx context.Context, svc *desk.Service, k int) error {
	tenant := k % len(p.tickets)
	ts := p.tickets[tenant]
	bt := ts[(k/len(p.tickets))%len(ts)]
	bt.mu.Lock()
	defer bt.mu.Unlock()
	staff := p.staff[bt.n%2]
	var err error
	switch bt.n % 4 {
	case 0:
		_, err = svc.Comment(ctx, staff, bt.t.ID, fmt.Sprintf("Update %d on your ticket", bt.n))
	case 1:
		s := desk.StatusInProgress
		if bt.t.Status == desk.StatusInProgress {
			s = desk.StatusOpen
		}
		bt.t, _, err = svc.ChangeTicket(ctx, staff, bt.t.ID, desk.TicketChange{Status: &s})
	case 2:
		s := desk.Sev2
		if bt.t.Severity == desk.Sev2 {
			s = desk.Sev3
		}
		bt.t, _, err = svc.ChangeTicket(ctx, staff, bt.t.ID, desk.TicketChange{Severity: &s})
	case 3:
		who := p.staff[0].ID
		if bt.t.AssigneeID == who {
			who = p.staff[1].ID
		}
		bt.t, _, err = svc.ChangeTicket(ctx, staff, bt.t.ID, desk.TicketChange{AssigneeID: &who})
	}
	bt.n++
	return err
}
