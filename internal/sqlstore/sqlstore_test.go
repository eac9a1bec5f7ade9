package sqlstore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/tamlink/tamlink/internal/desk"
	"github.com/tamlink/tamlink/internal/sqlstore"
	"github.com/tamlink/tamlink/internal/sqlstore/storetest"
)

func open(t *testing.T, dir string) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	return db
}

func TestStore(t *testing.T) {
	storetest.RunStoreSuite(t, func(t *testing.T) desk.Store { return open(t, t.TempDir()) })
}

func TestOpenCreatesDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "tamlink")
	open(t, dir)
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("data directory mode %o, want 700", perm)
	}
	if _, err := os.Stat(filepath.Join(dir, sqlstore.FileName)); err != nil {
		t.Errorf("database file: %v", err)
	}
}

func TestOpenAwkwardPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a?b#c%20d e")
	db := open(t, dir)
	if _, err := db.CreateOrg(t.Context(), "Contoso"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, sqlstore.FileName)); err != nil {
		t.Fatalf("database not where asked: %v", err)
	}
}

func TestPragmas(t *testing.T) {
	db := open(t, t.TempDir())
	for pragma, want := range map[string]string{
		"journal_mode": "wal",
		"foreign_keys": "1",
		"busy_timeout": "10000",
		"synchronous":  "1", // NORMAL
		"temp_store":   "2", // MEMORY
	} {
		var got string
		if err := db.SQL().QueryRowContext(t.Context(), "PRAGMA "+pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %s, want %s", pragma, got, want)
		}
	}
}

func TestMigrationsIdempotent(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	db, err := sqlstore.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	org, err := db.CreateOrg(ctx, "Contoso")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		db, err = sqlstore.Open(ctx, dir)
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		got, err := db.OrgByID(ctx, org.ID)
		if err != nil || got.Name != "Contoso" {
			t.Fatalf("after reopen: %+v, %v", got, err)
		}
		var applied, versions int
		err = db.SQL().QueryRowContext(ctx,
			`SELECT COUNT(*), COUNT(DISTINCT version_id) FROM goose_db_version WHERE version_id > 0`).Scan(&applied, &versions)
		if err != nil {
			t.Fatal(err)
		}
		if applied != versions || applied == 0 {
			t.Fatalf("goose_db_version: %d rows for %d versions", applied, versions)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTwoHandles has two pools on one file write at once, as two processes
// would: the busy timeout and BEGIN IMMEDIATE make them take turns.
func TestTwoHandles(t *testing.T) {
	dir := t.TempDir()
	a, b := open(t, dir), open(t, dir)
	ctx := t.Context()
	org, err := a.CreateOrg(ctx, "Contoso")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for w, db := range []*sqlstore.DB{a, b, a, b} {
		wg.Go(func() {
			for i := range 25 {
				err := db.Atomic(ctx, func(tx desk.Store) error {
					if _, err := tx.Messages(ctx, org.ID, 0, 1); err != nil {
						return err
					}
					m := desk.Message{OrgID: org.ID, Author: desk.Actor{Kind: desk.ActorStaff, ID: int64(w)},
						Body: fmt.Sprint(i), ClientID: fmt.Sprint(i)}
					_, err := tx.AddMessage(ctx, &m)
					return err
				})
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	ms, err := b.Messages(ctx, org.ID, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 100 {
		t.Fatalf("%d messages, want 100", len(ms))
	}
}

func TestOpenDSNUnknownDriver(t *testing.T) {
	if _, err := sqlstore.OpenDSN(t.Context(), "mysql", "x"); err == nil {
		t.Fatal("OpenDSN accepted an unsupported driver")
	}
}
