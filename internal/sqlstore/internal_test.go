package sqlstore

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tamlink/tamlink/internal/desk"
)

func TestRebind(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`SELECT 1`, `SELECT 1`},
		{`SELECT a FROM t WHERE a = ? AND b IN (?, ?) LIMIT ?`, `SELECT a FROM t WHERE a = $1 AND b IN ($2, $3) LIMIT $4`},
		{`SELECT '?' FROM "we?ird" WHERE x = ?`, `SELECT '?' FROM "we?ird" WHERE x = $1`},
		{`SELECT 'it''s ?' WHERE x = ?`, `SELECT 'it''s ?' WHERE x = $1`},
	} {
		if got := dialectPostgres.rebind(tc.in); got != tc.want {
			t.Errorf("rebind(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := dialectSQLite.rebind(tc.in); got != tc.in {
			t.Errorf("sqlite rebind changed %q to %q", tc.in, got)
		}
	}
}

// pgError mimics a PostgreSQL driver error.
type pgError struct{ code string }

func (e *pgError) Error() string    { return "pg error " + e.code }
func (e *pgError) SQLState() string { return e.code }

func TestConstraintErrors(t *testing.T) {
	unique := fmt.Errorf("exec: %w", &pgError{"23505"})
	fk := fmt.Errorf("exec: %w", &pgError{"23503"})
	if !isUnique(unique) || isUnique(fk) || isUnique(errors.New("x")) {
		t.Error("isUnique misjudges PostgreSQL errors")
	}
	if !isForeignKey(fk) || isForeignKey(unique) {
		t.Error("isForeignKey misjudges PostgreSQL errors")
	}
	if !isUnique(errors.New("constraint failed: UNIQUE constraint failed: orgs.name (2067)")) {
		t.Error("isUnique misses SQLite's message")
	}

	db := open(t)
	ctx := t.Context()
	if _, err := db.CreateOrg(ctx, "Contoso"); err != nil {
		t.Fatal(err)
	}
	_, err := db.exec(ctx, `INSERT INTO orgs (name, created_at) VALUES (?, ?)`, "Contoso", db.d.ts(time.Now()))
	if !isUnique(err) {
		t.Errorf("isUnique(%v) = false", err)
	}
	_, err = db.exec(ctx, `INSERT INTO users (org_id, tenant_id, object_id, created_at, last_seen_at)
		VALUES (?, ?, ?, ?, ?)`, 999, "t", "o", db.d.ts(time.Now()), db.d.ts(time.Now()))
	if !isForeignKey(err) || isUnique(err) {
		t.Errorf("isForeignKey(%v) = false", err)
	}

	// Other failures are internal and say where they come from.
	err = wrap("get thing", errors.New("disk on fire"))
	if desk.ErrorCode(err) != desk.EInternal || !strings.HasPrefix(err.Error(), "sqlstore: ") {
		t.Errorf("wrap: %v", err)
	}
	de := desk.Errorf(desk.ENotFound, "x not found")
	if wrap("op", de) != error(de) {
		t.Error("wrap changed a domain error")
	}
}

func open(t *testing.T) *DB {
	t.Helper()
	db, err := Open(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestTimeStorage checks the SQLite representation: fixed-width UTC text.
func TestTimeStorage(t *testing.T) {
	db := open(t)
	ctx := t.Context()
	for _, tm := range []time.Time{
		time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC),
		time.Date(2030, 1, 2, 3, 4, 5, 600_000_000, time.FixedZone("X", -5*3600)),
	} {
		o, err := db.CreateOrg(ctx, tm.String())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.exec(ctx, `UPDATE orgs SET created_at = ? WHERE id = ?`, db.d.ts(tm), o.ID); err != nil {
			t.Fatal(err)
		}
		var typ, text string
		if err := db.queryRow(ctx, `SELECT typeof(created_at), created_at FROM orgs WHERE id = ?`, o.ID).Scan(&typ, &text); err != nil {
			t.Fatal(err)
		}
		if typ != "text" || len(text) != len(timeFormat) || !strings.HasSuffix(text, "Z") {
			t.Errorf("stored %s %q", typ, text)
		}
		got, err := db.OrgByID(ctx, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !got.CreatedAt.Equal(tm) || got.CreatedAt.Location() != time.UTC {
			t.Errorf("read back %v, want %v in UTC", got.CreatedAt, tm)
		}
	}
	var tm time.Time
	c := timeCol{&tm}
	want := time.Date(2030, 1, 2, 3, 4, 5, 5e8, time.UTC)
	for _, v := range []any{
		"2030-01-02T03:04:05.500000Z",
		"2030-01-02 03:04:05.5+00:00", // modernc's own format
		[]byte("2030-01-02T05:04:05.5+02:00"),
		want.In(time.FixedZone("Y", 3600)),
	} {
		if err := c.Scan(v); err != nil || !tm.Equal(want) || tm.Location() != time.UTC {
			t.Errorf("Scan(%v) = %v, %v", v, tm, err)
		}
	}
	if err := c.Scan(nil); err != nil || !tm.IsZero() {
		t.Errorf("Scan(nil) = %v, %v", tm, err)
	}
	if err := c.Scan("yesterday"); err == nil {
		t.Error("Scan accepted a bad time")
	}
}

// TestQueryPlans guards the indexes the hot queries rely on.
func TestQueryPlans(t *testing.T) {
	db := open(t)
	ctx := t.Context()
	for _, tc := range []struct{ query, index string }{
		{`SELECT id FROM messages WHERE org_id = 1 AND id < 10 ORDER BY id DESC LIMIT 5`, "messages_org_id_id"},
		{`SELECT COUNT(*) FROM messages m WHERE m.org_id = 1 AND m.id > 5`, "messages_org_id_id"},
		{`SELECT id FROM tickets t WHERE t.org_id = 1 AND t.status = 'open'`, "tickets_org_id_status"},
		{`SELECT id FROM tickets t WHERE t.assignee_id = 1`, "tickets_assignee_id"},
		{`SELECT id FROM ticket_events WHERE ticket_id = 1 ORDER BY id`, "ticket_events_ticket_id_id"},
		{`SELECT id FROM staff s WHERE lower(s.email) = 'a@b'`, "staff_email_key"},
		{`SELECT org_id FROM org_staff WHERE staff_id = 1`, "org_staff_staff_id"},
		{`SELECT id FROM users WHERE org_id = 1`, "users_org_id"},
		{`DELETE FROM sessions WHERE expires_at <= 'x'`, "sessions_expires_at"},
	} {
		rows, err := db.query(ctx, `EXPLAIN QUERY PLAN `+tc.query)
		if err != nil {
			t.Fatal(err)
		}
		var plan strings.Builder
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan.WriteString(detail + "; ")
		}
		rows.Close()
		if !strings.Contains(plan.String(), tc.index) {
			t.Errorf("%s\nplan %s\ndoes not use %s", tc.query, plan.String(), tc.index)
		}
	}
}
