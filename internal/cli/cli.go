// Package cli is tamlink's command line: it parses flags and environment,
// opens what a command needs and calls the packages that do the work.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/tamlink/tamlink/internal/desk"
	"github.com/tamlink/tamlink/internal/secretbox"
	"github.com/tamlink/tamlink/internal/sqlstore"
)

// Env is what a command reads and writes besides its arguments.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
}

// exitError carries an exit status.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// Main runs tamlink with args (without the program name) and returns the exit status.
func Main(ctx context.Context, args []string, env Env) int {
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	err := run(ctx, args, env)
	if err == nil {
		return 0
	}
	if errors.Is(err, flag.ErrHelp) {
		return 2
	}
	fmt.Fprintln(env.Stderr, "tamlink:", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if desk.ErrorCode(err) == desk.EInvalid || desk.ErrorCode(err) == desk.EConflict || desk.ErrorCode(err) == desk.ENotFound {
		return 2
	}
	return 1
}

const usage = `tamlink — the expert service desk in Microsoft Teams

Usage:
  tamlink demo    [--listen ADDR] [--data DIR]     run with the built-in Microsoft emulator on SQLite
  tamlink serve   [--listen ADDR] [--data DIR] --public-url URL
  tamlink channel add    --data DIR --org NAME [FILE|-]   add a channel from the guide's 5.1 JSON
  tamlink channel list   --data DIR [--json]
  tamlink channel show   --data DIR [--json] APPID
  tamlink channel remove --data DIR APPID
  tamlink channel test   --data DIR APPID
  tamlink staff add      --data DIR --email E [--name N] [--admin]   (password from TAMLINK_PASSWORD or stdin)
  tamlink staff list     --data DIR
  tamlink staff token    --data DIR --email E [--days N]   mint an admin API token
  tamlink staff assign   --data DIR --email E --org NAME     (unassign: take it away)
  tamlink staff passwd   --data DIR --email E              new password; ends their console sign-ins
  tamlink staff revoke   --data DIR --email E              end every sign-in and API token
  tamlink staff remove   --data DIR --email E
  tamlink manifest --app-id GUID --domain HOST --out FILE.zip     build the Teams app package
  tamlink setup    --tenant TID --domain HOST [--dry-run [--read]] [--register URL --token T --org NAME] [--new-secret]
                   register the app in a tenant through Graph (see README)
  tamlink doctor   --data DIR --app APPID | --tenant TID --app-id GUID | --package FILE
  tamlink doctor token   [TOKEN|-] (--data DIR --app APPID | --jwks FILE [--at RFC3339] [--app A --tenant T --domain D]) [--json]
                         explain a Teams SSO token: each check, and the cause and fix of each failure
  tamlink bench notify   [--tenants N] [--notifications M] [--fault-rate F] [--emulator URL] [--data DIR] [--resume]
  tamlink emulator       [--listen ADDR]   the Microsoft emulator alone, with its control API (for bench notify)

Environment: TAMLINK_DATA, TAMLINK_LISTEN, TAMLINK_PUBLIC_URL, TAMLINK_SECRET_KEY (64 hex digits; else DIR/secret.key),
TAMLINK_TEAMS_JS (path of @microsoft/teams-js's dist/umd/MicrosoftTeams.min.js), TAMLINK_LOG_FORMAT (text|json),
TAMLINK_LOGIN_URL / TAMLINK_STS_URL / TAMLINK_GRAPH_URL (Microsoft's endpoints; a demo's are in DIR/endpoints.json).
`

func run(ctx context.Context, args []string, env Env) error {
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, usage)
		return flag.ErrHelp
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "demo":
		return runDemo(ctx, rest, env)
	case "serve":
		return runServe(ctx, rest, env)
	case "channel", "channels":
		return runChannel(ctx, rest, env)
	case "staff":
		return runStaff(ctx, rest, env)
	case "doctor":
		if len(rest) > 0 && rest[0] == "token" {
			return runDoctorToken(ctx, rest[1:], env)
		}
		return runDoctor(ctx, rest, env)
	case "setup":
		return runSetup(ctx, rest, env)
	case "manifest":
		return runManifest(ctx, rest, env)
	case "bench":
		return runBench(ctx, rest, env)
	case "emulator":
		return runEmulator(ctx, rest, env)
	case "help", "-h", "--help":
		fmt.Fprint(env.Stdout, usage)
		return nil
	}
	fmt.Fprint(env.Stderr, usage)
	return &exitError{2, fmt.Errorf("unknown command %q", cmd)}
}

// newFlags returns a flag set that reports errors instead of exiting.
func newFlags(name string, env Env) *flag.FlagSet {
	fs := flag.NewFlagSet("tamlink "+name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	return fs
}

// parse parses args allowing flags after positional arguments
// (tamlink channel show APPID --json).
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, &exitError{2, err}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func dataFlag(fs *flag.FlagSet, env Env, def string) *string {
	d := env.Getenv("TAMLINK_DATA")
	if d == "" {
		d = def
	}
	return fs.String("data", d, "data directory: database and secret key (env TAMLINK_DATA)")
}

// opened is what most commands need: the store, the key and the service.
type opened struct {
	db  *sqlstore.DB
	svc *desk.Service
	dir string
}

func (o *opened) Close() error { return o.db.Close() }

// open opens the data dir. createKey makes a key when none exists (demo, and
// the first command on a new data dir); otherwise a missing key is an error,
// so that secrets are never sealed with a key nobody kept.
func open(ctx context.Context, dir string, createKey bool, log *slog.Logger) (*opened, error) {
	if strings.TrimSpace(dir) == "" {
		return nil, &exitError{2, errors.New("--data DIR is required (or set TAMLINK_DATA)")}
	}
	dir, _ = filepath.Abs(dir)
	if st, err := os.Stat(dir); !createKey && (err != nil || !st.IsDir()) {
		return nil, &exitError{2, fmt.Errorf("data directory %s does not exist (check --data or TAMLINK_DATA)", dir)}
	}
	key, err := secretbox.LoadKey(filepath.Join(dir, "secret.key"), createKey)
	if err != nil {
		return nil, err
	}
	box, err := secretbox.New(key)
	if err != nil {
		return nil, err
	}
	db, err := sqlstore.Open(ctx, dir)
	if err != nil {
		return nil, err
	}
	// The database holds every conversation and the staff password hashes:
	// keep it private even if the operator made the directory readable.
	for _, f := range []string{"tamlink.db", "tamlink.db-wal", "tamlink.db-shm", "secret.key"} {
		if err := os.Chmod(filepath.Join(dir, f), 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			db.Close()
			return nil, err
		}
	}
	// Invite links are signed with a key derived from the secret key, so one
	// key file is all an operator backs up.
	svc := &desk.Service{Store: db, Sealer: box, InviteKey: deriveKey(key, "invite-links"), Log: log}
	return &opened{db: db, svc: svc, dir: dir}, nil
}
