package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup"
)

// logFacts computes from the source log what stats must report.
type logFacts struct {
	txs, datoms, retractions int
	firstT, lastT            int64
	firstInst, lastInst      time.Time
	perAttr                  map[string]int
}

func sourceFacts(t *testing.T, f fixture) logFacts {
	t.Helper()
	ctx := t.Context()
	db, err := f.conn.DB(ctx)
	require.NoError(t, err)
	lf := logFacts{firstT: -1, perAttr: map[string]int{}}
	for tx, err := range f.conn.TxRange(ctx, 0, 0) {
		require.NoError(t, err)
		lf.txs++
		if lf.firstT < 0 {
			lf.firstT = tx.T
		}
		lf.lastT = tx.T
		for _, d := range tx.Datoms {
			lf.datoms++
			if !d.Added {
				lf.retractions++
			}
			id, ok, err := db.Ident(ctx, d.A)
			require.NoError(t, err)
			require.True(t, ok)
			lf.perAttr[id.String()]++
			if id == "db/txInstant" && d.E == tx.ID() && d.Added {
				if lf.firstInst.IsZero() {
					lf.firstInst = d.V.(time.Time)
				}
				lf.lastInst = d.V.(time.Time)
			}
		}
	}
	return lf
}

func TestStats(t *testing.T) {
	st := fsStore(t)
	f := backUp(t, st, "db", 10, 300, 40)
	backUp(t, st, "other", 11, 30, 1000)
	lf := sourceFacts(t, f)

	r := runCmd(t, nil, "stats", "-store", st.Dir(), "-json", "-top", "5", "-j", "3")
	require.Equal(t, exitOK, r.code, r.stderr)
	var out struct {
		Store     string    `json:"store"`
		Databases []dbStats `json:"databases"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &out))
	require.Len(t, out.Databases, 2)
	s := out.Databases[0]
	assert.Equal(t, "db", s.DB)
	assert.Equal(t, "other", out.Databases[1].DB)
	assert.Equal(t, f.result.Segments, s.Segments)
	assert.Equal(t, lf.txs, s.Transactions)
	assert.Equal(t, lf.datoms, s.Datoms)
	assert.Equal(t, lf.retractions, s.Retractions)
	assert.Equal(t, f.result.Bytes, s.Bytes)
	assert.InDelta(t, float64(f.result.Bytes)/float64(lf.datoms), s.BytesPerDatom, 1e-9)
	require.NotNil(t, s.FirstT)
	assert.Equal(t, lf.firstT, *s.FirstT)
	assert.Equal(t, lf.lastT, *s.LastT)
	assert.Equal(t, lf.firstInst.UTC().Format(instantLayout), s.FirstInstant)
	assert.Equal(t, lf.lastInst.UTC().Format(instantLayout), s.LastInstant)
	assert.Equal(t, len(lf.perAttr), s.Attributes)

	// The top attributes are the source's largest counts, in order.
	type kv struct {
		ident string
		n     int
	}
	var want []kv
	for k, n := range lf.perAttr {
		want = append(want, kv{k, n})
	}
	sort.Slice(want, func(i, j int) bool { return want[i].n > want[j].n })
	require.Len(t, s.TopAttributes, 5)
	for i, a := range s.TopAttributes {
		assert.Equal(t, lf.perAttr[a.Ident], a.Datoms, a.Ident)
		assert.Equal(t, want[i].n, a.Datoms, "rank %d", i)
	}

	// Text: one block per database.
	r = runCmd(t, nil, "stats", "-store", st.Dir(), "-db", "db")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.True(t, strings.HasPrefix(r.stdout, "database db in "+st.Dir()+"\n"), r.stdout)
	for _, want := range []string{
		fmt.Sprintf("  transactions  %d\n", lf.txs),
		fmt.Sprintf("  datoms        %d (%d assertions, %d retractions)\n", lf.datoms, lf.datoms-lf.retractions, lf.retractions),
		fmt.Sprintf("  t             first %d, last %d\n", lf.firstT, lf.lastT),
		fmt.Sprintf("  tx instant    first %s, last %s\n", lf.firstInst.UTC().Format(instantLayout), lf.lastInst.UTC().Format(instantLayout)),
		fmt.Sprintf("  datoms per attribute (top 20 of %d):\n", len(lf.perAttr)),
	} {
		assert.Contains(t, r.stdout, want)
	}
	assert.Regexp(t, fmt.Sprintf(`(?m)^\s+%d\s+\d+\.\d%%\s+%s$`, want[0].n, s.TopAttributes[0].Ident), r.stdout)
	assert.NotContains(t, r.stdout, "database other")
}

// vanishingStore lists one segment more than it holds: a segment listed,
// then compacted away before it is read.
type vanishingStore struct {
	*dcbackup.MemStore
	gone dcbackup.SegmentInfo
}

func (s vanishingStore) List(ctx context.Context, db string, fromT int64) ([]dcbackup.SegmentInfo, error) {
	segs, err := s.MemStore.List(ctx, db, fromT)
	return append(segs, s.gone), err
}

// A segment gone when read is no damage: counted apart, not unreadable.
func TestStatsSegmentGoneWhileRead(t *testing.T) {
	mem := dcbackup.NewMemStore()
	f := backUp(t, mem, "db", 12, 40, 10)
	segs, err := mem.List(t.Context(), "db", 0)
	require.NoError(t, err)
	last := segs[len(segs)-1]
	st := vanishingStore{MemStore: mem, gone: dcbackup.SegmentInfo{StartT: last.EndT, EndT: last.EndT + 5}}
	var stderr strings.Builder
	cl := &cmdline{stdout: io.Discard, stderr: &stderr, name: "stats"}
	h := &storeHandle{BackupStore: st, where: "memory"}
	stats, err := collectStats(t.Context(), cl, h, "db", 2, 5, dcbackup.DecodeOptions{})
	require.NoError(t, err)
	assert.Equal(t, 1, stats.Vanished)
	assert.Zero(t, stats.Unreadable, stderr.String())
	assert.Equal(t, f.txs, stats.Transactions)
	var out strings.Builder
	require.NoError(t, printStats(&out, "memory", []dbStats{stats}))
	assert.Contains(t, out.String(), "1 gone while read")
}

// A segment of another database under a plausible name is left out of
// the totals and makes stats exit 1, as verify does; it used to be counted
// as this database's, exit 0.
func TestStatsLeavesOutAnotherDatabasesSegment(t *testing.T) {
	st := fsStore(t)
	src := lineageConn(t, "db-1", 31, 80)
	_, err := dcbackup.Backup(t.Context(), "db", src, st, &dcbackup.BackupOptions{MaxTxPerSegment: 10})
	require.NoError(t, err)
	clean := runCmd(t, nil, "stats", "-store", st.Dir(), "-db", "db", "-json")
	require.Equal(t, exitOK, clean.code, clean.stderr)
	var before struct{ Databases []dbStats }
	require.NoError(t, json.Unmarshal([]byte(clean.stdout), &before))

	swapped := replaceSegment(t, st, lineageConn(t, "db-2", 32, 80))
	r := runCmd(t, nil, "stats", "-store", st.Dir(), "-db", "db", "-json")
	require.Equal(t, exitUnhealthy, r.code, r.stderr)
	assert.Contains(t, r.stderr, fmt.Sprintf("skipping segment %s: it is of lineage ", swapped))
	var after struct{ Databases []dbStats }
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &after))
	require.Len(t, after.Databases, 1)
	assert.Equal(t, 1, after.Databases[0].Foreign)
	assert.Less(t, after.Databases[0].Transactions, before.Databases[0].Transactions)
	text := runCmd(t, nil, "stats", "-store", st.Dir(), "-db", "db")
	assert.Contains(t, text.stdout, "1 of another database, left out")
}

// A file over the store's maximum segment size under a segment's name is
// reported and left out, exit 1, as a segment that does not decode is
// (stats gave up with status 2 and no totals).
func TestStatsSkipsAnOversizedFile(t *testing.T) {
	st := fsStore(t)
	backUp(t, st, "db", 13, 60, 10)
	segs, err := st.List(t.Context(), "db", 0)
	require.NoError(t, err)
	require.NoError(t, os.Truncate(st.Path("db", segs[1]), 2<<30))
	r := runCmd(t, nil, "stats", "-store", st.Dir(), "-db", "db", "-json")
	require.Equal(t, exitUnhealthy, r.code, r.stderr)
	assert.Contains(t, r.stderr, "skipping segment "+segs[1].String())
	var out struct{ Databases []dbStats }
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &out))
	require.Len(t, out.Databases, 1)
	assert.Equal(t, 1, out.Databases[0].Unreadable)
}
