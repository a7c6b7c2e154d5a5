package histgen

import (
	"context"
	"fmt"
	"time"

	"github.com/dcbackup/dcbackup/datomic"
)

// randomTx builds one random transaction.
func (g *gen) randomTx(ctx context.Context) []datomic.Op {
	var ops []datomic.Op
	n := 1 + g.rnd.IntN(g.cfg.MaxOps)
	for len(ops) < n {
		ops = append(ops, g.randomOps(ctx)...)
	}
	if g.rnd.IntN(4) == 0 {
		ops = append(ops, datomic.Add{E: datomic.TxTempID, A: g.ids["audit/user"], V: fmt.Sprintf("user%d", g.rnd.IntN(5))})
	}
	if g.rnd.IntN(5) == 0 && len(g.txs) > 0 {
		ops = append(ops, datomic.Add{E: datomic.TxTempID, A: g.ids["h/prev-tx"], V: g.txs[g.rnd.IntN(len(g.txs))]})
	}
	if g.rnd.IntN(3) == 0 {
		g.instant = g.instant.Add(time.Duration(g.rnd.IntN(3)) * time.Second)
		ops = append(ops, datomic.Add{E: datomic.TxTempID, A: kw("db/txInstant"), V: g.instant})
	}
	return append(ops, g.extraOps(ctx)...)
}

// plainAttrs are the attributes a new entity may get random values for.
var plainAttrs = []string{"h/name", "h/n", "h/tags", "h/flag", "h/big", "h/f", "h/d", "h/dec", "h/at", "h/id", "h/uri", "h/raw", "h/sym", "h/nums"}

func (g *gen) randomOps(ctx context.Context) []datomic.Op {
	r := g.rnd
	e, haveEntity := g.pickEntity()
	switch k := r.IntN(20); {
	case k < 6 || !haveEntity: // new entity
		t := datomic.TempID(fmt.Sprintf("n%d", g.next()))
		ops := []datomic.Op{datomic.Add{E: t, A: g.ids["h/key"], V: fmt.Sprintf("key%d", g.next())}}
		for i := 0; i < 1+r.IntN(4); i++ {
			ops = append(ops, g.setRandom(t))
		}
		if haveEntity && r.IntN(2) == 0 {
			ops = append(ops, datomic.Add{E: t, A: g.ids["h/friend"], V: e})
		}
		if r.IntN(3) == 0 {
			ops = append(ops, datomic.Add{E: t, A: g.ids["h/kind"], V: g.enums[r.IntN(len(g.enums))]})
		}
		if g.cfg.Cloud {
			return ops // Cloud places new entities itself
		}
		switch r.IntN(8) { // partitions other than the default
		case 0:
			ops = append(ops, datomic.ForcePartition{t: kw(partThings)})
		case 1:
			ops = append(ops, datomic.ForcePartition{t: kw("db.part/db")})
		}
		return ops
	case k < 9: // update a cardinality-one value or add to a many
		return []datomic.Op{g.setRandom(e)}
	case k == 9: // retract one current datom
		return g.retractOne(ctx, e)
	case k == 10:
		return []datomic.Op{datomic.RetractEntity{E: e}}
	case k == 11: // compare-and-swap on h/code, a unique value
		return g.cas(ctx, e)
	case k == 12: // upsert through a unique identity
		key, ok := g.currentValue(ctx, e, g.ids["h/key"])
		if !ok {
			return nil
		}
		t := datomic.TempID(fmt.Sprintf("u%d", g.next()))
		return []datomic.Op{datomic.Add{E: t, A: g.ids["h/key"], V: key}, g.setRandom(t)}
	case k == 13: // composite tuple parts
		other, _ := g.pickEntity()
		return []datomic.Op{datomic.Add{E: e, A: g.ids["h/a"], V: int64(r.IntN(50))}, datomic.Add{E: e, A: g.ids["h/b"], V: other}}
	case k == 14: // homogeneous and heterogeneous tuples
		other, _ := g.pickEntity()
		longs := datomic.Tuple{int64(r.IntN(9)), int64(r.IntN(9)), int64(r.IntN(9))}
		s := fmt.Sprint("p", r.IntN(9))
		if g.cfg.Cloud && r.IntN(2) == 0 {
			s = g.cloudString(cloudMaxTupleString)
		}
		return []datomic.Op{
			datomic.Add{E: e, A: g.ids["h/longs"], V: longs},
			datomic.Add{E: e, A: g.ids["h/pair"], V: datomic.Tuple{other, s}},
		}
	case k == 15: // component children through a nested map
		a := g.info[g.ids["h/child"]]
		return []datomic.Op{datomic.EntityMap{datomic.DBID: e, a.Ident: []any{
			datomic.EntityMap{g.info[g.ids["h/name"]].Ident: fmt.Sprint("child", g.next())},
		}}}
	case k == 16: // many-valued refs
		other, _ := g.pickEntity()
		return []datomic.Op{datomic.Add{E: e, A: g.ids["h/friends"], V: other}}
	case k == 17: // schema change
		return g.schemaChange()
	case k == 18: // a new enum
		id := kw(fmt.Sprintf("kind/k%d", g.next()))
		g.enums = append(g.enums, id)
		return []datomic.Op{datomic.EntityMap{"db/ident": id}}
	default: // unique value
		return []datomic.Op{datomic.Add{E: e, A: g.ids["h/code"], V: int64(g.next())}}
	}
}

func (g *gen) setRandom(e any) datomic.Op {
	name := g.plain[g.rnd.IntN(len(g.plain))]
	id := g.ids[name]
	if name == "h/text" {
		return datomic.Add{E: e, A: id, V: g.cloudString(cloudMaxString)}
	}
	return datomic.Add{E: e, A: id, V: g.value(g.info[id].ValueType)}
}

func (g *gen) currentValue(ctx context.Context, e, a int64) (any, bool) {
	db, err := g.conn.DB(ctx)
	if err != nil {
		return nil, false
	}
	for d, err := range db.Datoms(ctx, datomic.EAVT, e, a) {
		if err != nil {
			return nil, false
		}
		return d.V, true
	}
	return nil, false
}

func (g *gen) retractOne(ctx context.Context, e int64) []datomic.Op {
	db, err := g.conn.DB(ctx)
	if err != nil {
		return nil
	}
	var all []datomic.Datom
	for d, err := range db.Datoms(ctx, datomic.EAVT, e) {
		if err != nil {
			return nil
		}
		if a := g.info[d.A]; a.ID != 0 && !a.IsComposite() {
			all = append(all, d)
		}
	}
	if len(all) == 0 {
		return nil
	}
	d := all[g.rnd.IntN(len(all))]
	return []datomic.Op{datomic.Retract{E: d.E, A: d.A, V: d.V}}
}

func (g *gen) cas(ctx context.Context, e int64) []datomic.Op {
	a := g.ids["h/code"]
	old, ok := g.currentValue(ctx, e, a)
	if !ok {
		old = nil
	}
	return []datomic.Op{datomic.CAS{E: e, A: a, Old: old, New: int64(g.next())}}
}

// schemaChange renames an attribute, toggles noHistory, widens a
// cardinality, or installs a new attribute.
func (g *gen) schemaChange() []datomic.Op {
	switch g.rnd.IntN(4) {
	case 0:
		id := g.ids["h/sym"]
		g.renames++
		return []datomic.Op{datomic.Add{E: id, A: kw("db/ident"), V: kw(fmt.Sprintf("h/sym%d", g.renames))}}
	case 1:
		id := g.ids["h/d"]
		return []datomic.Op{datomic.Add{E: id, A: kw("db/noHistory"), V: !g.info[id].NoHistory}}
	case 2:
		return []datomic.Op{datomic.Add{E: g.ids["h/n"], A: kw("db/cardinality"), V: kw("db.cardinality/many")}}
	default:
		return []datomic.Op{datomic.EntityMap{
			"db/ident":       kw(fmt.Sprintf("x/attr%d", g.next())),
			"db/valueType":   kw("db.type/string"),
			"db/cardinality": kw("db.cardinality/one"),
			"db/doc":         "added later",
		}}
	}
}
