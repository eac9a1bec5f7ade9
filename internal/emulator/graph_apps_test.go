package emulator

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// call sends a Graph request with a bearer token and decodes the answer.
func (f *fixture) call(token, method, path string, body any) (int, map[string]any, http.Header) {
	f.t.Helper()
	var rd *bytes.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		rd = bytes.NewReader(data)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, f.e.GraphURL()+path, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := f.client.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m, resp.Header
}

func graphErrorOf(m map[string]any) (code, msg string) {
	e, _ := m["error"].(map[string]any)
	code, _ = e["code"].(string)
	msg, _ = e["message"].(string)
	return
}

func wantGraphError(t *testing.T, status int, m map[string]any, wantStatus int, wantCode, wantText string) {
	t.Helper()
	code, msg := graphErrorOf(m)
	if status != wantStatus || code != wantCode || !strings.Contains(msg, wantText) {
		t.Fatalf("got %d %s %q, want %d %s containing %q", status, code, msg, wantStatus, wantCode, wantText)
	}
}

const (
	teamsScopeID = "6f4b6a2e-0d1c-4a7e-9a55-2b2f0c1e9d11"
	userReadID   = "e1fe6dd8-ba31-4d61-89e7-88639da4683d"
	activityRole = "a267235f-af13-44dc-8385-c1dc93023186"
)

func newScope(id string, enabled bool) map[string]any {
	return map[string]any{"id": id, "value": "access_as_user", "type": "User", "isEnabled": enabled,
		"adminConsentDisplayName": "Teams can access the app's Web APIs", "adminConsentDescription": "Allows Teams to call the app's Web APIs as the current user"}
}

func TestGraphApplicationsAreTheIdentitySidesApps(t *testing.T) {
	f := newFixture(t)
	admin := f.adminToken("Application.ReadWrite.All", "AppRoleAssignment.ReadWrite.All", "DelegatedPermissionGrant.ReadWrite.All")

	status, app, hdr := f.call(admin, "POST", "/v1.0/applications", map[string]any{
		"displayName": "tamlink", "signInAudience": "AzureADMyOrg", "tags": []string{"tamlink:desk.example.com"},
		"api": map[string]any{"requestedAccessTokenVersion": 2, "oauth2PermissionScopes": []any{newScope(teamsScopeID, true)}},
		"requiredResourceAccess": []any{map[string]any{"resourceAppId": GraphAppID, "resourceAccess": []any{
			map[string]any{"id": userReadID, "type": "Scope"}, map[string]any{"id": activityRole, "type": "Role"}}}},
	})
	if status != http.StatusCreated || hdr.Get("Location") == "" {
		t.Fatalf("%d %v", status, app)
	}
	id, appID := app["id"].(string), app["appId"].(string)
	if id == appID || !isGUID(appID) || app["publisherDomain"] != "contoso.onmicrosoft.com" {
		t.Fatalf("%v", app)
	}
	// Pre-authorizing needs the scope saved first; v1.0 names only.
	preauth := map[string]any{"api": map[string]any{"requestedAccessTokenVersion": 2,
		"oauth2PermissionScopes":    []any{newScope(teamsScopeID, true)},
		"preAuthorizedApplications": []any{map[string]any{"appId": TeamsWebClientID, "permissionIds": []string{teamsScopeID}}}}}
	status, body, _ := f.call(admin, "PATCH", "/v1.0/applications/"+id, preauth)
	wantGraphError(t, status, body, 400, "Request_BadRequest", "Property 'permissionIds' does not exist")
	status, body, _ = f.call(admin, "PATCH", "/v1.0/applications/"+id, map[string]any{"api": map[string]any{
		"requestedAccessTokenVersion": 2,
		"oauth2PermissionScopes": []any{newScope(teamsScopeID, true), func() map[string]any {
			s := newScope("7f4b6a2e-0d1c-4a7e-9a55-2b2f0c1e9d12", true)
			s["value"] = "other"
			return s
		}()},
		"preAuthorizedApplications": []any{map[string]any{"appId": TeamsWebClientID, "delegatedPermissionIds": []string{"7f4b6a2e-0d1c-4a7e-9a55-2b2f0c1e9d12"}}}}})
	wantGraphError(t, status, body, 400, "Request_BadRequest", "cannot be found")
	preauth["api"].(map[string]any)["preAuthorizedApplications"] = []any{map[string]any{"appId": TeamsWebClientID, "delegatedPermissionIds": []string{teamsScopeID}}}
	if status, body, _ = f.call(admin, "PATCH", "/v1.0/applications/"+id, preauth); status != http.StatusNoContent {
		t.Fatalf("%d %v", status, body)
	}
	// Identifier URIs.
	for uri, wantCode := range map[string]string{
		"api://desk.example.com/":           "Request_BadRequest",
		"api://desk.example.com/something":  "HostNameNotOnVerifiedDomain",
		"https://desk.example.com/" + appID: "HostNameNotOnVerifiedDomain",
		"ftp://x/" + appID:                  "Request_BadRequest",
		"api://*.example.com/" + appID:      "Request_BadRequest",
		"api://" + appID:                    "",
		"api://contoso.onmicrosoft.com/x":   "",
	} {
		status, body, _ = f.call(admin, "PATCH", "/v1.0/applications/"+id, map[string]any{"identifierUris": []string{uri}})
		if code, msg := graphErrorOf(body); code != wantCode || (wantCode == "" && status != 204) {
			t.Errorf("%s: %d %s %s", uri, status, code, msg)
		}
	}
	// Unique in the tenant: the fixture's app already uses api://tamlink.test/{appV2ID}.
	_, list, _ := f.call(admin, "GET", "/v1.0/applications?$filter=appId%20eq%20'"+appV2ID+"'", nil)
	fixtureID := list["value"].([]any)[0].(map[string]any)["id"].(string)
	f.call(admin, "PATCH", "/v1.0/applications/"+id, map[string]any{"identifierUris": []string{"api://contoso.onmicrosoft.com/desk"}})
	status, body, _ = f.call(admin, "PATCH", "/v1.0/applications/"+fixtureID, map[string]any{"identifierUris": []string{"api://contoso.onmicrosoft.com/desk"}})
	wantGraphError(t, status, body, 400, "Request_BadRequest", "Another object with the same value for property identifierUris")
	f.call(admin, "PATCH", "/v1.0/applications/"+id, map[string]any{
		"identifierUris": []string{"api://desk.example.com/" + appID},
		"web":            map[string]any{"redirectUris": []string{"https://desk.example.com/thirdparty/teams/" + appID + "/oauth2/callback"}},
	})
	status, body, _ = f.call(admin, "PATCH", "/v1.0/applications/"+id, map[string]any{"web": map[string]any{"redirectUris": []string{"http://desk.example.com/x"}}})
	wantGraphError(t, status, body, 400, "Request_BadRequest", "redirectUris")
	status, body, _ = f.call(admin, "PATCH", "/v1.0/applications/"+id, map[string]any{"passwordCredentials": []any{map[string]any{"secretText": "x"}}})
	wantGraphError(t, status, body, 400, "Request_BadRequest", "addPassword")

	// An enabled scope is disabled before it is removed.
	status, body, _ = f.call(admin, "PATCH", "/v1.0/applications/"+id, map[string]any{"api": map[string]any{"oauth2PermissionScopes": []any{}}})
	wantGraphError(t, status, body, 400, "CannotDeleteOrUpdateEnabledEntitlement", "disabled first")
	withPreauth := func(scope map[string]any) map[string]any {
		return map[string]any{"api": map[string]any{"requestedAccessTokenVersion": 2, "oauth2PermissionScopes": []any{scope},
			"preAuthorizedApplications": []any{map[string]any{"appId": TeamsWebClientID, "delegatedPermissionIds": []string{teamsScopeID}}}}}
	}
	changed := newScope(teamsScopeID, true)
	changed["userConsentDisplayName"] = "Access tamlink as you"
	status, body, _ = f.call(admin, "PATCH", "/v1.0/applications/"+id, withPreauth(changed))
	wantGraphError(t, status, body, 400, "CannotDeleteOrUpdateEnabledEntitlement", "disabled first")
	if status, body, _ = f.call(admin, "PATCH", "/v1.0/applications/"+id, withPreauth(newScope(teamsScopeID, false))); status != 204 {
		t.Fatalf("disable: %d %v", status, body)
	}
	if status, body, _ = f.call(admin, "PATCH", "/v1.0/applications/"+id, withPreauth(changed)); status != 204 {
		t.Fatalf("change a disabled scope: %d %v", status, body)
	}

	// The secret is shown once; it works at the token endpoint.
	status, pw, _ := f.call(admin, "POST", "/v1.0/applications/"+id+"/addPassword", map[string]any{"passwordCredential": map[string]any{"displayName": "tamlink"}})
	secret, _ := pw["secretText"].(string)
	if status != 200 || len(secret) != 40 || pw["hint"] != secret[:3] || !strings.Contains(secret, "8Q~") {
		t.Fatalf("%d %v", status, pw)
	}
	_, got, _ := f.call(admin, "GET", "/v1.0/applications/"+id, nil)
	creds := got["passwordCredentials"].([]any)
	if len(creds) != 1 || creds[0].(map[string]any)["secretText"] != nil || creds[0].(map[string]any)["hint"] != secret[:3] {
		t.Fatalf("credentials %v", creds)
	}
	end, _ := time.Parse(time.RFC3339, creds[0].(map[string]any)["endDateTime"].(string))
	if d := end.Sub(f.clock.Now()); d < 729*24*time.Hour || d > 731*24*time.Hour {
		t.Fatalf("default lifetime %v", d)
	}

	// The identity side sees the same app.
	a, ok := f.e.App(contosoID, appID)
	if !ok || a.AccessTokenVersion != 2 || !slices.Equal(a.PreAuthorizedClients, []string{TeamsWebClientID}) ||
		!slices.Equal(a.RequiredGraphScopes, []string{"User.Read"}) || !slices.Equal(a.RequiredGraphRoles, []string{"TeamsActivity.Send"}) {
		t.Fatalf("identity side: %+v", a)
	}
	if _, err := f.e.IssueTeamsToken(contosoID, aliceOID, appID, TokenOptions{}); err != nil {
		t.Fatalf("Teams SSO for the Graph-made app: %v", err)
	}

	// Service principal, admin consent, app role.
	status, sp, _ := f.call(admin, "POST", "/v1.0/servicePrincipals", map[string]any{"appId": appID})
	if status != http.StatusCreated {
		t.Fatalf("%d %v", status, sp)
	}
	spID := sp["id"].(string)
	status, body, _ = f.call(admin, "POST", "/v1.0/servicePrincipals", map[string]any{"appId": appID})
	wantGraphError(t, status, body, 409, "Request_MultipleObjectsWithSameKeyValue", "already in use")
	_, list, _ = f.call(admin, "GET", "/v1.0/servicePrincipals?$filter=appId%20eq%20'"+GraphAppID+"'", nil)
	graphSP := list["value"].([]any)[0].(map[string]any)
	graphSPID := graphSP["id"].(string)
	if graphSPID != GraphServicePrincipalID(contosoID) || len(graphSP["appRoles"].([]any)) == 0 {
		t.Fatalf("graph SP %v", graphSP)
	}
	grant := map[string]any{"clientId": spID, "consentType": "AllPrincipals", "resourceId": graphSPID, "scope": "User.Read"}
	status, g, _ := f.call(admin, "POST", "/v1.0/oauth2PermissionGrants", grant)
	if status != http.StatusCreated {
		t.Fatalf("%d %v", status, g)
	}
	status, body, _ = f.call(admin, "POST", "/v1.0/oauth2PermissionGrants", grant)
	wantGraphError(t, status, body, 409, "Request_MultipleObjectsWithSameKeyValue", "already exists")
	_, list, _ = f.call(admin, "GET", "/v1.0/oauth2PermissionGrants?$filter=clientId%20eq%20'"+spID+"'", nil)
	if v := list["value"].([]any); len(v) != 1 || v[0].(map[string]any)["id"] != g["id"] || v[0].(map[string]any)["scope"] != "User.Read" {
		t.Fatalf("grants %v", list)
	}
	status, as, _ := f.call(admin, "POST", "/v1.0/servicePrincipals/"+graphSPID+"/appRoleAssignedTo",
		map[string]any{"principalId": spID, "resourceId": graphSPID, "appRoleId": activityRole})
	if status != http.StatusCreated || as["principalType"] != "ServicePrincipal" {
		t.Fatalf("%d %v", status, as)
	}
	_, list, _ = f.call(admin, "GET", "/v1.0/servicePrincipals/"+spID+"/appRoleAssignments", nil)
	if v := list["value"].([]any); len(v) != 1 || v[0].(map[string]any)["appRoleId"] != activityRole {
		t.Fatalf("assignments %v", list)
	}
	// ...which the token side honours: roles claim, and OBO without a prompt.
	status, tok := f.postForm(contosoID, url.Values{"grant_type": {"client_credentials"}, "client_id": {appID},
		"client_secret": {secret}, "scope": {"https://graph.microsoft.com/.default"}}, nil)
	if status != 200 {
		t.Fatalf("%d %v", status, tok)
	}
	if _, claims := claimsOf(t, tok["access_token"].(string)); !slices.Equal(claims["roles"].([]any), []any{"TeamsActivity.Send"}) {
		t.Fatalf("roles %v", claims["roles"])
	}
	sso, err := f.e.IssueTeamsToken(contosoID, aliceOID, appID, TokenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	status, body = f.postForm(contosoID, url.Values{"grant_type": {grantJWTBearer}, "client_id": {appID}, "client_secret": {secret},
		"assertion": {sso}, "scope": {"https://graph.microsoft.com/User.Read"}, "requested_token_use": {"on_behalf_of"}}, nil)
	if status != 200 {
		t.Fatalf("OBO after admin consent through Graph: %d %v", status, body)
	}
	// Revoking the grant through Graph removes the consent.
	if status, body, _ = f.call(admin, "DELETE", "/v1.0/oauth2PermissionGrants/"+g["id"].(string), nil); status != 204 {
		t.Fatalf("%d %v", status, body)
	}
	status, body = f.postForm(contosoID, url.Values{"grant_type": {grantJWTBearer}, "client_id": {appID}, "client_secret": {secret},
		"assertion": {sso}, "scope": {"https://graph.microsoft.com/User.Read"}, "requested_token_use": {"on_behalf_of"}}, nil)
	assertAADError(t, status, body, http.StatusBadRequest, "invalid_grant", 65001)

	// Filters.
	for q, n := range map[string]int{
		"tags/any(t:t eq 'tamlink:desk.example.com')": 1,
		"displayName eq 'tamlink'":                    1,
		"appId eq '" + appV1ID + "'":                  1,
		"displayName eq 'nope'":                       0,
	} {
		_, list, _ := f.call(admin, "GET", "/v1.0/applications?$filter="+url.QueryEscape(q), nil)
		if len(list["value"].([]any)) != n {
			t.Errorf("%s: %v", q, list)
		}
	}
	status, body, _ = f.call(admin, "GET", "/v1.0/applications?$filter="+url.QueryEscape("startswith(displayName,'t')"), nil)
	wantGraphError(t, status, body, 400, "Request_UnsupportedQuery", "")
	_, sel, _ := f.call(admin, "GET", "/v1.0/applications/"+id+"?$select=appId,displayName", nil)
	if len(sel) != 3 || sel["appId"] != appID {
		t.Fatalf("$select %v", sel)
	}
}

func TestGraphChecksPermissions(t *testing.T) {
	f := newFixture(t)
	reader := f.adminToken("Application.Read.All")
	status, body, _ := f.call(reader, "POST", "/v1.0/applications", map[string]any{"displayName": "x"})
	wantGraphError(t, status, body, 403, "Authorization_RequestDenied", "Insufficient privileges")
	if status, _, _ = f.call(reader, "GET", "/v1.0/applications", nil); status != 200 {
		t.Fatal(status)
	}
	// App-only: the fixture's app has TeamsActivity.Send only.
	_, tok := f.postForm(contosoID, url.Values{"grant_type": {"client_credentials"}, "client_id": {appV2ID},
		"client_secret": {secretV2}, "scope": {"https://graph.microsoft.com/.default"}}, nil)
	app := tok["access_token"].(string)
	status, body, _ = f.call(app, "GET", "/v1.0/applications", nil)
	wantGraphError(t, status, body, 403, "Authorization_RequestDenied", "")
	status, body, _ = f.call(app, "GET", "/v1.0/appCatalogs/teamsApps", nil)
	wantGraphError(t, status, body, 403, "Forbidden", "user context")
	status, body, _ = f.call("", "GET", "/v1.0/applications", nil)
	wantGraphError(t, status, body, 401, "InvalidAuthenticationToken", "")
}

func TestGraphReplicationDelayAndThrottling(t *testing.T) {
	f := newFixture(t)
	admin := f.adminToken("Application.ReadWrite.All")
	f.e.SetReplicationDelay(1)
	_, app, _ := f.call(admin, "POST", "/v1.0/applications", map[string]any{"displayName": "fresh", "signInAudience": "AzureADMyOrg"})
	id, appID := app["id"].(string), app["appId"].(string)
	status, body, _ := f.call(admin, "GET", "/v1.0/applications/"+id, nil)
	wantGraphError(t, status, body, 404, "Request_ResourceNotFound", id)
	if status, _, _ = f.call(admin, "GET", "/v1.0/applications/"+id, nil); status != 200 {
		t.Fatalf("after replication: %d", status)
	}
	status, body, _ = f.call(admin, "POST", "/v1.0/servicePrincipals", map[string]any{"appId": appID})
	wantGraphError(t, status, body, 400, "Request_BadRequest", "does not reference a valid application object")
	if status, _, _ = f.call(admin, "POST", "/v1.0/servicePrincipals", map[string]any{"appId": appID}); status != 201 {
		t.Fatalf("after replication: %d", status)
	}

	f.e.ThrottleGraph(1, 3*time.Second)
	status, body, hdr := f.call(admin, "GET", "/v1.0/applications", nil)
	wantGraphError(t, status, body, 429, "TooManyRequests", "try again later")
	if hdr.Get("Retry-After") != "3" {
		t.Fatalf("Retry-After %q", hdr.Get("Retry-After"))
	}
	if status, _, _ = f.call(admin, "GET", "/v1.0/applications", nil); status != 200 {
		t.Fatal(status)
	}
	reqs := f.e.GraphRequests()
	writes := 0
	for _, r := range reqs {
		if r.Write() {
			writes++
		}
	}
	if len(reqs) != 7 || writes != 3 || reqs[len(reqs)-2].Status != 429 {
		t.Fatalf("request log %v", reqs)
	}
}
