package sampledata

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDir(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(root, "go.mod"), []byte("module m\n"), 0o644))
	pkg := filepath.Join(root, "a", "b")
	require.NoError(t, os.MkdirAll(pkg, 0o755))
	getwd := func() (string, error) { return pkg, nil }

	d, err := dir("", getwd)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(filepath.Dir(root), "shared", "data"), d, "default: ../shared/data beside the module root")

	d, err = dir("samples", getwd)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(root, "samples"), d, "relative to the module root, not the package")

	d, err = dir("/srv/sample/", getwd)
	require.NoError(t, err)
	assert.Equal(t, "/srv/sample", d)

	_, err = dir("", func() (string, error) { return "/", nil })
	assert.ErrorIs(t, err, ErrNoModuleRoot)
	_, err = dir("", func() (string, error) { return "", errors.New("gone") })
	assert.ErrorContains(t, err, "gone")
}

// recorder is a testing.TB that records Skip and Fatal instead of
// stopping the goroutine.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper()                   {}
func (r *recorder) Skip(args ...any)          { r.skipped = fmt.Sprint(args...) }
func (r *recorder) Fatal(args ...any)         { r.failed = fmt.Sprint(args...) }
func (r *recorder) Fatalf(f string, a ...any) { r.failed = fmt.Sprintf(f, a...) }

func TestPath(t *testing.T) {
	sample := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(sample, "mbrainz"), 0o755))
	t.Setenv(EnvDir, sample)

	t.Setenv(EnvRequire, "")
	r := &recorder{TB: t}
	assert.Equal(t, filepath.Join(sample, "mbrainz"), Path(r, "mbrainz"))
	assert.Empty(t, r.skipped+r.failed)

	r = &recorder{TB: t}
	Path(r, "day-of-datomic", "streets.edn")
	assert.Contains(t, r.skipped, "sample data not found in "+sample+": "+filepath.Join("day-of-datomic", "streets.edn")+" is missing")
	assert.Contains(t, r.skipped, EnvDir)
	assert.Empty(t, r.failed)

	// Without the sample, one message for every test.
	t.Setenv(EnvDir, filepath.Join(sample, "none"))
	r = &recorder{TB: t}
	Path(r, "mbrainz")
	r2 := &recorder{TB: t}
	Path(r2, "day-of-datomic", "streets.edn")
	assert.Contains(t, r.skipped, "sample data not found in "+filepath.Join(sample, "none")+": no such directory")
	assert.Equal(t, r.skipped, r2.skipped)

	t.Setenv(EnvRequire, "1")
	r = &recorder{TB: t}
	Path(r, "day-of-datomic")
	assert.Contains(t, r.failed, EnvRequire+"=1 but sample data not found")
	assert.Empty(t, r.skipped)
}
