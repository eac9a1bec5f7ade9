package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// Migrations are plain SQL files, numbered, one directory per dialect, embedded
// in the binary so that a single executable carries its schema.
//
// They are applied with goose's Provider API rather than its package-level
// functions (goose.Up, goose.SetDialect, goose.SetBaseFS): a Provider holds
// its dialect, file system and options itself, so nothing global is set, two
// databases (or parallel tests) can be migrated at once, and Go migrations
// registered globally by some other package cannot leak in
// (WithDisableGlobalRegistry). goose records applied versions in its own table
// (goose_db_version) and runs each file in a transaction, so reopening a
// database applies only what is new and a failed file leaves no trace.
//
//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrations embed.FS

// migrate applies pending migrations of dialect d.
func migrate(ctx context.Context, db *sql.DB, d dialect) error {
	fsys, err := fs.Sub(migrations, "migrations/"+d.String())
	if err != nil {
		return fmt.Errorf("sqlstore: migrations: %w", err)
	}
	gd := goose.DialectSQLite3
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	if d == dialectPostgres {
		// Several instances may start at once against one server: an
		// advisory lock lets one migrate while the others wait. A SQLite
		// file serves one instance, so it goes without.
		gd = goose.DialectPostgres
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return fmt.Errorf("sqlstore: migrations: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(gd, db, fsys, opts...)
	if err != nil {
		return fmt.Errorf("sqlstore: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	return nil
}
