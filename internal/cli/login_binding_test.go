package cli_test

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Two sign-ins started in one browser (two tabs; Teams and a browser tab;
// two Teams sign-in windows) both finish: each is bound to the browser by a
// cookie of its own.
func TestTwoSignInsInOneBrowser(t *testing.T) {
	d := startDemo(t)
	browser := noRedirect(mustJar())
	start := func(oid string) string {
		t.Helper()
		// prompt=login: the emulator's session from the first sign-in must
		// not skip the account picker of the second.
		resp, _ := get(t, browser, d.URL+"/thirdparty/teams/"+d.AppID+"/login?popup=1&prompt=login")
		_, page := get(t, browser, resp.Header.Get("Location"))
		for _, m := range actionRE.FindAllStringSubmatch(page, -1) {
			if m[3] != oid {
				continue
			}
			action := html.UnescapeString(m[1])
			if !strings.HasPrefix(action, "http") {
				action = d.URL + action
			}
			resp, err := browser.PostForm(action, url.Values{"ctx": {html.UnescapeString(m[2])}, "user": {m[3]}})
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.Header.Get("Location")
		}
		t.Fatalf("no tile for %s", oid)
		return ""
	}
	first := start(d.Users[0].ObjectID)
	second := start(d.Users[1].ObjectID)
	for i, cb := range []string{first, second} {
		resp, page := get(t, browser, cb)
		if resp.StatusCode != http.StatusOK || !strings.Contains(page, `"ok":true`) {
			t.Errorf("sign-in %d: %d\n%s", i+1, resp.StatusCode, page)
		}
	}
}
