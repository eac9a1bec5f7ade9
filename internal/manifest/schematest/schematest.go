// Package schematest validates Teams manifests against Microsoft's official
// v1.30 JSON schema, read in place from the shared data directory. Tests
// only: the product enforces the rules with its own checks and carries no
// copy of the schema.
package schematest

import (
	"testing"

	"bytes"
	"fmt"
	"github.com/tamlink/tamlink/internal/shareddata"
	"os"
	"path/filepath"
	"sync"

	"github.com/dlclark/regexp2"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// ecmaRegexp evaluates the schema's patterns as ECMAScript regular
// expressions, as Microsoft's own validator (ajv) does: some v1.30 patterns
// use look-ahead, which Go's regexp lacks.
type ecmaRegexp struct{ re *regexp2.Regexp }

func (r ecmaRegexp) String() string { return r.re.String() }

func (r ecmaRegexp) MatchString(s string) bool {
	ok, err := r.re.MatchString(s)
	return ok && err == nil
}

func compileECMA(s string) (jsonschema.Regexp, error) {
	re, err := regexp2.Compile(s, regexp2.ECMAScript)
	if err != nil {
		return nil, err
	}
	return ecmaRegexp{re}, nil
}

// Dir is where the schemas live: the shared data beside the repository
// (see internal/shareddata), or TAMLINK_MANIFEST_SCHEMA_DIR.
func Dir() string {
	if d := os.Getenv("TAMLINK_MANIFEST_SCHEMA_DIR"); d != "" {
		return d
	}
	d, _ := shareddata.Path("teams-manifest-schema")
	return d
}

// Require skips (or, under CI, fails) a test when the schema is absent.
func Require(t testing.TB) {
	t.Helper()
	if os.Getenv("TAMLINK_MANIFEST_SCHEMA_DIR") == "" {
		shareddata.Dir(t, "teams-manifest-schema")
	}
}

var (
	once   sync.Once
	schema *jsonschema.Schema
	err    error
)

// Schema compiles MicrosoftTeams.schema.json v1.30 (draft-04) once. The
// schema has no remote references; the other v1.30 files are registered
// under their hosted URLs anyway, so a future reference resolves locally.
func Schema() (*jsonschema.Schema, error) {
	once.Do(func() {
		dir := filepath.Join(Dir(), "v1.30")
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft4)
		c.AssertFormat()
		c.UseRegexpEngine(compileECMA)
		names, e := filepath.Glob(filepath.Join(dir, "*.schema.json"))
		if e != nil || len(names) == 0 {
			err = fmt.Errorf("official Teams manifest schema not found in %s (expected /work/shared/data/teams-manifest-schema/v1.30)", dir)
			return
		}
		for _, n := range names {
			f, e := os.ReadFile(n)
			if e != nil {
				err = e
				return
			}
			doc, e := jsonschema.UnmarshalJSON(bytes.NewReader(f))
			if e != nil {
				err = fmt.Errorf("%s: %w", n, e)
				return
			}
			url := "https://developer.microsoft.com/json-schemas/teams/v1.30/" + filepath.Base(n)
			if err = c.AddResource(url, doc); err != nil {
				return
			}
		}
		schema, err = c.Compile("https://developer.microsoft.com/json-schemas/teams/v1.30/MicrosoftTeams.schema.json")
	})
	return schema, err
}

// Validate checks manifest JSON against the official schema.
func Validate(manifestJSON []byte) error {
	s, err := Schema()
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(manifestJSON))
	if err != nil {
		return err
	}
	return s.Validate(inst)
}
