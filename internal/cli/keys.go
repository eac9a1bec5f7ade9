package cli

import (
	"crypto/hmac"
	"crypto/sha256"
)

// deriveKey derives a purpose-bound subkey, so the secret key is never used
// directly for two things.
func deriveKey(key []byte, purpose string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("tamlink/" + purpose))
	return m.Sum(nil)
}
