package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/tamlink/tamlink/internal/emulator"
)

// runEmulator serves the Microsoft emulator on its own, with its control
// API, so that it outlives the tamlink processes that use it (the
// benchmark's crash test kills those).
func runEmulator(ctx context.Context, args []string, env Env) error {
	fs := newFlags("emulator", env)
	addr := fs.String("listen", "127.0.0.1:8081", "address to listen on")
	withStdin := fs.Bool("exit-with-stdin", false, "exit when standard input closes (when run as another process's child)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	ln, url, err := listen(*addr, "")
	if err != nil {
		return err
	}
	log := newLogger(env)
	e, err := emulator.New(emulator.Config{BaseURL: url, Logger: log.With("component", "emulator")})
	if err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{Handler: e.Standalone(), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(env.Stdout, "tamlink emulator at %s — login %s, Graph %s, control API %s/control/\n", url, e.LoginURL(), e.GraphURL(), url)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if *withStdin && env.Stdin != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		go func() {
			_, _ = io.Copy(io.Discard, env.Stdin)
			cancel()
		}()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
