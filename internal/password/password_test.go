package password

import (
	"strings"
	"testing"
)

func TestHashVerify(t *testing.T) {
	h, err := Hash("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("unexpected format %q", h)
	}
	if !Verify("correct horse battery", h) {
		t.Fatal("right password refused")
	}
	for _, bad := range []string{"correct horse batterY", "", "correct horse battery "} {
		if Verify(bad, h) {
			t.Fatalf("wrong password %q accepted", bad)
		}
	}
	h2, _ := Hash("correct horse battery")
	if h == h2 {
		t.Fatal("salt not random")
	}
	if _, err := Hash("short"); err == nil {
		t.Fatal("short password accepted")
	}
	for _, corrupt := range []string{"", "$argon2i$v=19$m=1,t=1,p=1$aa$bb", strings.Replace(h, "m=19456", "m=99999999", 1), h[:len(h)-4]} {
		if Verify("correct horse battery", corrupt) {
			t.Fatalf("corrupt hash %q accepted", corrupt)
		}
	}
}
