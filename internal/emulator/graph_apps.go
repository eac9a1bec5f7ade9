package emulator

// Microsoft Graph's app-registration API as tamlink setup and doctor use it:
// applications (list/get/create/PATCH, addPassword, removePassword),
// servicePrincipals, app role assignments and oauth2PermissionGrants. The
// state is the identity side's own: an application created here is an App
// the token endpoint serves, a grant here is the consent OBO checks, an app
// role assigned here is the roles claim of client-credentials tokens.
//
// Graph's own validation is reproduced where setup depends on it: v1.0
// property names only (unknown properties are a 400), identifierUris rules
// and uniqueness, scope ids that must exist before they are
// pre-authorized, enabled scopes that must be disabled before removal,
// secrets shown once. Permissions of the caller's token are checked per
// API as Microsoft documents them.

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// appRoutes registers the registration and consent APIs.
func (e *Emulator) appRoutes(m *http.ServeMux) {
	const v = "/graph/v1.0"
	m.HandleFunc("GET "+v+"/applications", e.gx(e.listApplications))
	m.HandleFunc("POST "+v+"/applications", e.gx(e.createApplication))
	m.HandleFunc("GET "+v+"/applications/{id}", e.gx(e.getApplication))
	m.HandleFunc("PATCH "+v+"/applications/{id}", e.gx(e.patchApplication))
	m.HandleFunc("DELETE "+v+"/applications/{id}", e.gx(e.deleteApplication))
	m.HandleFunc("POST "+v+"/applications/{id}/addPassword", e.gx(e.addPassword))
	m.HandleFunc("POST "+v+"/applications/{id}/removePassword", e.gx(e.removePassword))
	m.HandleFunc("GET "+v+"/servicePrincipals", e.gx(e.listServicePrincipals))
	m.HandleFunc("POST "+v+"/servicePrincipals", e.gx(e.createServicePrincipal))
	m.HandleFunc("GET "+v+"/servicePrincipals/{id}", e.gx(e.getServicePrincipal))
	m.HandleFunc("GET "+v+"/servicePrincipals/{id}/appRoleAssignments", e.gx(e.listAppRoleAssignments))
	m.HandleFunc("GET "+v+"/servicePrincipals/{id}/appRoleAssignedTo", e.gx(e.listAppRoleAssignedTo))
	m.HandleFunc("POST "+v+"/servicePrincipals/{id}/appRoleAssignedTo", e.gx(e.assignAppRole))
	m.HandleFunc("DELETE "+v+"/servicePrincipals/{id}/appRoleAssignedTo/{assignment}", e.gx(e.unassignAppRole))
	m.HandleFunc("GET "+v+"/oauth2PermissionGrants", e.gx(e.listGrants))
	m.HandleFunc("POST "+v+"/oauth2PermissionGrants", e.gx(e.createGrant))
	m.HandleFunc("PATCH "+v+"/oauth2PermissionGrants/{id}", e.gx(e.patchGrant))
	m.HandleFunc("DELETE "+v+"/oauth2PermissionGrants/{id}", e.gx(e.deleteGrant))
}

// Permissions each API documents (delegated, application).
var (
	appReadDelegated  = []string{"Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
	appReadApp        = []string{"Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All"}
	appWrite          = []string{"Application.ReadWrite.All"}
	roleAssignWrite   = []string{"AppRoleAssignment.ReadWrite.All"}
	grantReadDelegate = []string{"DelegatedPermissionGrant.Read.All", "DelegatedPermissionGrant.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
	grantReadApp      = []string{"DelegatedPermissionGrant.ReadWrite.All", "Directory.Read.All"}
	grantWrite        = []string{"DelegatedPermissionGrant.ReadWrite.All"}
)

// graphPermission is a permission Microsoft Graph's service principal
// publishes; the ids are Microsoft's (identical in every tenant).
type graphPermission struct{ id, value, kind string } // kind: Scope (delegated) or Role (application)

var graphPermissions = []graphPermission{
	{"e1fe6dd8-ba31-4d61-89e7-88639da4683d", "User.Read", "Scope"},
	{"7ab1d787-bae7-4d5d-8db6-37ea32df9186", "TeamsActivity.Send", "Scope"},
	{"116b7235-7cc6-461e-b163-8e55691d839e", "ChatMessage.Send", "Scope"},
	{"38826093-1258-4dea-98f0-00003be2b8d0", "Chat.Create", "Scope"},
	{"9ff7295e-131b-4d94-90e1-69fde507ac11", "Chat.ReadWrite", "Scope"},
	{"7427e0e9-2fba-42fe-b0c0-848c9e6a8182", "offline_access", "Scope"},
	{"37f7f235-527c-4136-accd-4a02d197296e", "openid", "Scope"},
	{"14dad69e-099b-42c9-810b-d002981feec1", "profile", "Scope"},
	{"64a6cdd6-aab1-4aaf-94b8-3cc8405e90d0", "email", "Scope"},
	{"a267235f-af13-44dc-8385-c1dc93023186", "TeamsActivity.Send", "Role"},
	{"908de74d-f8b2-4d6b-a9ed-2a17b3b78179", "TeamsAppInstallation.ReadWriteSelfForUser.All", "Role"},
	{"74ef0291-ca83-4d02-8c7e-d2391e6a444f", "TeamsAppInstallation.ReadWriteForUser.All", "Role"},
	{"e12dae10-5a57-4817-b79d-dfbec5348930", "AppCatalog.Read.All", "Role"},
	{"df021288-bdef-4463-88db-98f22de89214", "User.Read.All", "Role"},
	{"d9c48af6-9ad9-47ad-82c3-63757137b9af", "Chat.Create", "Role"},
	{"dfb0dd15-61de-45b2-be36-d6a69fba3c79", "Teamwork.Migrate.All", "Role"},
	{"9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30", "Application.Read.All", "Role"},
	{"1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9", "Application.ReadWrite.All", "Role"},
}

func graphPermByID(id, kind string) (graphPermission, bool) {
	for _, p := range graphPermissions {
		if strings.EqualFold(p.id, id) && p.kind == kind {
			return p, true
		}
	}
	return graphPermission{}, false
}

func graphPermByValue(value, kind string) (graphPermission, bool) {
	for _, p := range graphPermissions {
		if strings.EqualFold(p.value, value) && p.kind == kind {
			return p, true
		}
	}
	return graphPermission{}, false
}

var objectNamespace = uuid.MustParse("0b7e6f2a-4c1d-4e8b-9a3f-2d5c6b7a8e90")

// graphSPID is the object id of Microsoft Graph's service principal in a
// tenant: stable per tenant, different between tenants, as in Entra.
func graphSPID(tenantID string) string {
	return uuid.NewSHA1(objectNamespace, []byte("graph-sp:"+lower(tenantID))).String()
}

// microsoftTenantID owns Microsoft's first-party apps.
const microsoftTenantID = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"

// Signing-in audiences Graph accepts.
var signInAudiences = []string{"AzureADMyOrg", "AzureADMultipleOrgs", "AzureADandPersonalMicrosoftAccount", "PersonalMicrosoftAccount"}

// ---- JSON shapes (v1.0 names and order) ----

type permissionScopeJSON struct {
	AdminConsentDescription any    `json:"adminConsentDescription"`
	AdminConsentDisplayName any    `json:"adminConsentDisplayName"`
	ID                      string `json:"id"`
	IsEnabled               bool   `json:"isEnabled"`
	Type                    string `json:"type"`
	UserConsentDescription  any    `json:"userConsentDescription"`
	UserConsentDisplayName  any    `json:"userConsentDisplayName"`
	Value                   string `json:"value"`
}

type preAuthorizedJSON struct {
	AppID                  string   `json:"appId"`
	DelegatedPermissionIDs []string `json:"delegatedPermissionIds"`
}

type apiJSON struct {
	AcceptMappedClaims          any                   `json:"acceptMappedClaims"`
	KnownClientApplications     []string              `json:"knownClientApplications"`
	RequestedAccessTokenVersion any                   `json:"requestedAccessTokenVersion"`
	OAuth2PermissionScopes      []permissionScopeJSON `json:"oauth2PermissionScopes"`
	PreAuthorizedApplications   []preAuthorizedJSON   `json:"preAuthorizedApplications"`
}

type implicitJSON struct {
	EnableAccessTokenIssuance bool `json:"enableAccessTokenIssuance"`
	EnableIDTokenIssuance     bool `json:"enableIdTokenIssuance"`
}

type webJSON struct {
	HomePageURL           any          `json:"homePageUrl"`
	LogoutURL             any          `json:"logoutUrl"`
	RedirectURIs          []string     `json:"redirectUris"`
	ImplicitGrantSettings implicitJSON `json:"implicitGrantSettings"`
}

type redirectsJSON struct {
	RedirectURIs []string `json:"redirectUris"`
}

type resourceAccessJSON struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

type requiredResourceJSON struct {
	ResourceAppID  string               `json:"resourceAppId"`
	ResourceAccess []resourceAccessJSON `json:"resourceAccess"`
}

type passwordJSON struct {
	CustomKeyIdentifier any    `json:"customKeyIdentifier"`
	DisplayName         any    `json:"displayName"`
	EndDateTime         any    `json:"endDateTime"`
	Hint                string `json:"hint"`
	KeyID               string `json:"keyId"`
	SecretText          any    `json:"secretText"`
	StartDateTime       any    `json:"startDateTime"`
}

type applicationJSON struct {
	ID                     string                 `json:"id"`
	DeletedDateTime        any                    `json:"deletedDateTime"`
	AppID                  string                 `json:"appId"`
	CreatedDateTime        any                    `json:"createdDateTime"`
	DisplayName            string                 `json:"displayName"`
	IdentifierURIs         []string               `json:"identifierUris"`
	IsFallbackPublicClient any                    `json:"isFallbackPublicClient"`
	PublisherDomain        string                 `json:"publisherDomain"`
	SignInAudience         string                 `json:"signInAudience"`
	Tags                   []string               `json:"tags"`
	API                    apiJSON                `json:"api"`
	AppRoles               []any                  `json:"appRoles"`
	PasswordCredentials    []passwordJSON         `json:"passwordCredentials"`
	PublicClient           redirectsJSON          `json:"publicClient"`
	RequiredResourceAccess []requiredResourceJSON `json:"requiredResourceAccess"`
	Spa                    redirectsJSON          `json:"spa"`
	Web                    webJSON                `json:"web"`
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func scopeJSON(s Scope) permissionScopeJSON {
	typ := s.Type
	if typ == "" {
		typ = "User"
	}
	return permissionScopeJSON{
		AdminConsentDescription: nullable(s.AdminConsentDescription), AdminConsentDisplayName: nullable(s.AdminConsentDisplayName),
		ID: s.ID, IsEnabled: s.Enabled, Type: typ,
		UserConsentDescription: nullable(s.UserConsentDescription), UserConsentDisplayName: nullable(s.UserConsentDisplayName),
		Value: s.Value,
	}
}

func secretJSON(s Secret) passwordJSON {
	return passwordJSON{DisplayName: nullable(s.DisplayName), EndDateTime: graphTime(s.EndDateTime), Hint: s.Hint,
		KeyID: s.KeyID, StartDateTime: graphTime(s.StartDateTime)}
}

// preAuthorizedOf renders PreAuthorizedClients with their scope ids.
func preAuthorizedOf(a *App) []preAuthorizedJSON {
	out := []preAuthorizedJSON{}
	for _, c := range a.PreAuthorizedClients {
		ids, ok := a.PreAuthorizedScopes[lower(c)]
		if !ok {
			for _, s := range a.Scopes {
				if s.Enabled {
					ids = append(ids, s.ID)
				}
			}
		}
		out = append(out, preAuthorizedJSON{AppID: c, DelegatedPermissionIDs: orEmpty(slices.Clone(ids))})
	}
	return out
}

func (t *tenantState) applicationJSON(a *App) applicationJSON {
	j := applicationJSON{
		ID: a.ObjectID, AppID: a.AppID, CreatedDateTime: graphTime(a.Created), DisplayName: a.DisplayName,
		IdentifierURIs: orEmpty(slices.Clone(a.IdentifierURIs)), PublisherDomain: t.Domain,
		SignInAudience: a.SignInAudience, Tags: orEmpty(slices.Clone(a.Tags)),
		AppRoles: []any{}, PublicClient: redirectsJSON{[]string{}}, Spa: redirectsJSON{[]string{}},
		PasswordCredentials: []passwordJSON{}, RequiredResourceAccess: []requiredResourceJSON{},
		Web: webJSON{RedirectURIs: orEmpty(slices.Clone(a.RedirectURIs)),
			ImplicitGrantSettings: implicitJSON{EnableAccessTokenIssuance: a.ImplicitAccessTokens, EnableIDTokenIssuance: a.ImplicitIDTokens}},
	}
	if a.PublicClient {
		j.IsFallbackPublicClient = true
	}
	j.API = apiJSON{KnownClientApplications: []string{}, OAuth2PermissionScopes: []permissionScopeJSON{},
		PreAuthorizedApplications: preAuthorizedOf(a)}
	if a.AccessTokenVersion == 2 {
		j.API.RequestedAccessTokenVersion = 2
	}
	for _, s := range a.Scopes {
		j.API.OAuth2PermissionScopes = append(j.API.OAuth2PermissionScopes, scopeJSON(s))
	}
	for _, s := range a.Secrets {
		j.PasswordCredentials = append(j.PasswordCredentials, secretJSON(s))
	}
	var access []resourceAccessJSON
	for _, n := range a.RequiredGraphScopes {
		if p, ok := graphPermByValue(n, "Scope"); ok {
			access = append(access, resourceAccessJSON{p.id, "Scope"})
		}
	}
	for _, n := range a.RequiredGraphRoles {
		if p, ok := graphPermByValue(n, "Role"); ok {
			access = append(access, resourceAccessJSON{p.id, "Role"})
		}
	}
	if len(access) > 0 {
		j.RequiredResourceAccess = []requiredResourceJSON{{ResourceAppID: GraphAppID, ResourceAccess: access}}
	}
	return j
}

// ---- lookups ----

func (t *tenantState) appByObjectID(id string) *appState {
	for _, k := range t.appOrder {
		if a := t.apps[k]; strings.EqualFold(a.ObjectID, id) {
			return a
		}
	}
	return nil
}

// appBySP finds the app whose (existing) service principal has object id.
func (t *tenantState) appBySP(id string) *appState {
	for _, k := range t.appOrder {
		if a := t.apps[k]; !a.NoServicePrincipal && strings.EqualFold(a.spID, id) {
			return a
		}
	}
	return nil
}

// findApp resolves {id} of /applications/{id}, honouring replication lag.
func (e *Emulator) findAppLocked(t *tenantState, id string) (*appState, *graphError) {
	if e.laggingLocked(id) {
		return nil, errNotFound(id)
	}
	a := t.appByObjectID(id)
	if a == nil {
		return nil, errNotFound(id)
	}
	return a, nil
}

// ---- applications ----

func (e *Emulator) listApplications(w http.ResponseWriter, r *http.Request, c *graphCaller) *graphError {
	if !c.may(appReadDelegated, appReadApp) {
		return errDenied()
	}
	f, ge := parseFilter(r.URL.Query().Get("$filter"))
	if ge != nil {
		return ge
	}
	e.mu.RLock()
	t := e.tenants[c.tenant.ID]
	var items []any
	for _, k := range t.appOrder {
		a := t.apps[k]
		ok, ge := f.match(func(p string) (string, []string, bool) {
			switch p {
			case "displayName":
				return a.DisplayName, nil, true
			case "appId":
				return a.AppID, nil, true
			case "id":
				return a.ObjectID, nil, true
			case "tags":
				return "", a.Tags, true
			case "identifierUris":
				return "", a.IdentifierURIs, true
			}
			return "", nil, false
		})
		if ge != nil {
			e.mu.RUnlock()
			return ge
		}
		if ok {
			items = append(items, t.applicationJSON(&a.App))
		}
	}
	e.mu.RUnlock()
	return e.writeGraphList(w, r, "applications", items)
}

func (e *Emulator) getApplication(w http.ResponseWriter, r *http.Request, c *graphCaller) *graphError {
	if !c.may(appReadDelegated, appReadApp) {
		return errDenied()
	}
	e.mu.Lock()
	t := e.tenants[c.tenant.ID]
	a, ge := e.findAppLocked(t, r.PathValue("id"))
	var j applicationJSON
	if ge == nil {
		j = t.applicationJSON(&a.App)
	}
	e.mu.Unlock()
	if ge != nil {
		return ge
	}
	return e.writeGraphValue(w, r, http.StatusOK, "applications/$entity", j)
}

// Application properties: the ones the emulator models, real ones it does
// not model (accepted only empty, as a read-modify-write echoes them), and
// read-only ones.
var (
	appWritable  = []string{"displayName", "signInAudience", "identifierUris", "tags", "web", "api", "requiredResourceAccess", "isFallbackPublicClient"}
	appUnmodeled = []string{"appRoles", "publicClient", "spa", "info", "optionalClaims", "keyCredentials", "description", "notes",
		"groupMembershipClaims", "parentalControlSettings", "tokenEncryptionKeyId", "serviceManagementReference",
		"defaultRedirectUri", "isDeviceOnlyAuthSupported", "addIns", "certification", "samlMetadataUrl",
		"verifiedPublisher", "deletedDateTime", "applicationTemplateId", "disabledByMicrosoftStatus",
		"servicePrincipalLockConfiguration", "requestSignatureVerification", "uniqueName", "authenticationBehaviors",
		"nativeAuthenticationApisEnabled", "signInAudienceRestrictions", "@odata.context"}
	appReadOnly = []string{"id", "appId", "publisherDomain", "createdDateTime", "passwordCredentials"}
)

func (e *Emulator) createApplication(w http.ResponseWriter, r *http.Request, c *graphCaller) *graphError {
	if !c.may(appWrite, appWrite) {
		return errDenied()
	}
	p, ge := readProps(w, r, 1<<20, slices.Concat(appWritable, appUnmodeled, appReadOnly)...)
	if ge != nil {
		return ge
	}
	var name string
	if ge := p.get("displayName", "Application", &name); ge != nil {
		return ge
	}
	if strings.TrimSpace(name) == "" {
		return errBadRequest("A value is required for property 'displayName' of resource 'Application'.")
	}
	e.mu.Lock()
	t := e.tenants[c.tenant.ID]
	a := App{AppID: uuid.NewString(), ObjectID: uuid.NewString(), NoServicePrincipal: true, Created: e.now().UTC(),
		SignInAudience: "AzureADandPersonalMicrosoftAccount", AccessTokenVersion: 1}
	if p.isNull("signInAudience") && p.isNull("api") {
		a.AccessTokenVersion = 2 // Graph's default registration is multi-tenant + MSA with v2 tokens
	}
	next, ge := applyAppProps(t, nil, a, p)
	if ge == nil {
		t.apps[next.AppID] = &appState{App: next, spID: uuid.NewString()}
		t.appOrder = append(t.appOrder, next.AppID)
		e.startLagLocked(next.ObjectID, next.AppID)
	}
	var j applicationJSON
	if ge == nil {
		j = t.applicationJSON(&next)
	}
	e.mu.Unlock()
	if ge != nil {
		return ge
	}
	e.log.Info("emulator: graph application created", "tenant", c.tenant.ID, "appId", next.AppID, "id", next.ObjectID)
	w.Header().Set("Location", e.graph+"/v2/"+c.tenant.ID+"/directoryObjects/"+next.ObjectID+"/Microsoft.DirectoryServices.Application")
	return e.writeGraphValue(w, r, http.StatusCreated, "applications/$entity", j)
}

func (e *Emulator) patchApplication(w http.ResponseWriter, r *http.Request, c *graphCaller) *graphError {
	if !c.may(appWrite, appWrite) {
		return errDenied()
	}
	p, ge := readProps(w, r, 1<<20, slices.Concat(appWritable, appUnmodeled, appReadOnly)...)
	if ge != nil {
		return ge
	}
	e.mu.Lock()
	t := e.tenants[c.tenant.ID]
	a, ge := e.findAppLocked(t, r.PathValue("id"))
	if ge == nil {
		var next App
		if next, ge = applyAppProps(t, a, cloneApp(a.App), p); ge == nil {
			a.App = next
		}
	}
	e.mu.Unlock()
	if ge != nil {
		return ge
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (e *Emulator) deleteApplication(w http.ResponseWriter, r *http.Request, c *graphCaller) *graphError {
	if !c.may(appWrite, appWrite) {
		return errDenied()
	}
	e.mu.Lock()
	t := e.tenants[c.tenant.ID]
	a, ge := e.findAppLocked(t, r.PathValue("id"))
	if ge == nil {
		delete(t.apps, a.AppID)
		t.appOrder = slices.DeleteFunc(t.appOrder, func(s string) bool { return s == a.AppID })
		delete(t.consents, a.AppID)
	}
	e.mu.Unlock()
	if ge != nil {
		return ge
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// isEmptyJSON: null, "", false, [], {} or an object of such (what a GET of
// an unmodelled property echoes back).
func isEmptyJSON(raw json.RawMessage) bool {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return false
	}
	var empty func(any) bool
	empty = func(v any) bool {
		switch x := v.(type) {
		case nil:
			return true
		case string:
			return x == ""
		case bool:
			return !x
		case []any:
			return len(x) == 0
		case map[string]any:
			for _, m := range x {
				if !empty(m) {
					return false
				}
			}
			return true
		}
		return false
	}
	return empty(v)
}

// applyAppProps applies a create/PATCH body to next (cur is the stored app
// for a PATCH, nil for a create) and validates the result as Graph does.
// Complex properties (web, api) are replaced as a whole.
func applyAppProps(t *tenantState, cur *appState, next App, p props) (App, *graphError) {
	for _, k := range appReadOnly {
		if p.has(k) && !(k == "passwordCredentials" && isEmptyJSON(p[k])) {
			if k == "passwordCredentials" {
				return next, errBadRequest("Property 'passwordCredentials' cannot be set directly; use addPassword.")
			}
			if cur != nil || !isEmptyJSON(p[k]) {
				return next, errBadRequest("Property '%s' is read-only and cannot be set.", k)
			}
		}
	}
	for _, k := range appUnmodeled {
		if p.has(k) && !isEmptyJSON(p[k]) && k != "@odata.context" {
			return next, errBadRequest("Property '%s' is not supported by the emulator (it models %s).", k, strings.Join(appWritable, ", "))
		}
	}
	if p.has("displayName") {
		if ge := p.get("displayName", "Application", &next.DisplayName); ge != nil {
			return next, ge
		}
		if strings.TrimSpace(next.DisplayName) == "" || len(next.DisplayName) > 256 {
			return next, errBadRequest("Invalid value specified for property 'displayName' of resource 'Application'.")
		}
	}
	if p.has("signInAudience") {
		var aud string
		if ge := p.get("signInAudience", "Application", &aud); ge != nil {
			return next, ge
		}
		if !slices.Contains(signInAudiences, aud) {
			return next, errBadRequest("Invalid value specified for property 'signInAudience' of resource 'Application'.")
		}
		next.SignInAudience = aud
	}
	if p.has("isFallbackPublicClient") {
		var b *bool
		if ge := p.get("isFallbackPublicClient", "Application", &b); ge != nil {
			return next, ge
		}
		next.PublicClient = b != nil && *b
	}
	if p.has("tags") {
		var tags []string
		if ge := p.get("tags", "Application", &tags); ge != nil {
			return next, ge
		}
		for _, tg := range tags {
			if strings.TrimSpace(tg) == "" || len(tg) > 256 {
				return next, errBadRequest("Invalid value specified for property 'tags' of resource 'Application'.")
			}
		}
		next.Tags = tags
	}
	if p.has("identifierUris") {
		var uris []string
		if ge := p.get("identifierUris", "Application", &uris); ge != nil {
			return next, ge
		}
		for _, u := range uris {
			if ge := checkIdentifierURI(t, next, u); ge != nil {
				return next, ge
			}
		}
		next.IdentifierURIs = uris
	}
	if p.has("web") {
		web, ge := p.object("web", "redirectUris", "homePageUrl", "logoutUrl", "implicitGrantSettings", "redirectUriSettings")
		if ge != nil {
			return next, ge
		}
		for _, k := range []string{"homePageUrl", "logoutUrl", "redirectUriSettings"} {
			if web.has(k) && !isEmptyJSON(web[k]) {
				return next, errBadRequest("Property '%s' is not supported by the emulator.", k)
			}
		}
		var uris []string
		if ge := web.get("redirectUris", "Application", &uris); ge != nil {
			return next, ge
		}
		if len(uris) > 256 {
			return next, errBadRequest("The number of redirectUris exceeds the limit of 256.")
		}
		for _, u := range uris {
			if ge := checkRedirectURI(u); ge != nil {
				return next, ge
			}
		}
		imp, ge := web.object("implicitGrantSettings", "enableIdTokenIssuance", "enableAccessTokenIssuance")
		if ge != nil {
			return next, ge
		}
		next.RedirectURIs = uris
		next.ImplicitIDTokens, next.ImplicitAccessTokens = false, false
		if ge := imp.get("enableIdTokenIssuance", "Application", &next.ImplicitIDTokens); ge != nil {
			return next, ge
		}
		if ge := imp.get("enableAccessTokenIssuance", "Application", &next.ImplicitAccessTokens); ge != nil {
			return next, ge
		}
	}
	if p.has("api") {
		if ge := applyAPI(cur, &next, p); ge != nil {
			return next, ge
		}
	}
	if p.has("requiredResourceAccess") {
		if ge := applyRequiredAccess(&next, p); ge != nil {
			return next, ge
		}
	}
	if next.AccessTokenVersion != 2 && (next.SignInAudience == "AzureADandPersonalMicrosoftAccount" || next.SignInAudience == "PersonalMicrosoftAccount") {
		return next, errBadRequest("Property api.requestedAccessTokenVersion is invalid: it must be 2 when signInAudience is %s.", next.SignInAudience)
	}
	// identifierUris are unique in the tenant.
	for _, u := range next.IdentifierURIs {
		for _, k := range t.appOrder {
			o := t.apps[k]
			if o.AppID == next.AppID {
				continue
			}
			if slices.ContainsFunc(o.IdentifierURIs, func(x string) bool { return strings.EqualFold(x, u) }) {
				return next, errBadRequest("Another object with the same value for property identifierUris already exists.")
			}
		}
	}
	return next, nil
}

// checkIdentifierURI applies Entra's identifier URI rules: an absolute URI
// (api://, https:// or urn:), no wildcard, query or fragment; an https URI
// on a verified domain; an api:// URI either on a verified domain or
// carrying the app's id or the tenant's id (api://host/{appId}, the form
// Teams SSO uses).
func checkIdentifierURI(t *tenantState, a App, raw string) *graphError {
	invalid := errBadRequest("Invalid value specified for property 'identifierUris' of resource 'Application'.")
	u, err := url.Parse(raw)
	if err != nil || raw == "" || len(raw) > 255 || strings.ContainsAny(raw, "* ") || u.RawQuery != "" || u.Fragment != "" {
		return invalid
	}
	verified := func(host string) bool {
		host = lower(host)
		return host == t.Domain || strings.HasSuffix(host, "."+t.Domain)
	}
	unverified := &graphError{http.StatusBadRequest, "HostNameNotOnVerifiedDomain",
		"Values of identifierUris property must use a verified domain of the organization or its subdomain: '" + raw + "'"}
	switch u.Scheme {
	case "api":
		if u.Host == "" {
			return invalid
		}
		if strings.HasSuffix(raw, "/") {
			return invalid
		}
		if verified(u.Hostname()) || strings.Contains(lower(raw), lower(a.AppID)) || strings.Contains(lower(raw), t.ID) {
			return nil
		}
		return unverified
	case "https":
		if u.Host == "" {
			return invalid
		}
		if !verified(u.Hostname()) {
			return unverified
		}
		return nil
	case "urn":
		if u.Opaque == "" {
			return invalid
		}
		return nil
	}
	return invalid
}

// checkRedirectURI: absolute, https (http only for localhost), no fragment,
// at most 256 characters.
func checkRedirectURI(raw string) *graphError {
	bad := errBadRequest("Invalid value specified for property 'redirectUris' of resource 'Application': '%s'.", raw)
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Fragment != "" || len(raw) > 256 || strings.Contains(raw, "*") {
		return bad
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if h := u.Hostname(); h == "localhost" || h == "127.0.0.1" {
			return nil
		}
	}
	return bad
}

// applyAPI replaces the api complex property.
func applyAPI(cur *appState, next *App, p props) *graphError {
	api, ge := p.object("api", "requestedAccessTokenVersion", "oauth2PermissionScopes", "preAuthorizedApplications",
		"knownClientApplications", "acceptMappedClaims")
	if ge != nil {
		return ge
	}
	for _, k := range []string{"knownClientApplications", "acceptMappedClaims"} {
		if api.has(k) && !isEmptyJSON(api[k]) {
			return errBadRequest("Property '%s' is not supported by the emulator.", k)
		}
	}
	var ver *int
	if ge := api.get("requestedAccessTokenVersion", "Application", &ver); ge != nil {
		return ge
	}
	switch {
	case ver == nil:
		next.AccessTokenVersion = 1
	case *ver == 1 || *ver == 2:
		next.AccessTokenVersion = *ver
	default:
		return errBadRequest("Invalid value specified for property 'requestedAccessTokenVersion' of resource 'Application'.")
	}
	scopes, ge := api.list("oauth2PermissionScopes", "Application", "id", "value", "type", "isEnabled", "origin",
		"adminConsentDisplayName", "adminConsentDescription", "userConsentDisplayName", "userConsentDescription")
	if ge != nil {
		return ge
	}
	var newScopes []Scope
	for _, sp := range scopes {
		var s Scope
		var id, value, typ string
		var enabled *bool
		for _, f := range []struct {
			k string
			v any
		}{{"id", &id}, {"value", &value}, {"type", &typ}, {"isEnabled", &enabled},
			{"adminConsentDisplayName", &s.AdminConsentDisplayName}, {"adminConsentDescription", &s.AdminConsentDescription},
			{"userConsentDisplayName", &s.UserConsentDisplayName}, {"userConsentDescription", &s.UserConsentDescription}} {
			if ge := sp.get(f.k, "Application", f.v); ge != nil {
				return ge
			}
		}
		switch {
		case !isGUID(id):
			return errBadRequest("Invalid value specified for property 'id' of resource 'PermissionScope': the client must generate a GUID.")
		case value == "" || len(value) > 120 || strings.ContainsAny(value, " \t") || strings.HasPrefix(value, "."):
			return errBadRequest("Invalid value specified for property 'value' of resource 'PermissionScope'.")
		case typ != "User" && typ != "Admin":
			return errBadRequest("Invalid value specified for property 'type' of resource 'PermissionScope'.")
		case strings.TrimSpace(s.AdminConsentDisplayName) == "" || strings.TrimSpace(s.AdminConsentDescription) == "":
			return errBadRequest("Property 'adminConsentDisplayName' and 'adminConsentDescription' are required for permission scope '%s'.", value)
		}
		for _, o := range newScopes {
			if strings.EqualFold(o.ID, id) || strings.EqualFold(o.Value, value) {
				return errBadRequest("Permission scopes must have unique ids and values; '%s' is duplicated.", value)
			}
		}
		s.ID, s.Value, s.Type, s.Enabled = lower(id), value, typ, enabled == nil || *enabled
		newScopes = append(newScopes, s)
	}
	// An enabled scope must be disabled (in an earlier request) before it
	// is removed or anything else of it changes; disabling it is the one
	// change allowed.
	if cur != nil {
		for _, old := range cur.Scopes {
			if !old.Enabled {
				continue
			}
			i := slices.IndexFunc(newScopes, func(s Scope) bool { return strings.EqualFold(s.ID, old.ID) })
			if i < 0 {
				return errEnabledEntitlement()
			}
			n, o := newScopes[i], old
			n.Enabled, o.Enabled = true, true
			if o.Type == "" {
				o.Type = "User"
			}
			if n != o {
				return errEnabledEntitlement()
			}
		}
	}
	pre, ge := api.list("preAuthorizedApplications", "Application", "appId", "delegatedPermissionIds")
	if ge != nil {
		return ge
	}
	var stored []Scope
	if cur != nil {
		stored = cur.Scopes
	}
	var clients []string
	byClient := map[string][]string{}
	for _, pp := range pre {
		var appID string
		var ids []string
		if ge := pp.get("appId", "PreAuthorizedApplication", &appID); ge != nil {
			return ge
		}
		if ge := pp.get("delegatedPermissionIds", "PreAuthorizedApplication", &ids); ge != nil {
			return ge
		}
		if !isGUID(appID) {
			return errBadRequest("Invalid value specified for property 'appId' of resource 'PreAuthorizedApplication'.")
		}
		for _, id := range ids {
			inNew := slices.ContainsFunc(newScopes, func(s Scope) bool { return strings.EqualFold(s.ID, id) })
			inStored := slices.ContainsFunc(stored, func(s Scope) bool { return strings.EqualFold(s.ID, id) })
			if !inNew || !inStored {
				return errBadRequest("Property PreAuthorizedApplications references application %s with a delegatedPermissionIds entry %s that cannot be found in the application's saved oauth2PermissionScopes; add the scope first.", appID, id)
			}
		}
		if _, dup := byClient[lower(appID)]; dup {
			return errBadRequest("Property PreAuthorizedApplications lists application %s twice.", appID)
		}
		lids := make([]string, len(ids))
		for i, id := range ids {
			lids[i] = lower(id)
		}
		byClient[lower(appID)] = lids
		clients = append(clients, lower(appID))
	}
	next.Scopes = newScopes
	next.PreAuthorizedClients = nil
	next.PreAuthorizedScopes = map[string][]string{}
	for _, cl := range clients {
		if len(byClient[cl]) == 0 {
			continue // an entry without permissions authorizes nothing
		}
		next.PreAuthorizedClients = append(next.PreAuthorizedClients, cl)
		next.PreAuthorizedScopes[cl] = byClient[cl]
	}
	return nil
}

func errEnabledEntitlement() *graphError {
	return &graphError{http.StatusBadRequest, "CannotDeleteOrUpdateEnabledEntitlement",
		"Permission (scope or role) cannot be deleted or updated unless disabled first."}
}

// applyRequiredAccess replaces requiredResourceAccess (Microsoft Graph's
// permissions; the emulator models no other resource).
func applyRequiredAccess(next *App, p props) *graphError {
	rras, ge := p.list("requiredResourceAccess", "Application", "resourceAppId", "resourceAccess")
	if ge != nil {
		return ge
	}
	if len(rras) > 50 {
		return errBadRequest("requiredResourceAccess lists more than 50 resources.")
	}
	var scopes, roles []string
	for _, rra := range rras {
		var resID string
		if ge := rra.get("resourceAppId", "RequiredResourceAccess", &resID); ge != nil {
			return ge
		}
		if !isGUID(resID) {
			return errBadRequest("Invalid value specified for property 'resourceAppId' of resource 'RequiredResourceAccess'.")
		}
		if !strings.EqualFold(resID, GraphAppID) {
			return errBadRequest("The emulator models requiredResourceAccess on Microsoft Graph (%s) only, not %s.", GraphAppID, resID)
		}
		accs, ge := rra.list("resourceAccess", "RequiredResourceAccess", "id", "type")
		if ge != nil {
			return ge
		}
		for _, acc := range accs {
			var id, typ string
			if ge := acc.get("id", "ResourceAccess", &id); ge != nil {
				return ge
			}
			if ge := acc.get("type", "ResourceAccess", &typ); ge != nil {
				return ge
			}
			if typ != "Scope" && typ != "Role" {
				return errBadRequest("Invalid value specified for property 'type' of resource 'ResourceAccess'.")
			}
			perm, ok := graphPermByID(id, typ)
			if !ok {
				return errBadRequest("Invalid value specified for property 'resourceAccess': %s %s is not a permission of Microsoft Graph known to the emulator.", typ, id)
			}
			if typ == "Scope" && !slices.Contains(scopes, perm.value) {
				scopes = append(scopes, perm.value)
			}
			if typ == "Role" && !slices.Contains(roles, perm.value) {
				roles = append(roles, perm.value)
			}
		}
	}
	next.RequiredGraphScopes, next.RequiredGraphRoles = scopes, roles
	return nil
}

// ---- passwords ----

const secretAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_~.-"

// newSecretValue makes a 40-character secret shaped like Entra's
// (three characters, "8Q~", 34 more).
func newSecretValue() string {
	b := make([]byte, 37)
	_, _ = rand.Read(b)
	out := make([]byte, 0, 40)
	for i, c := range b {
		out = append(out, secretAlphabet[int(c)%len(secretAlphabet)])
		if i == 2 {
			out = append(out, "8Q~"...)
		}
	}
	return string(out[:40])
}

func (e *Emulator) addPassword(w http.ResponseWriter, r *http.Request, c *graphCaller) *graphError {
	if !c.may(appWrite, appWrite) {
		return errDenied()
	}
	body, ge := readGraphBody(w, r, 64<<10)
	if ge != nil {
		return ge
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		body = []byte("{}")
	}
	p, ge := parseProps(body, "passwordCredential")
	if ge != nil {
		return ge
	}
	pc, ge := p.object("passwordCredential", "displayName", "endDateTime", "startDateTime", "customKeyIdentifier",
		"hint", "keyId", "secretText")
	if ge != nil {
		return ge
	}
	for _, k := range []string{"hint", "keyId", "secretText", "customKeyIdentifier"} {
		if pc.has(k) && !isEmptyJSON(pc[k]) {
			return errBadRequest("Property '%s' of passwordCredential is generated by the service and cannot be set.", k)
		}
	}
	var name string
	var start, end *time.Time
	if ge := pc.get("displayName", "PasswordCredential", &name); ge != nil {
		return ge
	}
	if ge := pc.get("startDateTime", "PasswordCredential", &start); ge != nil {
		return ge
	}
	if ge := pc.get("endDateTime", "PasswordCredential", &end); ge != nil {
		return ge
	}
	now := e.now().UTC()
	s := Secret{KeyID: uuid.NewString(), Value: newSecretValue(), DisplayName: name, StartDateTime: now}
	if start != nil {
		s.StartDateTime = start.UTC()
	}
	s.EndDateTime = s.StartDateTime.AddDate(2, 0, 0)
	if end != nil {
		s.EndDateTime = end.UTC()
	}
	if !s.EndDateTime.After(s.StartDateTime) {
		return errBadRequest("Invalid value specified for property 'endDateTime': it must be later than startDateTime.")
	}
	s.Hint = s.Value[:3]
	e.mu.Lock()
	t := e.tenants[c.tenant.ID]
	a, ge := e.findAppLocked(t, r.PathValue("id"))
	if ge == nil {
		a.Secrets = append(a.Secrets, s)
	}
	e.mu.Unlock()
	if ge != nil {
		return ge
	}
	j := secretJSON(s)
	j.SecretText = s.Value
	return e.writeGraphValue(w, r, http.StatusOK, "microsoft.graph.passwordCredential", j)
}

func (e *Emulator) removePassword(w http.ResponseWriter, r *http.Request, c *graphCaller) *graphError {
	if !c.may(appWrite, appWrite) {
		return errDenied()
	}
	p, ge := readProps(w, r, 64<<10, "keyId")
	if ge != nil {
		return ge
	}
	var keyID string
	if ge := p.get("keyId", "PasswordCredential", &keyID); ge != nil {
		return ge
	}
	e.mu.Lock()
	t := e.tenants[c.tenant.ID]
	a, ge := e.findAppLocked(t, r.PathValue("id"))
	if ge == nil {
		n := len(a.Secrets)
		a.Secrets = slices.DeleteFunc(a.Secrets, func(s Secret) bool { return strings.EqualFold(s.KeyID, keyID) })
		if len(a.Secrets) == n {
			ge = errBadRequest("No password credential found with keyId '%s'.", keyID)
		}
	}
	e.mu.Unlock()
	if ge != nil {
		return ge
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ---- service principals ----

type appRoleJSON struct {
	AllowedMemberTypes []string `json:"allowedMemberTypes"`
	Description        string   `json:"description"`
	DisplayName        string   `json:"displayName"`
	ID                 string   `json:"id"`
	IsEnabled          bool     `json:"isEnabled"`
	Origin             string   `json:"origin"`
	Value              string   `json:"value"`
}

type servicePrincipalJSON struct {
	ID                        string                `json:"id"`
	AccountEnabled            bool                  `json:"accountEnabled"`
	AppDisplayName            string                `json:"appDisplayName"`
	AppID                     string                `json:"appId"`
	AppOwnerOrganizationID    string                `json:"appOwnerOrganizationId"`
	AppRoleAssignmentRequired bool                  `json:"appRoleAssignmentRequired"`
	DisplayName               string                `json:"displayName"`
	ServicePrincipalNames     []string              `json:"servicePrincipalNames"`
	ServicePrincipalType      string                `json:"servicePrincipalType"`
	SignInAudience            string                `json:"signInAudience"`
	Tags                      []string              `json:"tags"`
	AppRoles                  []appRoleJSON         `json:"appRoles"`
	OAuth2PermissionScopes    []permissionScopeJSON `json:"oauth2PermissionScopes"`
}

func graphSPJSON(tenantID string) servicePrincipalJSON {
	sp := servicePrincipalJSON{ID: graphSPID(tenantID), AccountEnabled: true, AppDisplayName: "Microsoft Graph", AppID: GraphAppID,
		AppOwnerOrganizationID: microsoftTenantID, DisplayName: "Microsoft Graph",
		ServicePrincipalNames: []string{GraphAppID, GraphResource, "https://graph.microsoft.com/", "https://canary.graph.microsoft.com"},
		ServicePrincipalType:  "Application", SignInAudience: "AzureADMultipleOrgs", Tags: []string{},
		AppRoles: []appRoleJSON{}, OAuth2PermissionScopes: []permissionScopeJSON{}}
	for _, p := range graphPermissions {
		if p.kind == "Role" {
			sp.AppRoles = append(sp.AppRoles, appRoleJSON{AllowedMemberTypes: []string{"Application"},
				Description: "Allows the app to use " + p.value + " without a signed-in user.", DisplayName: p.value,
				ID: p.id, IsEnabled: true, Origin: "Application", Value: p.value})
		} else {
			sp.OAuth2PermissionScopes = append(sp.OAuth2PermissionScopes, permissionScopeJSON{
				AdminConsentDescription: "Allows the app to use " + p.value + " on behalf of the signed-in user.",
				AdminConsentDisplayName: p.value, ID: p.id, IsEnabled: true, Type: "User",
				UserConsentDescription: "Allows the app to use " + p.value + " on your behalf.",
				UserConsentDisplayName: p.value, Value: p.value})
		}
	}
	return sp
}

func (t *tenantState) spJSON(a *appState) servicePrincipalJSON {
	sp := servicePrincipalJSON{ID: a.spID, AccountEnabled: true, AppDisplayName: a.DisplayName, AppID: a.AppID,
		AppOwnerOrganizationID: t.ID, DisplayName: a.DisplayName,
		ServicePrincipalNames: append([]string{a.AppID}, a.IdentifierURIs...), ServicePrincipalType: "Application",
		SignInAudience: a.SignInAudience, Tags: orEmpty(slices.Clone(a.Tags)), AppRoles: []appRoleJSON{},
		OAuth2PermissionScopes: []permissionScopeJSON{}}
	for _, s := range a.Scopes {
		sp.OAuth2PermissionScopes = append(sp.OAuth2PermissionScopes, scopeJSON(s))
	}
	return sp
}

func (e *Emulator) listServicePrincipals(w http.ResponseWriter, r *http.Request, c *graphCaller) *graphError {
	if !c.may(appReadDelegated, appReadApp) {
		return errDenied()
	}
	f, ge := parseFilter(r.URL.Query().Get("$filter"))
	if ge != nil {
		return ge
	}
	e.mu.RLock()
	t := e.tenants[c.tenant.ID]
	all := []servicePrincipalJSON{graphSPJSON(t.ID)}
	for _, k := range t.appOrder {
		if a := t.apps[k]; !a.NoServicePrincipal {
			all = append(all, t.spJSON(a))
		}
	}
	e.mu.RUnlock()
	var items []any
	for _, sp := range all {
		ok, ge := f.match(func(p string) (string, []string, bool) {
			switch p {
			case "appId":
				return sp.AppID, nil, true
			case "displayName":
				return sp.DisplayName, nil, true
			case "id":
				return sp.ID, nil, true
			case "servicePrincipalNames":
				return "", sp.ServicePrincipalNames, true
			case "tags":
				return "", sp.Tags, true
			}
			return "", nil, false
		})
		if ge != nil {
			return ge
		}
		if ok {
			items = append(items, sp)
		}
	}
	return e.writeGraphList(w, r, "servicePrincipals", items)
}

func (e *Emulator) createServicePrincipal(w http.ResponseWriter, r *http.Request, c *graphCaller) *graphError {
	if !c.may(appWrite, appWrite) {
		return errDenied()
	}
	p, ge := readProps(w, r, 64<<10, "appId", "accountEnabled", "tags", "appRoleAssignmentRequired")
	if ge != nil {
		return ge
	}
	var appID string
	if ge := p.get("appId", "ServicePrincipal", &appID); ge != nil {
		return ge
	}
	for _, k := range []string{"accountEnabled", "tags", "appRoleAssignmentRequired"} {
		if p.has(k) && !isEmptyJSON(p[k]) && !(k == "accountEnabled" && string(p[k]) == "true") {
			return errBadRequest("Property '%s' is not supported by the emulator on create.", k)
		}
	}
	if !isGUID(appID) {
		return errBadRequest("A value is required for property 'appId' of resource 'ServicePrincipal'.")
	}
	e.mu.Lock()
	t := e.tenants[c.tenant.ID]
	a := t.apps[lower(appID)]
	var sp servicePrincipalJSON
	switch {
	case strings.EqualFold(appID, GraphAppID) || (a != nil && !a.NoServicePrincipal):
		ge = &graphError{http.StatusConflict, "Request_MultipleObjectsWithSameKeyValue",
			"The service principal cannot be created, updated, or restored because the service principal name " + appID + " is already in use."}
	case a == nil || e.laggingLocked(appID):
		ge = errBadRequest("The appId '%s' of the service principal does not reference a valid application object.", appID)
	default:
		a.NoServicePrincipal = false
		e.startLagLocked(a.spID)
		sp = t.spJSON(a)
	}
	e.mu.Unlock()
	if ge != nil {
		return ge
	}
	return e.writeGraphValue(w, r, http.StatusCreated, "servicePrincipals/$entity", sp)
}

// spLocked resolves a service principal id: Microsoft Graph's, or an app's.
func (e *Emulator) spLocked(t *tenantState, id string) (graphSP bool, a *appState, ge *graphError) {
	if strings.EqualFold(id, graphSPID(t.ID)) {
		return true, nil, nil
	}
	if e.laggingLocked(id) {
		return false, nil, errNotFound(id)
	}
	if a = t.appBySP(id); a == nil {
		return false, nil, errNotFound(id)
	}
	return false, a, nil
}

func (e *Emulator) getServicePrincipal(w http.ResponseWriter, r *http.Request, c *graphCaller) *graphError {
	if !c.may(appReadDelegated, appReadApp) {
		return errDenied()
	}
	e.mu.Lock()
	t := e.tenants[c.tenant.ID]
	isGraph, a, ge := e.spLocked(t, r.PathValue("id"))
	var sp servicePrincipalJSON
	switch {
	case ge != nil:
	case isGraph:
		sp = graphSPJSON(t.ID)
	default:
		sp = t.spJSON(a)
	}
	e.mu.Unlock()
	if ge != nil {
		return ge
	}
	return e.writeGraphValue(w, r, http.StatusOK, "servicePrincipals/$entity", sp)
}

// ---- app role assignments ----

type appRoleAssignmentJSON struct {
	ID                   string `json:"id"`
	DeletedDateTime      any    `json:"deletedDateTime"`
	AppRoleID            string `json:"appRoleId"`
	CreatedDateTime      any    `json:"createdDateTime"`
	PrincipalDisplayName string `json:"principalDisplayName"`
	PrincipalID          string `json:"principalId"`
	PrincipalType        string `json:"principalType"`
	ResourceDisplayName  string `json:"resourceDisplayName"`
	ResourceID           string `json:"resourceId"`
}

// assignmentID encodes (principal, role) like Graph's opaque base64 ids.
func assignmentID(principal, roleID string) string {
	sum := sha256.Sum256([]byte(lower(principal) + "|" + lower(roleID)))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// assignmentsLocked are the Graph app roles granted to apps of the tenant.
func assignmentsLocked(t *tenantState, a *appState) []appRoleAssignmentJSON {
	var out []appRoleAssignmentJSON
	for _, role := range a.GraphAppRoles {
		p, ok := graphPermByValue(role, "Role")
		if !ok {
			continue
		}
		out = append(out, appRoleAssignmentJSON{ID: assignmentID(a.spID, p.id), AppRoleID: p.id, CreatedDateTime: graphTime(a.Created),
			PrincipalDisplayName: a.DisplayName, PrincipalID: a.spID, PrincipalType: "ServicePrincipal",
			ResourceDisplayName: "Microsoft Graph", ResourceID: graphSPID(t.ID)})
	}
	return out
}

func (e *Emulator) listAppRoleAssignments(w http.ResponseWriter, r *http.Request, c *graphCaller) *graphError {
	if !c.may(slices.Concat(appReadDelegated, roleAssignWrite), slices.Concat(appReadApp, roleAssignWrite)) {
		return errDenied()
	}
	e.mu.Lock()
	t := e.tenants[c.tenant.ID]
	isGraph, a, ge := e.spLocked(t, r.PathValue("id"))
	var items []any
	if ge == nil && !isGraph {
		for _, x := range assignmentsLocked(t, a) {
			items = append(items, x)
		}
	}
	e.mu.Unlock()
	if ge != nil {
		return ge
	}
	return e.writeGraphList(w, r, "servicePrincipals('"+r.PathValue("id")+"')/appRoleAssignments", items)
}

func (e *Emulator) listAppRoleAssignedTo(w http.ResponseWriter, r *http.Request, c *graphCaller) *graphError {
	if !c.may(slices.Concat(appReadDelegated, roleAssignWrite), slices.Concat(appReadApp, roleAssignWrite)) {
		return errDenied()
	}
	e.mu.Lock()
	t := e.tenants[c.tenant.ID]
	isGraph, _, ge := e.spLocked(t, r.PathValue("id"))
	var items []any
	if ge == nil && isGraph {
		for _, k := range t.appOrder {
			if a := t.apps[k]; !a.NoServicePrincipal {
				for _, x := range assignmentsLocked(t, a) {
					items = append(items, x)
				}
			}
		}
	}
	e.mu.Unlock()
	if ge != nil {
		return ge
	}
	return e.writeGraphList(w, r, "servicePrincipals('"+r.PathValue("id")+"')/appRoleAssignedTo", items)
}

func (e *Emulator) assignAppRole(w http.ResponseWriter, r *http.Request, c *graphCaller) *graphError {
	if !c.may(roleAssignWrite, roleAssignWrite) {
		return errDenied()
	}
	p, ge := readProps(w, r, 64<<10, "principalId", "resourceId", "appRoleId", "principalType")
	if ge != nil {
		return ge
	}
	var principal, resourceID, roleID string
	for k, v := range map[string]*string{"principalId": &principal, "resourceId": &resourceID, "appRoleId": &roleID} {
		if ge := p.get(k, "AppRoleAssignment", v); ge != nil {
			return ge
		}
		if !isGUID(*v) {
			return errBadRequest("Invalid value specified for property '%s' of resource 'AppRoleAssignment'.", k)
		}
	}
	e.mu.Lock()
	t := e.tenants[c.tenant.ID]
	var out appRoleAssignmentJSON
	isGraph, _, ge := e.spLocked(t, r.PathValue("id"))
	if ge == nil && !strings.EqualFold(resourceID, r.PathValue("id")) {
		ge = errBadRequest("The resourceId in the body must be the service principal of the request URL.")
	}
	var perm graphPermission
	if ge == nil {
		var ok bool
		if perm, ok = graphPermByID(roleID, "Role"); !ok || !isGraph {
			ge = errBadRequest("Permission being assigned was not found on application '%s'.", resourceID)
		}
	}
	var a *appState
	if ge == nil {
		if e.laggingLocked(principal) {
			ge = errNotFound(principal)
		} else if a = t.appBySP(principal); a == nil {
			ge = errNotFound(principal)
		}
	}
	if ge == nil {
		if slices.ContainsFunc(a.GraphAppRoles, func(s string) bool { return strings.EqualFold(s, perm.value) }) {
			ge = errBadRequest("Permission being assigned already exists on the object")
		} else {
			a.GraphAppRoles = append(a.GraphAppRoles, perm.value)
			out = appRoleAssignmentJSON{ID: assignmentID(a.spID, perm.id), AppRoleID: perm.id, CreatedDateTime: graphTime(e.now()),
				PrincipalDisplayName: a.DisplayName, PrincipalID: a.spID, PrincipalType: "ServicePrincipal",
				ResourceDisplayName: "Microsoft Graph", ResourceID: graphSPID(t.ID)}
		}
	}
	e.mu.Unlock()
	if ge != nil {
		return ge
	}
	return e.writeGraphValue(w, r, http.StatusCreated, "servicePrincipals('"+r.PathValue("id")+"')/appRoleAssignedTo/$entity", out)
}

func (e *Emulator) unassignAppRole(w http.ResponseWriter, r *http.Request, c *graphCaller) *graphError {
	if !c.may(roleAssignWrite, roleAssignWrite) {
		return errDenied()
	}
	id := r.PathValue("assignment")
	e.mu.Lock()
	t := e.tenants[c.tenant.ID]
	isGraph, _, ge := e.spLocked(t, r.PathValue("id"))
	found := false
	if ge == nil && isGraph {
		for _, k := range t.appOrder {
			a := t.apps[k]
			for _, x := range assignmentsLocked(t, a) {
				if x.ID == id {
					perm, _ := graphPermByID(x.AppRoleID, "Role")
					a.GraphAppRoles = slices.DeleteFunc(a.GraphAppRoles, func(s string) bool { return strings.EqualFold(s, perm.value) })
					found = true
				}
			}
		}
	}
	if ge == nil && !found {
		ge = errNotFound(id)
	}
	e.mu.Unlock()
	if ge != nil {
		return ge
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ---- oauth2PermissionGrants (delegated consent) ----

type grantJSON struct {
	ClientID    string `json:"clientId"`
	ConsentType string `json:"consentType"`
	ID          string `json:"id"`
	PrincipalID any    `json:"principalId"`
	ResourceID  string `json:"resourceId"`
	Scope       string `json:"scope"`
}

// grantID encodes (client SP, resource SP, principal) in Graph's opaque
// style; decodeGrantID reverses it, so no index is needed.
func grantID(clientSP, resourceSP, principal string) string {
	var b []byte
	for _, g := range []string{clientSP, resourceSP, principal} {
		if g == "" {
			continue
		}
		u := uuid.MustParse(g)
		b = append(b, u[:]...)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeGrantID(id string) (clientSP, resourceSP, principal string, ok bool) {
	b, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil || (len(b) != 32 && len(b) != 48) {
		return "", "", "", false
	}
	ids := make([]string, 0, 3)
	for i := 0; i < len(b); i += 16 {
		u, _ := uuid.FromBytes(b[i : i+16])
		ids = append(ids, u.String())
	}
	if len(ids) == 3 {
		principal = ids[2]
	}
	return ids[0], ids[1], principal, true
}

// grantsLocked renders the tenant's consents as oauth2PermissionGrants: one
// per (client, resource, principal).
func grantsLocked(t *tenantState) []grantJSON {
	var out []grantJSON
	for _, k := range t.appOrder {
		a := t.apps[k]
		if a.NoServicePrincipal {
			continue
		}
		byPrincipal := t.consents[a.AppID]
		principals := make([]string, 0, len(byPrincipal))
		for pr := range byPrincipal {
			principals = append(principals, pr)
		}
		sort.Strings(principals)
		for _, pr := range principals {
			byResource := map[string][]string{}
			for key, name := range byPrincipal[pr] {
				res, _, _ := strings.Cut(key, " ")
				byResource[res] = append(byResource[res], name)
			}
			resources := make([]string, 0, len(byResource))
			for res := range byResource {
				resources = append(resources, res)
			}
			sort.Strings(resources)
			for _, res := range resources {
				resSP := graphSPID(t.ID)
				if res != GraphAppID {
					ra := t.apps[res]
					if ra == nil || ra.NoServicePrincipal {
						continue
					}
					resSP = ra.spID
				}
				names := byResource[res]
				sort.Slice(names, func(i, j int) bool { return strings.ToLower(names[i]) < strings.ToLower(names[j]) })
				g := grantJSON{ClientID: a.spID, ConsentType: "AllPrincipals", ResourceID: resSP, Scope: strings.Join(names, " "),
					ID: grantID(a.spID, resSP, pr)}
				if pr != "" {
					g.ConsentType, g.PrincipalID = "Principal", pr
				}
				out = append(out, g)
			}
		}
	}
	return out
}

func (e *Emulator) listGrants(w http.ResponseWriter, r *http.Request, c *graphCaller) *graphError {
	if !c.may(grantReadDelegate, grantReadApp) {
		return errDenied()
	}
	f, ge := parseFilter(r.URL.Query().Get("$filter"))
	if ge != nil {
		return ge
	}
	e.mu.RLock()
	all := grantsLocked(e.tenants[c.tenant.ID])
	e.mu.RUnlock()
	var items []any
	for _, g := range all {
		ok, ge := f.match(func(p string) (string, []string, bool) {
			switch p {
			case "clientId":
				return g.ClientID, nil, true
			case "resourceId":
				return g.ResourceID, nil, true
			case "consentType":
				return g.ConsentType, nil, true
			case "principalId":
				s, _ := g.PrincipalID.(string)
				return s, nil, true
			case "id":
				return g.ID, nil, true
			}
			return "", nil, false
		})
		if ge != nil {
			return ge
		}
		if ok {
			items = append(items, g)
		}
	}
	return e.writeGraphList(w, r, "oauth2PermissionGrants", items)
}

// grantScopesLocked parses a grant's scope string against its resource.
func grantScopesLocked(resourceApp *appState, scope string) (map[string]string, *graphError) {
	out := map[string]string{}
	resID := GraphAppID
	if resourceApp != nil {
		resID = resourceApp.AppID
	}
	for _, s := range strings.Fields(scope) {
		name := ""
		if resourceApp == nil {
			if graphPermRE.MatchString(s) || oidcScopes[strings.ToLower(s)] {
				name = s
			}
		} else {
			for _, sc := range resourceApp.Scopes {
				if sc.Enabled && strings.EqualFold(sc.Value, s) {
					name = sc.Value
				}
			}
		}
		if name == "" {
			return nil, errBadRequest("Invalid value specified for property 'scope': '%s' is not a delegated permission of resource %s.", s, resID)
		}
		out[consentKey(resID, name)] = name
	}
	if len(out) == 0 {
		return nil, errBadRequest("A value is required for property 'scope' of resource 'OAuth2PermissionGrant'.")
	}
	return out, nil
}

func (e *Emulator) createGrant(w http.ResponseWriter, r *http.Request, c *graphCaller) *graphError {
	if !c.may(grantWrite, grantWrite) {
		return errDenied()
	}
	p, ge := readProps(w, r, 64<<10, "clientId", "consentType", "principalId", "resourceId", "scope", "startTime", "expiryTime")
	if ge != nil {
		return ge
	}
	var clientID, consentType, resourceID, scope string
	var principal *string
	for k, v := range map[string]any{"clientId": &clientID, "consentType": &consentType, "resourceId": &resourceID,
		"scope": &scope, "principalId": &principal} {
		if ge := p.get(k, "OAuth2PermissionGrant", v); ge != nil {
			return ge
		}
	}
	switch {
	case !isGUID(clientID):
		return errBadRequest("Invalid value specified for property 'clientId' of resource 'OAuth2PermissionGrant'.")
	case !isGUID(resourceID):
		return errBadRequest("Invalid value specified for property 'resourceId' of resource 'OAuth2PermissionGrant'.")
	case consentType == "AllPrincipals" && principal != nil:
		return errBadRequest("principalId must be null when consentType is AllPrincipals.")
	case consentType == "Principal" && (principal == nil || !isGUID(*principal)):
		return errBadRequest("principalId is required when consentType is Principal.")
	case consentType != "AllPrincipals" && consentType != "Principal":
		return errBadRequest("Invalid value specified for property 'consentType' of resource 'OAuth2PermissionGrant'.")
	}
	pr := ""
	if principal != nil {
		pr = lower(*principal)
	}
	e.mu.Lock()
	t := e.tenants[c.tenant.ID]
	var out grantJSON
	client := (*appState)(nil)
	if e.laggingLocked(clientID) {
		ge = errNotFound(clientID)
	} else if client = t.appBySP(clientID); client == nil {
		ge = errNotFound(clientID)
	}
	var resApp *appState
	if ge == nil {
		var isGraph bool
		if isGraph, resApp, ge = e.spLocked(t, resourceID); ge == nil && isGraph {
			resApp = nil
		}
	}
	if ge == nil && pr != "" {
		if _, ok := t.users[pr]; !ok {
			ge = errNotFound(pr)
		}
	}
	var keys map[string]string
	if ge == nil {
		keys, ge = grantScopesLocked(resApp, scope)
	}
	if ge == nil {
		id := grantID(client.spID, lower(resourceID), pr)
		for _, g := range grantsLocked(t) {
			if g.ID == id {
				ge = &graphError{http.StatusConflict, "Request_MultipleObjectsWithSameKeyValue", "Permission entry already exists."}
			}
		}
		if ge == nil {
			e.addConsentLocked(t, client.AppID, pr, keys)
			out = grantJSON{ClientID: client.spID, ConsentType: consentType, ID: id, PrincipalID: principal,
				ResourceID: lower(resourceID), Scope: strings.Join(strings.Fields(scope), " ")}
		}
	}
	e.mu.Unlock()
	if ge != nil {
		return ge
	}
	return e.writeGraphValue(w, r, http.StatusCreated, "oauth2PermissionGrants/$entity", out)
}

// grantTargetLocked resolves a grant id to the client app, the resource's
// appId and the principal.
func grantTargetLocked(t *tenantState, id string) (client *appState, resApp *appState, resAppID, principal string, ge *graphError) {
	clientSP, resSP, pr, ok := decodeGrantID(id)
	if !ok {
		return nil, nil, "", "", errNotFound(id)
	}
	if client = t.appBySP(clientSP); client == nil {
		return nil, nil, "", "", errNotFound(id)
	}
	resAppID = GraphAppID
	if !strings.EqualFold(resSP, graphSPID(t.ID)) {
		if resApp = t.appBySP(resSP); resApp == nil {
			return nil, nil, "", "", errNotFound(id)
		}
		resAppID = resApp.AppID
	}
	found := false
	for k := range t.consents[client.AppID][pr] {
		if strings.HasPrefix(k, resAppID+" ") {
			found = true
		}
	}
	if !found {
		return nil, nil, "", "", errNotFound(id)
	}
	return client, resApp, resAppID, pr, nil
}

func (e *Emulator) patchGrant(w http.ResponseWriter, r *http.Request, c *graphCaller) *graphError {
	if !c.may(grantWrite, grantWrite) {
		return errDenied()
	}
	p, ge := readProps(w, r, 64<<10, "scope")
	if ge != nil {
		return ge
	}
	var scope string
	if ge := p.get("scope", "OAuth2PermissionGrant", &scope); ge != nil {
		return ge
	}
	e.mu.Lock()
	t := e.tenants[c.tenant.ID]
	client, resApp, resAppID, pr, ge := grantTargetLocked(t, r.PathValue("id"))
	var keys map[string]string
	if ge == nil {
		keys, ge = grantScopesLocked(resApp, scope)
	}
	if ge == nil {
		set := t.consents[client.AppID][pr]
		for k := range set {
			if strings.HasPrefix(k, resAppID+" ") {
				delete(set, k)
			}
		}
		e.addConsentLocked(t, client.AppID, pr, keys)
	}
	e.mu.Unlock()
	if ge != nil {
		return ge
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (e *Emulator) deleteGrant(w http.ResponseWriter, r *http.Request, c *graphCaller) *graphError {
	if !c.may(grantWrite, grantWrite) {
		return errDenied()
	}
	e.mu.Lock()
	t := e.tenants[c.tenant.ID]
	client, _, resAppID, pr, ge := grantTargetLocked(t, r.PathValue("id"))
	if ge == nil {
		set := t.consents[client.AppID][pr]
		for k := range set {
			if strings.HasPrefix(k, resAppID+" ") {
				delete(set, k)
			}
		}
	}
	e.mu.Unlock()
	if ge != nil {
		return ge
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// GraphServicePrincipalID is the object id of Microsoft Graph's service
// principal in a tenant (the resourceId of Graph consents and app roles).
func GraphServicePrincipalID(tenantID string) string { return graphSPID(tenantID) }

// ServicePrincipalID returns the object id of an app's service principal,
// or "" when it has none.
func (e *Emulator) ServicePrincipalID(tenantID, appID string) string {
	e.mu.RLock()
	defer e.mu.RUnlock()
	a, err := e.appLocked(tenantID, appID)
	if err != nil || a.NoServicePrincipal {
		return ""
	}
	return a.spID
}

// UpdateApp edits an app registration in place (tests inject manual
// portal edits this way); the function gets a copy and its result is
// stored.
func (e *Emulator) UpdateApp(tenantID, appID string, edit func(*App)) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	a, err := e.appLocked(tenantID, appID)
	if err != nil {
		return err
	}
	next := cloneApp(a.App)
	edit(&next)
	next.AppID = a.AppID
	next.Secrets = normalizeSecrets(next.Secrets)
	a.App = next
	return nil
}

// ---- plumbing shared by the Graph APIs (also graph_catalog.go) ----

// graphExt is the emulator state behind the registration, consent, catalog
// and device-code APIs (graph_apps.go, graph_catalog.go, devicecode.go).
// It is guarded by Emulator.mu; maps are created lazily.
type graphExt struct {
	catalogs    map[string][]*teamsApp // tenant ID -> org catalog
	devices     map[string]*deviceAuth // device_code -> sign-in
	userCodes   map[string]string      // user_code -> device_code
	throttle    int                    // next requests answered 429
	retryAfter  time.Duration
	replication int            // 404s a freshly created object answers
	lag         map[string]int // object ID (or appId) -> 404s left
	requests    []GraphRequest
}

// GraphRequest is one request the emulator's registration, consent and
// catalog APIs received, for assertions ("a second run writes nothing").
type GraphRequest struct {
	Method string
	Path   string // path and query, relative to GraphURL()
	Status int
	Tenant string // the caller's tenant ("" when the token was refused)
}

// maxGraphRequests bounds the request log.
const maxGraphRequests = 10000

// Write reports whether the request asked for a change.
func (g GraphRequest) Write() bool { return g.Method != http.MethodGet && g.Method != http.MethodHead }

// GraphRequests returns the requests seen so far by the registration,
// consent and catalog APIs, oldest first.
func (e *Emulator) GraphRequests() []GraphRequest {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return slices.Clone(e.graphx.requests)
}

// ResetGraphRequests forgets the recorded requests.
func (e *Emulator) ResetGraphRequests() {
	e.mu.Lock()
	e.graphx.requests = nil
	e.mu.Unlock()
}

// ThrottleGraph makes the next n requests to the registration, consent and
// catalog APIs fail with 429 Too Many Requests and Retry-After (whole
// seconds; 0 omits the header).
func (e *Emulator) ThrottleGraph(n int, retryAfter time.Duration) {
	e.mu.Lock()
	e.graphx.throttle, e.graphx.retryAfter = n, retryAfter
	e.mu.Unlock()
}

// SetReplicationDelay makes every application and service principal
// created through Graph from now on answer n requests that address it with
// 404 Request_ResourceNotFound (and a new app's appId n "does not reference
// a valid application object" refusals on POST /servicePrincipals), as
// Entra does until a new object has replicated.
func (e *Emulator) SetReplicationDelay(n int) {
	e.mu.Lock()
	e.graphx.replication = n
	e.mu.Unlock()
}

// lagging consumes one replication miss of key (locked).
func (e *Emulator) laggingLocked(key string) bool {
	if n := e.graphx.lag[lower(key)]; n > 0 {
		e.graphx.lag[lower(key)] = n - 1
		return true
	}
	return false
}

func (e *Emulator) startLagLocked(keys ...string) {
	if e.graphx.replication <= 0 {
		return
	}
	if e.graphx.lag == nil {
		e.graphx.lag = map[string]int{}
	}
	for _, k := range keys {
		e.graphx.lag[lower(k)] = e.graphx.replication
	}
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// graphHandler serves one Graph call for an authenticated caller.
type graphHandler func(w http.ResponseWriter, r *http.Request, c *graphCaller) *graphError

// gx wraps a handler: request log, injected throttling, Graph's token
// validation, and the error envelope.
func (e *Emulator) gx(h graphHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		tenant := ""
		defer func() {
			path := strings.TrimPrefix(r.URL.Path, "/graph")
			if r.URL.RawQuery != "" {
				path += "?" + r.URL.RawQuery
			}
			e.mu.Lock()
			if len(e.graphx.requests) >= maxGraphRequests { // a long demo keeps the newest
				e.graphx.requests = slices.Delete(e.graphx.requests, 0, len(e.graphx.requests)-maxGraphRequests+1)
			}
			e.graphx.requests = append(e.graphx.requests, GraphRequest{Method: r.Method, Path: path, Status: rec.status, Tenant: tenant})
			e.mu.Unlock()
		}()
		e.mu.Lock()
		throttled, retry := e.graphx.throttle > 0, e.graphx.retryAfter
		if throttled {
			e.graphx.throttle--
		}
		e.mu.Unlock()
		if throttled {
			if retry > 0 {
				rec.Header().Set("Retry-After", strconv.Itoa(int(retry/time.Second)))
			}
			e.writeGraphError(rec, r, &graphError{http.StatusTooManyRequests, "TooManyRequests",
				"Too many requests from Identifier:" + r.URL.Path + " under tenant. Please try again later."})
			return
		}
		c, ge := e.authenticateGraph(r)
		if ge == nil {
			tenant = c.tenant.ID
			ge = h(rec, r, c)
		}
		if ge != nil {
			e.writeGraphError(rec, r, ge)
		}
	}
}

// roles are the application permissions of an app-only token.
func (c *graphCaller) roles() []string {
	var out []string
	if rs, ok := c.claims["roles"].([]any); ok {
		for _, r := range rs {
			if s, ok := r.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

// may reports whether the token carries one of the delegated scopes (user
// tokens) or application roles (app-only tokens) an API documents.
func (c *graphCaller) may(delegated, application []string) bool {
	if c.user != nil {
		return c.hasScope(delegated...)
	}
	for _, r := range c.roles() {
		for _, a := range application {
			if strings.EqualFold(r, a) {
				return true
			}
		}
	}
	return false
}

func errDenied() *graphError {
	return &graphError{http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."}
}

func errBadRequest(format string, args ...any) *graphError {
	return &graphError{http.StatusBadRequest, "Request_BadRequest", fmt.Sprintf(format, args...)}
}

func errNotFound(id string) *graphError {
	return &graphError{http.StatusNotFound, "Request_ResourceNotFound",
		"Resource '" + id + "' does not exist or one of its queried reference-property objects are not present."}
}

// writeGraphValue writes v (a struct or map) as a Graph entity with
// @odata.context first, applying $select when asked.
func (e *Emulator) writeGraphValue(w http.ResponseWriter, r *http.Request, status int, context string, v any) *graphError {
	data, err := json.Marshal(v)
	if err != nil {
		return &graphError{http.StatusInternalServerError, "generalException", err.Error()}
	}
	if sel := r.URL.Query().Get("$select"); sel != "" {
		data, err = selectProps(data, sel)
		if err != nil {
			return errBadRequest("%s", err.Error())
		}
	}
	var buf bytes.Buffer
	buf.WriteString(`{"@odata.context":`)
	ctx, _ := json.Marshal("https://graph.microsoft.com/v1.0/$metadata#" + context)
	buf.Write(ctx)
	if rest := bytes.TrimPrefix(bytes.TrimSpace(data), []byte("{")); len(rest) > 1 {
		buf.WriteByte(',')
		buf.Write(rest)
	} else {
		buf.WriteByte('}')
	}
	buf.WriteByte('\n')
	setGraphHeaders(w, r)
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
	return nil
}

// writeGraphList writes {"@odata.context", "value": items}.
func (e *Emulator) writeGraphList(w http.ResponseWriter, r *http.Request, context string, items []any) *graphError {
	if sel := r.URL.Query().Get("$select"); sel != "" {
		for i, it := range items {
			data, _ := json.Marshal(it)
			out, err := selectProps(data, sel)
			if err != nil {
				return errBadRequest("%s", err.Error())
			}
			items[i] = json.RawMessage(out)
		}
	}
	if items == nil {
		items = []any{}
	}
	rr := r.Clone(r.Context())
	rr.URL.RawQuery = "" // $select was applied per item
	return e.writeGraphValue(w, rr, http.StatusOK, context, struct {
		Value []any `json:"value"`
	}{items})
}

// selectProps keeps the $select-ed properties of a JSON object, in the
// order asked; an unknown name is Graph's 400.
func selectProps(data []byte, sel string) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.WriteByte('{')
	n := 0
	for _, p := range strings.Split(sel, ",") {
		p = strings.TrimSpace(p)
		v, ok := m[p]
		if !ok {
			return nil, &selectError{p}
		}
		if n > 0 {
			buf.WriteByte(',')
		}
		k, _ := json.Marshal(p)
		buf.Write(k)
		buf.WriteByte(':')
		buf.Write(v)
		n++
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

type selectError struct{ prop string }

func (s *selectError) Error() string {
	return "Could not find a property named '" + s.prop + "' on type 'microsoft.graph.entity'."
}

// odataFilter is a parsed $filter of the forms Graph clients use here:
// clauses "prop eq 'v'" and "coll/any(x:x eq 'v')" joined by "and".
type odataFilter []filterClause

type filterClause struct {
	prop  string
	any   bool // coll/any(x:x eq 'v')
	value string
}

func parseFilter(f string) (odataFilter, *graphError) {
	f = strings.TrimSpace(f)
	if f == "" {
		return nil, nil
	}
	var out odataFilter
	for _, part := range splitAnd(f) {
		part = strings.TrimSpace(part)
		var c filterClause
		if i := strings.Index(part, "/any("); i > 0 && strings.HasSuffix(part, ")") {
			c.prop, c.any = part[:i], true
			inner := part[i+5 : len(part)-1]
			v, x, ok := strings.Cut(inner, ":")
			if !ok {
				return nil, errUnsupportedFilter(f)
			}
			x = strings.TrimSpace(x)
			if !strings.HasPrefix(x, strings.TrimSpace(v)+" eq ") {
				return nil, errUnsupportedFilter(f)
			}
			val, ok := quoted(strings.TrimPrefix(x, strings.TrimSpace(v)+" eq "))
			if !ok {
				return nil, errUnsupportedFilter(f)
			}
			c.value = val
		} else {
			prop, rest, ok := strings.Cut(part, " eq ")
			if !ok {
				return nil, errUnsupportedFilter(f)
			}
			val, ok := quoted(rest)
			if !ok {
				return nil, errUnsupportedFilter(f)
			}
			c.prop, c.value = strings.TrimSpace(prop), val
		}
		out = append(out, c)
	}
	return out, nil
}

// splitAnd splits on " and " outside quotes.
func splitAnd(s string) []string {
	var parts []string
	inQuote := false
	start := 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\'':
			inQuote = !inQuote
		case !inQuote && strings.HasPrefix(s[i:], " and "):
			parts = append(parts, s[start:i])
			start = i + 5
			i += 4
		}
	}
	return append(parts, s[start:])
}

func quoted(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if len(s) < 2 || s[0] != '\'' || s[len(s)-1] != '\'' {
		return "", false
	}
	return strings.ReplaceAll(s[1:len(s)-1], "''", "'"), true
}

func errUnsupportedFilter(f string) *graphError {
	return &graphError{http.StatusBadRequest, "Request_UnsupportedQuery", "Unsupported or invalid query filter clause specified: '" + f + "'."}
}

// match evaluates the filter against property getters; a property the
// resource does not support filtering on is Graph's 400.
func (f odataFilter) match(get func(prop string) (single string, many []string, ok bool)) (bool, *graphError) {
	for _, c := range f {
		one, many, ok := get(c.prop)
		if !ok {
			return false, &graphError{http.StatusBadRequest, "Request_UnsupportedQuery", "Unsupported or invalid query filter clause specified for property '" + c.prop + "'."}
		}
		if c.any {
			if !slices.ContainsFunc(many, func(s string) bool { return strings.EqualFold(s, c.value) }) {
				return false, nil
			}
		} else if !strings.EqualFold(one, c.value) {
			return false, nil
		}
	}
	return true, nil
}

// props is a JSON object's members, for bodies Graph validates strictly.
type props map[string]json.RawMessage

// parseProps decodes a JSON object and refuses members not in known, as
// Graph v1.0 refuses properties that do not exist (beta names included).
func parseProps(raw []byte, known ...string) (props, *graphError) {
	var p props
	if err := json.Unmarshal(raw, &p); err != nil || p == nil {
		return nil, errBadRequest("Invalid request body: a JSON object is expected.")
	}
	for k := range p {
		if !slices.Contains(known, k) {
			return nil, errBadRequest("Property '%s' does not exist as a declared property or extension property.", k)
		}
	}
	return p, nil
}

func (p props) has(k string) bool { _, ok := p[k]; return ok }

// isNull reports whether the member is absent or null.
func (p props) isNull(k string) bool {
	v, ok := p[k]
	return !ok || string(bytes.TrimSpace(v)) == "null"
}

// get decodes member k into dst; a type mismatch is Graph's invalid value.
func (p props) get(k, resource string, dst any) *graphError {
	v, ok := p[k]
	if !ok || string(bytes.TrimSpace(v)) == "null" {
		return nil
	}
	if err := json.Unmarshal(v, dst); err != nil {
		return errBadRequest("Invalid value specified for property '%s' of resource '%s'.", k, resource)
	}
	return nil
}

// list decodes an array of objects, each checked with parseProps.
func (p props) list(k, resource string, known ...string) ([]props, *graphError) {
	if p.isNull(k) {
		return nil, nil
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(p[k], &raws); err != nil {
		return nil, errBadRequest("Invalid value specified for property '%s' of resource '%s'.", k, resource)
	}
	out := make([]props, 0, len(raws))
	for _, r := range raws {
		q, ge := parseProps(r, known...)
		if ge != nil {
			return nil, ge
		}
		out = append(out, q)
	}
	return out, nil
}

// object decodes a nested object checked with parseProps (nil if absent).
func (p props) object(k string, known ...string) (props, *graphError) {
	if p.isNull(k) {
		return props{}, nil
	}
	return parseProps(p[k], known...)
}

func readGraphBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, *graphError) {
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit)); err != nil {
		return nil, &graphError{http.StatusRequestEntityTooLarge, "Request_EntityTooLarge", "The request body is too large or could not be read."}
	}
	return buf.Bytes(), nil
}

func graphTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format("2006-01-02T15:04:05Z")
}

// readProps reads a request body of at most limit bytes and parses it as a
// Graph object whose properties must be among known.
func readProps(w http.ResponseWriter, r *http.Request, limit int64, known ...string) (props, *graphError) {
	body, ge := readGraphBody(w, r, limit)
	if ge != nil {
		return nil, ge
	}
	return parseProps(body, known...)
}
