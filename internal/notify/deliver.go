package notify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/tamlink/tamlink/internal/desk"
	"github.com/tamlink/tamlink/internal/graph"
	"github.com/tamlink/tamlink/internal/sqlstore"
)

// deliveryWorker works River's delivery jobs.
type deliveryWorker struct {
	river.WorkerDefaults[sqlstore.DeliveryJob]
	n *Notifier
}

// NextRetry: exponential back-off with jitter after a failed attempt.
func (w *deliveryWorker) NextRetry(job *river.Job[sqlstore.DeliveryJob]) time.Time {
	return w.n.cfg.Now().Add(backoff(w.n.cfg.RetryBase, job.Attempt))
}

func (w *deliveryWorker) Work(ctx context.Context, job *river.Job[sqlstore.DeliveryJob]) error {
	return w.n.deliver(ctx, job.Args.NotificationID)
}

// deliver runs one attempt for notification id.
func (n *Notifier) deliver(ctx context.Context, id int64) error {
	st := n.cfg.DB
	no, err := st.NotificationByID(ctx, id)
	if desk.ErrorCode(err) == desk.ENotFound {
		return nil // deleted with its user or organisation
	}
	if err != nil {
		return err
	}
	if no.Delivery != desk.DeliveryPending {
		return nil // delivered (or settled) by an earlier run: never send twice
	}
	now := n.cfg.Now()
	if now.Sub(no.QueuedAt) > n.cfg.GiveUpAfter {
		reason := fmt.Sprintf("gave up after %s pending", n.cfg.GiveUpAfter)
		if no.Reason != "" {
			reason += "; last error: " + no.Reason
		}
		return n.settle(ctx, no, desk.DeliveryDead, reason)
	}
	u, err := st.UserByID(ctx, no.UserID)
	if desk.ErrorCode(err) == desk.ENotFound {
		return n.settle(ctx, no, desk.DeliverySkipped, "the user no longer exists")
	} else if err != nil {
		return err
	}
	ch, ok, err := n.channelFor(ctx, u)
	if err != nil {
		return err
	}
	if !ok {
		return n.settle(ctx, no, desk.DeliverySkipped, "no Teams channel for the user's tenant")
	}
	if cd, err := st.ChannelDelivery(ctx, ch.AppID); err != nil {
		return err
	} else if cd.Off && now.Sub(cd.CheckedAt) < n.cfg.RecheckAfter {
		return n.settle(ctx, no, desk.DeliverySkipped, "Teams delivery is off for this channel: "+cd.Reason)
	}
	tok, fresh, err := n.tokens.get(ctx, ch)
	if err != nil {
		return n.failed1(ctx, no, fmt.Errorf("token for channel %s: %w", ch.AppID, err))
	}
	if fresh && len(tok.missing()) == 0 {
		// A token with the permissions: a channel marked off (say before
		// `tamlink setup` was re-run) is on again.
		if cd, _ := st.ChannelDelivery(ctx, ch.AppID); cd.Off {
			_ = st.SetChannelDelivery(ctx, desk.ChannelDelivery{AppID: ch.AppID, CheckedAt: now})
			n.cfg.Log.Info("teams delivery back on: the channel's token carries the permissions", "app_id", ch.AppID)
		}
	}
	gc := &graph.Client{BaseURL: n.cfg.GraphURL, HTTP: n.http,
		Token: func(context.Context) (string, error) { return tok.value, nil }}
	lim := n.limit(ch.AppID)

	reach, err := n.ensureInstalled(ctx, gc, lim, ch, u, tok)
	if err != nil {
		return n.graphFailure(ctx, no, ch, lim, err)
	}
	if reach != "" {
		return n.settle(ctx, no, desk.DeliverySkipped, reach)
	}

	wait, snooze := lim.admit(time.Now())
	if snooze > 0 {
		n.snoozed.Add(1)
		return river.JobSnooze(snooze)
	}
	if err := n.wait(ctx, wait); err != nil {
		if errors.Is(err, errStopping) {
			return river.JobSnooze(0) // available again at once, to the next process
		}
		return err
	}
	body := activity(no, ch)
	cctx, cancel := context.WithTimeout(context.WithValue(ctx, gateKey{}, lim), n.cfg.RequestTimeout)
	err = gc.SendActivityNotification(cctx, u.ObjectID, body, graph.NoRetry())
	cancel()
	if err == nil {
		return n.recordDelivered(ctx, no)
	}
	if errors.Is(err, errPaused) {
		// A 429 paused the tenant while this job waited for its slot.
		n.snoozed.Add(1)
		return river.JobSnooze(lim.pausedFor(time.Now()) + jitter(time.Second))
	}
	if graph.StatusOf(err) == http.StatusForbidden {
		// Permission, or the person removed the app since we installed it.
		if why := n.forbidden(ctx, gc, lim, ch, u, tok, err); why != "" {
			return n.settle(ctx, no, desk.DeliverySkipped, why)
		}
	}
	return n.graphFailure(ctx, no, ch, lim, err)
}

// activity is the Graph body for a notification: a text topic whose link
// opens the workbench at the ticket, the declared activity type, the
// preview, the template parameters, and the notification id as chainId.
func activity(no desk.Notification, ch desk.Channel) graph.ActivityNotification {
	params := make([]graph.KeyValuePair, len(no.Params))
	for i, p := range no.Params {
		params[i] = graph.KeyValuePair{Name: p.Name, Value: p.Value}
	}
	title := no.Title
	if title == "" {
		title = no.Kind.Description()
	}
	return graph.ActivityNotification{
		Topic: graph.ActivityTopic{Source: "text", Value: title,
			WebURL: graph.DeepLink(ch.TeamsPublishedAppID, desk.WorkbenchEntityID, no.SubEntityID())},
		ActivityType:       string(no.Kind),
		PreviewText:        &graph.ItemBody{Content: no.Text},
		ChainID:            no.ID,
		TemplateParameters: params,
	}
}

// recordDelivered records the moment Graph said 204: first in the journal
// (one write(2), see journal.go), then in the database with a single-row
// UPDATE. If the database refuses, the UPDATE is tried again for a while;
// failing that the job is cancelled rather than retried — the journal puts
// the record right at the next start, and nothing is sent twice.
func (n *Notifier) recordDelivered(ctx context.Context, no desk.Notification) error {
	journalled := false
	if j := n.journal; j != nil {
		if err := j.delivered(no.ID); err != nil {
			n.cfg.Log.Error("journal the delivery", "notification_id", no.ID, "err", err)
		} else {
			journalled = true
		}
	}
	var err error
	for i := range 20 {
		var ok bool
		ok, err = n.cfg.DB.UpdateDelivery(context.WithoutCancel(ctx), no.ID, desk.DeliveryUpdate{State: desk.DeliveryDelivered, At: n.cfg.Now()})
		if err == nil {
			if journalled {
				n.journal.recorded()
			}
			if ok {
				n.delivered.Add(1)
			}
			return nil
		}
		time.Sleep(time.Duration(i+1) * 100 * time.Millisecond)
	}
	n.cfg.Log.Error("notification delivered but not recorded; not retrying it", "notification_id", no.ID, "err", err)
	return river.JobCancel(err)
}

// settle ends a pending notification in state (skipped or dead) with reason.
func (n *Notifier) settle(ctx context.Context, no desk.Notification, state desk.DeliveryState, reason string) error {
	ok, err := n.cfg.DB.UpdateDelivery(ctx, no.ID, desk.DeliveryUpdate{State: state, Reason: reason, At: n.cfg.Now()})
	if err != nil {
		return err
	}
	if ok {
		if state == desk.DeliveryDead {
			n.dead.Add(1)
			n.cfg.Log.Warn("notification dead-lettered", "notification_id", no.ID, "reason", reason)
		} else {
			n.skipped.Add(1)
		}
	}
	return nil
}

// failed1 records a failed attempt and hands the error to River, which
// retries after backoff.
func (n *Notifier) failed1(ctx context.Context, no desk.Notification, cause error) error {
	n.failed.Add(1)
	_, err := n.cfg.DB.UpdateDelivery(ctx, no.ID, desk.DeliveryUpdate{State: desk.DeliveryPending, Reason: short(cause.Error()), AddAttempt: true, At: n.cfg.Now()})
	if err != nil {
		return errors.Join(cause, err)
	}
	return cause
}

// graphFailure sorts a failed Graph call: throttling snoozes, transient
// failures retry, and what will not change by asking again is dead-lettered
// (the console can retry it once the cause is fixed).
func (n *Notifier) graphFailure(ctx context.Context, no desk.Notification, ch desk.Channel, lim *tenantLimit, err error) error {
	var ge *graph.Error
	if !errors.As(err, &ge) {
		if ctx.Err() != nil {
			return ctx.Err() // shutting down or the job's time is up: River retries
		}
		return n.failed1(ctx, no, err) // network error or time-out
	}
	switch {
	case ge.Status == http.StatusTooManyRequests:
		wait := ge.RetryAfter
		if wait <= 0 {
			wait = 5 * time.Second // no Retry-After: back off anyway
		}
		lim.pause(n.cfg.Now(), wait)
		n.throttled.Add(1)
		_, _ = n.cfg.DB.UpdateDelivery(ctx, no.ID, desk.DeliveryUpdate{State: desk.DeliveryPending, Reason: "throttled by Graph (Retry-After " + wait.String() + ")", At: n.cfg.Now()})
		return river.JobSnooze(wait + jitter(time.Second))
	case ge.Status == http.StatusServiceUnavailable && ge.RetryAfter > 0:
		n.failed.Add(1)
		_, _ = n.cfg.DB.UpdateDelivery(ctx, no.ID, desk.DeliveryUpdate{State: desk.DeliveryPending, Reason: short(ge.Error()), AddAttempt: true, At: n.cfg.Now()})
		return river.JobSnooze(ge.RetryAfter + jitter(time.Second))
	case ge.Status == http.StatusUnauthorized:
		n.tokens.drop(ch.AppID)
		return n.failed1(ctx, no, err)
	case ge.Status >= 500 || ge.Status == http.StatusRequestTimeout:
		return n.failed1(ctx, no, err)
	case ge.Status == http.StatusNotFound:
		return n.settle(ctx, no, desk.DeliverySkipped, "the user is not in the tenant's directory any more ("+short(ge.Message)+")")
	}
	return n.settle(ctx, no, desk.DeliveryDead, short(ge.Error()))
}

// ensureInstalled makes sure the channel's Teams app is installed for u. It
// returns a reason when u cannot be reached (and the notification is
// skipped), or an error to retry. The outcome is recorded per user, so that
// people who removed or blocked the app are not asked again until
// RecheckAfter has passed, and an installed app is not looked up again.
func (n *Notifier) ensureInstalled(ctx context.Context, gc *graph.Client, lim *tenantLimit, ch desk.Channel, u desk.User, tok *appToken) (string, error) {
	// One check at a time per person: their other notifications wait for
	// its outcome instead of installing the app again.
	unlock := n.lockRecipient(ch.AppID, u.ID)
	defer unlock()
	st := n.cfg.DB
	now := n.cfg.Now()
	r, err := st.TeamsRecipient(ctx, ch.AppID, u.ID)
	known := err == nil
	if err != nil && desk.ErrorCode(err) != desk.ENotFound {
		return "", err
	}
	if known {
		switch {
		case r.State == desk.RecipientInstalled:
			return "", nil
		case now.Sub(r.CheckedAt) < n.cfg.RecheckAfter:
			return reachReason(r), nil
		}
	}
	if err := lim.install.Wait(ctx); err != nil {
		return "", err
	}
	cctx, cancel := context.WithTimeout(ctx, n.cfg.RequestTimeout)
	apps, err := gc.InstalledApps(cctx, u.ObjectID, ch.TeamsPublishedAppID, graph.NoRetry())
	cancel()
	if err != nil {
		return n.installFailure(ctx, ch, u, tok, err)
	}
	if len(apps) > 0 {
		return "", st.SetTeamsRecipient(ctx, desk.TeamsRecipient{AppID: ch.AppID, UserID: u.ID, State: desk.RecipientInstalled, CheckedAt: now})
	}
	if known && r.State == desk.RecipientRemoved {
		// They removed it; we do not put it back. Checked again later.
		r.CheckedAt = now
		return reachReason(r), st.SetTeamsRecipient(ctx, r)
	}
	if err := lim.install.Wait(ctx); err != nil {
		return "", err
	}
	cctx, cancel = context.WithTimeout(ctx, n.cfg.RequestTimeout)
	err = gc.InstallApp(cctx, u.ObjectID, ch.TeamsPublishedAppID, graph.NoRetry())
	cancel()
	switch {
	case errors.Is(err, graph.ErrAlreadyInstalled):
	case err != nil:
		return n.installFailure(ctx, ch, u, tok, err)
	default:
		n.installed.Add(1)
		n.cfg.Log.Info("installed the Teams app for a user", "app_id", ch.AppID, "user_id", u.ID)
	}
	return "", st.SetTeamsRecipient(ctx, desk.TeamsRecipient{AppID: ch.AppID, UserID: u.ID, State: desk.RecipientInstalled, CheckedAt: now})
}

func reachReason(r desk.TeamsRecipient) string {
	switch r.State {
	case desk.RecipientRemoved:
		return "the person removed the Teams app"
	case desk.RecipientBlocked:
		return "the Teams app is blocked for the person: " + r.Reason
	}
	return r.Reason
}

// installFailure sorts a failed installedApps call.
func (n *Notifier) installFailure(ctx context.Context, ch desk.Channel, u desk.User, tok *appToken, err error) (string, error) {
	var ge *graph.Error
	if !errors.As(err, &ge) {
		return "", err
	}
	now := n.cfg.Now()
	switch {
	case ge.Status == http.StatusForbidden && permissionProblem(ge, tok, installRoles):
		return n.channelOff(ctx, ch, tok, ge)
	case ge.Status == http.StatusForbidden:
		// Installing was refused for this person: their admin's app
		// permission policy, or they blocked the app.
		r := desk.TeamsRecipient{AppID: ch.AppID, UserID: u.ID, State: desk.RecipientBlocked, Reason: short(ge.Message), CheckedAt: now}
		return reachReason(r), n.cfg.DB.SetTeamsRecipient(ctx, r)
	case ge.Status == http.StatusNotFound && strings.Contains(strings.ToLower(ge.Message), "catalog"):
		ge.Message = "teamsPublishedAppId " + ch.TeamsPublishedAppID + " is not an app of the tenant's org catalog (is it the scope id?): " + ge.Message
		return n.channelOff(ctx, ch, tok, ge)
	case ge.Status == http.StatusNotFound:
		return "the user is not in the tenant's directory any more", nil
	}
	return "", err
}

// forbidden explains a 403 from sendActivityNotification: a channel without
// the permission, or a person who removed the app since it was installed.
// An empty answer means neither could be established.
func (n *Notifier) forbidden(ctx context.Context, gc *graph.Client, lim *tenantLimit, ch desk.Channel, u desk.User, tok *appToken, err error) string {
	var ge *graph.Error
	errors.As(err, &ge)
	if permissionProblem(ge, tok, sendRoles) {
		why, _ := n.channelOff(ctx, ch, tok, ge)
		return why
	}
	if lim.install.Wait(ctx) != nil {
		return ""
	}
	cctx, cancel := context.WithTimeout(ctx, n.cfg.RequestTimeout)
	apps, lerr := gc.InstalledApps(cctx, u.ObjectID, ch.TeamsPublishedAppID, graph.NoRetry())
	cancel()
	if lerr != nil || len(apps) > 0 {
		return ""
	}
	r := desk.TeamsRecipient{AppID: ch.AppID, UserID: u.ID, State: desk.RecipientRemoved, Reason: "removed the app", CheckedAt: n.cfg.Now()}
	if err := n.cfg.DB.SetTeamsRecipient(ctx, r); err != nil {
		return ""
	}
	return reachReason(r)
}

// permissionProblem: Graph says a role is missing, or the token's roles
// claim lacks every role that would do.
func permissionProblem(ge *graph.Error, tok *appToken, roles []string) bool {
	if ge == nil {
		return false
	}
	m := strings.ToLower(ge.Message)
	if strings.Contains(m, "missing role") || strings.Contains(m, "insufficient privileges") || ge.Code == "Authorization_RequestDenied" {
		return true
	}
	return tok.parsed && !tok.hasAny(roles)
}

// channelOff records that the channel cannot deliver to Teams, and why.
func (n *Notifier) channelOff(ctx context.Context, ch desk.Channel, tok *appToken, ge *graph.Error) (string, error) {
	reason := "Graph refused: " + short(ge.Message)
	if m := tok.missing(); len(m) > 0 {
		reason = "the app registration lacks the Graph application permission(s) " + strings.Join(m, " and ") +
			" (the channel's token carries none of them); " + reason
	}
	n.cfg.Log.Warn("teams delivery off for a channel", "app_id", ch.AppID, "reason", reason)
	err := n.cfg.DB.SetChannelDelivery(ctx, desk.ChannelDelivery{AppID: ch.AppID, Off: true, Reason: reason, CheckedAt: n.cfg.Now()})
	return "Teams delivery is off for this channel: " + reason, err
}

func short(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

var errStopping = errors.New("notify: stopping")

// wait sleeps d, unless the job's context ends or the notifier stops.
func (n *Notifier) wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-n.stopping:
		return errStopping
	case <-t.C:
		return nil
	}
}
