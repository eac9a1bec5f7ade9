package notify

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tamlink/tamlink/internal/desk"
)

// journal narrows the duplicate window. When Graph answers 204, the
// notification's id is first appended to DIR/notify.journal — one write(2),
// no lock shared with anything else, done in microseconds; once written it
// survives the process being killed, as it sits in the kernel's page cache
// — and only then recorded in the database, where the UPDATE may wait
// behind other writers (SQLite has one) for tens of milliseconds under load.
// On start, before any job runs, the journal is replayed into the database
// and emptied. A crash can then resend only a notification Graph accepted
// but whose answer the process had not yet read — microseconds — rather
// than every one whose UPDATE was still queued. (Like SQLite's
// synchronous=NORMAL commits, a power cut can lose the last entries.)
type journal struct {
	mu      sync.Mutex
	f       *os.File
	path    string
	pending int   // appended, database record not yet confirmed
	size    int64 // bytes written since the file was last emptied
}

const journalCompactAt = 1 << 20 // empty the file when it is this big and fully recorded

func openJournal(dir string) (*journal, error) {
	path := dir + string(os.PathSeparator) + "notify.journal"
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("notify: journal: %w", err)
	}
	return &journal{f: f, path: path}, nil
}

// replay records every journalled delivery in the database (those already
// recorded are left alone) and empties the journal.
func (j *journal) replay(ctx context.Context, st desk.Store, now time.Time) (int, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, err := j.f.Seek(0, 0); err != nil {
		return 0, err
	}
	n := 0
	sc := bufio.NewScanner(j.f)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 || f[0] != "delivered" {
			continue // a torn last line: its request's answer was not read either
		}
		id, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		ok, err := st.UpdateDelivery(ctx, id, desk.DeliveryUpdate{State: desk.DeliveryDelivered, At: now})
		if err != nil {
			return n, fmt.Errorf("notify: replay journal: %w", err)
		}
		if ok {
			n++
		}
	}
	if err := sc.Err(); err != nil {
		return n, fmt.Errorf("notify: read journal: %w", err)
	}
	if err := j.f.Truncate(0); err != nil {
		return n, err
	}
	j.size, j.pending = 0, 0
	return n, nil
}

// delivered appends the id; the caller then records it in the database and
// calls recorded.
func (j *journal) delivered(id int64) error {
	line := "delivered " + strconv.FormatInt(id, 10) + "\n"
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, err := j.f.WriteString(line); err != nil {
		return err
	}
	j.pending++
	j.size += int64(len(line))
	return nil
}

// recorded notes that a journalled delivery is in the database; when none is
// outstanding and the file has grown, it is emptied.
func (j *journal) recorded() {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.pending--
	if j.pending == 0 && j.size >= journalCompactAt {
		if j.f.Truncate(0) == nil {
			j.size = 0
		}
	}
}

func (j *journal) close() error { return j.f.Close() }
