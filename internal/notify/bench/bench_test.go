package bench

import (
	"bufio"
	"bytes"
	"context"
	"net/http/httptest"

	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tamlink/tamlink/internal/emulator"
)

// A small run in process: everything queued is delivered once, under
// faults, within the emulator's rate limit.
func TestBenchSmall(t *testing.T) {
	res, err := Run(t.Context(), Options{Tenants: 2, Notifications: 60, FaultRate: 0.2, AllowedRate: 20, RequestTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(res.Line())
	t.Log(res.Details())
	if res.Queued != 60 || res.Delivered != 60 || res.Lost != 0 || res.Duplicates != 0 {
		t.Fatalf("%s", res.Line())
	}
	if res.MaxTenantRate > 20 {
		t.Fatalf("a tenant went over the allowed rate: %s", res.Line())
	}
	if res.Faults == 0 {
		t.Fatal("no faults were injected")
	}
	line := res.Line()
	for _, k := range []string{"delivered=", " lost=", " duplicates=", " seconds=", " max_tenant_rate=", " allowed_rate="} {
		if !strings.Contains(line, k) {
			t.Fatalf("line %q lacks %q", line, k)
		}
	}
}

// TestKillAndResume kills the process delivering notifications (SIGKILL)
// in the middle of a run and starts it again on the same data directory:
// nothing queued is lost. The emulator lives in this test process, so it
// outlives the killed one and keeps count of what Graph accepted.
func TestKillAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the tamlink binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "tamlink")
	build := exec.Command("go", "build", "-o", bin, "github.com/tamlink/tamlink/cmd/tamlink")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	srv := httptest.NewUnstartedServer(nil)
	srv.Start()
	t.Cleanup(srv.Close)
	emu, err := emulator.New(emulator.Config{BaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = emu.Standalone()

	data := filepath.Join(dir, "data")
	const total = 240
	args := []string{"bench", "notify", "--emulator", srv.URL, "--data", data, "--tenants", "3",
		"--notifications", strconv.Itoa(total), "--fault-rate", "0.2", "--allowed-rate", "20", "--request-timeout", "500ms"}
	first := exec.Command(bin, args...)
	var firstOut bytes.Buffer
	first.Stdout, first.Stderr = &firstOut, &firstOut
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill it once a third has been accepted.
	deadline := time.Now().Add(60 * time.Second)
	for len(emu.ActivityNotifications(0)) < total/3 {
		if time.Now().After(deadline) {
			_ = first.Process.Kill()
			t.Fatalf("no progress before the kill:\n%s", firstOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := first.Process.Kill(); err != nil { // SIGKILL: no shutdown code runs
		t.Fatal(err)
	}
	_ = first.Wait()
	accepted := len(emu.ActivityNotifications(0))
	if accepted >= total {
		t.Fatalf("the run finished (%d accepted) before it was killed", accepted)
	}
	t.Logf("killed after %d of %d notifications were accepted", accepted, total)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	second := exec.CommandContext(ctx, bin, "bench", "notify", "--emulator", srv.URL, "--data", data, "--resume", "--request-timeout", "500ms")
	var out, errOut bytes.Buffer
	second.Stdout, second.Stderr = &out, &errOut
	if err := second.Run(); err != nil {
		t.Fatalf("resumed run: %v\n%s\n%s", err, out.String(), errOut.String())
	}
	line := lastLine(out.String())
	t.Log(line)
	t.Log(strings.TrimSpace(errOut.String()))
	got := fields(line)
	if got["delivered"] != strconv.Itoa(total) || got["lost"] != "0" {
		t.Fatalf("after a kill and a restart: %s", line)
	}
	// A duplicate is possible only for a notification Graph accepted in the
	// instant between its 204 and the UPDATE that records it.
	if d, _ := strconv.Atoi(got["duplicates"]); d > 3 {
		t.Fatalf("%d duplicates: more than the notifications in flight at the kill could explain", d)
	}

	// Without --emulator the command runs `tamlink emulator` as its child.
	plain := exec.CommandContext(ctx, bin, "bench", "notify", "--tenants", "2", "--notifications", "40", "--fault-rate", "0.2",
		"--allowed-rate", "20", "--request-timeout", "500ms")
	out.Reset()
	plain.Stdout, plain.Stderr = &out, &errOut
	if err := plain.Run(); err != nil {
		t.Fatalf("bench with its own emulator process: %v\n%s", err, errOut.String())
	}
	if f := fields(lastLine(out.String())); f["delivered"] != "40" || f["lost"] != "0" || f["duplicates"] != "0" {
		t.Fatalf("bench with its own emulator process: %s", lastLine(out.String()))
	}
}

func lastLine(s string) string {
	var last string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			last = l
		}
	}
	return last
}

func fields(line string) map[string]string {
	m := map[string]string{}
	for _, f := range strings.Fields(line) {
		if k, v, ok := strings.Cut(f, "="); ok {
			m[k] = v
		}
	}
	return m
}
