package mem

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/datomic"
)

// logDatomsOf returns the datoms of the whole log whose entity or value is e.
func logDatomsOf(t *testing.T, c *Conn, e int64) []datomic.Datom {
	t.Helper()
	var out []datomic.Datom
	for _, tx := range logTxs(t, c) {
		for _, d := range tx.Datoms {
			if v, ok := d.V.(int64); d.E == e || ok && v == e && d.A != 50 {
				out = append(out, d)
			}
		}
	}
	return out
}

func allDatoms(t *testing.T, db datomic.DB, index datomic.Index, comps ...any) []datomic.Datom {
	t.Helper()
	var out []datomic.Datom
	for d, err := range db.Datoms(context.Background(), index, comps...) {
		require.NoError(t, err)
		out = append(out, d)
	}
	return out
}

// TestExciseEntity: {:db/excise e} removes, from every database value and
// from the log, every datom of e, every datom referring to e and every
// datom of e's component entities, of earlier transactions. The request's
// own datoms stay, and so does e's :db/ident (a bootstrap attribute).
func TestExciseEntity(t *testing.T) {
	ctx := context.Background()
	c, _ := newTestConn(t, Options{})
	personSchema(t, c)
	rep := mustTx(t, c,
		datomic.EntityMap{"db/id": datomic.TempID("lee"), "db/ident": kw("lee"), "person/name": "Lee", "person/age": int64(30),
			"db/doc": "secret", "person/address": datomic.EntityMap{"address/street": "Main St"}},
		datomic.EntityMap{"db/id": datomic.TempID("kim"), "person/name": "Kim", "person/friend": datomic.TempID("lee")})
	lee, kim := rep.Tempids["lee"], rep.Tempids["kim"]
	addr := current(t, c, lee, "person/address")[0].(int64)
	mustTx(t, c, datomic.Add{E: lee, A: kw("person/name"), V: "Leo"}) // a history: John -> Jack
	onlyLee := mustTx(t, c, datomic.Add{E: lee, A: kw("person/age"), V: int64(31)})
	before := mustDB(t, c)
	txsBefore := len(logTxs(t, c))

	rep = mustTx(t, c, datomic.EntityMap{"db/id": datomic.TempID("x"), "db/excise": lee})
	req := rep.Tempids["x"]
	assert.Equal(t, []datomic.Datom{{E: req, A: entid(t, c, "db/excise"), V: lee, Tx: rep.TxID(), Added: true}}, userDatoms(rep.TxData))

	// The log: same transactions, without the excised datoms.
	txs := logTxs(t, c)
	require.Len(t, txs, txsBefore+1)
	var leeLog []datomic.Datom
	for _, d := range logDatomsOf(t, c, lee) {
		if d.E != req {
			leeLog = append(leeLog, d)
		}
	}
	assert.Equal(t, []datomic.Datom{{E: lee, A: entid(t, c, "db/ident"), V: kw("lee"), Tx: leeLog[0].Tx, Added: true}}, leeLog,
		"only the ident is left")
	assert.Empty(t, logDatomsOf(t, c, addr), "the component entity is gone")
	for _, tx := range txs {
		if tx.T == datomic.ToT(onlyLee.TxID()) {
			assert.Len(t, tx.Datoms, 1, "a transaction whose datoms are all excised keeps its instant")
			assert.Equal(t, int64(50), tx.Datoms[0].A)
		}
	}
	// Every database value, the older one too.
	for i, db := range []datomic.DB{mustDB(t, c), before, before.AsOf(onlyLee.TxID())} {
		assert.Len(t, allDatoms(t, db, datomic.EAVT, lee), 1, "only :db/ident")
		assert.Empty(t, allDatoms(t, db, datomic.EAVT, addr))
		refs := []int64{}
		if i == 0 {
			refs = []int64{req}
		}
		assert.Equal(t, refs, entitiesOf(allDatoms(t, db, datomic.VAET, lee)), "no reference to lee but the request")
		assert.Empty(t, allDatoms(t, db, datomic.AVET, kw("person/name"), "Leo"))
		assert.Equal(t, []datomic.Datom{}, append([]datomic.Datom{}, filterE(allDatoms(t, db, datomic.AEVT, kw("person/age")), lee)...))
	}
	assert.Equal(t, []any{"Kim"}, current(t, c, kim, "person/name"), "other data stays")
	var names []any
	for d, err := range mustDB(t, c).IndexRange(ctx, kw("person/name"), nil, nil) {
		require.NoError(t, err)
		names = append(names, d.V)
	}
	assert.Equal(t, []any{"Kim"}, names)

	// The request is a permanent record: excising it excises nothing.
	rep = mustTx(t, c, datomic.EntityMap{"db/excise": req})
	assert.Len(t, allDatoms(t, mustDB(t, c), datomic.EAVT, req), 1)
}

func entitiesOf(ds []datomic.Datom) []int64 {
	out := []int64{}
	for _, d := range ds {
		out = append(out, d.E)
	}
	return out
}

func filterE(ds []datomic.Datom, e int64) []datomic.Datom {
	var out []datomic.Datom
	for _, d := range ds {
		if d.E == e {
			out = append(out, d)
		}
	}
	return out
}

// TestExciseAttributeBeforeT: {:db/excise :attr :db.excise/beforeT t}
// removes the attribute's datoms of transactions before t, assertions and
// retractions alike; a retraction at or after t of a value asserted before
// stays in the log, as on Datomic.
func TestExciseAttributeBeforeT(t *testing.T) {
	for _, shared := range []bool{false, true} {
		c, _ := newTestConn(t, Options{SharedCounter: shared})
		personSchema(t, c)
		rep := mustTx(t, c, datomic.EntityMap{"db/id": datomic.TempID("p"), "person/name": "original", "person/age": int64(1)})
		p := rep.Tempids["p"]
		mustTx(t, c, datomic.Add{E: p, A: kw("person/name"), V: "bad"})
		good := mustTx(t, c, datomic.Add{E: p, A: kw("person/name"), V: "good"})
		name := entid(t, c, "person/name")

		rep = mustTx(t, c, datomic.EntityMap{"db/excise": name, "db.excise/beforeT": datomic.ToT(good.TxID())})
		var hist []datomic.Datom
		for _, tx := range logTxs(t, c) {
			for _, d := range tx.Datoms {
				if d.A == name && d.E == p {
					hist = append(hist, d)
				}
			}
		}
		assert.Equal(t, []datomic.Datom{
			{E: p, A: name, V: "bad", Tx: good.TxID(), Added: false},
			{E: p, A: name, V: "good", Tx: good.TxID(), Added: true},
		}, hist, "shared=%v: the retraction of \"bad\" stays, its assertion goes", shared)
		assert.Equal(t, []any{"good"}, current(t, c, p, "person/name"))
		assert.Equal(t, []any{int64(1)}, current(t, c, p, "person/age"), "other attributes stay")
		assert.Empty(t, allDatoms(t, mustDB(t, c).AsOf(good.TxID()-1), datomic.EAVT, p, name))
	}
}

// TestExciseEntityAttrsAndBefore: :db.excise/attrs limits an entity
// excision to some attributes; :db.excise/before limits it to datoms of
// transactions before an instant (the first transaction at the instant,
// or the t just below the first one after it).
func TestExciseEntityAttrsAndBefore(t *testing.T) {
	c, clk := newTestConn(t, Options{})
	at := func(s string) time.Time { tm, _ := time.Parse(time.RFC3339, s); return tm }
	clk.now = at("2023-01-01T00:00:00Z")
	personSchema(t, c)
	clk.now = at("2024-06-01T00:00:00Z")
	tx := func(inst string, ops ...datomic.Op) datomic.TxReport {
		return mustTx(t, c, append(ops, datomic.Add{E: datomic.TxTempID, A: kw("db/txInstant"), V: at(inst)})...)
	}
	rep := tx("2024-01-01T00:00:00Z", datomic.EntityMap{"db/id": datomic.TempID("p"), "person/name": "n1", "person/age": int64(1),
		"person/tags": []any{kw("a")}})
	p := rep.Tempids["p"]
	tx("2024-02-01T00:00:00Z", datomic.Add{E: p, A: kw("person/age"), V: int64(2)}, datomic.Add{E: p, A: kw("person/tags"), V: kw("b")})
	tx("2024-03-01T00:00:00Z", datomic.Add{E: p, A: kw("person/age"), V: int64(3)}, datomic.Add{E: p, A: kw("person/tags"), V: kw("c")})

	// Only :person/tags, only before March: a and b go, c stays.
	tx("2024-04-01T00:00:00Z", datomic.EntityMap{"db/excise": p, "db.excise/attrs": []any{kw("person/tags")},
		"db.excise/before": at("2024-03-01T00:00:00Z")})
	assert.Equal(t, []any{kw("c")}, current(t, c, p, "person/tags"))
	assert.Equal(t, []any{int64(3)}, current(t, c, p, "person/age"))
	assert.Len(t, history(t, c, p, "person/age"), 5, "ages untouched: 3 assertions, 2 retractions")

	// An instant between transactions: the limit is one below the t of
	// the first transaction after it, which here (consecutive t) is the
	// t of the February transaction itself: only January's datoms go.
	feb := history(t, c, p, "person/age")[1].Tx
	tx("2024-05-01T00:00:00Z", datomic.EntityMap{"db/excise": p, "db.excise/attrs": []any{kw("person/age")},
		"db.excise/before": at("2024-02-15T00:00:00Z")})
	age := entid(t, c, "person/age")
	h := history(t, c, p, "person/age")
	require.Len(t, h, 4)
	assert.Equal(t, datomic.Datom{E: p, A: age, V: int64(1), Tx: feb, Added: false}, h[0],
		"the first age's assertion is gone, its later retraction stays")
}

// history returns the log datoms of [e a].
func history(t *testing.T, c *Conn, e int64, a kw) []datomic.Datom {
	t.Helper()
	id := entid(t, c, a)
	var out []datomic.Datom
	for _, tx := range logTxs(t, c) {
		for _, d := range tx.Datoms {
			if d.E == e && d.A == id {
				out = append(out, d)
			}
		}
	}
	return out
}

// TestExciseKeepers: schema (entities of :db.part/db), :db/txInstant and
// the other bootstrap attributes are never excised; a transaction entity's
// annotations are.
func TestExciseKeepers(t *testing.T) {
	c, _ := newTestConn(t, Options{})
	personSchema(t, c)
	rep := mustTx(t, c, datomic.EntityMap{"person/name": "a"}, datomic.Add{E: datomic.TxTempID, A: kw("db/doc"), V: "why"})
	txE := rep.TxID()
	name := entid(t, c, "person/name")
	schemaBefore := allDatoms(t, mustDB(t, c), datomic.EAVT, name)

	mustTx(t, c, datomic.EntityMap{"db/excise": name}) // the attribute's values
	mustTx(t, c, datomic.EntityMap{"db/excise": txE})  // the transaction entity
	assert.Equal(t, schemaBefore, allDatoms(t, mustDB(t, c), datomic.EAVT, name), "the attribute's own datoms stay")
	txDatoms := allDatoms(t, mustDB(t, c), datomic.EAVT, txE)
	require.Len(t, txDatoms, 1)
	assert.Equal(t, int64(50), txDatoms[0].A, "the instant stays, the annotation goes")
	assert.Empty(t, allDatoms(t, mustDB(t, c), datomic.AEVT, name))
}

// TestExciseFreesUniqueValue: an excised unique value is no longer held.
func TestExciseFreesUniqueValue(t *testing.T) {
	c, _ := newTestConn(t, Options{})
	personSchema(t, c)
	rep := mustTx(t, c, datomic.EntityMap{"db/id": datomic.TempID("a"), "person/email": "a@x", "person/name": "a"})
	a := rep.Tempids["a"]
	facts := c.Stats().Facts
	mustTx(t, c, datomic.EntityMap{"db/excise": a})
	assert.Equal(t, facts, c.Stats().Facts, "two facts excised; the request and its instant added")
	rep = mustTx(t, c, datomic.EntityMap{"db/id": datomic.TempID("b"), "person/email": "a@x"})
	assert.NotEqual(t, a, rep.Tempids["b"], "no upsert into the excised entity")
}

// TestExciseWhileReading: readers streaming indexes and the log while
// excisions remove datoms never see an excised datom's value change under
// them, nor fail (run with -race).
func TestExciseWhileReading(t *testing.T) {
	c, _ := newTestConn(t, Options{})
	personSchema(t, c)
	ctx := context.Background()
	var ids []int64
	for i := range 200 {
		rep := mustTx(t, c, datomic.EntityMap{"db/id": datomic.TempID("p"), "person/name": "n", "person/age": int64(i), "person/tags": []any{kw("t")}})
		ids = append(ids, rep.Tempids["p"])
	}
	done := make(chan struct{})
	errs := make(chan error, 3)
	for range 3 {
		go func() {
			defer func() { errs <- nil }()
			for {
				select {
				case <-done:
					return
				default:
				}
				db, _ := c.DB(ctx)
				for d, err := range db.IndexRange(ctx, kw("person/age"), nil, nil) {
					if err != nil || d.V == nil {
						errs <- assert.AnError
						return
					}
				}
				for d, err := range db.Datoms(ctx, datomic.AEVT, kw("person/name")) {
					if err != nil || d.V == nil {
						errs <- assert.AnError
						return
					}
				}
				for tx, err := range c.TxRange(ctx, 0, 0) {
					if err != nil {
						errs <- err
						return
					}
					for _, d := range tx.Datoms {
						if d.V == nil {
							errs <- assert.AnError
							return
						}
					}
				}
			}
		}()
	}
	for i, e := range ids {
		if i%2 == 0 {
			mustTx(t, c, datomic.EntityMap{"db/excise": e})
		}
	}
	close(done)
	for range 3 {
		require.NoError(t, <-errs)
	}
	assert.Len(t, allDatoms(t, mustDB(t, c), datomic.AEVT, kw("person/age")), 100)
}
