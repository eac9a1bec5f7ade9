package web

import (
	"testing"
	"time"
)

func TestLoginGuardBacksOff(t *testing.T) {
	g := newLoginGuard()
	now := time.Unix(1000, 0)
	for i := 0; i < freeFailures-1; i++ {
		g.fail(now, "acct:a")
	}
	if d := g.wait(now, "acct:a"); d != 0 {
		t.Fatalf("locked out after %d failures: %v", freeFailures-1, d)
	}
	g.fail(now, "acct:a")
	if d := g.wait(now, "acct:a"); d != firstLockout {
		t.Fatalf("first lockout %v", d)
	}
	g.fail(now, "acct:a")
	if d := g.wait(now, "acct:a"); d != 2*firstLockout {
		t.Fatalf("second lockout %v", d)
	}
	for i := 0; i < 30; i++ {
		g.fail(now, "acct:a")
	}
	if d := g.wait(now, "acct:a"); d != maxLockout {
		t.Fatalf("lockout not capped: %v", d)
	}
	g.succeed("acct:a")
	if d := g.wait(now, "acct:a"); d != 0 {
		t.Fatal("success did not clear")
	}
	// Slots: no more than the semaphore allows at once.
	n := 0
	for g.acquire() {
		n++
	}
	if n != cap(g.sem) || n == 0 {
		t.Fatalf("acquired %d slots", n)
	}
}
