package dcbackup_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/mem"
)

// A standby restored with options that name an attribute, which the
// source then renames: the options know attributes by their ident at the
// end of the store, so the next call would see the attribute under its
// new name and let in what it kept out (a password, under a Filter that
// names the old ident). The call is refused before it applies anything,
// on every retry, until the options name the attribute by both idents;
// then it continues and the standby verifies with them.
func TestRestoreRefusesOptionsThatARenameChanges(t *testing.T) {
	kw := func(s string) datomic.Keyword { return datomic.Keyword(s) }
	isPassword := func(a datomic.Attribute) bool { return a.Ident == "user/password" }
	isEither := func(a datomic.Attribute) bool { return a.Ident == "user/password" || a.Ident == "user/secret" }
	hide := func(any) (any, error) { return "hidden", nil }
	for _, tc := range []struct {
		name         string
		before, both dcbackup.RestoreOptions
	}{
		{"Filter",
			dcbackup.RestoreOptions{Filter: func(_ datomic.Datom, a datomic.Attribute) bool { return !isPassword(a) }},
			dcbackup.RestoreOptions{Filter: func(_ datomic.Datom, a datomic.Attribute) bool { return !isEither(a) }}},
		{"Rewrite",
			dcbackup.RestoreOptions{Rewrite: map[datomic.Keyword]func(any) (any, error){"user/password": hide}},
			dcbackup.RestoreOptions{Rewrite: map[datomic.Keyword]func(any) (any, error){"user/password": hide, "user/secret": hide}}},
		{"ElideAttributes",
			dcbackup.RestoreOptions{ElideAttributes: []datomic.Keyword{"user/password"}},
			dcbackup.RestoreOptions{ElideAttributes: []datomic.Keyword{"user/password", "user/secret"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			src := mem.New(mem.Options{Clock: newStepClock().Now})
			tx := func(ops ...datomic.Op) {
				t.Helper()
				_, err := src.Transact(ctx, ops)
				require.NoError(t, err)
			}
			tx(datomic.EntityMap{"db/ident": kw("user/password"), "db/valueType": kw("db.type/string"), "db/cardinality": kw("db.cardinality/one")},
				datomic.EntityMap{"db/ident": kw("user/name"), "db/valueType": kw("db.type/string"), "db/cardinality": kw("db.cardinality/one")})
			tx(datomic.EntityMap{"user/name": "ann", "user/password": "hunter2"})
			store := dcbackup.NewMemStore()
			backupNextAll(t, src, store, nil)
			target := newTarget()
			_, err := dcbackup.Restore(ctx, "db", store, target, &tc.before)
			require.NoError(t, err)

			tx(datomic.Add{E: kw("user/password"), A: kw("db/ident"), V: kw("user/secret")})
			tx(datomic.EntityMap{"user/name": "bob", "user/secret": "correct horse"})
			backupNextAll(t, src, store, nil)
			basis := basisT(t, target)
			for range 2 {
				_, err := dcbackup.Restore(ctx, "db", store, target, &tc.before)
				require.ErrorIs(t, err, dcbackup.ErrRenamedSince)
				assert.ErrorContains(t, err, ":user/secret")
				assert.ErrorContains(t, err, tc.name)
				require.Equal(t, basis, basisT(t, target), "nothing applied")
			}
			for _, v := range values(t, target, "user/password") {
				assert.NotEqual(t, "correct horse", v)
			}

			_, err = dcbackup.Restore(ctx, "db", store, target, &tc.both)
			require.NoError(t, err)
			for _, v := range values(t, target, "user/secret") {
				assert.False(t, strings.Contains(v.(string), "horse"), "the new value stays out")
			}
			rep, err := dcbackup.Verify(ctx, src, target, &dcbackup.VerifyOptions{Filter: tc.both.Filter, Rewrite: tc.both.Rewrite, ElideAttributes: tc.both.ElideAttributes})
			require.NoError(t, err)
			assert.True(t, rep.OK(), "%v", rep.Differences)
		})
	}
}

// renamedSource returns a source with :user/password installed and one
// value, backed up, and a function that transacts on it.
func renamedSource(t *testing.T) (*mem.Conn, *dcbackup.MemStore, func(ops ...datomic.Op)) {
	t.Helper()
	kw := func(s string) datomic.Keyword { return datomic.Keyword(s) }
	src := mem.New(mem.Options{Clock: newStepClock().Now})
	tx := func(ops ...datomic.Op) {
		t.Helper()
		_, err := src.Transact(context.Background(), ops)
		require.NoError(t, err)
	}
	tx(datomic.EntityMap{"db/ident": kw("user/password"), "db/valueType": kw("db.type/string"), "db/cardinality": kw("db.cardinality/one")},
		datomic.EntityMap{"db/ident": kw("user/name"), "db/valueType": kw("db.type/string"), "db/cardinality": kw("db.cardinality/one")})
	tx(datomic.EntityMap{"user/name": "ann", "user/password": "pw-ann"})
	store := dcbackup.NewMemStore()
	backupNextAll(t, src, store, nil)
	return src, store, tx
}

// rename renames attribute from to to.
func rename(from, to datomic.Keyword) datomic.Op {
	return datomic.Add{E: from, A: datomic.Keyword("db/ident"), V: to}
}

// failingLoadStore fails its n-th Load once, as an object store's 503.
type failingLoadStore struct {
	*dcbackup.MemStore
	n, calls atomic.Int64
}

func (s *failingLoadStore) Load(ctx context.Context, db string, seg dcbackup.SegmentInfo) ([]byte, error) {
	if s.calls.Add(1) == s.n.Load() {
		return nil, errors.New("503 slow down")
	}
	return s.MemStore.Load(ctx, db, seg)
}

// A standby's Replicate loop whose first poll after a rename fails on a
// transient store error still refuses the options on the next poll: the
// check used to run only when the store's newest segment changed.
func TestReplicateChecksRenamesAfterTransientError(t *testing.T) {
	filter := func(_ datomic.Datom, a datomic.Attribute) bool { return a.Ident != "user/password" }
	for n := int64(1); n <= 6; n++ {
		t.Run(fmt.Sprint("load ", n), func(t *testing.T) {
			src, mstore, tx := renamedSource(t)
			target := newTarget()
			_, err := dcbackup.Restore(testCtx(t), "db", mstore, target, &dcbackup.RestoreOptions{Filter: filter})
			require.NoError(t, err)
			tx(rename("user/password", "user/secret"))
			tx(datomic.EntityMap{"user/name": "bob", "user/secret": "pw-bob"})
			backupNextAll(t, src, mstore, nil)
			store := &failingLoadStore{MemStore: mstore}
			store.n.Store(n)
			err = dcbackup.Replicate(testCtx(t), "db", store, target, &dcbackup.ReplicateOptions{
				PollInterval: time.Millisecond, MaxBackoff: time.Millisecond,
				Restore: dcbackup.RestoreOptions{Filter: filter},
			})
			require.ErrorIs(t, err, dcbackup.ErrRenamedSince)
			assert.NotContains(t, values(t, target, "user/secret"), "pw-bob")
		})
	}
}

// The target records the idents its options knew renamed attributes by
// (AttributeNamesAttr): a standby that lags behind the store (one segment
// per call) with options naming the attribute by its ident at the end of
// the store goes on while that ident stays, and is refused when a rename
// back changes it, before a value it kept out under one ident comes in
// under the other.
func TestLaggingStandbyKnowsTheIdentsItsOptionsUsed(t *testing.T) {
	ctx := testCtx(t)
	src, store, tx := renamedSource(t)
	tx(datomic.EntityMap{"user/name": "cid", "user/password": "pw-cid"})
	backupNextAll(t, src, store, &dcbackup.BackupOptions{MaxTxPerSegment: 1})
	tx(rename("user/password", "user/secret"))
	backupNextAll(t, src, store, nil)
	opts := &dcbackup.RestoreOptions{Filter: func(_ datomic.Datom, a datomic.Attribute) bool { return a.Ident != "user/secret" }}
	target := newTarget()
	_, err := dcbackup.RestoreSegment(ctx, "db", store, target, opts)
	require.NoError(t, err)
	_, err = dcbackup.RestoreSegment(ctx, "db", store, target, opts)
	require.NoError(t, err, "the ident at the end of the store has not changed")
	assert.Empty(t, values(t, target, "user/password"))

	tx(rename("user/secret", "user/password"))
	tx(datomic.EntityMap{"user/name": "dan", "user/password": "pw-dan"})
	backupNextAll(t, src, store, nil)
	basis := basisT(t, target)
	_, err = dcbackup.Restore(ctx, "db", store, target, opts)
	require.ErrorIs(t, err, dcbackup.ErrRenamedSince)
	assert.ErrorContains(t, err, ":user/password was :user/secret")
	assert.Equal(t, basis, basisT(t, target), "nothing applied")

	both := &dcbackup.RestoreOptions{Filter: func(_ datomic.Datom, a datomic.Attribute) bool {
		return a.Ident != "user/secret" && a.Ident != "user/password"
	}}
	_, err = dcbackup.Restore(ctx, "db", store, target, both)
	require.NoError(t, err)
	assert.Empty(t, values(t, target, "user/password"))
	rep, err := dcbackup.Verify(ctx, src, target, &dcbackup.VerifyOptions{Filter: both.Filter})
	require.NoError(t, err)
	assert.True(t, rep.OK(), "%v", rep.Differences)
}

// A source that renamed many attributes (a namespace renamed in a
// migration) restores into Datomic Cloud with options: the recorded names
// are one short value per attribute, within Cloud's string limit (one
// value of 9,970 characters was refused on every transaction).
func TestRecordedNamesFitCloudLimits(t *testing.T) {
	ctx := testCtx(t)
	kw := func(s string) datomic.Keyword { return datomic.Keyword(s) }
	src := mem.New(mem.Options{Clock: newStepClock().Now})
	tx := func(ops ...datomic.Op) {
		t.Helper()
		_, err := src.Transact(ctx, ops)
		require.NoError(t, err)
	}
	const n = 250
	schema := []datomic.Op{datomic.EntityMap{"db/ident": kw("user/password"), "db/valueType": kw("db.type/string"), "db/cardinality": kw("db.cardinality/one")}}
	for i := range n {
		schema = append(schema, datomic.EntityMap{"db/ident": kw(fmt.Sprintf("shop.customer/attribute-%03d", i)), "db/valueType": kw("db.type/string"), "db/cardinality": kw("db.cardinality/one")})
	}
	tx(schema...)
	tx(datomic.EntityMap{"shop.customer/attribute-000": "x", "user/password": "pw-1"})
	var renames []datomic.Op
	for i := range n {
		renames = append(renames, rename(kw(fmt.Sprintf("shop.customer/attribute-%03d", i)), kw(fmt.Sprintf("shop.customer/renamed-attribute-%03d", i))))
	}
	tx(renames...)
	tx(datomic.EntityMap{"shop.customer/renamed-attribute-000": "y", "user/password": "pw-2"})
	store := dcbackup.NewMemStore()
	backupNextAll(t, src, store, nil)

	filter := func(_ datomic.Datom, a datomic.Attribute) bool { return a.Ident != "user/password" }
	target := mem.New(mem.Options{Cloud: true})
	_, err := dcbackup.Restore(ctx, "db", store, target, &dcbackup.RestoreOptions{Filter: filter})
	require.NoError(t, err)
	assert.Empty(t, values(t, target, "user/password"))
	assert.Len(t, values(t, target, dcbackup.AttributeNamesAttr), n)
	rep, err := dcbackup.Verify(ctx, src, target, &dcbackup.VerifyOptions{Filter: filter})
	require.NoError(t, err)
	assert.True(t, rep.OK(), "%v", rep.Differences)
}

// A restore without options that name attributes clears the recorded
// names: they would be stale, and a later call with options compares
// with the target's own idents (it was refused, naming an ident neither
// the target nor the store had any more).
func TestRestoreWithoutOptionsClearsRecordedNames(t *testing.T) {
	ctx := testCtx(t)
	src, store, tx := renamedSource(t)
	tx(rename("user/password", "user/secret"))
	tx(datomic.EntityMap{"user/name": "bob", "user/secret": "pw-bob"})
	backupNextAll(t, src, store, nil)
	target := newTarget()
	_, err := dcbackup.Restore(ctx, "db", store, target, &dcbackup.RestoreOptions{
		Filter: func(_ datomic.Datom, a datomic.Attribute) bool { return a.Ident != "user/name" }})
	require.NoError(t, err)
	assert.NotEmpty(t, values(t, target, dcbackup.AttributeNamesAttr))

	tx(rename("user/secret", "user/token"))
	tx(datomic.EntityMap{"user/name": "cid", "user/token": "tok-cid"})
	backupNextAll(t, src, store, nil)
	_, err = dcbackup.Restore(ctx, "db", store, target, nil)
	require.NoError(t, err)
	assert.Empty(t, values(t, target, dcbackup.AttributeNamesAttr))

	tx(datomic.EntityMap{"user/name": "dan", "user/token": "tok-dan"})
	backupNextAll(t, src, store, nil)
	noToken := func(_ datomic.Datom, a datomic.Attribute) bool { return a.Ident != "user/token" }
	_, err = dcbackup.Restore(ctx, "db", store, target, &dcbackup.RestoreOptions{Filter: noToken})
	require.NoError(t, err)
	assert.NotContains(t, values(t, target, "user/token"), "tok-dan")
}

// An attribute an earlier call left out under its former ident: the call
// that would apply its rename alone (a segment, or UntilT, ending there)
// is refused before applying it. The rename used to be applied as a bare
// ident entity, after which every call failed with the database's
// not-an-attribute, and the stray ident stayed in the target.
func TestRenameOfAnElidedAttributeIsRefusedBeforeItIsApplied(t *testing.T) {
	ctx := testCtx(t)
	src, store, tx := renamedSource(t)
	opts := &dcbackup.RestoreOptions{ElideAttributes: []datomic.Keyword{"user/password"}}
	target := newTarget()
	_, err := dcbackup.Restore(ctx, "db", store, target, opts)
	require.NoError(t, err)
	tx(rename("user/password", "user/secret"))
	renameT := basisT(t, src)
	tx(datomic.EntityMap{"user/name": "bob", "user/secret": "pw-bob"})
	backupNextAll(t, src, store, &dcbackup.BackupOptions{MaxTxPerSegment: 1})

	basis := basisT(t, target)
	until := *opts
	until.UntilT = renameT
	_, err = dcbackup.Restore(ctx, "db", store, target, &until)
	require.ErrorIs(t, err, dcbackup.ErrRenamedSince)
	assert.Equal(t, basis, basisT(t, target), "nothing applied")

	both := &dcbackup.RestoreOptions{ElideAttributes: []datomic.Keyword{"user/password", "user/secret"}}
	_, err = dcbackup.Restore(ctx, "db", store, target, both)
	require.NoError(t, err)
	rep, err := dcbackup.Verify(ctx, src, target, &dcbackup.VerifyOptions{ElideAttributes: both.ElideAttributes})
	require.NoError(t, err)
	assert.True(t, rep.OK(), "%v", rep.Differences)
}
