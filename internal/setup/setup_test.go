package setup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tamlink/tamlink/internal/desk"
	"github.com/tamlink/tamlink/internal/emulator"
	"github.com/tamlink/tamlink/internal/entra"
	"github.com/tamlink/tamlink/internal/graph"
	"github.com/tamlink/tamlink/internal/manifest"
	"github.com/tamlink/tamlink/internal/manifest/schematest"
)

// doctorAdmin checks the channel setup produced, with an admin's read-only
// sign-in and the package it published.
func (w *world) doctorAdmin(res *Result, mod func(*DoctorConfig)) *Report {
	w.t.Helper()
	pkg, err := manifest.Read(res.Package)
	if err != nil {
		w.t.Fatal(err)
	}
	c := DoctorConfig{TenantID: w.tenant, AppID: res.Channel.AppID, Domain: domain,
		PublishedAppID: res.Channel.TeamsPublishedAppID, Package: pkg, PackageName: "published.zip",
		Admin: w.graph(w.signIn(ReadScopes))}
	if mod != nil {
		mod(&c)
	}
	return Doctor(context.Background(), c)
}

func faults(r *Report) string {
	var out []string
	for _, f := range r.Findings {
		if f.Severity == Fault || f.Severity == Warning {
			out = append(out, string(f.Severity)+" "+f.Check+": "+f.Message)
		}
	}
	return strings.Join(out, "\n")
}

func TestSetupThenDoctorIsClean(t *testing.T) {
	schematest.Require(t)
	w := newWorld(t)
	res, err := w.setup(nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, w.log)
	}
	ch := res.Channel
	if err := ch.Validate(); err != nil {
		t.Fatalf("channel JSON is not what the desk accepts: %v", err)
	}
	if ch.TenantID != tenantID || ch.AppSecret == "" || res.SecretExpires.Before(time.Now().AddDate(1, 11, 0)) {
		t.Fatalf("channel %+v, secret expires %v", ch, res.SecretExpires)
	}
	// The registration is what the guide describes, in the identity side's
	// own state.
	app, ok := w.e.App(tenantID, ch.AppID)
	if !ok {
		t.Fatal("the app created through Graph is unknown to the identity side")
	}
	if app.SignInAudience != "AzureADMyOrg" || app.AccessTokenVersion != 2 || app.ImplicitIDTokens || app.ImplicitAccessTokens {
		t.Fatalf("registration %+v", app)
	}
	if !slices.Equal(app.RedirectURIs, RedirectURIs(domain, ch.AppID)) || !slices.Equal(app.IdentifierURIs, []string{"api://desk.example.com/" + ch.AppID}) {
		t.Fatalf("URIs %v %v", app.RedirectURIs, app.IdentifierURIs)
	}
	if len(app.Scopes) != 1 || app.Scopes[0].ID != res.ScopeID || app.Scopes[0].UserConsentDescription != UserConsentDescription || app.Scopes[0].Type != "User" {
		t.Fatalf("scopes %+v", app.Scopes)
	}
	if len(app.PreAuthorizedClients) != 9 || !slices.Contains(app.PreAuthorizedClients, "27922004-5251-4030-b22d-91ecd9a37ea4") {
		t.Fatalf("pre-authorized %v", app.PreAuthorizedClients)
	}
	if app.TeamsAppID != ch.TeamsPublishedAppID || len(app.ActivityTypes) != len(desk.ActivityTypes) {
		t.Fatalf("catalog link %q %v", app.TeamsAppID, app.ActivityTypes)
	}
	// The channel works: app-only token with the notification roles, SSO
	// from Teams without consent, OBO for User.Read with admin consent.
	ec := entra.New(entra.Endpoints{LoginURL: w.e.LoginURL(), GraphURL: w.e.GraphURL()}, nil)
	tok, err := ec.ClientCredentials(context.Background(), tenantID, ch.AppID, ch.AppSecret, entra.GraphResource+"/.default")
	if err != nil {
		t.Fatal(err)
	}
	if roles := tokenRoles(tok.AccessToken); !slices.Equal(roles, NotificationRoles) {
		t.Fatalf("roles %v", roles)
	}
	sso, err := w.e.IssueTeamsToken(tenantID, userOID, ch.AppID, emulator.TokenOptions{ClientID: "27922004-5251-4030-b22d-91ecd9a37ea4"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ec.OnBehalfOf(context.Background(), tenantID, ch.AppID, ch.AppSecret, sso, entra.GraphResource+"/User.Read"); err != nil {
		t.Fatalf("OBO: %v", err)
	}
	// The published package passes Microsoft's schema.
	apps := w.e.TeamsApps(tenantID)
	if len(apps) != 1 || apps[0].ID != ch.TeamsPublishedAppID || apps[0].ExternalID != manifest.DefaultTeamsAppID(ch.AppID) {
		t.Fatalf("catalog %+v", apps)
	}
	if err := schematest.Validate(apps[0].Versions[0].Manifest); err != nil {
		t.Fatalf("published manifest fails the official schema: %v", err)
	}
	rep := w.doctorAdmin(res, nil)
	if rep.Count(Fault) != 0 || rep.Count(Warning) != 0 || rep.Count(Skipped) != 0 {
		var buf bytes.Buffer
		rep.WriteText(&buf)
		t.Fatalf("doctor after setup:\n%s", buf.String())
	}
	for _, check := range []string{"registration", "sign-in-audience", "redirect-uris", "application-id-uri", "scope",
		"pre-authorized-clients", "user-read", "service-principal", "notification-permissions", "client-secret", "catalog",
		"published-app-id", "package"} {
		if !rep.Has(check, OK) {
			t.Errorf("check %s did not run", check)
		}
	}
}

func TestSecondRunChangesNothing(t *testing.T) {
	w := newWorld(t)
	first, err := w.setup(nil)
	if err != nil {
		t.Fatal(err)
	}
	if first.Writes != w.writes() {
		t.Fatalf("setup counted %d writes, the emulator saw %d", first.Writes, w.writes())
	}
	w.e.ResetGraphRequests()
	w.log = &syncBuffer{}
	second, err := w.setup(nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, w.log)
	}
	if n := w.writes(); n != 0 || second.Writes != 0 {
		t.Fatalf("second run wrote %d requests (counted %d):\n%s\n%v", n, second.Writes, w.log, w.e.GraphRequests())
	}
	if second.Channel.AppID != first.Channel.AppID || second.ScopeID != first.ScopeID ||
		second.Channel.TeamsPublishedAppID != first.Channel.TeamsPublishedAppID {
		t.Fatalf("second run changed identity: %+v vs %+v", second, first)
	}
	if second.Channel.AppSecret != "" || !strings.Contains(second.SecretNote, "--new-secret") {
		t.Fatalf("second run secret %q note %q", second.Channel.AppSecret, second.SecretNote)
	}
	app, _ := w.e.App(tenantID, first.Channel.AppID)
	if len(app.Secrets) != 1 {
		t.Fatalf("%d secrets", len(app.Secrets))
	}
	// Rotation on request; the old secret stays.
	third, err := w.setup(func(c *Config) { c.NewSecret = true; c.AppID = first.Channel.AppID })
	if err != nil {
		t.Fatal(err)
	}
	if third.Channel.AppSecret == "" || third.Channel.AppSecret == first.Channel.AppSecret || third.Writes != 1 {
		t.Fatalf("rotation: %+v", third)
	}
	// Adopting by display name after the tag was removed re-tags.
	must(t, w.e.UpdateApp(tenantID, first.Channel.AppID, func(a *emulator.App) { a.Tags = nil }))
	fourth, err := w.setup(nil)
	if err != nil || fourth.Channel.AppID != first.Channel.AppID || fourth.Writes != 1 {
		t.Fatalf("adopt by name: %+v %v", fourth, err)
	}
}

// TestFaultsAreNamedAndRepaired injects each deviation doctor knows into
// a working setup: doctor names it, a second setup repairs it, and doctor is
// clean again.
func TestFaultsAreNamedAndRepaired(t *testing.T) {
	type env struct {
		w   *world
		res *Result
		dc  *DoctorConfig
	}
	edit := func(f func(*emulator.App)) func(env) {
		return func(v env) { must(v.w.t, v.w.e.UpdateApp(v.w.tenant, v.res.Channel.AppID, f)) }
	}
	editPkg := func(f func(*manifest.Manifest)) func(env) {
		return func(v env) {
			p, _ := manifest.Read(v.res.Package)
			f(&p.Manifest)
			v.dc.Package = p
		}
	}
	base := newWorld(t)
	for _, tc := range []struct {
		name     string
		inject   func(env)
		check    string
		severity Severity
		mention  string
	}{
		{"missing redirect URIs", edit(func(a *emulator.App) { a.RedirectURIs = a.RedirectURIs[:2] }), "redirect-uris", Fault, "oauth2/callback"},
		{"Application ID URI changed", edit(func(a *emulator.App) { a.IdentifierURIs = []string{"api://other.example.com/" + a.AppID} }), "application-id-uri", Fault, "resourceDisabled"},
		{"package resource differs", editPkg(func(m *manifest.Manifest) {
			m.WebApplicationInfo.Resource = "api://other.example.com/" + m.WebApplicationInfo.ID
		}), "application-id-uri", Fault, "webApplicationInfo.resource"},
		{"scope missing", edit(func(a *emulator.App) { a.Scopes, a.PreAuthorizedClients, a.PreAuthorizedScopes = nil, nil, nil }), "scope", Fault, "no access_as_user"},
		{"scope disabled", edit(func(a *emulator.App) { a.Scopes[0].Enabled = false }), "scope", Fault, "disabled"},
		{"scope for admins only, texts changed", edit(func(a *emulator.App) { a.Scopes[0].Type, a.Scopes[0].UserConsentDescription = "Admin", "x" }), "scope", Warning, "Admins and users"},
		{"clients missing", edit(func(a *emulator.App) {
			for _, c := range a.PreAuthorizedClients[5:] {
				delete(a.PreAuthorizedScopes, c)
			}
			a.PreAuthorizedClients = a.PreAuthorizedClients[:5]
		}), "pre-authorized-clients", Fault, "Outlook mobile"},
		{"User.Read not requested", edit(func(a *emulator.App) { a.RequiredGraphScopes = nil }), "user-read", Fault, "not among the API permissions"},
		{"User.Read not consented", func(v env) { must(v.w.t, v.w.e.RevokeConsent(v.w.tenant, "", v.res.Channel.AppID)) }, "user-read", Fault, "no admin consent"},
		{"guide-only registration: no notification permissions", edit(func(a *emulator.App) { a.RequiredGraphRoles, a.GraphAppRoles = nil, nil }), "notification-permissions", Fault, "activity-feed"},
		{"notification permissions not consented", edit(func(a *emulator.App) { a.GraphAppRoles = nil }), "notification-permissions", Fault, "without admin consent"},
		{"secret expired", func(v env) {
			must(v.w.t, v.w.e.SetSecrets(v.w.tenant, v.res.Channel.AppID, []emulator.Secret{{Value: "old~secret-value-0123456789", EndDateTime: time.Now().Add(-time.Hour)}}))
		}, "client-secret", Fault, "expired"},
		{"secret expiring", func(v env) {
			must(v.w.t, v.w.e.SetSecrets(v.w.tenant, v.res.Channel.AppID, []emulator.Secret{{Value: "old~secret-value-0123456789", EndDateTime: time.Now().Add(10 * 24 * time.Hour)}}))
		}, "client-secret", Fault, "in 9 days"},
		{"teamsPublishedAppId is the scope id", func(v env) { v.dc.PublishedAppID = v.res.ScopeID }, "published-app-id", Fault, "Scope ID"},
		{"multi-tenant audience", edit(func(a *emulator.App) { a.SignInAudience = "AzureADMultipleOrgs" }), "sign-in-audience", Fault, "multi-tenant"},
		{"implicit grant on", edit(func(a *emulator.App) { a.ImplicitIDTokens, a.ImplicitAccessTokens = true, true }), "implicit-grant", Warning, "implicit grant"},
		{"v1 access tokens", edit(func(a *emulator.App) { a.AccessTokenVersion = 1 }), "access-token-version", Warning, "v1"},
		{"domain missing from validDomains", editPkg(func(m *manifest.Manifest) { m.ValidDomains = []string{"other.example.com"} }), "valid-domains", Fault, "desk.example.com"},
		{"service principal missing", edit(func(a *emulator.App) { a.NoServicePrincipal = true }), "service-principal", Fault, "no service principal"},
		{"not in the catalog", func(v env) {
			req, _ := http.NewRequest(http.MethodDelete, v.w.e.GraphURL()+"/v1.0/appCatalogs/teamsApps/"+v.res.Channel.TeamsPublishedAppID, nil)
			req.Header.Set("Authorization", "Bearer "+v.w.signIn(SetupScopes).AccessToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil || resp.StatusCode != http.StatusNoContent {
				v.w.t.Fatalf("delete: %v %v", err, resp)
			}
		}, "catalog", Fault, "cannot add"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := base.fork(t)
			res, err := w.setup(nil)
			if err != nil {
				t.Fatal(err)
			}
			pkg, _ := manifest.Read(res.Package)
			dc := &DoctorConfig{TenantID: w.tenant, AppID: res.Channel.AppID, Domain: domain,
				PublishedAppID: res.Channel.TeamsPublishedAppID, Package: pkg, Admin: w.graph(w.signIn(ReadScopes))}
			tc.inject(env{w, res, dc})
			rep := Doctor(context.Background(), *dc)
			found := false
			for _, f := range rep.Findings {
				if f.Check == tc.check && f.Severity == tc.severity {
					found = true
					if !strings.Contains(f.Message+f.Fix, tc.mention) {
						t.Errorf("%s: message %q / fix %q lacks %q", tc.check, f.Message, f.Fix, tc.mention)
					}
					if f.Fix == "" {
						t.Errorf("%s has no fix", tc.check)
					}
				}
			}
			if !found {
				t.Fatalf("doctor did not name %s (%s):\n%s", tc.check, tc.severity, faults(rep))
			}
			// A second setup repairs it.
			w.log = &syncBuffer{}
			res2, err := w.setup(nil)
			if err != nil {
				t.Fatalf("repair: %v\n%s", err, w.log)
			}
			if res2.Writes == 0 && !strings.HasPrefix(tc.check, "valid-domains") && tc.check != "published-app-id" && tc.name != "package resource differs" {
				t.Fatalf("setup repaired nothing:\n%s", w.log)
			}
			rep = w.doctorAdmin(res2, nil)
			if rep.Count(Fault) != 0 || rep.Count(Warning) != 0 {
				t.Fatalf("after repair:\n%s\nsetup said:\n%s", faults(rep), w.log)
			}
			// ...and a run after the repair writes nothing.
			before := w.writes()
			if res3, err := w.setup(nil); err != nil || w.writes() != before || res3.Writes != 0 {
				t.Fatalf("third run: %v, %d writes: %v", err, w.writes()-before, res3)
			}
		})
	}
}

func TestReplicationDelayAndThrottling(t *testing.T) {
	w := newWorld(t)
	w.e.SetReplicationDelay(2)
	var mu sync.Mutex
	var waits []time.Duration
	tok := w.signIn(SetupScopes)
	g := w.graph(tok)
	g.Sleep = func(_ context.Context, d time.Duration) error {
		mu.Lock()
		waits = append(waits, d)
		mu.Unlock()
		return nil
	}
	w.e.ThrottleGraph(2, 7*time.Second)
	res, err := Run(context.Background(), Config{Tenant: tenantID, Domain: domain, Graph: g, Out: w.log})
	if err != nil {
		t.Fatalf("%v\n%s", err, w.log)
	}
	if !slices.Contains(waits, 7*time.Second) {
		t.Fatalf("Retry-After not honoured: %v", waits)
	}
	var notFound, replication, throttled int
	for _, r := range w.e.GraphRequests() {
		switch r.Status {
		case 404:
			notFound++
		case 400:
			replication++
		case 429:
			throttled++
		}
	}
	if notFound == 0 || replication == 0 || throttled != 2 {
		t.Fatalf("404s %d, replication 400s %d, 429s %d", notFound, replication, throttled)
	}
	rep := w.doctorAdmin(res, nil)
	if rep.Count(Fault) != 0 {
		t.Fatal(faults(rep))
	}
}

func TestDryRunWithoutSignIn(t *testing.T) {
	var out bytes.Buffer
	dry := &DryRunTransport{Out: &out}
	g := &graph.Client{BaseURL: "https://graph.microsoft.com", HTTP: &http.Client{Transport: dry}}
	res, err := Run(context.Background(), Config{Tenant: tenantID, Domain: domain, Graph: g, Out: &out, DryRun: true,
		Register: &Registration{URL: "https://desk.example.com", Token: "tla_secret-token", Org: "Contoso"}})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	s := out.String()
	for _, want := range []string{
		">>> request 1: POST https://graph.microsoft.com/v1.0/applications",
		`"value": "access_as_user"`,
		"PATCH https://graph.microsoft.com/v1.0/applications/{application-object-id}",
		"https://desk.example.com/thirdparty/teams/{appId}/oauth2/callback",
		"api://desk.example.com/{appId}",
		`"delegatedPermissionIds"`,
		"/addPassword",
		"POST https://graph.microsoft.com/v1.0/servicePrincipals",
		"/oauth2PermissionGrants",
		"/appRoleAssignedTo",
		"a267235f-af13-44dc-8385-c1dc93023186",
		"POST https://graph.microsoft.com/v1.0/appCatalogs/teamsApps?requiresReview=false",
		"Content-Type: application/zip",
		"https://desk.example.com/teams/{appId}/workbench",
		"POST https://desk.example.com/api/admin/channels?org=Contoso",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("plan lacks %q", want)
		}
	}
	if strings.Contains(s, "tla_secret-token") || strings.Contains(s, `"appSecret": "{client-secret}"`) {
		t.Fatal("a secret reached the plan")
	}
	if dry.Requests() != 9 || res.Writes != 10 {
		t.Fatalf("%d Graph writes printed, %d counted (want 9 + the registration)", dry.Requests(), res.Writes)
	}
}

func TestDryRunAgainstTheTenant(t *testing.T) {
	w := newWorld(t)
	if _, err := w.setup(nil); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	dry := &DryRunTransport{Out: &out, Next: http.DefaultTransport}
	g := w.graph(w.signIn(ReadScopes))
	g.HTTP = &http.Client{Transport: dry}
	w.e.ResetGraphRequests()
	res, err := Run(context.Background(), Config{Tenant: tenantID, Domain: domain, Graph: g, Out: &out, DryRun: true})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if dry.Requests() != 0 || res.Writes != 0 || w.writes() != 0 {
		t.Fatalf("dry run against a set-up tenant plans %d writes:\n%s", dry.Requests(), out.String())
	}
}

func TestInvalidInputWritesNothing(t *testing.T) {
	w := newWorld(t)
	for _, tc := range []struct {
		mod   func(*Config)
		field string
	}{
		{func(c *Config) { c.Tenant = "contoso" }, "tenant"},
		{func(c *Config) { c.Domain = "http://desk.example.com" }, "domain"},
		{func(c *Config) { c.Package.ShortName = strings.Repeat("x", 31) }, "name"},
		{func(c *Config) { c.Package.AccentColor = "teal" }, "accent-color"},
		{func(c *Config) { c.SecretMonths = 36 }, "secret-months"},
		{func(c *Config) { c.AppID = "x" }, "app-id"},
		{func(c *Config) { c.Register = &Registration{URL: "https://desk.example.com", Org: "C"} }, "token"},
	} {
		_, err := w.setup(tc.mod)
		if desk.ErrorField(err) != tc.field {
			t.Errorf("got %v, want field %s", err, tc.field)
		}
	}
	if w.writes() != 0 || len(w.e.GraphRequests()) != 0 {
		t.Fatalf("refused input still reached Graph: %v", w.e.GraphRequests())
	}
}

func TestGraphRefusalSaysStepAnswerAndFix(t *testing.T) {
	w := newWorld(t)
	g := w.graph(w.signIn(ReadScopes)) // an admin who consented to reading only
	_, err := Run(context.Background(), Config{Tenant: tenantID, Domain: domain, Graph: g, Out: w.log})
	var se *StepError
	if !errors.As(err, &se) || graph.StatusOf(err) != 403 {
		t.Fatalf("%T %v", err, err)
	}
	msg := err.Error()
	for _, want := range []string{`step "app registration: create"`, "403 Authorization_RequestDenied", "What to do:", "Application.ReadWrite.All"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q lacks %q", msg, want)
		}
	}
}

func TestRegisterPostsTheChannel(t *testing.T) {
	var mu sync.Mutex
	var got []desk.ChannelConfig
	var queries []string
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tla_token" || r.URL.Path != "/api/admin/channels" {
			rw.WriteHeader(http.StatusUnauthorized)
			return
		}
		cfg, err := desk.ParseChannelConfig(r.Body)
		if err != nil {
			rw.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(rw).Encode(map[string]string{"error": "invalid", "message": err.Error()})
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for _, c := range got {
			if c.AppID == cfg.AppID {
				rw.WriteHeader(http.StatusConflict)
				io.WriteString(rw, `{"error":"conflict","message":"appId: a channel with this appId already exists"}`)
				return
			}
		}
		got = append(got, cfg)
		queries = append(queries, r.URL.RawQuery)
		rw.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	w := newWorld(t)
	reg := &Registration{URL: srv.URL, Token: "tla_token", Org: "Contoso Ltd"}
	res, err := w.setup(func(c *Config) { c.Register = reg })
	if err != nil || !res.Registered {
		t.Fatalf("%v\n%s", err, w.log)
	}
	if len(got) != 1 || got[0] != res.Channel || !strings.Contains(queries[0], "org=Contoso+Ltd") || !strings.Contains(queries[0], "secretExpires=") {
		t.Fatalf("server got %+v %v", got, queries)
	}
	// A re-run has no secret to register and says so.
	_, err = w.setup(func(c *Config) { c.Register = reg })
	var se *StepError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "--new-secret") {
		t.Fatalf("%v", err)
	}
	// A rotation meets the existing channel: 409 with what to do.
	_, err = w.setup(func(c *Config) { c.Register = reg; c.NewSecret = true })
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "409") || !strings.Contains(se.Hint, "channel remove") {
		t.Fatalf("%v", err)
	}
}

func TestDoctorWithTheChannelsOwnSecret(t *testing.T) {
	w := newWorld(t)
	res, err := w.setup(nil)
	if err != nil {
		t.Fatal(err)
	}
	ec := entra.New(entra.Endpoints{LoginURL: w.e.LoginURL(), GraphURL: w.e.GraphURL()}, nil)
	appOnly := func(secret string) func(context.Context) (string, error) {
		return func(ctx context.Context) (string, error) {
			tok, err := ec.ClientCredentials(ctx, tenantID, res.Channel.AppID, secret, entra.GraphResource+"/.default")
			if err != nil {
				return "", err
			}
			return tok.AccessToken, nil
		}
	}
	cfg := DoctorConfig{TenantID: tenantID, AppID: res.Channel.AppID, PublishedAppID: res.Channel.TeamsPublishedAppID,
		SecretHint: res.Channel.AppSecret[:3], SecretExpires: res.SecretExpires, AppToken: appOnly(res.Channel.AppSecret), Explain: entra.Explain}
	cfg.AppGraph = &graph.Client{BaseURL: w.e.GraphURL(), Token: cfg.AppToken, Sleep: noSleep}
	rep := Doctor(context.Background(), cfg)
	if rep.Count(Fault) != 0 || !rep.Has("app-only-token", OK) || !rep.Has("notification-permissions", OK) || !rep.Has("client-secret", OK) {
		t.Fatal(faults(rep))
	}
	for _, check := range []string{"redirect-uris", "scope", "catalog"} {
		if !rep.Has(check, Skipped) {
			t.Errorf("%s not marked as needing --admin: %+v", check, rep.Findings)
		}
	}
	// A guide-only registration: the token has no roles.
	must(t, w.e.UpdateApp(tenantID, res.Channel.AppID, func(a *emulator.App) { a.GraphAppRoles = nil }))
	rep = Doctor(context.Background(), cfg)
	if !rep.Has("notification-permissions", Fault) {
		t.Fatal(faults(rep))
	}
	// A wrong secret: the token endpoint's answer, explained.
	cfg.AppToken = appOnly("wrong~secret-value-000000000")
	rep = Doctor(context.Background(), cfg)
	if !rep.Has("app-only-token", Fault) || !strings.Contains(faults(rep), "7000215") {
		t.Fatal(faults(rep))
	}
	// The app may read registrations itself: then the registration checks run.
	must(t, w.e.UpdateApp(tenantID, res.Channel.AppID, func(a *emulator.App) { a.GraphAppRoles = append(NotificationRoles, "Application.Read.All") }))
	cfg.AppToken = appOnly(res.Channel.AppSecret)
	cfg.AppGraph.Token = cfg.AppToken
	rep = Doctor(context.Background(), cfg)
	if !rep.Has("redirect-uris", OK) || !rep.Has("catalog", Skipped) || rep.Count(Fault) != 0 {
		t.Fatal(faults(rep), rep.Findings)
	}
}

func TestDoctorPackageAlone(t *testing.T) {
	p, err := manifest.Build(manifest.Options{AppID: "3c9d6a1e-8f2b-4c7d-9e1a-2b3c4d5e6f70", Domain: domain})
	if err != nil {
		t.Fatal(err)
	}
	rep := Doctor(context.Background(), DoctorConfig{Package: p, PackageName: "app.zip"})
	if rep.Count(Fault) != 0 || rep.Domain != domain || rep.AppID != "3c9d6a1e-8f2b-4c7d-9e1a-2b3c4d5e6f70" {
		t.Fatalf("%+v", rep)
	}
	rep = Doctor(context.Background(), DoctorConfig{Package: p, Domain: "other.example.com"})
	if !rep.Has("valid-domains", Fault) || !rep.Has("package-sso", Fault) {
		t.Fatal(faults(rep))
	}
}

// TestGuideMadeRegistrationIsAdopted follows the guide by hand (portal
// registration, Developer Portal package with its own manifest id, the
// Scope ID as teamsPublishedAppId), checks what doctor says about it, then
// lets setup adopt and repair it without a second catalog app.
func TestGuideMadeRegistrationIsAdopted(t *testing.T) {
	w := newWorld(t)
	const appID, scopeID = "4d0e7b2f-9a3c-4d8e-8f2b-3c4d5e6f7081", "9a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
	var guideClients []string
	for _, c := range PreAuthorizedClients[:8] {
		guideClients = append(guideClients, c.ID)
	}
	must(t, w.e.AddApp(tenantID, emulator.App{AppID: appID, DisplayName: "Alibaba Cloud Exclusive Service",
		RedirectURIs: RedirectURIs(domain, appID), ImplicitIDTokens: true, ImplicitAccessTokens: true,
		IdentifierURIs: []string{IdentifierURI(domain, appID)},
		Scopes: []emulator.Scope{{ID: scopeID, Value: ScopeName, Enabled: true, Type: "User",
			AdminConsentDisplayName: AdminConsentDisplayName, AdminConsentDescription: AdminConsentDescription,
			UserConsentDisplayName: UserConsentDisplayName, UserConsentDescription: UserConsentDescription}},
		PreAuthorizedClients: guideClients, RequiredGraphScopes: []string{UserRead},
		Secrets: []emulator.Secret{{Value: "guide~secret-value-0123456789abcdef", EndDateTime: time.Now().AddDate(2, 0, 0)}}}))
	handMade, err := manifest.Build(manifest.Options{AppID: appID, Domain: domain, TeamsAppID: "c0ffee00-1234-4321-8888-0123456789ab",
		ShortName: "Alibaba Cloud Service", FullName: "Alibaba Cloud Enterprise Service"})
	if err != nil {
		t.Fatal(err)
	}
	zip, _ := handMade.Zip()
	published, err := w.graph(w.signIn(SetupScopes)).PublishTeamsApp(context.Background(), zip, false)
	if err != nil {
		t.Fatal(err)
	}

	rep := Doctor(context.Background(), DoctorConfig{TenantID: tenantID, AppID: appID, PublishedAppID: scopeID,
		Admin: w.graph(w.signIn(ReadScopes))})
	for check, sev := range map[string]Severity{"user-read": Fault, "notification-permissions": Fault, "published-app-id": Fault,
		"pre-authorized-clients": Fault, "implicit-grant": Warning, "access-token-version": Warning, "catalog": OK, "redirect-uris": OK} {
		if !rep.Has(check, sev) {
			t.Errorf("guide-made: %s is not %s:\n%s", check, sev, faults(rep))
		}
	}

	res, err := w.setup(func(c *Config) { c.AppID = appID })
	if err != nil {
		t.Fatalf("%v\n%s", err, w.log)
	}
	if res.Channel.TeamsPublishedAppID != published.ID || res.ScopeID != scopeID || res.Channel.AppSecret != "" {
		t.Fatalf("adoption: %+v (published %s)", res, published.ID)
	}
	apps := w.e.TeamsApps(tenantID)
	if len(apps) != 1 || len(apps[0].Versions) != 2 || apps[0].Versions[1].Version != "1.0.1" {
		t.Fatalf("catalog after adoption: %+v", apps)
	}
	rep = w.doctorAdmin(res, nil)
	if rep.Count(Fault) != 0 || rep.Count(Warning) != 0 {
		t.Fatal(faults(rep))
	}
}
