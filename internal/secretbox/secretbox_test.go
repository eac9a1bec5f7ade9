package secretbox

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestSealOpen(t *testing.T) {
	b, err := New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("s3cr3t~Value.With_Chars")
	sealed, err := b.Seal(secret)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, secret) {
		t.Fatal("sealed value contains the plaintext")
	}
	got, err := b.Open(sealed)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	sealed2, _ := b.Seal(secret)
	if bytes.Equal(sealed, sealed2) {
		t.Fatal("two seals of one value are equal: nonce reused")
	}
	for i := range sealed {
		bad := bytes.Clone(sealed)
		bad[i] ^= 1
		if _, err := b.Open(bad); err == nil {
			t.Fatalf("flipping byte %d was not detected", i)
		}
	}
	other, _ := New(bytes.Repeat([]byte{8}, 32))
	if _, err := other.Open(sealed); err == nil {
		t.Fatal("another key opened the value")
	}
}

func TestLoadKey(t *testing.T) {
	t.Setenv(EnvKey, "")
	dir := t.TempDir()
	f := filepath.Join(dir, "sub", "secret.key")
	if _, err := LoadKey(f, false); err == nil {
		t.Fatal("missing key without create: want error")
	}
	k1, err := LoadKey(f, true)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(f)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v", st.Mode())
	}
	k2, err := LoadKey(f, true)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatal("second load returned another key")
	}
	t.Setenv(EnvKey, "not a key")
	if _, err := LoadKey(f, true); err == nil {
		t.Fatal("bad env key accepted")
	}
	t.Setenv(EnvKey, "0000000000000000000000000000000000000000000000000000000000000001")
	k3, err := LoadKey(f, true)
	if err != nil || k3[31] != 1 {
		t.Fatalf("env key not used: %v", err)
	}
}
