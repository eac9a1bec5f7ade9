package cli

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tamlink/tamlink/internal/desk"
	"github.com/tamlink/tamlink/internal/emulator"
	"github.com/tamlink/tamlink/internal/entra"
	"github.com/tamlink/tamlink/internal/password"
)

// The demo organisation: fixed ids, so a restarted demo finds its data again.
const (
	demoTenant      = "72f988bf-0000-4c5b-a000-00000000c0de"
	demoAppID       = "4f1b8c7e-2d3a-4e5f-8a9b-0c1d2e3f4a5b"
	demoPublishedID = "a3e1c5d7-9b2f-4d6e-8c0a-1b3d5f7e9a2c"
	demoScopeID     = "e5b1c3d7-0f2a-4b6c-9d8e-7a1b2c3d4e5f"
	demoOrg         = "Contoso Ltd"
	demoStaffEmail  = "tam@desk.example"
)

var demoUsers = []emulator.User{
	{ObjectID: "00000000-0000-4000-a000-00000000ad01", DisplayName: "Adele Vance", GivenName: "Adele", Surname: "Vance", UserPrincipalName: "AdeleV@contoso.example", Mail: "AdeleV@contoso.example", JobTitle: "IT Manager", PreferredLanguage: "en-GB"},
	{ObjectID: "00000000-0000-4000-a000-00000000ad02", DisplayName: "Alex Wilber", GivenName: "Alex", Surname: "Wilber", UserPrincipalName: "AlexW@contoso.example", Mail: "AlexW@contoso.example", JobTitle: "Cloud Engineer", PreferredLanguage: "en-US"},
	{ObjectID: "00000000-0000-4000-a000-00000000ad03", DisplayName: "Megan Bowen", GivenName: "Megan", Surname: "Bowen", UserPrincipalName: "MeganB@contoso.example", Mail: "MeganB@contoso.example", JobTitle: "Marketing Manager", PreferredLanguage: "de-DE"},
}

// Microsoft's Teams and Office clients that the guide pre-authorizes.
var teamsClients = []string{
	"1fec8e78-bce4-4aaf-ab1b-5451cc387264", "5e3ce6c0-2b1f-4285-8d4b-75ee78787346", "d3590ed6-52b3-4102-aeff-aad2292ab01c",
	"00000002-0000-0ff1-ce00-000000000000", "bc59ab01-8403-45c6-8796-ac3ef710b3e3", "0ec893e0-5785-4de6-99da-4ed124e5296c",
	"4765445b-32c6-49b0-83e6-1d93765276ca", "4345a7b9-9a63-4910-a426-35363201d503",
}

func runDemo(ctx context.Context, args []string, env Env) error {
	fs := newFlags("demo", env)
	sf := addServerFlags(fs, env, "127.0.0.1:8080", ".demo")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if host, _, err := net.SplitHostPort(*sf.listen); err == nil {
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			fmt.Fprintf(env.Stderr, "tamlink: warning: the demo listens on %s; its emulator signs anyone in as any demo user and mints Teams tokens. Keep it to a private machine, or use --listen 127.0.0.1:PORT.\n", *sf.listen)
		}
	}
	d, err := StartDemo(ctx, DemoOptions{Listen: *sf.listen, Data: *sf.data, PublicURL: *sf.publicURL, TeamsJS: findTeamsJS(*sf.teamsJS), Log: newLogger(env)})
	if err != nil {
		return err
	}
	sdk := "installed: the workbench signs in silently inside Teams hosts"
	inTeams := "the workbench inside the emulated Teams client, signed in silently as Adele Vance"
	if d.TeamsJS == "" {
		sdk = "not installed (run `make web`): the workbench offers browser sign-in only"
		inTeams = "the workbench inside the emulated Teams client (install the Teams JS SDK for silent sign-in)"
	}
	fmt.Fprintf(env.Stdout, `
tamlink demo is running (data in %s, Microsoft emulated at %s/emulator)

  In Teams (emulated Teams client):    %s
      %s; the page's side panel switches user and theme.
      Add &consent=once|deny, &token=hang|empty|junk|otherapp|expired, &context=channel|sharedchannel,
      &client=android|ios, &theme=dark|contrast or &locale=de-DE to see how the workbench copes.
  Customer workbench (the Teams tab):  %s/teams/%s/workbench
      in a plain browser: sign in as Adele Vance, Alex Wilber or Megan Bowen (the emulator's sign-in page lists them)
  Desk console:                        %s/console
      e-mail %s   password %s
  Health:                              %s/healthz   %s/readyz   metrics %s/metrics
  Teams JS SDK:                        %s

Press Ctrl+C to stop.
`, d.Dir, d.URL, d.TeamsHostURL(d.Users[0].ObjectID, nil), inTeams, d.URL, d.AppID, d.URL, d.StaffEmail, d.StaffPassword, d.URL, d.URL, d.URL, sdk)
	<-ctx.Done()
	d.Close()
	return nil
}

// DemoOptions configure StartDemo.
type DemoOptions struct {
	Listen, Data, PublicURL, TeamsJS string
	Log                              *slog.Logger
	// TabSessionTTL overrides how long a workbench session lasts (tests of
	// session renewal); zero keeps the server's default.
	TabSessionTTL time.Duration
}

// Demo is a running demo server: tests drive it through these fields.
type Demo struct {
	URL, Dir, TeamsJS               string
	AppID, TenantID, PublishedAppID string
	// HostOrigin is the origin the emulated Teams client is served from:
	// the demo's other loopback name (localhost for 127.0.0.1 and back), so
	// that, as in real Teams, the host and the tab are different origins.
	HostOrigin                string
	StaffEmail, StaffPassword string
	Users                     []emulator.User
	Emulator                  *emulator.Emulator
	Service                   *desk.Service
	run                       *running
	o                         *opened
	log                       *slog.Logger
}

// StartDemo starts tamlink with the emulator on SQLite in opts.Data, seeding
// the demo organisation the first time.
func StartDemo(ctx context.Context, opts DemoOptions) (*Demo, error) {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	o, err := open(ctx, opts.Data, true, log)
	if err != nil {
		return nil, err
	}
	ln, public, err := listen(opts.Listen, opts.PublicURL)
	if err != nil {
		o.Close()
		return nil, err
	}
	fail := func(err error) (*Demo, error) {
		ln.Close()
		o.Close()
		return nil, err
	}
	emu, err := emulator.New(emulator.Config{BaseURL: public + "/emulator", Logger: log.With("component", "emulator")})
	if err != nil {
		return fail(err)
	}
	staffPW, err := seedDemo(ctx, o, emu, public)
	if err != nil {
		return fail(fmt.Errorf("seed demo data: %w", err))
	}
	ep := entra.Endpoints{LoginURL: emu.LoginURL(), STSURL: emu.STSURL(), GraphURL: emu.GraphURL()}
	hostOrigin := otherLoopbackOrigin(public)
	var ancestors []string
	if hostOrigin != public {
		ancestors = []string{hostOrigin}
	}
	r, err := startServer(ctx, serverDeps{o: o, ln: ln, publicURL: public, endpoints: ep, emu: emu, teamsJS: opts.TeamsJS, log: log,
		frameAncestors: ancestors, tabTTL: opts.TabSessionTTL})
	if err != nil {
		return fail(err)
	}
	return &Demo{
		URL: public, Dir: o.dir, TeamsJS: opts.TeamsJS, AppID: demoAppID, TenantID: demoTenant, PublishedAppID: demoPublishedID, HostOrigin: hostOrigin,
		StaffEmail: demoStaffEmail, StaffPassword: staffPW, Users: demoUsers, Emulator: emu, Service: o.svc, run: r, o: o, log: log,
	}, nil
}

// TeamsHostURL is the emulated Teams client showing the demo's workbench to
// the user with object id userOID, with the host's misbehaviour flags (see
// the emulator's hostFlags), e.g. url.Values{"consent": {"once"}}.
func (d *Demo) TeamsHostURL(userOID string, flags url.Values) string {
	u := d.Emulator.TeamsHostURL(d.TenantID, d.AppID, userOID, flags)
	if p, err := url.Parse(u); err == nil {
		if h, err := url.Parse(d.HostOrigin); err == nil {
			p.Scheme, p.Host = h.Scheme, h.Host
			return p.String()
		}
	}
	return u
}

// otherLoopbackOrigin swaps 127.0.0.1 and localhost in an origin; any other
// host is returned as it is.
func otherLoopbackOrigin(public string) string {
	u, err := url.Parse(public)
	if err != nil {
		return public
	}
	switch u.Hostname() {
	case "127.0.0.1":
		u.Host = strings.Replace(u.Host, "127.0.0.1", "localhost", 1)
	case "localhost":
		u.Host = strings.Replace(u.Host, "localhost", "127.0.0.1", 1)
	default:
		return public
	}
	return u.Scheme + "://" + u.Host
}

// Close shuts the demo down gracefully.
func (d *Demo) Close() {
	d.run.shutdown(d.log)
	d.o.Close()
}

// seedDemo registers the demo tenant in the emulator (it keeps no state) and,
// the first time only, the channel, staff account and tickets in the store.
func seedDemo(ctx context.Context, o *opened, emu *emulator.Emulator, public string) (string, error) {
	pwFile := filepath.Join(o.dir, "demo-login.txt")
	ch, err := o.svc.Channel(ctx, demoAppID)
	if desk.ErrorCode(err) == desk.ENotFound {
		if ch, err = firstSeed(ctx, o, pwFile); err != nil {
			return "", err
		}
	} else if err != nil {
		return "", err
	}
	secret, err := o.svc.ChannelSecret(ch)
	if err != nil {
		return "", err
	}
	u, _ := url.Parse(public)
	if err := emu.AddTenant(emulator.Tenant{ID: demoTenant, DisplayName: demoOrg, Domain: "contoso.example"}); err != nil {
		return "", err
	}
	for _, du := range demoUsers {
		if err := emu.AddUser(demoTenant, du); err != nil {
			return "", err
		}
	}
	var redirects []string
	for _, p := range []string{"/teams/%s", "/teams/%s/workbench", "/thirdparty/teams/%s/login", "/thirdparty/teams/%s/oauth2/callback", "/teams/%s/person/inviteToGroup"} {
		redirects = append(redirects, public+fmt.Sprintf(p, demoAppID))
	}
	err = emu.AddApp(demoTenant, emulator.App{
		AppID: demoAppID, DisplayName: "tamlink demo", RedirectURIs: redirects,
		Secrets:              []emulator.Secret{{KeyID: "b1e2d3c4-0000-4000-8000-000000000001", Value: secret, Hint: secret[:3], EndDateTime: time.Now().AddDate(2, 0, 0)}},
		IdentifierURIs:       []string{desk.AppIDURI(u.Host, demoAppID)},
		Scopes:               []emulator.Scope{{ID: demoScopeID, Value: "access_as_user", Enabled: true}},
		PreAuthorizedClients: teamsClients, AccessTokenVersion: 2, RequiredGraphScopes: []string{"User.Read"},
		// As `tamlink setup` leaves it: the Teams app in the org catalog with
		// its activity types, and the Graph permissions notifications need.
		TeamsAppID: demoPublishedID, ActivityTypes: activityTypeNames(),
		GraphAppRoles: []string{"TeamsActivity.Send", "TeamsAppInstallation.ReadWriteSelfForUser.All"},
	})
	if err != nil {
		return "", err
	}
	// The customer's admin granted consent for the organisation (guide 3.1 step 4.7).
	if err := emu.GrantConsent(demoTenant, "", demoAppID, "User.Read", "openid", "profile", "email", "offline_access"); err != nil {
		return "", err
	}
	// The Teams app's personal tab (manifest staticTabs), for the emulated Teams client.
	if err := emu.SetTeamsTab(demoTenant, demoAppID, emulator.TeamsTab{ContentURL: public + "/teams/" + demoAppID + "/workbench", Name: "Service desk"}); err != nil {
		return "", err
	}
	pw, err := os.ReadFile(pwFile)
	return strings.TrimSpace(string(pw)), err
}

func firstSeed(ctx context.Context, o *opened, pwFile string) (desk.Channel, error) {
	secret := randomSecret()
	ch, err := o.svc.AddChannel(ctx, desk.ChannelConfig{AppID: demoAppID, AppSecret: secret, TenantID: demoTenant, TeamsPublishedAppID: demoPublishedID}, demoOrg, time.Now().AddDate(2, 0, 0))
	if err != nil {
		return ch, err
	}
	pw := randomSecret()[:16]
	hash, err := password.Hash(pw)
	if err != nil {
		return ch, err
	}
	st, err := o.svc.AddStaff(ctx, demoStaffEmail, "Taylor (TAM)", hash, true)
	if err != nil {
		return ch, err
	}
	if err := o.db.AssignStaff(ctx, ch.OrgID, st.ID); err != nil {
		return ch, err
	}
	if err := os.WriteFile(pwFile, []byte(pw+"\n"), 0o600); err != nil {
		return ch, err
	}
	adele, err := o.svc.SignIn(ctx, ch, desk.Profile{TenantID: demoTenant, ObjectID: demoUsers[0].ObjectID, Name: demoUsers[0].DisplayName, Email: demoUsers[0].Mail})
	if err != nil {
		return ch, err
	}
	a, staff := desk.UserActor(adele), desk.StaffActor(st)
	t1, err := o.svc.CreateTicket(ctx, a, ch.OrgID, desk.TicketInput{Title: "VPN gateway drops connections every hour", Description: "Since Monday the site-to-site VPN to eu-west drops at the top of every hour for about 40 seconds.", Severity: desk.Sev2})
	if err != nil {
		return ch, err
	}
	if _, err := o.svc.Comment(ctx, staff, t1.ID, "Thanks Adele — could you send the gateway's diagnostic log from one of the drops?"); err != nil {
		return ch, err
	}
	if _, err := o.svc.CreateTicket(ctx, a, ch.OrgID, desk.TicketInput{Title: "Quota increase for GPU instances", Description: "We need 16 more GPU cores in the Frankfurt region for the Q1 training run.", Severity: desk.Sev3}); err != nil {
		return ch, err
	}
	if _, err := o.svc.CreateTicket(ctx, a, ch.OrgID, desk.TicketInput{Title: "Question about the new billing export", Severity: desk.Sev4}); err != nil {
		return ch, err
	}
	if _, err := o.svc.SendMessage(ctx, staff, ch.OrgID, "Welcome to your Contoso service group! Your TAM team is here.", "seed-1"); err != nil {
		return ch, err
	}
	return ch, nil
}

func randomSecret() string {
	b := make([]byte, 30)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	// Entra secrets look like this: 40 characters with ~ . _ - among them.
	return strings.NewReplacer("-", "~", "_", ".").Replace(base64.RawURLEncoding.EncodeToString(b))
}
