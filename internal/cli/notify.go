package cli

import (
	"context"
	"net/http"

	"github.com/tamlink/tamlink/internal/desk"
	"github.com/tamlink/tamlink/internal/entra"
	"github.com/tamlink/tamlink/internal/notify"
)

// startNotifier runs the Teams notification workers beside the web server:
// app-only tokens from each channel's tenant, Graph at the endpoints the
// server uses (Microsoft's, or the demo's emulator).
func startNotifier(ctx context.Context, d serverDeps, hc *http.Client) (*notify.Notifier, error) {
	n, err := notify.New(notify.Config{
		DB: d.o.db, Service: d.o.svc, Entra: entra.New(d.endpoints, hc), GraphURL: d.endpoints.GraphURL,
		Log: d.log.With("component", "notify"), LockDir: d.o.dir,
	})
	if err != nil {
		return nil, err
	}
	if err := n.Start(ctx); err != nil {
		return nil, err
	}
	return n, nil
}

// activityTypeNames are the declared activity types, as a Teams app
// manifest lists them.
func activityTypeNames() []string {
	out := make([]string, len(desk.ActivityTypes))
	for i, a := range desk.ActivityTypes {
		out[i] = a.Type
	}
	return out
}
