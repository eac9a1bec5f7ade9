package ssotoken

// Fuzz targets on the verifier (issue 3, point 4). With FuzzVerify,
// FuzzParseClaims (claims_test.go) and FuzzDecodeB64 (b64_test.go) they are
// run for a bounded time by scripts/test:
//
//	go test -run '^$' -fuzz '^FuzzVerifyDifferential$' -fuzztime 15s ./internal/ssotoken
//
// FuzzVerifyDifferential mutates whole tokens (seeds: every catalogue token
// and the real Entra token). Mutated tokens almost never carry a valid
// signature, so FuzzVerifyResigned mutates the header and payload JSON
// instead and signs what it gets, so that the claim checks — and the
// differential check against golang-jwt — see accepted tokens too.

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// fuzzVerifier is one verifier with its expectation, clock and keys.
type fuzzVerifier struct {
	name  string
	v     *Verifier
	want  Expect
	now   time.Time
	login string
	keys  map[string]*rsa.PublicKey
}

// fuzzVerifiers returns a verifier trusting the catalogue's keys (k0, k1
// and the emulator's, whose issuer property is the {tenantid} template) and,
// when the shared data is present, one trusting the real Entra v2 key set at
// a clock inside the real token's validity.
func fuzzVerifiers(tb testing.TB, rd *realData) []*fuzzVerifier {
	emuJWK := emulatorJWK(DefaultLoginURL)
	set := jwksJSON(jwk{kid: "k0", key: testKey(0)}, jwk{kid: "k1", key: testKey(1)}, emuJWK)
	v, err := NewWithKeySet(Config{LoginURL: DefaultLoginURL, STSURL: stsURL, Now: func() time.Time { return testStart }}, set)
	if err != nil {
		tb.Fatal(err)
	}
	out := []*fuzzVerifier{{
		name: "catalogue keys", v: v, want: defaultExpect(), now: testStart, login: DefaultLoginURL,
		keys: map[string]*rsa.PublicKey{"k0": &testKey(0).PublicKey, "k1": &testKey(1).PublicKey, emuJWK.kid: &testKey(2).PublicKey},
	}}
	if rd != nil {
		rv, err := NewWithKeySet(Config{Now: func() time.Time { return rd.inside }}, rd.jwksV2)
		if err != nil {
			tb.Fatal(err)
		}
		keys, err := parseJWKS(rd.jwksV2)
		if err != nil {
			tb.Fatal(err)
		}
		pubs := map[string]*rsa.PublicKey{}
		for kid, k := range keys {
			pubs[kid] = k.pub
		}
		out = append(out, &fuzzVerifier{name: "real Entra keys", v: rv, want: realExpect(), now: rd.inside, login: DefaultLoginURL, keys: pubs})
	}
	return out
}

// catalogueTokens are the catalogue's tokens, built for the fuzz verifiers
// (public-cloud login, testStart), and the real token.
func catalogueTokens(rd *realData) []string {
	c := &catCtx{login: DefaultLoginURL, now: testStart, real: rd}
	var out []string
	for _, row := range catalogue() {
		if row.real && rd == nil {
			continue
		}
		out = append(out, row.token(c))
	}
	if rd != nil {
		out = append(out, rd.raw)
	}
	return out
}

// check verifies raw and asserts the invariants: a refusal is an *Error (not
// wrapped, not another type) with a known Reason that a static key set can
// produce; an acceptance is confirmed by golang-jwt (RS256 only, the same key,
// the same clock and leeway) and by the acceptance rules re-applied to
// golang-jwt's decoding of the claims.
func (fv *fuzzVerifier) check(t *testing.T, raw string) (*Identity, *Error) {
	t.Helper()
	id, err := fv.v.Verify(context.Background(), raw, fv.want)
	if err != nil {
		e, ok := err.(*Error)
		if !ok {
			t.Fatalf("%s: error %v is a %T, not an *Error", fv.name, err, err)
		}
		if !knownReasons[e.Reason] || e.Reason == ReasonConfig || e.Reason == ReasonKeysUnavailable {
			t.Fatalf("%s: reason %q cannot come from a token checked against a static key set: %v", fv.name, e.Reason, err)
		}
		if !strings.HasPrefix(e.Error(), "ssotoken: "+string(e.Reason)+": ") {
			t.Fatalf("%s: Error() = %q", fv.name, e.Error())
		}
		return nil, e
	}
	fv.differential(t, raw, id)
	return id, nil
}

func (fv *fuzzVerifier) differential(t *testing.T, raw string, id *Identity) {
	t.Helper()
	const leeway = 2 * time.Minute // the verifier's default
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodRS256.Alg()}),
		jwt.WithTimeFunc(func() time.Time { return fv.now }),
		jwt.WithLeeway(leeway),
		jwt.WithIssuedAt(),
		jwt.WithExpirationRequired(),
	)
	mc := jwt.MapClaims{}
	_, err := p.ParseWithClaims(raw, mc, func(tk *jwt.Token) (any, error) {
		kid, _ := tk.Header["kid"].(string)
		if k := fv.keys[kid]; k != nil {
			return k, nil
		}
		return nil, fmt.Errorf("no key %q", kid)
	})
	if err != nil {
		t.Fatalf("%s: Verify accepted %q, golang-jwt (RS256 only, same key) refuses it: %v", fv.name, raw, err)
	}

	str := func(name string) string { s, _ := mc[name].(string); return s }
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%s: accepted %q, but golang-jwt's claims disagree: %s\nidentity %+v\nclaims %v", fv.name, raw, fmt.Sprintf(format, args...), id, mc)
	}
	tid, ver := str("tid"), str("ver")
	if tid != id.TenantID || !strings.EqualFold(tid, fv.want.TenantID) {
		fail("tid %q", tid)
	}
	var iss string
	switch ver {
	case "2.0":
		iss = fv.login + "/" + tid + "/v2.0"
	case "1.0":
		iss = stsURL + "/" + tid + "/"
	default:
		fail("ver %q", ver)
	}
	if ver != id.Version || str("iss") != iss || id.Issuer != iss {
		fail("iss %q, want %q", str("iss"), iss)
	}
	var aud string
	switch a := mc["aud"].(type) {
	case string:
		aud = a
	case []any:
		if len(a) != 1 {
			fail("aud %v", a)
		}
		aud, _ = a[0].(string)
	default:
		fail("aud %v", a)
	}
	if aud != id.Audience || !(fv.want.AppID != "" && strings.EqualFold(aud, fv.want.AppID) || slices.Contains(fv.want.AppIDURIs, aud)) {
		fail("aud %q", aud)
	}
	scope := fv.want.Scope
	if scope == "" {
		scope = DefaultScope
	}
	scopes := strings.Fields(str("scp"))
	if !slices.Equal(scopes, id.Scopes) || !slices.Contains(scopes, scope) {
		fail("scp %q", str("scp"))
	}
	if str("oid") == "" || str("oid") != id.ObjectID {
		fail("oid %q", str("oid"))
	}
	for name, got := range map[string]string{"sub": id.Subject, "name": id.Name, "upn": id.UPN, "idp": id.IdentityProvider} {
		if str(name) != got {
			fail("%s %q, identity %q", name, str(name), got)
		}
	}
	wantPU, wantAzp := str("preferred_username"), str("azp")
	if ver == "1.0" {
		if wantPU == "" {
			wantPU = str("unique_name")
		}
		if wantAzp == "" {
			wantAzp = str("appid")
		}
	}
	if wantPU != id.PreferredUsername || wantAzp != id.AuthorizedParty {
		fail("preferred_username/azp %q/%q", wantPU, wantAzp)
	}
	dates := []struct {
		name string
		get  func() (*jwt.NumericDate, error)
		got  time.Time
	}{{"exp", mc.GetExpirationTime, id.ExpiresAt}, {"nbf", mc.GetNotBefore, id.NotBefore}, {"iat", mc.GetIssuedAt, id.IssuedAt}}
	for _, d := range dates {
		nd, err := d.get()
		switch {
		case err != nil:
			fail("%s: %v", d.name, err)
		case nd == nil: // absent, or 0, which golang-jwt treats as absent
			if !d.got.IsZero() && d.got.Unix() != 0 {
				fail("%s absent, identity %v", d.name, d.got)
			}
		case nd.Unix() != d.got.Unix():
			fail("%s %v, identity %v", d.name, nd.Time, d.got)
		}
	}
}

// FuzzVerifyDifferential: whatever the token, Verify does not panic, refuses
// with an *Error of a known Reason, or accepts a token golang-jwt accepts too.
func FuzzVerifyDifferential(f *testing.F) {
	rd := realIfPresent(f)
	fvs := fuzzVerifiers(f, rd)
	for _, raw := range catalogueTokens(rd) {
		f.Add(raw)
	}
	f.Add(".")
	f.Add("..")
	f.Add("e30.e30.")
	f.Fuzz(func(t *testing.T, raw string) {
		for _, fv := range fvs {
			fv.check(t, raw)
		}
	})
}

// FuzzVerifyResigned signs the fuzzed header and payload texts (RS256, with
// the catalogue key the header names) whenever the signature could matter, so
// that mutated claims reach every check after the signature.
func FuzzVerifyResigned(f *testing.F) {
	rd := realIfPresent(f)
	fv := fuzzVerifiers(f, nil)[0]
	lax := base64.RawURLEncoding
	for _, raw := range catalogueTokens(rd) {
		p := strings.Split(raw, ".")
		if len(p) != 3 {
			continue
		}
		h, err1 := lax.DecodeString(strings.TrimRight(p[0], "="))
		c, err2 := lax.DecodeString(strings.TrimRight(p[1], "="))
		if err1 == nil && err2 == nil {
			f.Add(string(h), string(c))
		}
	}
	f.Fuzz(func(t *testing.T, hdr, payload string) {
		in := b64url([]byte(hdr)) + "." + b64url([]byte(payload))
		// Without a header and payload the reader accepts, RS256 and a kid,
		// the verifier must refuse before the signature matters: a junk one
		// is enough, and saves an RSA signature.
		var h header
		var c claims
		herr := parseHeader(hdr, &h)
		cerr := parseClaims(payload, &c)
		key := catKey(h.kid)
		if fv.keys[h.kid] == nil {
			key = nil
		}
		sig := "AA"
		if herr == nil && cerr == nil && h.alg == "RS256" && !h.crit && key != nil && len(in) < MaxTokenSize {
			sig = b64url(mustSign(key, []byte(in)))
		}
		raw := in + "." + sig
		_, e := fv.check(t, raw)

		var want Reason // the reason forced by what the reader says; "" = any
		switch {
		case len(raw) > MaxTokenSize:
			want = ReasonOversized
		case herr != nil:
			want = ReasonMalformed
		case h.alg != "RS256":
			want = ReasonAlgorithm
		case h.crit:
			want = ReasonCrit
		case h.kid == "", cerr != nil:
			want = ReasonMalformed
		}
		if want != "" && (e == nil || e.Reason != want) {
			t.Fatalf("header %q payload %q: got %v, want reason %q", hdr, payload, e, want)
		}
	})
}

// TestFuzzSeedsReachAcceptance keeps the differential check from being
// vacuous: the seed corpus must hold tokens the fuzz verifiers accept.
func TestFuzzSeedsReachAcceptance(t *testing.T) {
	rd := realIfPresent(t)
	for i, fv := range fuzzVerifiers(t, rd) {
		n := 0
		for _, raw := range catalogueTokens(rd) {
			if id, _ := fv.check(t, raw); id != nil {
				n++
			}
		}
		if min := []int{15, 1}[i]; n < min {
			t.Errorf("%s: %d seed tokens accepted, want at least %d", fv.name, n, min)
		}
	}
}
