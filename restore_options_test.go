package dcbackup_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic"
	"github.com/stretchr/testify/require"
)

// values returns every current value of attribute ident in conn.
func values(t *testing.T, conn datomic.Conn, ident datomic.Keyword) []any {
	t.Helper()
	ctx := context.Background()
	db, err := conn.DB(ctx)
	require.NoError(t, err)
	var out []any
	for d, err := range db.Datoms(ctx, datomic.AEVT, ident) {
		require.NoError(t, err)
		out = append(out, d.V)
	}
	return out
}

func TestRestoreFilterElidesDatoms(t *testing.T) {
	ctx := context.Background()
	store, src := backedUp(t, 11, 40, 6)
	require.NotEmpty(t, values(t, src, "h/name"))
	target := newTarget()
	res, err := dcbackup.Restore(ctx, "db", store, target, &dcbackup.RestoreOptions{
		Filter: func(d datomic.Datom, attr datomic.Attribute) bool { return attr.Ident != "h/name" },
	})
	require.NoError(t, err)
	srcTxs, _ := logLen(t, src)
	require.Equal(t, srcTxs, res.Transactions, "transactions emptied by the filter are still restored")
	require.Empty(t, values(t, target, "h/name"))
	require.Equal(t, len(values(t, src, "h/key")), len(values(t, target, "h/key")))
}

func TestRestoreRewritesValues(t *testing.T) {
	ctx := context.Background()
	store, src := backedUp(t, 12, 40, 6)
	target := newTarget()
	_, err := dcbackup.Restore(ctx, "db", store, target, &dcbackup.RestoreOptions{
		Rewrite: map[datomic.Keyword]func(any) (any, error){
			"h/name": func(v any) (any, error) { return "redacted:" + v.(string), nil },
		},
	})
	require.NoError(t, err)
	got := values(t, target, "h/name")
	require.Len(t, got, len(values(t, src, "h/name")))
	for _, v := range got {
		require.True(t, strings.HasPrefix(v.(string), "redacted:"), v)
	}
}

func TestRestorePointInTime(t *testing.T) {
	ctx := context.Background()
	store, src := backedUp(t, 13, 40, 7)
	var ts []int64
	var instants []time.Time
	for tx, err := range src.TxRange(ctx, 0, 0) {
		require.NoError(t, err)
		ts = append(ts, tx.T)
		for _, d := range tx.Datoms {
			if inst, ok := d.V.(time.Time); ok && d.E == tx.ID() {
				instants = append(instants, inst)
			}
		}
	}
	stopT := ts[len(ts)/2]

	target := newTarget()
	res, err := dcbackup.Restore(ctx, "db", store, target, &dcbackup.RestoreOptions{UntilT: stopT})
	require.NoError(t, err)
	require.True(t, res.Stopped)
	require.Equal(t, stopT, res.LastT)
	require.Equal(t, len(ts)/2+1, res.Transactions)
	rep := requireVerified(t, src, target)
	require.Equal(t, stopT, rep.LastT)

	// Continuing without the stop finishes the restore.
	_, err = dcbackup.Restore(ctx, "db", store, target, nil)
	require.NoError(t, err)
	rep = requireVerified(t, src, target)
	require.Equal(t, ts[len(ts)-1], rep.LastT)

	// By instant.
	cut := instants[len(instants)/3]
	target2 := newTarget()
	res, err = dcbackup.Restore(ctx, "db", store, target2, &dcbackup.RestoreOptions{UntilInstant: cut})
	require.NoError(t, err)
	require.True(t, res.Stopped)
	want := 0
	for _, inst := range instants {
		if !inst.After(cut) {
			want++
		}
	}
	require.Equal(t, want, res.Transactions)
}

// TestRestoreKeepsPartitions: entities the source put in an installed
// partition or in :db.part/db are restored into the same partitions (Verify
// checks every entity); with IgnorePartitions they land in the defaults,
// which Verify then reports unless told to ignore partitions too.
func TestRestoreKeepsPartitions(t *testing.T) {
	ctx := context.Background()
	store, src := backedUp(t, 14, 60, 8)
	db, err := src.DB(ctx)
	require.NoError(t, err)
	part, ok, err := db.Entid(ctx, "h.part/things")
	require.NoError(t, err)
	require.True(t, ok)
	inPart := 0
	for d, err := range db.Datoms(ctx, datomic.AEVT, datomic.Keyword("h/key")) {
		require.NoError(t, err)
		if datomic.Part(d.E) == part {
			inPart++
		}
	}
	require.Positive(t, inPart, "the history puts entities in the installed partition")

	requireRestoresIdentically(t, store, src)

	target := newTarget()
	_, err = dcbackup.Restore(ctx, "db", store, target, &dcbackup.RestoreOptions{IgnorePartitions: true})
	require.NoError(t, err)
	rep, err := dcbackup.Verify(ctx, src, target, nil)
	require.NoError(t, err)
	require.False(t, rep.OK())
	require.Contains(t, rep.Differences[0].What, "partition")
	rep, err = dcbackup.Verify(ctx, src, target, &dcbackup.VerifyOptions{IgnorePartitions: true})
	require.NoError(t, err)
	require.True(t, rep.OK(), "%v", rep.Differences)
}
