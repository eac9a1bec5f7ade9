package manifest

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/tamlink/tamlink/internal/desk"
)

// Package is a Teams app package: the manifest and its two icons.
type Package struct {
	Manifest Manifest
	Color    []byte
	Outline  []byte
	// Files lists the zip's entries (set by Read).
	Files []string
}

// zipTime is every entry's modification time, so the same inputs give the
// same bytes.
var zipTime = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// ManifestJSON is the manifest as written into the package.
func (p *Package) ManifestJSON() []byte {
	data, _ := json.MarshalIndent(p.Manifest, "", "  ")
	return append(data, '\n')
}

// Zip returns the package file: manifest.json, color.png and outline.png
// at the root of the archive, as Teams requires.
func (p *Package) Zip() ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range []struct {
		name string
		data []byte
	}{{ManifestFile, p.ManifestJSON()}, {p.Manifest.Icons.Color, p.Color}, {p.Manifest.Icons.Outline, p.Outline}} {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: zipTime})
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteFile writes the package to path through a temporary file in the same
// directory and a rename, so a failure leaves no partial file behind.
func (p *Package) WriteFile(path string) error {
	data, err := p.Zip()
	if err != nil {
		return err
	}
	return WriteFileAtomic(path, data, 0o644)
}

// WriteFileAtomic writes data to path via a temporary file and a rename.
func WriteFileAtomic(path string, data []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Chmod(mode); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	return nil
}

// MaxPackageSize bounds what Read accepts.
const MaxPackageSize = 16 << 20

// Read opens a package file's bytes. It fails only when the file is not a
// readable package (not a zip, no manifest.json, malformed JSON); rule
// violations are reported by Problems.
func Read(data []byte) (*Package, error) {
	if len(data) > MaxPackageSize {
		return nil, desk.Invalid("package", "is larger than %d MB", MaxPackageSize>>20)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, desk.Invalid("package", "is not a zip file: %v", err)
	}
	files := map[string][]byte{}
	p := &Package{}
	for _, f := range zr.File {
		p.Files = append(p.Files, f.Name)
		if f.FileInfo().IsDir() {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return nil, desk.Invalid("package", "cannot read %s: %v", f.Name, err)
		}
		b, err := io.ReadAll(io.LimitReader(rc, MaxPackageSize))
		rc.Close()
		if err != nil {
			return nil, desk.Invalid("package", "cannot read %s: %v", f.Name, err)
		}
		files[f.Name] = b
	}
	raw, ok := files[ManifestFile]
	if !ok {
		return nil, desk.Invalid("package", "has no manifest.json at the root of the zip (files: %v)", p.Files)
	}
	m, err := ParseManifest(raw)
	if err != nil {
		return nil, err
	}
	p.Manifest = m
	p.Color = files[m.Icons.Color]
	p.Outline = files[m.Icons.Outline]
	return p, nil
}

// ParseManifest decodes manifest.json, noting unmodelled top-level
// properties in Extra.
func ParseManifest(raw []byte) (Manifest, error) {
	var m Manifest
	raw = bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf"))
	if err := json.Unmarshal(raw, &m); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return m, desk.Invalid(te.Field, "must be a %s in manifest.json, got a JSON %s", te.Type, te.Value)
		}
		return m, desk.Invalid("manifest.json", "is not valid JSON: %v", err)
	}
	var keys map[string]json.RawMessage
	_ = json.Unmarshal(raw, &keys)
	known := []string{"$schema", "manifestVersion", "version", "id", "developer", "name", "description", "icons",
		"accentColor", "staticTabs", "validDomains", "webApplicationInfo", "activities"}
	for k := range keys {
		if !slices.Contains(known, k) {
			m.Extra = append(m.Extra, k)
		}
	}
	slices.Sort(m.Extra)
	return m, nil
}

// Problems lists every rule the package breaks: the manifest's, the icons'
// and the zip's layout.
func (p *Package) Problems() []Problem {
	ps := Problems(p.Manifest)
	icon := func(field, name string, data []byte, check func(string, []byte) error) {
		if name == "" {
			return // reported by Problems
		}
		if data == nil {
			ps = append(ps, Problem{field, fmt.Sprintf("names %s, which is not in the package (Teams: \"Failed to find icon\")", name)})
			return
		}
		if err := check(field, data); err != nil {
			var de *desk.Error
			if errors.As(err, &de) {
				ps = append(ps, Problem{field, de.Message})
			} else {
				ps = append(ps, Problem{field, err.Error()})
			}
		}
	}
	icon("icons.color", p.Manifest.Icons.Color, p.Color, CheckColorIcon)
	icon("icons.outline", p.Manifest.Icons.Outline, p.Outline, CheckOutlineIcon)
	return ps
}
