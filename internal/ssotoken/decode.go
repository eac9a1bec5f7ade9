package ssotoken

import (
	"errors"
	"fmt"

	"github.com/golang-jwt/jwt/v5"
)

// Decode returns a token's header and claims WITHOUT verifying anything, for
// diagnostics (tamlink doctor). Numbers are json.Number, so dates print exactly.
// Never base a decision on its result.
func Decode(raw string) (header, claims map[string]any, err error) {
	if len(raw) > MaxTokenSize {
		return nil, nil, fail(ReasonOversized, "token is %d bytes, the limit is %d", len(raw), MaxTokenSize)
	}
	mc := jwt.MapClaims{}
	tok, _, err := jwt.NewParser(jwt.WithJSONNumber()).ParseUnverified(raw, mc)
	// An alg golang-jwt does not know (or none at all) still decodes: the
	// header and claims are filled in before the method lookup fails.
	if err != nil && !(errors.Is(err, jwt.ErrTokenUnverifiable) && tok != nil && tok.Header != nil) {
		return nil, nil, &Error{Reason: ReasonMalformed, Detail: fmt.Sprintf("cannot decode: %v", err), err: err}
	}
	return tok.Header, map[string]any(mc), nil
}
