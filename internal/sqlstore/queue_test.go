package sqlstore_test

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/tamlink/tamlink/internal/desk"
	"github.com/tamlink/tamlink/internal/sqlstore"
)

// jobCount counts River's delivery jobs by state.
func jobCount(t *testing.T, db *sqlstore.DB, state string) int {
	t.Helper()
	var n int
	err := db.SQL().QueryRowContext(t.Context(), `SELECT COUNT(*) FROM river_job WHERE kind = ? AND state = ?`,
		sqlstore.DeliveryJobKind, state).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestDeliveryJobsCommitWithTheirRows checks the store's half of "nothing
// lost": a pending notification's River job is inserted in the same
// transaction as the row — both commit or neither does — and only pending
// notifications get one.
func TestDeliveryJobsCommitWithTheirRows(t *testing.T) {
	db := open(t, t.TempDir())
	ctx := t.Context()
	org, err := db.CreateOrg(ctx, "Contoso")
	if err != nil {
		t.Fatal(err)
	}
	u := desk.User{OrgID: org.ID, TenantID: "t", ObjectID: "o", Name: "U", LastSeenAt: time.Now()}
	if err := db.UpsertUser(ctx, &u); err != nil {
		t.Fatal(err)
	}
	n := func(state desk.DeliveryState) desk.Notification {
		return desk.Notification{OrgID: org.ID, UserID: u.ID, Kind: desk.NotifyTicketComment, Delivery: state}
	}

	boom := errors.New("boom")
	err = db.Atomic(ctx, func(tx desk.Store) error {
		if err := tx.AddNotifications(ctx, []desk.Notification{n(desk.DeliveryPending)}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if got := jobCount(t, db, "available"); got != 0 {
		t.Fatalf("%d jobs survived a rolled-back transaction", got)
	}

	ns := []desk.Notification{n(desk.DeliveryPending), n(desk.DeliveryMuted), n(desk.DeliveryPending)}
	if err := db.AddNotifications(ctx, ns); err != nil {
		t.Fatal(err)
	}
	if got := jobCount(t, db, "available"); got != 2 {
		t.Fatalf("%d jobs for 2 pending notifications", got)
	}
	var args string
	if err := db.SQL().QueryRowContext(ctx, `SELECT json(args) FROM river_job ORDER BY id LIMIT 1`).Scan(&args); err != nil {
		t.Fatal(err)
	}
	if want := `{"notification_id":` + itoa(ns[0].ID) + `}`; args != want {
		t.Fatalf("job args %s, want %s", args, want)
	}

	if _, err := db.UpdateDelivery(ctx, ns[0].ID, desk.DeliveryUpdate{State: desk.DeliveryDead, Reason: "x"}); err != nil {
		t.Fatal(err)
	}
	if err := db.RequeueNotification(ctx, ns[0].ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if got := jobCount(t, db, "available"); got != 3 {
		t.Fatalf("requeue did not insert a job: %d", got)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
