package dcbackup_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/mem"
)

// storeHolds reports whether any segment of "db" holds needle in its
// stored bytes (an unencrypted, uncompressed store).
func storeHolds(t *testing.T, store dcbackup.BackupStore, needle string) bool {
	t.Helper()
	for _, data := range storeBytes(t, store) {
		if bytes.Contains([]byte(data), []byte(needle)) {
			return true
		}
	}
	return false
}

// Excised data backed up before the excision lives on in the store until
// PurgeExcised rewrites the segments that hold it; the store then restores
// identically and holds no trace of it.
func TestPurgeExcisedRemovesExcisedDataFromTheStore(t *testing.T) {
	for _, shared := range []bool{false, true} {
		t.Run(fmt.Sprint("shared=", shared), func(t *testing.T) {
			ctx := testCtx(t)
			kw := func(s string) datomic.Keyword { return datomic.Keyword(s) }
			src := mem.New(mem.Options{Clock: newStepClock().Now, SharedCounter: shared})
			tx := func(ops ...datomic.Op) datomic.TxReport {
				t.Helper()
				rep, err := src.Transact(ctx, ops)
				require.NoError(t, err)
				return rep
			}
			tx(datomic.EntityMap{"db/ident": kw("p/name"), "db/valueType": kw("db.type/string"), "db/cardinality": kw("db.cardinality/one")},
				datomic.EntityMap{"db/ident": kw("p/note"), "db/valueType": kw("db.type/string"), "db/cardinality": kw("db.cardinality/one")})
			var secret int64
			for i := range 12 {
				rep := tx(datomic.EntityMap{datomic.DBID: datomic.TempID("p"), "p/name": fmt.Sprint("person-", i), "p/note": fmt.Sprintf("secret-%02d-xyzzy", i)})
				if i == 4 {
					secret = rep.Tempids["p"]
				}
			}
			store := dcbackup.NewMemStore()
			opts := &dcbackup.BackupOptions{MaxTxPerSegment: 2, Encode: dcbackup.EncodeOptions{Compression: dcbackup.CompressionNone}}
			backupNextAll(t, src, store, opts)
			require.True(t, storeHolds(t, store, "secret-04-xyzzy"))

			tx(datomic.EntityMap{"db/excise": secret})
			tx(datomic.EntityMap{"p/name": "after the excision"})
			res, err := dcbackup.BackupNext(ctx, "db", src, store, opts)
			require.NoError(t, err)
			assert.True(t, res.Excised, "BackupNext says the store holds excised data")
			backupNextAll(t, src, store, opts)
			require.True(t, storeHolds(t, store, "secret-04-xyzzy"), "still in the store")

			pr, err := dcbackup.PurgeExcised(ctx, "db", src, store, opts)
			require.NoError(t, err)
			assert.Positive(t, pr.Stale)
			assert.Positive(t, pr.Written)
			assert.False(t, storeHolds(t, store, "secret-04-xyzzy"), "purged")
			assert.True(t, storeHolds(t, store, "secret-05-xyzzy"), "the rest is kept")
			rep, err := dcbackup.Check(ctx, "db", store, nil)
			require.NoError(t, err)
			assert.True(t, rep.OK(), "%v %v", rep.Gaps, rep.Problems)
			requireRestoresIdentically(t, store, src)

			again, err := dcbackup.PurgeExcised(ctx, "db", src, store, opts)
			require.NoError(t, err)
			assert.Zero(t, again.Stale)
			assert.Zero(t, again.Written)
			backupNextAll(t, src, store, opts)
		})
	}
}
