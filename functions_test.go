package dcbackup_test

import (
	"math"
	"math/big"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/mem"
)

func userNameOK(v any) bool { s, ok := v.(string); return ok && len(s) >= 3 }

// A backup holding what the target's transactor would run (a stored
// function, an attribute predicate) is refused before anything is applied
// unless the options say what to do: leave it out, or keep it for a
// target that has the predicate's code.
func TestRestoreOfStoredFunctionsAndPredicates(t *testing.T) {
	ctx := testCtx(t)
	kw := func(s string) datomic.Keyword { return datomic.Keyword(s) }
	const pred = datomic.Symbol("app.preds/user-name?")
	preds := map[datomic.Symbol]func(any) bool{pred: userNameOK}
	src := mem.New(mem.Options{Clock: newStepClock().Now, AttrPreds: preds})
	tx := func(ops ...datomic.Op) {
		t.Helper()
		_, err := src.Transact(ctx, ops)
		require.NoError(t, err)
	}
	tx(datomic.EntityMap{"db/ident": kw("user/id"), "db/valueType": kw("db.type/long"), "db/cardinality": kw("db.cardinality/one"), "db/unique": kw("db.unique/identity")})
	for i := range 6 {
		tx(datomic.EntityMap{"user/id": int64(i)})
	}
	tx(datomic.EntityMap{"db/ident": kw("user/name"), "db/valueType": kw("db.type/string"), "db/cardinality": kw("db.cardinality/one"), "db.attr/preds": pred})
	tx(datomic.EntityMap{"db/ident": kw("app/inc"), "db/fn": datomic.Fn{Lang: "clojure", Params: []datomic.Symbol{"db", "e"}, Code: "[[:db/add e :user/id 1]]"}})
	tx(datomic.EntityMap{"user/id": int64(1), "user/name": "john"})
	store := dcbackup.NewMemStore()
	backupNextAll(t, src, store, &dcbackup.BackupOptions{MaxTxPerSegment: 3})

	target := newTarget()
	err := requireRestoreRefused(t, store, target, dcbackup.ErrCannotRestore)
	var cre *dcbackup.CannotRestoreError
	require.ErrorAs(t, err, &cre)
	assert.Equal(t, kw("db.attr/preds"), cre.Attr)
	assert.ErrorContains(t, err, "FunctionsElide")
	assert.EqualValues(t, 0, basisT(t, target), "nothing applied, not even the segments before it")

	// Left out: the target has neither the predicate nor the function.
	elided := newTarget()
	_, err = dcbackup.Restore(ctx, "db", store, elided, &dcbackup.RestoreOptions{Functions: dcbackup.FunctionsElide})
	require.NoError(t, err)
	assert.Empty(t, values(t, elided, "db.attr/preds"))
	assert.Empty(t, values(t, elided, "db/fn"))
	assert.Equal(t, []any{"john"}, values(t, elided, "user/name"))

	// Kept: a target whose transactor has the predicate restores all of it.
	kept := mem.New(mem.Options{AttrPreds: preds, BootstrapShift: 1000})
	_, err = dcbackup.Restore(ctx, "db", store, kept, &dcbackup.RestoreOptions{Functions: dcbackup.FunctionsKeep})
	require.NoError(t, err)
	requireVerified(t, src, kept)
	// A target without it refuses at the first value, as a transactor
	// without the code on its classpath would.
	_, err = dcbackup.Restore(ctx, "db", store, newTarget(), &dcbackup.RestoreOptions{Functions: dcbackup.FunctionsKeep})
	require.ErrorIs(t, err, datomic.ErrNotFound)
}

// BigDec values of any int32 scale back up, restore and verify in the
// time of their digits.
func TestExtremeBigDecScales(t *testing.T) {
	ctx := testCtx(t)
	kw := func(s string) datomic.Keyword { return datomic.Keyword(s) }
	src := mem.New(mem.Options{Clock: newStepClock().Now})
	_, err := src.Transact(ctx, []datomic.Op{datomic.EntityMap{"db/ident": kw("n/dec"), "db/valueType": kw("db.type/bigdec"), "db/cardinality": kw("db.cardinality/many")}})
	require.NoError(t, err)
	for _, scale := range []int32{math.MinInt32, math.MaxInt32, -1, 0, 1} {
		_, err := src.Transact(ctx, []datomic.Op{datomic.EntityMap{"n/dec": datomic.BigDec{Unscaled: big.NewInt(-12345), Scale: scale}}})
		require.NoError(t, err)
	}
	store := dcbackup.NewMemStore()
	_, err = dcbackup.Backup(ctx, "db", src, store, nil)
	require.NoError(t, err)
	requireRestoresIdentically(t, store, src)
}
