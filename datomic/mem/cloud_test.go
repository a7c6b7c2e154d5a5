package mem

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/datomic"
)

func newCloudConn(t *testing.T) *Conn {
	t.Helper()
	c, _ := newTestConn(t, Options{Cloud: true})
	return c
}

// TestCloudBootstrapLog: a fresh Cloud-mode database's log holds the five
// bootstrap transactions, dated at the epoch, which install the built-in
// schema; user transactions follow at t 6, 7, 8.
func TestCloudBootstrapLog(t *testing.T) {
	ctx := context.Background()
	c := newCloudConn(t)
	txs := logTxs(t, c)
	require.Len(t, txs, CloudBootstrapTxs)
	db := mustDB(t, c)
	assert.Equal(t, int64(CloudBootstrapTxs), db.BasisT())
	assert.Equal(t, CloudBootstrapTxs, c.Stats().Transactions)
	txInstant, ok, err := db.Entid(ctx, "db/txInstant")
	require.NoError(t, err)
	require.True(t, ok)
	identAttr, _, _ := db.Entid(ctx, "db/ident")

	installed := map[kw]int64{}
	total := 0
	for i, tx := range txs {
		require.Equal(t, int64(i+1), tx.T)
		require.NotEmpty(t, tx.Datoms)
		first := tx.Datoms[0]
		assert.Equal(t, datomic.Datom{E: tx.ID(), A: txInstant, V: time.Unix(0, 0).UTC(), Tx: tx.ID(), Added: true}, first,
			"transaction %d is dated at the epoch", tx.T)
		for _, d := range tx.Datoms {
			assert.Equal(t, tx.ID(), d.Tx)
			if d.A == identAttr {
				installed[d.V.(kw)] = tx.T
			}
		}
		total += len(tx.Datoms)
	}
	assert.Equal(t, c.Stats().Datoms, total, "every bootstrap datom is in the log")
	for _, k := range []kw{"db/ident", "db/txInstant", "db/valueType", "db.type/string", "db.part/user"} {
		assert.Equal(t, int64(1), installed[k], "%s in the first transaction", k)
	}
	assert.Equal(t, int64(3), installed["db/tupleAttrs"])
	for k, tx := range installed {
		assert.GreaterOrEqual(t, tx, int64(1), "%s", k)
	}

	// The schema is usable, and user transactions have gap-free t from 6.
	personSchema(t, c)
	for want := int64(7); want <= 9; want++ {
		rep := mustTx(t, c, datomic.EntityMap{"person/name": "x"})
		assert.Equal(t, want, rep.BasisAfter)
		assert.Equal(t, want-1, rep.BasisBefore)
	}
	txs = logTxs(t, c)
	for i, tx := range txs {
		assert.Equal(t, int64(i+1), tx.T, "no gaps")
	}
	// A user transaction's instant is the clock's, after the epoch ones.
	last := txs[len(txs)-1]
	assert.Equal(t, time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC), last.Datoms[0].V)

	// An explicit instant may be anything from the epoch on.
	c2 := newCloudConn(t)
	rep, err := c2.Transact(ctx, []datomic.Op{datomic.Add{E: datomic.TxTempID, A: kw("db/txInstant"), V: time.Unix(0, 0).UTC()}})
	require.NoError(t, err)
	assert.Equal(t, int64(6), rep.BasisAfter)
}

// TestCloudEntityIDs: new entities are spread over many partitions, none
// of them :db.part/user, with ids unique across partitions; schema stays
// in :db.part/db; the ids work everywhere an entity id is taken.
func TestCloudEntityIDs(t *testing.T) {
	ctx := context.Background()
	c := newCloudConn(t)
	personSchema(t, c)
	db := mustDB(t, c)
	name, _, err := db.Entid(ctx, "person/name")
	require.NoError(t, err)
	assert.Equal(t, datomic.PartDB, datomic.Part(name))

	ops := make([]datomic.Op, 0, 500)
	for i := range 500 {
		ops = append(ops, datomic.EntityMap{"db/id": datomic.TempID(strconv.Itoa(i)), "person/email": strconv.Itoa(i) + "@x"})
	}
	rep := mustTx(t, c, ops...)
	parts := map[int64]int{}
	counters := map[int64]bool{}
	for tmp, id := range rep.Tempids {
		if tmp == datomic.TxTempID {
			continue
		}
		p := datomic.Part(id)
		assert.NotEqual(t, datomic.PartUser, p)
		assert.NotEqual(t, datomic.PartDB, p)
		assert.NotEqual(t, datomic.PartTx, p)
		parts[p]++
		n := id &^ (p << datomic.PartShift)
		assert.False(t, counters[n], "counter %d used twice", n)
		counters[n] = true
	}
	assert.Greater(t, len(parts), 200, "500 entities over many partitions")
	for _, n := range parts {
		assert.Less(t, n, 10, "no partition takes a large share")
	}

	// The ids are valid entity ids: as entity, as ref value, in lookups.
	a, b := rep.Tempids["1"], rep.Tempids["2"]
	mustTx(t, c,
		datomic.Add{E: a, A: kw("person/friend"), V: b},
		datomic.Add{E: b, A: kw("person/name"), V: "Bee"},
	)
	assert.Equal(t, []any{b}, current(t, c, a, "person/friend"))
	assert.Equal(t, []any{"Bee"}, current(t, c, b, "person/name"))
	found := 0
	for d, err := range mustDB(t, c).Datoms(ctx, datomic.EAVT, datomic.LookupRef{A: kw("person/email"), V: "2@x"}) {
		require.NoError(t, err)
		assert.Equal(t, b, d.E)
		found++
	}
	assert.Equal(t, 2, found, "the email and name of the entity the lookup ref names")
	mustTx(t, c, datomic.RetractEntity{E: b})
	assert.Empty(t, current(t, c, a, "person/friend"))

	// An id in an auto partition that was never given out is refused.
	unused := datomic.EntityID(datomic.Part(a), 1<<40)
	_, err = c.Transact(ctx, []datomic.Op{datomic.Add{E: unused, A: kw("person/name"), V: "x"}})
	assert.ErrorIs(t, err, datomic.ErrInvalidEntityID)
}

// TestCloudRefusals: what Datomic Cloud does not support is refused with a
// Datomic-like error that wraps ErrCloudRefused, and changes nothing.
func TestCloudRefusals(t *testing.T) {
	ctx := context.Background()
	c := newCloudConn(t)
	personSchema(t, c)
	tupleSchema(t, c)
	mustTx(t, c,
		attrMap("s/pair", "tuple", "one", "db/tupleTypes", datomic.Tuple{kw("db.type/string"), kw("db.type/long")}),
		attrMap("s/a", "string", "one"), attrMap("s/b", "string", "one"),
	)
	mustTx(t, c, attrMap("s/a+b", "tuple", "one", "db/tupleAttrs", []any{kw("s/a"), kw("s/b")}))
	person := mustTx(t, c, datomic.EntityMap{"db/id": datomic.TempID("p"), "person/name": "P"}).Tempids["p"]

	long := strings.Repeat("x", CloudMaxStringLen+1)
	astral := strings.Repeat("\U0001F600", CloudMaxStringLen/2) // 2 UTF-16 units each
	cases := map[string]struct {
		ops  []datomic.Op
		want error
	}{
		"bytes attribute":    {[]datomic.Op{attrMap("x/bytes", "bytes", "one")}, datomic.ErrNotAnEntity},
		"fn attribute":       {[]datomic.Op{attrMap("x/fn", "fn", "one")}, datomic.ErrNotAnEntity},
		"fulltext attribute": {[]datomic.Op{attrMap("x/text", "string", "one", "db/fulltext", true)}, datomic.ErrNotAnAttribute},
		"fulltext by id": {[]datomic.Op{datomic.EntityMap{"db/ident": kw("x/t"), "db/valueType": kw("db.type/string"),
			"db/cardinality": kw("db.cardinality/one"), "db/fulltext": true}}, datomic.ErrNotAnAttribute},
		"bytes by id": {[]datomic.Op{datomic.EntityMap{"db/ident": kw("x/b"), "db/valueType": c.sys.typeIDs[datomic.TypeBytes],
			"db/cardinality": kw("db.cardinality/one")}}, datomic.ErrNotAnEntity},
		"fulltext alteration": {[]datomic.Op{datomic.Add{E: kw("person/name"), A: kw("db/fulltext"), V: true}}, datomic.ErrNotAnAttribute},
		"force partition": {[]datomic.Op{datomic.EntityMap{"db/id": datomic.TempID("x"), "person/name": "x"},
			datomic.ForcePartition{"x": kw("db.part/user")}}, datomic.ErrNotAnAttribute},
		"named partition": {[]datomic.Op{datomic.EntityMap{"db/id": datomic.TempID("p"), "db/ident": kw("people"),
			"db.install/_partition": kw("db.part/db")}}, datomic.ErrInvalidOp},
		"excise map":       {[]datomic.Op{datomic.EntityMap{"db/excise": person}}, datomic.ErrNotAnAttribute},
		"excise list form": {[]datomic.Op{datomic.Add{E: datomic.TempID("e"), A: kw("db/excise"), V: person}}, datomic.ErrNotAnAttribute},
		"excise attrs nested": {[]datomic.Op{datomic.EntityMap{"person/name": "y",
			"person/address": datomic.EntityMap{"db.excise/beforeT": int64(3)}}}, datomic.ErrNotAnAttribute},
		"long string":       {[]datomic.Op{datomic.Add{E: person, A: kw("person/name"), V: long}}, datomic.ErrIncorrect},
		"astral string":     {[]datomic.Op{datomic.Add{E: person, A: kw("person/name"), V: astral + "x"}}, datomic.ErrIncorrect},
		"long tuple string": {[]datomic.Op{datomic.Add{E: person, A: kw("s/pair"), V: datomic.Tuple{strings.Repeat("y", 257), int64(1)}}}, datomic.ErrIncorrect},
		"long composite":    {[]datomic.Op{datomic.EntityMap{"s/a": strings.Repeat("a", 300), "s/b": "b"}}, datomic.ErrIncorrect},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			before := c.Stats()
			_, err := c.Transact(ctx, tc.ops)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrCloudRefused)
			assert.ErrorIs(t, err, tc.want)
			var de *datomic.Error
			require.True(t, errors.As(err, &de))
			assert.Contains(t, de.Message, "Datomic Cloud")
			assert.Equal(t, before, c.Stats(), "nothing changed")
		})
	}

	// At the limits, accepted.
	mustTx(t, c,
		datomic.Add{E: person, A: kw("person/name"), V: strings.Repeat("x", CloudMaxStringLen)},
		datomic.Add{E: person, A: kw("s/pair"), V: datomic.Tuple{strings.Repeat("y", CloudMaxTupleStringLen), int64(1)}},
	)
	mustTx(t, c, datomic.Add{E: person, A: kw("person/name"), V: astral})
	mustTx(t, c, datomic.EntityMap{"s/a": strings.Repeat("a", 256), "s/b": strings.Repeat("b", 256)})

	// The same transactions are fine on Datomic Pro.
	pro, _ := newTestConn(t, Options{})
	personSchema(t, pro)
	mustTx(t, pro, attrMap("x/bytes", "bytes", "one"), attrMap("x/text", "string", "one", "db/fulltext", true))
	mustTx(t, pro, datomic.EntityMap{"person/name": long})
}

func TestCloudLimits(t *testing.T) {
	ctx := context.Background()
	l, err := newCloudConn(t).Limits(ctx)
	require.NoError(t, err)
	assert.Equal(t, datomic.Limits{
		Product: "Datomic Cloud", NoPartitions: true, NoExcision: true, NoBytes: true, NoFulltext: true,
		NoFunctions: true, MaxStringLen: 4096, MaxTupleStringLen: 256, BootstrapTxs: 5,
	}, l)
	var limited datomic.Limited = New(Options{})
	l, err = limited.Limits(ctx)
	require.NoError(t, err)
	assert.Equal(t, datomic.Limits{}, l, "Datomic Pro: no limits")

	assert.Panics(t, func() { New(Options{Cloud: true, SharedCounter: true}) })
}

func TestCloudStringLen(t *testing.T) {
	for s, want := range map[string]int{"": 0, "abc": 3, "é": 1, "\U0001F600": 2, "a\xffb": 3} {
		assert.Equal(t, want, CloudStringLen(s), "%q", s)
	}
}
