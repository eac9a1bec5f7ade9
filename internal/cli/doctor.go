package cli

import (
	"context"
	"errors"
)

// runDoctor is not built yet (issue 4).
func runDoctor(ctx context.Context, args []string, env Env) error {
	return &exitError{2, errors.New("not implemented yet")}
}
