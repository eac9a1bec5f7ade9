package cli

import (
	"context"
	"errors"
)

// runBench is not built yet (issue 5).
func runBench(ctx context.Context, args []string, env Env) error {
	return &exitError{2, errors.New("not implemented yet")}
}
