package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/tamlink/tamlink/internal/desk"
)

// ---- customer users ----

const userCols = `id, org_id, tenant_id, object_id, name, email, home_tenant_id, created_at, last_seen_at`

func scanUser(r rowScanner) (desk.User, error) {
	var u desk.User
	err := r.Scan(&u.ID, &u.OrgID, &u.TenantID, &u.ObjectID, &u.Name, &u.Email, &u.HomeTenantID,
		timeCol{&u.CreatedAt}, timeCol{&u.LastSeenAt})
	return u, err
}

// UpsertUser inserts u or, when (TenantID, ObjectID) exists, updates its name,
// e-mail, home tenant and LastSeenAt. It fills u.ID and u.CreatedAt, and u.OrgID
// with the stored organisation: an existing user keeps theirs. A zero
// LastSeenAt (or CreatedAt, for a new user) is set to now.
func (s *store) UpsertUser(ctx context.Context, u *desk.User) error {
	u.LastSeenAt = stamp(u.LastSeenAt)
	created := u.LastSeenAt
	if !u.CreatedAt.IsZero() {
		created = norm(u.CreatedAt)
	}
	err := s.queryRow(ctx, `INSERT INTO users (org_id, tenant_id, object_id, name, email, home_tenant_id,
			created_at, last_seen_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, object_id) DO UPDATE SET
			name = excluded.name,
			email = excluded.email,
			home_tenant_id = excluded.home_tenant_id,
			last_seen_at = excluded.last_seen_at
		RETURNING id, org_id, created_at`,
		u.OrgID, u.TenantID, u.ObjectID, u.Name, u.Email, u.HomeTenantID,
		s.d.ts(created), s.d.ts(u.LastSeenAt)).Scan(&u.ID, &u.OrgID, timeCol{&u.CreatedAt})
	if err != nil {
		if isForeignKey(err) {
			return notFound("organisation")
		}
		return wrap("upsert user", err)
	}
	return nil
}

func (s *store) UserByID(ctx context.Context, id int64) (desk.User, error) {
	u, err := scanUser(s.queryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return desk.User{}, notFound("user")
	}
	if err != nil {
		return desk.User{}, wrap("get user", err)
	}
	return u, nil
}

// UsersByOrg returns an organisation's users by name.
func (s *store) UsersByOrg(ctx context.Context, orgID int64) ([]desk.User, error) {
	rows, err := s.query(ctx, `SELECT `+userCols+` FROM users WHERE org_id = ? ORDER BY name, id`, orgID)
	if err != nil {
		return nil, wrap("list users", err)
	}
	return collect(rows, "list users", scanUser)
}

// ---- staff ----

const staffCols = `s.id, s.email, s.name, s.password_hash, s.admin, s.created_at`

func scanStaff(r rowScanner) (desk.Staff, error) {
	var st desk.Staff
	err := r.Scan(&st.ID, &st.Email, &st.Name, &st.PasswordHash, &st.Admin, timeCol{&st.CreatedAt})
	return st, err
}

// normEmail is how e-mail addresses are stored and looked up.
func normEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// CreateStaff stores st with its e-mail lower-cased and fills ID (and a zero
// CreatedAt). An e-mail already in use, in any case, is EConflict.
func (s *store) CreateStaff(ctx context.Context, st *desk.Staff) error {
	st.Email = normEmail(st.Email)
	st.CreatedAt = stamp(st.CreatedAt)
	err := s.queryRow(ctx, `INSERT INTO staff (email, name, password_hash, admin, created_at)
		VALUES (?, ?, ?, ?, ?) RETURNING id`,
		st.Email, st.Name, st.PasswordHash, st.Admin, s.d.ts(st.CreatedAt)).Scan(&st.ID)
	if err != nil {
		if isUnique(err) {
			return desk.Errorf(desk.EConflict, "a staff member with e-mail %s already exists", st.Email)
		}
		return wrap("create staff", err)
	}
	return nil
}

func (s *store) StaffByID(ctx context.Context, id int64) (desk.Staff, error) {
	return s.staff(ctx, `SELECT `+staffCols+` FROM staff s WHERE s.id = ?`, id)
}

// StaffByEmail finds a staff member by e-mail, in any case.
func (s *store) StaffByEmail(ctx context.Context, email string) (desk.Staff, error) {
	// lower(email) matches the unique index, which serves the lookup.
	return s.staff(ctx, `SELECT `+staffCols+` FROM staff s WHERE lower(s.email) = ?`, normEmail(email))
}

func (s *store) staff(ctx context.Context, query string, arg any) (desk.Staff, error) {
	st, err := scanStaff(s.queryRow(ctx, query, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return desk.Staff{}, notFound("staff member")
	}
	if err != nil {
		return desk.Staff{}, wrap("get staff", err)
	}
	return st, nil
}

// ListStaff returns every staff member by name.
func (s *store) ListStaff(ctx context.Context) ([]desk.Staff, error) {
	rows, err := s.query(ctx, `SELECT `+staffCols+` FROM staff s ORDER BY s.name, s.id`)
	if err != nil {
		return nil, wrap("list staff", err)
	}
	return collect(rows, "list staff", scanStaff)
}

func (s *store) SetStaffPassword(ctx context.Context, id int64, hash string) error {
	return s.execOne(ctx, "set staff password", notFound("staff member"),
		`UPDATE staff SET password_hash = ? WHERE id = ?`, hash, id)
}

// AssignStaff gives a staff member access to an organisation; assigning again
// does nothing. An unknown organisation or staff member is ENotFound.
func (s *store) AssignStaff(ctx context.Context, orgID, staffID int64) error {
	_, err := s.exec(ctx, `INSERT INTO org_staff (org_id, staff_id, created_at) VALUES (?, ?, ?)
		ON CONFLICT (org_id, staff_id) DO NOTHING`, orgID, staffID, s.d.ts(now()))
	if err != nil {
		if isForeignKey(err) {
			return notFound("organisation or staff member")
		}
		return wrap("assign staff", err)
	}
	return nil
}

// UnassignStaff takes an organisation away from a staff member.
func (s *store) UnassignStaff(ctx context.Context, orgID, staffID int64) error {
	if _, err := s.exec(ctx, `DELETE FROM org_staff WHERE org_id = ? AND staff_id = ?`, orgID, staffID); err != nil {
		return wrap("unassign staff", err)
	}
	return nil
}

// DeleteStaff removes a staff account; the schema's foreign keys end its
// sessions and assignments and unassign its tickets.
func (s *store) DeleteStaff(ctx context.Context, id int64) error {
	return s.execOne(ctx, "delete staff", notFound("staff member"), `DELETE FROM staff WHERE id = ?`, id)
}

// DeleteStaffSessions ends a staff member's sessions of one kind.
func (s *store) DeleteStaffSessions(ctx context.Context, staffID int64, kind desk.SessionKind) error {
	if _, err := s.exec(ctx, `DELETE FROM sessions WHERE staff_id = ? AND kind = ?`, staffID, string(kind)); err != nil {
		return wrap("delete staff sessions", err)
	}
	return nil
}

// OrgStaff returns the staff assigned to an organisation, by name. Admins see
// every organisation but are listed only where assigned.
func (s *store) OrgStaff(ctx context.Context, orgID int64) ([]desk.Staff, error) {
	rows, err := s.query(ctx, `SELECT `+staffCols+` FROM staff s
		JOIN org_staff os ON os.staff_id = s.id
		WHERE os.org_id = ? ORDER BY s.name, s.id`, orgID)
	if err != nil {
		return nil, wrap("list org staff", err)
	}
	return collect(rows, "list org staff", scanStaff)
}

// StaffOrgIDs returns the ids of the organisations a staff member is assigned
// to, ascending.
func (s *store) StaffOrgIDs(ctx context.Context, staffID int64) ([]int64, error) {
	rows, err := s.query(ctx, `SELECT org_id FROM org_staff WHERE staff_id = ? ORDER BY org_id`, staffID)
	if err != nil {
		return nil, wrap("list staff orgs", err)
	}
	return collect(rows, "list staff orgs", func(r rowScanner) (int64, error) {
		var id int64
		err := r.Scan(&id)
		return id, err
	})
}
