package emulator

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Tenant is an Entra directory.
type Tenant struct {
	ID          string // GUID
	DisplayName string
	Domain      string // initial domain, e.g. "contoso.onmicrosoft.com"
}

// User is a directory user. HomeTenantID different from the tenant the user
// is added to makes the user a B2B guest there (UPN like
// alice_fabrikam.com#EXT#@contoso.onmicrosoft.com).
type User struct {
	ObjectID          string
	DisplayName       string
	GivenName         string
	Surname           string
	UserPrincipalName string
	Mail              string
	JobTitle          string
	PreferredLanguage string
	HomeTenantID      string
}

// Secret is a client secret (passwordCredential). A zero EndDateTime never
// expires.
type Secret struct {
	KeyID       string
	Value       string
	Hint        string
	EndDateTime time.Time
	// DisplayName and StartDateTime are what Graph's passwordCredential
	// shows besides the hint; addPassword sets them.
	DisplayName   string
	StartDateTime time.Time
}

// Scope is a delegated permission an app exposes (oauth2PermissionScopes),
// e.g. access_as_user.
type Scope struct {
	ID      string
	Value   string
	Enabled bool
	// Type is "User" (admins and users may consent) or "Admin"; the texts
	// are the consent prompt's. Graph's permissionScope carries them.
	Type                    string
	AdminConsentDisplayName string
	AdminConsentDescription string
	UserConsentDisplayName  string
	UserConsentDescription  string
}

// App is an app registration together with its service principal in the
// tenant it is added to. Apps are single-tenant, like the per-customer
// registrations tamlink is built around.
type App struct {
	AppID          string
	DisplayName    string
	Secrets        []Secret
	RedirectURIs   []string // web platform redirect URIs
	IdentifierURIs []string // e.g. api://host/{appId}
	Scopes         []Scope
	// PreAuthorizedClients are client app IDs pre-authorized for all the
	// app's scopes (the Teams/Office clients): they need no consent.
	PreAuthorizedClients []string
	// AccessTokenVersion is api.requestedAccessTokenVersion: 1 or 2; 0
	// means 1 like Entra's null.
	AccessTokenVersion int
	// RequiredGraphScopes are the delegated Graph permissions the app
	// registration lists (requiredResourceAccess), e.g. "User.Read". They
	// are what "/.default" and a bare GrantConsent mean.
	RequiredGraphScopes []string
	// GraphAppRoles are admin-consented Graph application permissions
	// (e.g. "TeamsActivity.Send"); they become the roles claim of
	// client-credentials Graph tokens. Empty gives a token without roles,
	// as Entra does.
	GraphAppRoles []string

	// The fields below are what Microsoft Graph shows and edits of the
	// registration (graph_apps.go); the identity side reads the same struct.

	// ObjectID is the application object's id (Graph's application.id,
	// not the appId); AddApp assigns one when empty.
	ObjectID string
	// SignInAudience is "AzureADMyOrg" (the default) or a multi-tenant
	// audience. The emulator's token side treats every app as single-tenant.
	SignInAudience string
	// ImplicitIDTokens and ImplicitAccessTokens are
	// web.implicitGrantSettings.
	ImplicitIDTokens, ImplicitAccessTokens bool
	// Tags are the application's tags.
	Tags []string
	// PreAuthorizedScopes records, per pre-authorized client (lower-case
	// appId), the scope ids Graph's preAuthorizedApplications lists; a
	// client in PreAuthorizedClients without an entry is pre-authorized for
	// every scope.
	PreAuthorizedScopes map[string][]string
	// RequiredGraphRoles are the Graph application permissions the
	// registration requests (requiredResourceAccess type Role); granting
	// them is GraphAppRoles.
	RequiredGraphRoles []string
	// PublicClient is isFallbackPublicClient: the app may run the device
	// code flow without a secret.
	PublicClient bool
	// NoServicePrincipal: the app has no service principal in its tenant
	// yet (an app created through Graph before POST /servicePrincipals).
	NoServicePrincipal bool
	// Created is when the registration was made.
	Created time.Time

	// TeamsAppID is the id of the app's Teams app in the tenant's org
	// catalog (what installedApps binds to; a channel's
	// teamsPublishedAppId); empty when none was published.
	TeamsAppID string
	// ActivityTypes are the activity types the Teams app's manifest
	// declares; sendActivityNotification refuses others (graph_teamwork.go).
	ActivityTypes []string
}

type tenantState struct {
	Tenant
	users     map[string]*User // by lower-case object ID
	userOrder []string         // insertion order, for the sign-in page
	apps      map[string]*appState
	appOrder  []string
	// consents[appID][principal] = canonical scope -> display name.
	// principal is a user object ID, or "" for tenant-wide admin consent.
	consents map[string]map[string]map[string]string
	mfa      map[string]bool // user OID -> MFA required (injected)
}

type appState struct {
	App
	spID string // service principal object ID (oid/sub of app-only tokens)
}

// isGUID reports whether s is a canonical GUID (any case).
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	_, err := uuid.Parse(s)
	return err == nil
}

func lower(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// AddTenant registers a directory. ID must be a GUID; Domain defaults to a
// name under onmicrosoft.com.
func (e *Emulator) AddTenant(t Tenant) error {
	if !isGUID(t.ID) {
		return fmt.Errorf("emulator: tenant ID %q is not a GUID", t.ID)
	}
	t.ID = lower(t.ID)
	if t.Domain == "" {
		t.Domain = "tenant" + strings.ReplaceAll(t.ID, "-", "")[:8] + ".onmicrosoft.com"
	}
	t.Domain = lower(t.Domain)
	if t.DisplayName == "" {
		t.DisplayName = t.Domain
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.tenants[t.ID]; ok {
		return fmt.Errorf("emulator: tenant %s already exists", t.ID)
	}
	if other, ok := e.domains[t.Domain]; ok {
		return fmt.Errorf("emulator: domain %s already belongs to tenant %s", t.Domain, other)
	}
	e.tenants[t.ID] = &tenantState{
		Tenant:   t,
		users:    map[string]*User{},
		apps:     map[string]*appState{},
		consents: map[string]map[string]map[string]string{},
		mfa:      map[string]bool{},
	}
	e.domains[t.Domain] = t.ID
	e.log.Info("emulator: tenant added", "tenant", t.ID, "domain", t.Domain)
	return nil
}

// Tenants lists the directories, sorted by ID.
func (e *Emulator) Tenants() []Tenant {
	e.mu.RLock()
	defer e.mu.RUnlock()
	out := make([]Tenant, 0, len(e.tenants))
	for _, t := range e.tenants {
		out = append(out, t.Tenant)
	}
	slices.SortFunc(out, func(a, b Tenant) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// AddUser adds a user (member, or guest when HomeTenantID names another
// tenant). ObjectID defaults to a new GUID; UserPrincipalName is required.
func (e *Emulator) AddUser(tenantID string, u User) error {
	if u.ObjectID == "" {
		u.ObjectID = uuid.NewString()
	}
	if !isGUID(u.ObjectID) {
		return fmt.Errorf("emulator: user object ID %q is not a GUID", u.ObjectID)
	}
	u.ObjectID = lower(u.ObjectID)
	if strings.TrimSpace(u.UserPrincipalName) == "" || !strings.Contains(u.UserPrincipalName, "@") {
		return fmt.Errorf("emulator: user %s needs a userPrincipalName like name@domain", u.ObjectID)
	}
	if u.HomeTenantID == "" {
		u.HomeTenantID = tenantID
	}
	if !isGUID(u.HomeTenantID) {
		return fmt.Errorf("emulator: home tenant ID %q is not a GUID", u.HomeTenantID)
	}
	u.HomeTenantID = lower(u.HomeTenantID)
	if u.DisplayName == "" {
		u.DisplayName = strings.TrimSpace(u.GivenName + " " + u.Surname)
		if u.DisplayName == "" {
			u.DisplayName = u.UserPrincipalName
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	t, err := e.tenantLocked(tenantID)
	if err != nil {
		return err
	}
	if _, ok := t.users[u.ObjectID]; ok {
		return fmt.Errorf("emulator: user %s already exists in tenant %s", u.ObjectID, t.ID)
	}
	for _, o := range t.users {
		if strings.EqualFold(o.UserPrincipalName, u.UserPrincipalName) {
			return fmt.Errorf("emulator: userPrincipalName %s already used in tenant %s", u.UserPrincipalName, t.ID)
		}
	}
	t.users[u.ObjectID] = &u
	t.userOrder = append(t.userOrder, u.ObjectID)
	return nil
}

// RemoveUser deletes a user; tokens already issued to them stop working at
// the emulator's Graph and as OBO assertions.
func (e *Emulator) RemoveUser(tenantID, userOID string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	t, err := e.tenantLocked(tenantID)
	if err != nil {
		return err
	}
	oid := lower(userOID)
	if _, ok := t.users[oid]; !ok {
		return fmt.Errorf("emulator: user %s not found in tenant %s", userOID, t.ID)
	}
	delete(t.users, oid)
	t.userOrder = slices.DeleteFunc(t.userOrder, func(s string) bool { return s == oid })
	for _, byPrincipal := range t.consents {
		delete(byPrincipal, oid)
	}
	delete(t.mfa, oid)
	return nil
}

// Users lists a tenant's users in insertion order (nil for an unknown tenant).
func (e *Emulator) Users(tenantID string) []User {
	e.mu.RLock()
	defer e.mu.RUnlock()
	t, err := e.tenantLocked(tenantID)
	if err != nil {
		return nil
	}
	out := make([]User, 0, len(t.userOrder))
	for _, oid := range t.userOrder {
		out = append(out, *t.users[oid])
	}
	return out
}

// AddApp registers an application and its service principal in a tenant.
func (e *Emulator) AddApp(tenantID string, a App) error {
	if !isGUID(a.AppID) {
		return fmt.Errorf("emulator: appId %q is not a GUID", a.AppID)
	}
	a.AppID = lower(a.AppID)
	if a.DisplayName == "" {
		a.DisplayName = a.AppID
	}
	switch a.AccessTokenVersion {
	case 0:
		a.AccessTokenVersion = 1
	case 1, 2:
	default:
		return fmt.Errorf("emulator: AccessTokenVersion must be 1 or 2, got %d", a.AccessTokenVersion)
	}
	for i := range a.Scopes {
		if a.Scopes[i].ID == "" {
			a.Scopes[i].ID = uuid.NewString()
		}
		if strings.TrimSpace(a.Scopes[i].Value) == "" {
			return errors.New("emulator: a scope needs a value")
		}
	}
	for _, u := range a.IdentifierURIs {
		if strings.TrimSpace(u) == "" || strings.HasSuffix(u, "/") {
			return fmt.Errorf("emulator: identifier URI %q is empty or ends in /", u)
		}
	}
	a.Secrets = normalizeSecrets(a.Secrets)
	a = cloneApp(a)
	if a.ObjectID == "" {
		a.ObjectID = uuid.NewString()
	}
	if a.SignInAudience == "" {
		a.SignInAudience = "AzureADMyOrg"
	}
	if a.Created.IsZero() {
		a.Created = e.now()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	t, err := e.tenantLocked(tenantID)
	if err != nil {
		return err
	}
	if _, ok := t.apps[a.AppID]; ok {
		return fmt.Errorf("emulator: app %s already exists in tenant %s", a.AppID, t.ID)
	}
	for _, o := range t.apps {
		for _, u := range o.IdentifierURIs {
			if slices.ContainsFunc(a.IdentifierURIs, func(x string) bool { return strings.EqualFold(x, u) }) {
				return fmt.Errorf("emulator: identifier URI %s already used by app %s", u, o.AppID)
			}
		}
	}
	t.apps[a.AppID] = &appState{App: a, spID: uuid.NewString()}
	t.appOrder = append(t.appOrder, a.AppID)
	e.log.Info("emulator: app added", "tenant", t.ID, "appId", a.AppID, "tokenVersion", a.AccessTokenVersion)
	return nil
}

// App returns a copy of an app registration.
func (e *Emulator) App(tenantID, appID string) (App, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	t, err := e.tenantLocked(tenantID)
	if err != nil {
		return App{}, false
	}
	a, ok := t.apps[lower(appID)]
	if !ok {
		return App{}, false
	}
	return cloneApp(a.App), true
}

// SetSecrets replaces an app's client secrets (e.g. to expire or rotate them).
func (e *Emulator) SetSecrets(tenantID, appID string, s []Secret) error {
	s = normalizeSecrets(s)
	e.mu.Lock()
	defer e.mu.Unlock()
	a, err := e.appLocked(tenantID, appID)
	if err != nil {
		return err
	}
	a.Secrets = s
	return nil
}

func normalizeSecrets(in []Secret) []Secret {
	out := slices.Clone(in)
	for i := range out {
		if out[i].KeyID == "" {
			out[i].KeyID = uuid.NewString()
		}
		if out[i].Hint == "" {
			// Entra's hint is the first three characters of the value.
			out[i].Hint = out[i].Value[:min(3, len(out[i].Value))]
		}
	}
	return out
}

func cloneApp(a App) App {
	a.Secrets = slices.Clone(a.Secrets)
	a.RedirectURIs = slices.Clone(a.RedirectURIs)
	a.IdentifierURIs = slices.Clone(a.IdentifierURIs)
	a.Scopes = slices.Clone(a.Scopes)
	a.PreAuthorizedClients = slices.Clone(a.PreAuthorizedClients)
	a.RequiredGraphScopes = slices.Clone(a.RequiredGraphScopes)
	a.GraphAppRoles = slices.Clone(a.GraphAppRoles)
	a.ActivityTypes = slices.Clone(a.ActivityTypes)
	a.Tags = slices.Clone(a.Tags)
	a.RequiredGraphRoles = slices.Clone(a.RequiredGraphRoles)
	if a.PreAuthorizedScopes != nil {
		m := make(map[string][]string, len(a.PreAuthorizedScopes))
		for k, v := range a.PreAuthorizedScopes {
			m[k] = slices.Clone(v)
		}
		a.PreAuthorizedScopes = m
	}
	return a
}

// GrantConsent records delegated consent for client app appID: per user, or
// tenant-wide admin consent when userOID is "". Scopes are written as in a
// request: "User.Read" or "https://graph.microsoft.com/User.Read" for Graph,
// "api://host/{appId}/access_as_user" for another app. With no scopes it
// consents to the app's RequiredGraphScopes.
func (e *Emulator) GrantConsent(tenantID, userOID, appID string, scopes ...string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	t, err := e.tenantLocked(tenantID)
	if err != nil {
		return err
	}
	a, ok := t.apps[lower(appID)]
	if !ok {
		return fmt.Errorf("emulator: app %s not found in tenant %s", appID, t.ID)
	}
	if userOID != "" {
		if _, ok := t.users[lower(userOID)]; !ok {
			return fmt.Errorf("emulator: user %s not found in tenant %s", userOID, t.ID)
		}
	}
	if len(scopes) == 0 {
		scopes = a.RequiredGraphScopes
		if len(scopes) == 0 {
			return fmt.Errorf("emulator: app %s lists no RequiredGraphScopes; name the scopes to consent to", a.AppID)
		}
	}
	grant := map[string]string{}
	for _, s := range scopes {
		parsed, perr := parseScopes(t, s)
		if perr != nil {
			return fmt.Errorf("emulator: scope %q: %s", s, perr.msg)
		}
		if parsed.resource == nil {
			continue // OIDC scopes need no consent in the emulator
		}
		for k, v := range e.expandPerms(a, parsed) {
			grant[k] = v
		}
	}
	e.addConsentLocked(t, a.AppID, lower(userOID), grant)
	return nil
}

func (e *Emulator) addConsentLocked(t *tenantState, appID, principal string, grant map[string]string) {
	byPrincipal := t.consents[appID]
	if byPrincipal == nil {
		byPrincipal = map[string]map[string]string{}
		t.consents[appID] = byPrincipal
	}
	set := byPrincipal[principal]
	if set == nil {
		set = map[string]string{}
		byPrincipal[principal] = set
	}
	for k, v := range grant {
		set[k] = v
	}
}

// RevokeConsent removes the consent a user (or, with userOID "", the admin)
// gave to appID. Refresh tokens keep existing but fail consent re-evaluation.
func (e *Emulator) RevokeConsent(tenantID, userOID, appID string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	t, err := e.tenantLocked(tenantID)
	if err != nil {
		return err
	}
	if byPrincipal := t.consents[lower(appID)]; byPrincipal != nil {
		delete(byPrincipal, lower(userOID))
	}
	return nil
}

// SetMFARequired injects a Conditional Access requirement: while set, the
// user's tokens that were not obtained with MFA are refused by OBO
// (interaction_required, AADSTS50079) and refresh (AADSTS50076). An
// interactive sign-in at the emulator counts as MFA.
func (e *Emulator) SetMFARequired(tenantID, userOID string, required bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	t, err := e.tenantLocked(tenantID)
	if err != nil {
		return err
	}
	oid := lower(userOID)
	if _, ok := t.users[oid]; !ok {
		return fmt.Errorf("emulator: user %s not found in tenant %s", userOID, t.ID)
	}
	if required {
		t.mfa[oid] = true
	} else {
		delete(t.mfa, oid)
	}
	return nil
}

func (e *Emulator) tenantLocked(id string) (*tenantState, error) {
	t, ok := e.tenants[lower(id)]
	if !ok {
		return nil, fmt.Errorf("emulator: tenant %s not found", id)
	}
	return t, nil
}

func (e *Emulator) appLocked(tenantID, appID string) (*appState, error) {
	t, err := e.tenantLocked(tenantID)
	if err != nil {
		return nil, err
	}
	a, ok := t.apps[lower(appID)]
	if !ok {
		return nil, fmt.Errorf("emulator: app %s not found in tenant %s", appID, t.ID)
	}
	return a, nil
}

// tenantKind says how the {tenant} path segment addressed the directory.
type tenantKind int

const (
	tenantSpecific tenantKind = iota
	tenantCommon
	tenantOrganizations
)

// resolveTenantLocked maps a {tenant} path segment (GUID, verified domain,
// common, organizations) to a tenant. For common/organizations t is nil.
func (e *Emulator) resolveTenantLocked(seg string) (*tenantState, tenantKind, bool) {
	s := lower(seg)
	switch s {
	case "common":
		return nil, tenantCommon, true
	case "organizations":
		return nil, tenantOrganizations, true
	}
	if t, ok := e.tenants[s]; ok {
		return t, tenantSpecific, true
	}
	if id, ok := e.domains[s]; ok {
		return e.tenants[id], tenantSpecific, true
	}
	return nil, tenantSpecific, false
}

// findAppAnywhereLocked finds an app by ID across tenants, for requests sent
// to /common or /organizations.
func (e *Emulator) findAppAnywhereLocked(appID string) (*tenantState, *appState) {
	id := lower(appID)
	for _, t := range e.tenants {
		if a, ok := t.apps[id]; ok {
			return t, a
		}
	}
	return nil, nil
}

// findUserByHintLocked matches a login_hint against UPN or mail.
func findUserByHintLocked(t *tenantState, hint string) *User {
	hint = strings.TrimSpace(hint)
	if hint == "" {
		return nil
	}
	for _, oid := range t.userOrder {
		u := t.users[oid]
		if strings.EqualFold(u.UserPrincipalName, hint) || (u.Mail != "" && strings.EqualFold(u.Mail, hint)) {
			return u
		}
	}
	return nil
}

func (u *User) isGuest(tenantID string) bool {
	return !strings.EqualFold(u.HomeTenantID, tenantID)
}

// signInName is what v2 preferred_username shows: the UPN for members, the
// home sign-in address for guests (mail, or the UPN with #EXT# undone).
func (u *User) signInName(tenantID string) string {
	if !u.isGuest(tenantID) {
		return u.UserPrincipalName
	}
	if u.Mail != "" {
		return u.Mail
	}
	upn := u.UserPrincipalName
	if i := strings.Index(strings.ToUpper(upn), "#EXT#"); i > 0 {
		local := upn[:i]
		if j := strings.LastIndex(local, "_"); j > 0 {
			return local[:j] + "@" + local[j+1:]
		}
	}
	return upn
}

func (a *appState) preAuthorized(clientID string) bool {
	return slices.ContainsFunc(a.PreAuthorizedClients, func(c string) bool { return strings.EqualFold(c, clientID) })
}

func (a *appState) redirectRegistered(uri string) bool {
	// Entra compares redirect URIs exactly (case-sensitive path); only the
	// scheme+host part is case-insensitive, which exact match also honours
	// for the lower-case URIs people register.
	return slices.Contains(a.RedirectURIs, uri)
}
