package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/tamlink/tamlink/internal/desk"
)

// ---- organisations ----

const orgCols = `id, name, created_at`

func scanOrg(r rowScanner) (desk.Org, error) {
	var o desk.Org
	err := r.Scan(&o.ID, &o.Name, timeCol{&o.CreatedAt})
	return o, err
}

func (s *store) CreateOrg(ctx context.Context, name string) (desk.Org, error) {
	o := desk.Org{Name: name, CreatedAt: now()}
	err := s.queryRow(ctx, `INSERT INTO orgs (name, created_at) VALUES (?, ?) RETURNING id`,
		o.Name, s.d.ts(o.CreatedAt)).Scan(&o.ID)
	if err != nil {
		if isUnique(err) {
			return desk.Org{}, desk.Errorf(desk.EConflict, "an organisation named %q already exists", name)
		}
		return desk.Org{}, wrap("create org", err)
	}
	return o, nil
}

func (s *store) OrgByID(ctx context.Context, id int64) (desk.Org, error) {
	return s.org(ctx, `SELECT `+orgCols+` FROM orgs WHERE id = ?`, id)
}

func (s *store) OrgByName(ctx context.Context, name string) (desk.Org, error) {
	return s.org(ctx, `SELECT `+orgCols+` FROM orgs WHERE name = ?`, name)
}

func (s *store) org(ctx context.Context, query string, arg any) (desk.Org, error) {
	o, err := scanOrg(s.queryRow(ctx, query, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return desk.Org{}, notFound("organisation")
	}
	if err != nil {
		return desk.Org{}, wrap("get org", err)
	}
	return o, nil
}

// ListOrgs returns every organisation by name.
func (s *store) ListOrgs(ctx context.Context) ([]desk.Org, error) {
	rows, err := s.query(ctx, `SELECT `+orgCols+` FROM orgs ORDER BY name, id`)
	if err != nil {
		return nil, wrap("list orgs", err)
	}
	return collect(rows, "list orgs", scanOrg)
}

// ---- channels ----

const channelCols = `c.app_id, c.tenant_id, c.teams_published_app_id, c.published_id_kind,
	c.org_id, o.name, c.sealed_secret, c.secret_expires_at, c.created_at, c.updated_at,
	c.last_test_at, c.last_test_ok, c.last_test_message`

const channelFrom = ` FROM channels c JOIN orgs o ON o.id = c.org_id`

func scanChannel(r rowScanner) (desk.Channel, error) {
	var c desk.Channel
	var t desk.ChannelTest
	err := r.Scan(&c.AppID, &c.TenantID, &c.TeamsPublishedAppID, &c.PublishedIDKind,
		&c.OrgID, &c.OrgName, &c.SealedSecret, timeCol{&c.SecretExpiresAt},
		timeCol{&c.CreatedAt}, timeCol{&c.UpdatedAt},
		timeCol{&t.At}, &t.OK, &t.Message)
	if !t.At.IsZero() {
		c.LastTest = &t
	}
	return c, err
}

// CreateChannel stores c. Zero CreatedAt/UpdatedAt are set to now, an empty
// PublishedIDKind to desk.PublishedIDUnknown; c.OrgName is left as given.
// LastTest is not stored (see SetChannelTest).
func (s *store) CreateChannel(ctx context.Context, c *desk.Channel) error {
	c.CreatedAt = stamp(c.CreatedAt)
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = c.CreatedAt
	}
	c.UpdatedAt = norm(c.UpdatedAt)
	c.SecretExpiresAt = norm(c.SecretExpiresAt)
	if c.PublishedIDKind == "" {
		c.PublishedIDKind = desk.PublishedIDUnknown
	}
	_, err := s.exec(ctx, `INSERT INTO channels (app_id, tenant_id, teams_published_app_id,
		published_id_kind, org_id, sealed_secret, secret_expires_at, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.AppID, c.TenantID, c.TeamsPublishedAppID, c.PublishedIDKind, c.OrgID, c.SealedSecret,
		s.d.ts(c.SecretExpiresAt), s.d.ts(c.CreatedAt), s.d.ts(c.UpdatedAt))
	switch {
	case err == nil:
		return nil
	case isUnique(err):
		return desk.Errorf(desk.EConflict, "a channel with appId %s already exists", c.AppID)
	case isForeignKey(err):
		return notFound("organisation")
	}
	return wrap("create channel", err)
}

func (s *store) ChannelByAppID(ctx context.Context, appID string) (desk.Channel, error) {
	c, err := scanChannel(s.queryRow(ctx, `SELECT `+channelCols+channelFrom+` WHERE c.app_id = ?`, appID))
	if errors.Is(err, sql.ErrNoRows) {
		return desk.Channel{}, notFound("channel")
	}
	if err != nil {
		return desk.Channel{}, wrap("get channel", err)
	}
	return c, nil
}

// ListChannels returns every channel by organisation name, then app id.
func (s *store) ListChannels(ctx context.Context) ([]desk.Channel, error) {
	rows, err := s.query(ctx, `SELECT `+channelCols+channelFrom+` ORDER BY o.name, c.app_id`)
	if err != nil {
		return nil, wrap("list channels", err)
	}
	return collect(rows, "list channels", scanChannel)
}

// DeleteChannel removes a channel together with its invites, tab sessions and
// pending sign-ins. The organisation, its people and its history stay.
func (s *store) DeleteChannel(ctx context.Context, appID string) error {
	return s.execOne(ctx, "delete channel", notFound("channel"),
		`DELETE FROM channels WHERE app_id = ?`, appID)
}

// SetChannelTest records the outcome of a connection test. It is not an edit
// of the channel, so UpdatedAt stays.
func (s *store) SetChannelTest(ctx context.Context, appID string, t desk.ChannelTest) error {
	return s.execOne(ctx, "set channel test", notFound("channel"),
		`UPDATE channels SET last_test_at = ?, last_test_ok = ?, last_test_message = ? WHERE app_id = ?`,
		s.d.ts(stamp(t.At)), t.OK, t.Message, appID)
}

// collect scans every row and closes rows. It never returns a nil slice
// without an error, so that empty lists encode as [] rather than null.
func collect[T any](rows *sql.Rows, op string, scan func(rowScanner) (T, error)) ([]T, error) {
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, wrap(op, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(op, err)
	}
	return out, nil
}
