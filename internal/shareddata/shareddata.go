// Package shareddata finds the test data the project reads in place and
// never copies into the repository: Microsoft's Teams manifest schema and a
// real Entra-issued token with its keys. CI lays it beside the clone
// (../shared/data); TAMLINK_SHARED_DATA points elsewhere.
package shareddata

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Env names the directory that holds the shared data.
const Env = "TAMLINK_SHARED_DATA"

// Path returns the directory of sub (e.g. "real-aad-tokens") and whether it exists.
func Path(sub string) (string, bool) {
	base := os.Getenv(Env)
	if base == "" {
		_, file, _, _ := runtime.Caller(0)
		// internal/shareddata → repository root → its sibling shared/data.
		base = filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "data")
	}
	dir := filepath.Join(base, sub)
	st, err := os.Stat(dir)
	return dir, err == nil && st.IsDir()
}

// Dir returns the directory of sub for a test. Where it is missing the test
// fails under CI (which always has it) and is skipped elsewhere, saying how
// to provide it.
func Dir(t testing.TB, sub string) string {
	t.Helper()
	dir, ok := Path(sub)
	if !ok {
		msg := "shared test data " + sub + " not found at " + dir + "; set " + Env + " to the directory holding it (CI lays it at ../shared/data beside the clone)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return dir
}
