package ssotoken

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCacheRepeatedTokenSkipsKeySource(t *testing.T) {
	e := newEnv(t, Config{})
	ck := countKeys(e.v)
	raw := mint(testKey(0), "k0", v2Claims(e.login(), testStart))
	for i := range 5 {
		id, err := e.verify(raw, defaultExpect())
		if err != nil || id.ObjectID != userOID {
			t.Fatalf("verify %d: %v %v", i, id, err)
		}
	}
	if n := ck.n.Load(); n != 1 {
		t.Fatalf("key source called %d times, want 1", n)
	}
	if n := e.ks.total(); n != 1 {
		t.Fatalf("key set fetched %d times, want 1", n)
	}
}

func TestCacheKeyedByExpect(t *testing.T) {
	e := newEnv(t, Config{})
	ck := countKeys(e.v)
	raw := mint(testKey(0), "k0", v2Claims(e.login(), testStart))
	if _, err := e.verify(raw, defaultExpect()); err != nil {
		t.Fatal(err)
	}
	// The same token for another channel is verified afresh, and refused.
	other := defaultExpect()
	other.AppID = "11111111-2222-3333-4444-555555555555"
	other.AppIDURIs = nil
	_, err := e.verify(raw, other)
	checkReason(t, err, ReasonAudience)
	scoped := defaultExpect()
	scoped.Scope = "desk.admin"
	_, err = e.verify(raw, scoped)
	checkReason(t, err, ReasonScope)
	e.ks.publish(v2Path(otherTenant), jwk{kid: "k0", key: testKey(0), issuer: e.ks.v2Template()})
	otherTen := defaultExpect()
	otherTen.TenantID = otherTenant
	_, err = e.verify(raw, otherTen)
	checkReason(t, err, ReasonTenant)
	// Explicit default scope is the same expectation as the empty one.
	explicit := defaultExpect()
	explicit.Scope = DefaultScope
	if _, err := e.verify(raw, explicit); err != nil {
		t.Fatal(err)
	}
	if n := ck.n.Load(); n != 4 {
		t.Fatalf("key source called %d times, want 4", n)
	}
	// AppIDURIs are part of the key, unambiguously.
	a, b := defaultExpect(), defaultExpect()
	a.AppIDURIs = []string{"ab", "c"}
	b.AppIDURIs = []string{"a", "bc"}
	key := func(raw string, w Expect, scope string) [32]byte {
		sc := scratchPool.New().(*scratch)
		sc.buf = append(sc.buf[:0], raw...)
		sc.h.Write(sc.buf)
		k := cacheKey(sc, len(raw), &w, scope)
		// The same as hashing the whole encoding at once.
		if k != sha256.Sum256(sc.buf) {
			t.Fatal("streamed cache key differs from sha256 of its input")
		}
		return k
	}
	if key(raw, a, "s") == key(raw, b, "s") {
		t.Fatal("cache keys collide")
	}
	// The token's extent is part of the encoding: moving bytes between the
	// token and the first expectation field changes the key.
	c := defaultExpect()
	if key(raw, c, "s") == key(raw[:len(raw)-1], Expect{TenantID: raw[len(raw)-1:] + c.TenantID, AppID: c.AppID, AppIDURIs: c.AppIDURIs}, "s") {
		t.Fatal("cache keys collide")
	}
}

func TestCacheExpiry(t *testing.T) {
	e := newEnv(t, Config{})
	ck := countKeys(e.v)
	exp := testStart.Add(time.Hour)
	raw := mint(testKey(0), "k0", v2Claims(e.login(), testStart))
	if _, err := e.verify(raw, defaultExpect()); err != nil {
		t.Fatal(err)
	}
	e.clock.set(exp.Add(-time.Second))
	if _, err := e.verify(raw, defaultExpect()); err != nil {
		t.Fatal(err)
	}
	if n := ck.n.Load(); n != 1 {
		t.Fatalf("key source called %d times before exp, want 1", n)
	}
	// Past exp the cache no longer answers; within the leeway a fresh
	// verification still accepts.
	e.clock.set(exp.Add(30 * time.Second))
	if _, err := e.verify(raw, defaultExpect()); err != nil {
		t.Fatal(err)
	}
	if n := ck.n.Load(); n != 2 {
		t.Fatalf("key source called %d times, want 2 (cache must not answer past exp)", n)
	}
	// Past exp + leeway: refused.
	e.clock.set(exp.Add(2*time.Minute + time.Second))
	_, err := e.verify(raw, defaultExpect())
	checkReason(t, err, ReasonExpired)
}

func TestCacheRefusesAtExpWithoutLeeway(t *testing.T) {
	e := newEnv(t, Config{Leeway: -1})
	exp := testStart.Add(time.Hour)
	raw := mint(testKey(0), "k0", v2Claims(e.login(), testStart))
	if _, err := e.verify(raw, defaultExpect()); err != nil {
		t.Fatal(err)
	}
	e.clock.set(exp)
	_, err := e.verify(raw, defaultExpect())
	checkReason(t, err, ReasonExpired)
}

func TestCacheReturnsCopies(t *testing.T) {
	e := newEnv(t, Config{})
	raw := mint(testKey(0), "k0", v2Claims(e.login(), testStart))
	id1, err := e.verify(raw, defaultExpect())
	if err != nil {
		t.Fatal(err)
	}
	id1.Name = "mallory"
	id1.Scopes = append(id1.Scopes, "extra")
	id2, err := e.verify(raw, defaultExpect())
	if err != nil {
		t.Fatal(err)
	}
	if id2.Name != "Ada Lovelace" || len(id2.Scopes) != 1 {
		t.Fatalf("cached identity modified through a returned one: %+v", id2)
	}
}

func TestCacheDisabled(t *testing.T) {
	e := newEnv(t, Config{CacheSize: -1})
	ck := countKeys(e.v)
	raw := mint(testKey(0), "k0", v2Claims(e.login(), testStart))
	for range 3 {
		if _, err := e.verify(raw, defaultExpect()); err != nil {
			t.Fatal(err)
		}
	}
	if n := ck.n.Load(); n != 3 {
		t.Fatalf("key source called %d times, want 3", n)
	}
}

func TestCacheBounded(t *testing.T) {
	e := newEnv(t, Config{CacheSize: 32})
	c := v2Claims(e.login(), testStart)
	for i := range 150 {
		raw := mint(testKey(0), "k0", with(c, "uti", fmt.Sprint("u", i)))
		if _, err := e.verify(raw, defaultExpect()); err != nil {
			t.Fatal(err)
		}
		if n := e.v.cache.len(); n > 32 {
			t.Fatalf("cache holds %d entries, bound 32", n)
		}
	}
}

func TestCacheEvictsExpiredFirst(t *testing.T) {
	c := newCache(cacheShards * evictSample) // evictSample per shard
	now := testStart
	var live [32]byte
	live[0], live[1] = 0, 0xff
	c.put(live, &Identity{ExpiresAt: now.Add(time.Hour)}, now)
	for i := 1; i < evictSample; i++ {
		var k [32]byte
		k[0], k[1] = 0, byte(i) // shard 0
		c.put(k, &Identity{ExpiresAt: now.Add(time.Minute)}, now)
	}
	later := now.Add(2 * time.Minute) // all but live have expired
	var k [32]byte
	k[1] = 0xee
	c.put(k, &Identity{ExpiresAt: later.Add(time.Hour)}, later)
	if c.get(live, later) == nil || c.get(k, later) == nil {
		t.Fatal("a live entry was evicted while expired ones were there")
	}
	if n := len(c.shards[0].m); n != 2 {
		t.Fatalf("shard holds %d entries, want 2", n)
	}
}

func TestCacheConcurrent(t *testing.T) {
	e := newEnv(t, Config{CacheSize: 64})
	c := v2Claims(e.login(), testStart)
	toks := make([]string, 8)
	for i := range toks {
		toks[i] = mint(testKey(0), "k0", with(c, "uti", fmt.Sprint("c", i)))
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				id, err := e.verify(toks[(g+i)%len(toks)], defaultExpect())
				if err != nil || id.ObjectID != userOID {
					t.Errorf("%v %v", id, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestCacheHitAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	d := loadReal(t)
	v := realVerifier(t, d, d.jwksV2, d.inside, "")
	want := realExpect()
	ctx := context.Background()
	if _, err := v.Verify(ctx, d.raw, want); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := v.Verify(ctx, d.raw, want); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 1 { // the returned copy of the Identity
		t.Fatalf("cache hit allocates %.1f times, want at most 1", allocs)
	}
}

func TestSigningDigest(t *testing.T) {
	raw := "header.payload.signature"
	dot := strings.LastIndexByte(raw, '.')
	want := sha256.Sum256([]byte(raw[:dot]))
	sc := scratchPool.New().(*scratch)
	if sc.app == nil {
		t.Fatal("Go's SHA-256 no longer saves its state: the single-pass hashing is off")
	}
	sc.buf = append(sc.buf[:0], raw...)
	sc.h.Write(sc.buf[:dot])
	sc.mid, _ = sc.app.AppendBinary(sc.mid[:0])
	sc.h.Write(sc.buf[dot:])
	if got := sc.signingDigest(dot); string(got) != string(want[:]) {
		t.Fatal("resumed digest differs")
	}
	sc.mid = sc.mid[:0] // no saved state: the fallback
	if got := sc.signingDigest(dot); string(got) != string(want[:]) {
		t.Fatal("fallback digest differs")
	}
}
