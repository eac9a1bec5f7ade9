package emulator

import (
	"context"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/tamlink/tamlink/internal/shareddata"
)

// sharedData reads a file of the real Entra snapshots, read in place
// (see internal/shareddata).
func sharedData(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(shareddata.Dir(t, "real-aad-tokens"), name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (f *fixture) getJSON(u string) (int, map[string]any) {
	f.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return f.do(req)
}

func TestDiscoveryDocumentsMirrorRealSnapshots(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		snapshot, path string
	}{
		{"openid-configuration-common-v2-snapshot-2024.json", "/v2.0/.well-known/openid-configuration"},
		{"openid-configuration-common-v1-snapshot-2024.json", "/.well-known/openid-configuration"},
	} {
		var real map[string]any
		must(t, json.Unmarshal(sharedData(t, tc.snapshot), &real))
		for _, tenant := range []string{"common", "organizations", contosoID, "contoso.onmicrosoft.com"} {
			status, doc := f.getJSON(f.e.LoginURL() + "/" + tenant + tc.path)
			if status != 200 {
				t.Fatalf("%s %s: %d", tenant, tc.path, status)
			}
			if got, want := sortedKeys(doc), sortedKeys(real); !reflect.DeepEqual(got, want) {
				t.Errorf("%s %s keys\n got %v\nwant %v", tenant, tc.path, got, want)
			}
			// Lists that describe the protocol are Microsoft's values.
			for _, k := range []string{"token_endpoint_auth_methods_supported", "response_modes_supported", "subject_types_supported",
				"id_token_signing_alg_values_supported", "response_types_supported", "scopes_supported", "claims_supported"} {
				if !reflect.DeepEqual(doc[k], real[k]) {
					t.Errorf("%s %s: %s = %v, want %v", tenant, tc.path, k, doc[k], real[k])
				}
			}
		}
	}

	// Issuers and endpoints point at the emulator.
	_, v2 := f.getJSON(f.e.LoginURL() + "/common/v2.0/.well-known/openid-configuration")
	if v2["issuer"] != f.e.LoginURL()+"/{tenantid}/v2.0" || v2["jwks_uri"] != f.e.LoginURL()+"/common/discovery/v2.0/keys" ||
		v2["token_endpoint"] != f.e.LoginURL()+"/common/oauth2/v2.0/token" || v2["tenant_region_scope"] != nil {
		t.Errorf("common v2 %v", v2)
	}
	_, v2 = f.getJSON(f.e.LoginURL() + "/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration")
	if v2["issuer"] != f.e.LoginURL()+"/"+contosoID+"/v2.0" || v2["authorization_endpoint"] != f.authority()+"/oauth2/v2.0/authorize" ||
		v2["userinfo_endpoint"] != f.e.GraphURL()+"/oidc/userinfo" {
		t.Errorf("tenant v2 (by domain) %v", v2)
	}
	_, v1 := f.getJSON(f.e.LoginURL() + "/common/.well-known/openid-configuration")
	if v1["issuer"] != f.e.STSURL()+"/{tenantid}/" || v1["jwks_uri"] != f.e.LoginURL()+"/common/discovery/keys" {
		t.Errorf("common v1 %v", v1)
	}
	_, v1 = f.getJSON(f.authority() + "/.well-known/openid-configuration")
	if v1["issuer"] != f.e.STSURL()+"/"+contosoID+"/" {
		t.Errorf("tenant v1 issuer %v", v1["issuer"])
	}
}

func TestDiscoveryUnknownTenant(t *testing.T) {
	f := newFixture(t)
	for _, p := range []string{"/v2.0/.well-known/openid-configuration", "/.well-known/openid-configuration", "/discovery/v2.0/keys", "/discovery/keys"} {
		status, body := f.getJSON(f.e.LoginURL() + "/00000000-0000-4000-8000-000000000000" + p)
		assertAADError(t, status, body, 400, "invalid_tenant", 90002)
	}
}

func TestJWKSShapeAndRotation(t *testing.T) {
	f := newFixture(t)
	var realV2, realV1 struct{ Keys []map[string]any }
	must(t, json.Unmarshal(sharedData(t, "jwks-common-v2-snapshot-2024-07-22.json"), &realV2))
	must(t, json.Unmarshal(sharedData(t, "jwks-common-v1-snapshot-2024-07-22.json"), &realV1))

	keys := func(path string) []map[string]any {
		t.Helper()
		status, body := f.getJSON(f.e.LoginURL() + path)
		if status != 200 {
			t.Fatalf("%s: %d", path, status)
		}
		var out []map[string]any
		for _, k := range body["keys"].([]any) {
			out = append(out, k.(map[string]any))
		}
		return out
	}
	check := func(path string, real map[string]any, issuer any) []map[string]any {
		t.Helper()
		ks := keys(path)
		for _, k := range ks {
			if !reflect.DeepEqual(sortedKeys(k), sortedKeys(real)) {
				t.Errorf("%s key fields %v, want %v", path, sortedKeys(k), sortedKeys(real))
			}
			if k["kty"] != "RSA" || k["use"] != "sig" || k["kid"] != k["x5t"] || k["e"] != "AQAB" || k["issuer"] != issuer {
				t.Errorf("%s key %v", path, k)
			}
			der, err := base64.StdEncoding.DecodeString(k["x5c"].([]any)[0].(string))
			must(t, err)
			cert, err := x509.ParseCertificate(der)
			must(t, err)
			sum := sha1.Sum(der)
			if k["x5t"] != base64.RawURLEncoding.EncodeToString(sum[:]) {
				t.Errorf("x5t is not the certificate thumbprint")
			}
			n, _ := base64.RawURLEncoding.DecodeString(k["n"].(string))
			pub := cert.PublicKey.(*rsa.PublicKey)
			if pub.N.Cmp(new(big.Int).SetBytes(n)) != 0 || pub.N.BitLen() != 2048 {
				t.Errorf("n does not match the certificate / is not 2048-bit")
			}
		}
		return ks
	}
	tmpl := f.e.LoginURL() + "/{tenantid}/v2.0"
	if ks := check("/common/discovery/v2.0/keys", realV2.Keys[0], tmpl); len(ks) != 1 {
		t.Fatalf("%d keys", len(ks))
	}
	check("/"+contosoID+"/discovery/v2.0/keys", realV2.Keys[0], tmpl)
	check("/common/discovery/keys", realV1.Keys[0], nil)
	check("/"+contosoID+"/discovery/keys", realV1.Keys[0], nil)

	// Rotation: both keys published, new tokens signed by the new key,
	// old tokens still accepted until the old key is removed.
	oldKid := f.e.ActiveKeyID()
	oldTok := f.graphToken(t)
	newKid := f.e.RotateSigningKey()
	if newKid == oldKid {
		t.Fatal("rotation kept the kid")
	}
	ks := check("/common/discovery/v2.0/keys", realV2.Keys[0], tmpl)
	if len(ks) != 2 || ks[0]["kid"] != newKid || ks[1]["kid"] != oldKid {
		t.Fatalf("after rotation: %v", ks)
	}
	newTok := f.graphToken(t)
	if hdr, _ := claimsOf(t, newTok); hdr["kid"] != newKid {
		t.Errorf("new token kid %v", hdr["kid"])
	}
	if status, _ := f.me(oldTok); status != 200 {
		t.Errorf("old-key token refused during rollover: %d", status)
	}
	f.e.RemoveKey(oldKid)
	if ks := keys("/common/discovery/keys"); len(ks) != 1 || ks[0]["kid"] != newKid {
		t.Fatalf("after removal: %v", ks)
	}
	if status, body := f.me(oldTok); status != 401 {
		t.Errorf("removed-key token accepted: %d %v", status, body)
	}
	if status, _ := f.me(newTok); status != 200 {
		t.Errorf("new token refused: %d", status)
	}
	// Removing the active key rotates first, so signing never stops.
	f.e.RemoveKey(newKid)
	if f.e.ActiveKeyID() == newKid || len(keys("/common/discovery/keys")) != 1 {
		t.Error("removing the active key did not rotate")
	}
}

// TestGoOIDCVerifiesAcrossRotation uses go-oidc's remote key set (go-jose's
// strict JWK parser checks x5t against x5c) to verify tokens before and
// after a rotation.
func TestGoOIDCVerifiesAcrossRotation(t *testing.T) {
	f := newFixture(t)
	ctx := oidc.ClientContext(context.Background(), f.srv.Client())
	ks := oidc.NewRemoteKeySet(ctx, f.authority()+"/discovery/v2.0/keys")
	verifier := oidc.NewVerifier(f.authority()+"/v2.0", ks, &oidc.Config{ClientID: appV2ID})
	for i := 0; i < 2; i++ {
		tok := teamsToken(t, f, appV2ID, aliceOID, TokenOptions{})
		idt, err := verifier.Verify(ctx, tok)
		if err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		if idt.Subject != pairwiseSub(aliceOID, appV2ID) {
			t.Errorf("sub %q", idt.Subject)
		}
		f.e.RotateSigningKey()
	}
}

// graphToken returns a delegated Graph token for Alice (OBO).
func (f *fixture) graphToken(t *testing.T) string {
	t.Helper()
	must(t, f.e.GrantConsent(contosoID, aliceOID, appV2ID, "User.Read"))
	status, body := f.postForm(contosoID, oboForm(appV2ID, secretV2, teamsToken(t, f, appV2ID, aliceOID, TokenOptions{}), "User.Read"), nil)
	if status != 200 {
		t.Fatalf("OBO: %d %v", status, body)
	}
	return body["access_token"].(string)
}

func (f *fixture) me(token string) (int, map[string]any) {
	f.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, f.e.GraphURL()+"/v1.0/me", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return f.do(req)
}
