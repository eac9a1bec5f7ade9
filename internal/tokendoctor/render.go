package tokendoctor

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// WriteText prints the report for a person: the token's header and claims
// (decoded, not trusted), then each check with its outcome, cause and fix.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	if r.Header != nil {
		b.WriteString("Token (decoded; the checks below say what can be trusted)\n")
		hdr, _ := json.Marshal(r.Header)
		fmt.Fprintf(&b, "  header  %s\n", hdr)
		b.WriteString("  claims\n")
		names := make([]string, 0, len(r.Claims))
		width := 0
		for k := range r.Claims {
			names = append(names, k)
			width = max(width, len(k))
		}
		slices.Sort(names)
		for _, k := range names {
			fmt.Fprintf(&b, "    %-*s  %s\n", width, k, claimText(k, r.Claims[k]))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "Checks at %s\n", r.At.Format(time.RFC3339))
	failed, applied := 0, 0
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "  %-4s  %-30s %s\n", strings.ToUpper(string(c.Status)), c.Title, c.Detail)
		if c.Cause != "" && (c.Status == StatusFail || c.Status == StatusWarn) {
			fmt.Fprintf(&b, "        cause: %s\n", c.Cause)
		}
		if c.Fix != "" && (c.Status == StatusFail || c.Status == StatusWarn) {
			fmt.Fprintf(&b, "        fix:   %s\n", c.Fix)
		}
		if c.Status != StatusSkip {
			applied++
		}
		if c.Status == StatusFail {
			failed++
		}
	}
	if r.OK {
		fmt.Fprintf(&b, "\nResult: all %d checks that apply passed.\n", applied)
	} else {
		fmt.Fprintf(&b, "\nResult: %d of %d checks that apply failed.\n", failed, applied)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// claimText shows a claim's value; dates get their UTC time beside them.
func claimText(name string, v any) string {
	js, _ := json.Marshal(v)
	s := string(js)
	if n, ok := v.(json.Number); ok {
		s = n.String()
	}
	switch name {
	case "exp", "nbf", "iat", "auth_time":
		if n, ok := v.(json.Number); ok {
			if f, err := n.Float64(); err == nil {
				s += "  (" + time.Unix(int64(f), 0).UTC().Format(time.RFC3339) + ")"
			}
		}
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// WriteJSON prints the report as JSON.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
