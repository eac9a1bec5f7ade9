// Package sqlstore implements desk.Store on database/sql.
//
// SQLite (modernc.org/sqlite, pure Go) is the default and only tested
// database; the SQL is written to run unchanged on PostgreSQL as well, so that
// a driver can be added later through OpenDSN:
//
//   - placeholders are written as ? and rebound to $1, $2, ... for postgres;
//   - new ids come back with RETURNING (SQLite ≥ 3.35), upserts use
//     ON CONFLICT, and no dialect-specific function is called;
//   - timestamps are written in UTC with microsecond precision: as fixed-width
//     RFC 3339 text in SQLite (so that text order is time order) and as
//     TIMESTAMPTZ in PostgreSQL; the zero time is NULL;
//   - booleans are INTEGER 0/1 in SQLite and BOOLEAN in PostgreSQL, both
//     written and read as Go bool;
//   - each dialect has its own migrations (migrations/sqlite,
//     migrations/postgres) describing the same schema.
//
// Names are denormalised where history needs them: a message keeps its
// author's name, a ticket its requester's and a timeline entry its actor's, as
// they were when written. A ticket's assignee name is also stored, but reads
// return the assignee's current name (joined from staff) and fall back to the
// stored one, because it describes the ticket's present state.
//
// Actors are stored as kind, id and name. Actor.OrgID is restored on read for
// user actors (it is the row's organisation); Actor.Admin is not stored.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/tamlink/tamlink/internal/desk"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// FileName is the name of the SQLite database inside the data directory.
const FileName = "tamlink.db"

// DB is a desk.Store backed by a SQL database. It is safe for concurrent use.
type DB struct {
	store
	sqlDB *sql.DB
}

var _ desk.Store = (*DB)(nil)

// Open opens (creating if need be) the SQLite database dataDir/tamlink.db and
// brings its schema up to date. dataDir is created with mode 0700 if missing.
func Open(ctx context.Context, dataDir string) (*DB, error) {
	if dataDir == "" {
		return nil, errors.New("sqlstore: no data directory")
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("sqlstore: create data directory: %w", err)
	}
	return OpenDSN(ctx, "sqlite", sqliteDSN(filepath.Join(dataDir, FileName)))
}

// sqliteDSN is the modernc.org/sqlite DSN for the database file at path:
// busy_timeout first (so the other pragmas wait for locks instead of failing),
// WAL so that readers never block the writer, NORMAL sync (durable in WAL mode
// except for the last transactions on power loss), foreign keys on, and
// _txlock=immediate so that every transaction takes the write lock at BEGIN.
// With deferred transactions, two connections that both read and then write
// deadlock on the upgrade and one fails with SQLITE_BUSY at once, whatever the
// busy timeout; with BEGIN IMMEDIATE the second simply waits.
func sqliteDSN(path string) string {
	// SQLite decodes %XX in URI paths; ? and # would end the path.
	r := strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23")
	return "file:" + r.Replace(filepath.ToSlash(path)) +
		"?_pragma=busy_timeout(10000)" +
		"&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(NORMAL)" +
		"&_pragma=foreign_keys(ON)" +
		"&_pragma=temp_store(MEMORY)" +
		"&_txlock=immediate"
}

// OpenDSN opens a database with a database/sql driver name and DSN and brings
// its schema up to date. Driver "sqlite" (modernc.org/sqlite, registered by
// this package) selects the SQLite dialect; "pgx", "pgx/v5" and "postgres"
// select PostgreSQL, whose driver the caller must register. A SQLite DSN
// should carry the pragmas and _txlock=immediate that Open sets.
func OpenDSN(ctx context.Context, driver, dsn string) (*DB, error) {
	var d dialect
	switch driver {
	case "sqlite", "sqlite3":
		d = dialectSQLite
	case "pgx", "pgx/v5", "postgres", "postgresql":
		d = dialectPostgres
	default:
		return nil, fmt.Errorf("sqlstore: unsupported driver %q", driver)
	}
	sqlDB, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open: %w", err)
	}
	if d == dialectSQLite {
		// One writer at a time is SQLite's rule; WAL lets readers run
		// beside it. A handful of connections serves concurrent reads;
		// writers queue on the busy timeout. Connections are kept, as
		// opening one re-runs the pragmas and re-reads the schema.
		n := min(max(runtime.NumCPU(), 4), 16)
		sqlDB.SetMaxOpenConns(n)
		sqlDB.SetMaxIdleConns(n)
		sqlDB.SetConnMaxLifetime(0)
		sqlDB.SetConnMaxIdleTime(0)
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("sqlstore: connect: %w", err)
	}
	if err := migrate(ctx, sqlDB, d); err != nil {
		sqlDB.Close()
		return nil, err
	}
	if err := migrateRiver(ctx, sqlDB, d); err != nil {
		sqlDB.Close()
		return nil, err
	}
	jobs, err := newInserter(sqlDB, d)
	if err != nil {
		sqlDB.Close()
		return nil, err
	}
	return &DB{store: store{db: sqlDB, q: sqlDB, d: d, jobs: jobs}, sqlDB: sqlDB}, nil
}

// Close closes the database. On SQLite it first lets the query planner
// refresh its statistics (PRAGMA optimize), as SQLite recommends.
func (db *DB) Close() error {
	if db.d == dialectSQLite {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, _ = db.sqlDB.ExecContext(ctx, "PRAGMA optimize")
		cancel()
	}
	return db.sqlDB.Close()
}

// SQL returns the underlying pool, for health checks, backups and metrics.
func (db *DB) SQL() *sql.DB { return db.sqlDB }

// queryer is what both *sql.DB and *sql.Tx offer; every query is written once
// against it.
type queryer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// store implements desk.Store against q: the pool, or a transaction when
// inTx is set.
type store struct {
	db   *sql.DB
	q    queryer
	d    dialect
	inTx bool
	jobs *river.Client[*sql.Tx] // insert-only: enqueues notification deliveries (queue.go)
}

// Atomic runs fn in a transaction (BEGIN IMMEDIATE on SQLite). fn's error is
// returned as it is, after rolling back; a panic rolls back and goes on. Inside
// a transaction, Atomic runs fn in the same transaction: there are no
// savepoints, so an inner failure fails the whole.
//
// fn must use the Store it is given. On SQLite the transaction holds the
// write lock, so a write through the outer Store from inside fn waits for it
// and fails with SQLITE_BUSY after the busy timeout (10 s).
//
// On PostgreSQL a failed statement aborts the transaction, so after an error
// fn must return rather than go on using the Store.
func (s *store) Atomic(ctx context.Context, fn func(desk.Store) error) error {
	if s.inTx {
		return fn(s)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: begin: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			_ = tx.Rollback()
		}
	}()
	if err := fn(&store{db: s.db, q: tx, d: s.d, inTx: true, jobs: s.jobs}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlstore: commit: %w", err)
	}
	committed = true
	return nil
}

func (s *store) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return s.q.ExecContext(ctx, s.d.rebind(query), args...)
}

func (s *store) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return s.q.QueryContext(ctx, s.d.rebind(query), args...)
}

func (s *store) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return s.q.QueryRowContext(ctx, s.d.rebind(query), args...)
}

// execOne runs a statement that must touch a row; if none, it returns notFound.
func (s *store) execOne(ctx context.Context, op string, notFound error, query string, args ...any) error {
	res, err := s.exec(ctx, query, args...)
	if err != nil {
		return wrap(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return wrap(op, err)
	}
	if n == 0 {
		return notFound
	}
	return nil
}

// now is the store's clock for timestamps a caller left zero.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// stamp returns t as stored (UTC, microseconds), or the current time if t is zero.
func stamp(t time.Time) time.Time {
	if t.IsZero() {
		return now()
	}
	return norm(t)
}

// norm returns t as it reads back: UTC, whole microseconds; zero stays zero.
func norm(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}
