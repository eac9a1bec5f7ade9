package setup

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/tamlink/tamlink/internal/graph"
	"github.com/tamlink/tamlink/internal/manifest"
)

// Severity of a finding.
type Severity string

const (
	Fault   Severity = "fault"   // tamlink (or a part of it) does not work: fix it
	Warning Severity = "warning" // works, but not as tamlink recommends
	OK      Severity = "ok"
	Skipped Severity = "skipped" // could not be checked with what was given
)

// Finding is one check's outcome. Check is a stable identifier for
// scripts (--json); Message says what is wrong, Fix what to do.
type Finding struct {
	Check    string   `json:"check"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
	Fix      string   `json:"fix,omitempty"`
}

// Report is the outcome of `tamlink doctor`.
type Report struct {
	TenantID string    `json:"tenantId,omitempty"`
	AppID    string    `json:"appId,omitempty"`
	Domain   string    `json:"domain,omitempty"`
	Package  string    `json:"package,omitempty"`
	Findings []Finding `json:"findings"`
}

// Count returns how many findings have severity s.
func (r *Report) Count(s Severity) int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == s {
			n++
		}
	}
	return n
}

// Has reports whether a check produced a finding of severity s.
func (r *Report) Has(check string, s Severity) bool {
	return slices.ContainsFunc(r.Findings, func(f Finding) bool { return f.Check == check && f.Severity == s })
}

func (r *Report) add(check string, s Severity, fix, format string, args ...any) {
	r.Findings = append(r.Findings, Finding{Check: check, Severity: s, Message: fmt.Sprintf(format, args...), Fix: fix})
}

// WriteText renders the report for a person.
func (r *Report) WriteText(w io.Writer) {
	subject := []string{}
	if r.AppID != "" {
		subject = append(subject, "app "+r.AppID)
	}
	if r.TenantID != "" {
		subject = append(subject, "tenant "+r.TenantID)
	}
	if r.Domain != "" {
		subject = append(subject, "domain "+r.Domain)
	}
	if r.Package != "" {
		subject = append(subject, "package "+r.Package)
	}
	fmt.Fprintf(w, "tamlink doctor: %s\n", strings.Join(subject, ", "))
	for i := 0; i < len(r.Findings); i++ {
		f := r.Findings[i]
		label := map[Severity]string{Fault: "FAULT", Warning: "warning", OK: "ok", Skipped: "skipped"}[f.Severity]
		if f.Severity == Skipped {
			// Checks skipped for the same reason share one line.
			checks := []string{f.Check}
			for i+1 < len(r.Findings) && r.Findings[i+1].Severity == Skipped && r.Findings[i+1].Message == f.Message {
				i++
				checks = append(checks, r.Findings[i].Check)
			}
			fmt.Fprintf(w, "  %-8s %s: %s\n", label, strings.Join(checks, ", "), f.Message)
			continue
		}
		fmt.Fprintf(w, "  %-8s %-26s %s\n", label, f.Check, f.Message)
		if f.Fix != "" && (f.Severity == Fault || f.Severity == Warning) {
			fmt.Fprintf(w, "  %-8s %-26s fix: %s\n", "", "", f.Fix)
		}
	}
	fmt.Fprintf(w, "%d fault(s), %d warning(s), %d check(s) skipped\n", r.Count(Fault), r.Count(Warning), r.Count(Skipped))
}

// DoctorConfig says what to check and with which credentials.
type DoctorConfig struct {
	TenantID string
	AppID    string
	Domain   string // tamlink's host; derived from the registration or package when empty

	// PublishedAppID is the channel's teamsPublishedAppId, when known.
	PublishedAppID string
	// SecretHint is the first three characters of the channel's secret
	// (which credential it is); SecretExpires its recorded expiry.
	SecretHint    string
	SecretExpires time.Time

	// Package is an app package to check (PackageName is its file name).
	Package     *manifest.Package
	PackageName string

	// Admin reads with a delegated admin token: every check.
	Admin *graph.Client
	// AppToken gets an app-only Graph token with the channel's secret;
	// AppGraph reads with it. Nil when no channel secret is at hand.
	AppToken func(ctx context.Context) (string, error)
	AppGraph *graph.Client
	// Explain words an app-only token failure (entra.Explain).
	Explain func(error) string

	Now func() time.Time
}

// Fixes shared by several findings.
func setupFix(c DoctorConfig, domain string) string {
	d := domain
	if d == "" {
		d = "HOST"
	}
	t := c.TenantID
	if t == "" {
		t = "TENANT"
	}
	return fmt.Sprintf("run `tamlink setup --tenant %s --domain %s --app-id %s` (it repairs the registration and keeps what it does not own)", t, d, c.AppID)
}

const notificationLoss = "customers get no Teams activity-feed notifications for ticket events (the workbench still shows every change)"

func notificationFix(c DoctorConfig, domain string) string {
	return setupFix(c, domain) + "; or in the Azure portal: App registrations → the app → API permissions → Add a permission → Microsoft Graph → " +
		"Application permissions → tick TeamsActivity.Send and TeamsAppInstallation.ReadWriteSelfForUser.All → Add permissions → Grant admin consent for your organisation"
}

// Doctor runs every check the credentials allow.
func Doctor(ctx context.Context, c DoctorConfig) *Report {
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	c.AppID = strings.ToLower(strings.TrimSpace(c.AppID))
	rep := &Report{TenantID: c.TenantID, AppID: c.AppID, Domain: c.Domain, Package: c.PackageName}
	d := &doctor{c: c, rep: rep, now: now(), domain: c.Domain}
	if d.domain == "" && c.Package != nil && c.Package.Manifest.WebApplicationInfo != nil {
		if u, err := url.Parse(c.Package.Manifest.WebApplicationInfo.Resource); err == nil && u.Scheme == "api" {
			d.domain = u.Host
		}
	}
	if c.AppID == "" && c.Package != nil && c.Package.Manifest.WebApplicationInfo != nil {
		d.c.AppID = strings.ToLower(c.Package.Manifest.WebApplicationInfo.ID)
		rep.AppID = d.c.AppID
	}
	d.appOnly(ctx)
	reader, how := c.Admin, "admin sign-in"
	if reader == nil && d.appReader != nil {
		reader, how = d.appReader, "the app's own token (it has Application.Read.All)"
	}
	if reader != nil && d.c.AppID != "" {
		d.registration(ctx, reader, how)
	} else if d.c.AppID != "" {
		for _, check := range []string{"registration", "redirect-uris", "application-id-uri", "scope", "pre-authorized-clients",
			"user-read", "service-principal", "client-secret"} {
			if slices.ContainsFunc(rep.Findings, func(f Finding) bool { return f.Check == check }) {
				continue
			}
			rep.add(check, Skipped, "", "needs --admin: an app-only token may not read app registrations (Application.Read.All), so a sign-in of an admin is required")
		}
	}
	if c.Admin != nil && d.c.AppID != "" {
		d.catalog(ctx)
	} else if d.c.AppID != "" {
		rep.add("catalog", Skipped, "", "needs --admin: Graph lists the Teams app catalog only for a signed-in user (delegated permissions)")
		if c.PublishedAppID != "" && d.scopeID != "" && strings.EqualFold(c.PublishedAppID, d.scopeID) {
			d.publishedIsScope()
		}
	}
	if c.Package != nil {
		d.pkg()
	}
	if c.Package == nil && d.c.AppID != "" {
		rep.add("package", Skipped, "", "give --package FILE to check the app package (Graph does not hand a published package back)")
	}
	rep.Domain = d.domain
	if d.domain == "" && d.c.AppID != "" {
		rep.add("domain", Skipped, "", "tamlink's domain is unknown: give --domain HOST to check redirect URIs, the Application ID URI and validDomains")
	}
	return rep
}

type doctor struct {
	c         DoctorConfig
	rep       *Report
	now       time.Time
	domain    string
	scopeID   string
	appReader *graph.Client
}

// appOnly checks the channel's own credentials: token, granted roles.
func (d *doctor) appOnly(ctx context.Context) {
	if d.c.AppToken == nil {
		return
	}
	tok, err := d.c.AppToken(ctx)
	if err != nil {
		msg := err.Error()
		if d.c.Explain != nil {
			msg = d.c.Explain(err)
		}
		fix := "check appId, tenantId and the secret of the channel; a new secret: `tamlink setup ... --new-secret`, then update the channel"
		if strings.Contains(msg, "7000222") {
			d.rep.add("client-secret", Fault, fix, "the channel's secret has expired: %s", msg)
		}
		d.rep.add("app-only-token", Fault, fix, "the channel's credentials get no app-only Graph token: %s", msg)
		return
	}
	d.rep.add("app-only-token", OK, "", "the channel's secret gets an app-only Graph token from the tenant")
	roles := tokenRoles(tok)
	var missing []string
	for _, r := range NotificationRoles {
		if !slices.ContainsFunc(roles, func(x string) bool { return strings.EqualFold(x, r) }) {
			missing = append(missing, r)
		}
	}
	if len(missing) > 0 {
		d.rep.add("notification-permissions", Fault, notificationFix(d.c, d.domain),
			"the app-only token lacks %s (roles: %v): %s", strings.Join(missing, " and "), roles, notificationLoss)
	} else {
		d.rep.add("notification-permissions", OK, "", "the app-only token carries %s", strings.Join(NotificationRoles, " and "))
	}
	if !d.c.SecretExpires.IsZero() {
		d.secretExpiry("the channel's secret", d.c.SecretExpires)
	}
	if d.c.AppGraph != nil {
		if _, err := d.c.AppGraph.ListApplications(ctx, "appId eq "+graph.Quote(d.c.AppID)); err == nil {
			d.appReader = d.c.AppGraph
		}
	}
}

// tokenRoles reads the roles claim of a token this process just received
// from the token endpoint (no signature check: nothing is trusted on it).
func tokenRoles(tok string) []string {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil
	}
	var claims struct {
		Roles []string `json:"roles"`
	}
	_ = json.Unmarshal(payload, &claims)
	return claims.Roles
}

func (d *doctor) secretExpiry(what string, end time.Time) {
	fix := "run `tamlink setup ... --new-secret` (or Certificates & secrets → New client secret) and update the channel with the new value"
	switch left := end.Sub(d.now); {
	case left <= 0:
		d.rep.add("client-secret", Fault, fix, "%s expired on %s: sign-in and notifications fail (AADSTS7000222)", what, end.Format("2006-01-02"))
	case left < 30*24*time.Hour:
		d.rep.add("client-secret", Fault, fix, "%s expires on %s, in %d days", what, end.Format("2006-01-02"), int(left.Hours()/24))
	default:
		d.rep.add("client-secret", OK, "", "%s is valid until %s", what, end.Format("2006-01-02"))
	}
}

func graphErr(err error) string {
	var ge *graph.Error
	if errors.As(err, &ge) {
		return fmt.Sprintf("Graph answered %d %s: %s", ge.Status, ge.Code, ge.Message)
	}
	return err.Error()
}

// registration checks the app registration, its service principal, the
// grants and the app roles.
func (d *doctor) registration(ctx context.Context, g *graph.Client, how string) {
	c, rep := d.c, d.rep
	apps, err := g.ListApplications(ctx, "appId eq "+graph.Quote(c.AppID))
	if err != nil {
		rep.add("registration", Fault, "sign in as an admin of the tenant (Application.Read.All)", "cannot read the registration: %s", graphErr(err))
		return
	}
	if len(apps) == 0 {
		rep.add("registration", Fault, "check appId and tenantId, or create the registration with `tamlink setup`",
			"no app registration with appId %s in tenant %s", c.AppID, c.TenantID)
		return
	}
	app := apps[0]
	rep.add("registration", OK, "", "%q (object %s), read with %s", app.DisplayName, app.ID, how)
	if d.domain == "" {
		for _, u := range app.IdentifierURIs {
			if pu, err := url.Parse(u); err == nil && pu.Scheme == "api" && strings.HasSuffix(strings.ToLower(u), "/"+c.AppID) {
				d.domain = pu.Host
			}
		}
	}
	fix := setupFix(c, d.domain)
	if app.SignInAudience != "AzureADMyOrg" {
		rep.add("sign-in-audience", Fault, fix+"; or Authentication → Supported account types → Accounts in this organizational directory only",
			"the registration accepts %s (multi-tenant): the guide asks for single tenant, and tamlink signs in at the tenant's own authority", app.SignInAudience)
	} else {
		rep.add("sign-in-audience", OK, "", "single tenant")
	}
	if d.domain != "" {
		var missing []string
		var have []string
		if app.Web != nil {
			have = app.Web.RedirectURIs
		}
		for _, u := range RedirectURIs(d.domain, c.AppID) {
			if !slices.Contains(have, u) {
				missing = append(missing, u)
			}
		}
		if len(missing) > 0 {
			rep.add("redirect-uris", Fault, fix+"; or Authentication → Web → Add URI",
				"%d of the guide's redirect URIs are missing: %s (the browser sign-in fails with AADSTS50011)", len(missing), strings.Join(missing, ", "))
		} else {
			rep.add("redirect-uris", OK, "", "the 5 redirect URIs are registered")
		}
		want := IdentifierURI(d.domain, c.AppID)
		switch {
		case !slices.Contains(app.IdentifierURIs, want):
			rep.add("application-id-uri", Fault, fix+"; or Expose an API → Application ID URI → "+want,
				"the Application ID URI is %v, not %s: Teams SSO fails (resourceDisabled)", app.IdentifierURIs, want)
		case c.Package != nil && c.Package.Manifest.WebApplicationInfo != nil && c.Package.Manifest.WebApplicationInfo.Resource != want:
			rep.add("application-id-uri", Fault, "rebuild the package (`tamlink manifest` or `tamlink setup`), or set the Developer Portal's SSO Application ID URI to "+want,
				"the package's webApplicationInfo.resource %q is not the Application ID URI %s", c.Package.Manifest.WebApplicationInfo.Resource, want)
		default:
			rep.add("application-id-uri", OK, "", "%s", want)
		}
	}
	if s := app.Web; s != nil && s.ImplicitGrantSettings != nil && (s.ImplicitGrantSettings.EnableAccessTokenIssuance || s.ImplicitGrantSettings.EnableIDTokenIssuance) {
		rep.add("implicit-grant", Warning, fix+"; or Authentication → untick Access tokens and ID tokens",
			"implicit grant is on (the guide's 3.1 step 2.3): tamlink does not use it (authorization code with PKCE), and it lets tokens travel in URLs")
	}
	var scope *graph.PermissionScope
	if app.API != nil {
		for i, s := range app.API.OAuth2PermissionScopes {
			if s.Value == ScopeName {
				scope = &app.API.OAuth2PermissionScopes[i]
			}
		}
	}
	switch {
	case scope == nil:
		rep.add("scope", Fault, fix+"; or Expose an API → Add a scope → "+ScopeName, "the registration exposes no %s scope: Teams SSO fails", ScopeName)
	case !scope.IsEnabled:
		d.scopeID = scope.ID
		rep.add("scope", Fault, fix+"; or Expose an API → "+ScopeName+" → State: Enabled", "the %s scope (%s) is disabled: Teams SSO fails", ScopeName, scope.ID)
	default:
		d.scopeID = scope.ID
		if scope.Type != "User" {
			rep.add("scope", Warning, fix, "the %s scope may only be consented by admins (the guide: Admins and users)", ScopeName)
		} else {
			rep.add("scope", OK, "", "%s (%s) enabled", ScopeName, scope.ID)
		}
	}
	if app.API == nil || app.API.RequestedAccessTokenVersion == nil || *app.API.RequestedAccessTokenVersion != 2 {
		rep.add("access-token-version", Warning, fix+"; or Manifest → requestedAccessTokenVersion: 2",
			"the registration asks for v1 access tokens; Teams' documentation asks for v2 (tamlink accepts both)")
	}
	if scope != nil {
		var missing []string
		for _, cl := range PreAuthorizedClients {
			ok := false
			if app.API != nil {
				for _, p := range app.API.PreAuthorizedApplications {
					if strings.EqualFold(p.AppID, cl.ID) && slices.ContainsFunc(p.DelegatedPermissionIDs, func(id string) bool { return strings.EqualFold(id, scope.ID) }) {
						ok = true
					}
				}
			}
			if !ok {
				missing = append(missing, fmt.Sprintf("%s (%s)", cl.Name, cl.ID))
			}
		}
		if len(missing) > 0 {
			rep.add("pre-authorized-clients", Fault, fix+"; or Expose an API → Add a client application, tick "+ScopeName,
				"not pre-authorized for %s: %s; users of those clients get a consent prompt or no SSO", ScopeName, strings.Join(missing, "; "))
		} else {
			rep.add("pre-authorized-clients", OK, "", "the %d Teams and Microsoft 365 clients", len(PreAuthorizedClients))
		}
	}
	requested := func(kind, value string) bool {
		id := WellKnownGraphIDs[kind+":"+value]
		for _, rra := range app.RequiredResourceAccess {
			if strings.EqualFold(rra.ResourceAppID, graph.GraphAppID) {
				for _, ra := range rra.ResourceAccess {
					if ra.Type == kind && strings.EqualFold(ra.ID, id) {
						return true
					}
				}
			}
		}
		return false
	}
	d.secrets(app)

	sp, err := g.ServicePrincipalByAppID(ctx, c.AppID)
	if err != nil {
		rep.add("service-principal", Fault, "", "cannot read the service principal: %s", graphErr(err))
		return
	}
	if sp == nil {
		rep.add("service-principal", Fault, fix+"; or open Enterprise applications once / grant admin consent in the portal, which creates it",
			"the app has no service principal in the tenant: nobody can sign in, and no consent or app role can be granted")
		if !requested("Scope", UserRead) {
			rep.add("user-read", Fault, fix+"; or API permissions → Add a permission → Microsoft Graph → Delegated → User.Read", "User.Read is not among the API permissions")
		}
		return
	}
	rep.add("service-principal", OK, "", "%s", sp.ID)
	graphSP, err := g.ServicePrincipalByAppID(ctx, graph.GraphAppID)
	if err != nil || graphSP == nil {
		rep.add("user-read", Skipped, "", "cannot read Microsoft Graph's service principal: %v", err)
		return
	}
	grants, err := g.PermissionGrants(ctx, sp.ID)
	if err != nil {
		rep.add("user-read", Skipped, "", "cannot read the delegated grants: %s (needs DelegatedPermissionGrant.Read.All)", graphErr(err))
	} else {
		consented := slices.ContainsFunc(grants, func(gr graph.OAuth2PermissionGrant) bool {
			return gr.ConsentType == "AllPrincipals" && strings.EqualFold(gr.ResourceID, graphSP.ID) && gr.HasScope(UserRead)
		})
		switch {
		case !requested("Scope", UserRead):
			rep.add("user-read", Fault, fix+"; or API permissions → Add a permission → Microsoft Graph → Delegated → User.Read → Grant admin consent",
				"User.Read is not among the API permissions: the workbench cannot read the user's profile after SSO")
		case !consented:
			rep.add("user-read", Fault, fix+"; or API permissions → Grant admin consent for your organisation",
				"User.Read has no admin consent: every user meets a consent prompt on first sign-in (SSO answers consent_required)")
		default:
			rep.add("user-read", OK, "", "requested and consented for all users")
		}
	}
	if d.c.AppToken != nil && !d.rep.Has("app-only-token", Fault) {
		return // the app-only token's roles claim already answered
	}
	assignments, err := g.AppRoleAssignments(ctx, sp.ID)
	if err != nil {
		rep.add("notification-permissions", Skipped, "", "cannot read the app role assignments: %s", graphErr(err))
		return
	}
	var unrequested, unconsented []string
	for _, role := range NotificationRoles {
		id := graphSP.RoleID(role)
		if !requested("Role", role) {
			unrequested = append(unrequested, role)
		}
		if !slices.ContainsFunc(assignments, func(a graph.AppRoleAssignment) bool { return strings.EqualFold(a.AppRoleID, id) }) {
			unconsented = append(unconsented, role)
		}
	}
	switch {
	case len(unconsented) == len(NotificationRoles) && len(unrequested) == len(NotificationRoles):
		rep.add("notification-permissions", Fault, notificationFix(c, d.domain),
			"the registration has no notification permission (the guide never asks for %s): %s", strings.Join(NotificationRoles, ", "), notificationLoss)
	case len(unconsented) > 0:
		rep.add("notification-permissions", Fault, notificationFix(c, d.domain),
			"%s without admin consent: %s", strings.Join(unconsented, ", "), notificationLoss)
	case len(unrequested) > 0:
		rep.add("notification-permissions", Warning, fix, "%s granted but not listed under API permissions", strings.Join(unrequested, ", "))
	default:
		rep.add("notification-permissions", OK, "", "%s granted", strings.Join(NotificationRoles, " and "))
	}
}

// secrets checks the registration's client secrets: the channel's (by
// hint) or the newest.
func (d *doctor) secrets(app graph.Application) {
	if d.rep.Has("client-secret", Fault) || d.rep.Has("client-secret", OK) {
		return // the channel's own expiry was checked already
	}
	var pick *graph.PasswordCredential
	for i, p := range app.PasswordCredentials {
		if p.EndDateTime == nil {
			continue
		}
		if d.c.SecretHint != "" && p.Hint == d.c.SecretHint {
			pick = &app.PasswordCredentials[i]
			break
		}
		if pick == nil || p.EndDateTime.After(*pick.EndDateTime) {
			pick = &app.PasswordCredentials[i]
		}
	}
	if pick == nil {
		d.rep.add("client-secret", Fault, "run `tamlink setup ... --new-secret` (or Certificates & secrets → New client secret)",
			"the registration has no client secret: tamlink cannot sign users in or send notifications")
		return
	}
	d.secretExpiry(fmt.Sprintf("secret %s… (%s)", pick.Hint, pick.KeyID), *pick.EndDateTime)
}

// catalog checks the org catalog entry and the channel's published app id.
func (d *doctor) catalog(ctx context.Context) {
	c, rep := d.c, d.rep
	externalID := manifest.DefaultTeamsAppID(c.AppID)
	if c.Package != nil && c.Package.Manifest.ID != "" {
		externalID = strings.ToLower(c.Package.Manifest.ID)
	}
	app, err := c.Admin.TeamsAppByExternalID(ctx, externalID)
	if err == nil && app == nil && c.Package == nil {
		// Not tamlink's default manifest id: a package made by hand.
		if app, err = c.Admin.TeamsAppByClientAppID(ctx, c.AppID); app != nil {
			externalID = app.ExternalID
		}
	}
	if err != nil {
		rep.add("catalog", Fault, "sign in as a Teams administrator (AppCatalog.Read.All)", "cannot read the app catalog: %s", graphErr(err))
		return
	}
	fix := setupFix(c, d.domain)
	if app == nil {
		rep.add("catalog", Fault, fix+"; or upload the package in Teams admin center → Teams apps → Manage apps → Upload",
			"no app with manifest id %s in the org catalog: users cannot add the Teams app (guide 4.2)", externalID)
	} else if l := app.Latest(); l == nil || l.PublishingState != "published" {
		state := "no version"
		if l != nil {
			state = l.PublishingState
		}
		rep.add("catalog", Fault, "Teams admin center → Teams apps → Manage apps → the app → Publish (guide 4.3); or `tamlink setup --republish`",
			"catalog app %s is %s, not published: users cannot add it yet", app.ID, state)
	} else {
		rep.add("catalog", OK, "", "catalog app %s, version %s, published", app.ID, l.Version)
	}
	p := c.PublishedAppID
	if p == "" {
		return
	}
	switch {
	case d.scopeID != "" && strings.EqualFold(p, d.scopeID):
		d.publishedIsScope()
	case app != nil && strings.EqualFold(p, app.ID):
		rep.add("published-app-id", OK, "", "teamsPublishedAppId is the catalog app's id")
	case strings.EqualFold(p, externalID):
		rep.add("published-app-id", Fault, fmt.Sprintf("set teamsPublishedAppId to %s", catalogID(app)),
			"teamsPublishedAppId %s is the manifest id; for an organisation's app the catalog assigns its own id", p)
	default:
		other, err := c.Admin.TeamsAppByID(ctx, p)
		switch {
		case err != nil:
			rep.add("published-app-id", Skipped, "", "cannot look %s up: %s", p, graphErr(err))
		case other == nil:
			rep.add("published-app-id", Fault, fmt.Sprintf("set teamsPublishedAppId to %s", catalogID(app)),
				"teamsPublishedAppId %s is no app of the org catalog", p)
		default:
			rep.add("published-app-id", Fault, fmt.Sprintf("set teamsPublishedAppId to %s", catalogID(app)),
				"teamsPublishedAppId %s is another catalog app (%q)", p, other.DisplayName)
		}
	}
}

func catalogID(a *graph.TeamsApp) string {
	if a == nil {
		return "the catalog app's id (publish the app first)"
	}
	return a.ID
}

func (d *doctor) publishedIsScope() {
	d.rep.add("published-app-id", Fault,
		"set teamsPublishedAppId to the org catalog's app id (Teams admin center → Teams apps → Manage apps → the app → App ID, or the id `tamlink setup` prints)",
		"teamsPublishedAppId is the access_as_user Scope ID (as the guide's 5.1 says); notifications need the published app's id (as its 4.2 says): the activity feed stays empty")
}

// pkg checks the app package.
func (d *doctor) pkg() {
	p := d.c.Package
	fix := "rebuild it with `tamlink manifest --app-id " + d.c.AppID + " --domain " + d.domain + " --out FILE` (or let `tamlink setup` publish it)"
	problems := p.Problems()
	if d.c.AppID != "" {
		problems = append(problems, manifest.ChannelProblems(p.Manifest, manifest.Expectations{AppID: d.c.AppID, Domain: d.domain})...)
	}
	seen := map[string]bool{}
	for _, pr := range problems {
		if seen[pr.String()] {
			continue
		}
		seen[pr.String()] = true
		check := "package"
		if strings.HasPrefix(pr.Field, "validDomains") {
			check = "valid-domains"
		}
		if strings.HasPrefix(pr.Field, "webApplicationInfo") {
			check = "package-sso"
		}
		d.rep.add(check, Fault, fix, "%s %s", pr.Field, pr.Message)
	}
	if len(problems) == 0 {
		d.rep.add("package", OK, "", "manifest %s (version %s) follows the schema rules and tamlink's needs", p.Manifest.ID, p.Manifest.Version)
	}
}

// HTTPClientFor is a small helper for callers building graph clients.
func HTTPClientFor(t http.RoundTripper) *http.Client {
	if t == nil {
		return &http.Client{Timeout: 60 * time.Second}
	}
	return &http.Client{Timeout: 60 * time.Second, Transport: t}
}
