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
		return &exitError{2, fmt.Errorf("staff needs a subcommand: add, list, token, assign, unassign, passwd, revoke, remove")}
	}
	sub, args := args[0], args[1:]
	fs := newFlags("staff "+sub, env)
	data := dataFlag(fs, env, "")
	// Each subcommand declares only its own flags, so its --help is its own.
	email, name, org := new(string), new(string), new(string)
	admin, days := new(bool), new(int)
	if sub != "list" && sub != "ls" {
		email = fs.String("email", "", "staff e-mail (sign-in name)")
	}
	switch sub {
	case "add":
		name = fs.String("name", "", "display name")
		admin = fs.Bool("admin", false, "admin: sees every organisation, manages channels")
	case "token":
		days = fs.Int("days", 90, "API token lifetime in days (at most 365)")
	case "assign", "unassign":
		org = fs.String("org", "", "organisation name")
	}
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
		pw, err := readPassword(env)
		if err != nil {
			return err
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
	case "passwd", "remove", "revoke", "assign", "unassign", "token":
		if *email == "" {
			return desk.Invalid("email", "is required: --email ADDRESS")
		}
		if sub == "token" && (*days < 1 || *days > 365) {
			return desk.Invalid("days", "must be between 1 and 365")
		}
		st, err := o.db.StaffByEmail(ctx, strings.ToLower(*email))
		if err != nil {
			return err
		}
		return staffChange(ctx, o, sub, st, *org, *days, env)
	}
	return &exitError{2, fmt.Errorf("unknown staff subcommand %q", sub)}
}

// staffChange changes, grants or takes away a staff member's access. Ending their
// sessions also closes their live console within seconds (live.go rechecks).
func staffChange(ctx context.Context, o *opened, sub string, st desk.Staff, org string, days int, env Env) error {
	switch sub {
	case "token":
		if !st.Admin {
			return desk.Invalid("email", "%s is not an admin; the admin API needs an admin", st.Email)
		}
		tok, hash := web.NewAPIToken()
		now := time.Now().UTC()
		if err := o.db.CreateSession(ctx, &desk.Session{TokenHash: hash, Kind: desk.SessionAPI, StaffID: st.ID, CreatedAt: now, ExpiresAt: now.AddDate(0, 0, days)}); err != nil {
			return err
		}
		fmt.Fprintln(env.Stdout, tok)
	case "passwd":
		pw, err := readPassword(env)
		if err != nil {
			return err
		}
		hash, err := password.Hash(pw)
		if err != nil {
			return desk.Invalid("password", "%v", err)
		}
		if err := o.db.SetStaffPassword(ctx, st.ID, hash); err != nil {
			return err
		}
		if err := o.db.DeleteStaffSessions(ctx, st.ID, desk.SessionConsole); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "password of %s changed; their console sign-ins were ended\n", st.Email)
	case "revoke":
		for _, k := range []desk.SessionKind{desk.SessionConsole, desk.SessionAPI} {
			if err := o.db.DeleteStaffSessions(ctx, st.ID, k); err != nil {
				return err
			}
		}
		fmt.Fprintf(env.Stdout, "ended every console sign-in and API token of %s\n", st.Email)
	case "remove":
		if err := o.db.DeleteStaff(ctx, st.ID); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "removed %s; their tickets are unassigned\n", st.Email)
	case "assign", "unassign":
		og, err := o.db.OrgByName(ctx, org)
		if err != nil {
			return err
		}
		if sub == "assign" {
			err = o.db.AssignStaff(ctx, og.ID, st.ID)
		} else {
			err = o.db.UnassignStaff(ctx, og.ID, st.ID)
		}
		if err != nil {
			return err
		}
		verb := map[bool]string{true: "now serves", false: "no longer serves"}[sub == "assign"]
		fmt.Fprintf(env.Stdout, "%s %s %s\n", st.Email, verb, og.Name)
	}
	return nil
}

// readPassword takes TAMLINK_PASSWORD, else a line of standard input.
func readPassword(env Env) (string, error) {
	if pw := env.Getenv("TAMLINK_PASSWORD"); pw != "" {
		return pw, nil
	}
	fmt.Fprint(env.Stderr, "password (read from stdin): ")
	line, err := bufio.NewReader(env.Stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", desk.Invalid("password", "none given: set TAMLINK_PASSWORD or type it on standard input")
	}
	return strings.TrimRight(line, "\r\n"), nil
}
