package ssotoken

import (
	"context"
	"encoding/json"
	"github.com/tamlink/tamlink/internal/shareddata"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The real Microsoft-issued token and key sets live outside the repository
// (shared test data, read in place; see internal/shareddata).
var realDir, _ = shareddata.Path("real-aad-tokens")

type realData struct {
	raw    string
	jwksV2 []byte
	jwksV1 []byte
	exp    time.Time
	inside time.Time // a clock inside the validity window
	before time.Time // before nbf
	index  struct {
		File           string    `json:"file"`
		JWKS           string    `json:"jwks"`
		Kid            string    `json:"kid"`
		Aud            string    `json:"aud"`
		Tid            string    `json:"tid"`
		Iss            string    `json:"iss"`
		Scp            string    `json:"scp"`
		AzpOrAppid     string    `json:"azp_or_appid"`
		Exp            int64     `json:"exp"`
		Nbf            int64     `json:"nbf"`
		ValidWindowUTC [2]string `json:"valid_window_utc"`
	}
}

const (
	realTenant = "966ac572-f5b7-4bbe-aa88-c76419c0f851"
	realApp    = "bff62dcb-88dc-4a13-9e26-1cbffb96ec64"
	realOID    = "799a132a-93c8-427e-92f7-08cb220c879a"
	realName   = "F_Z993298 E_Z993298"
	realKid    = "MGLqj98VNLoXaFfpJCBpgB4JaKs"
)

func loadReal(t testing.TB) *realData {
	t.Helper()
	shareddata.Dir(t, "real-aad-tokens")
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(realDir, name))
		if err != nil {
			abs, _ := filepath.Abs(realDir)
			t.Fatalf("real Entra token test data missing: %v (expected in %s, i.e. /work/shared/data/real-aad-tokens)", err, abs)
		}
		return b
	}
	d := &realData{}
	var idx []json.RawMessage
	if err := json.Unmarshal(read("tokens-index.json"), &idx); err != nil || len(idx) == 0 {
		t.Fatalf("tokens-index.json: %v (%d entries)", err, len(idx))
	}
	if err := json.Unmarshal(idx[0], &d.index); err != nil {
		t.Fatalf("tokens-index.json[0]: %v", err)
	}
	d.raw = strings.TrimSpace(string(read(d.index.File)))
	d.jwksV2 = read(d.index.JWKS)
	d.jwksV1 = read("jwks-common-v1-snapshot-2024-07-22.json")
	from, err1 := time.Parse(time.RFC3339, d.index.ValidWindowUTC[0])
	to, err2 := time.Parse(time.RFC3339, d.index.ValidWindowUTC[1])
	if err1 != nil || err2 != nil {
		t.Fatalf("valid_window_utc: %v %v", err1, err2)
	}
	d.inside = from.Add(to.Sub(from) / 2)
	d.exp = time.Unix(d.index.Exp, 0).UTC()
	d.before = time.Unix(d.index.Nbf, 0).Add(-time.Hour)
	return d
}

func realExpect() Expect {
	return Expect{TenantID: realTenant, AppID: realApp, Scope: "defaultaccess"}
}

func realVerifier(t testing.TB, d *realData, jwks []byte, now time.Time, login string) *Verifier {
	t.Helper()
	if login == "" {
		login = "https://login.microsoftonline.com"
	}
	v, err := NewWithKeySet(Config{LoginURL: login, Now: func() time.Time { return now }}, jwks)
	if err != nil {
		t.Fatalf("NewWithKeySet: %v", err)
	}
	return v
}

func TestRealTokenAccepted(t *testing.T) {
	d := loadReal(t)
	if d.index.Tid != realTenant || d.index.Aud != realApp || d.index.Kid != realKid {
		t.Fatalf("tokens-index.json does not describe the token these tests expect: %+v", d.index)
	}
	v := realVerifier(t, d, d.jwksV2, d.inside, "")
	id, err := v.Verify(context.Background(), d.raw, realExpect())
	if err != nil {
		t.Fatalf("real token refused: %v", err)
	}
	want := Identity{
		TenantID:          realTenant,
		ObjectID:          realOID,
		Subject:           "QDOyOS0HF4cRVQN7Gb_vIW-CWu2vIPJ_nb_ypFRBm_o",
		Name:              realName,
		PreferredUsername: "F_Z993298.E_Z993298@trygdeetaten.no",
		Version:           "2.0",
		Issuer:            d.index.Iss,
		Audience:          realApp,
		AuthorizedParty:   d.index.AzpOrAppid,
		Scopes:            []string{"defaultaccess"},
		IssuedAt:          time.Unix(1719560932, 0).UTC(),
		NotBefore:         time.Unix(d.index.Nbf, 0).UTC(),
		ExpiresAt:         d.exp,
	}
	if !identityEqual(*id, want) {
		t.Fatalf("identity\n got %+v\nwant %+v", *id, want)
	}
	keys, err := parseJWKS(d.jwksV2)
	if err != nil {
		t.Fatal(err)
	}
	verifiesWithGolangJWT(t, d.raw, keys[realKid].pub)
}

func identityEqual(a, b Identity) bool {
	return slices.Equal(a.Scopes, b.Scopes) && reflect.DeepEqual(a, b)
}

// flipPayloadByte re-encodes the token with one payload byte changed, keeping
// the header and signature.
func editPayload(t testing.TB, raw string, edit func([]byte)) string {
	parts := strings.Split(raw, ".")
	p, err := stdB64.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	edit(p)
	parts[1] = b64url(p)
	return strings.Join(parts, ".")
}

func TestRealTokenRefusals(t *testing.T) {
	d := loadReal(t)
	parts := strings.Split(d.raw, ".")

	// One bit of the signature flipped (re-encoded, so base64 stays canonical).
	sig, err := stdB64.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	sig[len(sig)/2] ^= 0x01
	badSig := parts[0] + "." + parts[1] + "." + b64url(sig)

	// A payload byte inside the name value changed: the JSON stays valid, so
	// the token parses and the signature check refuses it.
	badName := editPayload(t, d.raw, func(p []byte) {
		i := strings.Index(string(p), realName)
		p[i] = 'G'
	})
	// The opening '{' of the payload changed: the JSON breaks, so the token is
	// refused as malformed before any signature check.
	badJSON := editPayload(t, d.raw, func(p []byte) { p[0] = '[' })
	// A base64 character of the payload segment changed in place, inside the
	// aio value: the decoded JSON stays valid (checked), so it is a signature
	// failure too.
	pl, _ := stdB64.DecodeString(parts[1])
	ci := (strings.Index(string(pl), `"aio":"`)+12)*4/3 + 1
	mid := len(parts[0]) + 1 + ci
	badChar := d.raw[:mid] + string(otherB64(d.raw[mid])) + d.raw[mid+1:]
	if p, err := stdB64.DecodeString(strings.Split(badChar, ".")[1]); err != nil || !json.Valid(p) || string(p) == string(pl) {
		t.Fatalf("test setup: payload char edit must keep valid JSON and change it (err %v)", err)
	}

	// The key set with the token's key carrying the personal-account
	// (exact, non-template) issuer instead of the {tenantid} template.
	var doc map[string][]map[string]any
	if err := json.Unmarshal(d.jwksV2, &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range doc["keys"] {
		if k["kid"] == realKid {
			k["issuer"] = "https://login.microsoftonline.com/" + PersonalAccountsTenant + "/v2.0"
		}
	}
	msaIssuerSet := mustJSON(doc)
	var noKey map[string][]map[string]any
	_ = json.Unmarshal(d.jwksV2, &noKey)
	noKey["keys"] = slices.DeleteFunc(noKey["keys"], func(k map[string]any) bool { return k["kid"] == realKid })

	expect := realExpect
	tests := []struct {
		name   string
		raw    string
		jwks   []byte
		now    time.Time
		login  string
		want   Expect
		reason Reason
	}{
		{name: "accepted", want: expect()},
		{name: "v1 snapshot key without issuer property", jwks: d.jwksV1, want: expect()},
		{name: "scope access_as_user", want: Expect{TenantID: realTenant, AppID: realApp, Scope: "access_as_user"}, reason: ReasonScope},
		{name: "default scope", want: Expect{TenantID: realTenant, AppID: realApp}, reason: ReasonScope},
		{name: "other app id", want: Expect{TenantID: realTenant, AppID: appID, Scope: "defaultaccess"}, reason: ReasonAudience},
		{name: "app id uri only", want: Expect{TenantID: realTenant, AppIDURIs: []string{"api://x.example/" + realApp}, Scope: "defaultaccess"}, reason: ReasonAudience},
		{name: "app id uri listed besides guid", want: Expect{TenantID: realTenant, AppID: realApp, AppIDURIs: []string{"api://x.example/" + realApp}, Scope: "defaultaccess"}},
		{name: "other tenant", want: Expect{TenantID: tenant, AppID: realApp, Scope: "defaultaccess"}, reason: ReasonTenant},
		{name: "flipped signature bit", raw: badSig, want: expect(), reason: ReasonSignature},
		{name: "payload byte in name", raw: badName, want: expect(), reason: ReasonSignature},
		{name: "payload base64 char", raw: badChar, want: expect(), reason: ReasonSignature},
		{name: "payload JSON broken", raw: badJSON, want: expect(), reason: ReasonMalformed},
		{name: "after exp", now: d.exp.Add(time.Hour), want: expect(), reason: ReasonExpired},
		{name: "at exp within leeway", now: d.exp.Add(time.Minute), want: expect()},
		{name: "just past leeway", now: d.exp.Add(2*time.Minute + time.Second), want: expect(), reason: ReasonExpired},
		{name: "before nbf", now: d.before, want: expect(), reason: ReasonNotYetValid},
		{name: "emulator login url", login: "http://127.0.0.1:8080/emulator/login", want: expect(), reason: ReasonIssuer},
		{name: "key issuer property mismatch", jwks: msaIssuerSet, want: expect(), reason: ReasonIssuer},
		{name: "kid not in set", jwks: mustJSON(noKey), want: expect(), reason: ReasonUnknownKID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw, jwks, now := tc.raw, tc.jwks, tc.now
			if raw == "" {
				raw = d.raw
			}
			if jwks == nil {
				jwks = d.jwksV2
			}
			if now.IsZero() {
				now = d.inside
			}
			v := realVerifier(t, d, jwks, now, tc.login)
			id, err := v.Verify(context.Background(), raw, tc.want)
			checkReason(t, err, tc.reason)
			if err == nil && (id.ObjectID != realOID || id.Name != realName) {
				t.Fatalf("identity %+v", id)
			}
		})
	}
}

// otherB64 returns a different base64url character.
func otherB64(c byte) byte {
	if c == 'A' {
		return 'B'
	}
	return 'A'
}

func TestRealTokenDecode(t *testing.T) {
	d := loadReal(t)
	h, c, err := Decode(d.raw)
	if err != nil {
		t.Fatal(err)
	}
	if h["kid"] != realKid || h["alg"] != "RS256" {
		t.Fatalf("header %v", h)
	}
	if c["oid"] != realOID || c["tid"] != realTenant || c["scp"] != "defaultaccess" {
		t.Fatalf("claims %v", c)
	}
	if n, ok := c["exp"].(json.Number); !ok || n.String() != "1719566541" {
		t.Fatalf("exp %#v, want json.Number 1719566541", c["exp"])
	}
}

// TestClaimsMatchGolangJWT checks the hot-path claims reader against
// golang-jwt's own decoding of the real token.
func TestClaimsMatchGolangJWT(t *testing.T) {
	d := loadReal(t)
	_, m, err := Decode(d.raw)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := stdB64.DecodeString(strings.Split(d.raw, ".")[1])
	var c claims
	if err := parseClaims(string(p), &c); err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string]string{
		"aud": c.aud, "iss": c.iss, "sub": c.sub, "oid": c.oid, "tid": c.tid, "ver": c.ver, "scp": c.scp,
		"azp": c.azp, "name": c.name, "preferred_username": c.preferredUsername,
	} {
		if m[name] != got {
			t.Errorf("%s: reader %q, golang-jwt %v", name, got, m[name])
		}
	}
	for name, got := range map[string]int64{"exp": c.exp, "nbf": c.nbf, "iat": c.iat} {
		if m[name].(json.Number).String() != strconv.FormatInt(got, 10) {
			t.Errorf("%s: reader %d, golang-jwt %v", name, got, m[name])
		}
	}
}
