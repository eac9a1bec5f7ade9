package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/tamlink/tamlink/internal/notify"
	"github.com/tamlink/tamlink/internal/notify/bench"
)

// runBench runs a benchmark; `bench notify` is the notification delivery
// benchmark (internal/notify/bench). Progress goes to stderr; the last line
// on stdout is the result.
func runBench(ctx context.Context, args []string, env Env) error {
	if len(args) == 0 || args[0] != "notify" {
		return &exitError{2, errors.New("usage: tamlink bench notify [--tenants N] [--notifications M] [--fault-rate F] [--emulator URL|in-process] [--data DIR] [--resume]")}
	}
	fs := newFlags("bench notify", env)
	tenants := fs.Int("tenants", 50, "customer tenants (channels), each with its own Graph rate limit")
	notifications := fs.Int("notifications", 10000, "notifications to deliver, spread evenly over the tenants")
	users := fs.Int("users", 4, "users per tenant")
	faultRate := fs.Float64("fault-rate", 0, "share of Graph requests answered with a 5xx, a time-out or a slow answer (0..1)")
	emu := fs.String("emulator", "", "URL of a running `tamlink emulator`, or in-process; default: a `tamlink emulator` child process")
	data := fs.String("data", "", "data directory (default: a temporary one, removed afterwards)")
	resume := fs.Bool("resume", false, "deliver what an earlier run in --data left queued (after it was killed), then report; give the same --emulator URL")
	allowed := fs.Float64("allowed-rate", notify.AllowedRate, "requests per second per app per tenant the emulator allows (Graph: 5)")
	timeout := fs.Duration("request-timeout", 10*time.Second, "time-out of one Graph call")
	if _, err := parse(fs, args[1:]); err != nil {
		return err
	}
	if *faultRate < 0 || *faultRate >= 1 {
		return &exitError{2, errors.New("--fault-rate must be in [0, 1)")}
	}
	url := *emu
	switch {
	case url == "in-process":
		url = "" // bench.Run starts one inside this process
	case url == "" && !*resume:
		// By default the emulator runs in a process of its own, as Graph
		// would: its clock then reads arrivals when they arrive, not when
		// this busy process lets it run.
		u, stop, err := startEmulatorProcess(ctx)
		if err != nil {
			return err
		}
		defer stop()
		url = u
	}
	res, err := bench.Run(ctx, bench.Options{
		Tenants: *tenants, Notifications: *notifications, UsersPerTenant: *users, FaultRate: *faultRate,
		AllowedRate: *allowed, EmulatorURL: url, Dir: *data, Resume: *resume, Progress: env.Stderr, RequestTimeout: *timeout,
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(env.Stderr, res.Details())
	fmt.Fprintln(env.Stdout, res.Line())
	if res.Lost > 0 {
		return &exitError{1, fmt.Errorf("%d notifications lost", res.Lost)}
	}
	return nil
}

// startEmulatorProcess runs `tamlink emulator` (this executable) as a child
// that exits when this process does (its stdin closes), and returns its URL.
func startEmulatorProcess(ctx context.Context) (string, func(), error) {
	exe, err := os.Executable()
	if err != nil {
		return "", nil, err
	}
	cmd := exec.CommandContext(ctx, exe, "emulator", "--listen", "127.0.0.1:0", "--exit-with-stdin")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return "", nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("start the emulator: %w", err)
	}
	stop := func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	f := strings.Fields(line)
	if err != nil || len(f) < 4 || !strings.HasPrefix(f[3], "http") {
		stop()
		return "", nil, fmt.Errorf("the emulator did not start: %q %v", line, err)
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	return f[3], stop, nil
}
