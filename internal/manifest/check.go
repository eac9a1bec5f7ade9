package manifest

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tamlink/tamlink/internal/desk"
)

// Rules from the v1.30 schema (lengths, patterns, required fields) and from
// Microsoft's manifest documentation where the schema is silent.
var (
	guidRE   = regexp.MustCompile(`^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$`)
	semverRE = regexp.MustCompile(`^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$`)
	colorRE  = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)
	labelRE  = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	mvRE     = regexp.MustCompile(`^1\.([0-9]+)$`)
)

// MaxValidDomains is the documented limit (the schema allows 100; the
// manifest reference says "maximum item of the object is 16").
const MaxValidDomains = 16

// identityProviderHosts must not be valid domains: the sign-in pages refuse
// to be framed and Teams documents that the identity provider's domain must
// not be listed.
var identityProviderHosts = []string{
	"login.microsoftonline.com", "login.microsoft.com", "login.windows.net", "sts.windows.net",
	"login.live.com", "login.microsoftonline.us", "login.partner.microsoftonline.cn",
	"accounts.google.com", "appleid.apple.com", "www.facebook.com",
}

// notYourDomains are suffixes nobody controls alone; Teams refuses them.
var notYourDomains = []string{"onmicrosoft.com", "sharepoint.com", "azurewebsites.net", "microsoft.com", "office.com", "teams.microsoft.com"}

// topLevel are the v1.30 manifest's top-level properties (the schema has
// additionalProperties false).
var topLevel = []string{"$schema", "manifestVersion", "version", "id", "localizationInfo", "developer", "name",
	"description", "icons", "accentColor", "configurableTabs", "staticTabs", "bots", "connectors",
	"subscriptionOffer", "composeExtensions", "permissions", "devicePermissions", "validDomains",
	"webApplicationInfo", "graphConnector", "showLoadingIndicator", "isFullScreen", "activities",
	"supportsChannelFeatures", "supportedChannelTypes", "configurableProperties", "defaultBlockUntilAdminAction",
	"publisherDocsUrl", "defaultInstallScope", "defaultGroupCapability", "meetingExtensionDefinition",
	"authorization", "extensions", "dashboardCards", "intuneInfo", "copilotAgents", "agenticUserTemplates",
	"elementRelationshipSet", "backgroundLoadConfiguration", "agentConnectors", "agentSkills"}

type checker struct{ ps []Problem }

func (c *checker) add(field, format string, args ...any) {
	c.ps = append(c.ps, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (c *checker) text(field, v string, required bool, max int) {
	switch {
	case required && strings.TrimSpace(v) == "":
		c.add(field, "is required")
	case utf8.RuneCountInString(v) > max:
		c.add(field, "is %d characters long; at most %d are allowed", utf8.RuneCountInString(v), max)
	}
}

func (c *checker) https(field, v string, required bool) {
	if v == "" {
		if required {
			c.add(field, "is required (an https URL)")
		}
		return
	}
	if len(v) > 2048 {
		c.add(field, "is longer than 2048 characters")
		return
	}
	u, err := url.Parse(v)
	switch {
	case err != nil || u.Host == "":
		c.add(field, "%q is not an absolute URL", v)
	case u.Scheme != "https":
		c.add(field, "%q must be an https URL (Teams and the store refuse http)", v)
	}
}

// Problems lists every rule m breaks, in field order.
func Problems(m Manifest) []Problem {
	c := &checker{}
	for _, p := range m.Extra {
		if !slices.Contains(topLevel, p) {
			c.add(p, "is not a property of the manifest schema %s", m.ManifestVersion)
		}
	}
	if m.Schema != "" {
		if u, err := url.Parse(m.Schema); err != nil || u.Scheme == "" {
			c.add("$schema", "%q is not a URI", m.Schema)
		}
	}
	switch mv := mvRE.FindStringSubmatch(m.ManifestVersion); {
	case m.ManifestVersion == "":
		c.add("manifestVersion", "is required")
	case mv == nil:
		c.add("manifestVersion", "%q is not a manifest schema version like %s", m.ManifestVersion, ManifestVersion)
	default:
		minor, _ := strconv.Atoi(mv[1])
		if m.Activities != nil && minor < 7 {
			c.add("manifestVersion", "activities need manifest version 1.7 or later, got %s", m.ManifestVersion)
		}
		if m.WebApplicationInfo != nil && minor < 5 {
			c.add("manifestVersion", "webApplicationInfo needs manifest version 1.5 or later, got %s", m.ManifestVersion)
		}
	}
	switch {
	case m.Version == "":
		c.add("version", "is required")
	case len(m.Version) > 256 || !semverRE.MatchString(m.Version):
		c.add("version", "%q is not a semantic version MAJOR.MINOR.PATCH (like 1.0.0, no pre-release suffix)", m.Version)
	}
	switch {
	case m.ID == "":
		c.add("id", "is required")
	case !guidRE.MatchString(m.ID):
		c.add("id", "%q is not a GUID", m.ID)
	}
	c.text("developer.name", m.Developer.Name, true, 32)
	c.text("developer.mpnId", m.Developer.MpnID, false, 10)
	c.https("developer.websiteUrl", m.Developer.WebsiteURL, true)
	c.https("developer.privacyUrl", m.Developer.PrivacyURL, true)
	c.https("developer.termsOfUseUrl", m.Developer.TermsOfUseURL, true)
	c.text("name.short", m.Name.Short, true, 30)
	c.text("name.full", m.Name.Full, false, 100)
	c.text("description.short", m.Description.Short, true, 80)
	c.text("description.full", m.Description.Full, true, 4000)
	c.relPath("icons.color", m.Icons.Color)
	c.relPath("icons.outline", m.Icons.Outline)
	if m.Icons.Color != "" && m.Icons.Color == m.Icons.Outline {
		c.add("icons.outline", "must be a different file from icons.color")
	}
	switch {
	case m.AccentColor == "":
		c.add("accentColor", "is required (an HTML colour like %s)", DefaultAccentColor)
	case !colorRE.MatchString(m.AccentColor):
		c.add("accentColor", "%q is not an HTML colour #RRGGBB", m.AccentColor)
	}
	c.validDomains(m.ValidDomains)
	c.staticTabs(m)
	if w := m.WebApplicationInfo; w != nil {
		switch {
		case w.ID == "":
			c.add("webApplicationInfo.id", "is required (the Entra app's client id)")
		case !guidRE.MatchString(w.ID):
			c.add("webApplicationInfo.id", "%q is not a GUID", w.ID)
		}
		if len(w.Resource) > 2048 {
			c.add("webApplicationInfo.resource", "is longer than 2048 characters")
		}
		if w.Resource != "" {
			if u, err := url.Parse(w.Resource); err != nil || u.Scheme == "" || u.Host == "" {
				c.add("webApplicationInfo.resource", "%q is not an Application ID URI like api://host/{appId}", w.Resource)
			} else if u.Scheme == "api" && u.Host != strings.ToLower(u.Host) {
				c.add("webApplicationInfo.resource", "the domain in %q must be lower case (mixed case breaks SSO on Android)", w.Resource)
			}
		}
	}
	if a := m.Activities; a != nil {
		if len(a.ActivityTypes) > 128 {
			c.add("activities.activityTypes", "has %d entries; at most 128 are allowed", len(a.ActivityTypes))
		}
		seen := map[string]bool{}
		for i, t := range a.ActivityTypes {
			f := fmt.Sprintf("activities.activityTypes[%d]", i)
			c.text(f+".type", t.Type, true, 64)
			c.text(f+".description", t.Description, true, 128)
			c.text(f+".templateText", t.TemplateText, true, 128)
			if t.Type == "systemDefault" {
				c.add(f+".type", "systemDefault is reserved and must not be declared")
			}
			if seen[t.Type] {
				c.add(f+".type", "%q is declared twice", t.Type)
			}
			seen[t.Type] = true
		}
	}
	return c.ps
}

func (c *checker) relPath(field, p string) {
	switch {
	case p == "":
		c.add(field, "is required (a file name inside the package, e.g. %s)", ColorFile)
	case len(p) > 2048:
		c.add(field, "is longer than 2048 characters")
	case strings.Contains(p, "://") || strings.HasPrefix(p, "/") || strings.Contains(p, "\\") || slices.Contains(strings.Split(p, "/"), ".."):
		c.add(field, "%q must be a relative path inside the package", p)
	case !strings.HasSuffix(strings.ToLower(p), ".png"):
		c.add(field, "%q must be a PNG file", p)
	}
}

func (c *checker) validDomains(ds []string) {
	if len(ds) > MaxValidDomains {
		c.add("validDomains", "has %d entries; Teams allows at most %d", len(ds), MaxValidDomains)
	}
	seen := map[string]bool{}
	for i, d := range ds {
		f := fmt.Sprintf("validDomains[%d]", i)
		if seen[strings.ToLower(d)] {
			c.add(f, "%q is listed twice", d)
		}
		seen[strings.ToLower(d)] = true
		if len(d) > 2048 {
			c.add(f, "is longer than 2048 characters")
			continue
		}
		if msg := checkHost(d, true); msg != "" {
			c.add(f, "%s", msg)
		}
	}
}

// checkHost checks a valid-domain entry (wildcards allowed when wild) or a
// plain host name; it returns why it is refused, or "".
func checkHost(d string, wild bool) string {
	if d == "" {
		return "is empty"
	}
	if strings.Contains(d, "://") || strings.HasPrefix(d, "//") {
		return fmt.Sprintf("%q must be a bare domain without a scheme (e.g. desk.example.com)", d)
	}
	if strings.ContainsAny(d, "/?#@ ") {
		return fmt.Sprintf("%q must be a bare domain without path, query or user", d)
	}
	host := d
	if h, port, err := net.SplitHostPort(d); err == nil {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Sprintf("%q has an invalid port", d)
		}
		host = h
	}
	lower := strings.ToLower(host)
	if net.ParseIP(host) != nil {
		return fmt.Sprintf("%q is an IP address; Teams needs a domain name", d)
	}
	labels := strings.Split(lower, ".")
	if len(labels) < 2 {
		return fmt.Sprintf("%q is not a fully qualified domain name", d)
	}
	wildcards := 0
	for i, l := range labels {
		if l == "*" {
			if !wild {
				return fmt.Sprintf("%q: a wildcard is not allowed here", d)
			}
			if i != wildcards {
				return fmt.Sprintf("%q: every label left of a wildcard must be a wildcard too (*.*.example.com, not a.*.example.com)", d)
			}
			wildcards++
			continue
		}
		if strings.Contains(l, "*") {
			return fmt.Sprintf("%q: a wildcard must be a whole label (*.example.com, not ab*.example.com)", d)
		}
		if !labelRE.MatchString(l) {
			return fmt.Sprintf("%q: %q is not a valid domain label", d, l)
		}
	}
	if len(labels)-wildcards < 2 {
		return fmt.Sprintf("%q: a wildcard may not cover a whole top-level domain", d)
	}
	rest := strings.Join(labels[wildcards:], ".")
	for _, s := range notYourDomains {
		if wildcards > 0 && (rest == s || strings.HasSuffix(s, "."+rest)) {
			return fmt.Sprintf("%q covers %s, which no single organisation controls", d, s)
		}
	}
	for _, idp := range identityProviderHosts {
		if lower == idp || (wildcards > 0 && strings.HasSuffix(idp, "."+rest) && strings.Count(idp, ".")+1 == len(labels)) {
			return fmt.Sprintf("%q is an identity provider's domain; Teams documents that it must not be a valid domain", d)
		}
	}
	return ""
}

// hostAllowed reports whether host is covered by the valid domains (a
// wildcard label matches exactly one label).
func hostAllowed(domains []string, host string) bool {
	host = strings.ToLower(host)
	hl := strings.Split(host, ".")
	for _, d := range domains {
		dl := strings.Split(strings.ToLower(d), ".")
		if len(dl) != len(hl) {
			continue
		}
		ok := true
		for i := range dl {
			if dl[i] != "*" && dl[i] != hl[i] {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func (c *checker) staticTabs(m Manifest) {
	if len(m.StaticTabs) > 16 {
		c.add("staticTabs", "has %d tabs; at most 16 are allowed", len(m.StaticTabs))
	}
	ids := map[string]bool{}
	for i, t := range m.StaticTabs {
		f := fmt.Sprintf("staticTabs[%d]", i)
		c.text(f+".entityId", t.EntityID, true, 64)
		if ids[t.EntityID] {
			c.add(f+".entityId", "%q is used by another tab", t.EntityID)
		}
		ids[t.EntityID] = true
		c.text(f+".name", t.Name, false, 128)
		c.https(f+".contentUrl", t.ContentURL, false)
		c.https(f+".websiteUrl", t.WebsiteURL, false)
		if len(t.Scopes) == 0 {
			c.add(f+".scopes", "is required; static tabs support only [\"personal\"]")
		}
		for _, s := range t.Scopes {
			if s != "personal" {
				c.add(f+".scopes", "%q: static tabs are only supported in the personal scope", s)
			}
		}
		if len(t.Context) > 8 {
			c.add(f+".context", "has more than 8 entries")
		}
		if u, err := url.Parse(t.ContentURL); err == nil && u.Host != "" && !hostAllowed(m.ValidDomains, u.Hostname()) && !hostAllowed(m.ValidDomains, u.Host) {
			c.add("validDomains", "does not cover %s, the host of %s.contentUrl: Teams will not load the tab", u.Host, f)
		}
	}
}

// Expectations are what a tamlink channel's package must say.
type Expectations struct {
	AppID  string // the Entra app's client id
	Domain string // tamlink's host
}

// ChannelProblems lists where m differs from the package tamlink needs for
// the channel (workbench tab, SSO resource, valid domain, activity types).
func ChannelProblems(m Manifest, x Expectations) []Problem {
	c := &checker{}
	appID := strings.ToLower(x.AppID)
	if w := m.WebApplicationInfo; w == nil {
		c.add("webApplicationInfo", "is missing: Teams SSO cannot work (set id %s, resource %s)", appID, Resource(x.Domain, appID))
	} else {
		if appID != "" && !strings.EqualFold(w.ID, appID) {
			c.add("webApplicationInfo.id", "is %q, not the app registration's client id %s", w.ID, appID)
		}
		if x.Domain != "" && appID != "" && w.Resource != Resource(x.Domain, appID) {
			c.add("webApplicationInfo.resource", "is %q, not the Application ID URI %s", w.Resource, Resource(x.Domain, appID))
		}
	}
	if x.Domain != "" && !hostAllowed(m.ValidDomains, x.Domain) {
		c.add("validDomains", "does not list %s: Teams will not load the workbench or the sign-in popup", x.Domain)
	}
	if x.Domain != "" && appID != "" {
		want := WorkbenchURL(x.Domain, appID)
		if !slices.ContainsFunc(m.StaticTabs, func(t StaticTab) bool { return t.ContentURL == want }) {
			c.add("staticTabs", "has no personal tab with contentUrl %s", want)
		}
	}
	have := map[string]bool{}
	if m.Activities != nil {
		for _, t := range m.Activities.ActivityTypes {
			have[t.Type] = true
		}
	}
	var missing []string
	for _, t := range desk.ActivityTypes {
		if !have[t.Type] {
			missing = append(missing, t.Type)
		}
	}
	if len(missing) > 0 {
		c.add("activities.activityTypes", "lacks %s: Graph refuses notifications of undeclared types", strings.Join(missing, ", "))
	}
	return c.ps
}
