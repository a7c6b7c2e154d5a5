package mem

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/datomic"
)

// TestIndexRangeIncremental interleaves transactions with ordered AVET reads
// (so the sorted index is merged incrementally) and checks every read, of
// the latest and of older values, against a brute-force filter.
func TestIndexRangeIncremental(t *testing.T) {
	c, _ := newTestConn(t, Options{})
	personSchema(t, c)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(5, 6))
	var ents []int64
	var dbs []datomic.DB
	for step := range 150 {
		var ops []datomic.Op
		for range 1 + r.IntN(5) {
			if len(ents) == 0 || r.IntN(2) == 0 {
				ops = append(ops, datomic.EntityMap{"person/age": int64(r.IntN(100))})
			} else {
				ops = append(ops, datomic.Add{E: ents[r.IntN(len(ents))], A: kw("person/age"), V: int64(r.IntN(100))})
			}
		}
		seen := map[int64]bool{}
		ops = slices.DeleteFunc(ops, func(op datomic.Op) bool {
			a, ok := op.(datomic.Add)
			if !ok {
				return false
			}
			dup := seen[a.E.(int64)]
			seen[a.E.(int64)] = true
			return dup
		})
		rep := mustTx(t, c, ops...)
		for _, d := range rep.TxData {
			if d.Added && d.A != 50 && !slices.Contains(ents, d.E) {
				ents = append(ents, d.E)
			}
		}
		db := mustDB(t, c)
		dbs = append(dbs, db)
		if step%3 == 0 {
			for _, old := range []datomic.DB{db, dbs[r.IntN(len(dbs))]} {
				lo, hi := int64(r.IntN(60)), int64(40+r.IntN(60))
				var want []datomic.Datom
				for _, d := range collect(t, old.Datoms(ctx, datomic.AEVT, kw("person/age"))) {
					if v := d.V.(int64); v >= lo && v < hi {
						want = append(want, d)
					}
				}
				slices.SortFunc(want, func(x, y datomic.Datom) int {
					if x.V.(int64) != y.V.(int64) {
						return int(x.V.(int64) - y.V.(int64))
					}
					return int(x.E - y.E)
				})
				got := collect(t, old.IndexRange(ctx, kw("person/age"), lo, hi))
				require.Equal(t, want, got, "step %d [%d, %d)", step, lo, hi)
				all := collect(t, old.Datoms(ctx, datomic.AVET, kw("person/age")))
				require.Len(t, all, len(collect(t, old.Datoms(ctx, datomic.AEVT, kw("person/age")))))
			}
		}
	}
}
