package setup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/tamlink/tamlink/internal/desk"
	"github.com/tamlink/tamlink/internal/graph"
	"github.com/tamlink/tamlink/internal/manifest"
)

// Config is one run of `tamlink setup`.
type Config struct {
	Tenant string // directory (tenant) id
	Domain string // host tamlink is served from

	// DisplayName names a new registration (default DefaultDisplayName).
	DisplayName string
	// AppID adopts an existing registration instead of looking it up by
	// tag or display name.
	AppID string
	// Package are the Teams app package's options; AppID and Domain are
	// filled in by setup.
	Package manifest.Options
	// SecretMonths is the new secret's lifetime (default 24).
	SecretMonths int
	// NewSecret adds a secret even if a valid one exists (rotation).
	NewSecret bool
	// Republish uploads the package again (with a higher version) even
	// when the catalog's entry looks current.
	Republish bool
	// PackageOut, when set, receives the published package.
	PackageOut string
	// Register posts the channel to a tamlink server's admin API.
	Register *Registration

	// Graph sends the requests; a dry run gives it DryRunTransport.
	Graph *graph.Client
	// DryRun sends no writes: each is printed instead (with a placeholder
	// answer so the plan can go on).
	DryRun bool
	// Out receives the progress of every step.
	Out io.Writer
	// HTTP posts the registration (default: a client with a time-out).
	HTTP *http.Client
	Now  func() time.Time
}

// Registration is where and as whom --register posts the channel.
type Registration struct {
	URL   string // the tamlink server, e.g. https://desk.example.com
	Token string // an admin API token (tamlink staff token)
	Org   string // the customer organisation's name
}

// Result is what setup produced.
type Result struct {
	Channel desk.ChannelConfig // AppSecret is empty when no new secret was made
	// SecretExpires is the new secret's expiry (zero when none was made).
	SecretExpires time.Time
	// SecretNote says why the channel JSON has no secret, when it has none.
	SecretNote   string
	ScopeID      string
	TeamsAppID   string // the manifest id (the catalog's externalId)
	CatalogState string // published, submitted, rejected
	Writes       int    // requests that changed something (or would have)
	Package      []byte
	Registered   bool
}

// StepError is a failed step: what was being done, what Graph (or the
// server) answered, and what to do.
type StepError struct {
	Step string
	Err  error
	Hint string
}

func (e *StepError) Error() string {
	s := fmt.Sprintf("step %q failed: %v", e.Step, e.Err)
	if e.Hint != "" {
		s += "\nWhat to do: " + e.Hint
	}
	return s
}

func (e *StepError) Unwrap() error { return e.Err }

// hint says what to do about a Graph failure.
func hint(err error) string {
	var ge *graph.Error
	if !errors.As(err, &ge) {
		if strings.Contains(err.Error(), "token") || strings.Contains(err.Error(), "sign-in") {
			return "sign in again (the admin sign-in failed or expired)"
		}
		return "check that this machine reaches Microsoft Graph (or the --graph-url given), then run setup again; it continues where it stopped"
	}
	switch {
	case ge.Status == http.StatusUnauthorized:
		return "Graph did not accept the admin sign-in: run setup again and sign in with an account of this tenant"
	case ge.Status == http.StatusForbidden:
		return "the signed-in account lacks a permission: sign in as a Global Administrator (or an Application Administrator plus a Privileged Role Administrator for the app roles and a Teams Administrator for the app catalog) and accept the permissions setup asks for: " + strings.Join(SetupScopes, ", ")
	case ge.Status == http.StatusNotFound:
		return "Graph does not find the object: it was deleted meanwhile, or Entra has not replicated it yet; run setup again in a minute"
	case ge.Status == http.StatusConflict:
		return "something with the same identity already exists (another app using this manifest id or Application ID URI); run `tamlink doctor` to see which"
	case ge.Status == http.StatusTooManyRequests || ge.Status >= 500:
		return "Graph is throttling or unavailable even after retries; run setup again later, it continues where it stopped"
	case strings.Contains(ge.Message, "verified domain"):
		return "Entra wants the Application ID URI on a verified domain of the tenant; verify the domain (Entra admin center → Domain names) or check --domain"
	}
	return "Graph refused the request (see its answer above); check the flags naming that value, or run `tamlink doctor` for the registration's state"
}

type run struct {
	cfg    Config
	g      *graph.Client
	out    io.Writer
	now    time.Time
	domain string
	step   int
	res    Result
}

// total is the number of steps printed.
const totalSteps = 8

func (r *run) begin(name string) {
	r.step++
	fmt.Fprintf(r.out, "[%d/%d] %s\n", r.step, totalSteps, name)
}

func (r *run) say(format string, args ...any) {
	fmt.Fprintf(r.out, "      "+format+"\n", args...)
}

func (r *run) fail(step string, err error) error {
	return &StepError{Step: step, Err: err, Hint: hint(err)}
}

// write counts a change and, in a dry run, notes that it was not sent.
func (r *run) wrote() { r.res.Writes++ }

// Run performs the guide's sections 3 and 4 for cfg and returns the
// channel. It is idempotent: a second run reads everything, finds it as
// wanted and writes nothing; a run after manual edits puts back what
// tamlink needs.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Graph == nil {
		return nil, errors.New("setup: no Graph client")
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	now := time.Now
	if cfg.Now != nil {
		now = cfg.Now
	}
	if cfg.SecretMonths == 0 {
		cfg.SecretMonths = 24
	}
	if cfg.SecretMonths < 1 || cfg.SecretMonths > 24 {
		return nil, desk.Invalid("secret-months", "must be between 1 and 24 (the portal's longest choice), got %d", cfg.SecretMonths)
	}
	tenant := strings.ToLower(strings.TrimSpace(cfg.Tenant))
	if !desk.IsGUID(tenant) {
		return nil, desk.Invalid("tenant", "must be the Directory (tenant) ID, a GUID; got %q", cfg.Tenant)
	}
	cfg.Tenant = tenant
	domain, err := manifest.NormalizeDomain("domain", cfg.Domain)
	if err != nil {
		return nil, err
	}
	if cfg.AppID != "" {
		if !desk.IsGUID(cfg.AppID) {
			return nil, desk.Invalid("app-id", "must be the Application (client) ID, a GUID; got %q", cfg.AppID)
		}
		cfg.AppID = strings.ToLower(cfg.AppID)
	}
	if cfg.Register != nil {
		if err := cfg.Register.check(); err != nil {
			return nil, err
		}
	}
	// Check the package's options before anything is written: a bad
	// --name must not leave half a setup behind.
	probe := cfg.Package
	probe.AppID, probe.Domain = "00000000-0000-0000-0000-000000000000", domain
	if _, err := manifest.Build(probe); err != nil {
		return nil, err
	}
	r := &run{cfg: cfg, g: cfg.Graph, out: cfg.Out, now: now(), domain: domain}
	r.res.Channel.TenantID = tenant
	if err := r.reconcile(ctx); err != nil {
		return &r.res, err
	}
	return &r.res, nil
}

func (r *run) reconcile(ctx context.Context) error {
	app, err := r.registration(ctx)
	if err != nil {
		return err
	}
	if err := r.secret(ctx, app); err != nil {
		return err
	}
	sp, err := r.servicePrincipal(ctx, app)
	if err != nil {
		return err
	}
	graphSP, err := r.graphServicePrincipal(ctx)
	if err != nil {
		return err
	}
	if err := r.consent(ctx, sp, graphSP); err != nil {
		return err
	}
	if err := r.appRoles(ctx, sp, graphSP); err != nil {
		return err
	}
	if err := r.publish(ctx, app); err != nil {
		return err
	}
	return r.register(ctx)
}

// ---- step: the app registration ----

const stepRegistration = "app registration"

// find locates the registration: by --app-id, by tamlink's tag for the
// domain, or by display name.
func (r *run) find(ctx context.Context) (*graph.Application, string, error) {
	try := func(filter, how string) (*graph.Application, string, error) {
		apps, err := r.g.ListApplications(ctx, filter)
		if err != nil {
			return nil, "", err
		}
		switch len(apps) {
		case 0:
			return nil, "", nil
		case 1:
			return &apps[0], how, nil
		}
		var ids []string
		for _, a := range apps {
			ids = append(ids, a.AppID)
		}
		return nil, "", desk.Invalid("app-id", "%d app registrations match %s (%s): say which with --app-id", len(apps), how, strings.Join(ids, ", "))
	}
	if r.cfg.AppID != "" {
		a, how, err := try("appId eq "+graph.Quote(r.cfg.AppID), "appId "+r.cfg.AppID)
		if err == nil && a == nil {
			return nil, "", &desk.Error{Code: desk.ENotFound, Field: "app-id", Message: "no app registration with appId " + r.cfg.AppID + " in tenant " + r.cfg.Tenant}
		}
		return a, how, err
	}
	if a, how, err := try("tags/any(t:t eq "+graph.Quote(Tag(r.domain))+")", "tag "+Tag(r.domain)); a != nil || err != nil {
		return a, how, err
	}
	name := r.displayName()
	return try("displayName eq "+graph.Quote(name), "display name "+strconv.Quote(name))
}

func (r *run) displayName() string {
	if strings.TrimSpace(r.cfg.DisplayName) != "" {
		return strings.TrimSpace(r.cfg.DisplayName)
	}
	return DefaultDisplayName(r.domain)
}

func two() *int { v := 2; return &v }

func desiredScope(id string) graph.PermissionScope {
	return graph.PermissionScope{ID: id, Value: ScopeName, Type: "User", IsEnabled: true,
		AdminConsentDisplayName: AdminConsentDisplayName, AdminConsentDescription: AdminConsentDescription,
		UserConsentDisplayName: UserConsentDisplayName, UserConsentDescription: UserConsentDescription}
}

// graphAccess is the Microsoft Graph entry of requiredResourceAccess.
func graphAccess() graph.RequiredResourceAccess {
	rra := graph.RequiredResourceAccess{ResourceAppID: graph.GraphAppID,
		ResourceAccess: []graph.ResourceAccess{{ID: WellKnownGraphIDs["Scope:"+UserRead], Type: "Scope"}}}
	for _, role := range NotificationRoles {
		rra.ResourceAccess = append(rra.ResourceAccess, graph.ResourceAccess{ID: WellKnownGraphIDs["Role:"+role], Type: "Role"})
	}
	return rra
}

func (r *run) registration(ctx context.Context) (*graph.Application, error) {
	r.begin("App registration (guide 3.1 steps 1, 2, 4, 5, 6)")
	app, how, err := r.find(ctx)
	if err != nil {
		if desk.ErrorCode(err) != desk.EInternal {
			return nil, err
		}
		return nil, r.fail(stepRegistration+": find", err)
	}
	if app == nil {
		return r.create(ctx)
	}
	r.say("found %q, appId %s (object %s), by %s", app.DisplayName, app.AppID, app.ID, how)
	r.res.Channel.AppID = app.AppID
	return app, r.repair(ctx, app)
}

func (r *run) create(ctx context.Context) (*graph.Application, error) {
	scopeID := uuid.NewString()
	body := graph.Application{
		DisplayName:    r.displayName(),
		SignInAudience: "AzureADMyOrg",
		Tags:           []string{Tag(r.domain)},
		Web:            &graph.Web{RedirectURIs: []string{}, ImplicitGrantSettings: &graph.ImplicitGrantSettings{}},
		API: &graph.API{RequestedAccessTokenVersion: two(), OAuth2PermissionScopes: []graph.PermissionScope{desiredScope(scopeID)},
			PreAuthorizedApplications: []graph.PreAuthorizedApplication{}},
		RequiredResourceAccess: []graph.RequiredResourceAccess{graphAccess()},
	}
	app, err := r.g.CreateApplication(ctx, body)
	if err != nil {
		return nil, r.fail(stepRegistration+": create", err)
	}
	r.wrote()
	r.say("created %q: appId %s (object %s), single tenant, v2 access tokens, scope %s (%s), User.Read + %s requested",
		app.DisplayName, app.AppID, app.ID, ScopeName, scopeID, strings.Join(NotificationRoles, " + "))
	r.res.Channel.AppID = app.AppID
	// The redirect URIs and the Application ID URI carry the appId Entra
	// just assigned: a second request (retried while Entra replicates).
	patch := map[string]any{
		"identifierUris": []string{IdentifierURI(r.domain, app.AppID)},
		"web":            graph.Web{RedirectURIs: RedirectURIs(r.domain, app.AppID), ImplicitGrantSettings: &graph.ImplicitGrantSettings{}},
	}
	if err := r.g.UpdateApplication(ctx, app.ID, patch); err != nil {
		return nil, r.fail(stepRegistration+": Application ID URI and redirect URIs", err)
	}
	r.wrote()
	r.say("set Application ID URI %s and the 5 redirect URIs", IdentifierURI(r.domain, app.AppID))
	app.IdentifierURIs = []string{IdentifierURI(r.domain, app.AppID)}
	app.Web = &graph.Web{RedirectURIs: RedirectURIs(r.domain, app.AppID), ImplicitGrantSettings: &graph.ImplicitGrantSettings{}}
	if app.API == nil || len(app.API.OAuth2PermissionScopes) == 0 {
		app.API = body.API // a dry run's placeholder answer echoes little
	}
	// Pre-authorization must name a scope Graph has already saved.
	if err := r.preAuthorize(ctx, &app, scopeID); err != nil {
		return nil, err
	}
	return &app, nil
}

// repair PATCHes what differs from what tamlink needs; it keeps what the
// customer added (other redirect URIs, scopes, clients, permissions).
func (r *run) repair(ctx context.Context, app *graph.Application) error {
	patch := map[string]any{}
	var notes []string
	if app.SignInAudience != "AzureADMyOrg" {
		patch["signInAudience"] = "AzureADMyOrg"
		notes = append(notes, "audience "+app.SignInAudience+" → AzureADMyOrg (single tenant)")
	}
	if !slices.Contains(app.Tags, Tag(r.domain)) {
		patch["tags"] = append(slices.Clone(app.Tags), Tag(r.domain))
		notes = append(notes, "tag "+Tag(r.domain))
	}
	uri := IdentifierURI(r.domain, app.AppID)
	if len(app.IdentifierURIs) != 1 || app.IdentifierURIs[0] != uri {
		patch["identifierUris"] = []string{uri}
		notes = append(notes, fmt.Sprintf("Application ID URI %v → %s", app.IdentifierURIs, uri))
	}
	web := graph.Web{ImplicitGrantSettings: &graph.ImplicitGrantSettings{}}
	implicitOn := false
	if app.Web != nil {
		web.RedirectURIs = slices.Clone(app.Web.RedirectURIs)
		if s := app.Web.ImplicitGrantSettings; s != nil && (s.EnableAccessTokenIssuance || s.EnableIDTokenIssuance) {
			implicitOn = true
		}
	}
	var added []string
	for _, u := range RedirectURIs(r.domain, app.AppID) {
		if !slices.Contains(web.RedirectURIs, u) {
			web.RedirectURIs = append(web.RedirectURIs, u)
			added = append(added, u)
		}
	}
	if len(added) > 0 || implicitOn {
		if web.RedirectURIs == nil {
			web.RedirectURIs = []string{}
		}
		patch["web"] = web
		if len(added) > 0 {
			notes = append(notes, fmt.Sprintf("%d redirect URI(s) added", len(added)))
		}
		if implicitOn {
			notes = append(notes, "implicit grant turned off (tamlink signs in with the authorization code flow and PKCE)")
		}
	}
	if rra, changed := mergeAccess(app.RequiredResourceAccess); changed {
		patch["requiredResourceAccess"] = rra
		notes = append(notes, "API permissions: User.Read (delegated), "+strings.Join(NotificationRoles, ", ")+" (application) requested")
	}
	if len(patch) > 0 {
		if err := r.g.UpdateApplication(ctx, app.ID, patch); err != nil {
			return r.fail(stepRegistration+": update", err)
		}
		r.wrote()
		r.say("updated: %s", strings.Join(notes, "; "))
	} else {
		r.say("audience, Application ID URI %s, 5 redirect URIs and API permissions: as needed", uri)
	}

	// The exposed API: scope, token version, pre-authorized clients.
	api := graph.API{}
	if app.API != nil {
		api = *app.API
		api.OAuth2PermissionScopes = slices.Clone(api.OAuth2PermissionScopes)
		api.PreAuthorizedApplications = slices.Clone(api.PreAuthorizedApplications)
	}
	i := slices.IndexFunc(api.OAuth2PermissionScopes, func(s graph.PermissionScope) bool { return s.Value == ScopeName })
	if i < 0 {
		// A new scope first, pre-authorization in a second request.
		scopeID := uuid.NewString()
		api.OAuth2PermissionScopes = append(api.OAuth2PermissionScopes, desiredScope(scopeID))
		api.RequestedAccessTokenVersion = two()
		api.PreAuthorizedApplications = validPreAuth(api)
		if err := r.g.UpdateApplication(ctx, app.ID, map[string]any{"api": api}); err != nil {
			return r.fail(stepRegistration+": scope "+ScopeName, err)
		}
		r.wrote()
		r.say("added scope %s (%s)", ScopeName, scopeID)
		app.API = &api
		return r.preAuthorize(ctx, app, scopeID)
	}
	scope := api.OAuth2PermissionScopes[i]
	var apiNotes []string
	want := desiredScope(scope.ID)
	if enabled := scope; enabled.IsEnabled && scope != want {
		// Graph changes an enabled scope only after it was disabled in an
		// earlier request.
		off := api
		off.OAuth2PermissionScopes = slices.Clone(api.OAuth2PermissionScopes)
		off.OAuth2PermissionScopes[i].IsEnabled = false
		if err := r.g.UpdateApplication(ctx, app.ID, map[string]any{"api": off}); err != nil {
			return r.fail(stepRegistration+": disable scope "+ScopeName+" to change it", err)
		}
		r.wrote()
		r.say("disabled scope %s for a moment: Graph changes an enabled scope only after disabling it", ScopeName)
	}
	if scope != want {
		if !scope.IsEnabled {
			apiNotes = append(apiNotes, "scope "+ScopeName+" enabled")
		}
		if scope.Type != want.Type {
			apiNotes = append(apiNotes, "scope consent by admins and users")
		}
		if scope.AdminConsentDisplayName != want.AdminConsentDisplayName || scope.AdminConsentDescription != want.AdminConsentDescription ||
			scope.UserConsentDisplayName != want.UserConsentDisplayName || scope.UserConsentDescription != want.UserConsentDescription {
			apiNotes = append(apiNotes, "consent texts as in the guide")
		}
		api.OAuth2PermissionScopes[i] = want
	}
	if api.RequestedAccessTokenVersion == nil || *api.RequestedAccessTokenVersion != 2 {
		api.RequestedAccessTokenVersion = two()
		apiNotes = append(apiNotes, "access token version 2")
	}
	pre, missing := mergePreAuth(validPreAuth(api), scope.ID)
	if len(missing) > 0 {
		api.PreAuthorizedApplications = pre
		apiNotes = append(apiNotes, fmt.Sprintf("%d client(s) pre-authorized: %s", len(missing), strings.Join(missing, ", ")))
	}
	r.res.ScopeID = scope.ID
	if len(apiNotes) == 0 {
		r.say("scope %s (%s), v2 tokens and the %d Teams/Microsoft 365 clients: as needed", ScopeName, scope.ID, len(PreAuthorizedClients))
		return nil
	}
	if err := r.g.UpdateApplication(ctx, app.ID, map[string]any{"api": api}); err != nil {
		return r.fail(stepRegistration+": exposed API", err)
	}
	r.wrote()
	app.API = &api
	r.say("updated the exposed API: %s", strings.Join(apiNotes, "; "))
	return nil
}

// validPreAuth drops pre-authorization entries naming scopes that no
// longer exist (Graph would refuse the whole api object).
func validPreAuth(api graph.API) []graph.PreAuthorizedApplication {
	out := []graph.PreAuthorizedApplication{}
	for _, p := range api.PreAuthorizedApplications {
		var ids []string
		for _, id := range p.DelegatedPermissionIDs {
			if slices.ContainsFunc(api.OAuth2PermissionScopes, func(s graph.PermissionScope) bool { return strings.EqualFold(s.ID, id) }) {
				ids = append(ids, id)
			}
		}
		if len(ids) > 0 {
			out = append(out, graph.PreAuthorizedApplication{AppID: p.AppID, DelegatedPermissionIDs: ids})
		}
	}
	return out
}

// mergePreAuth adds scopeID for every client tamlink needs; it returns the
// names of the clients that lacked it.
func mergePreAuth(pre []graph.PreAuthorizedApplication, scopeID string) ([]graph.PreAuthorizedApplication, []string) {
	var missing []string
	for _, c := range PreAuthorizedClients {
		i := slices.IndexFunc(pre, func(p graph.PreAuthorizedApplication) bool { return strings.EqualFold(p.AppID, c.ID) })
		switch {
		case i < 0:
			pre = append(pre, graph.PreAuthorizedApplication{AppID: c.ID, DelegatedPermissionIDs: []string{scopeID}})
			missing = append(missing, c.Name)
		case !slices.ContainsFunc(pre[i].DelegatedPermissionIDs, func(id string) bool { return strings.EqualFold(id, scopeID) }):
			pre[i].DelegatedPermissionIDs = append(slices.Clone(pre[i].DelegatedPermissionIDs), scopeID)
			missing = append(missing, c.Name)
		}
	}
	return pre, missing
}

// preAuthorize PATCHes the whole api object with the pre-authorized
// clients, now that the scope exists.
func (r *run) preAuthorize(ctx context.Context, app *graph.Application, scopeID string) error {
	api := *app.API
	pre, missing := mergePreAuth(validPreAuth(api), scopeID)
	api.PreAuthorizedApplications = pre
	r.res.ScopeID = scopeID
	if len(missing) == 0 {
		return nil
	}
	if err := r.g.UpdateApplication(ctx, app.ID, map[string]any{"api": api}); err != nil {
		return r.fail(stepRegistration+": pre-authorized clients", err)
	}
	r.wrote()
	app.API = &api
	r.say("pre-authorized %d Teams/Microsoft 365 clients for %s", len(missing), ScopeName)
	return nil
}

// mergeAccess adds User.Read and the notification roles to the Graph entry
// of requiredResourceAccess.
func mergeAccess(in []graph.RequiredResourceAccess) ([]graph.RequiredResourceAccess, bool) {
	out := slices.Clone(in)
	want := graphAccess()
	i := slices.IndexFunc(out, func(r graph.RequiredResourceAccess) bool { return strings.EqualFold(r.ResourceAppID, graph.GraphAppID) })
	if i < 0 {
		return append(out, want), true
	}
	entry := graph.RequiredResourceAccess{ResourceAppID: out[i].ResourceAppID, ResourceAccess: slices.Clone(out[i].ResourceAccess)}
	changed := false
	for _, ra := range want.ResourceAccess {
		if !slices.ContainsFunc(entry.ResourceAccess, func(x graph.ResourceAccess) bool { return strings.EqualFold(x.ID, ra.ID) && x.Type == ra.Type }) {
			entry.ResourceAccess = append(entry.ResourceAccess, ra)
			changed = true
		}
	}
	out[i] = entry
	return out, changed
}

// ---- step: the client secret ----

func (r *run) secret(ctx context.Context, app *graph.Application) error {
	r.begin("Client secret (guide 3.1 step 3)")
	var newest *graph.PasswordCredential
	for i, p := range app.PasswordCredentials {
		if p.EndDateTime != nil && (newest == nil || p.EndDateTime.After(*newest.EndDateTime)) {
			newest = &app.PasswordCredentials[i]
		}
	}
	valid := newest != nil && newest.EndDateTime.After(r.now)
	reason := ""
	switch {
	case r.cfg.NewSecret:
		reason = "asked for (--new-secret)"
	case len(app.PasswordCredentials) == 0:
		reason = "the registration has none"
	case !valid:
		reason = "every secret of the registration has expired"
	case newest.EndDateTime.Sub(r.now) < 30*24*time.Hour:
		reason = "the newest secret expires within 30 days (the old one keeps working until it expires)"
	}
	if reason == "" {
		left := newest.EndDateTime.Sub(r.now)
		r.res.SecretNote = fmt.Sprintf("the registration has a secret (hint %s…, expires %s) whose value Graph never shows again; "+
			"the channel JSON below has no appSecret: use the value saved when it was made, or run again with --new-secret to make one",
			newest.Hint, newest.EndDateTime.Format("2006-01-02"))
		r.say("kept the existing secret %s… (expires %s, in %d days); no new one (use --new-secret to rotate)",
			newest.Hint, newest.EndDateTime.Format("2006-01-02"), int(left.Hours()/24))
		return nil
	}
	end := r.now.AddDate(0, r.cfg.SecretMonths, 0).UTC().Truncate(time.Second)
	pc, err := r.g.AddPassword(ctx, app.ID, SecretName, end)
	if err != nil {
		return r.fail("client secret", err)
	}
	r.wrote()
	r.res.Channel.AppSecret = pc.SecretText
	r.res.SecretExpires = end
	if pc.EndDateTime != nil && !pc.EndDateTime.IsZero() {
		r.res.SecretExpires = *pc.EndDateTime
	}
	r.say("added secret %q (hint %s…), valid until %s: %s; it is in the channel JSON below and shown nowhere else",
		SecretName, pc.Hint, r.res.SecretExpires.Format("2006-01-02"), reason)
	return nil
}

// ---- step: the service principal ----

func (r *run) servicePrincipal(ctx context.Context, app *graph.Application) (*graph.ServicePrincipal, error) {
	r.begin("Service principal (the app's identity in the tenant)")
	sp, err := r.g.ServicePrincipalByAppID(ctx, app.AppID)
	if err != nil {
		return nil, r.fail("service principal", err)
	}
	if sp != nil {
		r.say("exists (%s)", sp.ID)
		return sp, nil
	}
	created, err := r.g.CreateServicePrincipal(ctx, app.AppID)
	if err != nil {
		return nil, r.fail("service principal", err)
	}
	r.wrote()
	r.say("created (%s)", created.ID)
	return &created, nil
}

func (r *run) graphServicePrincipal(ctx context.Context) (*graph.ServicePrincipal, error) {
	r.begin("Microsoft Graph's permissions in the tenant")
	sp, err := r.g.ServicePrincipalByAppID(ctx, graph.GraphAppID)
	if err != nil {
		return nil, r.fail("Microsoft Graph service principal", err)
	}
	if sp == nil {
		return nil, r.fail("Microsoft Graph service principal", errors.New("the tenant has no service principal for Microsoft Graph (appId "+graph.GraphAppID+")"))
	}
	for _, name := range append([]string{"Scope:" + UserRead}, "Role:"+TeamsActivitySend, "Role:"+TeamsAppInstallationForUser) {
		kind, value, _ := strings.Cut(name, ":")
		id := sp.ScopeID(value)
		if kind == "Role" {
			id = sp.RoleID(value)
		}
		if id == "" {
			return nil, r.fail("Microsoft Graph service principal", fmt.Errorf("Microsoft Graph offers no %s permission %s in this tenant", strings.ToLower(kind), value))
		}
		if id != WellKnownGraphIDs[name] {
			r.say("note: %s is %s here (Microsoft's documented id is %s); using the tenant's", value, id, WellKnownGraphIDs[name])
		}
	}
	r.say("found (%s): User.Read, %s available", sp.ID, strings.Join(NotificationRoles, ", "))
	return sp, nil
}

// ---- step: admin consent for User.Read ----

func (r *run) consent(ctx context.Context, sp, graphSP *graph.ServicePrincipal) error {
	r.begin("Admin consent for User.Read (guide 3.1 step 4.7)")
	grants, err := r.g.PermissionGrants(ctx, sp.ID)
	if err != nil {
		return r.fail("admin consent", err)
	}
	for _, g := range grants {
		if g.ConsentType != "AllPrincipals" || !strings.EqualFold(g.ResourceID, graphSP.ID) {
			continue
		}
		if g.HasScope(UserRead) {
			r.say("already granted for all users (%s)", g.Scope)
			return nil
		}
		scope := strings.TrimSpace(g.Scope + " " + UserRead)
		if err := r.g.UpdatePermissionGrant(ctx, g.ID, scope); err != nil {
			return r.fail("admin consent", err)
		}
		r.wrote()
		r.say("added User.Read to the existing grant (%s)", scope)
		return nil
	}
	if _, err := r.g.CreatePermissionGrant(ctx, graph.OAuth2PermissionGrant{ClientID: sp.ID, ConsentType: "AllPrincipals",
		ResourceID: graphSP.ID, Scope: UserRead}); err != nil {
		return r.fail("admin consent", err)
	}
	r.wrote()
	r.say("granted User.Read for all users of the tenant")
	return nil
}

// ---- step: notification permissions ----

func (r *run) appRoles(ctx context.Context, sp, graphSP *graph.ServicePrincipal) error {
	r.begin("Notification permissions (not in the guide): " + strings.Join(NotificationRoles, ", "))
	have, err := r.g.AppRoleAssignments(ctx, sp.ID)
	if err != nil {
		return r.fail("notification permissions", err)
	}
	for _, role := range NotificationRoles {
		id := graphSP.RoleID(role)
		if slices.ContainsFunc(have, func(a graph.AppRoleAssignment) bool {
			return strings.EqualFold(a.AppRoleID, id) && strings.EqualFold(a.ResourceID, graphSP.ID)
		}) {
			r.say("%s: already granted", role)
			continue
		}
		if _, err := r.g.AssignAppRole(ctx, graphSP.ID, sp.ID, id); err != nil {
			return r.fail("notification permission "+role, err)
		}
		r.wrote()
		r.say("%s: granted now (admin consent for the application permission)", role)
	}
	return nil
}

// ---- step: the Teams app package and the org catalog ----

// bumpPatch returns v with its patch number increased.
func bumpPatch(v string) string {
	parts := strings.Split(v, ".")
	if len(parts) != 3 {
		return "1.0.1"
	}
	n, _ := strconv.Atoi(parts[2])
	return parts[0] + "." + parts[1] + "." + strconv.Itoa(n+1)
}

// versionLess compares MAJOR.MINOR.PATCH.
func versionLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := range 3 {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}

func (r *run) publish(ctx context.Context, app *graph.Application) error {
	r.begin("Teams app package, published to the org catalog (guide 3.2 and 4)")
	opts := r.cfg.Package
	opts.AppID, opts.Domain = app.AppID, r.domain
	if !desk.IsGUID(app.AppID) { // a dry run's placeholder appId
		opts.AppID = placeholderAppGUID
		if opts.TeamsAppID == "" {
			opts.TeamsAppID = placeholderTeamsGUID
		}
	}
	pkg, err := manifest.Build(opts)
	if err != nil {
		return err
	}
	m := &pkg.Manifest
	r.res.TeamsAppID = m.ID
	if m.ID == placeholderTeamsGUID {
		r.res.TeamsAppID = "{teams-app-id}"
	}
	existing, err := r.g.TeamsAppByExternalID(ctx, m.ID)
	if err == nil && existing == nil && r.cfg.Package.TeamsAppID == "" && desk.IsGUID(app.AppID) {
		// A package uploaded by hand (the guide's Developer Portal) has a
		// manifest id of its own: update that app rather than publish a
		// second one for the same Entra app.
		if existing, err = r.g.TeamsAppByClientAppID(ctx, app.AppID); err == nil && existing != nil {
			r.say("found catalog app %s (manifest id %s) made for this registration; updating it", existing.ID, existing.ExternalID)
			opts.TeamsAppID = existing.ExternalID
			if pkg, err = manifest.Build(opts); err != nil {
				return err
			}
			m = &pkg.Manifest
			r.res.TeamsAppID = m.ID
		}
	}
	if err != nil {
		return r.fail("app catalog", err)
	}
	var zip []byte
	build := func() error {
		if zip, err = pkg.Zip(); err != nil {
			return err
		}
		r.res.Package = zip
		return nil
	}
	if existing == nil {
		if err := build(); err != nil {
			return err
		}
		ta, err := r.g.PublishTeamsApp(ctx, zip, false)
		if err != nil {
			return r.fail("publish to the org catalog", err)
		}
		r.wrote()
		r.res.Channel.TeamsPublishedAppID = ta.ID
		r.res.CatalogState = "published"
		r.say("built the package (manifest.json, %s, %s; manifest id %s, version %s) and published it: catalog app id %s",
			manifest.ColorFile, manifest.OutlineFile, r.res.TeamsAppID, m.Version, ta.ID)
		return r.writePackage()
	}
	r.res.Channel.TeamsPublishedAppID = existing.ID
	latest := existing.Latest()
	same := latest != nil && latest.DisplayName == m.Name.Short && latest.ShortDescription == m.Description.Short &&
		latest.Description == m.Description.Full && !versionLess(latest.Version, m.Version)
	if same && !r.cfg.Republish {
		r.res.CatalogState = latest.PublishingState
		m.Version = latest.Version
		if err := build(); err != nil {
			return err
		}
		r.say("catalog app %s has version %s (%s): as needed", existing.ID, latest.Version, latest.PublishingState)
		switch latest.PublishingState {
		case "submitted":
			r.say("warning: it waits for an admin's approval: Teams admin center → Teams apps → Manage apps (guide 4.3)")
		case "rejected":
			r.say("warning: an admin rejected it: run setup with --republish to submit it again")
		}
		return r.writePackage()
	}
	if latest != nil && !versionLess(latest.Version, m.Version) {
		m.Version = bumpPatch(latest.Version)
	}
	if err := build(); err != nil {
		return err
	}
	def, err := r.g.UpdateTeamsApp(ctx, existing.ID, zip, false)
	if err != nil {
		return r.fail("update the org catalog's app", err)
	}
	r.wrote()
	r.res.CatalogState = def.PublishingState
	r.say("uploaded version %s of catalog app %s (%s)", m.Version, existing.ID, def.PublishingState)
	return r.writePackage()
}

func (r *run) writePackage() error {
	if r.cfg.PackageOut == "" || r.cfg.DryRun {
		return nil
	}
	if err := manifest.WriteFileAtomic(r.cfg.PackageOut, r.res.Package, 0o644); err != nil {
		return fmt.Errorf("write the package: %w", err)
	}
	r.say("wrote the package to %s", r.cfg.PackageOut)
	return nil
}
