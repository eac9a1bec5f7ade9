package ssotoken

// Why the hot path does not call jwt.Parser.ParseWithClaims: golang-jwt decodes
// the header into a map and the claims with encoding/json, copies the signing
// input and hashes it again. Measured on the reference machine (2-vCPU AMD
// EPYC, Go 1.26): encoding/json alone takes ~13µs for the real Entra payload in
// a typed struct (27% of one RSA-2048 verification, ~45µs), and the bare
// ParseWithClaims path — no claim checks, no cache — ~1.3–1.7× the RSA
// verification (BenchmarkGolangJWTParse), over the 1.25× budget for a
// first-seen token. So:
//
//   - the two small JSON objects are read by the strict single-pass reader
//     below into typed structs (no reflection, no maps; strings are slices of
//     the decoded payload);
//   - the RS256 check is crypto/rsa.VerifyPKCS1v15 over a SHA-256 digest that
//     Verify computes in the same pass as the cache key; this is exactly
//     jwt.SigningMethodRS256.Verify minus its copy and second hash;
//   - golang-jwt still decodes for Decode (diagnostics), and the tests check
//     that every token Verify accepts also passes golang-jwt's RS256-only
//     parser, and that the reader agrees with golang-jwt / encoding/json
//     (TestClaimsMatchGolangJWT, FuzzParseClaims).
//
// The reader is stricter than encoding/json: member names match exactly (not
// case-insensitively), a claim it uses may not appear twice, strings must be
// valid UTF-8, and nesting is limited to maxDepth. Like encoding/json, it
// refuses numbers beyond the float64 range, even in claims it skips.

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// header holds the JOSE header parameters we act on.
type header struct {
	alg, kid, typ string
	crit          bool
	seen          uint8
}

// claims is the typed claims set of an Entra access token (v1 and v2).
type claims struct {
	aud      string // the only audience (audCount == 1)
	audCount int

	iss, sub, oid, tid, ver, scp        string
	azp, appid                          string // v2, v1
	name, preferredUsername, uniqueName string
	upn, idp                            string

	exp, nbf, iat                  int64
	hasExp, hasNbf, hasIat, hasScp bool
	hasRoles                       bool
	seen                           uint32
}

const maxDepth = 32

// maxNumericDate is 9999-12-31T23:59:59Z.
const maxNumericDate = 253402300799

type scanner struct {
	s   string
	pos int
}

func (p *scanner) errorf(format string, args ...any) error {
	return fmt.Errorf("offset %d: %s", p.pos, fmt.Sprintf(format, args...))
}

func (p *scanner) ws() {
	for p.pos < len(p.s) {
		switch p.s[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// next skips whitespace and returns the next byte (0 at the end).
func (p *scanner) next() byte {
	p.ws()
	if p.pos < len(p.s) {
		return p.s[p.pos]
	}
	return 0
}

func (p *scanner) consume(c byte) bool {
	if p.next() == c {
		p.pos++
		return true
	}
	return false
}

func (p *scanner) literal(word string) error {
	if len(p.s)-p.pos >= len(word) && p.s[p.pos:p.pos+len(word)] == word {
		p.pos += len(word)
		return nil
	}
	return p.errorf("invalid literal")
}

// str reads a JSON string. Without escapes the result is a slice of the input.
func (p *scanner) str() (string, error) {
	if p.next() != '"' {
		return "", p.errorf("expected string")
	}
	s := p.s
	start := p.pos + 1
	ascii := true
	for i := start; i < len(s); i++ {
		// Eight bytes at a time while none needs a closer look, then one by one.
		for i+8 <= len(s) {
			w := s[i : i+8] // one bounds check; the compiler makes this a single load
			x := uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
				uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
			if !allPlain(x) {
				break
			}
			i += 8
		}
		for i < len(s) && plain[s[i]] {
			i++
		}
		if i == len(s) {
			break
		}
		switch c := s[i]; {
		case c == '"':
			v := s[start:i]
			if !ascii && !utf8.ValidString(v) {
				return "", p.errorf("invalid UTF-8 in string")
			}
			p.pos = i + 1
			return v, nil
		case c == '\\':
			return p.strEscaped(start)
		case c < 0x20:
			return "", p.errorf("control character in string")
		default: // c >= 0x80
			ascii = false
		}
	}
	return "", p.errorf("unterminated string")
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// allPlain reports whether the eight bytes of x are all plain: no '"', no
// '\\', none below 0x20 and none from 0x80 (bit tricks from "Bit Twiddling
// Hacks": hasless(x, n) and haszero).
func allPlain(x uint64) bool {
	q := x ^ (ones * '"')
	b := x ^ (ones * '\\')
	return ((x-ones*0x20)&^x|(q-ones)&^q|(b-ones)&^b|x)&highs == 0
}

// plain marks the bytes a string can hold without a closer look: printable
// ASCII other than '"' and '\\'.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func (p *scanner) strEscaped(start int) (string, error) {
	s := p.s
	b := make([]byte, 0, 64)
	for i := start; i < len(s); {
		c := s[i]
		switch {
		case c == '"':
			if !utf8.Valid(b) {
				return "", p.errorf("invalid UTF-8 in string")
			}
			p.pos = i + 1
			return string(b), nil
		case c < 0x20:
			return "", p.errorf("control character in string")
		case c != '\\':
			b = append(b, c)
			i++
			continue
		}
		if i+1 >= len(s) {
			break
		}
		e := s[i+1]
		i += 2
		switch e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, ok := hex4(s, i)
			if !ok {
				p.pos = i
				return "", p.errorf("invalid \\u escape")
			}
			i += 4
			if utf16.IsSurrogate(r) {
				// A pair makes one rune; a lone surrogate becomes U+FFFD (as encoding/json does).
				r2, ok := rune(0), false
				if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
					r2, ok = hex4(s, i+2)
				}
				if d := utf16.DecodeRune(r, r2); ok && d != utf8.RuneError {
					r = d
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			b = utf8.AppendRune(b, r)
		default:
			p.pos = i - 2
			return "", p.errorf("invalid escape")
		}
	}
	return "", p.errorf("unterminated string")
}

func hex4(s string, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(s[i : i+4]) {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// number reads a JSON number and returns its literal.
func (p *scanner) number() (string, error) {
	p.ws()
	s, i := p.s, p.pos
	start := i
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() bool {
		j := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		return i > j
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		digits()
	default:
		return "", p.errorf("expected number")
	}
	if i < len(s) && s[i] == '.' {
		i++
		if !digits() {
			p.pos = i
			return "", p.errorf("invalid number")
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if !digits() {
			p.pos = i
			return "", p.errorf("invalid number")
		}
	}
	p.pos = i
	return s[start:i], nil
}

// checkFloat refuses a number literal beyond the float64 range, as
// encoding/json (so golang-jwt and Decode) does: a number the reader skips
// must not make a token that only this reader can read. Only an exponent or
// more than 308 digits can overflow, so other literals are not parsed.
func (p *scanner) checkFloat(lit string) error {
	if len(lit) <= 308 {
		i := 0
		for i < len(lit) && lit[i] != 'e' && lit[i] != 'E' {
			i++
		}
		if i == len(lit) {
			return nil
		}
	}
	if _, err := strconv.ParseFloat(lit, 64); err != nil {
		return p.errorf("number out of range")
	}
	return nil
}

// skip reads and discards one JSON value.
func (p *scanner) skip(depth int) error {
	switch c := p.next(); {
	case c == '"':
		_, err := p.str()
		return err
	case c == '{':
		if depth >= maxDepth {
			return p.errorf("nested too deeply")
		}
		more, err := p.objectStart()
		for more && err == nil {
			if _, err = p.memberName(); err == nil {
				if err = p.skip(depth + 1); err == nil {
					more, err = p.memberEnd()
				}
			}
		}
		return err
	case c == '[':
		if depth >= maxDepth {
			return p.errorf("nested too deeply")
		}
		p.pos++
		if p.consume(']') {
			return nil
		}
		for {
			if err := p.skip(depth + 1); err != nil {
				return err
			}
			if p.consume(',') {
				continue
			}
			if p.consume(']') {
				return nil
			}
			return p.errorf("expected ',' or ']'")
		}
	case c == 't':
		return p.literal("true")
	case c == 'f':
		return p.literal("false")
	case c == 'n':
		return p.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		lit, err := p.number()
		if err != nil {
			return err
		}
		return p.checkFloat(lit)
	case c == 0 && p.pos >= len(p.s):
		return p.errorf("unexpected end of JSON")
	default:
		return p.errorf("unexpected character %q", c)
	}
}

// objectStart reads '{' and reports whether the object has members.
func (p *scanner) objectStart() (bool, error) {
	if !p.consume('{') {
		return false, p.errorf("expected object")
	}
	return !p.consume('}'), nil
}

// memberName reads a member name and its ':'.
func (p *scanner) memberName() (string, error) {
	name, err := p.str()
	if err != nil {
		return "", err
	}
	if !p.consume(':') {
		return "", p.errorf("expected ':'")
	}
	return name, nil
}

// memberEnd reads the ',' or '}' after a member value and reports whether
// another member follows.
func (p *scanner) memberEnd() (bool, error) {
	if p.consume(',') {
		return true, nil
	}
	if p.consume('}') {
		return false, nil
	}
	return false, p.errorf("expected ',' or '}'")
}

// end checks that only whitespace follows the top-level object.
func (p *scanner) end() error {
	p.ws()
	if p.pos != len(p.s) {
		return p.errorf("data after the object")
	}
	return nil
}

// optString reads a string or null (which leaves *dst empty).
func (p *scanner) optString(dst *string) error {
	if p.next() == 'n' {
		return p.literal("null")
	}
	v, err := p.str()
	if err != nil {
		return err
	}
	*dst = v
	return nil
}

// numericDate reads a JSON number as whole seconds since the epoch.
func (p *scanner) numericDate() (int64, error) {
	lit, err := p.number()
	if err != nil {
		return 0, err
	}
	if len(lit) <= 12 { // the usual case: a whole number of seconds
		var n int64
		for i := 0; i < len(lit); i++ {
			c := lit[i]
			if c < '0' || c > '9' {
				n = -1
				break
			}
			n = n*10 + int64(c-'0')
		}
		if n >= 0 && n <= maxNumericDate {
			return n, nil
		}
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > maxNumericDate {
		return 0, errors.New("date out of range")
	}
	return int64(f), nil
}

var errDuplicate = errors.New("duplicate member")

func parseHeader(s string, h *header) error {
	p := scanner{s: s}
	more, err := p.objectStart()
	for more && err == nil {
		var name string
		if name, err = p.memberName(); err == nil {
			if err = h.member(&p, name); err == nil {
				more, err = p.memberEnd()
			}
		}
	}
	if err != nil {
		return err
	}
	return p.end()
}

func (h *header) member(p *scanner, name string) error {
	var bit uint8
	var err error
	switch name {
	case "alg":
		bit, err = 1, p.optString(&h.alg)
	case "kid":
		bit, err = 2, p.optString(&h.kid)
	case "typ":
		bit, err = 4, p.optString(&h.typ)
	case "crit":
		bit, err = 8, p.skip(1)
		h.crit = true
	default:
		return p.skip(1)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if h.seen&bit != 0 {
		return fmt.Errorf("%s: %w", name, errDuplicate)
	}
	h.seen |= bit
	return nil
}

// Bits of claims.seen.
const (
	cAud = 1 << iota
	cIss
	cSub
	cOid
	cTid
	cVer
	cScp
	cRoles
	cAzp
	cAppid
	cName
	cPreferredUsername
	cUniqueName
	cUpn
	cIdp
	cExp
	cNbf
	cIat
)

func parseClaims(s string, c *claims) error {
	p := scanner{s: s}
	more, err := p.objectStart()
	for more && err == nil {
		var name string
		if name, err = p.memberName(); err == nil {
			if err = c.member(&p, name); err == nil {
				more, err = p.memberEnd()
			}
		}
	}
	if err != nil {
		return err
	}
	return p.end()
}

func (c *claims) member(p *scanner, name string) error {
	var bit uint32
	var dst *string
	var err error
	switch name {
	case "aud":
		bit, err = cAud, c.readAud(p)
	case "iss":
		bit, dst = cIss, &c.iss
	case "sub":
		bit, dst = cSub, &c.sub
	case "oid":
		bit, dst = cOid, &c.oid
	case "tid":
		bit, dst = cTid, &c.tid
	case "ver":
		bit, dst = cVer, &c.ver
	case "scp":
		bit = cScp
		if p.next() == 'n' {
			err = p.literal("null")
		} else {
			c.scp, err = p.str()
			c.hasScp = true
		}
	case "azp":
		bit, dst = cAzp, &c.azp
	case "appid":
		bit, dst = cAppid, &c.appid
	case "name":
		bit, dst = cName, &c.name
	case "preferred_username":
		bit, dst = cPreferredUsername, &c.preferredUsername
	case "unique_name":
		bit, dst = cUniqueName, &c.uniqueName
	case "upn":
		bit, dst = cUpn, &c.upn
	case "idp":
		bit, dst = cIdp, &c.idp
	case "roles":
		bit = cRoles
		if p.next() == 'n' {
			err = p.literal("null")
		} else {
			c.hasRoles = true
			err = p.skip(1)
		}
	case "exp":
		bit = cExp
		c.exp, err = p.numericDate()
		c.hasExp = true
	case "nbf":
		bit = cNbf
		c.nbf, err = p.numericDate()
		c.hasNbf = true
	case "iat":
		bit = cIat
		c.iat, err = p.numericDate()
		c.hasIat = true
	default:
		return p.skip(1)
	}
	if dst != nil {
		err = p.optString(dst)
	}
	if err != nil {
		return fmt.Errorf("claim %s: %w", name, err)
	}
	if c.seen&bit != 0 {
		return fmt.Errorf("claim %s: %w", name, errDuplicate)
	}
	c.seen |= bit
	return nil
}

// readAud reads aud as a string, an array of strings, or null.
func (c *claims) readAud(p *scanner) error {
	switch p.next() {
	case 'n':
		return p.literal("null")
	case '[':
		p.pos++
		if p.consume(']') {
			return nil
		}
		for {
			v, err := p.str()
			if err != nil {
				return err
			}
			if c.audCount == 0 {
				c.aud = v
			}
			c.audCount++
			if p.consume(',') {
				continue
			}
			if p.consume(']') {
				return nil
			}
			return p.errorf("expected ',' or ']'")
		}
	default:
		v, err := p.str()
		if err != nil {
			return err
		}
		c.aud, c.audCount = v, 1
		return nil
	}
}
