package ssotoken

import (
	"encoding/binary"
	"sync"
	"time"
)

// cache holds verified identities by sha256(token, Expect) until the token's
// exp. It is split into shards, each a map under its own RWMutex: a hit takes
// one read lock and allocates nothing. A full shard evicts by sampling: the
// first few entries of a map iteration (which starts at a random position) are
// checked, expired ones are dropped, and if none had expired the sampled entry
// expiring soonest goes.
type cache struct {
	perShard int
	shards   [cacheShards]cacheShard
}

const (
	cacheShards = 16
	evictSample = 8
)

type cacheShard struct {
	mu sync.RWMutex
	m  map[[32]byte]cacheEntry
}

type cacheEntry struct {
	id  *Identity
	exp time.Time
}

func newCache(size int) *cache {
	c := &cache{perShard: max(1, (size+cacheShards-1)/cacheShards)}
	for i := range c.shards {
		// Sized up front (up to a point) so that filling the cache never rehashes.
		c.shards[i].m = make(map[[32]byte]cacheEntry, min(c.perShard, 4096))
	}
	return c
}

// get returns the identity cached under k if its token has not expired at now.
func (c *cache) get(k [32]byte, now time.Time) *Identity {
	s := &c.shards[k[0]%cacheShards]
	s.mu.RLock()
	e, ok := s.m[k]
	s.mu.RUnlock()
	if !ok || !now.Before(e.exp) {
		return nil
	}
	return e.id
}

func (c *cache) put(k [32]byte, id *Identity, now time.Time) {
	s := &c.shards[k[0]%cacheShards]
	s.mu.Lock()
	if _, ok := s.m[k]; !ok && len(s.m) >= c.perShard {
		s.evict(now)
	}
	s.m[k] = cacheEntry{id: id, exp: id.ExpiresAt}
	s.mu.Unlock()
}

func (s *cacheShard) evict(now time.Time) {
	var victim [32]byte
	var victimExp time.Time
	found, expired, n := false, false, 0
	for k, e := range s.m {
		if !now.Before(e.exp) {
			delete(s.m, k)
			expired = true
		} else if !found || e.exp.Before(victimExp) {
			victim, victimExp, found = k, e.exp, true
		}
		if n++; n == evictSample {
			break
		}
	}
	if !expired && found {
		delete(s.m, victim)
	}
}

func (c *cache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}

// cacheKey finishes the SHA-256 that Verify started over the token (the first
// n bytes of sc.buf) with the expectation, appended to sc.buf as
// length-prefixed fields and then the token's length. So the key is
// sha256(token || fields || len(token)), and no two different (token,
// expectation) pairs share an input: the trailer gives the token's extent, and
// the fields decode uniquely.
func cacheKey(sc *scratch, n int, want *Expect, scope string) (key [32]byte) {
	b := sc.buf[:n]
	b = appendField(b, want.TenantID)
	b = appendField(b, want.AppID)
	b = binary.BigEndian.AppendUint32(b, uint32(len(want.AppIDURIs)))
	for _, u := range want.AppIDURIs {
		b = appendField(b, u)
	}
	b = appendField(b, scope)
	b = binary.BigEndian.AppendUint32(b, uint32(n))
	sc.buf = b
	sc.h.Write(b[n:])
	sc.sum = sc.h.Sum(sc.sum[:0])
	copy(key[:], sc.sum)
	return key
}

func appendField(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}
