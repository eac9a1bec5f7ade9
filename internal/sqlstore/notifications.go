package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/tamlink/tamlink/internal/desk"
)

// ---- notifications ----

const notificationCols = `id, org_id, user_id, kind, ticket_id, actor_name, title, text, params,
	created_at, read_at, delivery, reason, attempts, queued_at, delivered_at, updated_at`

type paramJSON struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

func encodeParams(ps []desk.Param) string {
	out := make([]paramJSON, len(ps))
	for i, p := range ps {
		out[i] = paramJSON{p.Name, p.Value}
	}
	b, _ := json.Marshal(out)
	return string(b)
}

func scanNotification(r rowScanner) (desk.Notification, error) {
	var n desk.Notification
	var kind, params, delivery string
	err := r.Scan(&n.ID, &n.OrgID, &n.UserID, &kind, intCol{&n.TicketID}, &n.ActorName, &n.Title, &n.Text, &params,
		timeCol{&n.CreatedAt}, timeCol{&n.ReadAt}, &delivery, &n.Reason, &n.Attempts, timeCol{&n.QueuedAt},
		timeCol{&n.DeliveredAt}, timeCol{&n.UpdatedAt})
	if err != nil {
		return n, err
	}
	n.Kind, n.Delivery = desk.NotificationKind(kind), desk.DeliveryState(delivery)
	var ps []paramJSON
	if json.Unmarshal([]byte(params), &ps) == nil {
		for _, p := range ps {
			n.Params = append(n.Params, desk.Param{Name: p.Name, Value: p.Value})
		}
	}
	return n, nil
}

// AddNotifications stores ns and, in the same transaction, queues a delivery
// job for each pending one (see queue.go).
func (s *store) AddNotifications(ctx context.Context, ns []desk.Notification) error {
	if len(ns) == 0 {
		return nil
	}
	if !s.inTx {
		return s.Atomic(ctx, func(st desk.Store) error { return st.AddNotifications(ctx, ns) })
	}
	var pending []int64
	for i := range ns {
		n := &ns[i]
		if n.Delivery == "" {
			n.Delivery = desk.DeliveryPending
		}
		n.CreatedAt = stamp(n.CreatedAt)
		if n.UpdatedAt.IsZero() {
			n.UpdatedAt = n.CreatedAt
		}
		if n.QueuedAt.IsZero() {
			n.QueuedAt = n.CreatedAt
		}
		n.UpdatedAt, n.QueuedAt, n.ReadAt, n.DeliveredAt = norm(n.UpdatedAt), norm(n.QueuedAt), norm(n.ReadAt), norm(n.DeliveredAt)
		err := s.queryRow(ctx, `INSERT INTO notifications (org_id, user_id, kind, ticket_id, actor_name, title, text,
				params, created_at, read_at, delivery, reason, attempts, queued_at, delivered_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			RETURNING id`,
			n.OrgID, n.UserID, string(n.Kind), nullID(n.TicketID), n.ActorName, n.Title, n.Text, encodeParams(n.Params),
			s.d.ts(n.CreatedAt), s.d.ts(n.ReadAt), string(n.Delivery), n.Reason, n.Attempts, s.d.ts(n.QueuedAt),
			s.d.ts(n.DeliveredAt), s.d.ts(n.UpdatedAt)).Scan(&n.ID)
		if err != nil {
			if isForeignKey(err) {
				return notFound("organisation, user or ticket")
			}
			return wrap("add notification", err)
		}
		if n.Delivery == desk.DeliveryPending {
			pending = append(pending, n.ID)
		}
	}
	return s.enqueue(ctx, pending)
}

// DefaultNotificationLimit is how many notifications Notifications returns for a limit ≤ 0.
const DefaultNotificationLimit = 30

func (s *store) Notifications(ctx context.Context, userID, beforeID int64, limit int) ([]desk.Notification, error) {
	if limit <= 0 {
		limit = DefaultNotificationLimit
	}
	q, args := keysetPage(`SELECT `+notificationCols+` FROM notifications WHERE user_id = ?`, userID, beforeID, limit)
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, wrap("list notifications", err)
	}
	return collect(rows, "list notifications", scanNotification)
}

func (s *store) NotificationByID(ctx context.Context, id int64) (desk.Notification, error) {
	n, err := scanNotification(s.queryRow(ctx, `SELECT `+notificationCols+` FROM notifications WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return desk.Notification{}, notFound("notification")
	}
	if err != nil {
		return desk.Notification{}, wrap("get notification", err)
	}
	return n, nil
}

func (s *store) UnreadNotifications(ctx context.Context, userID int64) (int, error) {
	var n int
	if err := s.queryRow(ctx, `SELECT COUNT(*) FROM notifications WHERE user_id = ? AND read_at IS NULL`, userID).Scan(&n); err != nil {
		return 0, wrap("count unread notifications", err)
	}
	return n, nil
}

func (s *store) MarkNotificationsRead(ctx context.Context, userID int64, ids []int64, at time.Time) error {
	q := `UPDATE notifications SET read_at = ? WHERE user_id = ? AND read_at IS NULL`
	args := []any{s.d.ts(stamp(at)), userID}
	if len(ids) > 0 {
		q += ` AND id IN (` + placeholders(len(ids)) + `)`
		for _, id := range ids {
			args = append(args, id)
		}
	}
	if _, err := s.exec(ctx, q, args...); err != nil {
		return wrap("mark notifications read", err)
	}
	return nil
}

// UpdateDelivery changes a pending notification only: a worker that lost a
// race (or runs a job twice) cannot overwrite a final state.
func (s *store) UpdateDelivery(ctx context.Context, id int64, u desk.DeliveryUpdate) (bool, error) {
	at := stamp(u.At)
	var delivered any
	if u.State == desk.DeliveryDelivered {
		delivered = s.d.ts(at)
	}
	add := 0
	if u.AddAttempt {
		add = 1
	}
	res, err := s.exec(ctx, `UPDATE notifications SET delivery = ?, reason = ?, attempts = attempts + ?,
			delivered_at = COALESCE(?, delivered_at), updated_at = ?
		WHERE id = ? AND delivery = 'pending'`,
		string(u.State), u.Reason, add, delivered, s.d.ts(at), id)
	if err != nil {
		return false, wrap("update delivery", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, wrap("update delivery", err)
	}
	return n == 1, nil
}

func (s *store) RequeueNotification(ctx context.Context, id int64, at time.Time) error {
	return s.Atomic(ctx, func(st desk.Store) error {
		ss := st.(*store)
		t := ss.d.ts(stamp(at))
		res, err := ss.exec(ctx, `UPDATE notifications SET delivery = 'pending', reason = '', queued_at = ?, updated_at = ?
			WHERE id = ? AND delivery IN ('dead', 'skipped')`, t, t, id)
		if err != nil {
			return wrap("requeue notification", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return wrap("requeue notification", err)
		} else if n == 0 {
			if _, err := ss.NotificationByID(ctx, id); err != nil {
				return err
			}
			return desk.Errorf(desk.EConflict, "only dead or skipped deliveries can be retried")
		}
		return ss.enqueue(ctx, []int64{id})
	})
}

// orgFilter adds "org_id IN (...)" for a non-nil orgIDs; ok is false when
// orgIDs selects nothing.
func orgFilter(orgIDs []int64, where *[]string, args *[]any) (ok bool) {
	if orgIDs == nil {
		return true
	}
	if len(orgIDs) == 0 {
		return false
	}
	*where = append(*where, `org_id IN (`+placeholders(len(orgIDs))+`)`)
	for _, id := range orgIDs {
		*args = append(*args, id)
	}
	return true
}

func (s *store) Deliveries(ctx context.Context, f desk.DeliveryFilter) ([]desk.Notification, error) {
	var where []string
	var args []any
	if !orgFilter(f.OrgIDs, &where, &args) {
		return []desk.Notification{}, nil
	}
	if len(f.States) > 0 {
		where = append(where, `delivery IN (`+placeholders(len(f.States))+`)`)
		for _, st := range f.States {
			args = append(args, string(st))
		}
	}
	q := `SELECT ` + notificationCols + ` FROM notifications`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, wrap("list deliveries", err)
	}
	return collect(rows, "list deliveries", scanNotification)
}

func (s *store) DeliveryCounts(ctx context.Context, orgIDs []int64) (map[desk.DeliveryState]int, error) {
	out := map[desk.DeliveryState]int{}
	var where []string
	var args []any
	if !orgFilter(orgIDs, &where, &args) {
		return out, nil
	}
	q := `SELECT delivery, COUNT(*) FROM notifications`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	rows, err := s.query(ctx, q+` GROUP BY delivery`, args...)
	if err != nil {
		return nil, wrap("count deliveries", err)
	}
	defer rows.Close()
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, wrap("count deliveries", err)
		}
		out[desk.DeliveryState(st)] = n
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("count deliveries", err)
	}
	return out, nil
}

// ---- preferences and settings ----

func (s *store) MutedKinds(ctx context.Context, userID int64) ([]desk.NotificationKind, error) {
	rows, err := s.query(ctx, `SELECT kind FROM notify_muted WHERE user_id = ? ORDER BY kind`, userID)
	if err != nil {
		return nil, wrap("muted kinds", err)
	}
	return collect(rows, "muted kinds", func(r rowScanner) (desk.NotificationKind, error) {
		var k string
		err := r.Scan(&k)
		return desk.NotificationKind(k), err
	})
}

func (s *store) SetMutedKinds(ctx context.Context, userID int64, kinds []desk.NotificationKind) error {
	return s.Atomic(ctx, func(st desk.Store) error {
		ss := st.(*store)
		if _, err := ss.exec(ctx, `DELETE FROM notify_muted WHERE user_id = ?`, userID); err != nil {
			return wrap("set muted kinds", err)
		}
		for _, k := range kinds {
			if _, err := ss.exec(ctx, `INSERT INTO notify_muted (user_id, kind) VALUES (?, ?) ON CONFLICT DO NOTHING`, userID, string(k)); err != nil {
				if isForeignKey(err) {
					return notFound("user")
				}
				return wrap("set muted kinds", err)
			}
		}
		return nil
	})
}

func (s *store) OrgNotifySettings(ctx context.Context, orgID int64) (desk.OrgNotifySettings, error) {
	set := desk.OrgNotifySettings{OrgID: orgID}
	var kinds string
	err := s.queryRow(ctx, `SELECT group_kinds, updated_at FROM org_notify_settings WHERE org_id = ?`, orgID).Scan(&kinds, timeCol{&set.UpdatedAt})
	if errors.Is(err, sql.ErrNoRows) {
		set.GroupKinds = slices.Clone(desk.DefaultGroupKinds)
		return set, nil
	}
	if err != nil {
		return set, wrap("org notify settings", err)
	}
	set.GroupKinds = []desk.NotificationKind{}
	for _, k := range strings.Split(kinds, ",") {
		if k != "" {
			set.GroupKinds = append(set.GroupKinds, desk.NotificationKind(k))
		}
	}
	return set, nil
}

func (s *store) SetOrgNotifySettings(ctx context.Context, set desk.OrgNotifySettings) error {
	kinds := make([]string, len(set.GroupKinds))
	for i, k := range set.GroupKinds {
		kinds[i] = string(k)
	}
	_, err := s.exec(ctx, `INSERT INTO org_notify_settings (org_id, group_kinds, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (org_id) DO UPDATE SET group_kinds = excluded.group_kinds, updated_at = excluded.updated_at`,
		set.OrgID, strings.Join(kinds, ","), s.d.ts(stamp(set.UpdatedAt)))
	if err != nil {
		if isForeignKey(err) {
			return notFound("organisation")
		}
		return wrap("set org notify settings", err)
	}
	return nil
}

// ---- watchers ----

func (s *store) Watch(ctx context.Context, ticketID, userID int64, at time.Time) error {
	_, err := s.exec(ctx, `INSERT INTO ticket_watchers (ticket_id, user_id, created_at) VALUES (?, ?, ?)
		ON CONFLICT (ticket_id, user_id) DO NOTHING`, ticketID, userID, s.d.ts(stamp(at)))
	if err != nil {
		if isForeignKey(err) {
			return notFound("ticket or user")
		}
		return wrap("watch", err)
	}
	return nil
}

func (s *store) Unwatch(ctx context.Context, ticketID, userID int64) error {
	if _, err := s.exec(ctx, `DELETE FROM ticket_watchers WHERE ticket_id = ? AND user_id = ?`, ticketID, userID); err != nil {
		return wrap("unwatch", err)
	}
	return nil
}

func (s *store) TicketWatchers(ctx context.Context, ticketID int64) ([]int64, error) {
	rows, err := s.query(ctx, `SELECT user_id FROM ticket_watchers WHERE ticket_id = ? ORDER BY user_id`, ticketID)
	if err != nil {
		return nil, wrap("ticket watchers", err)
	}
	return collect(rows, "ticket watchers", func(r rowScanner) (int64, error) {
		var id int64
		err := r.Scan(&id)
		return id, err
	})
}

// ---- SLA warnings ----

func (s *store) TicketsAwaitingResponse(ctx context.Context, limit int) ([]desk.Ticket, error) {
	if limit <= 0 {
		limit = DefaultTicketLimit
	}
	var closed []any
	for _, st := range desk.Statuses {
		if !st.Open() {
			closed = append(closed, string(st))
		}
	}
	args := append(closed, limit)
	rows, err := s.query(ctx, `SELECT `+ticketCols+ticketFrom+`
		WHERE t.status NOT IN (`+placeholders(len(closed))+`) AND t.first_response_at IS NULL
		AND NOT EXISTS (SELECT 1 FROM sla_warnings w WHERE w.ticket_id = t.id)
		ORDER BY t.created_at, t.id LIMIT ?`, args...)
	if err != nil {
		return nil, wrap("tickets awaiting response", err)
	}
	return collect(rows, "tickets awaiting response", scanTicket)
}

func (s *store) ClaimSLAWarning(ctx context.Context, ticketID int64, at time.Time) (bool, error) {
	res, err := s.exec(ctx, `INSERT INTO sla_warnings (ticket_id, warned_at) VALUES (?, ?) ON CONFLICT (ticket_id) DO NOTHING`,
		ticketID, s.d.ts(stamp(at)))
	if err != nil {
		if isForeignKey(err) {
			return false, notFound("ticket")
		}
		return false, wrap("claim sla warning", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, wrap("claim sla warning", err)
	}
	return n == 1, nil
}

// ---- reaching people in Teams ----

func (s *store) TeamsRecipient(ctx context.Context, appID string, userID int64) (desk.TeamsRecipient, error) {
	r := desk.TeamsRecipient{AppID: appID, UserID: userID}
	err := s.queryRow(ctx, `SELECT state, reason, checked_at FROM teams_recipients WHERE app_id = ? AND user_id = ?`, appID, userID).
		Scan(&r.State, &r.Reason, timeCol{&r.CheckedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return r, notFound("teams recipient")
	}
	if err != nil {
		return r, wrap("teams recipient", err)
	}
	return r, nil
}

func (s *store) SetTeamsRecipient(ctx context.Context, r desk.TeamsRecipient) error {
	_, err := s.exec(ctx, `INSERT INTO teams_recipients (app_id, user_id, state, reason, checked_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (app_id, user_id) DO UPDATE SET state = excluded.state, reason = excluded.reason, checked_at = excluded.checked_at`,
		r.AppID, r.UserID, r.State, r.Reason, s.d.ts(stamp(r.CheckedAt)))
	if err != nil {
		if isForeignKey(err) {
			return notFound("channel or user")
		}
		return wrap("set teams recipient", err)
	}
	return nil
}

func (s *store) ChannelDelivery(ctx context.Context, appID string) (desk.ChannelDelivery, error) {
	c := desk.ChannelDelivery{AppID: appID}
	err := s.queryRow(ctx, `SELECT off, reason, checked_at FROM channel_delivery WHERE app_id = ?`, appID).
		Scan(&c.Off, &c.Reason, timeCol{&c.CheckedAt})
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return c, wrap("channel delivery", err)
	}
	return c, nil
}

func (s *store) SetChannelDelivery(ctx context.Context, c desk.ChannelDelivery) error {
	_, err := s.exec(ctx, `INSERT INTO channel_delivery (app_id, off, reason, checked_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (app_id) DO UPDATE SET off = excluded.off, reason = excluded.reason, checked_at = excluded.checked_at`,
		c.AppID, c.Off, c.Reason, s.d.ts(stamp(c.CheckedAt)))
	if err != nil {
		if isForeignKey(err) {
			return notFound("channel")
		}
		return wrap("set channel delivery", err)
	}
	return nil
}

func (s *store) ChannelDeliveries(ctx context.Context) ([]desk.ChannelDelivery, error) {
	rows, err := s.query(ctx, `SELECT app_id, off, reason, checked_at FROM channel_delivery ORDER BY app_id`)
	if err != nil {
		return nil, wrap("channel deliveries", err)
	}
	return collect(rows, "channel deliveries", func(r rowScanner) (desk.ChannelDelivery, error) {
		var c desk.ChannelDelivery
		err := r.Scan(&c.AppID, &c.Off, &c.Reason, timeCol{&c.CheckedAt})
		return c, err
	})
}
