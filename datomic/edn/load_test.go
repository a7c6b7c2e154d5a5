package edn

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/mem"
)

// Figures of the published sample, counted from the files independently
// of this package.
const (
	sampleArtists       = 4601  // artist maps in artists.edn, one per gid
	sampleArtistStubs   = 12    // gids that only the *-artists batches mention
	sampleLabels        = 1207  // label maps, one per gid
	sampleReleases      = 11434 // distinct release gids (11510 maps)
	sampleAbstracts     = 10180 // abstract release maps, one per gid
	sampleBatches       = 18    // lines of the nine files
	sampleEntityMaps    = 58166 // entity maps under :data
	sampleReleasesMaps  = 11510
	sampleReleasesLines = 3
)

func countAVET(t testing.TB, db datomic.DB, attr datomic.Keyword, v ...any) int {
	t.Helper()
	n := 0
	for _, err := range db.Datoms(context.Background(), datomic.AVET, append([]any{attr}, v...)...) {
		require.NoError(t, err)
		n++
	}
	return n
}

// entity returns the current attributes of e, keyed by ident; values of
// cardinality-many attributes are collected in slices.
func entity(t testing.TB, db datomic.DB, e int64) map[datomic.Keyword][]any {
	t.Helper()
	ctx := context.Background()
	out := map[datomic.Keyword][]any{}
	for d, err := range db.Datoms(ctx, datomic.EAVT, e) {
		require.NoError(t, err)
		k, ok, err := db.Ident(ctx, d.A)
		require.NoError(t, err)
		require.True(t, ok)
		out[k] = append(out[k], d.V)
	}
	return out
}

func lookup(t testing.TB, db datomic.DB, attr datomic.Keyword, v any) int64 {
	t.Helper()
	for d, err := range db.Datoms(context.Background(), datomic.AVET, attr, v) {
		require.NoError(t, err)
		return d.E
	}
	t.Fatalf("no entity with %s %v", attr, v)
	return 0
}

func ident(t testing.TB, db datomic.DB, id any) datomic.Keyword {
	t.Helper()
	k, ok, err := db.Ident(context.Background(), id.(int64))
	require.NoError(t, err)
	require.True(t, ok, "%v has no ident", id)
	return k
}

func TestLoadMBrainz(t *testing.T) {
	dir := sampleFile(t, "mbrainz")
	for _, split := range []int{0, 1000} {
		t.Run(map[int]string{0: "whole", 1000: "split"}[split], func(t *testing.T) {
			ctx := context.Background()
			conn := mem.New(mem.Options{SharedCounter: true})
			st, err := LoadMBrainz(ctx, conn, dir, LoadOptions{SplitSize: split})
			require.NoError(t, err)
			t.Logf("%+v, %.0f datoms/s", st, st.DatomsPerSecond())
			assert.Equal(t, sampleBatches, st.Batches)
			assert.Equal(t, sampleEntityMaps, st.EntityMaps)
			if split == 0 {
				assert.Equal(t, sampleBatches+1, st.Transactions, "one per batch and the attribute")
			} else {
				assert.Greater(t, st.Transactions, 60)
			}
			assert.Greater(t, st.Datoms, int64(220_000))

			db, err := conn.DB(ctx)
			require.NoError(t, err)
			checkSample(t, db)

			// Each transaction carries its batch id.
			assert.Equal(t, st.Transactions-1, countAVET(t, db, BatchIDAttr))
			if split > 0 {
				assert.Equal(t, 1, countAVET(t, db, BatchIDAttr, "releases-1.1"))
				assert.Zero(t, countAVET(t, db, BatchIDAttr, "releases-1"))
			} else {
				assert.Equal(t, 1, countAVET(t, db, BatchIDAttr, "releases-1"))
			}
		})
	}
}

func checkSample(t *testing.T, db datomic.DB) {
	ctx := context.Background()
	assert.Equal(t, 66+1, countSchemaAttrs(t, db), "66 attributes and the batch id")
	assert.Equal(t, sampleArtists+sampleArtistStubs, countAVET(t, db, "artist/gid"))
	assert.Equal(t, sampleArtists, countAVET(t, db, "artist/name"))
	assert.Equal(t, sampleLabels, countAVET(t, db, "label/gid"))
	assert.Equal(t, sampleReleases, countAVET(t, db, "release/gid"))
	assert.Equal(t, sampleAbstracts, countAVET(t, db, "abstractRelease/gid"))

	adamo := entity(t, db, lookup(t, db, "artist/gid", mustUUID("d3132eab-36d1-476e-a736-cb6dbb08a4a2")))
	assert.Equal(t, []any{"Adamo"}, adamo["artist/name"])
	assert.Equal(t, []any{int64(1943)}, adamo["artist/startYear"])
	assert.Equal(t, datomic.Keyword("country/IT"), ident(t, db, adamo["artist/country"][0]))
	assert.Equal(t, datomic.Keyword("artist.gender/male"), ident(t, db, adamo["artist/gender"][0]))
	italy := entity(t, db, adamo["artist/country"][0].(int64))
	assert.Equal(t, []any{"Italy"}, italy["country/name"])

	zep := entity(t, db, lookup(t, db, "artist/gid", mustUUID("678d88b2-87b0-403b-b63d-5da7465aecc3")))
	assert.Equal(t, []any{"Led Zeppelin"}, zep["artist/name"])
	assert.Equal(t, []any{int64(1980)}, zep["artist/endYear"])
	assert.Equal(t, datomic.Keyword("country/GB"), ident(t, db, zep["artist/country"][0]))

	// "Fly" by Yoko Ono, on Apple Records: refs made by nested maps
	// (upserts by gid) in releases.edn and releases-artists.edn.
	fly := entity(t, db, lookup(t, db, "release/gid", mustUUID("ec38019b-fd6f-4697-8a27-b5a154aee7e8")))
	assert.Equal(t, []any{"Fly"}, fly["release/name"])
	assert.Equal(t, []any{int64(1971)}, fly["release/year"])
	require.Len(t, fly["release/labels"], 1)
	apple := entity(t, db, fly["release/labels"][0].(int64))
	assert.Equal(t, []any{"Apple Records"}, apple["label/name"])
	require.Len(t, fly["release/artists"], 1)
	yoko := entity(t, db, fly["release/artists"][0].(int64))
	assert.Equal(t, []any{"Yoko Ono"}, yoko["artist/name"])
	assert.Equal(t, datomic.Keyword("country/JP"), ident(t, db, yoko["artist/country"][0]))

	// A release map that occurs twice is one entity.
	assert.Equal(t, 1, countAVET(t, db, "release/gid", mustUUID("0bb83f5c-9ef0-3960-b75e-4b2464a12f25")))

	// The attribute installed before the load.
	a, ok, err := db.Attribute(ctx, BatchIDAttr)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, datomic.UniqueValue, a.Unique)
	assert.Equal(t, datomic.TypeString, a.ValueType)
}

func countSchemaAttrs(t *testing.T, db datomic.DB) int {
	t.Helper()
	n := 0
	for d, err := range db.Datoms(context.Background(), datomic.AVET, datomic.Keyword("db/ident")) {
		require.NoError(t, err)
		k := d.V.(datomic.Keyword)
		if strings.HasPrefix(string(k), "db") || strings.HasPrefix(string(k), "fressian") {
			continue
		}
		if _, ok, _ := db.Attribute(context.Background(), k); ok {
			n++
		}
	}
	return n
}

func TestLoadBatchesSkipLoaded(t *testing.T) {
	ctx := context.Background()
	conn := mem.New(mem.Options{})
	path := sampleFile(t, "mbrainz")
	_, err := conn.Transact(ctx, []datomic.Op{datomic.EntityMap{"db/ident": BatchIDAttr,
		"db/valueType": datomic.Keyword("db.type/string"), "db/cardinality": datomic.Keyword("db.cardinality/one"),
		"db/unique": datomic.Keyword("db.unique/value")}})
	require.NoError(t, err)
	for _, name := range []string{"schema.edn", "enums.edn", "super-enums.edn"} {
		st, err := loadFile(ctx, conn, path+"/"+name, LoadOptions{SkipLoaded: true})
		require.NoError(t, err)
		assert.Zero(t, st.Skipped)
	}
	st, err := loadFile(ctx, conn, path+"/super-enums.edn", LoadOptions{SkipLoaded: true})
	require.NoError(t, err)
	assert.Equal(t, 2, st.Skipped)
	assert.Zero(t, st.Transactions)

	// Without SkipLoaded, loading a batch again violates the unique batch id.
	_, err = loadFile(ctx, conn, path+"/enums.edn", LoadOptions{})
	require.ErrorIs(t, err, datomic.ErrUniqueConflict)
}

func TestLoadBatchesBadInput(t *testing.T) {
	ctx := context.Background()
	cases := map[string]string{
		`[1 2]`:                                "batch must be a map",
		`{:data []}`:                           "no :batch-ident",
		`{:batch-ident {:db/id "datomic.tx"}}`: "no :data",
		`{:batch-ident 1 :data []}`:            ":batch-ident must be a map",
		`{:batch-ident {} :data 1}`:            ":data must be a vector",
		`{:batch-ident {} :data [{:a/b nil}]}`: "op 0: :a/b: nil is not a value",
		`{:batch-ident {} :data [] } {:batch-ident {} :data [`: "unexpected end of input",
	}
	for in, msg := range cases {
		_, err := LoadBatches(ctx, mem.New(mem.Options{}), strings.NewReader(in), LoadOptions{})
		require.Error(t, err, in)
		assert.Contains(t, err.Error(), msg, in)
	}
	// Unknown attributes are rejected by the database, and the batch named.
	st, err := LoadBatches(ctx, mem.New(mem.Options{}), strings.NewReader(`{:batch-ident {} :data []} {:batch-ident {} :data [{:no/such 1}]}`), LoadOptions{})
	require.ErrorIs(t, err, datomic.ErrNotAnAttribute)
	assert.Contains(t, err.Error(), "form 2")
	assert.Equal(t, 1, st.Transactions)

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = LoadBatches(cctx, mem.New(mem.Options{}), strings.NewReader(`{:batch-ident {} :data []}`), LoadOptions{})
	require.ErrorIs(t, err, context.Canceled)

	_, err = LoadMBrainz(ctx, mem.New(mem.Options{}), t.TempDir(), LoadOptions{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "schema.edn")
}

func TestLoadDayOfDatomic(t *testing.T) {
	ctx := context.Background()
	files := map[string][]string{
		"day-of-datomic-cloud": {"streets.edn", "social-news.edn", "provenance.edn", "graph.edn"},
		"day-of-datomic":       {"streets.edn", "social-news.edn", "provenance.edn", "graph.edn", "bigger-than-pluto.edn"},
	}
	for dir, names := range files {
		t.Run(dir, func(t *testing.T) {
			conn := mem.New(mem.Options{})
			for _, name := range names {
				f, err := os.Open(sampleFile(t, dir, name))
				require.NoError(t, err)
				st, err := LoadTransactions(ctx, conn, f, LoadOptions{})
				f.Close()
				require.NoError(t, err, name)
				assert.Equal(t, st.Batches, st.Transactions, name)
			}
			db, err := conn.DB(ctx)
			require.NoError(t, err)

			// streets.edn: John moved three times, the last to 3rd, in a
			// transaction back-dated to 1989.
			john := lookup(t, db, "person/name", "John")
			assert.Equal(t, []any{"3rd"}, entity(t, db, john)["person/street"])
			var streets []any
			for d, err := range db.Datoms(ctx, datomic.EAVT, john, datomic.Keyword("person/street")) {
				require.NoError(t, err)
				streets = append(streets, d.V)
				tx := entity(t, db, d.Tx)
				assert.Equal(t, []any{time.Date(1989, 1, 1, 0, 0, 0, 0, time.UTC)}, tx["db/txInstant"])
			}
			assert.Equal(t, []any{"3rd"}, streets)

			// graph.edn: reverse refs and sets of lookup refs.
			u2g2 := entity(t, db, lookup(t, db, "roleInGroup/name", "U2G2R34"))
			assert.Len(t, u2g2["hasRoles"], 2)
			user2 := entity(t, db, lookup(t, db, "user/name", "User2"))
			assert.Len(t, user2["hasRoleInGroups"], 3)

			if dir == "day-of-datomic" {
				// bigger-than-pluto.edn: two maps annotate the transaction.
				sun := lookup(t, db, "object/name", "Sun")
				for d, err := range db.Datoms(ctx, datomic.EAVT, sun, datomic.Keyword("object/meanRadius")) {
					require.NoError(t, err)
					assert.Equal(t, 696000.0, d.V)
					tx := entity(t, db, d.Tx)
					assert.Equal(t, []any{"Solar system objects bigger than Pluto."}, tx["db/doc"])
					assert.Len(t, tx["data/source"], 1)
				}
			}
		})
	}
}

func TestLoadCourseRegistration(t *testing.T) {
	ctx := context.Background()
	conn := mem.New(mem.Options{})
	f, err := os.Open(sampleFile(t, "day-of-datomic-cloud", "course-registration.edn"))
	require.NoError(t, err)
	defer f.Close()
	st, err := LoadTransactions(ctx, conn, f, LoadOptions{})
	require.NoError(t, err)
	assert.Equal(t, 3, st.Transactions)
	db, err := conn.DB(ctx)
	require.NoError(t, err)
	a, ok, err := db.Attribute(ctx, datomic.Keyword("reg/course+semester+student"))
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, []datomic.Keyword{"reg/course", "reg/semester", "reg/student"}, a.TupleAttrs)
}

// TestLoadDataFunctions: the #db/fn literals of Day of Datomic's
// clojure-data-functions.edn load as :db/fn values.
func TestLoadDataFunctions(t *testing.T) {
	ctx := context.Background()
	conn := mem.New(mem.Options{})
	f, err := os.Open(sampleFile(t, "day-of-datomic", "clojure-data-functions.edn"))
	require.NoError(t, err)
	defer f.Close()
	_, err = LoadTransactions(ctx, conn, f, LoadOptions{})
	require.NoError(t, err)
	db, err := conn.DB(ctx)
	require.NoError(t, err)
	inc, ok, err := db.Entid(ctx, "inc")
	require.NoError(t, err)
	require.True(t, ok)
	fns := entity(t, db, inc)["db/fn"]
	require.Len(t, fns, 1)
	fn := fns[0].(datomic.Fn)
	assert.Equal(t, []datomic.Symbol{"db", "e", "a", "amount"}, fn.Params)
	assert.Equal(t, "[[:db/add e a (-> (d/entity db e) a (+ amount))]]", fn.Code)
}

func TestLoadLogsTransactions(t *testing.T) {
	var buf strings.Builder
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	in := `{:batch-ident {:db/id "datomic.tx"} :data [{:db/ident :a/b} {:db/ident :a/c} {:db/ident :a/d}]}`
	st, err := LoadBatches(context.Background(), mem.New(mem.Options{}), strings.NewReader(in), LoadOptions{SplitSize: 2, Logger: logger})
	require.NoError(t, err)
	assert.Equal(t, 2, st.Transactions)
	assert.Equal(t, 3, st.EntityMaps)
	assert.Equal(t, 2, strings.Count(buf.String(), "transacted batch"))
	assert.Contains(t, buf.String(), "pieces=2")
	assert.Positive(t, st.DatomsPerSecond())
	assert.Zero(t, LoadStats{}.DatomsPerSecond())
}
