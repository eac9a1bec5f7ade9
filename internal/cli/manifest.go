package cli

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/tamlink/tamlink/internal/desk"
	"github.com/tamlink/tamlink/internal/manifest"
)

// manifestFlags are the Teams app package options, shared by manifest and
// setup.
type manifestFlags struct {
	teamsAppID, version, name, fullName, description, fullDescription  *string
	developer, website, privacy, terms, accent, colorIcon, outlineIcon *string
}

func addManifestFlags(fs *flag.FlagSet) *manifestFlags {
	return &manifestFlags{
		teamsAppID:      fs.String("teams-app-id", "", "manifest id (the catalog's externalId); default: a GUID derived from --app-id"),
		version:         fs.String("version", "", "package version, MAJOR.MINOR.PATCH (default "+manifest.DefaultVersion+")"),
		name:            fs.String("name", "", "Teams app short name, ≤ 30 characters (default \""+manifest.DefaultShortName+"\")"),
		fullName:        fs.String("full-name", "", "Teams app full name, ≤ 100 characters"),
		description:     fs.String("description", "", "short description, ≤ 80 characters"),
		fullDescription: fs.String("full-description", "", "full description, ≤ 4000 characters"),
		developer:       fs.String("developer", "", "developer name, ≤ 32 characters (default \""+manifest.DefaultDeveloperName+"\")"),
		website:         fs.String("website", "", "developer website, https (default https://DOMAIN/)"),
		privacy:         fs.String("privacy", "", "privacy statement URL, https (default https://DOMAIN/privacy)"),
		terms:           fs.String("terms", "", "terms of use URL, https (default https://DOMAIN/terms)"),
		accent:          fs.String("accent-color", "", "accent colour #RRGGBB (default "+manifest.DefaultAccentColor+")"),
		colorIcon:       fs.String("color-icon", "", "192×192 PNG colour icon (default: generated)"),
		outlineIcon:     fs.String("outline-icon", "", "32×32 PNG outline icon, white on transparent (default: generated)"),
	}
}

// options reads the icon files and fills the package options.
func (f *manifestFlags) options() (manifest.Options, error) {
	o := manifest.Options{
		TeamsAppID: *f.teamsAppID, Version: *f.version, ShortName: *f.name, FullName: *f.fullName,
		ShortDescription: *f.description, FullDescription: *f.fullDescription, DeveloperName: *f.developer,
		WebsiteURL: *f.website, PrivacyURL: *f.privacy, TermsURL: *f.terms, AccentColor: *f.accent,
	}
	read := func(flagName, path string) ([]byte, error) {
		if path == "" {
			return nil, nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, desk.Invalid(flagName, "cannot read %s: %v", path, err)
		}
		return data, nil
	}
	var err error
	if o.ColorIcon, err = read("color-icon", *f.colorIcon); err != nil {
		return o, err
	}
	if o.OutlineIcon, err = read("outline-icon", *f.outlineIcon); err != nil {
		return o, err
	}
	return o, nil
}

// runManifest builds a channel's Teams app package offline.
func runManifest(ctx context.Context, args []string, env Env) error {
	fs := newFlags("manifest", env)
	appID := fs.String("app-id", "", "the Entra app registration's Application (client) ID (required)")
	domain := fs.String("domain", "", "host tamlink is served from, e.g. desk.example.com (required)")
	out := fs.String("out", "", "package file to write, e.g. teams-app.zip (required)")
	mf := addManifestFlags(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return &exitError{2, fmt.Errorf("manifest takes no arguments (got %q)", pos)}
	}
	if *out == "" {
		return desk.Invalid("out", "is required: the package file to write, e.g. --out teams-app.zip")
	}
	opts, err := mf.options()
	if err != nil {
		return err
	}
	opts.AppID, opts.Domain = *appID, *domain
	p, err := manifest.Build(opts)
	if err != nil {
		return err
	}
	if err := p.WriteFile(*out); err != nil {
		return desk.Invalid("out", "cannot write %s: %v", *out, err)
	}
	m := p.Manifest
	fmt.Fprintf(env.Stdout, "wrote %s: Teams app %q, manifest id %s, version %s, schema %s\n", *out, m.Name.Short, m.ID, m.Version, m.ManifestVersion)
	fmt.Fprintf(env.Stdout, "  personal tab  %s\n  SSO           %s\n  valid domain  %s\n  activity types %d\n",
		m.StaticTabs[0].ContentURL, m.WebApplicationInfo.Resource, m.ValidDomains[0], len(m.Activities.ActivityTypes))
	fmt.Fprintln(env.Stdout, "Upload it in Teams admin center → Teams apps → Manage apps → Upload new app, or let `tamlink setup` publish it.")
	return nil
}
