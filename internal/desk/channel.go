package desk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
)

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// IsGUID reports whether s is a GUID in the 8-4-4-4-12 form Entra uses.
func IsGUID(s string) bool { return guidRE.MatchString(s) }

// ChannelConfig is the JSON of the setup guide's section 5.1, as a customer
// admin hands it over.
type ChannelConfig struct {
	AppID               string `json:"appId"`
	AppSecret           string `json:"appSecret"`
	TenantID            string `json:"tenantId"`
	TeamsPublishedAppID string `json:"teamsPublishedAppId"`
}

// maxChannelJSON bounds what we read: the real document is a few hundred bytes.
const maxChannelJSON = 64 << 10

// ParseChannelConfig reads and validates a channel config. Unknown fields,
// trailing data, missing or malformed values are refused naming the field.
func ParseChannelConfig(r io.Reader) (ChannelConfig, error) {
	var c ChannelConfig
	data, err := io.ReadAll(io.LimitReader(r, maxChannelJSON+1))
	if err != nil {
		return c, Invalid("config", "cannot read: %v", err)
	}
	if len(data) > maxChannelJSON {
		return c, Invalid("config", "document is larger than %d bytes", maxChannelJSON)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return c, Invalid("config", "empty document: expected the JSON object of the setup guide's section 5.1")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, jsonError(err)
	}
	if dec.More() {
		return c, Invalid("config", "unexpected data after the JSON object")
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); err != io.EOF {
		return c, Invalid("config", "unexpected data after the JSON object")
	}
	return c, c.Validate()
}

func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te) && te.Field == "":
		return Invalid("config", "must be a JSON object, got a JSON %s", te.Value)
	case errors.As(err, &te):
		return Invalid(te.Field, "must be a %s, got a JSON %s", te.Type, te.Value)
	case errors.As(err, &se):
		return Invalid("config", "malformed JSON at byte %d: %v", se.Offset, se)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return Invalid(name, "unknown field (expected appId, appSecret, tenantId, teamsPublishedAppId)")
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return Invalid("config", "truncated JSON")
	}
	return Invalid("config", "malformed JSON: %v", err)
}

// Validate checks every field and normalises GUIDs to lower case.
func (c *ChannelConfig) Validate() error {
	for _, f := range []struct {
		name string
		v    *string
	}{{"appId", &c.AppID}, {"tenantId", &c.TenantID}, {"teamsPublishedAppId", &c.TeamsPublishedAppID}} {
		*f.v = strings.TrimSpace(*f.v)
		if *f.v == "" {
			return Invalid(f.name, "is required")
		}
		if !IsGUID(*f.v) {
			return Invalid(f.name, "must be a GUID like 00000000-0000-0000-0000-000000000000, got %q", truncate(*f.v, 60))
		}
		*f.v = strings.ToLower(*f.v)
	}
	if strings.TrimSpace(c.AppSecret) == "" {
		return Invalid("appSecret", "is required: the client secret's Value from Certificates & secrets")
	}
	if IsGUID(strings.TrimSpace(c.AppSecret)) {
		// The portal shows both a secret ID (a GUID) and its value; the ID is the classic mistake (AADSTS7000215).
		return Invalid("appSecret", "looks like the secret ID (a GUID); paste the secret's Value instead")
	}
	if c.AppID == c.TenantID {
		return Invalid("tenantId", "equals appId: copy the Directory (tenant) ID, not the Application (client) ID")
	}
	if c.TeamsPublishedAppID == "9188040d-6c67-4c5b-b112-36a304b66dad" || c.TenantID == "9188040d-6c67-4c5b-b112-36a304b66dad" {
		return Invalid("tenantId", "is the personal Microsoft account tenant; a channel needs the organisation's directory")
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// AppIDURI is the Application ID URI the guide asks for: api://{domain}/{appId}.
func AppIDURI(domain, appID string) string {
	return fmt.Sprintf("api://%s/%s", domain, appID)
}
