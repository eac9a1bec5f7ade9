// Package desk holds tamlink's domain: organisations, channels, people, the
// service-group conversation and tickets, and the rules that govern them. It
// knows nothing of HTTP or SQL: storage is behind the Store interface and live
// delivery behind the Publisher interface.
package desk

import (
	"errors"
	"fmt"
)

// Error codes. Adapters map them to HTTP statuses and exit codes.
const (
	EInvalid      = "invalid"      // bad input; Field names the culprit
	ENotFound     = "not_found"    // no such thing (or not visible to the caller)
	EConflict     = "conflict"     // duplicate or stale
	EUnauthorized = "unauthorized" // no valid identity
	EForbidden    = "forbidden"    // identity known, action not allowed
	EInternal     = "internal"
)

// Error is a domain error: a code, the field it concerns (if any) and a message
// fit to show to the person who caused it.
type Error struct {
	Code    string
	Field   string
	Message string
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s", e.Field, e.Message)
	}
	return e.Message
}

// Errorf returns a domain error with the given code.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns an EInvalid error naming field.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Code: EInvalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err, EInternal for non-domain errors and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// ErrorField returns the field a domain error names, if any.
func ErrorField(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}

// ErrorMessage returns a message safe to show: the domain message, or a generic
// text for internal errors (whose details belong in logs, not pages).
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Error()
	}
	return "internal error"
}
