package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/tamlink/tamlink/internal/desk"
)

// ---- invites ----

const inviteCols = `id, org_id, app_id, created_by, note, expires_at, created_at, used_at, used_by`

func scanInvite(r rowScanner) (desk.Invite, error) {
	var inv desk.Invite
	err := r.Scan(&inv.ID, &inv.OrgID, strCol{&inv.AppID}, intCol{&inv.CreatedBy}, &inv.Note,
		timeCol{&inv.ExpiresAt}, timeCol{&inv.CreatedAt}, timeCol{&inv.UsedAt}, intCol{&inv.UsedBy})
	return inv, err
}

// CreateInvite stores inv (a zero CreatedAt is set to now). A taken id is
// EConflict; an unknown organisation, channel or staff member ENotFound.
func (s *store) CreateInvite(ctx context.Context, inv *desk.Invite) error {
	inv.CreatedAt = stamp(inv.CreatedAt)
	inv.ExpiresAt = norm(inv.ExpiresAt)
	inv.UsedAt = norm(inv.UsedAt)
	_, err := s.exec(ctx, `INSERT INTO invites (id, org_id, app_id, created_by, note, expires_at,
			created_at, used_at, used_by)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		inv.ID, inv.OrgID, nullStr(inv.AppID), nullID(inv.CreatedBy), inv.Note, s.d.ts(inv.ExpiresAt),
		s.d.ts(inv.CreatedAt), s.d.ts(inv.UsedAt), nullID(inv.UsedBy))
	switch {
	case err == nil:
		return nil
	case isUnique(err):
		return desk.Errorf(desk.EConflict, "an invite with this id already exists")
	case isForeignKey(err):
		return notFound("organisation, channel or staff member")
	}
	return wrap("create invite", err)
}

func (s *store) InviteByID(ctx context.Context, id string) (desk.Invite, error) {
	inv, err := scanInvite(s.queryRow(ctx, `SELECT `+inviteCols+` FROM invites WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return desk.Invite{}, notFound("invite")
	}
	if err != nil {
		return desk.Invite{}, wrap("get invite", err)
	}
	return inv, nil
}

// UseInvite marks an invite used by userID at at, once: the update only
// matches an unused invite, so of two concurrent uses one wins and the other
// is EConflict. An unknown invite or user is ENotFound. Expiry is the
// caller's to check.
func (s *store) UseInvite(ctx context.Context, id string, userID int64, at time.Time) error {
	res, err := s.exec(ctx, `UPDATE invites SET used_at = ?, used_by = ? WHERE id = ? AND used_at IS NULL`,
		s.d.ts(stamp(at)), userID, id)
	if err != nil {
		if isForeignKey(err) {
			return notFound("user")
		}
		return wrap("use invite", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return wrap("use invite", err)
	}
	if n > 0 {
		return nil
	}
	if _, err := s.InviteByID(ctx, id); err != nil {
		return err
	}
	return desk.Errorf(desk.EConflict, "invite already used")
}

// ---- sessions ----

const sessionCols = `token_hash, kind, user_id, staff_id, app_id, csrf, created_at, expires_at`

// CreateSession stores s (a zero CreatedAt is set to now). ExpiresAt is
// required; a hash already stored is EConflict; an unknown user, staff member
// or channel is ENotFound.
func (s *store) CreateSession(ctx context.Context, se *desk.Session) error {
	if se.ExpiresAt.IsZero() {
		return desk.Invalid("expiresAt", "is required")
	}
	se.CreatedAt = stamp(se.CreatedAt)
	se.ExpiresAt = norm(se.ExpiresAt)
	_, err := s.exec(ctx, `INSERT INTO sessions (`+sessionCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		se.TokenHash, string(se.Kind), nullID(se.UserID), nullID(se.StaffID), nullStr(se.AppID), se.CSRF,
		s.d.ts(se.CreatedAt), s.d.ts(se.ExpiresAt))
	switch {
	case err == nil:
		return nil
	case isUnique(err):
		return desk.Errorf(desk.EConflict, "session already exists")
	case isForeignKey(err):
		return notFound("user, staff member or channel")
	}
	return wrap("create session", err)
}

// SessionByHash returns the session with this token hash, expired or not:
// the caller compares ExpiresAt with its clock.
func (s *store) SessionByHash(ctx context.Context, hash []byte) (desk.Session, error) {
	var se desk.Session
	var kind string
	err := s.queryRow(ctx, `SELECT `+sessionCols+` FROM sessions WHERE token_hash = ?`, hash).Scan(
		&se.TokenHash, &kind, intCol{&se.UserID}, intCol{&se.StaffID}, strCol{&se.AppID}, &se.CSRF,
		timeCol{&se.CreatedAt}, timeCol{&se.ExpiresAt})
	if errors.Is(err, sql.ErrNoRows) {
		return desk.Session{}, notFound("session")
	}
	if err != nil {
		return desk.Session{}, wrap("get session", err)
	}
	se.Kind = desk.SessionKind(kind)
	return se, nil
}

// DeleteSession removes a session. Removing one that is not there is not an
// error, so that signing out twice succeeds.
func (s *store) DeleteSession(ctx context.Context, hash []byte) error {
	if _, err := s.exec(ctx, `DELETE FROM sessions WHERE token_hash = ?`, hash); err != nil {
		return wrap("delete session", err)
	}
	return nil
}

// DeleteExpired removes sessions and login states that expired at or before
// now. Invites stay, used or not, as a record of who joined how.
func (s *store) DeleteExpired(ctx context.Context, now time.Time) error {
	t := s.d.ts(stamp(now))
	if _, err := s.exec(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, t); err != nil {
		return wrap("delete expired sessions", err)
	}
	if _, err := s.exec(ctx, `DELETE FROM login_states WHERE expires_at <= ?`, t); err != nil {
		return wrap("delete expired login states", err)
	}
	return nil
}

// ---- sign-in states ----

const loginStateCols = `state, app_id, nonce, code_verifier, return_to, invite_id, popup, created_at, expires_at`

// CreateLoginState stores ls (a zero CreatedAt is set to now). ExpiresAt is
// required; a state already stored is EConflict, an unknown channel ENotFound.
func (s *store) CreateLoginState(ctx context.Context, ls *desk.LoginState) error {
	if ls.ExpiresAt.IsZero() {
		return desk.Invalid("expiresAt", "is required")
	}
	ls.CreatedAt = stamp(ls.CreatedAt)
	ls.ExpiresAt = norm(ls.ExpiresAt)
	_, err := s.exec(ctx, `INSERT INTO login_states (`+loginStateCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		ls.State, nullStr(ls.AppID), ls.Nonce, ls.CodeVerifier, ls.ReturnTo, ls.InviteID, ls.Popup,
		s.d.ts(ls.CreatedAt), s.d.ts(ls.ExpiresAt))
	switch {
	case err == nil:
		return nil
	case isUnique(err):
		return desk.Errorf(desk.EConflict, "sign-in state already exists")
	case isForeignKey(err):
		return notFound("channel")
	}
	return wrap("create login state", err)
}

// TakeLoginState deletes the state and returns it, in one statement, so that
// of two concurrent callbacks only one gets it. An expired state is deleted
// too, and is ENotFound like a missing one. Expiry is judged by the wall
// clock, as the interface passes no time.
func (s *store) TakeLoginState(ctx context.Context, state string) (desk.LoginState, error) {
	var ls desk.LoginState
	err := s.queryRow(ctx, `DELETE FROM login_states WHERE state = ? RETURNING `+loginStateCols, state).Scan(
		&ls.State, strCol{&ls.AppID}, &ls.Nonce, &ls.CodeVerifier, &ls.ReturnTo, &ls.InviteID, &ls.Popup,
		timeCol{&ls.CreatedAt}, timeCol{&ls.ExpiresAt})
	if errors.Is(err, sql.ErrNoRows) {
		return desk.LoginState{}, notFound("sign-in state")
	}
	if err != nil {
		return desk.LoginState{}, wrap("take login state", err)
	}
	if !time.Now().Before(ls.ExpiresAt) {
		return desk.LoginState{}, desk.Errorf(desk.ENotFound, "sign-in state expired")
	}
	return ls, nil
}
