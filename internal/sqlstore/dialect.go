package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tamlink/tamlink/internal/desk"
	"modernc.org/sqlite"
)

// dialect is the SQL flavour of the database.
type dialect int

const (
	dialectSQLite dialect = iota
	dialectPostgres
)

func (d dialect) String() string {
	if d == dialectPostgres {
		return "postgres"
	}
	return "sqlite"
}

// rebind turns ? placeholders into $1, $2, ... for PostgreSQL. Question marks
// inside quoted literals or identifiers are left alone.
func (d dialect) rebind(query string) string {
	if d != dialectPostgres || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 8)
	n := 0
	var quote byte
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// timeFormat is how SQLite columns hold times: UTC, fixed width, so that text
// comparison is time comparison.
const timeFormat = "2006-01-02T15:04:05.000000Z"

// ts is the argument for a time column: NULL for the zero time, otherwise UTC
// to the microsecond (PostgreSQL's precision), as text for SQLite.
func (d dialect) ts(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	t = norm(t)
	if d == dialectSQLite {
		return t.Format(timeFormat)
	}
	return t
}

// timeCol scans a time column into *t: NULL is the zero time, and the result
// is always UTC.
type timeCol struct{ t *time.Time }

// timeLayouts are accepted when reading text: ours first, then what SQLite's
// date functions and the modernc driver write.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999-07:00",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
}

func (c timeCol) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		*c.t = time.Time{}
		return nil
	case time.Time:
		*c.t = x.UTC()
		return nil
	case []byte:
		return c.parse(string(x))
	case string:
		return c.parse(x)
	}
	return fmt.Errorf("cannot scan %T into a time", v)
}

func (c timeCol) parse(s string) error {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			*c.t = t.UTC()
			return nil
		}
	}
	return fmt.Errorf("cannot parse time %q", s)
}

// intCol scans a nullable integer into *p, NULL as 0.
type intCol struct{ p *int64 }

func (c intCol) Scan(v any) error {
	var n sql.NullInt64
	if err := n.Scan(v); err != nil {
		return err
	}
	*c.p = n.Int64
	return nil
}

// strCol scans a nullable text into *p, NULL as "".
type strCol struct{ p *string }

func (c strCol) Scan(v any) error {
	var n sql.NullString
	if err := n.Scan(v); err != nil {
		return err
	}
	*c.p = n.String
	return nil
}

// nullID is the argument for an optional reference: NULL for 0.
func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// nullStr is the argument for an optional text reference: NULL for "".
func nullStr(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// rowScanner is *sql.Row or *sql.Rows.
type rowScanner interface{ Scan(dest ...any) error }

// ---- errors ----

// SQLite extended result codes (see modernc.org/sqlite/lib).
const (
	sqliteConstraintForeignKey = 787
	sqliteConstraintPrimaryKey = 1555
	sqliteConstraintUnique     = 2067
)

// isUnique reports a unique or primary key violation: SQLite's
// SQLITE_CONSTRAINT_UNIQUE/PRIMARYKEY or PostgreSQL's SQLSTATE 23505.
func isUnique(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqliteConstraintUnique || se.Code() == sqliteConstraintPrimaryKey
	}
	if sqlState(err) == "23505" {
		return true
	}
	return strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// isForeignKey reports a foreign key violation: SQLite's
// SQLITE_CONSTRAINT_FOREIGNKEY or PostgreSQL's SQLSTATE 23503.
func isForeignKey(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqliteConstraintForeignKey
	}
	if sqlState(err) == "23503" {
		return true
	}
	return strings.Contains(err.Error(), "FOREIGN KEY constraint failed")
}

// sqlState returns the SQLSTATE of a PostgreSQL driver error (pgx's
// *pgconn.PgError and lib/pq's *pq.Error both have SQLState), or "".
func sqlState(err error) string {
	var pe interface{ SQLState() string }
	if errors.As(err, &pe) {
		return pe.SQLState()
	}
	return ""
}

// wrap prefixes an unexpected error with the package and operation. Domain
// errors pass through untouched.
func wrap(op string, err error) error {
	var de *desk.Error
	if errors.As(err, &de) {
		return err
	}
	return fmt.Errorf("sqlstore: %s: %w", op, err)
}

// notFound is the domain error for a missing row.
func notFound(what string) error { return desk.Errorf(desk.ENotFound, "%s not found", what) }
