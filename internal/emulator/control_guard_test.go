package emulator

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The standalone emulator's control API must not be drivable by a web page
// a developer happens to visit (found by the security review).
func TestControlGuard(t *testing.T) {
	e, err := New(Config{BaseURL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	h := e.Standalone()
	do := func(method, host, ctype string, hdr map[string]string) int {
		req := httptest.NewRequest(method, "http://"+host+"/control/teamwork/reset", strings.NewReader("{}"))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	if code := do("POST", "127.0.0.1:18095", "application/json", nil); code != http.StatusNoContent {
		t.Fatalf("a local JSON call: %d", code)
	}
	if code := do("POST", "127.0.0.1:18095", "application/json", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}); code != http.StatusForbidden {
		t.Fatalf("cross-site call: %d", code)
	}
	if code := do("POST", "127.0.0.1:18095", "text/plain", nil); code != http.StatusUnsupportedMediaType {
		t.Fatalf("text/plain call: %d", code)
	}
	if code := do("POST", "evil.example:18095", "application/json", nil); code != http.StatusForbidden {
		t.Fatalf("rebound host: %d", code)
	}
}
