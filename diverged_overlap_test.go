package dcbackup_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"filippo.io/age"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/mem"
)

// divergedTwins returns two databases with one id and one history up to
// t d-1 that then differ: a continues its random history, b writes
// another transaction at d and then continues.
func divergedTwins(t *testing.T) (a, b *mem.Conn, d int64) {
	t.Helper()
	ctx := context.Background()
	a, ga := historyConn(t, "orders", 180, 20)
	b, gb := historyConn(t, "orders", 180, 20)
	d = basisT(t, a) + 1
	_, err := ga.Run(ctx, 10)
	require.NoError(t, err)
	_, err = b.Transact(ctx, []datomic.Op{datomic.EntityMap{"db/doc": "written only here"}})
	require.NoError(t, err)
	_, err = gb.Run(ctx, 10)
	require.NoError(t, err)
	return a, b, d
}

// segmentOf backs up [start, end) of conn as one segment, written with
// opts, and returns it.
func segmentOf(t *testing.T, conn datomic.Conn, start, end int64, opts ...*dcbackup.BackupOptions) (dcbackup.SegmentInfo, []byte) {
	t.Helper()
	ctx := context.Background()
	s := dcbackup.NewMemStore()
	var o *dcbackup.BackupOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	_, err := dcbackup.BackupSegment(ctx, "db", conn, s, start, end, o)
	require.NoError(t, err)
	segs, err := s.List(ctx, "db", 0)
	require.NoError(t, err)
	require.Len(t, segs, 1)
	data, err := s.Load(ctx, "db", segs[0])
	require.NoError(t, err)
	return segs[0], data
}

// A segment of a diverged twin (same database id and lineage, another
// history from t d on) that overlaps the segment before it and reaches
// further: a restore enters it midway, and refuses it before applying
// anything, not after the segments before it; Check, also of headers
// only, reports it. Entered at d, where the histories still agree, it
// continues the one before it: the store holds b's history, restored
// whole.
func TestRestoreRefusesDivergedOverlapBeforeApplying(t *testing.T) {
	ctx := testCtx(t)
	a, b, d := divergedTwins(t)
	for _, c := range []struct{ aEnd, bStart int64 }{{d + 2, d - 2}, {d + 1, d}, {d + 3, d + 1}, {d, d - 3}} {
		t.Run(fmt.Sprintf("a[0,%d) b[%d,end)", c.aEnd, c.bStart), func(t *testing.T) {
			store := dcbackup.NewMemStore()
			ai, ad := segmentOf(t, a, 0, c.aEnd)
			require.NoError(t, store.Save(ctx, "db", ai, ad))
			bi, bd := segmentOf(t, b, c.bStart, basisT(t, b)+1)
			require.NoError(t, store.Save(ctx, "db", bi, bd))
			if c.aEnd == d {
				requireRestoresIdentically(t, store, b)
				return
			}

			err := requireRestoreRefused(t, store, newTarget(), dcbackup.ErrChainBroken)
			assert.ErrorContains(t, err, bi.String())
			for _, headersOnly := range []bool{false, true} {
				rep, err := dcbackup.Check(ctx, "db", store, &dcbackup.CheckOptions{HeadersOnly: headersOnly})
				require.NoError(t, err)
				require.False(t, rep.OK(), "headers only: %v", headersOnly)
				assert.Equal(t, dcbackup.ProblemChain, rep.Problems[0].Kind)
			}
		})
	}
}

// A diverged twin's segment in the middle of a store breaks the chain on
// one side; Repair and Backup used to report success over it. They ask
// the source which side holds its history, move the other aside and back
// its range up again; the twin itself, whose history the store's newest
// segment is not, is refused with the store unchanged.
func TestBackupHealsASegmentThatBreaksTheChain(t *testing.T) {
	ctx := testCtx(t)
	a, b, d := divergedTwins(t)
	mixed := dcbackup.NewMemStore()
	for _, p := range []struct {
		conn       datomic.Conn
		start, end int64
	}{{a, 0, d - 2}, {b, d - 2, d + 2}, {a, d + 2, d + 4}} {
		info, data := segmentOf(t, p.conn, p.start, p.end)
		require.NoError(t, mixed.Save(ctx, "db", info, data))
	}
	for _, call := range []struct {
		name string
		run  func(context.Context, string, datomic.Conn, dcbackup.BackupStore, *dcbackup.BackupOptions) (dcbackup.BackupResult, error)
	}{{"Repair", dcbackup.Repair}, {"Backup", dcbackup.Backup}} {
		t.Run(call.name, func(t *testing.T) {
			store := copySegments(t, mixed, "db", nil)
			before := storeBytes(t, store)
			_, err := call.run(ctx, "db", b, store, nil)
			require.ErrorIs(t, err, dcbackup.ErrSourceMismatch)
			assert.Equal(t, before, storeBytes(t, store), "the twin moves nothing")

			res, err := call.run(ctx, "db", a, store, nil)
			require.NoError(t, err)
			assert.Equal(t, 1, res.Healed)
			rep, err := dcbackup.Check(ctx, "db", store, nil)
			require.NoError(t, err)
			require.True(t, rep.OK(), "%v %v", rep.Gaps, rep.Problems)
			backupNextAll(t, a, store, nil)
			requireRestoresIdentically(t, store, a)
		})
	}
}

// The twin's segment overlaps the one before it: a restore enters it
// midway, where its view of the history is not the source's. Backup and
// Repair read it there and move it aside (they compared only touching
// segments, and reported success over a store a restore refuses).
func TestBackupHealsAnOverlapThatBreaksTheChain(t *testing.T) {
	ctx := testCtx(t)
	a, b, d := divergedTwins(t)
	mixed := dcbackup.NewMemStore()
	for _, p := range []struct {
		conn       datomic.Conn
		start, end int64
	}{{a, 0, d + 2}, {b, d - 2, d + 4}, {a, d + 4, d + 6}} {
		info, data := segmentOf(t, p.conn, p.start, p.end)
		require.NoError(t, mixed.Save(ctx, "db", info, data))
	}
	for _, call := range []struct {
		name string
		run  func(context.Context, string, datomic.Conn, dcbackup.BackupStore, *dcbackup.BackupOptions) (dcbackup.BackupResult, error)
	}{{"Repair", dcbackup.Repair}, {"Backup", dcbackup.Backup}} {
		t.Run(call.name, func(t *testing.T) {
			store := copySegments(t, mixed, "db", nil)
			res, err := call.run(ctx, "db", a, store, nil)
			require.NoError(t, err)
			assert.Equal(t, 1, res.Healed)
			rep, err := dcbackup.Check(ctx, "db", store, nil)
			require.NoError(t, err)
			require.True(t, rep.OK(), "%v %v", rep.Gaps, rep.Problems)
			backupNextAll(t, a, store, nil)
			requireRestoresIdentically(t, store, a)
		})
	}
}

// After an excision, a segment written from the source overlaps older
// ones that hold the excised data: a restore enters it midway, where its
// view of the excised transaction is not theirs. Only the link inside it
// shows the break; Backup reads it there and moves the stale side aside.
// On an encrypted store's backup host, which has no identity to read the
// overlap with, Backup compares the segment before it with the source
// instead (it used to pass the overlap over and report success).
func TestBackupHealsAStaleSegmentAnOverlapEntersAfter(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		enc  dcbackup.EncodeOptions
		dec  dcbackup.DecodeOptions
	}{
		{"plain", dcbackup.EncodeOptions{}, dcbackup.DecodeOptions{}},
		{"encrypted", dcbackup.EncodeOptions{Recipients: []age.Recipient{id.Recipient()}}, dcbackup.DecodeOptions{Identities: []age.Identity{id}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			src, ids, ts := notesSource(t, 12, false)
			store := dcbackup.NewMemStore()
			backupNextAll(t, src, store, &dcbackup.BackupOptions{MaxTxPerSegment: 3, Encode: tc.enc})
			segs, err := store.List(ctx, "db", 0)
			require.NoError(t, err)
			// Excise what the last transaction of the second segment
			// created.
			victim := segs[1].EndT - 1
			excise(t, src, ids[slices.Index(ts, victim)])
			backupOnHost := &dcbackup.BackupOptions{Encode: tc.enc}
			backupNextAll(t, src, store, backupOnHost)
			// A segment written now, from inside the second segment past
			// the third.
			info, data := segmentOf(t, src, victim, segs[2].EndT+1, backupOnHost)
			require.NoError(t, store.Save(ctx, "db", info, data))
			restoreOpts := &dcbackup.RestoreOptions{Decode: tc.dec}
			_, err = dcbackup.Restore(ctx, "db", store, newTarget(), restoreOpts)
			require.ErrorIs(t, err, dcbackup.ErrChainBroken, "the store as it is")

			res, err := dcbackup.Backup(ctx, "db", src, store, backupOnHost)
			require.NoError(t, err)
			assert.Positive(t, res.Healed)
			rep, err := dcbackup.Check(ctx, "db", store, &dcbackup.CheckOptions{Decode: tc.dec})
			require.NoError(t, err)
			require.True(t, rep.OK(), "%v %v", rep.Gaps, rep.Problems)
			target := newTarget()
			_, err = dcbackup.Restore(ctx, "db", store, target, restoreOpts)
			require.NoError(t, err)
			requireVerified(t, src, target)
		})
	}
}

// A twin that diverged and then excised data, backed up on an encrypted
// store's backup host (recipients only): the store's newest transaction
// differs from the twin's, and an excision could explain that only if the
// store's payload said so. Without an identity the host used to take the
// difference for the excision's and chained the twin's history onto the
// store; it now refuses and says an identity must confirm it, as a
// plain store refuses the twin outright.
func TestEncryptedBackupHostDoesNotTakeADivergenceForAnExcision(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	for _, encrypted := range []bool{false, true} {
		t.Run(fmt.Sprint("encrypted ", encrypted), func(t *testing.T) {
			ctx := testCtx(t)
			var enc dcbackup.EncodeOptions
			if encrypted {
				enc.Recipients = []age.Recipient{id.Recipient()}
			}
			a, _ := historyConn(t, "orders", 190, 20)
			b, _ := historyConn(t, "orders", 190, 20)
			common := datomic.EntityMap{datomic.DBID: datomic.TempID("v"), "db/doc": "common"}
			rep, err := a.Transact(ctx, []datomic.Op{common})
			require.NoError(t, err)
			_, err = b.Transact(ctx, []datomic.Op{common})
			require.NoError(t, err)
			for i := range 5 {
				_, err := a.Transact(ctx, []datomic.Op{datomic.EntityMap{"db/doc": fmt.Sprint("only in a ", i)}})
				require.NoError(t, err)
				_, err = b.Transact(ctx, []datomic.Op{datomic.EntityMap{"db/doc": fmt.Sprint("only in b ", i)}})
				require.NoError(t, err)
			}
			store := dcbackup.NewMemStore()
			_, err = dcbackup.Backup(ctx, "db", a, store, &dcbackup.BackupOptions{Encode: enc, MaxTxPerSegment: 8})
			require.NoError(t, err)
			_, err = b.Transact(ctx, []datomic.Op{datomic.EntityMap{"db/excise": rep.Tempids["v"]}})
			require.NoError(t, err)
			_, err = b.Transact(ctx, []datomic.Op{datomic.EntityMap{"db/doc": "b goes on"}})
			require.NoError(t, err)

			before := storeBytes(t, store)
			for _, call := range []func(context.Context, string, datomic.Conn, dcbackup.BackupStore, *dcbackup.BackupOptions) (dcbackup.BackupResult, error){dcbackup.Backup, dcbackup.BackupNext} {
				res, err := call(ctx, "db", b, store, &dcbackup.BackupOptions{Encode: enc})
				require.Error(t, err)
				if encrypted {
					assert.ErrorIs(t, err, dcbackup.ErrNoKey)
					assert.ErrorContains(t, err, "excised")
				} else {
					assert.ErrorIs(t, err, dcbackup.ErrSourceMismatch)
				}
				assert.Zero(t, res.Segments)
			}
			assert.Equal(t, before, storeBytes(t, store))
		})
	}
}

// On an encrypted store's backup host (recipients only), an excision that
// changed a segment's last transaction does not stop the filling of a gap
// after that segment: the store's newest segment, checked against the
// source, says whose store it is (the host refused, wanting an identity,
// which made every scrub of a ContinuousBackup fail).
func TestKeylessHostFillsAGapAfterAnExcisedSegment(t *testing.T) {
	ctx := testCtx(t)
	id, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	src, ids, ts := notesSource(t, 12, false)
	opts := &dcbackup.BackupOptions{Encode: dcbackup.EncodeOptions{Recipients: []age.Recipient{id.Recipient()}}, MaxTxPerSegment: 2}
	store := dcbackup.NewMemStore()
	backupNextAll(t, src, store, opts)
	segs, err := store.List(ctx, "db", 0)
	require.NoError(t, err)
	// The second segment's last transaction, and the segment after it.
	k := slices.Index(ts, segs[1].EndT-1)
	require.GreaterOrEqual(t, k, 0)
	excise(t, src, ids[k])
	backupNextAll(t, src, store, opts)
	require.NoError(t, store.Delete(ctx, "db", segs[2]))

	res, err := dcbackup.Backup(ctx, "db", src, store, opts)
	require.NoError(t, err)
	assert.Positive(t, res.Segments)
	target := newTarget()
	_, err = dcbackup.Restore(ctx, "db", store, target, &dcbackup.RestoreOptions{Decode: dcbackup.DecodeOptions{Identities: []age.Identity{id}}})
	require.NoError(t, err)
	requireVerified(t, src, target)
}

// The store's newest segment is empty (a range without transactions) and
// carries the link of the transaction before it, which an excision then
// changed: the excision is recognised in the segment that holds that
// transaction (it was looked for in the empty one, and the source refused
// as another history).
func TestExcisionOfTheTransactionBeforeAnEmptyNewestSegment(t *testing.T) {
	ctx := testCtx(t)
	src, ids, ts := notesSource(t, 6, true)
	last := ts[len(ts)-1]
	_, err := src.Transact(ctx, []datomic.Op{datomic.EntityMap{"p/note": "after"}})
	require.NoError(t, err)
	after := basisT(t, src)
	require.Greater(t, after, last+1, "a gap in t (shared counter)")
	store := dcbackup.NewMemStore()
	_, err = dcbackup.BackupSegment(ctx, "db", src, store, 0, last+1, nil)
	require.NoError(t, err)
	_, err = dcbackup.BackupSegment(ctx, "db", src, store, last+1, after, nil)
	require.NoError(t, err)
	excise(t, src, ids[len(ids)-1])

	backupNextAll(t, src, store, nil)
	_, err = dcbackup.Backup(ctx, "db", src, store, nil)
	require.NoError(t, err)
	requireRestoresIdentically(t, store, src)
}
