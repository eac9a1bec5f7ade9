package ssotoken

// The token catalogue (issue 3, point 4): one table of bad and odd tokens, each
// presented to a verifier that fetches its keys from a test JWKS server, with
// the exact Reason it must be refused with ("" = accepted) and, for every row,
// the number of key set fetches it may cost.
//
// Every row runs in a fresh environment (key server, clock, verifier) and the
// token is presented twice: the verdict must not change, and the second
// presentation must not fetch keys (an accepted token comes from the cache, a
// refused one from the cached key set or the refetch rate limit).

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// knownReasons are all the Reasons the package defines.
var knownReasons = map[Reason]bool{
	ReasonMalformed: true, ReasonOversized: true, ReasonAlgorithm: true, ReasonCrit: true,
	ReasonVersion: true, ReasonUnknownKID: true, ReasonKeysUnavailable: true, ReasonSignature: true,
	ReasonTenant: true, ReasonPersonalAccount: true, ReasonIssuer: true, ReasonAudience: true,
	ReasonAppOnly: true, ReasonScope: true, ReasonMissingClaim: true, ReasonExpired: true,
	ReasonNotYetValid: true, ReasonIssuedInFuture: true, ReasonConfig: true,
}

// preKeyReasons are decided before the key set is consulted: a token refused
// for one of them costs no fetch.
var preKeyReasons = map[Reason]bool{
	ReasonOversized: true, ReasonMalformed: true, ReasonAlgorithm: true, ReasonCrit: true, ReasonVersion: true,
}

const (
	// emulatorLogin is where tamlink's Entra emulator plays login.microsoftonline.com.
	emulatorLogin = "http://127.0.0.1:8080/emulator/login"
	otherApp      = "9d2f4e6a-1b3c-4d5e-8f70-a1b2c3d4e5f6" // another channel's client id
	attackerKid   = "attacker"
	msaIssuerKid  = "msa-issuer"
)

// catRow is one catalogue entry.
type catRow struct {
	name   string
	login  string                 // the verifier's LoginURL; "" = DefaultLoginURL
	real   bool                   // uses the real Entra token (skipped when the shared data is absent)
	setup  func(e *catEnv)        // before the token is built: warm the key cache, rotate keys, move the clock
	token  func(c *catCtx) string // builds the token
	want   Expect                 // the channel's expectation; zero = defaultExpect() (realExpect() for real rows)
	reason Reason                 // "" = accepted
	// fetches is the number of key set fetches after both presentations,
	// setup included. 0 means the default: none for a token refused before
	// the key lookup (preKeyReasons), else one.
	fetches int
	check   func(t *testing.T, id *Identity) // more checks on an accepted identity
}

// catCtx is what a row builds its token from.
type catCtx struct {
	login string    // the verifier's LoginURL (the v2 issuer base)
	now   time.Time // the verifier's clock when the token is presented
	real  *realData // nil when the shared data is absent
}

func (c *catCtx) v2() map[string]any { return v2Claims(c.login, c.now) }
func (c *catCtx) v1() map[string]any { return v1Claims(c.now) }

// good is a valid v2 Teams SSO token.
func (c *catCtx) good() string { return mint(testKey(0), "k0", c.v2()) }

// withRawMembers is the JSON text of claims with raw members appended (which may
// repeat a member: mustJSON cannot write duplicates).
func withRawMembers(claims map[string]any, members string) string {
	b := mustJSON(claims)
	return string(b[:len(b)-1]) + "," + members + "}"
}

// mintRaw signs the exact header and payload texts (RS256 with key).
func mintRaw(header, payload string, key *rsa.PrivateKey) string {
	in := b64url([]byte(header)) + "." + b64url([]byte(payload))
	return in + "." + b64url(signWith(key)([]byte(in)))
}

func signWith(key *rsa.PrivateKey) func([]byte) []byte {
	return func(in []byte) []byte {
		return mustSign(key, in)
	}
}

func mustSign(key *rsa.PrivateKey, in []byte) []byte {
	sig, err := jwt.SigningMethodRS256.Sign(string(in), key)
	if err != nil {
		panic(err)
	}
	return sig
}

const rs256Header = `{"typ":"JWT","alg":"RS256","kid":"k0"}`

func seg(raw string, i int) string { return strings.Split(raw, ".")[i] }

func setSeg(raw string, i int, s string) string {
	p := strings.Split(raw, ".")
	p[i] = s
	return strings.Join(p, ".")
}

func decodeSeg(raw string, i int) []byte {
	b, err := stdB64.DecodeString(seg(raw, i))
	if err != nil {
		panic(err)
	}
	return b
}

// mintToSize mints an RS256 token of exactly size bytes by padding a claim.
func mintToSize(size int, key *rsa.PrivateKey, kid string, claims map[string]any) string {
	sigLen := len(b64url(make([]byte, key.Size())))
	b64len := func(n int) int { return (4*n + 2) / 3 }
	// Base64 lengths skip 4k+1, so a header of another length may be needed.
	for x5t := 0; x5t < 8; x5t++ {
		h := map[string]any{"typ": "JWT", "alg": "RS256", "kid": kid}
		if x5t > 0 {
			h["x5t"] = strings.Repeat("y", x5t)
		}
		hl := b64len(len(mustJSON(h)))
		base := len(mustJSON(with(claims, "pad", "")))
		for n := 0; hl+1+b64len(base+n)+1+sigLen <= size; n++ {
			if hl+1+b64len(base+n)+1+sigLen == size {
				raw := mintWith(h, with(claims, "pad", strings.Repeat("x", n)), signWith(key))
				if len(raw) != size {
					panic(fmt.Sprintf("mintToSize: %d bytes, want %d", len(raw), size))
				}
				return raw
			}
		}
	}
	panic("mintToSize: no layout")
}

// The emulator's signing key: kid and x5t are the base64url SHA-1 of its
// self-signed certificate, published with x5c (internal/emulator/keys.go).
var (
	emuOnce sync.Once
	emuKid  string
	emuCert []byte
)

func emulatorKey() (kid string, certDER []byte) {
	emuOnce.Do(func() {
		k := testKey(2)
		tmpl := &x509.Certificate{
			SerialNumber:          big.NewInt(20250314),
			Subject:               pkix.Name{CommonName: "accounts.accesscontrol.windows.net"},
			NotBefore:             time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
			NotAfter:              time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC),
			KeyUsage:              x509.KeyUsageDigitalSignature,
			BasicConstraintsValid: true,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
		if err != nil {
			panic(err)
		}
		sum := sha1.Sum(der)
		emuKid, emuCert = b64url(sum[:]), der
	})
	return emuKid, emuCert
}

func emulatorJWK(login string) jwk {
	kid, der := emulatorKey()
	return jwk{kid: kid, key: testKey(2), issuer: login + "/{tenantid}/v2.0", extra: map[string]any{
		"x5t": kid, "x5c": []string{base64.StdEncoding.EncodeToString(der)},
	}}
}

// emulatorToken is a v2 user token as internal/emulator mints it
// (userAccessToken): signed by golang-jwt (header alg, kid, typ), iat and nbf
// back-dated five minutes, a 60–90 minute lifetime, opaque aio/rh/uti.
func emulatorToken(login string, now time.Time) string {
	kid, _ := emulatorKey()
	c := jwt.MapClaims{
		"aud":                appID,
		"iat":                now.Add(-5 * time.Minute).Unix(),
		"nbf":                now.Add(-5 * time.Minute).Unix(),
		"exp":                now.Add(83 * time.Minute).Unix(),
		"aio":                "AXQAi/8TAAAA" + strings.Repeat("Qk", 30),
		"rh":                 "0.A" + strings.Repeat("cw", 24) + ".",
		"tid":                tenant,
		"uti":                "Zm9vYmFyYmF6cXV4",
		"iss":                login + "/" + tenant + "/v2.0",
		"ver":                "2.0",
		"oid":                userOID,
		"sub":                "pX1nN0Zq3m9x2u5yQm7kR2bV8cD4eF6gH0iJ1kL2mN3",
		"name":               "Ada Lovelace",
		"scp":                "access_as_user",
		"azp":                teamsWeb,
		"azpacr":             "0",
		"preferred_username": "ada@contoso.example",
	}
	tk := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tk.Header["kid"] = kid
	s, err := tk.SignedString(testKey(2))
	if err != nil {
		panic(err)
	}
	return s
}

// catKey returns the private key the catalogue signs under kid (for the
// golang-jwt cross-check of accepted tokens).
func catKey(kid string) *rsa.PrivateKey {
	switch kid {
	case "k0":
		return testKey(0)
	case "k1", attackerKid, msaIssuerKid:
		return testKey(1)
	}
	if ek, _ := emulatorKey(); kid == ek {
		return testKey(2)
	}
	return nil
}

// catEnv is a verifier whose key set requests, wherever they are addressed
// (login.microsoftonline.com, the emulator, an attacker's jku ...), reach a
// counting test key server.
type catEnv struct {
	ks    *keyServer
	clock *clock
	v     *Verifier
	login string
	path  string // the key server path of LoginURL ("" for DefaultLoginURL)
	real  *realData
}

// redirect sends every request to one test server, keeping the path.
type redirect struct {
	to *url.URL
	rt http.RoundTripper
}

func (r redirect) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.URL.Scheme, req.URL.Host, req.Host = r.to.Scheme, r.to.Host, ""
	return r.rt.RoundTrip(req)
}

func newCatEnv(t *testing.T, login string, rd *realData) *catEnv {
	ks := newKeyServer(t)
	to, _ := url.Parse(ks.srv.URL)
	lu, err := url.Parse(login)
	if err != nil {
		t.Fatal(err)
	}
	e := &catEnv{ks: ks, clock: newClock(testStart), login: login, path: strings.TrimRight(lu.Path, "/"), real: rd}
	e.publishV2(jwk{kid: "k0", key: testKey(0), issuer: login + "/{tenantid}/v2.0"}, emulatorJWK(login))
	ks.publish(e.path+v1Path(tenant), jwk{kid: "k0", key: testKey(0)})
	e.v = New(Config{
		LoginURL:     login,
		STSURL:       stsURL,
		HTTPClient:   &http.Client{Transport: redirect{to: to, rt: ks.srv.Client().Transport}, Timeout: 10 * time.Second},
		Now:          e.clock.now,
		RefreshEvery: testRefresh,
	})
	return e
}

// publishV2 replaces the channel tenant's v2 key set.
func (e *catEnv) publishV2(keys ...jwk) { e.ks.publish(e.path+v2Path(tenant), keys...) }

// defaultV2Keys is the v2 set newCatEnv publishes.
func (e *catEnv) defaultV2Keys() []jwk {
	return []jwk{{kid: "k0", key: testKey(0), issuer: e.login + "/{tenantid}/v2.0"}, emulatorJWK(e.login)}
}

// warm verifies a good token, so that the key set is fetched and cached.
func (e *catEnv) warm() {
	c := &catCtx{login: e.login, now: e.clock.now()}
	if _, err := e.v.Verify(context.Background(), c.good(), defaultExpect()); err != nil {
		panic(fmt.Sprintf("warm-up token refused: %v", err))
	}
}

// realIfPresent loads the real Entra token and key sets from the shared data,
// or returns nil when the directory is absent.
func realIfPresent(t testing.TB) *realData {
	if _, err := os.Stat(realDir); err != nil {
		return nil
	}
	return loadReal(t)
}

func catalogue() []catRow {
	k0, k1 := testKey(0), testKey(1)
	otherIss := func(c *catCtx) string { return c.login + "/" + otherTenant + "/v2.0" }
	pubDER, err := x509.MarshalPKIXPublicKey(&k0.PublicKey)
	if err != nil {
		panic(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	jwtSigned := func(m jwt.SigningMethod, c map[string]any) string {
		tk := jwt.NewWithClaims(m, jwt.MapClaims(c))
		tk.Header["kid"] = "k0"
		s, err := tk.SignedString(k0)
		if err != nil {
			panic(err)
		}
		return s
	}
	rotated := func(e *catEnv) {
		e.publishV2(append(e.defaultV2Keys(), jwk{kid: "k1", key: k1, issuer: e.login + "/{tenantid}/v2.0"})...)
	}

	return []catRow{
		// ---- Accepted: the normal shapes and the odd-but-valid ones.
		{name: "v2 Teams SSO token", token: (*catCtx).good, check: func(t *testing.T, id *Identity) {
			if id.Version != "2.0" || id.ObjectID != userOID || id.Audience != appID || id.AuthorizedParty != teamsWeb || id.TenantID != tenant {
				t.Fatalf("identity %+v", id)
			}
		}},
		{name: "v1 token, aud = api:// App ID URI, x5t header", token: func(c *catCtx) string {
			return mintWith(map[string]any{"typ": "JWT", "alg": "RS256", "x5t": "k0", "kid": "k0"}, c.v1(), signWith(k0))
		}, check: func(t *testing.T, id *Identity) {
			if id.Version != "1.0" || id.Audience != appURI || id.AuthorizedParty != teamsWeb || id.PreferredUsername != "ada@contoso.example" {
				t.Fatalf("identity %+v", id)
			}
		}},
		{name: "v1 token, aud = client id GUID", token: func(c *catCtx) string { return mint(k0, "k0", with(c.v1(), "aud", appID)) }},
		{name: "aud as a one-element array", token: func(c *catCtx) string { return mint(k0, "k0", with(c.v2(), "aud", []string{appID})) }},
		{name: "aud upper-case GUID", token: func(c *catCtx) string { return mint(k0, "k0", with(c.v2(), "aud", strings.ToUpper(appID))) }},
		{name: "exp at the leeway edge (exp = now - leeway + 1s)", token: func(c *catCtx) string {
			return mint(k0, "k0", with(c.v2(), "exp", c.now.Add(-2*time.Minute+time.Second).Unix()))
		}},
		{name: "nbf in the future within the leeway (clock skew)", token: func(c *catCtx) string {
			return mint(k0, "k0", with(c.v2(), "nbf", c.now.Add(2*time.Minute).Unix()))
		}},
		{name: "guest user with idp claim", token: func(c *catCtx) string {
			return mint(k0, "k0", with(c.v2(), "idp", stsURL+"/"+otherTenant+"/", "preferred_username", "grace@fabrikam.example"))
		}, check: func(t *testing.T, id *Identity) {
			if id.IdentityProvider != stsURL+"/"+otherTenant+"/" || id.TenantID != tenant {
				t.Fatalf("identity %+v", id)
			}
		}},
		{name: "v2 token in the emulator's format (emulator LoginURL, x5c key)", login: emulatorLogin,
			token: func(c *catCtx) string { return emulatorToken(c.login, c.now) },
			check: func(t *testing.T, id *Identity) {
				if id.Issuer != emulatorLogin+"/"+tenant+"/v2.0" || !id.IssuedAt.Equal(testStart.Add(-5*time.Minute)) {
					t.Fatalf("identity %+v", id)
				}
			}},
		{name: "several scopes including access_as_user", token: func(c *catCtx) string {
			return mint(k0, "k0", with(c.v2(), "scp", "openid User.Read access_as_user"))
		}},
		{name: "user token with app roles and scp", token: func(c *catCtx) string {
			return mint(k0, "k0", with(c.v2(), "roles", []string{"Desk.Agent"}))
		}},
		{name: "fractional exp (NumericDate may be non-integer)", token: func(c *catCtx) string {
			return mint(k0, "k0", with(c.v2(), "exp", float64(c.now.Add(time.Hour).Unix())+0.75))
		}},
		{name: "lone surrogate in name decodes to U+FFFD", token: func(c *catCtx) string {
			return mintRaw(rs256Header, withRawMembers(with(c.v2(), "name", nil), `"name":"Ada \ud800 Lovelace"`), k0)
		}, check: func(t *testing.T, id *Identity) {
			if id.Name != "Ada \uFFFD Lovelace" {
				t.Fatalf("name %q", id.Name)
			}
		}},
		{name: "case variant TID next to tid: names are exact, tid is read", token: func(c *catCtx) string {
			return mintRaw(rs256Header, withRawMembers(c.v2(), `"TID":"`+otherTenant+`"`), k0)
		}, check: func(t *testing.T, id *Identity) {
			if id.TenantID != tenant {
				t.Fatalf("tenant %q", id.TenantID)
			}
		}},
		{name: "jku/x5u headers are ignored, not fetched", token: func(c *catCtx) string {
			return mintWith(map[string]any{"alg": "RS256", "kid": "k0", "jku": "https://attacker.example/keys", "x5u": "https://attacker.example/cert"}, c.v2(), signWith(k0))
		}, fetches: 1},
		{name: "token of exactly MaxTokenSize bytes", token: func(c *catCtx) string { return mintToSize(MaxTokenSize, k0, "k0", c.v2()) }},
		{name: "kid published by rotation, seen after RefreshEvery: one refetch, accepted",
			setup: func(e *catEnv) { e.warm(); rotated(e); e.clock.add(testRefresh + time.Second) },
			token: func(c *catCtx) string { return mint(k1, "k1", c.v2()) }, fetches: 2},
		{name: "real Entra v2 token (its own tenant, app, scope)", real: true,
			setup: func(e *catEnv) {
				e.ks.mu.Lock()
				e.ks.sets[v2Path(realTenant)] = e.real.jwksV2
				e.ks.mu.Unlock()
				e.clock.set(e.real.inside)
			},
			token: func(c *catCtx) string { return c.real.raw },
			check: func(t *testing.T, id *Identity) {
				if id.ObjectID != realOID || id.TenantID != realTenant {
					t.Fatalf("identity %+v", id)
				}
			}},

		// ---- Header: algorithm, crit, kid.
		{name: "alg none, no signature", token: func(c *catCtx) string {
			return mintWith(map[string]any{"typ": "JWT", "alg": "none"}, c.v2(), func([]byte) []byte { return nil })
		}, reason: ReasonAlgorithm},
		{name: "alg nOnE with kid, RS256 signature kept", token: func(c *catCtx) string {
			return mintWith(map[string]any{"alg": "nOnE", "kid": "k0"}, c.v2(), signWith(k0))
		}, reason: ReasonAlgorithm},
		{name: "alg missing", token: func(c *catCtx) string { return mintWith(map[string]any{"kid": "k0"}, c.v2(), signWith(k0)) }, reason: ReasonAlgorithm},
		{name: "HS256 keyed with the RSA public key (PEM)", token: func(c *catCtx) string {
			return mintWith(map[string]any{"typ": "JWT", "alg": "HS256", "kid": "k0"}, c.v2(), hs256(pubPEM))
		}, reason: ReasonAlgorithm},
		{name: "HS256 keyed with the RSA public key (DER)", token: func(c *catCtx) string {
			return mintWith(map[string]any{"typ": "JWT", "alg": "HS256", "kid": "k0"}, c.v2(), hs256(pubDER))
		}, reason: ReasonAlgorithm},
		{name: "RS384 by the right key", token: func(c *catCtx) string { return jwtSigned(jwt.SigningMethodRS384, c.v2()) }, reason: ReasonAlgorithm},
		{name: "PS256 by the right key", token: func(c *catCtx) string { return jwtSigned(jwt.SigningMethodPS256, c.v2()) }, reason: ReasonAlgorithm},
		{name: "alg rs256 (lower case)", token: func(c *catCtx) string {
			return mintWith(map[string]any{"alg": "rs256", "kid": "k0"}, c.v2(), signWith(k0))
		}, reason: ReasonAlgorithm},
		{name: "crit [exp]", token: func(c *catCtx) string {
			return mintWith(map[string]any{"alg": "RS256", "kid": "k0", "crit": []string{"exp"}, "exp": 1}, c.v2(), signWith(k0))
		}, reason: ReasonCrit},
		{name: "crit [] (empty is invalid too)", token: func(c *catCtx) string {
			return mintWith(map[string]any{"alg": "RS256", "kid": "k0", "crit": []string{}}, c.v2(), signWith(k0))
		}, reason: ReasonCrit},
		{name: "no kid", token: func(c *catCtx) string { return mintWith(map[string]any{"alg": "RS256"}, c.v2(), signWith(k0)) }, reason: ReasonMalformed},
		{name: "kid null", token: func(c *catCtx) string {
			return mintRaw(`{"alg":"RS256","kid":null}`, string(mustJSON(c.v2())), k0)
		}, reason: ReasonMalformed},
		{name: "kid a number", token: func(c *catCtx) string {
			return mintRaw(`{"alg":"RS256","kid":0}`, string(mustJSON(c.v2())), k0)
		}, reason: ReasonMalformed},

		// ---- Keys: unknown kid, rotation, keys offered by the token.
		{name: "unknown kid, keys older than RefreshEvery: one refetch, refused",
			setup: func(e *catEnv) { e.warm(); e.clock.add(testRefresh + time.Second) },
			token: func(c *catCtx) string { return mint(k1, "k1", c.v2()) }, reason: ReasonUnknownKID, fetches: 2},
		{name: "unknown kid on a cold verifier: the first fetch is the only one",
			token: func(c *catCtx) string { return mint(k1, "k1", c.v2()) }, reason: ReasonUnknownKID, fetches: 1},
		{name: "kid rotated in less than RefreshEvery after the last fetch: rate limited",
			setup: func(e *catEnv) { e.warm(); rotated(e); e.clock.add(time.Minute) },
			token: func(c *catCtx) string { return mint(k1, "k1", c.v2()) }, reason: ReasonUnknownKID, fetches: 1},
		{name: "attacker key embedded as jwk header", token: func(c *catCtx) string {
			return mintWith(map[string]any{"alg": "RS256", "kid": attackerKid, "jwk": map[string]any{
				"kty": "RSA", "kid": attackerKid, "n": b64url(k1.N.Bytes()), "e": "AQAB",
			}}, c.v2(), signWith(k1))
		}, reason: ReasonUnknownKID, fetches: 1},
		{name: "attacker JWKS named by jku (never fetched)", token: func(c *catCtx) string {
			return mintWith(map[string]any{"alg": "RS256", "kid": attackerKid, "jku": "https://attacker.example/keys"}, c.v2(), signWith(k1))
		}, reason: ReasonUnknownKID, fetches: 1},
		{name: "v1 token under a kid of the v2 set only", token: func(c *catCtx) string {
			kid, _ := emulatorKey()
			return mint(testKey(2), kid, c.v1())
		}, reason: ReasonUnknownKID, fetches: 1},

		// ---- Signature: tampering.
		{name: "payload tampered: scp raised to access_as_user", token: func(c *catCtx) string {
			return setSeg(mint(k0, "k0", with(c.v2(), "scp", "User.Read")), 1, b64url(mustJSON(c.v2())))
		}, reason: ReasonSignature},
		{name: "payload tampered: another tenant's token moved to this tenant", token: func(c *catCtx) string {
			return setSeg(mint(k0, "k0", with(c.v2(), "tid", otherTenant, "iss", otherIss(c))), 1, b64url(mustJSON(c.v2())))
		}, reason: ReasonSignature},
		{name: "header tampered (x5t added)", token: func(c *catCtx) string {
			return setSeg(c.good(), 0, b64url([]byte(`{"typ":"JWT","alg":"RS256","kid":"k0","x5t":"k0"}`)))
		}, reason: ReasonSignature},
		{name: "signature: one bit flipped", token: func(c *catCtx) string {
			raw := c.good()
			sig := decodeSeg(raw, 2)
			sig[len(sig)/2] ^= 0x10
			return setSeg(raw, 2, b64url(sig))
		}, reason: ReasonSignature},
		{name: "signature stripped (header.payload.)", token: func(c *catCtx) string { return setSeg(c.good(), 2, "") }, reason: ReasonSignature},
		{name: "signature truncated by one byte", token: func(c *catCtx) string {
			raw := c.good()
			sig := decodeSeg(raw, 2)
			return setSeg(raw, 2, b64url(sig[:len(sig)-1]))
		}, reason: ReasonSignature},
		{name: "signature spliced from another valid token", token: func(c *catCtx) string {
			return setSeg(c.good(), 2, seg(mint(k0, "k0", with(c.v2(), "uti", "other")), 2))
		}, reason: ReasonSignature},
		{name: "signed by another key under our kid", token: func(c *catCtx) string { return mint(k1, "k0", c.v2()) }, reason: ReasonSignature},

		// ---- Version.
		{name: "ver missing", token: func(c *catCtx) string { return mint(k0, "k0", with(c.v2(), "ver", nil)) }, reason: ReasonVersion},
		{name: "ver \"2\"", token: func(c *catCtx) string { return mint(k0, "k0", with(c.v2(), "ver", "2")) }, reason: ReasonVersion},

		// ---- Tenant and issuer.
		{name: "tid of another tenant (iss ours)", token: func(c *catCtx) string { return mint(k0, "k0", with(c.v2(), "tid", otherTenant)) }, reason: ReasonTenant},
		{name: "token of another tenant (tid and iss)", token: func(c *catCtx) string {
			return mint(k0, "k0", with(c.v2(), "tid", otherTenant, "iss", otherIss(c)))
		}, reason: ReasonTenant},
		{name: "tid upper-case of ours", token: func(c *catCtx) string {
			up := strings.ToUpper(tenant)
			return mint(k0, "k0", with(c.v2(), "tid", up, "iss", c.login+"/"+up+"/v2.0"))
		}, reason: ReasonTenant},
		{name: "tid missing", token: func(c *catCtx) string { return mint(k0, "k0", with(c.v2(), "tid", nil)) }, reason: ReasonTenant},
		{name: "lone surrogate as tid", token: func(c *catCtx) string {
			return mintRaw(rs256Header, withRawMembers(with(c.v2(), "tid", nil), `"tid":"\udc00"`), k0)
		}, reason: ReasonTenant},
		{name: "personal Microsoft account tenant", token: func(c *catCtx) string {
			return mint(k0, "k0", with(c.v2(), "tid", PersonalAccountsTenant, "iss", c.login+"/"+PersonalAccountsTenant+"/v2.0", "idp", "live.com"))
		}, reason: ReasonPersonalAccount},
		{name: "iss of another tenant (tid ours)", token: func(c *catCtx) string { return mint(k0, "k0", with(c.v2(), "iss", otherIss(c))) }, reason: ReasonIssuer},
		{name: "v2 token with the v1 issuer", token: func(c *catCtx) string {
			return mint(k0, "k0", with(c.v2(), "iss", stsURL+"/"+tenant+"/"))
		}, reason: ReasonIssuer},
		{name: "v1 token with the v2 issuer", token: func(c *catCtx) string {
			return mint(k0, "k0", with(c.v1(), "iss", c.login+"/"+tenant+"/v2.0"))
		}, reason: ReasonIssuer},
		{name: "v1 issuer without the trailing slash", token: func(c *catCtx) string {
			return mint(k0, "k0", with(c.v1(), "iss", stsURL+"/"+tenant))
		}, reason: ReasonIssuer},
		{name: "v2 issuer with /common instead of the tenant", token: func(c *catCtx) string {
			return mint(k0, "k0", with(c.v2(), "iss", c.login+"/common/v2.0"))
		}, reason: ReasonIssuer},
		{name: "public-cloud issuer presented to the emulator", login: emulatorLogin, token: func(c *catCtx) string {
			return mint(k0, "k0", with(c.v2(), "iss", DefaultLoginURL+"/"+tenant+"/v2.0"))
		}, reason: ReasonIssuer},
		{name: "signing key's issuer property is the MSA tenant's",
			setup: func(e *catEnv) {
				e.publishV2(append(e.defaultV2Keys(), jwk{kid: msaIssuerKid, key: k1, issuer: e.login + "/" + PersonalAccountsTenant + "/v2.0"})...)
			},
			token: func(c *catCtx) string { return mint(k1, msaIssuerKid, c.v2()) }, reason: ReasonIssuer},

		// ---- Audience.
		{name: "aud of another channel's app", token: func(c *catCtx) string { return mint(k0, "k0", with(c.v2(), "aud", otherApp)) }, reason: ReasonAudience},
		{name: "aud Microsoft Graph (app id)", token: func(c *catCtx) string { return mint(k0, "k0", with(c.v2(), "aud", graphAppID)) }, reason: ReasonAudience},
		{name: "aud https://graph.microsoft.com (v1)", token: func(c *catCtx) string {
			return mint(k0, "k0", with(c.v1(), "aud", "https://graph.microsoft.com"))
		}, reason: ReasonAudience},
		{name: "aud App ID URI of another domain, our app id", token: func(c *catCtx) string {
			return mint(k0, "k0", with(c.v1(), "aud", "api://desk.attacker.example/"+appID))
		}, reason: ReasonAudience},
		{name: "aud our App ID URI with an upper-case host", token: func(c *catCtx) string {
			return mint(k0, "k0", with(c.v1(), "aud", "api://Desk.Example.com/"+appID))
		}, reason: ReasonAudience},
		{name: "aud App ID URI, channel lists only the GUID", token: (*catCtx).v1Good,
			want: Expect{TenantID: tenant, AppID: appID}, reason: ReasonAudience},
		{name: "aud with two values", token: func(c *catCtx) string {
			return mint(k0, "k0", with(c.v2(), "aud", []string{appID, otherApp}))
		}, reason: ReasonAudience},
		{name: "aud missing", token: func(c *catCtx) string { return mint(k0, "k0", with(c.v2(), "aud", nil)) }, reason: ReasonAudience},

		// ---- Delegated scope, app-only.
		{name: "no scp", token: func(c *catCtx) string { return mint(k0, "k0", with(c.v2(), "scp", nil)) }, reason: ReasonScope},
		{name: "scp without access_as_user", token: func(c *catCtx) string { return mint(k0, "k0", with(c.v2(), "scp", "openid User.Read")) }, reason: ReasonScope},
		{name: "scp Access_As_User (scopes are case-sensitive)", token: func(c *catCtx) string {
			return mint(k0, "k0", with(c.v2(), "scp", "Access_As_User"))
		}, reason: ReasonScope},
		{name: "scp access_as_user2 (prefix is not the scope)", token: func(c *catCtx) string {
			return mint(k0, "k0", with(c.v2(), "scp", "access_as_user2"))
		}, reason: ReasonScope},
		{name: "app-only token (roles, no scp, idtyp app)", token: func(c *catCtx) string {
			return mint(k0, "k0", with(c.v2(), "scp", nil, "roles", []string{"Desk.ReadWrite.All"}, "idtyp", "app", "name", nil, "preferred_username", nil))
		}, reason: ReasonAppOnly},
		{name: "app-only token with scp null", token: func(c *catCtx) string {
			return mint(k0, "k0", with(c.v2(), "scp", jsonNull{}, "roles", []string{"Desk.ReadWrite.All"}))
		}, reason: ReasonAppOnly},

		// ---- Required claims and time.
		{name: "oid missing", token: func(c *catCtx) string { return mint(k0, "k0", with(c.v2(), "oid", nil)) }, reason: ReasonMissingClaim},
		{name: "exp missing", token: func(c *catCtx) string { return mint(k0, "k0", with(c.v2(), "exp", nil)) }, reason: ReasonMissingClaim},
		{name: "expired an hour ago", token: func(c *catCtx) string {
			return mint(k0, "k0", with(c.v2(), "exp", c.now.Add(-time.Hour).Unix(), "iat", c.now.Add(-2*time.Hour).Unix(), "nbf", c.now.Add(-2*time.Hour).Unix()))
		}, reason: ReasonExpired},
		{name: "exp exactly now - leeway", token: func(c *catCtx) string {
			return mint(k0, "k0", with(c.v2(), "exp", c.now.Add(-2*time.Minute).Unix()))
		}, reason: ReasonExpired},
		{name: "not yet valid (nbf in 10 minutes)", token: func(c *catCtx) string {
			return mint(k0, "k0", with(c.v2(), "nbf", c.now.Add(10*time.Minute).Unix()))
		}, reason: ReasonNotYetValid},
		{name: "issued in the future (iat in an hour)", token: func(c *catCtx) string {
			return mint(k0, "k0", with(c.v2(), "iat", c.now.Add(time.Hour).Unix()))
		}, reason: ReasonIssuedInFuture},
		{name: "real Entra token after its exp", real: true,
			setup: func(e *catEnv) {
				e.ks.mu.Lock()
				e.ks.sets[v2Path(realTenant)] = e.real.jwksV2
				e.ks.mu.Unlock()
				e.clock.set(e.real.exp.Add(time.Hour))
			},
			token: func(c *catCtx) string { return c.real.raw }, reason: ReasonExpired},

		// ---- Shape, size, base64, JSON.
		{name: "empty", token: func(*catCtx) string { return "" }, reason: ReasonMalformed},
		{name: "not a JWT", token: func(*catCtx) string { return "not a token" }, reason: ReasonMalformed},
		{name: "two segments", token: func(c *catCtx) string { raw := c.good(); return raw[:strings.LastIndexByte(raw, '.')] }, reason: ReasonMalformed},
		{name: "JWE compact (five segments)", token: func(*catCtx) string {
			return "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.OKOawDo13gRp2ojaHV7LFpZcgV7T6DVZKTyKOMTYUmKoTCVJRgckCL9kiMT03JGeipsEdY3mx_etLbbWSrFr05kLzcSr4qKAq7YN7e9jwQRb23nfa6c9d-StnImGyFDbSv04uVuxIp5Zms1gNxKKK2Da14B8S4rzVRltdYwam_lDp5XnZAYpQdb76FdIKLaVmqgfwX7XWRxv2322i-vDxRfqNzo_tETKzpVLzfiwQyeyPGLBIO56YJ7eObdv0je81860ppamavo35UgoRdbYaBcoh9QcfylQr66oc6vFWXRcZ_ZT2LawVCWTIy3brGPi6UklfCpIMfIjf7iGdXKHzg.48V1_ALb6US04U3b.5eym8TW_c8SuK0ltJ3rpYIzOeDQz7TALvtu6UG9oMo4vpzs9tX_EFShS8iB7j6jiSdiwkIr3ajwQzaBtQD_A.XFBoMYUZodetZdvTiFvSkQ"
		}, reason: ReasonMalformed},
		{name: "Bearer prefix left on", token: func(c *catCtx) string { return "Bearer " + c.good() }, reason: ReasonMalformed},
		{name: "line break inside the payload", token: func(c *catCtx) string {
			raw := c.good()
			i := strings.IndexByte(raw, '.') + 20
			return raw[:i] + "\r\n" + raw[i:]
		}, reason: ReasonMalformed},
		{name: "oversized (MaxTokenSize + 1 bytes)", token: func(c *catCtx) string { return mintToSize(MaxTokenSize+1, k0, "k0", c.v2()) }, reason: ReasonOversized},
		{name: "bad base64: '*' in the payload", token: func(c *catCtx) string {
			raw := c.good()
			i := strings.IndexByte(raw, '.') + 10
			return raw[:i] + "*" + raw[i+1:]
		}, reason: ReasonMalformed},
		{name: "bad base64: standard alphabet (+ /)", token: func(c *catCtx) string {
			raw := c.good()
			std := setSeg(raw, 2, strings.NewReplacer("-", "+", "_", "/").Replace(seg(raw, 2)))
			if std == raw {
				panic("signature has neither - nor _")
			}
			return std
		}, reason: ReasonMalformed},
		{name: "bad base64: '=' padding", token: func(c *catCtx) string { return padded(c.good()) }, reason: ReasonMalformed},
		{name: "bad base64: non-canonical trailing bits (a second encoding of the signature)", token: func(c *catCtx) string {
			// 256 signature bytes take 342 characters; the last one carries
			// four unused bits, which strict decoding requires to be zero.
			raw := c.good()
			const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
			i := strings.IndexByte(alphabet, raw[len(raw)-1])
			return raw[:len(raw)-1] + string(alphabet[i|1])
		}, reason: ReasonMalformed},
		{name: "header not JSON", token: func(c *catCtx) string { return setSeg(c.good(), 0, b64url([]byte("RS256 k0"))) }, reason: ReasonMalformed},
		{name: "payload a JSON array", token: func(*catCtx) string { return mintRaw(rs256Header, `["tid","oid"]`, k0) }, reason: ReasonMalformed},
		{name: "payload with data after the object", token: func(c *catCtx) string {
			return mintRaw(rs256Header, string(mustJSON(c.v2()))+`{"tid":"`+otherTenant+`"}`, k0)
		}, reason: ReasonMalformed},
		{name: "payload nested 64 deep", token: func(c *catCtx) string {
			return mintRaw(rs256Header, withRawMembers(c.v2(), `"x":`+strings.Repeat("[", 64)+strings.Repeat("]", 64)), k0)
		}, reason: ReasonMalformed},
		{name: "invalid UTF-8 in a claim (raw 0xff in name)", token: func(c *catCtx) string {
			return mintRaw(rs256Header, withRawMembers(with(c.v2(), "name", nil), "\"name\":\"Ada \xff\""), k0)
		}, reason: ReasonMalformed},
		{name: "overlong UTF-8 '/' (0xc0 0xaf) in iss", token: func(c *catCtx) string {
			iss := strings.Replace(c.login+"/"+tenant+"/v2.0", "/v2.0", "\xc0\xafv2.0", 1)
			return mintRaw(rs256Header, withRawMembers(with(c.v2(), "iss", nil), `"iss":"`+iss+`"`), k0)
		}, reason: ReasonMalformed},
		{name: "invalid UTF-8 in the header kid", token: func(c *catCtx) string {
			return mintRaw("{\"alg\":\"RS256\",\"kid\":\"k0\xc3\"}", string(mustJSON(c.v2())), k0)
		}, reason: ReasonMalformed},
		{name: "exp a string", token: func(c *catCtx) string {
			return mint(k0, "k0", with(c.v2(), "exp", fmt.Sprint(c.now.Add(time.Hour).Unix())))
		}, reason: ReasonMalformed},
		{name: "exp 1e300", token: func(c *catCtx) string { return mint(k0, "k0", with(c.v2(), "exp", 1e300)) }, reason: ReasonMalformed},
		{name: "tid a number", token: func(c *catCtx) string { return mint(k0, "k0", with(c.v2(), "tid", 42)) }, reason: ReasonMalformed},
		// Regression: the reader skipped unused members without checking that
		// numbers fit a float64, so it accepted tokens that encoding/json,
		// golang-jwt and Decode cannot read.
		{name: "unused claim 1e400 (beyond float64)", token: func(c *catCtx) string {
			return mintRaw(rs256Header, withRawMembers(c.v2(), `"xms_big":1e400`), k0)
		}, reason: ReasonMalformed},
		{name: "unused header parameter -1E+999", token: func(c *catCtx) string {
			return mintRaw(`{"typ":"JWT","alg":"RS256","kid":"k0","x":-1E+999}`, string(mustJSON(c.v2())), k0)
		}, reason: ReasonMalformed},

		// ---- Duplicate member names, each with a valid signature: JSON
		// with duplicate names is ambiguous (RFC 8259 §4: "the behavior of
		// software that receives such an object is unpredictable"):
		// encoding/json — hence golang-jwt's MapClaims — keeps the last value,
		// other readers the first, so two components reading one token would
		// see two tenants, audiences or algorithms (token confusion, cf.
		// RFC 7515 §4 and RFC 7519 §4: a JWS/JWT with duplicate names MUST be
		// rejected or the last one used). The reader refuses any claim or
		// header parameter it uses that appears twice: "malformed", decided
		// before the key set is consulted.
		{name: "duplicate tid (ours, then another tenant's)", token: func(c *catCtx) string {
			return mintRaw(rs256Header, withRawMembers(c.v2(), `"tid":"`+otherTenant+`"`), k0)
		}, reason: ReasonMalformed},
		{name: "duplicate tid spelled t\\u0069d", token: func(c *catCtx) string {
			return mintRaw(rs256Header, withRawMembers(c.v2(), `"t\u0069d":"`+otherTenant+`"`), k0)
		}, reason: ReasonMalformed},
		{name: "duplicate aud", token: func(c *catCtx) string {
			return mintRaw(rs256Header, withRawMembers(c.v2(), `"aud":"`+otherApp+`"`), k0)
		}, reason: ReasonMalformed},
		{name: "duplicate scp", token: func(c *catCtx) string {
			return mintRaw(rs256Header, withRawMembers(with(c.v2(), "scp", "User.Read"), `"scp":"access_as_user"`), k0)
		}, reason: ReasonMalformed},
		{name: "duplicate exp", token: func(c *catCtx) string {
			return mintRaw(rs256Header, withRawMembers(c.v2(), fmt.Sprintf(`"exp":%d`, c.now.Add(100*24*time.Hour).Unix())), k0)
		}, reason: ReasonMalformed},
		{name: "duplicate alg in the header (none, then RS256)", token: func(c *catCtx) string {
			return mintRaw(`{"alg":"none","kid":"k0","alg":"RS256"}`, string(mustJSON(c.v2())), k0)
		}, reason: ReasonMalformed},
		{name: "duplicate kid in the header", token: func(c *catCtx) string {
			return mintRaw(`{"alg":"RS256","kid":"k0","kid":"k1"}`, string(mustJSON(c.v2())), k0)
		}, reason: ReasonMalformed},
	}
}

func (c *catCtx) v1Good() string { return mint(testKey(0), "k0", c.v1()) }

func TestTokenCatalogue(t *testing.T) {
	rows := catalogue()
	if len(rows) < 45 {
		t.Fatalf("catalogue has %d rows, want at least 45", len(rows))
	}
	seen := map[string]bool{}
	for _, r := range rows {
		if seen[r.name] {
			t.Fatalf("duplicate row name %q", r.name)
		}
		seen[r.name] = true
		if r.reason != "" && !knownReasons[r.reason] {
			t.Fatalf("row %q: unknown reason %q", r.name, r.reason)
		}
	}
	rd := realIfPresent(t)

	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			if row.real && rd == nil {
				t.Skipf("real Entra token data absent (%s)", realDir)
			}
			login := row.login
			if login == "" {
				login = DefaultLoginURL
			}
			e := newCatEnv(t, login, rd)
			if row.setup != nil {
				row.setup(e)
			}
			c := &catCtx{login: login, now: e.clock.now(), real: rd}
			raw := row.token(c)
			want := row.want
			if want.TenantID == "" {
				want = defaultExpect()
				if row.real {
					want = realExpect()
				}
			}
			fetches := row.fetches
			if fetches == 0 && !preKeyReasons[row.reason] {
				fetches = 1
			}

			for i := range 2 {
				id, err := e.v.Verify(context.Background(), raw, want)
				if err != nil {
					if _, ok := err.(*Error); !ok {
						t.Fatalf("presentation %d: error %v is a %T, not an *ssotoken.Error", i+1, err, err)
					}
					if r := ReasonOf(err); !knownReasons[r] {
						t.Fatalf("presentation %d: unknown reason %q", i+1, r)
					}
				}
				checkReason(t, err, row.reason)
				if err == nil {
					if row.check != nil {
						row.check(t, id)
					}
					h, _, derr := Decode(raw)
					if derr != nil {
						t.Fatalf("accepted, but Decode fails: %v", derr)
					}
					kid, _ := h["kid"].(string)
					pub := catPublicKey(t, e, kid)
					verifiesWithGolangJWT(t, raw, pub)
				} else {
					t.Logf("refused as expected: %v", err)
				}
			}
			if n := e.ks.total(); n != fetches {
				t.Fatalf("key set fetches %d (%v), want %d", n, e.ks.hits, fetches)
			}
		})
	}
}

// catPublicKey is the public key a catalogue token under kid verifies with.
func catPublicKey(t *testing.T, e *catEnv, kid string) *rsa.PublicKey {
	t.Helper()
	if k := catKey(kid); k != nil {
		return &k.PublicKey
	}
	if e.real != nil {
		keys, err := parseJWKS(e.real.jwksV2)
		if err == nil && keys[kid] != nil {
			return keys[kid].pub
		}
	}
	t.Fatalf("no key for kid %q", kid)
	return nil
}

// TestCatalogueTokensNeverCrashDecode: Decode (diagnostics, golang-jwt based)
// returns an *Error or a result for every catalogue token.
func TestCatalogueTokensNeverCrashDecode(t *testing.T) {
	rd := realIfPresent(t)
	for _, row := range catalogue() {
		if row.real && rd == nil {
			continue
		}
		c := &catCtx{login: DefaultLoginURL, now: testStart, real: rd}
		if _, _, err := Decode(row.token(c)); err != nil {
			if _, ok := err.(*Error); !ok {
				t.Errorf("%s: Decode error %v is a %T", row.name, err, err)
			}
		}
	}
}

// TestReaderNumberRange: the reader refuses exactly the numbers encoding/json
// refuses for being beyond float64 (regression: skipped members were not
// checked, so FuzzParseClaims failed on {"x":1e400}).
func TestReaderNumberRange(t *testing.T) {
	for _, tc := range []struct {
		num string
		ok  bool
	}{
		{"1e400", false}, {"-1e309", false}, {"1.8e308", false}, {"1E+999", false},
		{"1" + strings.Repeat("0", 309), false}, {"-1" + strings.Repeat("0", 309) + ".5", false},
		{"1e308", true}, {"1.7976931348623157e308", true}, {"1e-400", true}, {"-0", true}, {"0.5E-3", true},
		{strings.Repeat("9", 308), true}, {"1" + strings.Repeat("0", 308), true},
	} {
		for _, in := range []string{`{"x":` + tc.num + `}`, `{"x":[1,{"y":` + tc.num + `}]}`} {
			var c claims
			err := parseClaims(in, &c)
			var m map[string]any
			jerr := json.Unmarshal([]byte(in), &m)
			if (err == nil) != tc.ok || (jerr == nil) != tc.ok {
				t.Errorf("%.60s: reader %v, encoding/json %v; want ok=%v", in, err, jerr, tc.ok)
			}
			var h header
			if err := parseHeader(`{"alg":"RS256",`+in[1:], &h); (err == nil) != tc.ok {
				t.Errorf("header %.60s: %v, want ok=%v", in, err, tc.ok)
			}
		}
	}
}
