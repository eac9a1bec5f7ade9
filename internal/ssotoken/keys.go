package ssotoken

// Key sets. Each JWK is parsed and checked with jwkset (RSA parameters, x5c
// certificate matching n/e), but fetching and caching are done here rather
// than with keyfunc/v3 + jwkset's HTTP storage, because:
//
//   - jwkset.JWKMarshal has no field for Microsoft's non-standard per-key
//     "issuer" property and drops it, while the multi-tenant rule
//     (entra-docs access-tokens.md) requires checking iss against that property
//     with {tenantid} substituted; so each key's JSON is also read here for it;
//   - we need one set per (tenant, token version), created on demand, each with
//     its own unknown-kid rate limit, a single in-flight fetch, fetch failures
//     that neither poison the set nor lift the rate limit, and the verifier's
//     clock (Config.Now) for the limit, which keyfunc's per-URL global refresh
//     goroutines and rate limiter do not offer;
//   - keyfunc hands keys to jwt.Parser, which is not on our hot path (see
//     claims.go).

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
)

const (
	maxJWKSSize  = 1 << 20 // Microsoft's sets are ~15 KB
	fetchTimeout = 15 * time.Second
	minRSABits   = 2048
)

// sigKey is one trusted signing key.
type sigKey struct {
	kid    string
	pub    *rsa.PublicKey
	issuer string // Microsoft's "issuer" property, "" when absent

	// issuer split around a single "{tenantid}", so matching allocates nothing.
	issPrefix, issSuffix string
	issTemplated         bool
}

// issuerMatches reports whether iss agrees with the key's issuer property
// ({tenantid} replaced by tid). Keys without the property match any iss.
func (k *sigKey) issuerMatches(iss, tid string) bool {
	switch {
	case k.issuer == "":
		return true
	case k.issTemplated:
		return len(iss) == len(k.issPrefix)+len(tid)+len(k.issSuffix) &&
			strings.HasPrefix(iss, k.issPrefix) && strings.HasSuffix(iss, k.issSuffix) &&
			iss[len(k.issPrefix):len(iss)-len(k.issSuffix)] == tid
	case strings.Contains(k.issuer, tenantPlaceholder):
		return strings.ReplaceAll(k.issuer, tenantPlaceholder, tid) == iss
	default:
		return k.issuer == iss
	}
}

const tenantPlaceholder = "{tenantid}"

// parseJWKS returns the usable signing keys of a JWKS document: RSA keys with a
// kid, use "sig" (or none), alg RS256 (or none) and at least 2048 bits. Other
// keys are skipped; a document without any usable key is an error.
func parseJWKS(data []byte) (map[string]*sigKey, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("ssotoken: key set is not a JWKS document: %w", err)
	}
	keys := make(map[string]*sigKey, len(doc.Keys))
	var skipped []string
	for i, raw := range doc.Keys {
		var meta struct {
			Kty    string `json:"kty"`
			Use    string `json:"use"`
			Alg    string `json:"alg"`
			Kid    string `json:"kid"`
			Issuer string `json:"issuer"`
		}
		if err := json.Unmarshal(raw, &meta); err != nil {
			skipped = append(skipped, fmt.Sprintf("key %d: %v", i, err))
			continue
		}
		if meta.Kty != "RSA" || meta.Kid == "" || (meta.Use != "" && meta.Use != "sig") || (meta.Alg != "" && meta.Alg != "RS256") {
			continue // not an RS256 signing key: not for us
		}
		jwk, err := jwkset.NewJWKFromRawJSON(raw, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("key %q: %v", meta.Kid, err))
			continue
		}
		pub, ok := jwk.Key().(*rsa.PublicKey)
		if !ok {
			continue
		}
		if pub.N.BitLen() < minRSABits {
			skipped = append(skipped, fmt.Sprintf("key %q: %d-bit RSA, want at least %d", meta.Kid, pub.N.BitLen(), minRSABits))
			continue
		}
		if _, dup := keys[meta.Kid]; dup {
			skipped = append(skipped, fmt.Sprintf("key %q: duplicate kid, first one kept", meta.Kid))
			continue
		}
		k := &sigKey{kid: meta.Kid, pub: pub, issuer: meta.Issuer}
		if strings.Count(meta.Issuer, tenantPlaceholder) == 1 {
			k.issPrefix, k.issSuffix, _ = strings.Cut(meta.Issuer, tenantPlaceholder)
			k.issTemplated = true
		}
		keys[meta.Kid] = k
	}
	if len(keys) == 0 {
		detail := ""
		if len(skipped) > 0 {
			detail = " (" + strings.Join(skipped, "; ") + ")"
		}
		return nil, fmt.Errorf("ssotoken: key set has no usable RS256 signing key%s", detail)
	}
	return keys, nil
}

// keySource finds the key a token names.
type keySource interface {
	key(ctx context.Context, tenant string, v1 bool, kid string) (*sigKey, error)
}

// staticKeys is a fixed key set used for all tenants and versions.
type staticKeys map[string]*sigKey

func (s staticKeys) key(_ context.Context, _ string, _ bool, kid string) (*sigKey, error) {
	if k := s[kid]; k != nil {
		return k, nil
	}
	return nil, fail(ReasonUnknownKID, "kid %s is not in the configured key set", quote(kid))
}

// remoteKeys fetches and caches one key set per (tenant, version).
type remoteKeys struct {
	login        string
	client       *http.Client
	now          func() time.Time
	refreshEvery time.Duration // min gap between fetches of one set for an unknown kid or a stale set
	retryEvery   time.Duration // min gap between fetches of a set that has never loaded
	maxAge       time.Duration

	mu   sync.RWMutex
	sets map[setID]*keySet
}

type setID struct {
	tenant string
	v1     bool
}

func newRemoteKeys(cfg Config, login string, now func() time.Time) *remoteKeys {
	r := &remoteKeys{
		login:        login,
		client:       cfg.HTTPClient,
		now:          now,
		refreshEvery: cfg.RefreshEvery,
		maxAge:       cfg.MaxKeyAge,
		sets:         make(map[setID]*keySet),
	}
	if r.client == nil {
		r.client = &http.Client{Timeout: 10 * time.Second}
	}
	if r.refreshEvery <= 0 {
		r.refreshEvery = 5 * time.Minute
	}
	if r.maxAge <= 0 {
		r.maxAge = 24 * time.Hour
	}
	// A set that has never loaded (Microsoft unreachable at start) is retried
	// sooner than the unknown-kid limit, but still not on every request.
	r.retryEvery = min(r.refreshEvery, 10*time.Second)
	return r
}

// keySet is one JWKS URL's keys.
type keySet struct {
	url  string
	snap atomic.Pointer[keySnap] // nil until the first successful fetch

	mu        sync.Mutex // guards the fields below
	attemptAt time.Time  // start of the last fetch attempt
	inflight  chan struct{}
	lastErr   error
}

type keySnap struct {
	keys      map[string]*sigKey
	fetchedAt time.Time
}

func (r *remoteKeys) set(tenant string, v1 bool) *keySet {
	id := setID{tenant, v1}
	r.mu.RLock()
	ks := r.sets[id]
	r.mu.RUnlock()
	if ks != nil {
		return ks
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if ks = r.sets[id]; ks == nil {
		// The tenant is Expect.TenantID, checked to be a GUID: safe in a path.
		path := "/discovery/v2.0/keys"
		if v1 {
			path = "/discovery/keys"
		}
		ks = &keySet{url: r.login + "/" + strings.ToLower(tenant) + path}
		r.sets[id] = ks
	}
	return ks
}

func (r *remoteKeys) key(ctx context.Context, tenant string, v1 bool, kid string) (*sigKey, error) {
	ks := r.set(tenant, v1)
	now := r.now()
	snap := ks.snap.Load()
	if snap != nil {
		if k := snap.keys[kid]; k != nil {
			if now.Sub(snap.fetchedAt) < r.maxAge {
				return k, nil
			}
			// Periodic refresh. If it fails, the keys we have stay in use; if
			// it succeeds without this kid, the key was retired.
			_, _ = r.refresh(ctx, ks, now, r.refreshEvery)
			if k := ks.snap.Load().keys[kid]; k != nil {
				return k, nil
			}
			return nil, fail(ReasonUnknownKID, "kid %s was retired from %s", quote(kid), ks.url)
		}
	}

	gap := r.refreshEvery
	if snap == nil {
		gap = r.retryEvery
	}
	fetched, err := r.refresh(ctx, ks, now, gap)
	snap = ks.snap.Load()
	if snap != nil {
		if k := snap.keys[kid]; k != nil {
			return k, nil
		}
	}
	switch {
	case ctx.Err() != nil:
		return nil, &Error{Reason: ReasonKeysUnavailable, Detail: fmt.Sprintf("waiting for key set %s: %v", ks.url, ctx.Err()), err: ctx.Err()}
	case err != nil && (fetched || snap == nil):
		return nil, &Error{Reason: ReasonKeysUnavailable, Detail: fmt.Sprintf("cannot fetch key set %s: %v", ks.url, err), err: err}
	case snap == nil:
		return nil, fail(ReasonKeysUnavailable, "key set %s has not been fetched yet", ks.url)
	case fetched:
		return nil, fail(ReasonUnknownKID, "kid %s is not in %s (just refetched)", quote(kid), ks.url)
	default:
		return nil, fail(ReasonUnknownKID, "kid %s is not in %s (fetched %s ago; refetches are limited to one per %s)",
			quote(kid), ks.url, now.Sub(snap.fetchedAt).Round(time.Second), r.refreshEvery)
	}
}

// refresh fetches ks unless another fetch is in flight (then it waits for that
// one) or the last attempt started less than gap ago. fetched reports whether a
// fetch was made or awaited; err is that fetch's error, or the error of the
// last attempt when rate limited.
func (r *remoteKeys) refresh(ctx context.Context, ks *keySet, now time.Time, gap time.Duration) (fetched bool, err error) {
	ks.mu.Lock()
	ch := ks.inflight
	if ch == nil {
		if !ks.attemptAt.IsZero() && now.Sub(ks.attemptAt) < gap {
			err := ks.lastErr
			ks.mu.Unlock()
			return false, err
		}
		ch = make(chan struct{})
		ks.inflight = ch
		ks.attemptAt = now
		// The fetch is detached from the caller's context: one impatient
		// caller must not fail the fetch for the others waiting on it.
		go r.fetchInto(context.WithoutCancel(ctx), ks, ch, now)
	}
	ks.mu.Unlock()

	select {
	case <-ch:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	ks.mu.Lock()
	err = ks.lastErr
	ks.mu.Unlock()
	return true, err
}

func (r *remoteKeys) fetchInto(ctx context.Context, ks *keySet, done chan struct{}, now time.Time) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	keys, err := r.fetch(ctx, ks.url)
	ks.mu.Lock()
	if err == nil {
		ks.snap.Store(&keySnap{keys: keys, fetchedAt: now})
	}
	ks.lastErr = err
	ks.inflight = nil
	ks.mu.Unlock()
	close(done)
}

func (r *remoteKeys) fetch(ctx context.Context, url string) (map[string]*sigKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("HTTP %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSSize+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxJWKSSize {
		return nil, errors.New("key set larger than 1 MiB")
	}
	return parseJWKS(body)
}
