package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
)

// The delivery queue is River (github.com/riverqueue/river), a maintained
// job queue whose tables live in the same database as the desk's. The store
// owns River's schema (its own migrations, run after goose's at Open) and an
// insert-only River client, so that AddNotifications and RequeueNotification
// insert the delivery job with InsertManyTx on the very *sql.Tx that writes
// the notification rows: the event, its notifications and their jobs commit
// together or not at all. internal/notify runs the workers, on a second
// River client over the same pool (NewRiverClient).

// DeliveryJobKind is River's job kind for delivering one notification to Teams.
const DeliveryJobKind = "tamlink_notification_delivery"

// NotifyQueue is the River queue delivery jobs go to.
const NotifyQueue = "notifications"

// deliveryMaxAttempts is large on purpose: the notifier gives up by time
// (notify.Config.GiveUpAfter), not by count, and records why.
const deliveryMaxAttempts = 100_000

// DeliveryJob is the River job that delivers notification NotificationID.
// The job carries only the id: the row is the truth about what to send and
// whether it was sent.
type DeliveryJob struct {
	NotificationID int64 `json:"notification_id"`
}

// Kind implements river.JobArgs.
func (DeliveryJob) Kind() string { return DeliveryJobKind }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (DeliveryJob) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: NotifyQueue, MaxAttempts: deliveryMaxAttempts}
}

// riverDriver is the River driver for the dialect: riversqlite on SQLite and
// riverdatabasesql on PostgreSQL, both over database/sql so that River's
// transaction type is the store's *sql.Tx. (riverpgxv5 would need a pgx.Tx.)
func riverDriver(db *sql.DB, d dialect) riverdriver.Driver[*sql.Tx] {
	if d == dialectPostgres {
		return riverdatabasesql.New(db)
	}
	return riversqlite.New(db)
}

// migrateRiver brings River's own tables up to date.
func migrateRiver(ctx context.Context, db *sql.DB, d dialect) error {
	m, err := rivermigrate.New(riverDriver(db, d), &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return fmt.Errorf("sqlstore: river migrations: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("sqlstore: river migrate: %w", err)
	}
	return nil
}

// newInserter returns the insert-only River client the store enqueues with.
func newInserter(db *sql.DB, d dialect) (*river.Client[*sql.Tx], error) {
	c, err := river.NewClient(riverDriver(db, d), &river.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: river client: %w", err)
	}
	return c, nil
}

// NewRiverClient returns a River client over the store's pool with cfg, for
// the notifier's workers. Its jobs are the ones the store inserts.
func (db *DB) NewRiverClient(cfg *river.Config) (*river.Client[*sql.Tx], error) {
	return river.NewClient(riverDriver(db.sqlDB, db.d), cfg)
}

// Dialect is "sqlite" or "postgres".
func (db *DB) Dialect() string { return db.d.String() }

// enqueue inserts one delivery job per notification id in the store's
// transaction. It must run inside Atomic.
func (s *store) enqueue(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	tx, ok := s.q.(*sql.Tx)
	if !ok || s.jobs == nil {
		return errors.New("sqlstore: enqueue outside a transaction")
	}
	params := make([]river.InsertManyParams, len(ids))
	for i, id := range ids {
		params[i] = river.InsertManyParams{Args: DeliveryJob{NotificationID: id}}
	}
	if _, err := s.jobs.InsertManyTx(ctx, tx, params); err != nil {
		return wrap("enqueue delivery", err)
	}
	return nil
}
