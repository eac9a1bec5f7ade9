// Package manifest builds and checks the Teams app package of a tamlink
// channel: manifest.json (schema v1.30) with the personal tab that frames the
// channel's workbench, SSO (webApplicationInfo), the valid domain, the
// activity types the notifier sends, and the two icons.
//
// The product does not carry Microsoft's JSON schema: Check enforces the
// schema's rules for every field tamlink writes, plus the documented rules the
// schema leaves out (semver, https, at most 16 valid domains, wildcard rules,
// no identity-provider domains). The tests validate generated packages
// against the official schema.
package manifest

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/google/uuid"
	"github.com/tamlink/tamlink/internal/desk"
)

// Schema version tamlink writes, and the hosted schema it names.
const (
	ManifestVersion = "1.30"
	SchemaURL       = "https://developer.microsoft.com/json-schemas/teams/v1.30/MicrosoftTeams.schema.json"
	// Package file names.
	ManifestFile = "manifest.json"
	ColorFile    = "color.png"
	OutlineFile  = "outline.png"
)

// Manifest is the part of the Teams app manifest tamlink writes, in the
// order Microsoft's samples use. Packages read back keep unknown properties
// in Extra (they are reported by Problems, not lost silently).
type Manifest struct {
	Schema             string              `json:"$schema,omitempty"`
	ManifestVersion    string              `json:"manifestVersion"`
	Version            string              `json:"version"`
	ID                 string              `json:"id"`
	Developer          Developer           `json:"developer"`
	Name               Name                `json:"name"`
	Description        Description         `json:"description"`
	Icons              Icons               `json:"icons"`
	AccentColor        string              `json:"accentColor"`
	StaticTabs         []StaticTab         `json:"staticTabs,omitempty"`
	ValidDomains       []string            `json:"validDomains,omitempty"`
	WebApplicationInfo *WebApplicationInfo `json:"webApplicationInfo,omitempty"`
	Activities         *Activities         `json:"activities,omitempty"`

	// Extra lists top-level properties of a package read back that this
	// type does not model (set by Parse; never written).
	Extra []string `json:"-"`
}

// Developer is manifest.developer.
type Developer struct {
	Name          string `json:"name"`
	MpnID         string `json:"mpnId,omitempty"`
	WebsiteURL    string `json:"websiteUrl"`
	PrivacyURL    string `json:"privacyUrl"`
	TermsOfUseURL string `json:"termsOfUseUrl"`
}

// Name is manifest.name.
type Name struct {
	Short string `json:"short"`
	Full  string `json:"full,omitempty"`
}

// Description is manifest.description.
type Description struct {
	Short string `json:"short"`
	Full  string `json:"full"`
}

// Icons is manifest.icons: relative paths inside the package.
type Icons struct {
	Color   string `json:"color"`
	Outline string `json:"outline"`
}

// StaticTab is one entry of manifest.staticTabs.
type StaticTab struct {
	EntityID   string   `json:"entityId"`
	Name       string   `json:"name,omitempty"`
	ContentURL string   `json:"contentUrl,omitempty"`
	WebsiteURL string   `json:"websiteUrl,omitempty"`
	Scopes     []string `json:"scopes"`
	Context    []string `json:"context,omitempty"`
}

// WebApplicationInfo is manifest.webApplicationInfo (Teams SSO).
type WebApplicationInfo struct {
	ID       string `json:"id"`
	Resource string `json:"resource,omitempty"`
}

// Activities is manifest.activities.
type Activities struct {
	ActivityTypes []ActivityType `json:"activityTypes"`
}

// ActivityType is one activity-feed notification type.
type ActivityType struct {
	Type         string `json:"type"`
	Description  string `json:"description"`
	TemplateText string `json:"templateText"`
}

// Options describe one channel's package. AppID and Domain are required;
// everything else has a default.
type Options struct {
	AppID      string // the Entra app's client id
	Domain     string // host serving tamlink, e.g. desk.example.com (no scheme)
	TeamsAppID string // manifest id (the catalog's externalId); default DefaultTeamsAppID(AppID)
	Version    string // semver; default 1.0.0

	ShortName        string
	FullName         string
	ShortDescription string
	FullDescription  string
	DeveloperName    string
	WebsiteURL       string // default https://Domain/
	PrivacyURL       string // default https://Domain/privacy
	TermsURL         string // default https://Domain/terms
	AccentColor      string // default #60A18E (the guide's)

	// ColorIcon and OutlineIcon are PNG files; nil generates them.
	ColorIcon   []byte
	OutlineIcon []byte
}

// Defaults.
const (
	DefaultVersion          = "1.0.0"
	DefaultShortName        = "Service Desk"
	DefaultFullName         = "Expert Service Desk"
	DefaultShortDescription = "Chat with your technical account managers and follow your tickets."
	DefaultFullDescription  = "Talk to your technical account managers in real time, open support tickets, " +
		"follow their progress and get notified in Teams when something changes."
	DefaultDeveloperName = "tamlink"
	DefaultAccentColor   = "#60A18E"
)

// teamsAppNamespace makes default Teams app ids: a name-based (v5) GUID of
// the Entra app id, so re-running setup or manifest yields the same id.
var teamsAppNamespace = uuid.MustParse("6f1d3a52-9c0e-4b7a-8e21-5d4c3b2a1f00")

// DefaultTeamsAppID is the stable manifest id for an Entra app id.
func DefaultTeamsAppID(appID string) string {
	return uuid.NewSHA1(teamsAppNamespace, []byte("teams-app:"+strings.ToLower(strings.TrimSpace(appID)))).String()
}

// WorkbenchURL is the personal tab's content URL the guide fixes.
func WorkbenchURL(domain, appID string) string {
	return "https://" + domain + "/teams/" + appID + "/workbench"
}

// Resource is webApplicationInfo.resource: the Application ID URI.
func Resource(domain, appID string) string { return desk.AppIDURI(domain, appID) }

// NormalizeDomain accepts "desk.example.com" or "https://desk.example.com/"
// and returns the lower-case host, or an error naming field.
func NormalizeDomain(field, d string) (string, error) {
	d = strings.TrimSpace(d)
	if d == "" {
		return "", desk.Invalid(field, "is required: the host name tamlink is served from, e.g. desk.example.com")
	}
	if strings.Contains(d, "://") {
		u, err := url.Parse(d)
		if err != nil || u.Host == "" {
			return "", desk.Invalid(field, "%q is not a host name", d)
		}
		if u.Scheme != "https" {
			return "", desk.Invalid(field, "Teams only frames https pages; %q is not https", d)
		}
		if strings.Trim(u.Path, "/") != "" || u.RawQuery != "" {
			return "", desk.Invalid(field, "give the host only (tamlink's URLs sit at the root), not %q", d)
		}
		d = u.Host
	}
	d = strings.ToLower(strings.TrimSuffix(d, "."))
	if err := checkHost(d, false); err != "" {
		return "", desk.Invalid(field, "%s", err)
	}
	return d, nil
}

// Build makes the package for opts, checks it and returns it.
func Build(opts Options) (*Package, error) {
	m, err := New(opts)
	if err != nil {
		return nil, err
	}
	p := &Package{Manifest: m}
	if p.Color = opts.ColorIcon; p.Color == nil {
		p.Color = ColorIcon(m.AccentColor)
	}
	if p.Outline = opts.OutlineIcon; p.Outline == nil {
		p.Outline = OutlineIcon()
	}
	if err := CheckColorIcon("color-icon", p.Color); err != nil {
		return nil, err
	}
	if err := CheckOutlineIcon("outline-icon", p.Outline); err != nil {
		return nil, err
	}
	return p, nil
}

// New fills the manifest for opts and checks it.
func New(opts Options) (Manifest, error) {
	var m Manifest
	appID := strings.ToLower(strings.TrimSpace(opts.AppID))
	if appID == "" {
		return m, desk.Invalid("app-id", "is required: the Application (client) ID of the Entra app registration")
	}
	if !desk.IsGUID(appID) {
		return m, desk.Invalid("app-id", "must be a GUID, got %q", opts.AppID)
	}
	domain, err := NormalizeDomain("domain", opts.Domain)
	if err != nil {
		return m, err
	}
	teamsID := strings.ToLower(strings.TrimSpace(opts.TeamsAppID))
	if teamsID == "" {
		teamsID = DefaultTeamsAppID(appID)
	} else if !desk.IsGUID(teamsID) {
		return m, desk.Invalid("teams-app-id", "must be a GUID, got %q", opts.TeamsAppID)
	}
	or := func(v, def string) string {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
		return def
	}
	m = Manifest{
		Schema:          SchemaURL,
		ManifestVersion: ManifestVersion,
		Version:         or(opts.Version, DefaultVersion),
		ID:              teamsID,
		Developer: Developer{
			Name:          or(opts.DeveloperName, DefaultDeveloperName),
			WebsiteURL:    or(opts.WebsiteURL, "https://"+domain+"/"),
			PrivacyURL:    or(opts.PrivacyURL, "https://"+domain+"/privacy"),
			TermsOfUseURL: or(opts.TermsURL, "https://"+domain+"/terms"),
		},
		Name:        Name{Short: or(opts.ShortName, DefaultShortName), Full: or(opts.FullName, DefaultFullName)},
		Description: Description{Short: or(opts.ShortDescription, DefaultShortDescription), Full: or(opts.FullDescription, DefaultFullDescription)},
		Icons:       Icons{Color: ColorFile, Outline: OutlineFile},
		AccentColor: or(opts.AccentColor, DefaultAccentColor),
		StaticTabs: []StaticTab{{
			EntityID:   "workbench",
			Name:       or(opts.ShortName, DefaultShortName),
			ContentURL: WorkbenchURL(domain, appID),
			WebsiteURL: WorkbenchURL(domain, appID),
			Scopes:     []string{"personal"},
			Context:    []string{"personalTab"},
		}},
		ValidDomains:       []string{domain},
		WebApplicationInfo: &WebApplicationInfo{ID: appID, Resource: Resource(domain, appID)},
		Activities:         &Activities{ActivityTypes: activityTypes()},
	}
	if len(m.StaticTabs[0].Name) > 128 {
		m.StaticTabs[0].Name = m.StaticTabs[0].Name[:128]
	}
	if ps := Problems(m); len(ps) > 0 {
		if flag, ok := fieldFlags[ps[0].Field]; ok {
			return Manifest{}, desk.Invalid(flag, "manifest %s %s", ps[0].Field, ps[0].Message)
		}
		return Manifest{}, desk.Invalid(ps[0].Field, "%s", ps[0].Message)
	}
	return m, nil
}

// fieldFlags names the command-line option behind a manifest field, so a
// refusal names what the user typed.
var fieldFlags = map[string]string{
	"version": "version", "name.short": "name", "name.full": "full-name",
	"description.short": "description", "description.full": "full-description",
	"developer.name": "developer", "developer.websiteUrl": "website", "developer.privacyUrl": "privacy",
	"developer.termsOfUseUrl": "terms", "accentColor": "accent-color", "staticTabs[0].name": "name",
}

func activityTypes() []ActivityType {
	out := make([]ActivityType, len(desk.ActivityTypes))
	for i, a := range desk.ActivityTypes {
		out[i] = ActivityType{Type: a.Type, Description: a.Description, TemplateText: a.TemplateText}
	}
	return out
}

// Check returns the first problem of m as an invalid-input error naming the
// manifest field, or nil.
func Check(m Manifest) error {
	if ps := Problems(m); len(ps) > 0 {
		return desk.Invalid(ps[0].Field, "%s", ps[0].Message)
	}
	return nil
}

// Problem is one broken rule of a manifest or package.
type Problem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (p Problem) String() string { return fmt.Sprintf("%s: %s", p.Field, p.Message) }
