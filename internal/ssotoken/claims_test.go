package ssotoken

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestParseClaims(t *testing.T) {
	deep := strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1)
	okDeep := strings.Repeat("[", maxDepth-1) + strings.Repeat("]", maxDepth-1)
	tests := []struct {
		in   string
		ok   bool
		tid  string
		name string
		exp  int64
	}{
		{in: `{}`, ok: true},
		{in: ` { "tid" : "a" , "exp" : 1700000000 } `, ok: true, tid: "a", exp: 1700000000},
		{in: "{\n\t\"tid\":\r\n\"a\"}", ok: true, tid: "a"},
		{in: `{"name":"Zo\u00e9 \ud83d\ude00 \/ \" \\ \b\f\n\r\t"}`, ok: true, name: "Zoé 😀 / \" \\ \b\f\n\r\t"},
		{in: `{"name":"\ud83d x"}`, ok: true, name: "\uFFFD x"},            // lone high surrogate
		{in: `{"name":"\ude00"}`, ok: true, name: "\uFFFD"},                // lone low surrogate
		{in: `{"name":"\ud83d\u0041"}`, ok: true, name: "\uFFFDA"},         // high + non-surrogate
		{in: `{"name":"Zoé"}`, ok: true, name: "Zoé"},                      // raw UTF-8
		{in: `{"t\u0069d":"escaped-name"}`, ok: true, tid: "escaped-name"}, // escaped member name
		{in: `{"TID":"x","Tid":"y"}`, ok: true},                            // names are case-sensitive
		{in: `{"exp":1.7e9}`, ok: true, exp: 1700000000},                   // exponent
		{in: `{"exp":1700000000.9}`, ok: true, exp: 1700000000},            // fraction truncated
		{in: `{"x":{"a":[1,-2.5e-3,true,false,null,"s",{}]},"tid":"t"}`, ok: true, tid: "t"},
		{in: `{"x":` + okDeep + `}`, ok: true},
		{in: `{"x":` + deep + `}`},
		{in: `{"tid":"a","tid":"b"}`},   // duplicate claim we use
		{in: `{"x":1,"x":2}`, ok: true}, // duplicate claim we ignore
		{in: `{"tid":1}`},               // wrong type
		{in: `{"exp":"1"}`},
		{in: `{"exp":-1}`},
		{in: `{"exp":1e300}`},
		{in: `{"exp":01}`},
		{in: `{"exp":1.}`},
		{in: `{"exp":.5}`},
		{in: `{"exp":1e}`},
		{in: `{"exp":+1}`},
		{in: `{"name":"a` + "\x01" + `"}`}, // control character
		{in: `{"name":"\x"}`},
		{in: `{"name":"\u12"}`},
		{in: `{"name":"` + "\xff" + `"}`}, // invalid UTF-8
		{in: `{"name":"abc`},
		{in: `{"tid":"a"} x`},
		{in: `{"tid":"a"}{}`},
		{in: `{"tid":"a",}`},
		{in: `{,}`},
		{in: `{"a" 1}`},
		{in: `{"a":tru}`},
		{in: `{"a":nul}`},
		{in: `[]`},
		{in: `"s"`},
		{in: ``},
		{in: `{`},
		{in: `{"a":[1,]}`},
		{in: `{"a":[1 2]}`},
		{in: `{'a':1}`},
	}
	for _, tc := range tests {
		var c claims
		err := parseClaims(tc.in, &c)
		if (err == nil) != tc.ok {
			t.Errorf("%q: err %v, want ok=%v", tc.in, err, tc.ok)
			continue
		}
		if err == nil && (c.tid != tc.tid || c.name != tc.name || c.exp != tc.exp) {
			t.Errorf("%q: tid %q name %q exp %d", tc.in, c.tid, c.name, c.exp)
		}
		// Whatever the reader accepts, encoding/json accepts.
		if err == nil && !json.Valid([]byte(tc.in)) {
			t.Errorf("%q: accepted, but it is not JSON", tc.in)
		}
	}
}

func TestParseHeader(t *testing.T) {
	var h header
	if err := parseHeader(`{"typ":"JWT","alg":"RS256","kid":"k","x5t":"k"}`, &h); err != nil || h.alg != "RS256" || h.kid != "k" || h.crit {
		t.Fatalf("%+v %v", h, err)
	}
	h = header{}
	if err := parseHeader(`{"alg":"RS256","crit":["exp"]}`, &h); err != nil || !h.crit {
		t.Fatalf("%+v %v", h, err)
	}
	h = header{}
	if err := parseHeader(`{"alg":"none","alg":"RS256"}`, &h); err == nil {
		t.Fatal("duplicate alg accepted")
	}
	h = header{}
	if err := parseHeader(`{"alg":["RS256"]}`, &h); err == nil {
		t.Fatal("alg array accepted")
	}
}

// FuzzParseClaims checks the hot-path reader against encoding/json: whatever
// it accepts, encoding/json accepts with the same values.
func FuzzParseClaims(f *testing.F) {
	f.Add(string(mustJSON(v2Claims("https://login.microsoftonline.com", testStart))))
	f.Add(string(mustJSON(v1Claims(testStart))))
	f.Add(`{"aud":["a","b"],"roles":null,"scp":null,"exp":1.5e9,"name":"\ud83d\ude00\u00e9"}`)
	f.Add(`{"aud":null,"x":{"y":[1,{"z":"\""}]},"tid":"t"}`)
	f.Fuzz(func(t *testing.T, in string) {
		var c claims
		if parseClaims(in, &c) != nil {
			return
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(in), &m); err != nil {
			t.Fatalf("reader accepted %q; encoding/json: %v", in, err)
		}
		for name, got := range map[string]string{
			"iss": c.iss, "sub": c.sub, "oid": c.oid, "tid": c.tid, "ver": c.ver, "scp": c.scp, "azp": c.azp,
			"appid": c.appid, "name": c.name, "preferred_username": c.preferredUsername, "unique_name": c.uniqueName,
			"upn": c.upn, "idp": c.idp,
		} {
			want, _ := m[name].(string)
			if m[name] != nil && want == "" && got == "" {
				if _, isStr := m[name].(string); !isStr {
					t.Fatalf("%s: reader accepted non-string %v", name, m[name])
				}
			}
			if got != want {
				t.Fatalf("%s: reader %q, encoding/json %q", name, got, want)
			}
		}
		if c.hasScp != (m["scp"] != nil) || c.hasRoles != (m["roles"] != nil) {
			t.Fatalf("scp/roles presence: reader %v/%v, encoding/json %v/%v", c.hasScp, c.hasRoles, m["scp"], m["roles"])
		}
		switch a := m["aud"].(type) {
		case nil:
			if c.audCount != 0 {
				t.Fatalf("aud: reader %d values, encoding/json none", c.audCount)
			}
		case string:
			if c.audCount != 1 || c.aud != a {
				t.Fatalf("aud: reader %q×%d, encoding/json %q", c.aud, c.audCount, a)
			}
		case []any:
			if c.audCount != len(a) || (len(a) > 0 && a[0] != c.aud) {
				t.Fatalf("aud: reader %q×%d, encoding/json %v", c.aud, c.audCount, a)
			}
		default:
			t.Fatalf("aud: reader accepted %T", a)
		}
		for name, got := range map[string]int64{"exp": c.exp, "nbf": c.nbf, "iat": c.iat} {
			if f, ok := m[name].(float64); ok {
				if int64(f) != got {
					t.Fatalf("%s: reader %d, encoding/json %v", name, got, f)
				}
			} else if m[name] != nil || got != 0 {
				t.Fatalf("%s: reader %d, encoding/json %v", name, got, m[name])
			}
		}
	})
}

// FuzzVerify: any input is refused with an *Error, never a panic.
func FuzzVerify(f *testing.F) {
	login := "https://login.microsoftonline.com"
	v, err := NewWithKeySet(Config{LoginURL: login, Now: func() time.Time { return testStart }}, jwksJSON(jwk{kid: "k0", key: testKey(0)}))
	if err != nil {
		f.Fatal(err)
	}
	good := mint(testKey(0), "k0", v2Claims(login, testStart))
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add("e30.e30.")
	f.Add("eyJhbGciOiJSUzI1NiIsImtpZCI6ImswIn0.e30.AA")
	f.Fuzz(func(t *testing.T, raw string) {
		id, err := v.Verify(context.Background(), raw, defaultExpect())
		if err == nil {
			if raw != good { // base64 is decoded strictly: one encoding per token
				t.Fatalf("accepted %q as %+v", raw, id)
			}
			return
		}
		if ReasonOf(err) == "" {
			t.Fatalf("error %v is not an *Error", err)
		}
	})
}

// TestStringScanWindows puts each kind of byte at every offset of the
// eight-byte fast path and compares with encoding/json.
func TestStringScanWindows(t *testing.T) {
	specials := []string{"\x00", "\x01", "\x1f", " ", "\x7f", "\"", "\\", "\\n", "\\\"", "\\u00e9", "é", "😀", "\xff", "\xc3"}
	for k := 0; k <= 24; k++ {
		for _, sp := range specials {
			in := `{"name":"` + strings.Repeat("a", k) + sp + strings.Repeat("b", 11) + `","tid":"t"}`
			var c claims
			err := parseClaims(in, &c)
			var std struct {
				Name string `json:"name"`
				Tid  string `json:"tid"`
			}
			stdErr := json.Unmarshal([]byte(in), &std)
			switch {
			case err == nil && stdErr != nil:
				t.Errorf("k=%d %q: reader accepted, encoding/json: %v", k, sp, stdErr)
			case err == nil && (c.name != std.Name || c.tid != "t"):
				t.Errorf("k=%d %q: name %q, encoding/json %q", k, sp, c.name, std.Name)
			case err != nil && stdErr == nil && utf8.ValidString(in):
				t.Errorf("k=%d %q: reader refused valid JSON: %v", k, sp, err)
			}
		}
	}
}
