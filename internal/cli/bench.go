package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/tamlink/tamlink/internal/notify"
	"github.com/tamlink/tamlink/internal/notify/bench"
)

// runBench runs a benchmark; `bench notify` is the notification delivery
// benchmark (internal/notify/bench). Progress goes to stderr; the last line
// on stdout is the result.
func runBench(ctx context.Context, args []string, env Env) error {
	if len(args) == 0 || args[0] != "notify" {
		return &exitError{2, errors.New("usage: tamlink bench notify [--tenants N] [--notifications M] [--fault-rate F] [--emulator URL] [--data DIR] [--resume]")}
	}
	fs := newFlags("bench notify", env)
	tenants := fs.Int("tenants", 50, "customer tenants (channels), each with its own Graph rate limit")
	notifications := fs.Int("notifications", 10000, "notifications to deliver, spread evenly over the tenants")
	users := fs.Int("users", 4, "users per tenant")
	faultRate := fs.Float64("fault-rate", 0, "share of Graph requests answered with a 5xx, a time-out or a slow answer (0..1)")
	emu := fs.String("emulator", "", "URL of a running `tamlink emulator` (default: an emulator in this process)")
	data := fs.String("data", "", "data directory (default: a temporary one, removed afterwards)")
	resume := fs.Bool("resume", false, "deliver what an earlier run in --data left queued (after it was killed), then report")
	allowed := fs.Float64("allowed-rate", notify.AllowedRate, "requests per second per app per tenant the emulator allows (Graph: 5)")
	if _, err := parse(fs, args[1:]); err != nil {
		return err
	}
	if *faultRate < 0 || *faultRate >= 1 {
		return &exitError{2, errors.New("--fault-rate must be in [0, 1)")}
	}
	res, err := bench.Run(ctx, bench.Options{
		Tenants: *tenants, Notifications: *notifications, UsersPerTenant: *users, FaultRate: *faultRate,
		AllowedRate: *allowed, EmulatorURL: *emu, Dir: *data, Resume: *resume, Progress: env.Stderr,
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
