// Package secretbox seals secrets at rest with AES-256-GCM. A sealed value is
// version byte || key id (4 bytes) || nonce (12) || ciphertext+tag, so keys can
// be rotated later without guessing which key sealed what.
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

const version = 1

// Box seals and opens with one 256-bit key.
type Box struct {
	aead  cipher.AEAD
	keyID uint32
}

// New returns a Box for a 32-byte key.
func New(key []byte) (*Box, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("secretbox: key must be 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(key)
	return &Box{aead: aead, keyID: binary.BigEndian.Uint32(sum[:4])}, nil
}

// Seal encrypts plaintext.
func (b *Box) Seal(plaintext []byte) ([]byte, error) {
	out := make([]byte, 5, 5+b.aead.NonceSize()+len(plaintext)+b.aead.Overhead())
	out[0] = version
	binary.BigEndian.PutUint32(out[1:5], b.keyID)
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out = append(out, nonce...)
	// The header is authenticated data: a sealed value cannot be relabelled.
	return b.aead.Seal(out, nonce, plaintext, out[:5]), nil
}

// Open decrypts what Seal produced.
func (b *Box) Open(sealed []byte) ([]byte, error) {
	ns := b.aead.NonceSize()
	if len(sealed) < 5+ns+b.aead.Overhead() || sealed[0] != version {
		return nil, errors.New("secretbox: not a sealed value")
	}
	if binary.BigEndian.Uint32(sealed[1:5]) != b.keyID {
		return nil, errors.New("secretbox: sealed with another key (was TAMLINK_SECRET_KEY changed?)")
	}
	p, err := b.aead.Open(nil, sealed[5:5+ns], sealed[5+ns:], sealed[:5])
	if err != nil {
		return nil, errors.New("secretbox: sealed value is corrupt or was tampered with")
	}
	return p, nil
}

// EnvKey is the environment variable that holds the key (64 hex digits or
// base64 of 32 bytes); it wins over a key file.
const EnvKey = "TAMLINK_SECRET_KEY"

// ParseKey decodes a key written as 64 hex digits or standard/URL base64.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if k, err := hex.DecodeString(s); err == nil && len(k) == 32 {
		return k, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil && len(k) == 32 {
			return k, nil
		}
	}
	return nil, errors.New("secretbox: key must be 32 bytes written as 64 hex digits or base64")
}

// LoadKey finds the key: the environment variable EnvKey, else the file
// keyFile. With create set and neither present, it writes a new random key to
// keyFile (mode 0600) — what `demo` does in its data dir.
func LoadKey(keyFile string, create bool) ([]byte, error) {
	if v := os.Getenv(EnvKey); v != "" {
		k, err := ParseKey(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvKey, err)
		}
		return k, nil
	}
	data, err := os.ReadFile(keyFile)
	if err == nil {
		k, err := ParseKey(string(data))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", keyFile, err)
		}
		return k, nil
	}
	if !errors.Is(err, os.ErrNotExist) || !create {
		return nil, fmt.Errorf("secretbox: no key: set %s or create %s (64 hex digits): %w", EnvKey, keyFile, err)
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(keyFile), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(keyFile, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	if _, err := f.WriteString(hex.EncodeToString(k) + "\n"); err != nil {
		f.Close()
		return nil, err
	}
	return k, f.Close()
}
