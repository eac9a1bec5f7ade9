package ssotoken

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// env is a verifier fetching from a test key server, with a settable clock.
type env struct {
	ks    *keyServer
	clock *clock
	v     *Verifier
}

const testRefresh = 5 * time.Minute

func newEnv(t testing.TB, cfg Config) *env {
	e := &env{ks: newKeyServer(t), clock: newClock(testStart)}
	e.ks.publish(v2Path(tenant), jwk{kid: "k0", key: testKey(0), issuer: e.ks.v2Template()})
	e.ks.publish(v1Path(tenant), jwk{kid: "k0", key: testKey(0)})
	cfg.LoginURL = e.ks.srv.URL
	cfg.STSURL = stsURL
	cfg.HTTPClient = e.ks.srv.Client()
	cfg.Now = e.clock.now
	if cfg.RefreshEvery == 0 {
		cfg.RefreshEvery = testRefresh
	}
	e.v = New(cfg)
	return e
}

func (e *env) login() string { return e.ks.srv.URL }

func (e *env) verify(raw string, want Expect) (*Identity, error) {
	return e.v.Verify(context.Background(), raw, want)
}

func hs256(secret []byte) func([]byte) []byte {
	return func(in []byte) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write(in)
		return m.Sum(nil)
	}
}

func TestGenerated(t *testing.T) {
	e := newEnv(t, Config{})
	now := testStart
	login := e.login()
	k0 := testKey(0)
	v2 := v2Claims(login, now)
	v1 := v1Claims(now)
	pubDER, _ := x509.MarshalPKIXPublicKey(&k0.PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	rsaHeader := func(alg string) map[string]any { return map[string]any{"typ": "JWT", "alg": alg, "kid": "k0"} }
	jwtSigned := func(m jwt.SigningMethod, key any, c map[string]any) string {
		tk := jwt.NewWithClaims(m, jwt.MapClaims(c))
		tk.Header["kid"] = "k0"
		s, err := tk.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	signRS := func(in []byte) []byte {
		h := sha256.Sum256(in)
		s, _ := rsa.SignPKCS1v15(nil, k0, crypto.SHA256, h[:])
		return s
	}
	otherIss := login + "/" + otherTenant + "/v2.0"

	tests := []struct {
		name   string
		raw    string
		want   func(*Expect)
		reason Reason
		check  func(t *testing.T, id *Identity)
	}{
		{name: "v2 accepted", raw: mint(k0, "k0", v2), check: func(t *testing.T, id *Identity) {
			if id.ObjectID != userOID || id.Version != "2.0" || id.Audience != appID || id.AuthorizedParty != teamsWeb ||
				id.PreferredUsername != "ada@contoso.example" || len(id.Scopes) != 1 || id.Scopes[0] != "access_as_user" ||
				!id.ExpiresAt.Equal(now.Add(time.Hour)) || id.TenantID != tenant || id.Issuer != login+"/"+tenant+"/v2.0" {
				t.Fatalf("identity %+v", id)
			}
		}},
		{name: "v1 accepted (App ID URI aud)", raw: mint(k0, "k0", v1), check: func(t *testing.T, id *Identity) {
			if id.Version != "1.0" || id.Audience != appURI || id.AuthorizedParty != teamsWeb || id.UPN != "ada@contoso.example" ||
				id.PreferredUsername != "ada@contoso.example" || id.Issuer != stsURL+"/"+tenant+"/" {
				t.Fatalf("identity %+v", id)
			}
		}},
		{name: "v1 GUID aud", raw: mint(k0, "k0", with(v1, "aud", appID))},
		{name: "aud one-element array", raw: mint(k0, "k0", with(v2, "aud", []string{appID}))},
		{name: "aud two-element array", raw: mint(k0, "k0", with(v2, "aud", []string{appID, appURI})), reason: ReasonAudience},
		{name: "aud empty array", raw: mint(k0, "k0", with(v2, "aud", []string{})), reason: ReasonAudience},
		{name: "aud missing", raw: mint(k0, "k0", with(v2, "aud", nil)), reason: ReasonAudience},
		{name: "aud Graph", raw: mint(k0, "k0", with(v2, "aud", graphAppID)), reason: ReasonAudience},
		{name: "aud Graph URL", raw: mint(k0, "k0", with(v1, "aud", "https://graph.microsoft.com")), reason: ReasonAudience},
		{name: "aud uppercase GUID", raw: mint(k0, "k0", with(v2, "aud", strings.ToUpper(appID)))},
		{name: "aud URI when only GUID expected", raw: mint(k0, "k0", v1), want: func(w *Expect) { w.AppIDURIs = nil }, reason: ReasonAudience},
		{name: "only URIs expected", raw: mint(k0, "k0", v1), want: func(w *Expect) { w.AppID = "" }},
		{name: "several scopes", raw: mint(k0, "k0", with(v2, "scp", "User.Read access_as_user openid"))},
		{name: "custom scope", raw: mint(k0, "k0", with(v2, "scp", "desk.use")), want: func(w *Expect) { w.Scope = "desk.use" }},
		{name: "scope prefix is not scope", raw: mint(k0, "k0", with(v2, "scp", "access_as_user2 access_as")), reason: ReasonScope},
		{name: "missing scp", raw: mint(k0, "k0", with(v2, "scp", nil)), reason: ReasonScope},
		{name: "scp null", raw: mint(k0, "k0", with(v2, "scp", jsonNull{})), reason: ReasonScope},
		{name: "app-only", raw: mint(k0, "k0", with(v2, "scp", nil, "roles", []string{"Desk.ReadWrite.All"}, "idtyp", "app")), reason: ReasonAppOnly},
		{name: "roles and scp (user with app roles)", raw: mint(k0, "k0", with(v2, "roles", []string{"Agent"}))},
		{name: "guest with idp", raw: mint(k0, "k0", with(v2, "idp", "https://sts.windows.net/"+otherTenant+"/")), check: func(t *testing.T, id *Identity) {
			if id.IdentityProvider != "https://sts.windows.net/"+otherTenant+"/" {
				t.Fatalf("idp %q", id.IdentityProvider)
			}
		}},
		{name: "missing oid", raw: mint(k0, "k0", with(v2, "oid", nil)), reason: ReasonMissingClaim},
		{name: "missing exp", raw: mint(k0, "k0", with(v2, "exp", nil)), reason: ReasonMissingClaim},

		{name: "wrong issuer host", raw: mint(k0, "k0", with(v2, "iss", "https://login.evil.example/"+tenant+"/v2.0")), reason: ReasonIssuer},
		{name: "issuer of other tenant, our tid", raw: mint(k0, "k0", with(v2, "iss", otherIss)), reason: ReasonIssuer},
		{name: "other tenant (tid and iss)", raw: mint(k0, "k0", with(v2, "tid", otherTenant, "iss", otherIss)), reason: ReasonTenant},
		{name: "other tid, our iss", raw: mint(k0, "k0", with(v2, "tid", otherTenant)), reason: ReasonTenant},
		{name: "tid not a GUID", raw: mint(k0, "k0", with(v2, "tid", "common", "iss", login+"/common/v2.0")), reason: ReasonTenant},
		{name: "tid missing", raw: mint(k0, "k0", with(v2, "tid", nil)), reason: ReasonTenant},
		{name: "tid uppercase of ours", raw: mint(k0, "k0", with(v2, "tid", strings.ToUpper(tenant), "iss", login+"/"+strings.ToUpper(tenant)+"/v2.0")),
			reason: ReasonTenant}, // Entra writes tids in lower case; anything else is not its token
		{name: "personal Microsoft account", raw: mint(k0, "k0", with(v2, "tid", PersonalAccountsTenant, "iss", login+"/"+PersonalAccountsTenant+"/v2.0")), reason: ReasonPersonalAccount},
		{name: "v2 token with v1 issuer", raw: mint(k0, "k0", with(v2, "iss", stsURL+"/"+tenant+"/")), reason: ReasonIssuer},
		{name: "v1 token with v2 issuer", raw: mint(k0, "k0", with(v1, "iss", login+"/"+tenant+"/v2.0")), reason: ReasonIssuer},
		{name: "v1 issuer without trailing slash", raw: mint(k0, "k0", with(v1, "iss", stsURL+"/"+tenant)), reason: ReasonIssuer},
		{name: "ver missing", raw: mint(k0, "k0", with(v2, "ver", nil)), reason: ReasonVersion},
		{name: "ver 3.0", raw: mint(k0, "k0", with(v2, "ver", "3.0")), reason: ReasonVersion},

		{name: "expired", raw: mint(k0, "k0", with(v2, "exp", now.Add(-time.Hour).Unix(), "iat", now.Add(-2*time.Hour).Unix(), "nbf", now.Add(-2*time.Hour).Unix())), reason: ReasonExpired},
		{name: "expired within leeway", raw: mint(k0, "k0", with(v2, "exp", now.Add(-time.Minute).Unix()))},
		{name: "exp exactly now minus leeway", raw: mint(k0, "k0", with(v2, "exp", now.Add(-2*time.Minute).Unix())), reason: ReasonExpired},
		{name: "nbf in future", raw: mint(k0, "k0", with(v2, "nbf", now.Add(10*time.Minute).Unix())), reason: ReasonNotYetValid},
		{name: "nbf within leeway", raw: mint(k0, "k0", with(v2, "nbf", now.Add(time.Minute).Unix()))},
		{name: "iat far in future", raw: mint(k0, "k0", with(v2, "iat", now.Add(24*time.Hour).Unix())), reason: ReasonIssuedInFuture},
		{name: "fractional dates", raw: mint(k0, "k0", with(v2, "exp", float64(now.Add(time.Hour).Unix())+0.5))},
		{name: "exp as string", raw: mint(k0, "k0", with(v2, "exp", "1719566541")), reason: ReasonMalformed},
		{name: "exp negative", raw: mint(k0, "k0", with(v2, "exp", -5)), reason: ReasonMalformed},
		{name: "tid as number", raw: mint(k0, "k0", with(v2, "tid", 42)), reason: ReasonMalformed},

		{name: "alg none", raw: mintWith(map[string]any{"typ": "JWT", "alg": "none"}, v2, func([]byte) []byte { return nil }), reason: ReasonAlgorithm},
		{name: "alg None with kid", raw: mintWith(map[string]any{"alg": "None", "kid": "k0"}, v2, func([]byte) []byte { return nil }), reason: ReasonAlgorithm},
		{name: "alg missing", raw: mintWith(map[string]any{"kid": "k0"}, v2, signRS), reason: ReasonAlgorithm},
		{name: "HS256 keyed with public key PEM", raw: mintWith(rsaHeader("HS256"), v2, hs256(pubPEM)), reason: ReasonAlgorithm},
		{name: "HS256 keyed with public key DER", raw: mintWith(rsaHeader("HS256"), v2, hs256(pubDER)), reason: ReasonAlgorithm},
		{name: "HS256 keyed with modulus", raw: mintWith(rsaHeader("HS256"), v2, hs256(k0.N.Bytes())), reason: ReasonAlgorithm},
		{name: "RS384", raw: jwtSigned(jwt.SigningMethodRS384, k0, v2), reason: ReasonAlgorithm},
		{name: "PS256", raw: jwtSigned(jwt.SigningMethodPS256, k0, v2), reason: ReasonAlgorithm},
		{name: "rs256 lowercase", raw: mintWith(rsaHeader("rs256"), v2, signRS), reason: ReasonAlgorithm},
		{name: "crit header", raw: mintWith(map[string]any{"alg": "RS256", "kid": "k0", "crit": []string{"exp"}, "exp": 1}, v2, signRS), reason: ReasonCrit},
		{name: "crit b64", raw: mintWith(map[string]any{"alg": "RS256", "kid": "k0", "crit": []string{"b64"}, "b64": false}, v2, signRS), reason: ReasonCrit},
		{name: "no kid", raw: mintWith(map[string]any{"alg": "RS256"}, v2, signRS), reason: ReasonMalformed},
		{name: "embedded jwk header ignored", raw: mintWith(map[string]any{"alg": "RS256", "kid": "evil", "jwk": map[string]any{"kty": "RSA"}}, v2, func(in []byte) []byte {
			h := sha256.Sum256(in)
			s, _ := rsa.SignPKCS1v15(nil, testKey(1), crypto.SHA256, h[:])
			return s
		}), reason: ReasonUnknownKID},
		{name: "signed by another key under our kid", raw: mint(testKey(1), "k0", v2), reason: ReasonSignature},
		{name: "empty signature", raw: strings.Join(strings.Split(mint(k0, "k0", v2), ".")[:2], ".") + ".", reason: ReasonSignature},
		{name: "duplicate tid claim", raw: dupClaim(mint(k0, "k0", v2), "tid", otherTenant, signRS), reason: ReasonMalformed},

		{name: "oversized", raw: mint(k0, "k0", with(v2, "pad", strings.Repeat("x", MaxTokenSize))), reason: ReasonOversized},
		{name: "empty", raw: "", reason: ReasonMalformed},
		{name: "garbage", raw: "not a token", reason: ReasonMalformed},
		{name: "two segments", raw: "eyJhbGciOiJSUzI1NiJ9.eyJ9", reason: ReasonMalformed},
		{name: "four segments", raw: mint(k0, "k0", v2) + ".x", reason: ReasonMalformed},
		{name: "JWE shape", raw: "a.b.c.d.e", reason: ReasonMalformed},
		{name: "bad base64 header", raw: "!!!." + strings.SplitN(mint(k0, "k0", v2), ".", 2)[1], reason: ReasonMalformed},
		{name: "padded base64", raw: padded(mint(k0, "k0", v2)), reason: ReasonMalformed},
		{name: "header not JSON", raw: b64url([]byte("hello")) + ".e30.AA", reason: ReasonMalformed},
		{name: "payload not object", raw: b64url(mustJSON(rsaHeader("RS256"))) + "." + b64url([]byte(`["x"]`)) + ".AA", reason: ReasonMalformed},
		{name: "bearer prefix", raw: "Bearer " + mint(k0, "k0", v2), reason: ReasonMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := defaultExpect()
			if tc.want != nil {
				tc.want(&want)
			}
			id, err := e.verify(tc.raw, want)
			checkReason(t, err, tc.reason)
			if err == nil && tc.check != nil {
				tc.check(t, id)
			}
			if err == nil {
				verifiesWithGolangJWT(t, tc.raw, &k0.PublicKey)
			}
		})
	}
}

type jsonNull struct{}

func (jsonNull) MarshalJSON() ([]byte, error) { return []byte("null"), nil }

// dupClaim re-signs raw with a second occurrence of claim appended.
func dupClaim(raw, claim, value string, sign func([]byte) []byte) string {
	parts := strings.Split(raw, ".")
	p, _ := stdB64.DecodeString(parts[1])
	p = append(p[:len(p)-1], []byte(`,"`+claim+`":"`+value+`"}`)...)
	in := parts[0] + "." + b64url(p)
	return in + "." + b64url(sign([]byte(in)))
}

func padded(raw string) string {
	parts := strings.Split(raw, ".")
	for i, p := range parts {
		for len(p)%4 != 0 {
			p += "="
		}
		parts[i] = p
	}
	return strings.Join(parts, ".")
}

func TestExpectValidation(t *testing.T) {
	e := newEnv(t, Config{})
	raw := mint(testKey(0), "k0", v2Claims(e.login(), testStart))
	for _, w := range []Expect{
		{},
		{TenantID: "contoso.onmicrosoft.com", AppID: appID},
		{TenantID: tenant},
		{TenantID: tenant, AppID: "api://x"},
		{TenantID: tenant, AppIDURIs: []string{""}},
		{TenantID: tenant, AppID: appID, Scope: "access_as_user openid"},
	} {
		_, err := e.verify(raw, w)
		checkReason(t, err, ReasonConfig)
	}
	if e.ks.total() != 0 {
		t.Fatalf("a bad Expect fetched keys")
	}
}

func TestUpperCaseTenantInExpect(t *testing.T) {
	e := newEnv(t, Config{})
	raw := mint(testKey(0), "k0", v2Claims(e.login(), testStart))
	w := defaultExpect()
	w.TenantID = strings.ToUpper(tenant)
	if _, err := e.verify(raw, w); err != nil {
		t.Fatal(err)
	}
	if e.ks.count(v2Path(tenant)) != 1 {
		t.Fatalf("fetches %v", e.ks.hits)
	}
}

func TestKeyPathsPerVersionAndTenant(t *testing.T) {
	e := newEnv(t, Config{})
	login := e.login()
	k0 := testKey(0)
	if _, err := e.verify(mint(k0, "k0", v2Claims(login, testStart)), defaultExpect()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.verify(mint(k0, "k0", v1Claims(testStart)), defaultExpect()); err != nil {
		t.Fatal(err)
	}
	if a, b := e.ks.count(v2Path(tenant)), e.ks.count(v1Path(tenant)); a != 1 || b != 1 {
		t.Fatalf("v2 fetches %d, v1 fetches %d; want 1 and 1", a, b)
	}
	// A token naming another tenant is checked against the channel tenant's
	// keys: no fetch for the other tenant.
	c := with(v2Claims(login, testStart), "tid", otherTenant, "iss", login+"/"+otherTenant+"/v2.0")
	_, err := e.verify(mint(k0, "k0", c), defaultExpect())
	checkReason(t, err, ReasonTenant)
	if n := e.ks.count(v2Path(otherTenant)); n != 0 {
		t.Fatalf("fetched the other tenant's keys %d times", n)
	}
}

func TestUnknownKidRefetchAndRotation(t *testing.T) {
	e := newEnv(t, Config{})
	login := e.login()
	path := v2Path(tenant)
	claims := func() map[string]any { return v2Claims(login, e.clock.now()) }

	if _, err := e.verify(mint(testKey(0), "k0", claims()), defaultExpect()); err != nil {
		t.Fatal(err)
	}
	if n := e.ks.count(path); n != 1 {
		t.Fatalf("initial fetches %d, want 1", n)
	}

	// Unknown kid: exactly one refetch, then refused.
	e.clock.add(testRefresh + time.Second)
	_, err := e.verify(mint(testKey(1), "k1", claims()), defaultExpect())
	checkReason(t, err, ReasonUnknownKID)
	if n := e.ks.count(path); n != 2 {
		t.Fatalf("fetches after unknown kid %d, want 2 (one refetch)", n)
	}
	// Rate limit: more unknown kids within RefreshEvery fetch nothing.
	e.clock.add(time.Minute)
	_, err = e.verify(mint(testKey(1), "k1", claims()), defaultExpect())
	checkReason(t, err, ReasonUnknownKID)
	_, err = e.verify(mint(testKey(2), "k2", claims()), defaultExpect())
	checkReason(t, err, ReasonUnknownKID)
	if n := e.ks.count(path); n != 2 {
		t.Fatalf("fetches within RefreshEvery %d, want still 2", n)
	}
	// The known key keeps working meanwhile, without fetches.
	if _, err := e.verify(mint(testKey(0), "k0", claims()), defaultExpect()); err != nil {
		t.Fatal(err)
	}

	// Rotation: k1 is published; once RefreshEvery has passed since the last
	// fetch, a k1 token triggers a refetch and is accepted.
	e.ks.publish(path, jwk{kid: "k0", key: testKey(0), issuer: e.ks.v2Template()}, jwk{kid: "k1", key: testKey(1), issuer: e.ks.v2Template()})
	_, err = e.verify(mint(testKey(1), "k1", claims()), defaultExpect())
	checkReason(t, err, ReasonUnknownKID) // still rate limited
	e.clock.add(testRefresh)
	if _, err := e.verify(mint(testKey(1), "k1", claims()), defaultExpect()); err != nil {
		t.Fatalf("rotated key refused: %v", err)
	}
	if n := e.ks.count(path); n != 3 {
		t.Fatalf("fetches %d, want 3", n)
	}
}

func TestRateLimitTwoUnknownKids(t *testing.T) {
	e := newEnv(t, Config{})
	login := e.login()
	// The first token ever has an unknown kid: that first fetch is the only one.
	_, err := e.verify(mint(testKey(1), "k1", v2Claims(login, testStart)), defaultExpect())
	checkReason(t, err, ReasonUnknownKID)
	e.clock.add(testRefresh - time.Second)
	_, err = e.verify(mint(testKey(2), "k2", v2Claims(login, testStart)), defaultExpect())
	checkReason(t, err, ReasonUnknownKID)
	if n := e.ks.total(); n != 1 {
		t.Fatalf("fetches %d, want 1", n)
	}
}

func TestConcurrentFetchesCoalesce(t *testing.T) {
	e := newEnv(t, Config{})
	e.ks.delay = 50 * time.Millisecond
	login := e.login()
	good := mint(testKey(0), "k0", v2Claims(login, testStart))
	unknown := mint(testKey(1), "k1", v2Claims(login, testStart))
	run := func(raw string, want Reason) {
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				_, err := e.verify(raw, defaultExpect())
				if ReasonOf(err) != want {
					t.Errorf("got %v, want reason %q", err, want)
				}
			})
		}
		wg.Wait()
	}
	run(good, "") // cold start: one fetch shared by all
	if n := e.ks.total(); n != 1 {
		t.Fatalf("cold-start fetches %d, want 1", n)
	}
	e.clock.add(testRefresh + time.Second)
	run(unknown, ReasonUnknownKID)
	if n := e.ks.total(); n != 2 {
		t.Fatalf("fetches %d, want 2", n)
	}
}

func TestKeysUnavailable(t *testing.T) {
	e := newEnv(t, Config{})
	path := v2Path(tenant)
	e.ks.setFail(path, http.StatusServiceUnavailable)
	raw := mint(testKey(0), "k0", v2Claims(e.login(), testStart))
	_, err := e.verify(raw, defaultExpect())
	checkReason(t, err, ReasonKeysUnavailable)
	// No hammering: within the retry gap, no new fetch, same reason.
	e.clock.add(time.Second)
	_, err = e.verify(raw, defaultExpect())
	checkReason(t, err, ReasonKeysUnavailable)
	if n := e.ks.count(path); n != 1 {
		t.Fatalf("fetches %d, want 1", n)
	}
	// Recovery after the retry gap.
	e.ks.setFail(path, 0)
	e.clock.add(10 * time.Second)
	if _, err := e.verify(raw, defaultExpect()); err != nil {
		t.Fatal(err)
	}
	// Not a JWKS / no usable key.
	e2 := newEnv(t, Config{})
	e2.ks.mu.Lock()
	e2.ks.sets[path] = []byte(`{"keys":[{"kty":"EC","kid":"x","crv":"P-256","x":"AA","y":"AA"}]}`)
	e2.ks.mu.Unlock()
	_, err = e2.verify(raw, defaultExpect())
	checkReason(t, err, ReasonKeysUnavailable)
}

func TestContextCancelledWhileFetching(t *testing.T) {
	e := newEnv(t, Config{})
	e.ks.delay = 200 * time.Millisecond
	raw := mint(testKey(0), "k0", v2Claims(e.login(), testStart))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := e.v.Verify(ctx, raw, defaultExpect())
	checkReason(t, err, ReasonKeysUnavailable)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("%v does not wrap the context error", err)
	}
	// The detached fetch completes and serves the next caller without a new fetch.
	time.Sleep(300 * time.Millisecond)
	if _, err := e.verify(raw, defaultExpect()); err != nil {
		t.Fatal(err)
	}
	if n := e.ks.total(); n != 1 {
		t.Fatalf("fetches %d, want 1", n)
	}
}

func TestPeriodicRefresh(t *testing.T) {
	e := newEnv(t, Config{MaxKeyAge: 24 * time.Hour})
	path := v2Path(tenant)
	tokenNow := func() string { return mint(testKey(0), "k0", v2Claims(e.login(), e.clock.now())) }
	if _, err := e.verify(tokenNow(), defaultExpect()); err != nil {
		t.Fatal(err)
	}
	e.clock.add(25 * time.Hour)
	if _, err := e.verify(tokenNow(), defaultExpect()); err != nil {
		t.Fatal(err)
	}
	if n := e.ks.count(path); n != 2 {
		t.Fatalf("fetches %d, want 2 (periodic refresh)", n)
	}
	// Refresh failing: the keys we have stay in use.
	e.ks.setFail(path, http.StatusInternalServerError)
	e.clock.add(25 * time.Hour)
	if _, err := e.verify(tokenNow(), defaultExpect()); err != nil {
		t.Fatalf("stale keys not used when refresh fails: %v", err)
	}
	// Key retired: after the next refresh, its tokens are refused.
	e.ks.setFail(path, 0)
	e.ks.publish(path, jwk{kid: "k1", key: testKey(1), issuer: e.ks.v2Template()})
	e.clock.add(testRefresh + time.Second)
	_, err := e.verify(tokenNow(), defaultExpect())
	checkReason(t, err, ReasonUnknownKID)
}

func TestKeyIssuerProperty(t *testing.T) {
	e := newEnv(t, Config{})
	login := e.login()
	path := v2Path(tenant)
	e.ks.publish(path,
		jwk{kid: "tmpl", key: testKey(0), issuer: e.ks.v2Template()},
		jwk{kid: "exact", key: testKey(1), issuer: login + "/" + tenant + "/v2.0"},
		jwk{kid: "msa", key: testKey(2), issuer: login + "/" + PersonalAccountsTenant + "/v2.0"},
	)
	c := v2Claims(login, testStart)
	for _, tc := range []struct {
		kid    string
		key    *rsa.PrivateKey
		reason Reason
	}{
		{"tmpl", testKey(0), ""},
		{"exact", testKey(1), ""},
		{"msa", testKey(2), ReasonIssuer},
	} {
		_, err := e.verify(mint(tc.key, tc.kid, c), defaultExpect())
		checkReason(t, err, tc.reason)
	}
}

func TestParseJWKS(t *testing.T) {
	k := testKey(0)
	for _, tc := range []struct {
		name string
		doc  []byte
		ok   bool
		kids []string
	}{
		{"garbage", []byte("nope"), false, nil},
		{"empty", []byte(`{"keys":[]}`), false, nil},
		{"enc key skipped", jwksJSON(jwk{kid: "a", key: k, extra: map[string]any{"use": "enc"}}, jwk{kid: "b", key: k}), true, []string{"b"}},
		{"RS512 key skipped", jwksJSON(jwk{kid: "a", key: k, extra: map[string]any{"alg": "RS512"}}, jwk{kid: "b", key: k}), true, []string{"b"}},
		{"no kid skipped", jwksJSON(jwk{kid: "", key: k}, jwk{kid: "b", key: k}), true, []string{"b"}},
		{"small key skipped", append([]byte(`{"keys":[{"kty":"RSA","kid":"s","n":"AQAB","e":"AQAB"},`), jwksJSON(jwk{kid: "b", key: k})[9:]...), true, []string{"b"}},
		{"duplicate kid", jwksJSON(jwk{kid: "a", key: k}, jwk{kid: "a", key: testKey(1)}), true, []string{"a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := parseJWKS(tc.doc)
			if (err == nil) != tc.ok {
				t.Fatalf("err %v, want ok=%v", err, tc.ok)
			}
			if len(keys) != len(tc.kids) {
				t.Fatalf("keys %v, want %v", keys, tc.kids)
			}
			for _, kid := range tc.kids {
				if keys[kid] == nil {
					t.Fatalf("no key %q", kid)
				}
			}
		})
	}
	if _, err := NewWithKeySet(Config{}, []byte(`{}`)); err == nil {
		t.Fatal("NewWithKeySet accepted a set without keys")
	}
}

func TestErrorFormat(t *testing.T) {
	err := error(fail(ReasonScope, "scp %q lacks %q", "a", "b"))
	if got := err.Error(); got != `ssotoken: scope: scp "a" lacks "b"` {
		t.Fatalf("Error() = %q", got)
	}
	wrapped := errors.Join(errors.New("ctx"), err)
	var e *Error
	if !errors.As(wrapped, &e) || ReasonOf(wrapped) != ReasonScope {
		t.Fatal("not errors.As-able")
	}
	if ReasonOf(errors.New("x")) != "" || ReasonOf(nil) != "" {
		t.Fatal("ReasonOf of a foreign error")
	}
	if q := quote(strings.Repeat("é", 200)); len(q) > 140 {
		t.Fatalf("quote not shortened: %d", len(q))
	}
}

func TestDecode(t *testing.T) {
	k0 := testKey(0)
	raw := mint(k0, "k0", v2Claims("https://login.microsoftonline.com", testStart))
	h, c, err := Decode(raw)
	if err != nil || h["kid"] != "k0" || c["oid"] != userOID {
		t.Fatalf("Decode: %v %v %v", h, c, err)
	}
	// Unknown alg still decodes (diagnostics), garbage does not.
	odd := mintWith(map[string]any{"alg": "XY999"}, v2Claims("x", testStart), func([]byte) []byte { return []byte{1} })
	if h, _, err := Decode(odd); err != nil || h["alg"] != "XY999" {
		t.Fatalf("Decode odd alg: %v %v", h, err)
	}
	_, _, err = Decode("garbage")
	checkReason(t, err, ReasonMalformed)
	_, _, err = Decode(strings.Repeat("a", MaxTokenSize+1))
	checkReason(t, err, ReasonOversized)
}

// verifiesWithGolangJWT checks an accepted token against golang-jwt's own
// RS256-only parser and verifier (the hot path does the same work itself; see
// claims.go and verify).
func verifiesWithGolangJWT(t testing.TB, raw string, pub *rsa.PublicKey) {
	t.Helper()
	p := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithoutClaimsValidation())
	if _, err := p.ParseWithClaims(raw, &jwt.MapClaims{}, func(*jwt.Token) (any, error) { return pub, nil }); err != nil {
		t.Fatalf("accepted, but golang-jwt refuses it: %v", err)
	}
}
