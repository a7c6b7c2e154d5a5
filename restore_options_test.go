package dcbackup_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/mem"
	"github.com/stretchr/testify/assert"
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

// A rewrite that maps several values to one (a constant or hashing
// anonymiser) turns an update into an assertion and a retraction of the
// same datom: the restore drops both, for cardinality one and many, and
// Verify, told the rewrite, finds the target identical.
func TestRestoreWithNonInjectiveRewrite(t *testing.T) {
	rewrite := map[datomic.Keyword]func(any) (any, error){
		"h/name": func(any) (any, error) { return "anonymous", nil },
		"h/tags": func(any) (any, error) { return datomic.Keyword("tag/hidden"), nil },
		"h/nums": func(v any) (any, error) { return v.(int64) % 2, nil },
	}
	for seed := uint64(120); seed < 130; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			ctx := testCtx(t)
			store, src := backedUp(t, seed, 60, 7)
			target := newTarget()
			_, err := dcbackup.Restore(ctx, "db", store, target, &dcbackup.RestoreOptions{Rewrite: rewrite})
			require.NoError(t, err)
			for _, v := range values(t, target, "h/name") {
				require.Equal(t, "anonymous", v)
			}
			rep, err := dcbackup.Verify(ctx, src, target, &dcbackup.VerifyOptions{Rewrite: rewrite})
			require.NoError(t, err)
			require.True(t, rep.OK(), "%v", rep.Differences)
			rep, err = dcbackup.Verify(ctx, src, target, nil)
			require.NoError(t, err)
			require.False(t, rep.OK(), "without the rewrite, Verify sees the difference")
		})
	}
}

func TestVerifyOfAFilteredRestore(t *testing.T) {
	ctx := testCtx(t)
	store, src := backedUp(t, 131, 40, 6)
	filter := func(d datomic.Datom, attr datomic.Attribute) bool { return attr.Ident != "h/name" }
	target := newTarget()
	_, err := dcbackup.Restore(ctx, "db", store, target, &dcbackup.RestoreOptions{Filter: filter})
	require.NoError(t, err)
	rep, err := dcbackup.Verify(ctx, src, target, &dcbackup.VerifyOptions{Filter: filter})
	require.NoError(t, err)
	require.True(t, rep.OK(), "%v", rep.Differences)
	rep, err = dcbackup.Verify(ctx, src, target, nil)
	require.NoError(t, err)
	require.False(t, rep.OK())
	for _, d := range rep.Differences {
		require.Contains(t, d.What, "missing from target")
	}
}

// lateClock reads behind for its first readings, then catches up.
type lateClock struct {
	mu       sync.Mutex
	readings int
	behind   int // readings before it catches up (-1: never)
	now      time.Time
}

func (c *lateClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.readings++
	if c.behind >= 0 && c.readings > c.behind {
		return c.now.Add(time.Hour)
	}
	return c.now
}

// A standby whose clock is behind the source's is refused transactions
// dated in its future: Replicate waits for its clock instead of stopping
// for good, up to MaxClockSkew.
func TestReplicateWaitsOutClockSkew(t *testing.T) {
	store, src := backedUp(t, 132, 20, 5)
	var first time.Time
	for tx, err := range src.TxRange(testCtx(t), 0, 0) {
		require.NoError(t, err)
		for _, d := range tx.Datoms {
			if at, ok := d.V.(time.Time); ok && d.E == tx.ID() && first.IsZero() {
				first = at
			}
		}
	}
	// The target's clock is 2 s behind the source's first instant for its
	// first ten readings.
	behind := &lateClock{now: first.Add(-2 * time.Second), behind: 10}
	target := mem.New(mem.Options{Clock: behind.Now, BootstrapShift: 1000})
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	var skewed int
	err := dcbackup.Replicate(ctx, "db", store, target, &dcbackup.ReplicateOptions{
		PollInterval: time.Millisecond, MaxBackoff: time.Millisecond,
		OnLag: func(l dcbackup.Lag) {
			if errors.Is(l.Err, datomic.ErrFutureTxInstant) {
				skewed++
			}
			if l.CaughtUp() {
				cancel()
			}
		},
	})
	require.ErrorIs(t, err, context.Canceled)
	assert.Positive(t, skewed, "the target refused future instants at first")
	requireVerified(t, src, target)

	// A clock that never catches up: Replicate gives up after MaxClockSkew.
	stuck := &lateClock{now: first.Add(-time.Hour), behind: -1}
	err = dcbackup.Replicate(testCtx(t), "db", store, mem.New(mem.Options{Clock: stuck.Now}), &dcbackup.ReplicateOptions{
		PollInterval: time.Millisecond, MaxBackoff: time.Millisecond, MaxClockSkew: 20 * time.Millisecond,
	})
	require.ErrorIs(t, err, datomic.ErrFutureTxInstant)
}

// A ref tuple naming an entity the target has no datoms of (all elided by
// a filter) is restored: the restore first creates that entity, bare, so
// that the tuple can refer to it, as a plain ref would.
func TestRestoreRefTupleToElidedEntity(t *testing.T) {
	ctx := testCtx(t)
	src := mem.New(mem.Options{Clock: newStepClock().Now})
	kw := func(s string) datomic.Keyword { return datomic.Keyword(s) }
	_, err := src.Transact(ctx, []datomic.Op{
		datomic.EntityMap{"db/ident": kw("e/name"), "db/valueType": kw("db.type/string"), "db/cardinality": kw("db.cardinality/one")},
		datomic.EntityMap{"db/ident": kw("e/pair"), "db/valueType": kw("db.type/tuple"),
			"db/tupleTypes": datomic.Tuple{kw("db.type/ref"), kw("db.type/long")}, "db/cardinality": kw("db.cardinality/one")},
		datomic.EntityMap{"db/ident": kw("e/friend"), "db/valueType": kw("db.type/ref"), "db/cardinality": kw("db.cardinality/one")},
	})
	require.NoError(t, err)
	rep, err := src.Transact(ctx, []datomic.Op{datomic.Add{E: datomic.TempID("a"), A: kw("e/name"), V: "secret"}})
	require.NoError(t, err)
	a := rep.Tempids["a"]
	_, err = src.Transact(ctx, []datomic.Op{
		datomic.EntityMap{"e/pair": datomic.Tuple{a, int64(1)}, "e/friend": a},
		datomic.EntityMap{"e/pair": datomic.Tuple{a, int64(2)}},
	})
	require.NoError(t, err)
	store := dcbackup.NewMemStore()
	_, err = dcbackup.Backup(ctx, "db", src, store, nil)
	require.NoError(t, err)

	filter := func(d datomic.Datom, attr datomic.Attribute) bool { return attr.Ident != "e/name" }
	target := newTarget()
	res, err := dcbackup.Restore(ctx, "db", store, target, &dcbackup.RestoreOptions{Filter: filter})
	require.NoError(t, err)
	srcTxs, _ := logLen(t, src)
	assert.Equal(t, srcTxs, res.Transactions)
	assert.Empty(t, values(t, target, "e/name"))
	pairs := values(t, target, "e/pair")
	require.Len(t, pairs, 2)
	assert.Equal(t, pairs[0].(datomic.Tuple)[0], pairs[1].(datomic.Tuple)[0], "both tuples name one entity")
	friends := values(t, target, "e/friend")
	require.Len(t, friends, 1)
	assert.Equal(t, friends[0], pairs[0].(datomic.Tuple)[0], "the plain ref names it too")
	vrep, err := dcbackup.Verify(ctx, src, target, &dcbackup.VerifyOptions{Filter: filter})
	require.NoError(t, err)
	assert.True(t, vrep.OK(), "%v", vrep.Differences)

	// Interrupted at every transaction, before and after it commits, the
	// restore resumes and ends identical: the transaction creating the
	// bare entity is the restore's own, not a foreign write.
	for failAt := 1; failAt <= srcTxs+2; failAt++ {
		for _, after := range []bool{false, true} {
			target := newTarget()
			flaky := &flakyConn{Conn: target, failAt: failAt, afterApply: after}
			_, err := dcbackup.Restore(ctx, "db", store, flaky, &dcbackup.RestoreOptions{Filter: filter})
			require.ErrorIs(t, err, errInjectedTransact)
			_, err = dcbackup.Restore(ctx, "db", store, target, &dcbackup.RestoreOptions{Filter: filter})
			require.NoError(t, err, "fail at %d, after %v", failAt, after)
			vrep, err := dcbackup.Verify(ctx, src, target, &dcbackup.VerifyOptions{Filter: filter})
			require.NoError(t, err)
			require.True(t, vrep.OK(), "fail at %d, after %v: %v", failAt, after, vrep.Differences)
		}
	}
}

// Filter, Rewrite and ElideAttributes know an attribute by the ident it
// has at the end of the store, however the backup was segmented: an
// attribute renamed between two backups is filtered the same from an
// incrementally written store as from a one-shot one, and an ident given
// later to another attribute of another type names only that one.
func TestRestoreOptionsKnowAttributesByTheirLastIdent(t *testing.T) {
	ctx := testCtx(t)
	kw := func(s string) datomic.Keyword { return datomic.Keyword(s) }
	src := mem.New(mem.Options{Clock: newStepClock().Now})
	tx := func(ops ...datomic.Op) {
		t.Helper()
		_, err := src.Transact(ctx, ops)
		require.NoError(t, err)
	}
	incremental := dcbackup.NewMemStore()
	backup := func() {
		t.Helper()
		backupNextAll(t, src, incremental, nil)
	}
	tx(datomic.EntityMap{"db/ident": kw("user/password"), "db/valueType": kw("db.type/string"), "db/cardinality": kw("db.cardinality/one")},
		datomic.EntityMap{"db/ident": kw("user/email"), "db/valueType": kw("db.type/string"), "db/cardinality": kw("db.cardinality/one")})
	tx(datomic.EntityMap{"user/password": "hunter2", "user/email": "a@example.com"})
	backup()
	// Renamed: the password is user/secret from now on, and the old
	// e-mail attribute gives its ident to a long attribute.
	tx(datomic.Add{E: kw("user/password"), A: kw("db/ident"), V: kw("user/secret")},
		datomic.Add{E: kw("user/email"), A: kw("db/ident"), V: kw("user/email-old")})
	tx(datomic.EntityMap{"db/ident": kw("user/email"), "db/valueType": kw("db.type/long"), "db/cardinality": kw("db.cardinality/one")})
	tx(datomic.EntityMap{"user/secret": "correct horse", "user/email": int64(7)})
	backup()
	oneShot := dcbackup.NewMemStore()
	_, err := dcbackup.Backup(ctx, "db", src, oneShot, nil)
	require.NoError(t, err)

	noSecret := func(_ datomic.Datom, a datomic.Attribute) bool { return a.Ident != "user/secret" }
	rewrite := map[datomic.Keyword]func(any) (any, error){
		"user/email": func(v any) (any, error) { return v.(int64) + 1, nil }, // the long one only
	}
	for name, store := range map[string]dcbackup.BackupStore{"incremental": incremental, "one-shot": oneShot} {
		t.Run(name, func(t *testing.T) {
			target := newTarget()
			_, err := dcbackup.Restore(ctx, "db", store, target, &dcbackup.RestoreOptions{Filter: noSecret, Rewrite: rewrite})
			require.NoError(t, err)
			assert.Empty(t, values(t, target, "user/secret"), "the password is filtered, under both names")
			assert.Equal(t, []any{"a@example.com"}, values(t, target, "user/email-old"))
			assert.Equal(t, []any{int64(8)}, values(t, target, "user/email"))
			rep, err := dcbackup.Verify(ctx, src, target, &dcbackup.VerifyOptions{Filter: noSecret, Rewrite: rewrite})
			require.NoError(t, err)
			assert.True(t, rep.OK(), "%v", rep.Differences)

			elided := newTarget()
			_, err = dcbackup.Restore(ctx, "db", store, elided, &dcbackup.RestoreOptions{ElideAttributes: []datomic.Keyword{"user/secret"}})
			require.NoError(t, err)
			db, err := elided.DB(ctx)
			require.NoError(t, err)
			for _, ident := range []datomic.Keyword{"user/secret", "user/password"} {
				_, ok, err := db.Entid(ctx, ident)
				require.NoError(t, err)
				assert.False(t, ok, "%s is not installed", ident)
			}
		})
	}
}
