package emulator

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestTeamsTokenV2Claims(t *testing.T) {
	f := newFixture(t)
	before := time.Now()
	tok := teamsToken(t, f, appV2ID, aliceOID, TokenOptions{})
	hdr, c := claimsOf(t, tok)
	if hdr["alg"] != "RS256" || hdr["typ"] != "JWT" || hdr["kid"] != f.e.ActiveKeyID() {
		t.Errorf("header %v", hdr)
	}
	if _, ok := hdr["x5t"]; ok {
		t.Error("v2 tokens carry no x5t header")
	}
	want := map[string]any{
		"ver": "2.0", "iss": f.e.LoginURL() + "/" + contosoID + "/v2.0", "aud": appV2ID, "tid": contosoID,
		"oid": aliceOID, "sub": pairwiseSub(aliceOID, appV2ID), "scp": "access_as_user", "azp": TeamsWebClientID,
		"azpacr": "0", "name": "Alice Smith", "preferred_username": "alice@contoso.onmicrosoft.com",
	}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("%s = %v, want %v", k, c[k], v)
		}
	}
	for _, k := range []string{"appid", "appidacr", "upn", "unique_name", "amr", "idp"} {
		if _, ok := c[k]; ok {
			t.Errorf("v2 member token has v1-only/guest claim %s", k)
		}
	}
	for _, k := range []string{"uti", "aio", "rh"} {
		if s, _ := c[k].(string); s == "" {
			t.Errorf("missing opaque claim %s", k)
		}
	}
	assertLifetime(t, c, before)
	// It verifies against the emulator's own keys (what tamlink will do via JWKS).
	if _, err := f.e.parseOwnToken(tok); err != nil {
		t.Fatal(err)
	}
}

func assertLifetime(t *testing.T, c map[string]any, before time.Time) {
	t.Helper()
	iat, nbf, exp := int64(c["iat"].(float64)), int64(c["nbf"].(float64)), int64(c["exp"].(float64))
	if iat != nbf || iat > before.Unix() {
		t.Errorf("iat %d nbf %d should be equal and back-dated", iat, nbf)
	}
	life := time.Duration(exp-time.Now().Unix()) * time.Second
	if life < 59*time.Minute || life > 90*time.Minute {
		t.Errorf("lifetime %v outside 60–90 min", life)
	}
}

func TestTeamsTokenV1Claims(t *testing.T) {
	f := newFixture(t)
	before := time.Now()
	tok := teamsToken(t, f, appV1ID, aliceOID, TokenOptions{ClientID: TeamsDesktopClientID})
	hdr, c := claimsOf(t, tok)
	if hdr["x5t"] != hdr["kid"] || hdr["kid"] != f.e.ActiveKeyID() {
		t.Errorf("v1 header %v: x5t must equal kid", hdr)
	}
	want := map[string]any{
		"ver": "1.0", "iss": f.e.STSURL() + "/" + contosoID + "/", "aud": identifierFor(appV1ID), "tid": contosoID,
		"oid": aliceOID, "scp": "access_as_user", "appid": TeamsDesktopClientID, "appidacr": "0",
		"upn": "alice@contoso.onmicrosoft.com", "unique_name": "alice@contoso.onmicrosoft.com",
		"given_name": "Alice", "family_name": "Smith", "name": "Alice Smith", "acr": "1",
	}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("%s = %v, want %v", k, c[k], v)
		}
	}
	for _, k := range []string{"azp", "azpacr", "preferred_username"} {
		if _, ok := c[k]; ok {
			t.Errorf("v1 token has v2-only claim %s", k)
		}
	}
	if amr, _ := c["amr"].([]any); len(amr) != 1 || amr[0] != "pwd" {
		t.Errorf("amr %v", c["amr"])
	}
	assertLifetime(t, c, before)
}

func TestTeamsTokenGuest(t *testing.T) {
	f := newFixture(t)
	_, c := claimsOf(t, teamsToken(t, f, appV2ID, bobOID, TokenOptions{}))
	if c["tid"] != contosoID || c["idp"] != f.e.STSURL()+"/"+fabrikamID+"/" || c["preferred_username"] != "bob@fabrikam.com" {
		t.Errorf("guest v2 claims %v", c)
	}
	_, c = claimsOf(t, teamsToken(t, f, appV1ID, bobOID, TokenOptions{}))
	if _, ok := c["upn"]; ok || c["unique_name"] != "bob@fabrikam.com" || c["email"] != "bob@fabrikam.com" {
		t.Errorf("guest v1 claims %v", c)
	}
}

func TestTeamsTokenOptions(t *testing.T) {
	f := newFixture(t)
	tok := teamsToken(t, f, appV2ID, aliceOID, TokenOptions{
		Lifetime:    2 * time.Minute,
		ExtraClaims: map[string]any{"name": nil, "custom": "x", "scp": "access_as_user extra"},
	})
	_, c := claimsOf(t, tok)
	if _, ok := c["name"]; ok || c["custom"] != "x" || c["scp"] != "access_as_user extra" {
		t.Errorf("extra claims not applied: %v", c)
	}
	if exp := int64(c["exp"].(float64)); exp-time.Now().Unix() > 121 {
		t.Errorf("lifetime option ignored: exp in %ds", exp-time.Now().Unix())
	}
}

func TestTeamsTokenFailures(t *testing.T) {
	f := newFixture(t)
	must(t, f.e.AddApp(contosoID, App{AppID: "5e1f8c3a-0b4d-4e9f-a1b2-c3d4e5f60718", Scopes: []Scope{{Value: "access_as_user", Enabled: true}}}))
	must(t, f.e.AddApp(contosoID, App{AppID: "6f2a9d4b-1c5e-4fa0-b2c3-d4e5f6071829", IdentifierURIs: []string{"api://x/6f2a9d4b-1c5e-4fa0-b2c3-d4e5f6071829"}}))
	for _, tc := range []struct {
		name, tenant, user, app, client, want string
	}{
		{"unknown tenant", "99999999-9999-4999-8999-999999999999", aliceOID, appV2ID, "", TeamsErrUnknownTenant},
		{"unknown user", contosoID, "99999999-9999-4999-8999-999999999999", appV2ID, "", TeamsErrUnknownUser},
		{"unknown app", contosoID, aliceOID, "99999999-9999-4999-8999-999999999999", "", TeamsErrResourceDisabled},
		{"no App ID URI", contosoID, aliceOID, "5e1f8c3a-0b4d-4e9f-a1b2-c3d4e5f60718", "", TeamsErrResourceDisabled},
		{"no scope", contosoID, aliceOID, "6f2a9d4b-1c5e-4fa0-b2c3-d4e5f6071829", "", TeamsErrResourceDisabled},
		{"client not pre-authorized", contosoID, aliceOID, appV2ID, "4765445b-32c6-49b0-83e6-1d93765276ca", TeamsErrResourceRequiresConsent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.e.IssueTeamsToken(tc.tenant, tc.user, tc.app, TokenOptions{ClientID: tc.client})
			var te *TeamsTokenError
			if !errors.As(err, &te) || te.Code != tc.want || te.Message == "" {
				t.Fatalf("err = %v, want code %s", err, tc.want)
			}
		})
	}
}

func TestDirectoryValidation(t *testing.T) {
	f := newFixture(t)
	e := f.e
	if err := e.AddTenant(Tenant{ID: "not-a-guid"}); err == nil {
		t.Error("non-GUID tenant accepted")
	}
	if err := e.AddTenant(Tenant{ID: contosoID}); err == nil {
		t.Error("duplicate tenant accepted")
	}
	if err := e.AddUser(contosoID, User{UserPrincipalName: "alice@contoso.onmicrosoft.com"}); err == nil {
		t.Error("duplicate UPN accepted")
	}
	if err := e.AddUser(contosoID, User{}); err == nil {
		t.Error("user without UPN accepted")
	}
	if err := e.AddApp(contosoID, App{AppID: "7a3b0e5c-2d6f-4a1b-83d4-e5f607182930", AccessTokenVersion: 3}); err == nil {
		t.Error("token version 3 accepted")
	}
	if err := e.AddApp(contosoID, App{AppID: "7a3b0e5c-2d6f-4a1b-83d4-e5f607182930", IdentifierURIs: []string{identifierFor(appV2ID)}}); err == nil {
		t.Error("duplicate identifier URI accepted")
	}
	if err := e.GrantConsent(contosoID, aliceOID, appV2ID, "api://nowhere/x"); err == nil {
		t.Error("consent to an unknown resource accepted")
	}
	// Users are listed in insertion order with generated fields filled in.
	users := e.Users(contosoID)
	if len(users) != 3 || users[0].ObjectID != aliceOID || users[1].HomeTenantID != fabrikamID || users[0].HomeTenantID != contosoID {
		t.Errorf("Users = %+v", users)
	}
	must(t, e.AddUser(contosoID, User{UserPrincipalName: "dave@contoso.onmicrosoft.com", GivenName: "Dave"}))
	users = e.Users(contosoID)
	if d := users[3]; !isGUID(d.ObjectID) || d.DisplayName != "Dave" {
		t.Errorf("generated user %+v", d)
	}
	if e.Users("99999999-9999-4999-8999-999999999999") != nil {
		t.Error("unknown tenant lists users")
	}
	a, ok := e.App(contosoID, appV1ID)
	if !ok || a.AccessTokenVersion != 1 || a.Secrets[0].Hint != secretV1[:3] || a.Secrets[0].KeyID == "" {
		t.Errorf("App = %+v", a)
	}
	// Returned values are copies.
	a.RedirectURIs[0] = "changed"
	if b, _ := e.App(contosoID, appV1ID); b.RedirectURIs[0] == "changed" {
		t.Error("App returned shared state")
	}
	// Removing a user drops their consent too.
	must(t, e.GrantConsent(contosoID, carolOID, appV2ID))
	must(t, e.RemoveUser(contosoID, carolOID))
	if slices.ContainsFunc(e.Users(contosoID), func(u User) bool { return u.ObjectID == carolOID }) {
		t.Error("user not removed")
	}
}
