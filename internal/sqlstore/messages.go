package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"

	"github.com/tamlink/tamlink/internal/desk"
)

const messageCols = `id, org_id, author_kind, author_id, author_name, body, client_id, created_at`

func scanMessage(r rowScanner) (desk.Message, error) {
	var m desk.Message
	var kind string
	err := r.Scan(&m.ID, &m.OrgID, &kind, &m.Author.ID, &m.Author.Name, &m.Body, &m.ClientID,
		timeCol{&m.CreatedAt})
	m.Author.Kind = desk.ActorKind(kind)
	if m.Author.Kind == desk.ActorUser {
		m.Author.OrgID = m.OrgID
	}
	return m, err
}

// DefaultMessageLimit is how many messages Messages returns for a limit ≤ 0.
const DefaultMessageLimit = 50

// AddMessage stores m, with its author's current name, and fills ID and a zero
// CreatedAt. A message with the same (OrgID, author kind, author id, ClientID)
// is stored once: a repeat leaves the store alone, returns the stored message
// in m and reports false. Messages without a ClientID are always stored.
func (s *store) AddMessage(ctx context.Context, m *desk.Message) (bool, error) {
	m.CreatedAt = stamp(m.CreatedAt)
	// The conflict target names the partial unique index, WHERE included, so
	// that SQLite and PostgreSQL both pick it.
	err := s.queryRow(ctx, `INSERT INTO messages (org_id, author_kind, author_id, author_name, body,
			client_id, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (org_id, author_kind, author_id, client_id) WHERE client_id <> '' DO NOTHING
		RETURNING id`,
		m.OrgID, string(m.Author.Kind), m.Author.ID, m.Author.Name, m.Body, m.ClientID,
		s.d.ts(m.CreatedAt)).Scan(&m.ID)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, sql.ErrNoRows):
		// A repeat: return the message stored the first time.
		old, err := scanMessage(s.queryRow(ctx, `SELECT `+messageCols+` FROM messages
			WHERE org_id = ? AND author_kind = ? AND author_id = ? AND client_id = ?`,
			m.OrgID, string(m.Author.Kind), m.Author.ID, m.ClientID))
		if err != nil {
			return false, wrap("add message: find repeat", err)
		}
		old.Author.Admin = m.Author.Admin
		*m = old
		return false, nil
	case isForeignKey(err):
		return false, notFound("organisation")
	}
	return false, wrap("add message", err)
}

// Messages returns, oldest first, the newest limit messages of an org whose
// id is below beforeID (0 = no bound). A limit ≤ 0 means DefaultMessageLimit.
func (s *store) Messages(ctx context.Context, orgID, beforeID int64, limit int) ([]desk.Message, error) {
	if limit <= 0 {
		limit = DefaultMessageLimit
	}
	q, args := keysetPage(`SELECT `+messageCols+` FROM messages WHERE org_id = ?`, orgID, beforeID, limit)
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, wrap("list messages", err)
	}
	ms, err := collect(rows, "list messages", scanMessage)
	if err != nil {
		return nil, err
	}
	slices.Reverse(ms)
	return ms, nil
}

// MarkRead records that reader has read an org's messages up to messageID.
// The mark only moves forward: an older id leaves it where it is.
func (s *store) MarkRead(ctx context.Context, orgID int64, reader desk.Actor, messageID int64) error {
	_, err := s.exec(ctx, `INSERT INTO read_marks (org_id, reader_kind, reader_id, message_id, updated_at)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (org_id, reader_kind, reader_id) DO UPDATE SET
			message_id = excluded.message_id,
			updated_at = excluded.updated_at
		WHERE excluded.message_id > read_marks.message_id`,
		orgID, string(reader.Kind), reader.ID, messageID, s.d.ts(now()))
	if err != nil {
		if isForeignKey(err) {
			return notFound("organisation")
		}
		return wrap("mark read", err)
	}
	return nil
}

// Unread counts an org's messages after the reader's mark (all of them if
// there is none) that someone else wrote.
func (s *store) Unread(ctx context.Context, orgID int64, reader desk.Actor) (int, error) {
	var n int
	err := s.queryRow(ctx, `SELECT COUNT(*) FROM messages m
		WHERE m.org_id = ?
		AND m.id > COALESCE((SELECT r.message_id FROM read_marks r
			WHERE r.org_id = ? AND r.reader_kind = ? AND r.reader_id = ?), 0)
		AND NOT (m.author_kind = ? AND m.author_id = ?)`,
		orgID, orgID, string(reader.Kind), reader.ID, string(reader.Kind), reader.ID).Scan(&n)
	if err != nil {
		return 0, wrap("count unread", err)
	}
	return n, nil
}

// keysetPage completes a query selecting rows WHERE owner = ? into one page
// of the newest rows below beforeID (0 = no bound), newest first.
func keysetPage(query string, owner, beforeID int64, limit int) (string, []any) {
	args := []any{owner}
	if beforeID > 0 {
		query += ` AND id < ?`
		args = append(args, beforeID)
	}
	return query + ` ORDER BY id DESC LIMIT ?`, append(args, limit)
}
