package mem

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/datomic"
)

func collect(t *testing.T, seq func(func(datomic.Datom, error) bool)) []datomic.Datom {
	t.Helper()
	var out []datomic.Datom
	for d, err := range seq {
		require.NoError(t, err)
		out = append(out, d)
	}
	return out
}

func TestTxRange(t *testing.T) {
	c, _ := newTestConn(t, Options{SharedCounter: true})
	personSchema(t, c)
	for i := range 10 {
		mustTx(t, c, datomic.EntityMap{"person/name": fmt.Sprint("p", i)})
	}
	all := logTxs(t, c)
	require.Len(t, all, 11)
	for _, tx := range all {
		require.NotEmpty(t, tx.Datoms)
		assert.Equal(t, datomic.Datom{E: tx.ID(), A: 50, V: tx.Datoms[0].V, Tx: tx.ID(), Added: true}, tx.Datoms[0])
		for _, d := range tx.Datoms {
			assert.Equal(t, tx.ID(), d.Tx)
		}
	}
	ctx := context.Background()
	var got []int64
	for tx, err := range c.TxRange(ctx, all[3].T, all[6].T) {
		require.NoError(t, err)
		got = append(got, tx.T)
	}
	assert.Equal(t, []int64{all[3].T, all[4].T, all[5].T}, got, "[start, end)")
	got = got[:0]
	for tx, err := range c.TxRange(ctx, all[3].ID(), all[6].ID()) {
		require.NoError(t, err)
		got = append(got, tx.T)
	}
	assert.Equal(t, []int64{all[3].T, all[4].T, all[5].T}, got, "transaction ids work as bounds")
	got = got[:0]
	for tx, err := range c.TxRange(ctx, all[3].T+1, 0) {
		require.NoError(t, err)
		got = append(got, tx.T)
	}
	assert.Len(t, got, 7, "a start between ts begins at the next transaction; end <= 0 is open")
	n := 0
	for range c.TxRange(ctx, 0, 0) {
		n++
		break
	}
	assert.Equal(t, 1, n, "early stop")
	// Deterministic: a second read gives the same.
	assert.Equal(t, all, logTxs(t, c))
	// Later transactions do not enter a range already started.
	n = 0
	for _, err := range c.TxRange(ctx, 0, 0) {
		require.NoError(t, err)
		if n == 0 {
			mustTx(t, c, datomic.EntityMap{"person/name": "late"})
		}
		n++
	}
	assert.Equal(t, 11, n)
}

func TestDatomsIndexes(t *testing.T) {
	c, _ := newTestConn(t, Options{})
	personSchema(t, c)
	ctx := context.Background()
	rep := mustTx(t, c,
		datomic.EntityMap{"db/id": datomic.TempID("a"), "person/name": "A", "person/age": int64(30), "person/kind": kw("kind/human")},
		datomic.EntityMap{"db/id": datomic.TempID("b"), "person/name": "B", "person/age": int64(20), "person/friend": datomic.TempID("a")},
		datomic.EntityMap{"db/id": datomic.TempID("c"), "person/name": "C", "person/age": int64(25), "person/friend": datomic.TempID("a")},
	)
	a, b, cc := rep.Tempids["a"], rep.Tempids["b"], rep.Tempids["c"]
	db := mustDB(t, c)
	age, _, _ := db.Entid(ctx, "person/age")
	friend, _, _ := db.Entid(ctx, "person/friend")

	eavt := collect(t, db.Datoms(ctx, datomic.EAVT, a))
	require.Len(t, eavt, 3)
	assert.IsIncreasing(t, []int64{eavt[0].A, eavt[1].A, eavt[2].A})

	avet := collect(t, db.Datoms(ctx, datomic.AVET, kw("person/age")))
	require.Len(t, avet, 3)
	assert.Equal(t, []any{int64(20), int64(25), int64(30)}, []any{avet[0].V, avet[1].V, avet[2].V})
	assert.Equal(t, b, avet[0].E)
	assert.Equal(t, age, avet[0].A)

	one := collect(t, db.Datoms(ctx, datomic.AVET, kw("person/age"), int64(25)))
	require.Len(t, one, 1)
	assert.Equal(t, cc, one[0].E)
	// An int is accepted for a long, and an ident for a ref value.
	assert.Len(t, collect(t, db.Datoms(ctx, datomic.AVET, age, 25)), 1)
	assert.Len(t, collect(t, db.Datoms(ctx, datomic.AVET, kw("person/kind"), kw("kind/human"))), 1)

	aevt := collect(t, db.Datoms(ctx, datomic.AEVT, kw("person/age")))
	assert.Equal(t, []int64{a, b, cc}, []int64{aevt[0].E, aevt[1].E, aevt[2].E})
	assert.Len(t, collect(t, db.Datoms(ctx, datomic.AEVT, kw("person/age"), b)), 1)

	vaet := collect(t, db.Datoms(ctx, datomic.VAET, a))
	require.Len(t, vaet, 2)
	assert.Equal(t, friend, vaet[0].A)
	assert.Equal(t, []int64{b, cc}, []int64{vaet[0].E, vaet[1].E})
	assert.Len(t, collect(t, db.Datoms(ctx, datomic.VAET, a, kw("person/friend"), cc)), 1)

	rng := collect(t, db.IndexRange(ctx, kw("person/age"), int64(21), int64(30)))
	require.Len(t, rng, 1)
	assert.Equal(t, int64(25), rng[0].V)
	assert.Len(t, collect(t, db.IndexRange(ctx, kw("person/age"), nil, int64(30))), 2)
	assert.Len(t, collect(t, db.IndexRange(ctx, kw("person/age"), int64(21), nil)), 2)

	// With the tx component.
	assert.Len(t, collect(t, db.Datoms(ctx, datomic.EAVT, a, kw("person/age"), int64(30), rep.TxID())), 1)
	assert.Empty(t, collect(t, db.Datoms(ctx, datomic.EAVT, a, kw("person/age"), int64(30), rep.TxID()-1)))
	// Unknown components give nothing.
	assert.Empty(t, collect(t, db.Datoms(ctx, datomic.AEVT, kw("no/such"))))

	// Whole-index scans are sorted.
	all := collect(t, db.Datoms(ctx, datomic.EAVT))
	assert.Equal(t, c.Stats().Datoms, len(all))
	for i := 1; i < len(all); i++ {
		require.LessOrEqual(t, all[i-1].E, all[i].E)
	}
	allAvet := collect(t, db.Datoms(ctx, datomic.AVET))
	assert.Len(t, allAvet, len(all))
	assert.NotEmpty(t, collect(t, db.Datoms(ctx, datomic.VAET)))
	assert.Len(t, collect(t, db.Datoms(ctx, datomic.AEVT)), len(all))
}

func TestAsOfAndSnapshots(t *testing.T) {
	c, _ := newTestConn(t, Options{SharedCounter: true})
	personSchema(t, c)
	ctx := context.Background()
	r1 := mustTx(t, c, datomic.EntityMap{"db/id": datomic.TempID("a"), "person/name": "v1"})
	a := r1.Tempids["a"]
	db1 := mustDB(t, c)
	r2 := mustTx(t, c, datomic.Add{E: a, A: kw("person/name"), V: "v2"})
	mustTx(t, c, datomic.RetractEntity{E: a})

	name := func(db datomic.DB) []any {
		var out []any
		for _, d := range collect(t, db.Datoms(ctx, datomic.EAVT, a, kw("person/name"))) {
			out = append(out, d.V)
		}
		return out
	}
	assert.Equal(t, []any{"v1"}, name(db1), "an old DB value is unaffected by later transactions")
	now := mustDB(t, c)
	assert.Empty(t, name(now))
	assert.Equal(t, []any{"v2"}, name(now.AsOf(r2.BasisAfter)))
	assert.Equal(t, []any{"v1"}, name(now.AsOf(r2.BasisAfter-1)), "a t between transactions")
	assert.Equal(t, []any{"v2"}, name(now.AsOf(r2.TxID())), "a tx id works as t")
	assert.Equal(t, r2.BasisAfter, now.AsOf(r2.BasisAfter).BasisT())
	assert.Empty(t, name(now.AsOf(r1.BasisBefore)))
	assert.Equal(t, []any{"v1"}, name(db1.AsOf(1<<40)), "as-of never goes past the value's basis")
	// An as-of value keeps the schema of the value it comes from (Datomic's
	// rule), while a value taken earlier has the schema of its own basis.
	_, ok, _ := now.AsOf(0).Attribute(ctx, kw("person/name"))
	assert.True(t, ok)
	assert.Empty(t, collect(t, now.AsOf(0).Datoms(ctx, datomic.AEVT, kw("person/name"))))
	_, ok, _ = New(Options{}).Snapshot().Attribute(ctx, kw("person/name"))
	assert.False(t, ok)
}

func TestConcurrentReadersAndWriter(t *testing.T) {
	c, _ := newTestConn(t, Options{})
	personSchema(t, c)
	ctx := context.Background()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for r := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				db, _ := c.DB(ctx)
				n := 0
				for _, err := range db.Datoms(ctx, datomic.AEVT, kw("person/age")) {
					if err != nil {
						t.Error(err)
						return
					}
					n++
				}
				// Each transaction adds one person with an age: a snapshot sees
				// exactly as many as its basis says.
				if want := int(db.BasisT()) - 1; n != want {
					t.Errorf("reader %d: %d ages at basis %d", r, n, db.BasisT())
					return
				}
				m := 0
				for _, err := range db.IndexRange(ctx, kw("person/age"), nil, nil) {
					if err != nil {
						t.Error(err)
						return
					}
					m++
				}
				if m != n {
					t.Errorf("reader %d: IndexRange %d, AEVT %d", r, m, n)
					return
				}
				for range c.TxRange(ctx, 0, 0) {
				}
				for range db.Datoms(ctx, datomic.AVET) {
				}
			}
		}()
	}
	for i := range 300 {
		ops := []datomic.Op{datomic.EntityMap{"person/name": fmt.Sprint(i), "person/age": int64(i)}}
		if i%50 == 0 {
			ops = append(ops, attrMap(fmt.Sprint("x/a", i), "long", "one"))
		}
		_, err := c.Transact(ctx, ops)
		require.NoError(t, err)
	}
	close(stop)
	wg.Wait()
}
