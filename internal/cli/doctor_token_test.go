package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tamlink/tamlink/internal/emulator"
	"github.com/tamlink/tamlink/internal/shareddata"
)

// realTokenDir is the shared real Entra token data, read in place.
func realTokenDir(t *testing.T) string {
	t.Helper()
	return shareddata.Dir(t, "real-aad-tokens")
}

func TestDoctorTokenOffline(t *testing.T) {
	dir := realTokenDir(t)
	raw, err := os.ReadFile(filepath.Join(dir, "v2-access-token-user-nav-2024-06-28.jwt"))
	if err != nil {
		t.Fatal(err)
	}
	jwks := filepath.Join(dir, "jwks-common-v2-snapshot-2024-07-22.json")

	// The real token, on stdin, inside its validity window: signature and
	// time are the checks, and they pass.
	code, out, errOut := tamlink(t, string(raw), "doctor", "token", "--jwks", jwks, "--at", "2024-06-28T08:00:00Z")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, s := range []string{`"tid"`, "PASS  Signature", "PASS  Validity period", "SKIP  Audience", "all 3 checks that apply passed"} {
		if !strings.Contains(out, s) && !strings.Contains(out, strings.Trim(s, `"`)) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}

	// After it expired: exit 1, and the reason.
	code, out, _ = tamlink(t, "", "doctor", "token", strings.TrimSpace(string(raw)), "--jwks", jwks, "--at", "2024-07-01T00:00:00Z")
	if code != 1 || !strings.Contains(out, "FAIL  Validity period") || !strings.Contains(out, "expired at 2024-06-28T09:22:21Z") {
		t.Errorf("expired: exit %d\n%s", code, out)
	}

	// As a channel of its app and tenant, in JSON: the scope is not access_as_user.
	code, out, _ = tamlink(t, string(raw), "doctor", "token", "-", "--jwks", jwks, "--at", "2024-06-28T08:00:00Z",
		"--app", "bff62dcb-88dc-4a13-9e26-1cbffb96ec64", "--tenant", "966ac572-f5b7-4bbe-aa88-c76419c0f851", "--json")
	var rep struct {
		OK     bool
		Claims map[string]any
		Checks []struct{ ID, Status, Cause, Fix string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json: %v\n%s", err, out)
	}
	failed := map[string]bool{}
	for _, c := range rep.Checks {
		if c.Status == "fail" {
			failed[c.ID] = true
			if c.Cause == "" || c.Fix == "" {
				t.Errorf("failed check %s without cause and fix", c.ID)
			}
		}
	}
	if code != 1 || rep.OK || !failed["scope"] || !failed["server"] || len(failed) != 2 || rep.Claims["oid"] != "799a132a-93c8-427e-92f7-08cb220c879a" {
		t.Errorf("channel checks: exit %d ok %v failed %v", code, rep.OK, failed)
	}

	for _, args := range [][]string{
		{"doctor", "token", "x.y.z"},        // neither --data nor --jwks
		{"doctor", "token", "--jwks", jwks}, // no token
		{"doctor", "token", "x.y.z", "--jwks", jwks, "--at", "yesterday"},
		{"doctor", "token", "a", "b", "--jwks", jwks},
	} {
		if code, _, errOut := tamlink(t, "", args...); code != 2 || !strings.Contains(errOut, "Usage:") {
			t.Errorf("%v: exit %d %s", args, code, errOut)
		}
	}
}

// With a data dir, the channel and the identity platform come from it: here
// the running demo's emulator.
func TestDoctorTokenChannel(t *testing.T) {
	d := startDemo(t)
	alex := d.Users[1]
	good, err := d.Emulator.IssueTeamsToken(d.TenantID, alex.ObjectID, d.AppID, emulator.TokenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := tamlink(t, good, "doctor", "token", "--data", d.Dir, "--app", d.AppID)
	if code != 0 || !strings.Contains(out, "PASS  tamlink's verifier") || !strings.Contains(out, "Teams web") {
		t.Fatalf("good token: exit %d\n%s\n%s", code, out, errOut)
	}

	// The manifest's webApplicationInfo.resource names another domain.
	wrong, err := d.Emulator.IssueTeamsToken(d.TenantID, alex.ObjectID, d.AppID, emulator.TokenOptions{
		ExtraClaims: map[string]any{"aud": "api://other.example.com/" + d.AppID}})
	if err != nil {
		t.Fatal(err)
	}
	code, out, _ = tamlink(t, wrong, "doctor", "token", "--data", d.Dir, "--app", d.AppID)
	if code != 1 || !strings.Contains(out, "aud is api://other.example.com/"+d.AppID) ||
		!strings.Contains(out, "the manifest's webApplicationInfo.resource does not match the Application ID URI") {
		t.Errorf("wrong audience: exit %d\n%s", code, out)
	}

	if code, _, errOut := tamlink(t, good, "doctor", "token", "--data", d.Dir); code != 2 || !strings.Contains(errOut, "--data needs --app") {
		t.Errorf("no --app: exit %d %s", code, errOut)
	}
	if code, _, errOut := tamlink(t, good, "doctor", "token", "--data", d.Dir, "--app", "00000000-0000-4000-8000-000000000000"); code == 0 {
		t.Errorf("unknown channel: exit 0 %s", errOut)
	}
}
