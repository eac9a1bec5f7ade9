// Command tamlink is the expert service desk in Microsoft Teams: see README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/tamlink/tamlink/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
	stop()
	os.Exit(code)
}
