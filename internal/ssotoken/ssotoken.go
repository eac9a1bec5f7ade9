// Package ssotoken verifies the Microsoft Entra ID access tokens that a Teams
// tab obtains with @microsoft/teams-js authentication.getAuthToken() and sends
// to tamlink (Teams tab SSO).
//
// A token is accepted only if all of these hold (checked in this order, the
// first failure decides the Reason):
//
//   - it is at most MaxTokenSize bytes, has three base64url segments and JSON
//     header and payload (else "oversized" / "malformed");
//   - the header alg is exactly RS256 ("algorithm": none, HS256 — including
//     HS256 keyed with the public key —, RS384, PS256, ES256 ... are refused),
//     it carries no "crit" parameter ("crit": we implement no JWS extensions)
//     and it names a kid ("malformed");
//   - ver is "1.0" or "2.0" ("version");
//   - the kid is in the key set of the channel's tenant for that token version
//     (v2: {LoginURL}/{tenant}/discovery/v2.0/keys, v1:
//     {LoginURL}/{tenant}/discovery/keys). An unknown kid causes at most one
//     refetch of that set per Config.RefreshEvery ("unknown_kid"; "keys_unavailable"
//     when the set cannot be fetched);
//   - the RS256 signature verifies with that key ("signature");
//   - tid is a GUID and is the channel's tenant ("tenant"; a personal Microsoft
//     account token, tid 9188040d-6c67-4c5b-b112-36a304b66dad, gets
//     "personal_account");
//   - iss is exactly the tenant's issuer for the token version — v2:
//     LoginURL+"/"+tid+"/v2.0", v1: STSURL+"/"+tid+"/" — and, when the signing
//     key carries Microsoft's "issuer" property, that property with {tenantid}
//     replaced by tid equals iss ("issuer");
//   - aud is the app's client id or one of its App ID URIs, as a string or a
//     one-element array ("audience");
//   - it is a delegated (user) token: a token with roles and no scp is app-only
//     ("app_only"); scp contains the required scope ("scope");
//   - oid is present ("missing_claim");
//   - exp, nbf and iat hold within Config.Leeway ("expired", "not_yet_valid",
//     "issued_in_future"); exp is required.
//
// Accepted tokens are cached (keyed by sha256 of the token and the Expect) until
// their exp, so a token Teams hands out again and again costs one hash and a
// map lookup instead of an RSA verification.
//
// Keys embedded in or referenced by the token header (jwk, jku, x5u, x5c) are
// ignored: only keys from the configured key set are trusted.
package ssotoken

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

const (
	// MaxTokenSize is the largest token Verify looks at. Entra access tokens are
	// 1–3 KiB; a user in very many groups gets a groups-overage claim instead of
	// a longer token.
	MaxTokenSize = 16 << 10

	// DefaultScope is the delegated scope required when Expect.Scope is empty.
	DefaultScope = "access_as_user"

	// PersonalAccountsTenant is the tenant id of personal Microsoft accounts
	// (outlook.com, hotmail.com, live.com ...).
	PersonalAccountsTenant = "9188040d-6c67-4c5b-b112-36a304b66dad"

	// DefaultLoginURL and DefaultSTSURL are the public-cloud Entra endpoints.
	DefaultLoginURL = "https://login.microsoftonline.com"
	DefaultSTSURL   = "https://sts.windows.net"

	graphAppID = "00000003-0000-0000-c000-000000000000"
)

// Config configures a Verifier. The zero value is usable: every field has a
// default.
type Config struct {
	LoginURL     string       // "https://login.microsoftonline.com" (or the emulator's, e.g. http://127.0.0.1:8080/emulator/login); v2 iss = LoginURL+"/"+tid+"/v2.0"
	STSURL       string       // "https://sts.windows.net" — v1 issuer base: v1 iss = STSURL+"/"+tid+"/"
	HTTPClient   *http.Client // for key sets; default: a client with a 10s timeout
	Now          func() time.Time
	Leeway       time.Duration // clock skew allowance for exp/nbf/iat; 0 means the default 2m, negative means none
	RefreshEvery time.Duration // min interval between fetches of one key set for an unknown kid (default 5m)
	MaxKeyAge    time.Duration // a key set older than this is refetched on its next use (default 24h, Microsoft's advice)
	CacheSize    int           // verified-token cache entries (default 10000; negative disables the cache)
}

// Expect is what the channel a token is presented to requires of it.
type Expect struct {
	TenantID  string   // the channel's tenant: tid must equal it, iss must be that tenant's v1 or v2 issuer
	AppID     string   // the channel's client id: aud may be this GUID
	AppIDURIs []string // or one of these (api://host/{appId}) — v1 tokens may carry the URI
	Scope     string   // required delegated scope, "access_as_user" by default when empty
}

// Identity is what a verified token says about its user.
//
// Identities may be shared with the verified-token cache: the struct is a copy,
// but the elements of Scopes must not be modified.
type Identity struct {
	TenantID          string // tid
	ObjectID          string // oid: the user's stable id in the tenant
	Subject           string // sub: pairwise per app
	Name              string // name
	PreferredUsername string // preferred_username (v2); for v1 tokens, which lack it, unique_name
	UPN               string // upn (optional claim)
	Version           string // ver: "1.0" or "2.0"
	Issuer            string // iss
	Audience          string // aud (the matched value)
	AuthorizedParty   string // azp (v2) or appid (v1): the client that asked for the token (Teams, Outlook ...)
	Scopes            []string
	IssuedAt          time.Time
	NotBefore         time.Time
	ExpiresAt         time.Time
	IdentityProvider  string // idp claim when present (guests: the home tenant's issuer, or live.com)
}

// Reason is a stable machine code for why a token was refused.
type Reason string

// Reasons. "config" and "keys_unavailable" are the server's fault; every other
// reason is the token's.
const (
	ReasonMalformed       Reason = "malformed"        // not a JWS compact token with JSON header and payload, or a claim of the wrong type
	ReasonOversized       Reason = "oversized"        // longer than MaxTokenSize
	ReasonAlgorithm       Reason = "algorithm"        // alg is not RS256
	ReasonCrit            Reason = "crit"             // header has a crit parameter
	ReasonVersion         Reason = "version"          // ver is not "1.0" or "2.0"
	ReasonUnknownKID      Reason = "unknown_kid"      // kid not in the tenant's key set, even after a refetch
	ReasonKeysUnavailable Reason = "keys_unavailable" // the key set could not be fetched
	ReasonSignature       Reason = "signature"        // RS256 signature does not verify
	ReasonTenant          Reason = "tenant"           // tid is not a GUID or not the channel's tenant
	ReasonPersonalAccount Reason = "personal_account" // token of a personal Microsoft account (MSA tenant)
	ReasonIssuer          Reason = "issuer"           // iss is not the tenant's issuer for the token version, or disagrees with the key's issuer
	ReasonAudience        Reason = "audience"         // aud is not the app
	ReasonAppOnly         Reason = "app_only"         // application token (roles, no scp): no user
	ReasonScope           Reason = "scope"            // scp lacks the required scope
	ReasonMissingClaim    Reason = "missing_claim"    // oid or exp missing
	ReasonExpired         Reason = "expired"          // past exp (+ leeway)
	ReasonNotYetValid     Reason = "not_yet_valid"    // before nbf (- leeway)
	ReasonIssuedInFuture  Reason = "issued_in_future" // iat after now (+ leeway)
	ReasonConfig          Reason = "config"           // the Expect is unusable (tenant or app id not a GUID, no audience)
)

// Error is the error Verify and Decode return. Detail is for logs and
// diagnostics: it never contains the token, but may quote claims.
type Error struct {
	Reason Reason
	Detail string
	err    error // underlying cause (fetch error, context error), for errors.Is
}

func (e *Error) Error() string { return "ssotoken: " + string(e.Reason) + ": " + e.Detail }

// Unwrap returns the underlying cause, if any (e.g. a context or network error
// behind keys_unavailable).
func (e *Error) Unwrap() error { return e.err }

// ReasonOf returns the Reason of an *Error in err's chain, or "" if there is none.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

func fail(r Reason, format string, args ...any) *Error {
	return &Error{Reason: r, Detail: fmt.Sprintf(format, args...)}
}

// Verifier verifies tokens. It is safe for concurrent use.
type Verifier struct {
	login  string // LoginURL without trailing slash
	sts    string // STSURL without trailing slash
	now    func() time.Time
	leeway time.Duration
	keys   keySource
	cache  *cache // nil when disabled

	lastHeader atomic.Pointer[headerEntry]
}

// headerEntry is a base64url header segment and what it decodes to.
type headerEntry struct {
	seg string
	h   header
}

// New returns a Verifier that fetches each tenant's key sets from
// {LoginURL}/{tenant}/discovery/v2.0/keys (v2 tokens) and
// {LoginURL}/{tenant}/discovery/keys (v1 tokens) on first use.
//
// The tenant is Expect.TenantID, not the token's unverified tid: the sets
// fetched are bounded by the configured channels, and a token naming another
// tenant is refused anyway. Microsoft serves the same keys for every tenant, so
// a genuine token from another tenant still verifies and is refused with
// "tenant".
func New(cfg Config) *Verifier {
	v := newVerifier(cfg)
	v.keys = newRemoteKeys(cfg, v.login, v.now)
	return v
}

// NewWithKeySet returns a Verifier that trusts exactly the RSA signing keys of
// the JWKS document jwksJSON, for every tenant and both token versions, and
// never fetches keys (an unknown kid is refused at once). For offline
// diagnostics and tests.
func NewWithKeySet(cfg Config, jwksJSON []byte) (*Verifier, error) {
	keys, err := parseJWKS(jwksJSON)
	if err != nil {
		return nil, err
	}
	v := newVerifier(cfg)
	v.keys = staticKeys(keys)
	return v, nil
}

func newVerifier(cfg Config) *Verifier {
	v := &Verifier{
		login:  strings.TrimRight(cfg.LoginURL, "/"),
		sts:    strings.TrimRight(cfg.STSURL, "/"),
		now:    cfg.Now,
		leeway: cfg.Leeway,
	}
	if v.login == "" {
		v.login = DefaultLoginURL
	}
	if v.sts == "" {
		v.sts = DefaultSTSURL
	}
	if v.now == nil {
		v.now = time.Now
	}
	switch {
	case v.leeway == 0:
		v.leeway = 2 * time.Minute
	case v.leeway < 0:
		v.leeway = 0
	}
	size := cfg.CacheSize
	if size == 0 {
		size = 10000
	}
	if size > 0 {
		v.cache = newCache(size)
	}
	return v
}

// Verify checks raw against want and returns the identity it carries (a copy
// the caller may keep and change, except for the elements of Scopes). Every
// refusal is an *Error; its Reason says why. ctx bounds only the wait for a
// key set fetch.
func (v *Verifier) Verify(ctx context.Context, raw string, want Expect) (*Identity, error) {
	if len(raw) > MaxTokenSize {
		return nil, fail(ReasonOversized, "token is %d bytes, the limit is %d", len(raw), MaxTokenSize)
	}
	if err := checkExpect(&want); err != nil {
		return nil, err
	}
	scope := want.Scope
	if scope == "" {
		scope = DefaultScope
	}
	now := v.now()

	// Per-call working memory: the token's bytes (copied once: the source for
	// hashing and base64 decoding), a SHA-256 state and decoding space.
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	sc.buf = append(sc.buf[:0], raw...)

	// One SHA-256 pass over the token serves both the cache key (continued
	// over the expectation) and, on a miss, the RS256 digest of the signing
	// input (header.payload, up to the last '.'): the hash state at the last
	// '.' is saved, and finished only if the token has to be verified.
	dot := strings.LastIndexByte(raw, '.')
	sc.h.Reset()
	sc.mid = sc.mid[:0]
	if dot >= 0 {
		sc.h.Write(sc.buf[:dot])
		if sc.app != nil {
			sc.mid, _ = sc.app.AppendBinary(sc.mid)
		}
		sc.h.Write(sc.buf[dot:])
	} else {
		sc.h.Write(sc.buf)
	}

	var key [32]byte
	if v.cache != nil {
		key = cacheKey(sc, len(raw), &want, scope)
		if id := v.cache.get(key, now); id != nil {
			cp := *id
			return &cp, nil
		}
	}

	id, err := v.verify(ctx, raw, sc, dot, &want, scope, now)
	if err != nil {
		return nil, err
	}
	if v.cache != nil && now.Before(id.ExpiresAt) {
		v.cache.put(key, id, now)
	}
	cp := *id
	return &cp, nil
}

// scratch is per-call working memory, pooled.
type scratch struct {
	buf    []byte    // the token, then the cache-key encoding of the expectation
	h      hash.Hash // SHA-256 over the token and the expectation
	h2     hash.Hash // SHA-256 resumed from mid
	app    encoding.BinaryAppender
	unm    encoding.BinaryUnmarshaler
	mid    []byte // h's state at the token's last '.'
	digest []byte // SHA-256 of the signing input
	sum    []byte // the cache key
	dec    []byte // a decoded segment
}

var scratchPool = sync.Pool{New: func() any {
	sc := &scratch{
		buf:    make([]byte, 0, 4096),
		h:      sha256.New(),
		h2:     sha256.New(),
		mid:    make([]byte, 0, 128),
		digest: make([]byte, 0, sha256.Size),
		sum:    make([]byte, 0, sha256.Size),
		dec:    make([]byte, 0, 2048),
	}
	// Saving and resuming the state is supported by Go's SHA-256; without it
	// (other implementations) the signing input is hashed separately.
	app, ok1 := sc.h.(encoding.BinaryAppender)
	unm, ok2 := sc.h2.(encoding.BinaryUnmarshaler)
	if ok1 && ok2 {
		sc.app, sc.unm = app, unm
	}
	return sc
}}

// signingDigest returns the SHA-256 of sc.buf[:dot], from the saved state when
// there is one.
func (sc *scratch) signingDigest(dot int) []byte {
	if len(sc.mid) > 0 && sc.unm.UnmarshalBinary(sc.mid) == nil {
		sc.digest = sc.h2.Sum(sc.digest[:0])
	} else {
		d := sha256.Sum256(sc.buf[:dot])
		sc.digest = append(sc.digest[:0], d[:]...)
	}
	return sc.digest
}

// decode base64url-decodes src into sc.dec (reused: valid until the next call).
func (sc *scratch) decode(src []byte) ([]byte, error) {
	if n := b64DecodedLen(len(src)); cap(sc.dec) < n {
		sc.dec = make([]byte, n)
	}
	return decodeB64(sc.dec[:cap(sc.dec)], src)
}

// verify does the work for a token not in the cache. sc holds the token's bytes
// and, if the token has a '.', the SHA-256 state after raw[:lastDot].
func (v *Verifier) verify(ctx context.Context, raw string, sc *scratch, lastDot int, want *Expect, scope string, now time.Time) (*Identity, error) {
	rawB := sc.buf[:len(raw)] // the same bytes as raw

	// Shape: header.payload.signature, all base64url.
	d1 := strings.IndexByte(raw, '.')
	if d1 < 0 {
		return nil, fail(ReasonMalformed, "not a JWT: no '.' separators")
	}
	d2 := strings.IndexByte(raw[d1+1:], '.')
	if d2 < 0 {
		return nil, fail(ReasonMalformed, "not a JWS: 2 segments, want 3")
	}
	d2 += d1 + 1
	if d2 != lastDot {
		return nil, fail(ReasonMalformed, "not a JWS compact token: more than 3 segments (encrypted JWE tokens are not supported)")
	}

	// Header. Entra's headers repeat (alg, kid, typ, x5t): the last good one
	// is kept, decoding being a pure function of the segment.
	var h header
	last := v.lastHeader.Load()
	if last != nil && last.seg == raw[:d1] {
		h = last.h
	} else {
		last = nil
		hb, err := sc.decode(rawB[:d1])
		if err != nil {
			return nil, fail(ReasonMalformed, "header is not base64url: %v", err)
		}
		if err := parseHeader(string(hb), &h); err != nil {
			return nil, fail(ReasonMalformed, "header: %v", err)
		}
	}
	if h.alg != jwt.SigningMethodRS256.Alg() {
		switch {
		case h.alg == "":
			return nil, fail(ReasonAlgorithm, "header has no alg")
		case strings.EqualFold(h.alg, "none"):
			return nil, fail(ReasonAlgorithm, "unsigned token (alg %s) refused; only RS256 is accepted", quote(h.alg))
		default:
			return nil, fail(ReasonAlgorithm, "alg %s refused; only RS256 is accepted", quote(h.alg))
		}
	}
	if h.crit {
		return nil, fail(ReasonCrit, "header has a crit parameter; no JWS extensions are supported")
	}
	if h.kid == "" {
		return nil, fail(ReasonMalformed, "header has no kid")
	}
	if last == nil && d1 <= 512 {
		v.lastHeader.Store(&headerEntry{seg: strings.Clone(raw[:d1]), h: h})
	}

	// Payload. The claims strings are slices of this one string.
	pb, err := sc.decode(rawB[d1+1 : d2])
	if err != nil {
		return nil, fail(ReasonMalformed, "payload is not base64url: %v", err)
	}
	var c claims
	if err := parseClaims(string(pb), &c); err != nil {
		return nil, fail(ReasonMalformed, "payload: %v", err)
	}
	sig, err := sc.decode(rawB[d2+1:])
	if err != nil {
		return nil, fail(ReasonMalformed, "signature is not base64url: %v", err)
	}

	// The version selects the key set and the issuer form.
	var v1 bool
	switch c.ver {
	case "2.0":
	case "1.0":
		v1 = true
	case "":
		return nil, fail(ReasonVersion, "no ver claim")
	default:
		return nil, fail(ReasonVersion, "ver %s, want \"1.0\" or \"2.0\"", quote(c.ver))
	}

	k, err := v.keys.key(ctx, want.TenantID, v1, h.kid)
	if err != nil {
		return nil, err
	}
	// RSASSA-PKCS1-v1_5 with SHA-256 over header.payload: exactly what
	// jwt.SigningMethodRS256.Verify does, minus its copy and second hash of the
	// signing input (that wrapper alone measured ~6% of an RSA-2048
	// verification). TestAcceptedTokensVerifyWithGolangJWT cross-checks.
	if err := rsa.VerifyPKCS1v15(k.pub, crypto.SHA256, sc.signingDigest(d2), sig); err != nil {
		return nil, &Error{Reason: ReasonSignature, Detail: fmt.Sprintf("RS256 signature does not verify with key %s", quote(h.kid)), err: err}
	}

	// From here on the claims are Microsoft's.
	if !isGUID(c.tid) || hasUpper(c.tid) {
		if c.tid == "" {
			return nil, fail(ReasonTenant, "no tid claim")
		}
		return nil, fail(ReasonTenant, "tid %s is not a lower-case GUID", quote(c.tid))
	}
	if !strings.EqualFold(c.tid, want.TenantID) {
		if strings.EqualFold(c.tid, PersonalAccountsTenant) {
			return nil, fail(ReasonPersonalAccount, "token is for a personal Microsoft account (tenant %s); sign in with a work or school account of tenant %s", PersonalAccountsTenant, want.TenantID)
		}
		return nil, fail(ReasonTenant, "token is from tenant %s, this channel belongs to tenant %s", c.tid, want.TenantID)
	}
	base, suffix := v.login, "/v2.0"
	if v1 {
		base, suffix = v.sts, "/"
	}
	if !isIssuer(c.iss, base, c.tid, suffix) {
		return nil, fail(ReasonIssuer, "iss %s, want %s for a v%s token of tenant %s", quote(c.iss), base+"/"+c.tid+suffix, c.ver, c.tid)
	}
	if !k.issuerMatches(c.iss, c.tid) {
		return nil, fail(ReasonIssuer, "iss %s does not match the issuer %s of signing key %s", quote(c.iss), quote(k.issuer), quote(h.kid))
	}

	if err := checkAudience(&c, want); err != nil {
		return nil, err
	}

	if !c.hasScp {
		if c.hasRoles {
			return nil, fail(ReasonAppOnly, "application token (roles, no scp): it has no signed-in user")
		}
		return nil, fail(ReasonScope, "no scp claim; want delegated scope %s", quote(scope))
	}
	if !hasScope(c.scp, scope) {
		return nil, fail(ReasonScope, "scp %s lacks %s", quote(c.scp), quote(scope))
	}
	if c.oid == "" {
		return nil, fail(ReasonMissingClaim, "no oid claim")
	}

	if !c.hasExp {
		return nil, fail(ReasonMissingClaim, "no exp claim")
	}
	exp := time.Unix(c.exp, 0).UTC()
	if !now.Before(exp.Add(v.leeway)) {
		return nil, fail(ReasonExpired, "expired at %s (now %s, leeway %s)", exp.Format(time.RFC3339), now.UTC().Format(time.RFC3339), v.leeway)
	}
	var nbf, iat time.Time
	if c.hasNbf {
		nbf = time.Unix(c.nbf, 0).UTC()
		if now.Add(v.leeway).Before(nbf) {
			return nil, fail(ReasonNotYetValid, "not valid before %s (now %s, leeway %s)", nbf.Format(time.RFC3339), now.UTC().Format(time.RFC3339), v.leeway)
		}
	}
	if c.hasIat {
		iat = time.Unix(c.iat, 0).UTC()
		if iat.After(now.Add(v.leeway)) {
			return nil, fail(ReasonIssuedInFuture, "issued at %s, in the future (now %s, leeway %s)", iat.Format(time.RFC3339), now.UTC().Format(time.RFC3339), v.leeway)
		}
	}

	id := &Identity{
		TenantID:          c.tid,
		ObjectID:          c.oid,
		Subject:           c.sub,
		Name:              c.name,
		PreferredUsername: c.preferredUsername,
		UPN:               c.upn,
		Version:           c.ver,
		Issuer:            c.iss,
		Audience:          c.aud,
		AuthorizedParty:   c.azp,
		Scopes:            splitScopes(c.scp),
		IssuedAt:          iat,
		NotBefore:         nbf,
		ExpiresAt:         exp,
		IdentityProvider:  c.idp,
	}
	if v1 {
		if id.PreferredUsername == "" {
			id.PreferredUsername = c.uniqueName
		}
		if id.AuthorizedParty == "" {
			id.AuthorizedParty = c.appid
		}
	}
	return id, nil
}

func checkExpect(want *Expect) error {
	if !isGUID(want.TenantID) {
		return fail(ReasonConfig, "Expect.TenantID %s is not a GUID", quote(want.TenantID))
	}
	if want.AppID == "" && len(want.AppIDURIs) == 0 {
		return fail(ReasonConfig, "Expect has neither AppID nor AppIDURIs")
	}
	if want.AppID != "" && !isGUID(want.AppID) {
		return fail(ReasonConfig, "Expect.AppID %s is not a GUID", quote(want.AppID))
	}
	for _, u := range want.AppIDURIs {
		if u == "" {
			return fail(ReasonConfig, "Expect.AppIDURIs has an empty entry")
		}
	}
	if strings.ContainsAny(want.Scope, " \t\n") {
		return fail(ReasonConfig, "Expect.Scope %s is not a single scope", quote(want.Scope))
	}
	return nil
}

func checkAudience(c *claims, want *Expect) error {
	switch c.audCount {
	case 0:
		return fail(ReasonAudience, "no aud claim")
	case 1:
	default:
		return fail(ReasonAudience, "aud has %d values; want exactly one", c.audCount)
	}
	if want.AppID != "" && strings.EqualFold(c.aud, want.AppID) {
		return nil
	}
	for _, u := range want.AppIDURIs {
		if c.aud == u {
			return nil
		}
	}
	if strings.EqualFold(c.aud, graphAppID) || strings.HasPrefix(c.aud, "https://graph.microsoft.com") {
		return fail(ReasonAudience, "token is for Microsoft Graph (aud %s), not for this app: the tab must request a token for its own App ID URI", quote(c.aud))
	}
	return fail(ReasonAudience, "aud %s is not this app (%s)", quote(c.aud), describeAudiences(want))
}

func describeAudiences(want *Expect) string {
	var parts []string
	if want.AppID != "" {
		parts = append(parts, want.AppID)
	}
	parts = append(parts, want.AppIDURIs...)
	return strings.Join(parts, " or ")
}

// hasScope reports whether the space-separated scp contains scope.
func hasScope(scp, scope string) bool {
	for scp != "" {
		var s string
		s, scp, _ = strings.Cut(scp, " ")
		if s == scope {
			return true
		}
	}
	return false
}

func splitScopes(scp string) []string {
	f := strings.Fields(scp)
	return f[:len(f):len(f)] // appending to a shared (cached) slice must copy
}

// isGUID reports whether s is a GUID in 8-4-4-4-12 hex form.
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// isIssuer reports whether iss == base+"/"+tid+suffix, without building it.
func isIssuer(iss, base, tid, suffix string) bool {
	n := len(base) + 1 + len(tid)
	return len(iss) == n+len(suffix) && iss[:len(base)] == base && iss[len(base)] == '/' &&
		iss[len(base)+1:n] == tid && iss[n:] == suffix
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}

// quote quotes a token-supplied value for an error detail, shortened so that a
// hostile token cannot flood the logs.
func quote(s string) string {
	const max = 120
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return fmt.Sprintf("%q…", s[:cut])
	}
	return fmt.Sprintf("%q", s)
}
