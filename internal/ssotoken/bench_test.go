package ssotoken

// Run all together:
//
//	go test -run '^$' -bench . -benchmem ./internal/ssotoken/
//
// Targets: VerifyNew ≤ 1.25 × RS256Verify (the parsing and checking around the
// RSA operation cost at most a quarter of it); VerifyCached ≥ 20 × faster than
// RS256Verify.

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const benchPoolSize = 1024

type benchPoolT struct {
	tokens []string // distinct Teams-SSO-shaped v2 tokens, ~1.5 KB like real ones
	jwks   []byte
	warm   string // a token outside the pool
}

var (
	benchOnce sync.Once
	benchData benchPoolT
)

const benchLogin = "https://login.microsoftonline.com"

func benchClaims(i int) map[string]any {
	return with(v2Claims(benchLogin, testStart),
		"uti", fmt.Sprintf("u%021d", i),
		"groups", []string{"11b8475a-fb12-41aa-b1f6-8497c1b5385b", "3e28466f-c53d-46da-8b44-a4abc2ad4593"},
		"azp_name", "Microsoft Teams Web Client",
	)
}

func benchPool(b *testing.B) *benchPoolT {
	b.Helper()
	benchOnce.Do(func() {
		k := testKey(0)
		benchData.jwks = jwksJSON(jwk{kid: "k0", key: k, issuer: benchLogin + "/{tenantid}/v2.0"}, jwk{kid: "k1", key: testKey(1)})
		benchData.tokens = make([]string, benchPoolSize)
		for i := range benchData.tokens {
			benchData.tokens[i] = mint(k, "k0", benchClaims(i))
		}
		benchData.warm = mint(k, "k0", benchClaims(-1))
	})
	return &benchData
}

func benchVerifier(b *testing.B, p *benchPoolT) *Verifier {
	v, err := NewWithKeySet(Config{LoginURL: benchLogin, Now: func() time.Time { return testStart }}, p.jwks)
	if err != nil {
		b.Fatal(err)
	}
	return v
}

// BenchmarkRS256Verify is the floor: one PKCS#1 v1.5 RSA-2048 verification of
// a typical token's signature over its precomputed SHA-256 digest.
func BenchmarkRS256Verify(b *testing.B) {
	p := benchPool(b)
	tok := p.tokens[0]
	dot := strings.LastIndexByte(tok, '.')
	sig, err := stdB64.DecodeString(tok[dot+1:])
	if err != nil {
		b.Fatal(err)
	}
	digest := sha256.Sum256([]byte(tok[:dot]))
	pub := &testKey(0).PublicKey
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyNew: every iteration verifies a token the verifier has never
// seen (a fresh verifier per pass over the pool), so nothing comes from the
// cache; cache insertion is included.
func BenchmarkVerifyNew(b *testing.B) {
	p := benchPool(b)
	ctx := context.Background()
	want := defaultExpect()
	var v *Verifier
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i % len(p.tokens)
		if j == 0 {
			b.StopTimer()
			v = benchVerifier(b, p)
			b.StartTimer()
		}
		if _, err := v.Verify(ctx, p.tokens[j], want); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyNewPaired alternates a bare RS256 verification and a
// never-seen-token Verify in one loop and reports the ratio of their summed
// times ("new/rsa"), so load from other processes affects both alike. ns/op
// is the cost of the pair.
func BenchmarkVerifyNewPaired(b *testing.B) {
	p := benchPool(b)
	tok := p.tokens[0]
	dot := strings.LastIndexByte(tok, '.')
	sig, err := stdB64.DecodeString(tok[dot+1:])
	if err != nil {
		b.Fatal(err)
	}
	digest := sha256.Sum256([]byte(tok[:dot]))
	pub := &testKey(0).PublicKey
	ctx := context.Background()
	want := defaultExpect()
	var v *Verifier
	var rsaTime, newTime time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i % len(p.tokens)
		if j == 0 {
			b.StopTimer()
			v = benchVerifier(b, p)
			b.StartTimer()
		}
		t0 := time.Now()
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := v.Verify(ctx, p.tokens[j], want); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		rsaTime += t1.Sub(t0)
		newTime += t2.Sub(t1)
	}
	b.ReportMetric(float64(newTime)/float64(rsaTime), "new/rsa")
	b.ReportMetric(float64(rsaTime.Nanoseconds())/float64(b.N), "rsa-ns/op")
	b.ReportMetric(float64(newTime.Nanoseconds())/float64(b.N), "new-ns/op")
}

// BenchmarkVerifyNewFetchedKeys is VerifyNew with keys from a key server
// (New), warmed before timing, as in production.
func BenchmarkVerifyNewFetchedKeys(b *testing.B) {
	ks := newKeyServer(b)
	ks.mu.Lock()
	ks.sets[v2Path(tenant)] = jwksJSON(jwk{kid: "k0", key: testKey(0), issuer: ks.srv.URL + "/{tenantid}/v2.0"})
	ks.mu.Unlock()
	// Tokens issued by the key server's "login" URL.
	toks := make([]string, 256)
	for i := range toks {
		toks[i] = mint(testKey(0), "k0", with(benchClaims(i), "iss", ks.srv.URL+"/"+tenant+"/v2.0"))
	}
	warm := mint(testKey(0), "k0", with(benchClaims(-1), "iss", ks.srv.URL+"/"+tenant+"/v2.0"))
	ctx := context.Background()
	want := defaultExpect()
	var v *Verifier
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i % len(toks)
		if j == 0 {
			b.StopTimer()
			v = New(Config{LoginURL: ks.srv.URL, HTTPClient: ks.srv.Client(), Now: func() time.Time { return testStart }})
			if _, err := v.Verify(ctx, warm, want); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		if _, err := v.Verify(ctx, toks[j], want); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyCached: the same token again and again.
func BenchmarkVerifyCached(b *testing.B) {
	p := benchPool(b)
	v := benchVerifier(b, p)
	ctx := context.Background()
	want := defaultExpect()
	if _, err := v.Verify(ctx, p.tokens[0], want); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := v.Verify(ctx, p.tokens[0], want); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyCachedPaired alternates one bare RS256 verification with 16
// cache hits and reports how many times faster a hit is ("rsa/cached"), so
// load from other processes affects both alike.
func BenchmarkVerifyCachedPaired(b *testing.B) {
	p := benchPool(b)
	tok := p.tokens[0]
	dot := strings.LastIndexByte(tok, '.')
	sig, err := stdB64.DecodeString(tok[dot+1:])
	if err != nil {
		b.Fatal(err)
	}
	digest := sha256.Sum256([]byte(tok[:dot]))
	pub := &testKey(0).PublicKey
	v := benchVerifier(b, p)
	ctx := context.Background()
	want := defaultExpect()
	if _, err := v.Verify(ctx, tok, want); err != nil {
		b.Fatal(err)
	}
	const hits = 16
	var rsaTime, hitTime time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		for range hits {
			if _, err := v.Verify(ctx, tok, want); err != nil {
				b.Fatal(err)
			}
		}
		t2 := time.Now()
		rsaTime += t1.Sub(t0)
		hitTime += t2.Sub(t1)
	}
	b.ReportMetric(float64(rsaTime)/(float64(hitTime)/hits), "rsa/cached")
	b.ReportMetric(float64(hitTime.Nanoseconds())/float64(b.N*hits), "cached-ns/op")
}

// BenchmarkVerifyCachedParallel: cache hits on all CPUs, a token per goroutine.
func BenchmarkVerifyCachedParallel(b *testing.B) {
	p := benchPool(b)
	v := benchVerifier(b, p)
	ctx := context.Background()
	want := defaultExpect()
	for _, tok := range p.tokens[:64] {
		if _, err := v.Verify(ctx, tok, want); err != nil {
			b.Fatal(err)
		}
	}
	var next sync.Mutex
	n := 0
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		next.Lock()
		tok := p.tokens[n%64]
		n++
		next.Unlock()
		for pb.Next() {
			if _, err := v.Verify(ctx, tok, want); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// jwtClaims is the typed-claims struct golang-jwt's parser would fill.
type jwtClaims struct {
	jwt.RegisteredClaims
	Tid               string `json:"tid"`
	Oid               string `json:"oid"`
	Ver               string `json:"ver"`
	Scp               string `json:"scp"`
	Azp               string `json:"azp"`
	Name              string `json:"name"`
	PreferredUsername string `json:"preferred_username"`
	Roles             []string
}

// BenchmarkGolangJWTParse is for comparison only: golang-jwt's
// ParseWithClaims with a typed struct, RS256 only, no claim checks, no cache —
// the path Verify avoids (see claims.go).
func BenchmarkGolangJWTParse(b *testing.B) {
	p := benchPool(b)
	pub := &testKey(0).PublicKey
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithoutClaimsValidation())
	keyfunc := func(*jwt.Token) (any, error) { return pub, nil }
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var c jwtClaims
		if _, err := parser.ParseWithClaims(p.tokens[i%len(p.tokens)], &c, keyfunc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseClaims: the hot-path claims reader on a typical payload.
func BenchmarkParseClaims(b *testing.B) {
	p := benchPool(b)
	pl, err := stdB64.DecodeString(strings.Split(p.tokens[0], ".")[1])
	if err != nil {
		b.Fatal(err)
	}
	s := string(pl)
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var c claims
		if err := parseClaims(s, &c); err != nil {
			b.Fatal(err)
		}
	}
}
