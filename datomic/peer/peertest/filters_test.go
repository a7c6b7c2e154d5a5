package peertest

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/internal/transit"
)

// history makes a small database: an attribute, then three transactions
// one minute apart that each set :p/name of one entity and add a friend.
// It returns the entity and the instants and t of the three.
func history(t *testing.T, m mode) (e int64, insts []time.Time, ts []int64) {
	t.Helper()
	ctx := context.Background()
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond)
	_, err := m.mem.Transact(ctx, []datomic.Op{
		datomic.Add{E: datomic.TxTempID, A: kw("db/txInstant"), V: base.Add(-time.Minute)},
		datomic.EntityMap{"db/ident": kw("p/name"), "db/valueType": kw("db.type/string"),
			"db/cardinality": kw("db.cardinality/one"), "db/unique": kw("db.unique/identity")},
		datomic.EntityMap{"db/ident": kw("p/friend"), "db/valueType": kw("db.type/ref"),
			"db/cardinality": kw("db.cardinality/many")},
	})
	require.NoError(t, err)
	for i, name := range []string{"a", "b", "c"} {
		inst := base.Add(time.Duration(i) * time.Minute)
		var id any = datomic.TempID("e")
		if e != 0 {
			id = e
		}
		rep, err := m.mem.Transact(ctx, []datomic.Op{
			datomic.Add{E: datomic.TxTempID, A: kw("db/txInstant"), V: inst},
			datomic.EntityMap{"db/id": datomic.TempID("f"), "p/name": "friend-" + name},
			datomic.EntityMap{"db/id": id, "p/name": name, "p/friend": datomic.TempID("f")},
		})
		require.NoError(t, err)
		if e == 0 {
			e = rep.Tempids["e"]
		}
		insts = append(insts, inst)
		ts = append(ts, rep.BasisAfter)
	}
	return e, insts, ts
}

type kw = datomic.Keyword

// TestSinceAndHistoryAreRefused: a datoms request with :since or
// :history, which the engine cannot apply, is refused instead of answered
// as if the filter were absent.
func TestSinceAndHistoryAreRefused(t *testing.T) {
	bothModes(t, func(t *testing.T, m mode) {
		history(t, m)
		datoms := func(extra ...transit.KV) (int, any) {
			req := append(transit.Map{kv(kwOp, kw("datoms")), kv(kwIndex, kw("aevt")), kv("a", kw("p/name"))}, m.context()...)
			return m.send(t, "datoms", append(req, extra...))
		}
		status, v := datoms(kv(kwSince, int64(1)))
		assert.Equal(t, http.StatusBadRequest, status)
		assert.Equal(t, kw("cognitect.anomalies/unsupported"), category(v))
		for _, k := range []datomic.Keyword{kwHistory, kwHistoryQ} {
			status, v = datoms(kv(k, true))
			assert.Equal(t, http.StatusBadRequest, status, "%v", k)
			assert.Equal(t, kw("cognitect.anomalies/unsupported"), category(v), "%v", k)
		}
		assert.Len(t, m.data(t, "datoms", append(transit.Map{kv(kwOp, kw("datoms")), kv(kwIndex, kw("aevt")), kv("a", kw("p/name")), kv(kwHistory, false)}, m.context()...)), 4, ":history false: the current names of the entity and its 3 friends")
	})
}

// TestAsOfInstant: :as-of may be an instant, as in Datomic.
func TestAsOfInstant(t *testing.T) {
	bothModes(t, func(t *testing.T, m mode) {
		e, insts, _ := history(t, m)
		req := append(transit.Map{kv(kwOp, kw("datoms")), kv(kwIndex, kw("eavt")), kv("e", e), kv("a", kw("p/name")),
			kv(kwAsOf, insts[1].Add(30*time.Second))}, m.context()...)
		got := m.data(t, "datoms", req)
		require.Len(t, got, 1)
		assert.Equal(t, "b", got[0].(datomic.Datom).V)
	})
}

// TestTxRangeInstants: tx-range takes :start and :end as instants (the
// first transaction at or after each), as Datomic's log does.
func TestTxRangeInstants(t *testing.T) {
	bothModes(t, func(t *testing.T, m mode) {
		_, insts, ts := history(t, m)
		txRange := func(start, end any) []any {
			req := append(transit.Map{kv(kwOp, kw("tx-range")), kv(kwLimit, int64(-1))}, m.context()...)
			if start != nil {
				req = append(req, kv(kwStart, start))
			}
			if end != nil {
				req = append(req, kv(kwEnd, end))
			}
			return m.data(t, "tx-range", req)
		}
		tOf := func(xs []any) []int64 {
			var out []int64
			for _, x := range xs {
				tv, _ := x.(transit.Map).Get(kwT)
				out = append(out, tv.(int64))
			}
			return out
		}
		assert.Equal(t, ts[1:2], tOf(txRange(insts[1], insts[2])), "[second, third)")
		assert.Equal(t, ts[1:], tOf(txRange(insts[0].Add(time.Millisecond), nil)), "from just after the first")
		assert.Equal(t, ts[:2], tOf(txRange(insts[0], insts[2].Add(-time.Millisecond))))
		assert.Empty(t, tOf(txRange(insts[2].Add(time.Second), nil)), "after the last: nothing")
		assert.Equal(t, ts[2:], tOf(txRange(insts[2], insts[2].Add(time.Hour))), "an end after the last: no bound")
		assert.Equal(t, ts[1:2], tOf(txRange(ts[1], insts[2])), "a t and an instant")
	})
}

// TestDatomsLookupRefs: a datoms component in an entity position (and the
// value of a ref attribute) takes a lookup ref, as Datomic's does.
func TestDatomsLookupRefs(t *testing.T) {
	bothModes(t, func(t *testing.T, m mode) {
		e, _, _ := history(t, m)
		ref := []any{kw("p/name"), "c"}
		datoms := func(index string, comps ...any) []any {
			req := append(transit.Map{kv(kwOp, kw("datoms")), kv(kwIndex, kw(index)), kv(kwComponents, comps)}, m.context()...)
			return m.data(t, "datoms", req)
		}
		got := datoms("eavt", ref, kw("p/name"))
		require.Len(t, got, 1)
		assert.Equal(t, e, got[0].(datomic.Datom).E)

		friends := datoms("eavt", ref, kw("p/friend"))
		require.Len(t, friends, 3)
		friendRef := []any{kw("p/name"), "friend-a"}
		named := datoms("avet", kw("p/name"), "friend-a")
		require.Len(t, named, 1)
		f := named[0].(datomic.Datom).E
		back := datoms("vaet", friendRef, kw("p/friend"))
		require.Len(t, back, 1, "VAET by the referenced entity's lookup ref")
		assert.Equal(t, e, back[0].(datomic.Datom).E)
		avet := datoms("avet", kw("p/friend"), friendRef)
		require.Len(t, avet, 1, "AVET with a ref value given as a lookup ref")
		assert.Equal(t, f, avet[0].(datomic.Datom).V)
		// The :e/:a/:v form of the official client.
		req := append(transit.Map{kv(kwOp, kw("datoms")), kv(kwIndex, kw("eavt")), kv("e", ref)}, m.context()...)
		assert.Len(t, m.data(t, "datoms", req), 4)
		// A lookup ref that names nothing finds nothing.
		assert.Empty(t, datoms("eavt", []any{kw("p/name"), "nobody"}))
	})
}
