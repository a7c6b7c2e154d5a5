package mem

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/datomic"
)

// The model: entity -> attribute -> set of values (formatted), for the
// attributes of the random test.
type modelState map[int64]map[int64]map[string]any

func (m modelState) clone() modelState {
	out := make(modelState, len(m))
	for e, as := range m {
		out[e] = make(map[int64]map[string]any, len(as))
		for a, vs := range as {
			out[e][a] = make(map[string]any, len(vs))
			for k, v := range vs {
				out[e][a][k] = v
			}
		}
	}
	return out
}

func (m modelState) add(e, a int64, v any) {
	if m[e] == nil {
		m[e] = make(map[int64]map[string]any)
	}
	if m[e][a] == nil {
		m[e][a] = make(map[string]any)
	}
	m[e][a][datomic.FormatValue(v)] = v
}

func (m modelState) retract(e, a int64, v any) {
	delete(m[e][a], datomic.FormatValue(v))
	if len(m[e][a]) == 0 {
		delete(m[e], a)
	}
	if len(m[e]) == 0 {
		delete(m, e)
	}
}

func (m modelState) has(e, a int64, v any) bool {
	_, ok := m[e][a][datomic.FormatValue(v)]
	return ok
}

type modelAttr struct {
	id   int64
	kw   datomic.Keyword
	many bool
	ref  bool
	gen  func(r *rand.Rand, ents []int64) any
}

func datomKey(d datomic.Datom) string {
	return fmt.Sprintf("%d %d %s %t", d.E, d.A, datomic.FormatValue(d.V), d.Added)
}

// TestRandomAgainstModel runs random transactions (assertions,
// retractions, cas and retractEntity, with deliberate conflicts) and checks
// each report, the current state, as-of views and the log against a simple
// model of Datomic's rules.
func TestRandomAgainstModel(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	c, _ := newTestConn(t, Options{SharedCounter: true})
	ctx := context.Background()
	mustTx(t, c,
		attrMap("m/name", "string", "one"),
		attrMap("m/n", "long", "one"),
		attrMap("m/tags", "keyword", "many"),
		attrMap("m/refs", "ref", "many"),
		attrMap("m/best", "ref", "one"),
	)
	db := mustDB(t, c)
	pick := func(r *rand.Rand, ents []int64) int64 { return ents[r.IntN(len(ents))] }
	attrs := []*modelAttr{
		{kw: "m/name", gen: func(r *rand.Rand, _ []int64) any { return fmt.Sprint("s", r.IntN(6)) }},
		{kw: "m/n", gen: func(r *rand.Rand, _ []int64) any { return int64(r.IntN(6)) }},
		{kw: "m/tags", many: true, gen: func(r *rand.Rand, _ []int64) any { return datomic.Keyword(fmt.Sprint("t/", r.IntN(6))) }},
		{kw: "m/refs", many: true, ref: true, gen: func(r *rand.Rand, e []int64) any { return pick(r, e) }},
		{kw: "m/best", ref: true, gen: func(r *rand.Rand, e []int64) any { return pick(r, e) }},
	}
	byID := map[int64]*modelAttr{}
	for _, a := range attrs {
		id, ok, _ := db.Entid(ctx, a.kw)
		require.True(t, ok)
		a.id = id
		byID[id] = a
	}

	state := modelState{}
	var ents []int64
	history := map[int64]modelState{}
	var ts []int64
	rejected := 0
	for step := range 400 {
		var ops []datomic.Op
		nNew := 0
		if len(ents) < 5 || r.IntN(3) == 0 {
			nNew = 1 + r.IntN(3)
		}
		// New entities: plain values only, so the model can predict them.
		newVals := make([]map[*modelAttr]any, nNew)
		for i := range nNew {
			m := datomic.EntityMap{"db/id": datomic.TempID(fmt.Sprint("n", i))}
			newVals[i] = map[*modelAttr]any{}
			for _, a := range attrs[:3] {
				if r.IntN(2) == 0 {
					v := a.gen(r, ents)
					m[a.kw] = v
					newVals[i][a] = v
				}
			}
			if len(newVals[i]) == 0 {
				m["m/name"] = "fresh"
				newVals[i][attrs[0]] = "fresh"
			}
			ops = append(ops, m)
		}
		// Operations on existing entities, tracked by the model.
		type eav struct {
			e, a int64
			v    string
		}
		asserts := map[eav]any{}
		retracts := map[eav]any{}
		oneVal := map[[2]int64]string{}
		var wantErr []error
		addOp := func(e int64, a *modelAttr, v any) {
			k := eav{e, a.id, datomic.FormatValue(v)}
			if _, ok := retracts[k]; ok {
				wantErr = append(wantErr, datomic.ErrDatomsConflict)
			}
			if !a.many {
				if prev, ok := oneVal[[2]int64{e, a.id}]; ok && prev != k.v {
					wantErr = append(wantErr, datomic.ErrDatomsConflict)
				}
				oneVal[[2]int64{e, a.id}] = k.v
			}
			asserts[k] = v
		}
		retractOp := func(e int64, a *modelAttr, v any) {
			if !state.has(e, a.id, v) {
				return // retracting what is not there is a no-op
			}
			k := eav{e, a.id, datomic.FormatValue(v)}
			if _, ok := asserts[k]; ok {
				wantErr = append(wantErr, datomic.ErrDatomsConflict)
			}
			retracts[k] = v
		}
		if len(ents) > 0 {
			for range r.IntN(6) {
				e := pick(r, ents)
				a := attrs[r.IntN(len(attrs))]
				v := a.gen(r, ents)
				switch k := r.IntN(10); {
				case k < 5:
					ops = append(ops, datomic.Add{E: e, A: a.kw, V: v})
					addOp(e, a, v)
				case k < 8:
					ops = append(ops, datomic.Retract{E: e, A: a.kw, V: v})
					// Earlier retractions seen by later adds are detected either way.
					retractOp(e, a, v)
					if k := (eav{e, a.id, datomic.FormatValue(v)}); asserts[k] != nil && state.has(e, a.id, v) {
						wantErr = append(wantErr, datomic.ErrDatomsConflict)
					}
				case k < 9 && !a.many:
					var old any
					for _, x := range state[e][a.id] {
						old = x
					}
					if r.IntN(3) == 0 {
						old = a.gen(r, ents)
					}
					ops = append(ops, datomic.CAS{E: e, A: a.kw, Old: old, New: v})
					cur, has := any(nil), false
					for _, x := range state[e][a.id] {
						cur, has = x, true
					}
					if (old == nil) != !has || (has && datomic.FormatValue(cur) != datomic.FormatValue(old)) {
						wantErr = append(wantErr, datomic.ErrCASFailed)
					}
					addOp(e, a, v)
				case k == 9:
					ops = append(ops, datomic.RetractEntity{E: e})
					for aid, vs := range state[e] {
						for _, x := range vs {
							retractOp(e, byID[aid], x)
						}
					}
					for e2, as := range state {
						for aid, vs := range as {
							if byID[aid].ref {
								for _, x := range vs {
									if x.(int64) == e {
										retractOp(e2, byID[aid], x)
									}
								}
							}
						}
					}
				}
			}
		}

		before := c.Stats()
		rep, err := c.Transact(ctx, ops)
		if len(wantErr) > 0 {
			require.Error(t, err, "step %d: %v", step, ops)
			ok := false
			for _, w := range wantErr {
				ok = ok || errors.Is(err, w)
			}
			require.True(t, ok, "step %d: got %v, want one of %v", step, err, wantErr)
			require.Equal(t, before, c.Stats())
			rejected++
			continue
		}
		require.NoError(t, err, "step %d: %v", step, ops)

		// Expected datoms.
		want := map[string]bool{}
		next := state.clone()
		for k, v := range retracts {
			want[datomKey(datomic.Datom{E: k.e, A: k.a, V: v, Tx: rep.TxID()})] = true
			next.retract(k.e, k.a, v)
		}
		for k, v := range asserts {
			a := byID[k.a]
			if state.has(k.e, k.a, v) {
				continue
			}
			if !a.many {
				for _, old := range state[k.e][k.a] {
					want[datomKey(datomic.Datom{E: k.e, A: k.a, V: old, Tx: rep.TxID()})] = true
					next.retract(k.e, k.a, old)
				}
			}
			want[datomKey(datomic.Datom{E: k.e, A: k.a, V: v, Tx: rep.TxID(), Added: true})] = true
			next.add(k.e, k.a, v)
		}
		for i, vals := range newVals {
			e := rep.Tempids[datomic.TempID(fmt.Sprint("n", i))]
			require.NotZero(t, e)
			ents = append(ents, e)
			for a, v := range vals {
				want[datomKey(datomic.Datom{E: e, A: a.id, V: v, Tx: rep.TxID(), Added: true})] = true
				next.add(e, a.id, v)
			}
		}
		got := map[string]bool{}
		for _, d := range userDatoms(rep.TxData) {
			k := datomKey(d)
			require.False(t, got[k], "step %d: duplicate datom %s", step, d)
			got[k] = true
		}
		require.Equal(t, want, got, "step %d: %v", step, ops)
		state = next
		history[rep.BasisAfter] = state.clone()
		ts = append(ts, rep.BasisAfter)
		require.Equal(t, state, engineState(t, c.Snapshot(), byID), "step %d", step)
	}

	require.Greater(t, rejected, 20, "the workload exercises rejections")
	require.Greater(t, len(ts), 200, "and successes")

	// As-of views match the model's history.
	now := c.Snapshot()
	for range 30 {
		tt := ts[r.IntN(len(ts))]
		require.Equal(t, history[tt], engineState(t, now.AsOf(tt), byID), "as of %d", tt)
	}
	// Replaying the log reproduces the state.
	replay := modelState{}
	for tx, err := range c.TxRange(ctx, 0, 0) {
		require.NoError(t, err)
		for _, d := range tx.Datoms {
			if byID[d.A] == nil {
				continue
			}
			if d.Added {
				replay.add(d.E, d.A, d.V)
			} else {
				require.True(t, replay.has(d.E, d.A, d.V), "log retracts a datom that is not there: %s", d)
				replay.retract(d.E, d.A, d.V)
			}
		}
	}
	require.Equal(t, state, replay)
}

// engineState reads the model attributes of every entity from db.
func engineState(t *testing.T, db datomic.DB, byID map[int64]*modelAttr) modelState {
	t.Helper()
	out := modelState{}
	ids := make([]int64, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, a := range ids {
		for d, err := range db.Datoms(context.Background(), datomic.AEVT, a) {
			require.NoError(t, err)
			out.add(d.E, d.A, d.V)
		}
	}
	return out
}
