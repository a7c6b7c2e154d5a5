package mem

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/datomic"
)

// TestReplayLogIntoOtherLayout replays the log of a Datomic-Pro-like source
// into a target with another bootstrap layout, the way a restore does:
// bootstrap entities by ident, other entities through an id map or as
// tempids, the original :db/txInstant, explicit install datoms, retractions
// as explicit retractions, composite tuple datoms dropped. The target must
// accept every transaction and end up with the same data.
func TestReplayLogIntoOtherLayout(t *testing.T) {
	ctx := context.Background()
	clk := &testClock{now: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)}
	tick := func() time.Time { clk.now = clk.now.Add(1500 * time.Microsecond); return clk.now }
	src := New(Options{SharedCounter: true, Clock: tick})
	personSchema(t, src)
	tupleSchema(t, src)
	r := rand.New(rand.NewPCG(3, 4))
	var people []int64
	pairs := map[string]bool{}
	for i := range 60 {
		ops := []datomic.Op{datomic.EntityMap{"db/id": datomic.TempID("p"), "person/email": fmt.Sprint("p", i%40, "@x"),
			"person/name": fmt.Sprint("name", r.IntN(5)), "person/tags": []any{kw(fmt.Sprint("t", r.IntN(3)))},
			"person/kind": kw("kind/human")}}
		if len(people) > 0 {
			other := people[r.IntN(len(people))]
			ops = append(ops, datomic.Add{E: datomic.TempID("p"), A: kw("person/friend"), V: other})
			if k := fmt.Sprint(i%40, other); !pairs[k] {
				pairs[k] = true
				ops = append(ops, datomic.EntityMap{"reg/course": datomic.TempID("p"), "reg/student": other})
			}
		}
		if i%7 == 3 {
			ops = append(ops, datomic.EntityMap{"db/id": datomic.TxTempID, "db/doc": fmt.Sprint("batch ", i)})
		}
		if i%11 == 5 {
			ops = append(ops, datomic.RetractEntity{E: people[r.IntN(len(people))]})
		}
		if i == 30 {
			ops = append(ops, datomic.EntityMap{"db/id": kw("person/age"), "db/cardinality": kw("db.cardinality/many")})
		}
		rep := mustTx(t, src, ops...)
		people = append(people, rep.Tempids["p"])
	}

	dst := New(Options{BootstrapShift: 1000, ExtraBuiltins: true, Clock: func() time.Time { return clk.now }})
	srcDB, dstDB := src.Snapshot(), dst.Snapshot()
	idmap := map[int64]int64{}
	var firstT int64 = -1
	for tx, err := range src.TxRange(ctx, 0, 0) {
		require.NoError(t, err)
		if firstT < 0 {
			firstT = tx.T
		}
		target := func(id int64) any {
			if id == tx.ID() {
				return datomic.TxTempID
			}
			if m, ok := idmap[id]; ok {
				return m
			}
			if k, ok, _ := srcDB.Ident(ctx, id); ok {
				if e, ok, _ := srcDB.Entid(ctx, k); ok && e == id && isBootstrap(t, srcDB, id, firstT) {
					m, ok, _ := dstDB.Entid(ctx, k)
					require.True(t, ok, k)
					idmap[id] = m
					return m
				}
			}
			return datomic.TempID(fmt.Sprint("s", id))
		}
		var ops []datomic.Op
		for _, d := range tx.Datoms {
			a, _, err := srcDB.AsOf(tx.T).Attribute(ctx, d.A)
			require.NoError(t, err)
			if a.IsComposite() {
				continue
			}
			v := d.V
			if a.IsRef() {
				v = target(d.V.(int64))
			}
			if d.Added {
				ops = append(ops, datomic.Add{E: target(d.E), A: target(d.A), V: v})
			} else {
				ops = append(ops, datomic.Retract{E: target(d.E), A: target(d.A), V: v})
			}
		}
		rep, err := dst.Transact(ctx, ops)
		require.NoError(t, err, "source t %d", tx.T)
		assert.Equal(t, len(tx.Datoms), len(rep.TxData), "source t %d: same number of datoms", tx.T)
		for k, v := range rep.Tempids {
			var s int64
			if k == datomic.TxTempID {
				s = tx.ID()
			} else {
				_, err := fmt.Sscanf(string(k), "s%d", &s)
				require.NoError(t, err)
			}
			if prev, ok := idmap[s]; ok {
				require.Equal(t, prev, v)
			}
			idmap[s] = v
		}
		dstDB = dst.Snapshot()
		srcTxInst := tx.Datoms[0].V
		require.Equal(t, srcTxInst, rep.TxData[0].V, "the original instant")
	}
	// Same data, modulo ids (composite tuples compared by count).
	srcDB, dstDB = src.Snapshot(), dst.Snapshot()
	n := 0
	for d, err := range srcDB.Datoms(ctx, datomic.EAVT) {
		require.NoError(t, err)
		if datomic.ToT(d.Tx) < firstT {
			continue
		}
		a, _, _ := srcDB.Attribute(ctx, d.A)
		e, ok := idmap[d.E]
		require.True(t, ok, "entity %d mapped", d.E)
		var found bool
		for g, err := range dstDB.Datoms(ctx, datomic.EAVT, e, idmap[d.A]) {
			require.NoError(t, err)
			switch {
			case a.IsComposite():
				found = true
			case a.IsRef():
				found = found || g.V == idmap[d.V.(int64)]
			default:
				found = found || datomic.ValuesEqual(g.V, d.V)
			}
		}
		require.True(t, found, "datom %s", d)
		n++
	}
	assert.Greater(t, n, 200)
	assert.Equal(t, src.Stats().Datoms-bootDatoms(src), dst.Stats().Datoms-bootDatoms(dst))
}

func isBootstrap(t *testing.T, db datomic.DB, id, firstT int64) bool {
	t.Helper()
	for d, err := range db.Datoms(context.Background(), datomic.EAVT, id, kw("db/ident")) {
		require.NoError(t, err)
		return datomic.ToT(d.Tx) < firstT
	}
	return false
}

func bootDatoms(c *Conn) int {
	n := 0
	for range c.Snapshot().AsOf(0).Datoms(context.Background(), datomic.EAVT) {
		n++
	}
	return n
}
