package cli

import (
	"context"
	"errors"
)

// runDoctorToken is not built yet (issue 3).
func runDoctorToken(ctx context.Context, args []string, env Env) error {
	return &exitError{2, errors.New("not implemented yet")}
}
