package mem

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/dcbackup/dcbackup/datomic"
)

// benchSchema installs the schema of the random workload.
func benchSchema(b testing.TB, c *Conn) {
	_, err := c.Transact(context.Background(), []datomic.Op{
		attrMap("item/id", "string", "one", "db/unique", kw("db.unique/identity")),
		attrMap("item/name", "string", "one"),
		attrMap("item/count", "long", "one"),
		attrMap("item/tags", "keyword", "many"),
		attrMap("item/parent", "ref", "one"),
		attrMap("item/kind", "ref", "one"),
		datomic.EntityMap{"db/ident": kw("kind/a")},
		datomic.EntityMap{"db/ident": kw("kind/b")},
	})
	if err != nil {
		b.Fatal(err)
	}
}

// randomTx builds a transaction of n entity maps: mostly new items, some
// updates of earlier ones (by lookup ref, so with implicit retractions).
func randomTx(r *rand.Rand, seq *int, n int) []datomic.Op {
	ops := make([]datomic.Op, 0, n)
	base := *seq // items of earlier transactions
	touched := make(map[int]bool)
	for range n {
		if k := 1 + r.IntN(max(base, 1)); base > 0 && r.IntN(4) == 0 && !touched[k] {
			touched[k] = true
			id := fmt.Sprint("i", k)
			ops = append(ops, datomic.EntityMap{
				"db/id":      datomic.LookupRef{A: kw("item/id"), V: id},
				"item/count": int64(r.IntN(1000)),
				"item/tags":  kw(fmt.Sprint("t", r.IntN(50))),
			})
			continue
		}
		*seq++
		m := datomic.EntityMap{
			"item/id":    fmt.Sprint("i", *seq),
			"item/name":  fmt.Sprint("name ", r.Uint64()),
			"item/count": int64(r.IntN(1000)),
			"item/tags":  []any{kw(fmt.Sprint("t", r.IntN(50))), kw(fmt.Sprint("t", r.IntN(50)))},
			"item/kind":  kw("kind/a"),
		}
		if base > 0 {
			m["item/parent"] = datomic.LookupRef{A: kw("item/id"), V: fmt.Sprint("i", 1+r.IntN(base))}
		}
		ops = append(ops, m)
	}
	return ops
}

// BenchmarkTransact transacts a random workload, 100 entity maps per
// transaction, and reports datoms written per second.
func BenchmarkTransact(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	c := New(Options{})
	benchSchema(b, c)
	seq := 0
	txs := make([][]datomic.Op, b.N)
	for i := range txs {
		txs[i] = randomTx(r, &seq, 100)
	}
	ctx := context.Background()
	datoms := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		rep, err := c.Transact(ctx, txs[i])
		if err != nil {
			b.Fatal(err)
		}
		datoms += len(rep.TxData)
	}
	b.ReportMetric(float64(datoms)/b.Elapsed().Seconds(), "datoms/s")
	b.ReportMetric(float64(datoms)/float64(b.N), "datoms/tx")
}

// BenchmarkTransactAdds transacts plain [:db/add] datoms of new entities.
func BenchmarkTransactAdds(b *testing.B) {
	c := New(Options{})
	benchSchema(b, c)
	ctx := context.Background()
	txs := make([][]datomic.Op, b.N)
	for i := range txs {
		ops := make([]datomic.Op, 0, 300)
		for j := range 100 {
			e := datomic.TempID(fmt.Sprint("e", j))
			ops = append(ops,
				datomic.Add{E: e, A: kw("item/name"), V: fmt.Sprint("n", i, j)},
				datomic.Add{E: e, A: kw("item/count"), V: int64(i*100 + j)},
				datomic.Add{E: e, A: kw("item/kind"), V: kw("kind/b")})
		}
		txs[i] = ops
	}
	datoms := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		rep, err := c.Transact(ctx, txs[i])
		if err != nil {
			b.Fatal(err)
		}
		datoms += len(rep.TxData)
	}
	b.ReportMetric(float64(datoms)/b.Elapsed().Seconds(), "datoms/s")
}

// BenchmarkTransactSmall transacts one new entity (3 datoms and the
// transaction's instant) per transaction: the per-transaction overhead.
func BenchmarkTransactSmall(b *testing.B) {
	c := New(Options{})
	benchSchema(b, c)
	ctx := context.Background()
	txs := make([][]datomic.Op, b.N)
	for i := range txs {
		txs[i] = []datomic.Op{datomic.EntityMap{
			"item/id": fmt.Sprint("i", i), "item/count": int64(i), "item/kind": kw("kind/a")}}
	}
	datoms := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		rep, err := c.Transact(ctx, txs[i])
		if err != nil {
			b.Fatal(err)
		}
		datoms += len(rep.TxData)
	}
	b.ReportMetric(float64(datoms)/b.Elapsed().Seconds(), "datoms/s")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tx/s")
}

// BenchmarkAVETLookup looks up entities by a unique value, the access a
// restore makes for original ids, in a database of 100,000 items.
func BenchmarkAVETLookup(b *testing.B) {
	c := New(Options{})
	benchSchema(b, c)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(1, 2))
	seq := 0
	for range 1000 {
		if _, err := c.Transact(ctx, randomTx(r, &seq, 100)); err != nil {
			b.Fatal(err)
		}
	}
	db := c.Snapshot()
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprint("i", 1+r.IntN(seq))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		found := false
		for _, err := range db.Datoms(ctx, datomic.AVET, kw("item/id"), keys[i%len(keys)]) {
			if err != nil {
				b.Fatal(err)
			}
			found = true
		}
		if !found {
			b.Fatal("not found")
		}
	}
}
