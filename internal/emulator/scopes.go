package emulator

import (
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// OIDC scopes are not tied to a resource; in the emulator they need no
// consent (Entra lets users consent to them in practice).
var oidcScopes = map[string]bool{"openid": true, "profile": true, "email": true, "offline_access": true}

// Graph permission names look like User.Read or User.ReadBasic.All.
var graphPermRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z0-9]+)+$`)

// scopeSet is a parsed v2 "scope" parameter: OIDC scopes plus permissions on
// at most one resource (Entra refuses several resources in one request).
type scopeSet struct {
	raw       []string // non-OIDC scopes as requested, de-duplicated
	oidc      []string // lower-case OIDC scopes, de-duplicated, in order
	resource  *resource
	perms     []string // permission values (registration casing for apps)
	isDefault bool     // "{resource}/.default"
}

type resource struct {
	appID string    // GraphAppID or the resource app's ID
	app   *appState // nil for Graph
	audV1 string    // audience of v1 tokens: GraphResource, or the identifier used
}

func (r *resource) isGraph() bool { return r.app == nil }

func (s *scopeSet) has(oidc string) bool { return slices.Contains(s.oidc, oidc) }

// String renders the scope list for a token response: resource scopes as
// requested, then the OIDC scopes (MSAL compares these case-insensitively).
func (s *scopeSet) String() string {
	out := slices.Clone(s.raw)
	out = append(out, s.oidc...)
	return strings.Join(out, " ")
}

func isGraphPrefix(p string) bool {
	p = lower(strings.TrimRight(p, "/"))
	return p == "" || p == GraphResource || p == GraphAppID
}

// parseScopes parses a space-separated scope parameter in tenant t.
func parseScopes(t *tenantState, raw string) (*scopeSet, *aadError) {
	set := &scopeSet{}
	for _, s := range strings.Fields(raw) {
		if l := strings.ToLower(s); oidcScopes[l] {
			if !slices.Contains(set.oidc, l) {
				set.oidc = append(set.oidc, l)
			}
			continue
		}
		prefix, perm := "", s
		if i := strings.LastIndex(s, "/"); i >= 0 {
			prefix, perm = s[:i], s[i+1:]
		}
		if perm == "" {
			return nil, invalidScope(raw)
		}
		var res *resource
		if isGraphPrefix(prefix) {
			res = &resource{appID: GraphAppID, audV1: GraphResource}
		} else {
			res = findResource(t, prefix)
			if res == nil {
				return nil, newErr(http.StatusBadRequest, "invalid_resource", 500011,
					"The resource principal named %s was not found in the tenant named %s. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.",
					prefix, t.DisplayName)
			}
		}
		if set.resource != nil && set.resource.appID != res.appID {
			return nil, newErr(http.StatusBadRequest, "invalid_scope", 28000,
				"Provided value for the input parameter scope is not valid because it contains more than one resource. Scope %s is not valid.", raw)
		}
		if set.resource == nil {
			set.resource = res
		}
		if perm == ".default" {
			set.isDefault = true
		} else {
			name, ok := permName(res, perm)
			if !ok {
				if res.isGraph() {
					return nil, invalidScope(raw)
				}
				return nil, newErr(http.StatusBadRequest, "invalid_client", 65005,
					"The application asked for scope '%s' that doesn't exist on the resource '%s'. Contact the app vendor.", perm, res.appID)
			}
			if !slices.ContainsFunc(set.perms, func(p string) bool { return strings.EqualFold(p, name) }) {
				set.perms = append(set.perms, name)
			}
		}
		if !slices.Contains(set.raw, s) {
			set.raw = append(set.raw, s)
		}
	}
	if set.isDefault && len(set.perms) > 0 {
		// "/.default" cannot be combined with named permissions.
		return nil, invalidScope(raw)
	}
	return set, nil
}

func invalidScope(raw string) *aadError {
	return newErr(http.StatusBadRequest, "invalid_scope", 70011,
		"The provided value for the input parameter 'scope' is not valid. The scope %s is not valid.", raw)
}

func findResource(t *tenantState, prefix string) *resource {
	if isGUID(prefix) {
		if a, ok := t.apps[lower(prefix)]; ok {
			return &resource{appID: a.AppID, app: a, audV1: a.AppID}
		}
		return nil
	}
	for _, id := range t.appOrder {
		a := t.apps[id]
		for _, u := range a.IdentifierURIs {
			if strings.EqualFold(u, prefix) {
				return &resource{appID: a.AppID, app: a, audV1: u}
			}
		}
	}
	return nil
}

func permName(res *resource, perm string) (string, bool) {
	if res.isGraph() {
		return perm, graphPermRE.MatchString(perm)
	}
	for _, sc := range res.app.Scopes {
		if sc.Enabled && strings.EqualFold(sc.Value, perm) {
			return sc.Value, true
		}
	}
	return "", false
}

func consentKey(resourceAppID, perm string) string {
	return resourceAppID + " " + strings.ToLower(perm)
}

// expandPerms lists the canonical permissions a request stands for: the named
// ones, or for "/.default" the statically configured set — the client's
// RequiredGraphScopes for Graph, every enabled scope for another app.
func (e *Emulator) expandPerms(client *appState, set *scopeSet) map[string]string {
	out := map[string]string{}
	if set.resource == nil {
		return out
	}
	var names []string
	switch {
	case !set.isDefault:
		names = set.perms
	case set.resource.isGraph():
		if client != nil {
			names = client.RequiredGraphScopes
		}
	default:
		for _, sc := range set.resource.app.Scopes {
			if sc.Enabled {
				names = append(names, sc.Value)
			}
		}
	}
	for _, n := range names {
		out[consentKey(set.resource.appID, n)] = n
	}
	return out
}

// missingConsentLocked returns the permissions of set that clientID may not
// use on behalf of userOID: neither the user nor an admin consented and the
// client is not pre-authorized by the resource.
func (e *Emulator) missingConsentLocked(t *tenantState, clientID, userOID string, set *scopeSet) []string {
	if set.resource == nil {
		return nil
	}
	if set.resource.app != nil && set.resource.app.preAuthorized(clientID) {
		return nil
	}
	client := t.apps[lower(clientID)]
	byPrincipal := t.consents[lower(clientID)]
	var missing []string
	for k, name := range e.expandPerms(client, set) {
		if _, ok := byPrincipal[lower(userOID)][k]; ok {
			continue
		}
		if _, ok := byPrincipal[""][k]; ok {
			continue
		}
		missing = append(missing, name)
	}
	sort.Strings(missing)
	return missing
}

// grantedPermsLocked is the scp claim for a delegated token: the named
// permissions, or for "/.default" everything consented (or pre-authorized)
// on that resource.
func (e *Emulator) grantedPermsLocked(t *tenantState, clientID, userOID string, set *scopeSet) []string {
	if set.resource == nil {
		return nil
	}
	if !set.isDefault {
		return slices.Clone(set.perms)
	}
	seen := map[string]string{}
	if set.resource.app != nil && set.resource.app.preAuthorized(clientID) {
		for _, sc := range set.resource.app.Scopes {
			if sc.Enabled {
				seen[strings.ToLower(sc.Value)] = sc.Value
			}
		}
	}
	prefix := set.resource.appID + " "
	for _, principal := range []string{lower(userOID), ""} {
		for k, name := range t.consents[lower(clientID)][principal] {
			if strings.HasPrefix(k, prefix) {
				seen[strings.ToLower(name)] = name
			}
		}
	}
	out := make([]string, 0, len(seen))
	for _, n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
