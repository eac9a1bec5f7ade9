package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/tamlink/tamlink/internal/tokendoctor"
)

const doctorTokenUsage = `Usage:
  tamlink doctor token [TOKEN|-] --data DIR --app APPID [--domain HOST] [--at RFC3339] [--json]
  tamlink doctor token [TOKEN|-] --jwks FILE [--at RFC3339] [--app APPID --tenant TID --domain HOST] [--json]

Explains a Teams SSO token (from the argument or standard input): its header and claims, each check
tamlink's server makes with pass or fail, and for each failure the likely cause and fix. With --data,
the channel's tenant and the keys of the identity platform the server uses are looked up; with only
--jwks and --at, the signature and the validity period are checked. Exit status 0 when every check
that applies passes, 1 when one fails, 2 for bad usage.
`

// runDoctorToken is `tamlink doctor token`: flags to tokendoctor.Input, the
// report to stdout.
func runDoctorToken(ctx context.Context, args []string, env Env) error {
	fs := newFlags("doctor token", env)
	fs.Usage = func() { fmt.Fprint(env.Stderr, doctorTokenUsage) }
	data := fs.String("data", "", "data directory of the server (the channel and identity platform come from it)")
	app := fs.String("app", "", "the channel's app (client) id")
	tenant := fs.String("tenant", "", "the channel's tenant id (offline checks)")
	domain := fs.String("domain", "", "tamlink's public host, as in api://HOST/APPID (default: the data dir's or TAMLINK_PUBLIC_URL's)")
	jwks := fs.String("jwks", "", "a JWKS file to verify the signature with instead of fetching the tenant's keys")
	at := fs.String("at", "", "check at this time (RFC 3339) instead of now")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	usageErr := func(format string, a ...any) error {
		fmt.Fprint(env.Stderr, doctorTokenUsage)
		return &exitError{2, fmt.Errorf(format, a...)}
	}
	if len(pos) > 1 {
		return usageErr("one token at most, got %d arguments", len(pos))
	}
	var token string
	if len(pos) == 1 && pos[0] != "-" {
		token = pos[0]
	} else {
		if env.Stdin == nil {
			return usageErr("no token: pass it as the argument or on standard input")
		}
		b, err := io.ReadAll(io.LimitReader(env.Stdin, 1<<20))
		if err != nil {
			return &exitError{1, fmt.Errorf("read token: %w", err)}
		}
		token = string(b)
	}
	if strings.TrimSpace(token) == "" {
		return usageErr("no token: pass it as the argument or on standard input")
	}

	in := tokendoctor.Input{Token: token, AppID: *app, TenantID: *tenant, Domain: *domain}
	if *at != "" {
		t, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			return usageErr("--at %q is not an RFC 3339 time like 2024-06-28T08:00:00Z", *at)
		}
		in.At = t
	}
	if *jwks != "" {
		b, err := os.ReadFile(*jwks)
		if err != nil {
			return &exitError{2, fmt.Errorf("--jwks: %w", err)}
		}
		in.Keys, in.KeysName = b, *jwks
	}
	if *data == "" {
		*data = env.Getenv("TAMLINK_DATA")
	}
	switch {
	case *data != "" && (*jwks == "" || *app != ""):
		if *app == "" {
			return usageErr("--data needs --app: which channel's token is it?")
		}
		o, err := open(ctx, *data, false, newLogger(env))
		if err != nil {
			return err
		}
		defer o.Close()
		ch, err := o.svc.Channel(ctx, *app)
		if err != nil {
			return err
		}
		if *tenant != "" && !strings.EqualFold(*tenant, ch.TenantID) {
			return usageErr("--tenant %s is not the channel's tenant %s", *tenant, ch.TenantID)
		}
		in.AppID, in.TenantID = ch.AppID, ch.TenantID
		ep := loadEndpoints(o.dir, env)
		in.LoginURL, in.STSURL = ep.LoginURL, ep.STSURL
		if in.Domain == "" {
			in.Domain = hostOf(firstNonEmpty(env.Getenv("TAMLINK_PUBLIC_URL"), loadPublicURL(o.dir)))
		}
	case *jwks != "":
		ep := loadEndpointsOverride(env)
		in.LoginURL, in.STSURL = ep.LoginURL, ep.STSURL
		if in.Domain == "" {
			in.Domain = hostOf(env.Getenv("TAMLINK_PUBLIC_URL"))
		}
	default:
		return usageErr("give either --data DIR --app APPID (a channel) or --jwks FILE (offline)")
	}
	if in.Keys == nil {
		hc := &http.Client{Timeout: 15 * time.Second}
		in.FetchKeys = func(ctx context.Context, u string) ([]byte, error) { return fetchKeys(ctx, hc, u) }
	}

	rep := tokendoctor.Diagnose(ctx, in)
	if *asJSON {
		err = rep.WriteJSON(env.Stdout)
	} else {
		err = rep.WriteText(env.Stdout)
	}
	if err != nil {
		return err
	}
	if !rep.OK {
		return &exitError{1, errors.New("the token fails checks (see above)")}
	}
	return nil
}

func fetchKeys(ctx context.Context, hc *http.Client, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s", u, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 1<<20))
}

func hostOf(u string) string {
	if u == "" {
		return ""
	}
	p, err := url.Parse(u)
	if err != nil {
		return ""
	}
	return p.Host
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}
