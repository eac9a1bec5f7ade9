package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/tamlink/tamlink/internal/desk"
	"github.com/tamlink/tamlink/internal/entra"
	"github.com/tamlink/tamlink/internal/graph"
	"github.com/tamlink/tamlink/internal/manifest"
	"github.com/tamlink/tamlink/internal/setup"
)

// runDoctor checks a channel's registration, grants, catalog entry and
// package against what tamlink needs, naming each fault with its fix.
//
//	tamlink doctor --data DIR --app APPID [--admin]   a channel of this desk, with its own secret
//	tamlink doctor --tenant TID --app-id GUID          a registration, with an admin's sign-in
//	tamlink doctor --package FILE.zip [--domain HOST]  an app package
//
// With --data the channel's secret gets an app-only token: that proves the
// credentials and shows the granted application permissions (the roles
// claim), but app-only tokens usually may not read app registrations, and
// Graph lists the Teams app catalog only for a signed-in user. Those checks
// are reported as skipped until --admin adds a read-only admin sign-in.
func runDoctor(ctx context.Context, args []string, env Env) error {
	fs := newFlags("doctor", env)
	data := fs.String("data", "", "data directory of the tamlink server holding the channel (with --app)")
	app := fs.String("app", "", "appId of the channel to check (with --data)")
	admin := fs.Bool("admin", false, "with --data: also sign an admin in (read-only) for the checks app-only tokens cannot do")
	tenant := fs.String("tenant", "", "Directory (tenant) ID (with --app-id; signs an admin in)")
	appID := fs.String("app-id", "", "Application (client) ID of the registration to check")
	published := fs.String("published-app-id", "", "the channel's teamsPublishedAppId, to check which id it is")
	domain := fs.String("domain", "", "host tamlink is served from (default: from the Application ID URI, the package or TAMLINK_PUBLIC_URL)")
	pkgFile := fs.String("package", "", "Teams app package (.zip) to check")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	clientID := fs.String("client-id", setup.DefaultPublicClientID, "public client of the admin's device-code sign-in")
	loginURL := fs.String("login-url", "", "identity platform base URL (default: the data dir's, TAMLINK_LOGIN_URL or Microsoft's)")
	graphURL := fs.String("graph-url", "", "Microsoft Graph base URL (default: the data dir's, TAMLINK_GRAPH_URL or Microsoft's)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return &exitError{2, fmt.Errorf("doctor takes no arguments (got %q); see `tamlink doctor --help`", pos)}
	}
	if *data == "" && *tenant == "" && *pkgFile == "" {
		return &exitError{2, fmt.Errorf("doctor needs --data DIR --app APPID, --tenant TID --app-id GUID, or --package FILE")}
	}
	cfg := setup.DoctorConfig{TenantID: strings.ToLower(*tenant), AppID: *appID, PublishedAppID: *published, Domain: *domain, Explain: entra.Explain}
	if cfg.Domain == "" {
		if u := env.Getenv("TAMLINK_PUBLIC_URL"); u != "" {
			cfg.Domain, _ = manifest.NormalizeDomain("domain", u)
		}
	} else if cfg.Domain, err = manifest.NormalizeDomain("domain", cfg.Domain); err != nil {
		return err
	}
	if *pkgFile != "" {
		raw, err := os.ReadFile(*pkgFile)
		if err != nil {
			return desk.Invalid("package", "cannot read %s: %v", *pkgFile, err)
		}
		if cfg.Package, err = manifest.Read(raw); err != nil {
			return err
		}
		cfg.PackageName = *pkgFile
	}
	ep := adminEndpoints(env, *loginURL, *graphURL)
	if *data != "" {
		if *app == "" {
			return desk.Invalid("app", "is required with --data: the channel's appId (tamlink channel list)")
		}
		o, err := open(ctx, *data, false, nil)
		if err != nil {
			return err
		}
		defer o.Close()
		ch, err := o.svc.Channel(ctx, *app)
		if err != nil {
			return err
		}
		secret, err := o.svc.ChannelSecret(ch)
		if err != nil {
			return err
		}
		chEP := loadEndpoints(o.dir, env)
		if *loginURL != "" {
			chEP.LoginURL = *loginURL
		}
		if *graphURL != "" {
			chEP.GraphURL = *graphURL
		}
		ep = adminEndpoints(Env{Getenv: func(string) string { return "" }}, chEP.LoginURL, chEP.GraphURL)
		cfg.TenantID, cfg.AppID, cfg.PublishedAppID = ch.TenantID, ch.AppID, ch.TeamsPublishedAppID
		if *published != "" {
			cfg.PublishedAppID = *published
		}
		cfg.SecretHint, cfg.SecretExpires = secret[:min(3, len(secret))], ch.SecretExpiresAt
		cfg.AppToken = appOnlyToken(entra.New(ep, nil), ch.TenantID, ch.AppID, secret)
		cfg.AppGraph = &graph.Client{BaseURL: ep.GraphURL, HTTP: &http.Client{Timeout: 60 * time.Second}, Token: cfg.AppToken, MaxRetries: 1}
	} else if *tenant != "" && *appID == "" {
		return desk.Invalid("app-id", "is required with --tenant: the Application (client) ID to check")
	}
	if *tenant != "" || *admin {
		if !desk.IsGUID(cfg.TenantID) {
			return desk.Invalid("tenant", "must be the Directory (tenant) ID, a GUID; got %q", cfg.TenantID)
		}
		tok, err := adminToken(ctx, env, ep, cfg.TenantID, *clientID, setup.ReadScopes)
		if err != nil {
			return err
		}
		cfg.Admin = &graph.Client{BaseURL: ep.GraphURL, HTTP: &http.Client{Timeout: 60 * time.Second}, Token: tok}
	}
	rep := setup.Doctor(ctx, cfg)
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		rep.WriteText(env.Stdout)
	}
	if n := rep.Count(setup.Fault); n > 0 {
		return &exitError{1, fmt.Errorf("doctor found %d fault(s)", n)}
	}
	return nil
}

// appOnlyToken gets (once) a client-credentials Graph token with the
// channel's secret.
func appOnlyToken(c *entra.Client, tenant, appID, secret string) func(context.Context) (string, error) {
	var (
		mu  sync.Mutex
		tok string
		err error
		got bool
	)
	return func(ctx context.Context) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		if !got {
			ot, e := c.ClientCredentials(ctx, tenant, appID, secret, entra.GraphResource+"/.default")
			if e == nil {
				tok = ot.AccessToken
			}
			err, got = e, true
		}
		return tok, err
	}
}
