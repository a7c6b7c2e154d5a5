package dcbackup_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/mem"
)

// newCloudTarget returns an empty database in Datomic Cloud's mode: its
// log starts with five bootstrap transactions, and it has Cloud's limits.
func newCloudTarget() *mem.Conn { return mem.New(mem.Options{Cloud: true}) }

// A Pro backup holding what Cloud refuses (bytes values here) is refused
// before anything is applied, naming the attribute and t; eliding those
// values restores the rest, with entities placed by Cloud.
func TestProToCloudRefusesBeforeApplying(t *testing.T) {
	ctx := testCtx(t)
	store, src := backedUp(t, 150, 60, 6)
	require.NotEmpty(t, values(t, src, "h/raw"), "the history has bytes values")

	target := newCloudTarget()
	before := basisT(t, target)
	_, err := dcbackup.Restore(ctx, "db", store, target, nil)
	require.ErrorIs(t, err, dcbackup.ErrCannotRestore)
	var cre *dcbackup.CannotRestoreError
	require.ErrorAs(t, err, &cre)
	assert.Equal(t, datomic.Keyword("db/valueType"), cre.Attr)
	assert.Positive(t, cre.T)
	assert.ErrorContains(t, err, "installs an attribute of type :db.type/bytes, which Datomic Cloud does not have")
	assert.Equal(t, before, basisT(t, target), "nothing applied, not even the bookkeeping")

	// A filter of the values alone leaves the attribute's installation,
	// which Cloud refuses too: the restore says how to leave it out.
	noBytes := func(d datomic.Datom, a datomic.Attribute) bool { return a.ValueType != datomic.TypeBytes }
	_, err = dcbackup.Restore(ctx, "db", store, target, &dcbackup.RestoreOptions{Filter: noBytes})
	require.ErrorAs(t, err, &cre)
	assert.Equal(t, datomic.Keyword("db/valueType"), cre.Attr)
	assert.ErrorContains(t, err, "ElideAttributes")
	assert.Equal(t, before, basisT(t, target))

	elide := []datomic.Keyword{"h/raw"}
	_, err = dcbackup.Restore(ctx, "db", store, target, &dcbackup.RestoreOptions{ElideAttributes: elide})
	require.NoError(t, err)
	rep, err := dcbackup.Verify(ctx, src, target, &dcbackup.VerifyOptions{ElideAttributes: elide})
	require.NoError(t, err)
	assert.True(t, rep.OK(), "%v", rep.Differences)
	srcTxs, _ := logLen(t, src)
	assert.Equal(t, srcTxs, rep.Transactions)
}
