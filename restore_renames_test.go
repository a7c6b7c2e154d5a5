package dcbackup_test

import (
	"strings"
	"testing"

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
