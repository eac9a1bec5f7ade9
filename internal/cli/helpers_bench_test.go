package cli_test

import (
	"context"

	"github.com/tamlink/tamlink/internal/cli"
)

func startBenchDemo(ctx context.Context, dir string) (*cli.Demo, error) {
	return cli.StartDemo(ctx, cli.DemoOptions{Listen: "127.0.0.1:0", Data: dir})
}
