package mem

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/datomic"
)

// TestMalformedTransactions throws random, mostly malformed operations at
// the engine: it must never panic, must answer a *datomic.Error for each
// rejection, and must leave the database unchanged when it rejects.
func TestMalformedTransactions(t *testing.T) {
	c, _ := newTestConn(t, Options{})
	personSchema(t, c)
	tupleSchema(t, c)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(9, 9))
	a := mustTx(t, c, datomic.EntityMap{"db/id": datomic.TempID("a"), "person/email": "a@x"}).Tempids["a"]
	vals := []any{nil, int64(0), int64(-1), a, int64(1) << 50, 3, 2.5, float32(1), "s", "a@x", true,
		kw("person/name"), kw("kind/human"), kw("no/such"), kw("db.type/string"), kw("db.cardinality/many"),
		kw("db.part/db"), kw("db/ident"), kw("db/valueType"),
		datomic.TempID("t1"), datomic.TempID("t2"), datomic.TxTempID, datomic.TempID(""),
		datomic.LookupRef{A: kw("person/email"), V: "a@x"}, datomic.LookupRef{A: kw("person/name"), V: 1},
		datomic.LookupRef{}, datomic.Tuple{}, datomic.Tuple{int64(1), int64(2)}, datomic.Tuple{nil, nil},
		[]any{int64(1), "x"}, []any{}, datomic.EntityMap{}, datomic.EntityMap{"person/email": "n@x"},
		datomic.EntityMap{"db/id": 2.5}, datomic.EntityMap{"person/_friend": "x"},
		time.Unix(0, 0), time.Now().Add(time.Hour), big.NewInt(5), datomic.BigDec{}, []byte{1},
		datomic.UUID{1}, datomic.URI("u"), datomic.Symbol("s"),
	}
	pick := func() any { return vals[r.IntN(len(vals))] }
	attrs := []any{kw("person/name"), kw("person/age"), kw("person/friend"), kw("person/spouse"), kw("person/email"),
		kw("person/tags"), kw("person/address"), kw("db/ident"), kw("db/valueType"), kw("db/cardinality"),
		kw("db/unique"), kw("db/txInstant"), kw("db/tupleType"), kw("db.install/attribute"), kw("reg/course+student"),
		kw("pt/xy"), kw("pt/labelled"), int64(10), int64(1), "person/name", nil}
	pickA := func() any { return attrs[r.IntN(len(attrs))] }
	// Well-typed values half of the time, so that many transactions pass.
	good := map[any][]any{
		kw("person/name"): {"n1", "n2"}, kw("person/age"): {int64(1), int64(2)},
		kw("person/friend"): {a, datomic.TempID("t1"), kw("kind/human")}, kw("person/spouse"): {a, datomic.TempID("t2")},
		kw("person/email"): {"a@x", "b@x"}, kw("person/tags"): {kw("x"), kw("y")},
		kw("pt/xy"): {datomic.Tuple{int64(1), int64(2)}}, kw("db/ident"): {kw("new/one"), kw("new/two")},
	}
	pickV := func(attr any) any {
		if g := good[attr]; len(g) > 0 && r.IntN(2) == 0 {
			return g[r.IntN(len(g))]
		}
		return pick()
	}
	pickE := func() any {
		if r.IntN(2) == 0 {
			return []any{a, datomic.TempID("t1"), datomic.TempID("t2")}[r.IntN(3)]
		}
		return pick()
	}
	ok, rejected := 0, 0
	for step := range 3000 {
		var ops []datomic.Op
		for range 1 + r.IntN(3) {
			switch k := r.IntN(20); {
			case k < 6:
				at := pickA()
				ops = append(ops, datomic.Add{E: pickE(), A: at, V: pickV(at)})
			case k < 9:
				at := pickA()
				ops = append(ops, datomic.Retract{E: pickE(), A: at, V: pickV(at)})
			case k < 11:
				at := pickA()
				ops = append(ops, datomic.CAS{E: pickE(), A: at, Old: pickV(at), New: pickV(at)})
			case k < 12:
				ops = append(ops, datomic.RetractEntity{E: pickE()})
			case k < 19:
				m := datomic.EntityMap{}
				for range 1 + r.IntN(3) {
					at := pickA()
					if k, isKw := at.(datomic.Keyword); isKw {
						m[k] = pickV(at)
					}
				}
				if r.IntN(2) == 0 {
					m["db/id"] = pickE()
				}
				ops = append(ops, m)
			default:
				ops = append(ops, nil)
			}
		}
		before := c.Stats()
		var err error
		require.NotPanics(t, func() { _, err = c.Transact(ctx, ops) }, "step %d: %#v", step, ops)
		if err != nil {
			var de *datomic.Error
			require.True(t, errors.As(err, &de), "step %d: %v is a *datomic.Error", step, err)
			require.Equal(t, before, c.Stats(), "step %d: %v", step, err)
			rejected++
			continue
		}
		ok++
	}
	require.Positive(t, ok)
	require.Positive(t, rejected)
	// The database still works and reads back.
	db := mustDB(t, c)
	for _, idx := range []datomic.Index{datomic.EAVT, datomic.AEVT, datomic.AVET, datomic.VAET} {
		for _, err := range db.Datoms(ctx, idx) {
			require.NoError(t, err)
		}
	}
	t.Log(fmt.Sprintf("%d accepted, %d rejected", ok, rejected))
}
