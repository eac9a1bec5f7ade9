package ssotoken

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	tenant      = "0b7e3c2a-4f1d-4c8e-9a6b-1d2e3f4a5b6c"
	otherTenant = "5a1f9e0d-7c3b-4e2a-8d6f-0a1b2c3d4e5f"
	appID       = "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
	appURI      = "api://desk.example.com/" + appID
	teamsWeb    = "5e3ce6c0-2b1f-4285-8d4b-75ee78787346"
	userOID     = "3c9d8e7f-6a5b-4c3d-9e2f-1a0b9c8d7e6f"
	stsURL      = "https://sts.windows.net"
)

var testStart = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

// Test keys are generated once per test binary (2048-bit generation is slow).
var (
	keysOnce sync.Once
	keys     [3]*rsa.PrivateKey
)

func testKey(i int) *rsa.PrivateKey {
	keysOnce.Do(func() {
		for j := range keys {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			keys[j] = k
		}
	})
	return keys[i]
}

// clock is a settable Config.Now.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock    { c := &clock{}; c.set(t); return c }
func (c *clock) now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) set(t time.Time)     { c.ns.Store(t.UnixNano()) }
func (c *clock) add(d time.Duration) { c.ns.Add(int64(d)) }

// jwk is one key as the test JWKS server publishes it.
type jwk struct {
	kid    string
	key    *rsa.PrivateKey
	issuer string // "" = no issuer property
	extra  map[string]any
}

func jwksJSON(ks ...jwk) []byte {
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	for _, k := range ks {
		m := map[string]any{
			"kty": "RSA",
			"use": "sig",
			"kid": k.kid,
			"n":   base64.RawURLEncoding.EncodeToString(k.key.N.Bytes()),
			"e":   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.key.E)).Bytes()),
		}
		if k.issuer != "" {
			m["issuer"] = k.issuer
		}
		for n, v := range k.extra {
			m[n] = v
		}
		doc.Keys = append(doc.Keys, m)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		panic(err)
	}
	return b
}

// keyServer plays login.microsoftonline.com's key endpoints and counts fetches.
type keyServer struct {
	srv   *httptest.Server
	mu    sync.Mutex
	sets  map[string][]byte // path → JWKS document
	fail  map[string]int    // path → HTTP status to answer instead
	hits  map[string]int
	delay time.Duration
}

func newKeyServer(t testing.TB) *keyServer {
	ks := &keyServer{sets: map[string][]byte{}, fail: map[string]int{}, hits: map[string]int{}}
	ks.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ks.mu.Lock()
		ks.hits[r.URL.Path]++
		body, status, delay := ks.sets[r.URL.Path], ks.fail[r.URL.Path], ks.delay
		ks.mu.Unlock()
		if delay > 0 {
			time.Sleep(delay)
		}
		switch {
		case status != 0:
			http.Error(w, "down", status)
		case body == nil:
			http.NotFound(w, r)
		default:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(body)
		}
	}))
	t.Cleanup(ks.srv.Close)
	return ks
}

func v2Path(tid string) string { return "/" + tid + "/discovery/v2.0/keys" }
func v1Path(tid string) string { return "/" + tid + "/discovery/keys" }

func (ks *keyServer) publish(path string, keys ...jwk) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ks.sets[path] = jwksJSON(keys...)
}

func (ks *keyServer) setFail(path string, status int) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ks.fail[path] = status
}

func (ks *keyServer) count(path string) int {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return ks.hits[path]
}

func (ks *keyServer) total() int {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	n := 0
	for _, h := range ks.hits {
		n += h
	}
	return n
}

// v2Issuer is the key issuer template the v2 set carries.
func (ks *keyServer) v2Template() string { return ks.srv.URL + "/{tenantid}/v2.0" }

// tok describes a token to mint.
type tok struct {
	key    *rsa.PrivateKey
	header map[string]any
	claims map[string]any
}

// v2Claims are the claims of a Teams SSO v2 token for tenant/appID issued at now.
func v2Claims(login string, now time.Time) map[string]any {
	return map[string]any{
		"aud":                appID,
		"iss":                login + "/" + tenant + "/v2.0",
		"iat":                now.Add(-time.Minute).Unix(),
		"nbf":                now.Add(-time.Minute).Unix(),
		"exp":                now.Add(time.Hour).Unix(),
		"aio":                "AUQAu/8XAAAAGXX+it2CrEe/1PnzhSYhx8yxASsIOZ9kaXB7TvP5tzVNQVub8DWV6llve6xWgXq45WrRQliWCUNB33DyrW+eRw==",
		"azp":                teamsWeb,
		"azpacr":             "0",
		"name":               "Ada Lovelace",
		"oid":                userOID,
		"preferred_username": "ada@contoso.example",
		"rh":                 "0.AUcAcsVqlrf1vkuqiMdkGcD4Ucst9r_ciBNKniYcv_uW7GQNAWI.",
		"scp":                "access_as_user",
		"sub":                "QDOyOS0HF4cRVQN7Gb_vIW-CWu2vIPJ_nb_ypFRBm_o",
		"tid":                tenant,
		"uti":                "a0fxZzOYH0uJr_BVEApJAA",
		"ver":                "2.0",
	}
}

// v1Claims are the claims of a v1 token (accessTokenAcceptedVersion null/1).
func v1Claims(now time.Time) map[string]any {
	return map[string]any{
		"aud":         appURI,
		"iss":         stsURL + "/" + tenant + "/",
		"iat":         now.Add(-time.Minute).Unix(),
		"nbf":         now.Add(-time.Minute).Unix(),
		"exp":         now.Add(time.Hour).Unix(),
		"acr":         "1",
		"amr":         []string{"pwd", "mfa"},
		"appid":       teamsWeb,
		"appidacr":    "0",
		"name":        "Ada Lovelace",
		"oid":         userOID,
		"scp":         "access_as_user",
		"sub":         "QDOyOS0HF4cRVQN7Gb_vIW-CWu2vIPJ_nb_ypFRBm_o",
		"tid":         tenant,
		"unique_name": "ada@contoso.example",
		"upn":         "ada@contoso.example",
		"uti":         "a0fxZzOYH0uJr_BVEApJAA",
		"ver":         "1.0",
	}
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// mint signs claims with key under kid (RS256).
func mint(key *rsa.PrivateKey, kid string, claims map[string]any) string {
	return mintWith(map[string]any{"typ": "JWT", "alg": "RS256", "kid": kid}, claims, func(in []byte) []byte {
		h := sha256.Sum256(in)
		sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, h[:])
		if err != nil {
			panic(err)
		}
		return sig
	})
}

func mintWith(header, claims map[string]any, sign func([]byte) []byte) string {
	in := b64url(mustJSON(header)) + "." + b64url(mustJSON(claims))
	return in + "." + b64url(sign([]byte(in)))
}

func clone(m map[string]any) map[string]any {
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func with(m map[string]any, kv ...any) map[string]any {
	c := clone(m)
	for i := 0; i < len(kv); i += 2 {
		k := kv[i].(string)
		if kv[i+1] == nil {
			delete(c, k)
		} else {
			c[k] = kv[i+1]
		}
	}
	return c
}

func defaultExpect() Expect {
	return Expect{TenantID: tenant, AppID: appID, AppIDURIs: []string{appURI}}
}

// checkReason fails t unless err is an *Error with reason want ("" = no error).
func checkReason(t testing.TB, err error, want Reason) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("refused: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("accepted, want refusal %q", want)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *Error", err, err)
	}
	if e.Reason != want {
		t.Fatalf("reason %q (%v), want %q", e.Reason, err, want)
	}
	if !strings.HasPrefix(err.Error(), "ssotoken: "+string(want)+": ") {
		t.Fatalf("Error() = %q, want prefix %q", err.Error(), "ssotoken: "+string(want)+": ")
	}
}

// countingKeys counts key lookups (each one precedes an RSA verification).
type countingKeys struct {
	keySource
	n atomic.Int64
}

func (c *countingKeys) key(ctx context.Context, tenant string, v1 bool, kid string) (*sigKey, error) {
	c.n.Add(1)
	return c.keySource.key(ctx, tenant, v1, kid)
}

func countKeys(v *Verifier) *countingKeys {
	c := &countingKeys{keySource: v.keys}
	v.keys = c
	return c
}
