package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/tamlink/tamlink/internal/desk"
)

// A ticket's assignee name is read from staff (the current name), falling back
// to the name stored when it was assigned.
const ticketCols = `t.id, t.org_id, t.title, t.description, t.severity, t.status,
	t.requester_kind, t.requester_id, t.requester_name, t.assignee_id,
	COALESCE(a.name, t.assignee_name), t.external_id, t.created_at, t.updated_at, t.first_response_at`

const ticketFrom = ` FROM tickets t LEFT JOIN staff a ON a.id = t.assignee_id`

func scanTicket(r rowScanner) (desk.Ticket, error) {
	var t desk.Ticket
	var sev, status, kind string
	err := r.Scan(&t.ID, &t.OrgID, &t.Title, &t.Description, &sev, &status,
		&kind, &t.Requester.ID, &t.Requester.Name, intCol{&t.AssigneeID},
		&t.AssigneeName, &t.ExternalID, timeCol{&t.CreatedAt}, timeCol{&t.UpdatedAt},
		timeCol{&t.FirstResponseAt})
	t.Severity, t.Status = desk.Severity(sev), desk.Status(status)
	t.Requester.Kind = desk.ActorKind(kind)
	if t.Requester.Kind == desk.ActorUser {
		t.Requester.OrgID = t.OrgID
	}
	return t, err
}

// assigneeName is what is stored as the assignee's name: nothing when unassigned.
func assigneeName(t *desk.Ticket) string {
	if t.AssigneeID == 0 {
		return ""
	}
	return t.AssigneeName
}

// CreateTicket stores t and fills ID; a zero CreatedAt is set to now and a
// zero UpdatedAt to CreatedAt. An unknown organisation or assignee is ENotFound.
func (s *store) CreateTicket(ctx context.Context, t *desk.Ticket) error {
	t.CreatedAt = stamp(t.CreatedAt)
	if t.UpdatedAt.IsZero() {
		t.UpdatedAt = t.CreatedAt
	}
	t.UpdatedAt = norm(t.UpdatedAt)
	t.FirstResponseAt = norm(t.FirstResponseAt)
	t.AssigneeName = assigneeName(t)
	err := s.queryRow(ctx, `INSERT INTO tickets (org_id, title, description, severity, status,
			requester_kind, requester_id, requester_name, assignee_id, assignee_name, external_id,
			created_at, updated_at, first_response_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		RETURNING id`,
		t.OrgID, t.Title, t.Description, string(t.Severity), string(t.Status),
		string(t.Requester.Kind), t.Requester.ID, t.Requester.Name, nullID(t.AssigneeID), t.AssigneeName,
		t.ExternalID, s.d.ts(t.CreatedAt), s.d.ts(t.UpdatedAt), s.d.ts(t.FirstResponseAt)).Scan(&t.ID)
	if err != nil {
		if isForeignKey(err) {
			return notFound("organisation or assignee")
		}
		return wrap("create ticket", err)
	}
	return nil
}

func (s *store) TicketByID(ctx context.Context, id int64) (desk.Ticket, error) {
	t, err := scanTicket(s.queryRow(ctx, `SELECT `+ticketCols+ticketFrom+` WHERE t.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return desk.Ticket{}, notFound("ticket")
	}
	if err != nil {
		return desk.Ticket{}, wrap("get ticket", err)
	}
	return t, nil
}

// DefaultTicketLimit is how many tickets Tickets returns for a Limit ≤ 0.
const DefaultTicketLimit = 200

// Tickets returns the tickets f selects, most recently updated first. A nil
// f.OrgIDs does not filter; a non-nil empty one selects nothing. OrgID and
// OrgIDs together select their intersection.
func (s *store) Tickets(ctx context.Context, f desk.TicketFilter) ([]desk.Ticket, error) {
	if f.OrgIDs != nil && len(f.OrgIDs) == 0 {
		return []desk.Ticket{}, nil
	}
	var where []string
	var args []any
	if f.OrgIDs != nil {
		where = append(where, `t.org_id IN (`+placeholders(len(f.OrgIDs))+`)`)
		for _, id := range f.OrgIDs {
			args = append(args, id)
		}
	}
	if f.OrgID != 0 {
		where = append(where, `t.org_id = ?`)
		args = append(args, f.OrgID)
	}
	if f.Status != "" {
		where = append(where, `t.status = ?`)
		args = append(args, string(f.Status))
	}
	if f.OpenOnly {
		var closed []desk.Status
		for _, st := range desk.Statuses {
			if !st.Open() {
				closed = append(closed, st)
			}
		}
		where = append(where, `t.status NOT IN (`+placeholders(len(closed))+`)`)
		for _, st := range closed {
			args = append(args, string(st))
		}
	}
	if f.AssigneeID != 0 {
		where = append(where, `t.assignee_id = ?`)
		args = append(args, f.AssigneeID)
	}
	q := `SELECT ` + ticketCols + ticketFrom
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultTicketLimit
	}
	q += ` ORDER BY t.updated_at DESC, t.id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, wrap("list tickets", err)
	}
	return collect(rows, "list tickets", scanTicket)
}

// placeholders returns "?, ?, ..." with n marks.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// UpdateTicket stores t's title, description, severity, status, assignee,
// external id, UpdatedAt and FirstResponseAt; the organisation, requester and
// CreatedAt never change. The caller sets UpdatedAt (a zero one is set to now).
func (s *store) UpdateTicket(ctx context.Context, t *desk.Ticket) error {
	t.UpdatedAt = stamp(t.UpdatedAt)
	t.FirstResponseAt = norm(t.FirstResponseAt)
	t.AssigneeName = assigneeName(t)
	err := s.execOne(ctx, "update ticket", notFound("ticket"), `UPDATE tickets SET
			title = ?, description = ?, severity = ?, status = ?, assignee_id = ?, assignee_name = ?,
			external_id = ?, updated_at = ?, first_response_at = ?
		WHERE id = ?`,
		t.Title, t.Description, string(t.Severity), string(t.Status), nullID(t.AssigneeID), t.AssigneeName,
		t.ExternalID, s.d.ts(t.UpdatedAt), s.d.ts(t.FirstResponseAt), t.ID)
	if err != nil && isForeignKey(err) {
		return notFound("assignee")
	}
	return err
}

// ---- ticket timeline ----

const eventCols = `id, ticket_id, org_id, kind, actor_kind, actor_id, actor_name, body,
	from_value, to_value, created_at`

func scanEvent(r rowScanner) (desk.TicketEvent, error) {
	var e desk.TicketEvent
	var kind, actor string
	err := r.Scan(&e.ID, &e.TicketID, &e.OrgID, &kind, &actor, &e.Actor.ID, &e.Actor.Name, &e.Body,
		&e.From, &e.To, timeCol{&e.CreatedAt})
	e.Kind, e.Actor.Kind = desk.EventKind(kind), desk.ActorKind(actor)
	if e.Actor.Kind == desk.ActorUser {
		e.Actor.OrgID = e.OrgID
	}
	return e, err
}

// AddTicketEvent appends e to its ticket's timeline and fills ID and a zero
// CreatedAt. The organisation is the ticket's: e.OrgID is filled in when zero,
// and a different one is ENotFound, as is an unknown ticket.
func (s *store) AddTicketEvent(ctx context.Context, e *desk.TicketEvent) error {
	// Two statements rather than INSERT ... SELECT: PostgreSQL would type the
	// parameters in such a select list as text, not as their columns.
	var orgID int64
	err := s.queryRow(ctx, `SELECT org_id FROM tickets WHERE id = ?`, e.TicketID).Scan(&orgID)
	if errors.Is(err, sql.ErrNoRows) || err == nil && e.OrgID != 0 && e.OrgID != orgID {
		return notFound("ticket")
	}
	if err != nil {
		return wrap("add ticket event", err)
	}
	e.OrgID = orgID
	e.CreatedAt = stamp(e.CreatedAt)
	err = s.queryRow(ctx, `INSERT INTO ticket_events (ticket_id, org_id, kind, actor_kind, actor_id,
			actor_name, body, from_value, to_value, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		RETURNING id`,
		e.TicketID, e.OrgID, string(e.Kind), string(e.Actor.Kind), e.Actor.ID, e.Actor.Name, e.Body,
		e.From, e.To, s.d.ts(e.CreatedAt)).Scan(&e.ID)
	if err != nil {
		if isForeignKey(err) {
			return notFound("ticket")
		}
		return wrap("add ticket event", err)
	}
	return nil
}

// TicketEvents returns a ticket's timeline, oldest first; an unknown ticket
// has none.
func (s *store) TicketEvents(ctx context.Context, ticketID int64) ([]desk.TicketEvent, error) {
	rows, err := s.query(ctx, `SELECT `+eventCols+` FROM ticket_events WHERE ticket_id = ? ORDER BY id`, ticketID)
	if err != nil {
		return nil, wrap("list ticket events", err)
	}
	return collect(rows, "list ticket events", scanEvent)
}
