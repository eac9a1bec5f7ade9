package sqlstore_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver

	"github.com/tamlink/tamlink/internal/desk"
	"github.com/tamlink/tamlink/internal/sqlstore"
	"github.com/tamlink/tamlink/internal/sqlstore/storetest"
)

// postgresDSN is the server the PostgreSQL tests use: TAMLINK_TEST_POSTGRES,
// or the local server scripts/test starts (trust auth, database test).
func postgresDSN() string {
	if d := os.Getenv("TAMLINK_TEST_POSTGRES"); d != "" {
		return d
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// freshPostgres creates an empty database for one test and drops it after.
func freshPostgres(t *testing.T) desk.Store {
	t.Helper()
	ctx := context.Background()
	admin, err := sql.Open("pgx", postgresDSN())
	if err == nil {
		err = admin.PingContext(ctx)
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("PostgreSQL not reachable at %s: %v (scripts/test starts it)", postgresDSN(), err)
		}
		t.Skipf("PostgreSQL not reachable (%v); set TAMLINK_TEST_POSTGRES", err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "tamlink_t_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(postgresDSN())
	u.Path = "/" + name
	db, err := sqlstore.OpenDSN(ctx, "pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.Close()
		admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		admin.Close()
	})
	return db
}

// TestStorePostgres runs the same store suite as SQLite against a real
// PostgreSQL server.
func TestStorePostgres(t *testing.T) {
	storetest.RunStoreSuite(t, freshPostgres)
}
