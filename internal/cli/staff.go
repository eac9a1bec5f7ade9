package cli

import (
	"bufio"
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tamlink/tamlink/internal/desk"
	"github.com/tamlink/tamlink/internal/password"
	"github.com/tamlink/tamlink/internal/web"
)

func runStaff(ctx context.Context, args []string, env Env) error {
	if len(args) == 0 {
		return &exitError{2, fmt.Errorf("staff needs a subcommand: add, list, token, assign")}
	}
	sub, args := args[0], args[1:]
	fs := newFlags("staff "+sub, env)
	data := dataFlag(fs, env, "")
	email := fs.String("email", "", "staff e-mail (sign-in name)")
	name := fs.String("name", "", "display name")
	admin := fs.Bool("admin", false, "admin: sees every organisation, manages channels")
	days := fs.Int("days", 90, "API token lifetime in days (token)")
	org := fs.String("org", "", "organisation name (assign)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	o, err := open(ctx, *data, sub == "add", nil)
	if err != nil {
		return err
	}
	defer o.Close()
	switch sub {
	case "add":
		if !strings.Contains(*email, "@") {
			return desk.Invalid("email", "is required: --email ADDRESS")
		}
		pw := env.Getenv("TAMLINK_PASSWORD")
		if pw == "" {
			fmt.Fprint(env.Stderr, "password (read from stdin): ")
			line, _ := bufio.NewReader(env.Stdin).ReadString('\n')
			pw = strings.TrimRight(line, "\r\n")
		}
		hash, err := password.Hash(pw)
		if err != nil {
			return desk.Invalid("password", "%v", err)
		}
		st, err := o.svc.AddStaff(ctx, *email, *name, hash, *admin)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "added staff %s (%s)%s\n", st.Email, st.Name, map[bool]string{true: ", admin", false: ""}[st.Admin])
		return nil
	case "list", "ls":
		all, err := o.db.ListStaff(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tE-MAIL\tNAME\tADMIN")
		for _, s := range all {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%v\n", s.ID, s.Email, s.Name, s.Admin)
		}
		return tw.Flush()
	case "token":
		if *email == "" {
			return desk.Invalid("email", "is required: --email ADDRESS")
		}
		st, err := o.db.StaffByEmail(ctx, strings.ToLower(*email))
		if err != nil {
			return err
		}
		if !st.Admin {
			return desk.Invalid("email", "%s is not an admin; the admin API needs an admin", st.Email)
		}
		tok, hash := web.NewAPIToken()
		now := time.Now().UTC()
		if err := o.db.CreateSession(ctx, &desk.Session{TokenHash: hash, Kind: desk.SessionAPI, StaffID: st.ID, CreatedAt: now, ExpiresAt: now.AddDate(0, 0, *days)}); err != nil {
			return err
		}
		fmt.Fprintln(env.Stdout, tok)
		return nil
	case "assign":
		if *email == "" {
			return desk.Invalid("email", "is required: --email ADDRESS")
		}
		st, err := o.db.StaffByEmail(ctx, strings.ToLower(*email))
		if err != nil {
			return err
		}
		og, err := o.db.OrgByName(ctx, *org)
		if err != nil {
			return err
		}
		if err := o.db.AssignStaff(ctx, og.ID, st.ID); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "%s now serves %s\n", st.Email, og.Name)
		return nil
	}
	return &exitError{2, fmt.Errorf("unknown staff subcommand %q", sub)}
}
