package web

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/tamlink/tamlink/internal/desk"
)

// apiError is the JSON error body of every API route.
type apiError struct {
	Error    string `json:"error"`
	Message  string `json:"message"`
	Field    string `json:"field,omitempty"`
	Reason   string `json:"reason,omitempty"`
	LoginURL string `json:"loginUrl,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func statusOf(code string) int {
	switch code {
	case desk.EInvalid:
		return http.StatusBadRequest
	case desk.ENotFound:
		return http.StatusNotFound
	case desk.EConflict:
		return http.StatusConflict
	case desk.EUnauthorized:
		return http.StatusUnauthorized
	case desk.EForbidden:
		return http.StatusForbidden
	}
	return http.StatusInternalServerError
}

// writeError answers err as JSON. Internal errors are logged, not shown.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := desk.ErrorCode(err)
	if code == desk.EInternal {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeJSON(w, statusOf(code), apiError{Error: code, Message: desk.ErrorMessage(err), Field: desk.ErrorField(err)})
}

// maxBody bounds request bodies; a ticket description is the largest thing sent.
const maxBody = 256 << 10

// readJSON decodes a JSON body into v, refusing unknown fields and oversize bodies.
func readJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return desk.Invalid("Content-Type", "must be application/json")
	}
	// A client that trickles its body must not hold a handler for ever.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(30 * time.Second))
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		return desk.Invalid("body", "unexpected data after the JSON object")
	}
	if err != nil {
		var mbe *http.MaxBytesError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &mbe):
			return desk.Invalid("body", "is larger than %d bytes", maxBody)
		case errors.As(err, &te):
			return desk.Invalid(te.Field, "must be a %s", te.Type)
		case errors.Is(err, io.EOF):
			return desk.Invalid("body", "is empty; expected a JSON object")
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return desk.Invalid(strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`), "unknown field")
		}
		return desk.Invalid("body", "malformed JSON: %v", err)
	}
	return nil
}

func logAttrErr(err error) slog.Attr { return slog.String("err", err.Error()) }
