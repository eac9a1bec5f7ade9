package cli

import (
	"context"
	"errors"
)

// runManifest is not built yet (issue 4).
func runManifest(ctx context.Context, args []string, env Env) error {
	return &exitError{2, errors.New("not implemented yet")}
}
