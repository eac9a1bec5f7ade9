package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/tamlink/tamlink/internal/desk"
	"github.com/tamlink/tamlink/internal/entra"
	"github.com/tamlink/tamlink/internal/web"
)

func runChannel(ctx context.Context, args []string, env Env) error {
	if len(args) == 0 {
		return &exitError{2, fmt.Errorf("channel needs a subcommand: add, list, show, remove, test")}
	}
	sub, args := args[0], args[1:]
	fs := newFlags("channel "+sub, env)
	data := dataFlag(fs, env, "")
	// Each subcommand declares only its own flags, so its --help is its own.
	asJSON, org, expires := new(bool), new(string), new(string)
	switch sub {
	case "add", "list", "ls", "show":
		asJSON = fs.Bool("json", false, "print JSON")
	}
	if sub == "add" {
		org = fs.String("org", "", "customer organisation name")
		expires = fs.String("secret-expires", "", "the client secret's expiry date, YYYY-MM-DD")
	}
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	o, err := open(ctx, *data, sub == "add", nil)
	if err != nil {
		return err
	}
	defer o.Close()
	switch sub {
	case "add":
		return channelAdd(ctx, o, pos, *org, *expires, *asJSON, env)
	case "list", "ls":
		chs, err := o.svc.Channels(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			views := make([]any, len(chs))
			for i, c := range chs {
				views[i] = web.ChannelJSON(c)
			}
			return printJSON(env.Stdout, views)
		}
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "APP ID\tTENANT ID\tORGANISATION\tPUBLISHED APP ID\tSECRET EXPIRES\tLAST TEST")
		for _, c := range chs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", c.AppID, c.TenantID, c.OrgName, c.TeamsPublishedAppID, dateOrUnknown(c.SecretExpiresAt), lastTest(c))
		}
		return tw.Flush()
	case "show":
		c, err := oneChannel(ctx, o, pos)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(env.Stdout, web.ChannelJSON(c))
		}
		fmt.Fprintf(env.Stdout, "App (client) ID:       %s\nDirectory (tenant) ID: %s\nOrganisation:          %s\nteamsPublishedAppId:   %s (%s)\nSecret:                stored encrypted; expires %s\nAdded:                 %s\nLast test:             %s\n",
			c.AppID, c.TenantID, c.OrgName, c.TeamsPublishedAppID, c.PublishedIDKind, dateOrUnknown(c.SecretExpiresAt), c.CreatedAt.Format(time.RFC3339), lastTest(c))
		return nil
	case "remove", "rm":
		c, err := oneChannel(ctx, o, pos)
		if err != nil {
			return err
		}
		if err := o.svc.RemoveChannel(ctx, c.AppID); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "removed channel %s (organisation %q and its history are kept)\n", c.AppID, c.OrgName)
		return nil
	case "test":
		c, err := oneChannel(ctx, o, pos)
		if err != nil {
			return err
		}
		secret, err := o.svc.ChannelSecret(c)
		if err != nil {
			return err
		}
		ep := loadEndpoints(o.dir, env)
		cl := entra.New(ep, nil)
		if err := cl.TestConnection(ctx, c.TenantID, c.AppID, secret); err != nil {
			msg := entra.Explain(err)
			_ = o.svc.RecordChannelTest(ctx, c.AppID, false, msg)
			return &exitError{1, fmt.Errorf("test of channel %s failed against %s: %s", c.AppID, ep.LoginURL, msg)}
		}
		_ = o.svc.RecordChannelTest(ctx, c.AppID, true, "connection works")
		fmt.Fprintf(env.Stdout, "ok: tenant %s issued an app-only token for %s (%s)\n", c.TenantID, c.AppID, ep.LoginURL)
		return nil
	}
	return &exitError{2, fmt.Errorf("unknown channel subcommand %q", sub)}
}

func channelAdd(ctx context.Context, o *opened, pos []string, org, expires string, asJSON bool, env Env) error {
	var in io.Reader = env.Stdin
	switch {
	case len(pos) > 1:
		return &exitError{2, fmt.Errorf("channel add takes one FILE (or - for stdin)")}
	case len(pos) == 1 && pos[0] != "-":
		f, err := os.Open(pos[0])
		if err != nil {
			return &exitError{2, err}
		}
		defer f.Close()
		in = f
	}
	cfg, err := desk.ParseChannelConfig(in)
	if err != nil {
		return err
	}
	var exp time.Time
	if expires != "" {
		if exp, err = time.Parse("2006-01-02", expires); err != nil {
			return desk.Invalid("secret-expires", "must be a date like 2027-12-31")
		}
	}
	ch, err := o.svc.AddChannel(ctx, cfg, org, exp)
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(env.Stdout, web.ChannelJSON(ch))
	}
	fmt.Fprintf(env.Stdout, "added channel %s for %q (tenant %s); the secret is stored encrypted.\nRun `tamlink channel test --data %s %s` to check the credentials.\n", ch.AppID, ch.OrgName, ch.TenantID, o.dir, ch.AppID)
	return nil
}

func oneChannel(ctx context.Context, o *opened, pos []string) (desk.Channel, error) {
	if len(pos) != 1 {
		return desk.Channel{}, &exitError{2, fmt.Errorf("give exactly one APPID")}
	}
	return o.svc.Channel(ctx, pos[0])
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func dateOrUnknown(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.Format("2006-01-02")
}

func lastTest(c desk.Channel) string {
	if c.LastTest == nil {
		return "never"
	}
	r := "failed: " + c.LastTest.Message
	if c.LastTest.OK {
		r = "ok"
	}
	return r + " (" + c.LastTest.At.Format(time.RFC3339) + ")"
}
