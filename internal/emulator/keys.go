package emulator

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// signingKey is one RSA key with the self-signed certificate Entra publishes
// alongside it (x5c). Like Entra, kid and x5t are both the base64url SHA-1
// thumbprint of the certificate, so strict JWK parsers (go-jose) that check
// x5t against x5c accept the set.
type signingKey struct {
	kid  string
	priv *rsa.PrivateKey
	cert []byte // DER
}

func (e *Emulator) newSigningKey() (*signingKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return nil, err
	}
	now := e.now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		// The subject Entra's own signing certificates carry.
		Subject:               pkix.Name{CommonName: "accounts.accesscontrol.windows.net"},
		NotBefore:             now.Add(-24 * time.Hour),
		NotAfter:              now.AddDate(5, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return nil, err
	}
	sum := sha1.Sum(der)
	return &signingKey{kid: base64.RawURLEncoding.EncodeToString(sum[:]), priv: priv, cert: der}, nil
}

// RotateSigningKey makes a new key sign from now on. The previous keys stay
// published (and accepted) until RemoveKey, as during Entra's rollover.
func (e *Emulator) RotateSigningKey() (newKid string) {
	k, err := e.newSigningKey()
	if err != nil {
		// crypto/rand does not fail on supported platforms.
		panic(fmt.Sprintf("emulator: generating signing key: %v", err))
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.keys = append(e.keys, k)
	e.active = k
	e.log.Info("emulator: signing key rotated", "kid", k.kid)
	return k.kid
}

// RemoveKey unpublishes a key: tokens it signed no longer verify anywhere in
// the emulator. Removing the active key first rotates to a new one, so the
// emulator can always sign.
func (e *Emulator) RemoveKey(kid string) {
	e.mu.RLock()
	isActive := e.active.kid == kid
	e.mu.RUnlock()
	if isActive {
		e.RotateSigningKey()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.keys = slices.DeleteFunc(e.keys, func(k *signingKey) bool { return k.kid == kid && k != e.active })
	e.log.Info("emulator: signing key removed", "kid", kid)
}

// ActiveKeyID returns the kid that signs new tokens.
func (e *Emulator) ActiveKeyID() string {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.active.kid
}

// sign signs claims with the active key. v1 tokens also carry x5t in the
// header, as Entra's do.
func (e *Emulator) sign(claims jwt.MapClaims, v1 bool) (string, error) {
	e.mu.RLock()
	k := e.active
	e.mu.RUnlock()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = k.kid
	if v1 {
		tok.Header["x5t"] = k.kid
	}
	return tok.SignedString(k.priv)
}

var errUnknownKey = errors.New("signing key not found")

// parseOwnToken verifies a token's RS256 signature against the published
// keys and returns its claims. Time and audience checks are left to callers,
// which answer them with different Microsoft errors.
func (e *Emulator) parseOwnToken(raw string) (jwt.MapClaims, error) {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		e.mu.RLock()
		defer e.mu.RUnlock()
		for _, k := range e.keys {
			if k.kid == kid {
				return &k.priv.PublicKey, nil
			}
		}
		return nil, errUnknownKey
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithoutClaimsValidation())
	if err != nil {
		return nil, err
	}
	return claims, nil
}

type jwk struct {
	Kty    string   `json:"kty"`
	Use    string   `json:"use"`
	Kid    string   `json:"kid"`
	X5t    string   `json:"x5t"`
	N      string   `json:"n"`
	E      string   `json:"e"`
	X5c    []string `json:"x5c"`
	Issuer string   `json:"issuer,omitempty"`
}

func (e *Emulator) jwks(issuer string) map[string][]jwk {
	e.mu.RLock()
	defer e.mu.RUnlock()
	keys := make([]jwk, 0, len(e.keys))
	// Newest first: clients that try keys in order hit the active one.
	for i := len(e.keys) - 1; i >= 0; i-- {
		k := e.keys[i]
		keys = append(keys, jwk{
			Kty:    "RSA",
			Use:    "sig",
			Kid:    k.kid,
			X5t:    k.kid,
			N:      base64.RawURLEncoding.EncodeToString(k.priv.N.Bytes()),
			E:      base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.priv.E)).Bytes()),
			X5c:    []string{base64.StdEncoding.EncodeToString(k.cert)},
			Issuer: issuer,
		})
	}
	return map[string][]jwk{"keys": keys}
}

// handleKeysV2 serves /{tenant}/discovery/v2.0/keys. Each key names the v2
// issuer in template form, which validators fill with the token's tid.
func (e *Emulator) handleKeysV2(w http.ResponseWriter, r *http.Request) {
	if !e.checkDiscoveryTenant(w, r) {
		return
	}
	writeDiscoveryJSON(w, e.jwks(e.login+"/{tenantid}/v2.0"))
}

// handleKeysV1 serves /{tenant}/discovery/keys (v1: no issuer property).
func (e *Emulator) handleKeysV1(w http.ResponseWriter, r *http.Request) {
	if !e.checkDiscoveryTenant(w, r) {
		return
	}
	writeDiscoveryJSON(w, e.jwks(""))
}

func writeDiscoveryJSON(w http.ResponseWriter, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "max-age=86400, private")
	// Entra serves metadata to browsers (SPAs) too.
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "GET, OPTIONS")
	_ = json.NewEncoder(w).Encode(v)
}
