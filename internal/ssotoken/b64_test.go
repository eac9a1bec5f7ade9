package ssotoken

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
)

var stdB64 = base64.RawURLEncoding.Strict()

func checkB64(t *testing.T, src string) {
	t.Helper()
	want, wantErr := stdB64.DecodeString(src)
	dst := make([]byte, b64DecodedLen(len(src))+1)
	if len(src)%4 == 1 {
		dst = nil
	}
	got, err := decodeB64(dst, []byte(src))
	if err != nil && wantErr == nil && strings.ContainsAny(src, "\r\n") {
		return // encoding/base64 skips line breaks; a token has none
	}
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("%q: err %v, encoding/base64 err %v", src, err, wantErr)
	}
	if err == nil && !bytes.Equal(got, want) {
		t.Fatalf("%q: %x, encoding/base64 %x", src, got, want)
	}
}

func TestDecodeB64(t *testing.T) {
	for _, s := range []string{
		"", "A", "AA", "AB", "AAA", "AAB", "AAAA", "QQ", "QR", "QUI", "QUJ", "QUJD", "-_-_", "+/+/", "QQ==", "QUI=",
		"a b", "QUJD\n", "QUJDRA", "QUJDRB", "\x00AAA", "\xffAAA", "AAA\x80",
	} {
		checkB64(t, s)
	}
	for n := 0; n < 64; n++ {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*37 + n)
		}
		checkB64(t, base64.RawURLEncoding.EncodeToString(b))
	}
}

func FuzzDecodeB64(f *testing.F) {
	f.Add("QUJDRA")
	f.Add("eyJhbGciOiJSUzI1NiJ9")
	f.Add("QUI=")
	f.Fuzz(func(t *testing.T, s string) {
		checkB64(t, s)
		// And the canonical encoding of arbitrary bytes decodes back.
		checkB64(t, base64.RawURLEncoding.EncodeToString([]byte(s)))
	})
}
