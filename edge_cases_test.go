package dcbackup_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/mem"
)

func kwT(s string) datomic.Keyword { return datomic.Keyword(s) }

func smallSource(t *testing.T, n int) *mem.Conn {
	return smallSourceOpts(t, n, mem.Options{Clock: newStepClock().Now})
}

func smallSourceOpts(t *testing.T, n int, o mem.Options) *mem.Conn {
	ctx := testCtx(t)
	src := mem.New(o)
	_, err := src.Transact(ctx, []datomic.Op{datomic.EntityMap{"db/ident": kwT("user/id"), "db/valueType": kwT("db.type/long"), "db/cardinality": kwT("db.cardinality/one")}})
	require.NoError(t, err)
	for i := range n {
		_, err := src.Transact(ctx, []datomic.Op{datomic.EntityMap{"user/id": int64(i)}})
		require.NoError(t, err)
	}
	return src
}

// Repair fills up to the end of a damaged segment even when that end is
// beyond the source's basis: it writes a segment claiming t the source has
// not reached, reports success, and wedges every later backup.
func TestRepairNeverWritesPastTheBasis(t *testing.T) {
	ctx := testCtx(t)
	src := smallSource(t, 5)
	store := dcbackup.NewMemStore()
	_, err := dcbackup.Backup(ctx, "db", src, store, nil)
	require.NoError(t, err)
	b := basisT(t, src)
	// Garbage under a name that reaches far past the basis.
	require.NoError(t, store.Save(ctx, "db", dcbackup.SegmentInfo{StartT: b + 1, EndT: b + 1000}, []byte("garbage")))
	res, err := dcbackup.Repair(ctx, "db", src, store, nil)
	require.NoError(t, err)
	t.Logf("Repair: healed %d, wrote %d, EndT %d (source basis %d)", res.Healed, res.Segments, res.EndT, b)
	segs, _ := store.List(ctx, "db", 0)
	t.Logf("segments: %v", segs)
	// The source moves on; the backup can no longer follow it.
	_, err = src.Transact(ctx, []datomic.Op{datomic.EntityMap{"user/id": int64(99)}})
	require.NoError(t, err)
	_, err = dcbackup.BackupNext(ctx, "db", src, store, nil)
	require.NoError(t, err, "BackupNext after Repair")
}

// ErrCannotRestore is classified transient: Replicate retries it forever
// instead of returning it.
func TestReplicateStopsOnWhatTheTargetCannotHold(t *testing.T) {
	ctx := testCtx(t)
	src := smallSource(t, 3)
	_, err := src.Transact(ctx, []datomic.Op{datomic.EntityMap{"db/ident": kwT("app/inc"), "db/fn": datomic.Fn{Lang: "clojure", Params: []datomic.Symbol{"db"}, Code: "[]"}}})
	require.NoError(t, err)
	store := dcbackup.NewMemStore()
	_, err = dcbackup.Backup(ctx, "db", src, store, nil)
	require.NoError(t, err)
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	polls := 0
	err = dcbackup.Replicate(rctx, "db", store, newTarget(), &dcbackup.ReplicateOptions{
		PollInterval: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
		OnLag: func(l dcbackup.Lag) { polls++ },
	})
	t.Logf("Replicate returned %v after %d polls", err, polls)
	require.ErrorIs(t, err, dcbackup.ErrCannotRestore, "a permanent refusal must stop Replicate")
}

// Compact given identities (to read an encrypted store) but no
// recipients replaces encrypted segments by plaintext ones; a restore with
// the identities then refuses them.
func TestCompactKeepsAnEncryptedStoreEncrypted(t *testing.T) {
	ctx := testCtx(t)
	id, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	src := smallSource(t, 20)
	store := dcbackup.NewMemStore()
	enc := &dcbackup.BackupOptions{MaxTxPerSegment: 3, Encode: dcbackup.EncodeOptions{Recipients: []age.Recipient{id.Recipient()}}}
	backupNextAll(t, src, store, enc)
	cr, err := dcbackup.Compact(ctx, "db", store, &dcbackup.CompactOptions{Decode: dcbackup.DecodeOptions{Identities: []age.Identity{id}}})
	t.Logf("compact: %+v, err %v", cr, err)
	segs, _ := store.List(ctx, "db", 0)
	for _, s := range segs {
		data, _ := store.Load(ctx, "db", s)
		h, err := dcbackup.DecodeSegmentHeader(data, s)
		require.NoError(t, err)
		t.Logf("segment %s encrypted=%v", s, h.Encrypted)
	}
	_, err = dcbackup.Restore(ctx, "db", store, newTarget(), restoreOpts(id))
	require.NoError(t, err, "restore of the compacted encrypted store")
}

// a point-in-time restore is refused because of a stored function the
// source installed after the stop point.
func TestPointInTimeRestoreIgnoresWhatFollows(t *testing.T) {
	ctx := testCtx(t)
	src := smallSource(t, 5)
	stop := basisT(t, src)
	_, err := src.Transact(ctx, []datomic.Op{datomic.EntityMap{"db/ident": kwT("app/inc"), "db/fn": datomic.Fn{Lang: "clojure", Params: []datomic.Symbol{"db"}, Code: "[]"}}})
	require.NoError(t, err)
	store := dcbackup.NewMemStore()
	backupNextAll(t, src, store, &dcbackup.BackupOptions{MaxTxPerSegment: 2})
	res, err := dcbackup.Restore(ctx, "db", store, newTarget(), &dcbackup.RestoreOptions{UntilT: stop})
	require.NoError(t, err, "the function lies after UntilT %d", stop)
	require.Equal(t, stop, res.LastT)
}

// a gap at the target's last restored t (a segment moved aside by a
// heal, not yet backed up again) is reported as another database, which
// Replicate treats as permanent.
func TestRestoreReportsAGapAtTheTargetPosition(t *testing.T) {
	ctx := testCtx(t)
	src := smallSource(t, 12)
	store := dcbackup.NewMemStore()
	backupNextAll(t, src, store, &dcbackup.BackupOptions{MaxTxPerSegment: 4})
	target := newTarget()
	_, err := dcbackup.RestoreSegment(ctx, "db", store, target, nil)
	require.NoError(t, err)
	_, err = dcbackup.RestoreSegment(ctx, "db", store, target, nil)
	require.NoError(t, err)
	segs, _ := store.List(ctx, "db", 0)
	// The segment holding the target's last t is moved aside (a heal).
	_, err = store.Quarantine(ctx, "db", segs[1])
	require.NoError(t, err)
	_, err = dcbackup.Restore(ctx, "db", store, target, nil)
	t.Logf("restore: %v", err)
	require.False(t, errors.Is(err, dcbackup.ErrWrongDatabase), "a gap is not another database")
}

// Repair given the identities of a store that was plaintext before
// moves every plaintext segment aside as damaged.
func TestRepairKeepsSoundPlaintextSegments(t *testing.T) {
	ctx := testCtx(t)
	id, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	src := smallSource(t, 10)
	store := dcbackup.NewMemStore()
	backupNextAll(t, src, store, &dcbackup.BackupOptions{MaxTxPerSegment: 3})
	res, err := dcbackup.Repair(ctx, "db", src, store, &dcbackup.BackupOptions{
		Encode: dcbackup.EncodeOptions{Recipients: []age.Recipient{id.Recipient()}},
		Decode: dcbackup.DecodeOptions{Identities: []age.Identity{id}},
	})
	require.NoError(t, err)
	require.Zero(t, res.Healed, "sound plaintext segments moved aside as damaged: %d (quarantined: %d)", res.Healed, len(store.Quarantined()))
}

// a version 1 store is checked for what the target refuses only when
// each segment is applied: the segments before it are applied first,
// although the README promises a refusal "before anything is applied".
func TestVersion1StoreCheckedBeforeApplying(t *testing.T) {
	ctx := testCtx(t)
	fs, err := dcbackup.NewFSStore("testdata/store-v1")
	require.NoError(t, err)
	store := copySegments(t, fs, "db", nil)
	opts := &dcbackup.RestoreOptions{
		Functions:       dcbackup.FunctionsElide,
		ElideAttributes: []datomic.Keyword{"h/raw"},
		// A :db/doc longer than Cloud takes, only in the second segment.
		Filter: func(d datomic.Datom, a datomic.Attribute) bool {
			return !(a.Ident == "db/doc" && datomic.ToT(d.Tx) < 1033)
		},
		Rewrite: map[datomic.Keyword]func(any) (any, error){
			"db/doc": func(any) (any, error) { return strings.Repeat("x", 5000), nil },
		},
	}
	target := mem.New(mem.Options{Cloud: true})
	before := basisT(t, target)
	res, err := dcbackup.Restore(ctx, "db", store, target, opts)
	require.ErrorIs(t, err, dcbackup.ErrCannotRestore)
	require.Equal(t, before, basisT(t, target), "refused (%v), but %d transactions were applied first", err, res.Transactions)
}

// with a version 2 store, what a Rewrite makes of a value is not
// checked against the target's limits at all when the header's features
// do not flag the segment: the target refuses it mid-restore.
func TestRewrittenValuesCheckedBeforeApplying(t *testing.T) {
	ctx := testCtx(t)
	src := mem.New(mem.Options{Clock: newStepClock().Now})
	_, err := src.Transact(ctx, []datomic.Op{datomic.EntityMap{"db/ident": kwT("user/name"), "db/valueType": kwT("db.type/string"), "db/cardinality": kwT("db.cardinality/one")}})
	require.NoError(t, err)
	for i := range 10 {
		_, err := src.Transact(ctx, []datomic.Op{datomic.EntityMap{"user/name": strings.Repeat("n", i+1)}})
		require.NoError(t, err)
	}
	store := dcbackup.NewMemStore()
	backupNextAll(t, src, store, &dcbackup.BackupOptions{MaxTxPerSegment: 3})
	opts := &dcbackup.RestoreOptions{Rewrite: map[datomic.Keyword]func(any) (any, error){
		"user/name": func(v any) (any, error) {
			if len(v.(string)) == 9 {
				return strings.Repeat("x", 5000), nil
			}
			return v, nil
		},
	}}
	target := mem.New(mem.Options{Cloud: true})
	before := basisT(t, target)
	res, err := dcbackup.Restore(ctx, "db", store, target, opts)
	t.Logf("restore: applied %d, err %v", res.Transactions, err)
	require.ErrorIs(t, err, dcbackup.ErrCannotRestore)
	require.Equal(t, before, basisT(t, target))
}

// a write to the target whose only datom's value is a long equal to a
// bookkeeping attribute's id passes as the restore's own: neither the next
// restore (ErrTargetModified) nor Verify notices it.
func TestForeignWriteIsNotTakenForBookkeeping(t *testing.T) {
	ctx := testCtx(t)
	src := smallSourceOpts(t, 5, mem.Options{}) // real clock, a live source
	store := dcbackup.NewMemStore()
	_, err := dcbackup.Backup(ctx, "db", src, store, nil)
	require.NoError(t, err)
	target := newTarget()
	_, err = dcbackup.Restore(ctx, "db", store, target, nil)
	require.NoError(t, err)
	tdb, err := target.DB(ctx)
	require.NoError(t, err)
	orig, ok, err := tdb.Entid(ctx, dcbackup.OriginalIDAttr)
	require.NoError(t, err)
	require.True(t, ok)
	// Someone's application writes to the standby: a quantity that happens
	// to equal that id.
	_, err = target.Transact(ctx, []datomic.Op{datomic.EntityMap{"user/id": orig}})
	require.NoError(t, err)
	rep, err := dcbackup.Verify(ctx, src, target, nil)
	require.NoError(t, err)
	t.Logf("verify OK=%v differences=%v", rep.OK(), rep.Differences)
	_, err = src.Transact(ctx, []datomic.Op{datomic.EntityMap{"user/id": int64(1000)}})
	require.NoError(t, err)
	_, err = dcbackup.BackupNext(ctx, "db", src, store, nil)
	require.NoError(t, err)
	_, err = dcbackup.Restore(ctx, "db", store, target, nil)
	t.Logf("restore after the foreign write: %v", err)
	rep2, _ := dcbackup.Verify(ctx, src, target, nil)
	t.Logf("verify after: OK=%v", rep2.OK())
	require.ErrorIs(t, err, dcbackup.ErrTargetModified)
}

// a standby restored up to a transaction whose datoms the source later
// excises is refused as "another database" once PurgeExcised rewrites the
// segment holding it (Replicate stops for good).
func TestStandbyContinuesAfterPurge(t *testing.T) {
	ctx := testCtx(t)
	src := mem.New(mem.Options{Clock: newStepClock().Now})
	tx := func(ops ...datomic.Op) datomic.TxReport {
		t.Helper()
		rep, err := src.Transact(ctx, ops)
		require.NoError(t, err)
		return rep
	}
	tx(datomic.EntityMap{"db/ident": kwT("p/name"), "db/valueType": kwT("db.type/string"), "db/cardinality": kwT("db.cardinality/one")})
	for i := range 5 {
		tx(datomic.EntityMap{"p/name": fmt.Sprint("person-", i)})
	}
	secret := tx(datomic.EntityMap{datomic.DBID: datomic.TempID("s"), "p/name": "secret"}).Tempids["s"]
	store := dcbackup.NewMemStore()
	opts := &dcbackup.BackupOptions{MaxTxPerSegment: 2}
	backupNextAll(t, src, store, opts)
	standby := newTarget()
	_, err := dcbackup.Restore(ctx, "db", store, standby, nil)
	require.NoError(t, err)

	tx(datomic.EntityMap{"db/excise": secret})
	backupNextAll(t, src, store, opts)
	_, err = dcbackup.PurgeExcised(ctx, "db", src, store, opts)
	require.NoError(t, err)

	_, err = dcbackup.Restore(ctx, "db", store, standby, nil)
	require.NoError(t, err, "the standby continues with the excision")
	requireVerified(t, src, standby)
}

type failSaveAfter struct {
	*dcbackup.MemStore
	n int
}

func (s *failSaveAfter) Save(ctx context.Context, db string, seg dcbackup.SegmentInfo, data []byte) error {
	if s.n--; s.n < 0 {
		return errors.New("injected save failure")
	}
	return s.MemStore.Save(ctx, db, seg, data)
}

// Compact merges across a broken chain (here: an interrupted
// PurgeExcised), so that a store a restore refused now restores, with the
// excised data, and Check reports it healthy.
func TestCompactDoesNotMergeABrokenChain(t *testing.T) {
	ctx := testCtx(t)
	src := mem.New(mem.Options{Clock: newStepClock().Now})
	tx := func(ops ...datomic.Op) datomic.TxReport {
		t.Helper()
		rep, err := src.Transact(ctx, ops)
		require.NoError(t, err)
		return rep
	}
	tx(datomic.EntityMap{"db/ident": kwT("p/name"), "db/valueType": kwT("db.type/string"), "db/cardinality": kwT("db.cardinality/one")},
		datomic.EntityMap{"db/ident": kwT("p/friend"), "db/valueType": kwT("db.type/ref"), "db/cardinality": kwT("db.cardinality/many")})
	for i := range 4 {
		tx(datomic.EntityMap{"p/name": fmt.Sprint("early-", i)})
	}
	secret := tx(datomic.EntityMap{datomic.DBID: datomic.TempID("s"), "p/name": "secret-xyzzy"}).Tempids["s"]
	for i := range 12 {
		tx(datomic.EntityMap{"p/name": fmt.Sprint("person-", i), "p/friend": secret})
	}
	mem0 := dcbackup.NewMemStore()
	opts := &dcbackup.BackupOptions{MaxTxPerSegment: 2, Encode: dcbackup.EncodeOptions{Compression: dcbackup.CompressionNone}}
	backupNextAll(t, src, mem0, opts)
	tx(datomic.EntityMap{"db/excise": secret})
	backupNextAll(t, src, mem0, opts)
	pr, err := dcbackup.PurgeExcised(ctx, "db", src, &failSaveAfter{MemStore: mem0, n: 1}, opts)
	t.Logf("purge: %+v %v", pr, err)
	require.Error(t, err)
	rep, err := dcbackup.Check(ctx, "db", mem0, nil)
	require.NoError(t, err)
	t.Logf("after the interrupted purge (%v): OK=%v problems=%v", err, rep.OK(), rep.Problems)
	segs, _ := mem0.List(ctx, "db", 0)
	t.Logf("segments %v", segs)
	tg := newTarget()
	_, err = dcbackup.Restore(ctx, "db", mem0, tg, nil)
	t.Logf("restore: %v", err)
	vr, _ := dcbackup.Verify(ctx, src, tg, nil)
	t.Logf("verify: %v", vr.Differences)

	_, err = dcbackup.Compact(ctx, "db", mem0, &dcbackup.CompactOptions{MaxTxPerSegment: 100})
	require.NoError(t, err)
	rep, err = dcbackup.Check(ctx, "db", mem0, nil)
	require.NoError(t, err)
	t.Logf("after Compact: OK=%v problems=%v", rep.OK(), rep.Problems)
	_, err = dcbackup.Restore(ctx, "db", mem0, newTarget(), nil)
	t.Logf("restore: %v", err)
	require.False(t, rep.OK(), "the broken chain is still there")
}

// PurgeExcised cannot rewrite a stale first segment: the link before
// t 0 is read from TxRange(0, 0), which is the whole log (end 0 = open),
// so the rewritten segment "continues" from the newest transaction and the
// encoder refuses it. Excised data in the store's first segment can never
// be purged.
func TestPurgeOfTheFirstSegment(t *testing.T) {
	ctx := testCtx(t)
	src := mem.New(mem.Options{Clock: newStepClock().Now})
	tx := func(ops ...datomic.Op) datomic.TxReport {
		t.Helper()
		rep, err := src.Transact(ctx, ops)
		require.NoError(t, err)
		return rep
	}
	tx(datomic.EntityMap{"db/ident": kwT("p/name"), "db/valueType": kwT("db.type/string"), "db/cardinality": kwT("db.cardinality/one")})
	secret := tx(datomic.EntityMap{datomic.DBID: datomic.TempID("s"), "p/name": "secret-xyzzy"}).Tempids["s"]
	for i := range 6 {
		tx(datomic.EntityMap{"p/name": fmt.Sprint("person-", i)})
	}
	store := dcbackup.NewMemStore()
	_, err := dcbackup.Backup(ctx, "db", src, store, &dcbackup.BackupOptions{Concurrency: 1})
	require.NoError(t, err)
	tx(datomic.EntityMap{"db/excise": secret})
	_, err = dcbackup.BackupNext(ctx, "db", src, store, nil)
	require.NoError(t, err)
	pr, err := dcbackup.PurgeExcised(ctx, "db", src, store, nil)
	t.Logf("purge: %+v", pr)
	require.NoError(t, err)
}

// the same on a store of one segment empties the store: the segment
// is quarantined before the rewrite, which then fails.
func TestPurgeOfASingleSegmentStore(t *testing.T) {
	ctx := testCtx(t)
	src := mem.New(mem.Options{Clock: newStepClock().Now})
	tx := func(ops ...datomic.Op) datomic.TxReport {
		t.Helper()
		rep, err := src.Transact(ctx, ops)
		require.NoError(t, err)
		return rep
	}
	tx(datomic.EntityMap{"db/ident": kwT("p/name"), "db/valueType": kwT("db.type/string"), "db/cardinality": kwT("db.cardinality/one")})
	secret := tx(datomic.EntityMap{datomic.DBID: datomic.TempID("s"), "p/name": "secret-xyzzy"}).Tempids["s"]
	for i := range 6 {
		tx(datomic.EntityMap{"p/name": fmt.Sprint("person-", i)})
	}
	store := dcbackup.NewMemStore()
	_, err := dcbackup.Backup(ctx, "db", src, store, &dcbackup.BackupOptions{Concurrency: 1})
	require.NoError(t, err)
	before, _ := store.List(ctx, "db", 0)
	tx(datomic.EntityMap{"db/excise": secret})
	_, err = dcbackup.PurgeExcised(ctx, "db", src, store, nil)
	after, _ := store.List(ctx, "db", 0)
	t.Logf("purge: %v; segments before %v, after %v", err, before, after)
	require.NotEmpty(t, after, "the store lost its only segment")
}
