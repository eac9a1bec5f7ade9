package cli

import (
	"context"
	"errors"
)

// runSetup is not built yet (issue 4).
func runSetup(ctx context.Context, args []string, env Env) error {
	return &exitError{2, errors.New("not implemented yet")}
}
