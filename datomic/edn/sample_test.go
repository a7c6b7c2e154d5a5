package edn

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/internal/sampledata"
)

// sampleFile returns a file or directory of the sample data, or skips t
// without it (see internal/sampledata).
func sampleFile(t testing.TB, parts ...string) string {
	t.Helper()
	return sampledata.Path(t, parts...)
}

func decodeFile(t testing.TB, path string) []any {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var forms []any
	for v, err := range NewDecoder(f).All() {
		require.NoError(t, err, path)
		forms = append(forms, v)
	}
	return forms
}

func TestDayOfDatomicFilesParse(t *testing.T) {
	for _, dir := range []string{"day-of-datomic", "day-of-datomic-cloud"} {
		paths, err := filepath.Glob(filepath.Join(sampleFile(t, dir), "*.edn"))
		require.NoError(t, err)
		require.NotEmpty(t, paths)
		for _, p := range paths {
			forms := decodeFile(t, p)
			assert.NotEmpty(t, forms, p)
		}
	}
}

func TestDayOfDatomicShapes(t *testing.T) {
	streets := decodeFile(t, sampleFile(t, "day-of-datomic", "streets.edn"))
	require.Len(t, streets, 5, "five transactions")
	first := streets[0].([]any)
	txMap := first[2].(Map)
	id, _ := txMap.Keyword(datomic.DBID)
	assert.Equal(t, datomic.TxTempID, id)
	inst, _ := txMap.Keyword("db/txInstant")
	assert.True(t, Equal(mustRead(t, `#inst "1970-01-01T00:00:00Z"`), inst))

	fns := decodeFile(t, sampleFile(t, "day-of-datomic", "clojure-data-functions.edn"))
	require.Len(t, fns, 1)
	var fnCount int
	for _, m := range fns[0].([]any) {
		if v, ok := m.(Map).Keyword("db/fn"); ok {
			f := v.(datomic.Fn)
			assert.Equal(t, datomic.Keyword("clojure"), f.Lang)
			assert.NotEmpty(t, f.Code)
			fnCount++
		}
	}
	assert.Equal(t, 4, fnCount)
}

func TestMBrainzFilesParse(t *testing.T) {
	want := map[string]int{"schema.edn": 1, "enums.edn": 1, "super-enums.edn": 2, "artists.edn": 1,
		"areleases.edn": 3, "areleases-artists.edn": 3, "labels.edn": 1, "releases.edn": 3, "releases-artists.edn": 3}
	total := 0
	for name, n := range want {
		forms := decodeFile(t, sampleFile(t, "mbrainz", name))
		require.Len(t, forms, n, name)
		for _, f := range forms {
			m := f.(Map)
			bi, ok := m.Keyword("batch-ident")
			require.True(t, ok)
			id, _ := bi.(Map).Keyword(datomic.DBID)
			assert.Equal(t, "datomic.tx", id)
			data, ok := m.Keyword("data")
			require.True(t, ok)
			total += len(data.([]any))
		}
	}
	t.Logf("%d entity maps", total)
	assert.Greater(t, total, 50000)
}
