package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/tamlink/tamlink/internal/desk"
	"github.com/tamlink/tamlink/internal/entra"
	"github.com/tamlink/tamlink/internal/graph"
	"github.com/tamlink/tamlink/internal/manifest"
	"github.com/tamlink/tamlink/internal/setup"
)

// adminEndpoints are Microsoft's sign-in and Graph, or what the flags and
// TAMLINK_LOGIN_URL / TAMLINK_GRAPH_URL say (the emulator's, in a demo).
func adminEndpoints(env Env, loginFlag, graphFlag string) entra.Endpoints {
	ep := entra.Microsoft
	if v := env.Getenv("TAMLINK_LOGIN_URL"); v != "" {
		ep.LoginURL = v
	}
	if v := env.Getenv("TAMLINK_GRAPH_URL"); v != "" {
		ep.GraphURL = v
	}
	if loginFlag != "" {
		ep.LoginURL = loginFlag
	}
	if graphFlag != "" {
		ep.GraphURL = graphFlag
	}
	ep.LoginURL, ep.GraphURL = strings.TrimRight(ep.LoginURL, "/"), strings.TrimRight(ep.GraphURL, "/")
	return ep
}

// adminToken signs an admin in: TAMLINK_GRAPH_TOKEN when set (a delegated
// Graph token obtained elsewhere, e.g. from the Azure CLI), else the device
// code flow with the public client.
func adminToken(ctx context.Context, env Env, ep entra.Endpoints, tenant, clientID string, scopes []string) (func(context.Context) (string, error), error) {
	if t := strings.TrimSpace(env.Getenv("TAMLINK_GRAPH_TOKEN")); t != "" {
		fmt.Fprintln(env.Stderr, "using the admin's Graph token from TAMLINK_GRAPH_TOKEN")
		return func(context.Context) (string, error) { return t, nil }, nil
	}
	d := &setup.DeviceLogin{LoginURL: ep.LoginURL, Tenant: tenant, ClientID: clientID, Scopes: scopes,
		Prompt: func(dc setup.DeviceCode) {
			fmt.Fprintf(env.Stderr, "Sign in as an administrator of tenant %s (permissions: %s).\n%s\n", tenant, strings.Join(scopes, ", "), dc.Message)
		}}
	tok, err := d.Token(ctx)
	if err != nil {
		return nil, fmt.Errorf("admin sign-in at %s: %w", ep.LoginURL, err)
	}
	fmt.Fprintln(env.Stderr, "signed in")
	return tok.Source(), nil
}

// runSetup performs the guide's sections 3 and 4 through Microsoft Graph.
func runSetup(ctx context.Context, args []string, env Env) error {
	fs := newFlags("setup", env)
	tenant := fs.String("tenant", "", "Directory (tenant) ID of the customer's Microsoft 365 tenant (required)")
	domain := fs.String("domain", "", "host tamlink is served from, e.g. desk.example.com (required)")
	appID := fs.String("app-id", "", "adopt this existing app registration (default: find it by tag or display name, else create one)")
	displayName := fs.String("display-name", "", "name of a new app registration (default \"tamlink service desk (DOMAIN)\")")
	months := fs.Int("secret-months", 24, "lifetime of a new client secret in months (1–24)")
	newSecret := fs.Bool("new-secret", false, "add a new client secret even if a valid one exists (rotation)")
	republish := fs.Bool("republish", false, "upload the Teams app package again with a higher version")
	pkgOut := fs.String("package-out", "", "also write the published app package to this file")
	register := fs.String("register", "", "tamlink server URL: post the channel to its admin API")
	token := fs.String("token", "", "admin API token for --register (default TAMLINK_ADMIN_TOKEN; mint one with: tamlink staff token --email ADMIN)")
	org := fs.String("org", "", "customer organisation name for --register")
	out := fs.String("out", "", "write the channel JSON to this file (mode 0600) instead of standard output")
	dryRun := fs.Bool("dry-run", false, "print every request setup would send and send no writes; no sign-in unless --read")
	read := fs.Bool("read", false, "with --dry-run: sign in with read-only permissions and plan against the tenant's current state")
	clientID := fs.String("client-id", setup.DefaultPublicClientID, "public client of the admin's device-code sign-in")
	loginURL := fs.String("login-url", "", "identity platform base URL (default https://login.microsoftonline.com or TAMLINK_LOGIN_URL)")
	graphURL := fs.String("graph-url", "", "Microsoft Graph base URL (default https://graph.microsoft.com or TAMLINK_GRAPH_URL)")
	mf := addManifestFlags(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return &exitError{2, fmt.Errorf("setup takes no arguments (got %q)", pos)}
	}
	if *read && !*dryRun {
		return desk.Invalid("read", "only goes with --dry-run")
	}
	pkg, err := mf.options()
	if err != nil {
		return err
	}
	cfg := setup.Config{Tenant: *tenant, Domain: *domain, AppID: *appID, DisplayName: *displayName, Package: pkg,
		SecretMonths: *months, NewSecret: *newSecret, Republish: *republish, PackageOut: *pkgOut, DryRun: *dryRun, Out: env.Stderr}
	if *register != "" || *org != "" {
		t := *token
		if t == "" {
			t = env.Getenv("TAMLINK_ADMIN_TOKEN")
		}
		cfg.Register = &setup.Registration{URL: *register, Token: t, Org: *org}
	}
	if !desk.IsGUID(strings.TrimSpace(*tenant)) {
		return desk.Invalid("tenant", "is required: the Directory (tenant) ID, a GUID (Entra admin center → Overview); got %q", *tenant)
	}
	if _, err := manifest.NormalizeDomain("domain", *domain); err != nil {
		return err
	}
	ep := adminEndpoints(env, *loginURL, *graphURL)
	g := &graph.Client{BaseURL: ep.GraphURL, HTTP: &http.Client{Timeout: 60 * time.Second}}
	if *dryRun {
		cfg.Out = env.Stdout
		dry := &setup.DryRunTransport{Out: env.Stdout}
		if *read {
			dry.Next = http.DefaultTransport
			if g.Token, err = adminToken(ctx, env, ep, strings.TrimSpace(*tenant), *clientID, setup.ReadScopes); err != nil {
				return err
			}
		}
		g.HTTP.Transport = dry
		fmt.Fprintf(env.Stdout, "Dry run: no request below is sent; ids Entra would assign are shown as {placeholders}.\n")
		if !*read {
			fmt.Fprintf(env.Stdout, "Without --read nobody signs in and the tenant is assumed empty: this is the plan of a first setup.\n")
		}
		fmt.Fprintln(env.Stdout)
	} else if g.Token, err = adminToken(ctx, env, ep, strings.TrimSpace(*tenant), *clientID, setup.SetupScopes); err != nil {
		return err
	}
	cfg.Graph = g
	res, err := setup.Run(ctx, cfg)
	if err != nil {
		var se *setup.StepError
		if errors.As(err, &se) {
			return &exitError{1, err}
		}
		return err
	}
	return printChannel(env, res, *out, *dryRun)
}

func printChannel(env Env, res *setup.Result, out string, dry bool) error {
	// Once the server has the secret, it is shown nowhere else.
	doc := setup.ChannelJSON(res.Channel, dry || res.Registered)
	if res.Registered {
		fmt.Fprintln(env.Stderr, "the channel is registered; its secret went to the server only and is masked below")
	}
	w := io.Writer(env.Stdout)
	if dry {
		fmt.Fprintf(env.Stdout, "\n%d write request(s) planned. The channel JSON (guide 5.1) would be:\n", res.Writes)
	} else {
		fmt.Fprintf(env.Stderr, "\nsetup done: %d change(s) made.\n", res.Writes)
	}
	if out != "" && !dry {
		if err := manifest.WriteFileAtomic(out, doc, 0o600); err != nil {
			return desk.Invalid("out", "cannot write %s: %v", out, err)
		}
		fmt.Fprintf(env.Stderr, "channel JSON written to %s (it holds the secret: mode 0600)\n", out)
	} else {
		_, _ = w.Write(doc)
	}
	if res.SecretNote != "" {
		fmt.Fprintf(env.Stderr, "note: %s\n", res.SecretNote)
	}
	if !res.SecretExpires.IsZero() && !dry && !res.Registered {
		fmt.Fprintf(env.Stderr, "the secret expires on %s: add the channel with --secret-expires %s so the desk warns in time\n",
			res.SecretExpires.Format("2006-01-02"), res.SecretExpires.Format("2006-01-02"))
	}
	if res.CatalogState == "submitted" {
		fmt.Fprintln(env.Stderr, "note: the Teams app waits for approval in Teams admin center (guide 4.3)")
	}
	return nil
}
