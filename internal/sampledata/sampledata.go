// Package sampledata finds the public sample data that some tests,
// benchmarks and examples read: the MusicBrainz subset published with
// Datomic's mbrainz importer, and the Day of Datomic transaction files.
// The data is not part of the repository (see the README, "Sample data").
//
// The sample's root directory holds mbrainz/, day-of-datomic/ and
// day-of-datomic-cloud/. It is $DCBACKUP_SAMPLE_DIR when that is set (a
// relative path is taken from the module root), and ../shared/data beside
// the module root otherwise.
//
// A test that needs the sample calls [Path]: without the sample the test
// is skipped with a message saying where the sample was looked for, or
// fails when DCBACKUP_REQUIRE_SAMPLE=1 (as in CI).
package sampledata

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// Environment variables read by this package.
const (
	// EnvDir overrides the sample's root directory.
	EnvDir = "DCBACKUP_SAMPLE_DIR"
	// EnvRequire, set to 1, turns a missing sample into a test failure.
	EnvRequire = "DCBACKUP_REQUIRE_SAMPLE"
)

// DefaultDir is the sample's root when EnvDir is not set, relative to the
// module root.
const DefaultDir = "../shared/data"

// ErrNoModuleRoot is returned by [Dir] when no go.mod is found in the
// working directory or above it.
var ErrNoModuleRoot = errors.New("sampledata: no go.mod in the working directory or above")

// Dir returns the sample's root directory (see the package comment),
// whether or not it exists.
func Dir() (string, error) {
	return dir(os.Getenv(EnvDir), os.Getwd)
}

func dir(env string, getwd func() (string, error)) (string, error) {
	if filepath.IsAbs(env) {
		return filepath.Clean(env), nil
	}
	wd, err := getwd()
	if err != nil {
		return "", fmt.Errorf("sampledata: %w", err)
	}
	root, err := moduleRoot(wd)
	if err != nil {
		return "", err
	}
	if env == "" {
		env = DefaultDir
	}
	return filepath.Join(root, env), nil
}

// moduleRoot returns the nearest directory at or above dir that holds a
// go.mod file.
func moduleRoot(dir string) (string, error) {
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("sampledata: %w", err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", ErrNoModuleRoot
		}
		dir = parent
	}
}

// Path returns the sample file or directory named by parts under [Dir],
// for example Path(t, "mbrainz"). When it does not exist, t is skipped
// with a message saying where the sample was looked for and how to get
// it, or fails if DCBACKUP_REQUIRE_SAMPLE=1.
func Path(t testing.TB, parts ...string) string {
	t.Helper()
	root, err := Dir()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(append([]string{root}, parts...)...)
	if _, err := os.Stat(p); err != nil {
		// The same message for every test when the whole sample is missing.
		what := fmt.Sprintf("%s is missing", filepath.Join(parts...))
		if _, err := os.Stat(root); err != nil {
			what = "no such directory"
		}
		msg := fmt.Sprintf("sample data not found in %s: %s (set %s to the sample's directory; "+
			"the README's \"Sample data\" says where to get it)", root, what, EnvDir)
		if os.Getenv(EnvRequire) == "1" {
			t.Fatalf("%s=1 but %s", EnvRequire, msg)
		} else {
			t.Skip(msg)
		}
	}
	return p
}
