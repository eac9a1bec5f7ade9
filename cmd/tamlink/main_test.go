package main

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDemoBinary runs the real binary as a new user would: `tamlink demo`
// starts, is healthy, shuts down cleanly on SIGTERM, and a second start on
// the same data dir finds its data without seeding it again.
func TestDemoBinary(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "tamlink")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	data := t.TempDir()
	first := runDemo(t, bin, data)
	second := runDemo(t, bin, data)
	if first != second {
		t.Fatalf("the second start printed another staff password: seeded twice? %q vs %q", first, second)
	}
}

var (
	urlRE = regexp.MustCompile(`Desk console:\s+(http://\S+)/console`)
	pwRE  = regexp.MustCompile(`password (\S+)`)
)

func runDemo(t *testing.T, bin, data string) string {
	t.Helper()
	cmd := exec.Command(bin, "demo", "--listen", "127.0.0.1:0", "--data", data)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var banner strings.Builder
	sc := bufio.NewScanner(stdout)
	deadline := time.After(30 * time.Second)
	lines := make(chan string)
	go func() {
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	for !strings.Contains(banner.String(), "Press Ctrl+C") {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("demo exited early:\n%s\n%s", banner.String(), stderr.String())
			}
			banner.WriteString(l + "\n")
		case <-deadline:
			t.Fatalf("demo did not start:\n%s\n%s", banner.String(), stderr.String())
		}
	}
	go io.Copy(io.Discard, stdout)
	m := urlRE.FindStringSubmatch(banner.String())
	pw := pwRE.FindStringSubmatch(banner.String())
	if m == nil || pw == nil {
		t.Fatalf("banner lacks the console URL or password:\n%s", banner.String())
	}
	for _, p := range []string{"/healthz", "/readyz", "/teams/4f1b8c7e-2d3a-4e5f-8a9b-0c1d2e3f4a5b/workbench", "/console/login", "/metrics"} {
		resp, err := http.Get(m[1] + p)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s: %v %v", p, err, resp)
		}
		resp.Body.Close()
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no exit within 15 s of SIGTERM")
	}
	if !strings.Contains(stderr.String(), "shutting down") {
		t.Fatalf("no graceful shutdown logged:\n%s", stderr.String())
	}
	if _, err := os.Stat(filepath.Join(data, "tamlink.db")); err != nil {
		t.Fatal(err)
	}
	return pw[1]
}
