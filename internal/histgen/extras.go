package histgen

import (
	"context"
	"fmt"

	"github.com/dcbackup/dcbackup/datomic"
)

// backfillable are attributes that may make up a composite tuple installed
// after the fact: cardinality one (always) and of a tuple element type.
var backfillable = []string{"h/name", "h/key", "h/code", "h/kind", "h/flag", "h/big", "h/d", "h/dec", "h/at", "h/id", "h/uri"}

// extraOps returns the operations of the optional features (Config's
// CompositeBackfill, Excision and Renames) for one transaction, or none.
// It draws random numbers only when a feature is on, so that histories
// without them are those of earlier versions.
func (g *gen) extraOps(ctx context.Context) []datomic.Op {
	var kinds []func(context.Context) []datomic.Op
	if g.cfg.CompositeBackfill {
		kinds = append(kinds, g.backfillOps)
	}
	if g.cfg.Excision {
		kinds = append(kinds, g.exciseOps)
	}
	if g.cfg.Renames {
		kinds = append(kinds, g.renameOps)
	}
	if len(kinds) == 0 || g.rnd.IntN(4) != 0 {
		return nil
	}
	return kinds[g.rnd.IntN(len(kinds))](ctx)
}

// backfillOps installs a composite tuple over two attributes entities
// already have, or fills an installed one on an entity by re-asserting
// the entity's current value of a constituent, which Datomic answers with
// the composite datom alone.
func (g *gen) backfillOps(ctx context.Context) []datomic.Op {
	r := g.rnd
	if len(g.composites) == 0 || len(g.composites) < 3 && r.IntN(4) == 0 {
		i := r.IntN(len(backfillable))
		j := (i + 1 + r.IntN(len(backfillable)-1)) % len(backfillable)
		a, b := backfillable[i], backfillable[j]
		ident := kw(fmt.Sprintf("h/bf%d", g.next()))
		c := composite{attrs: [2]string{a, b}, idents: [2]datomic.Keyword{g.info[g.ids[a]].Ident, g.info[g.ids[b]].Ident}}
		g.composites = append(g.composites, c)
		return []datomic.Op{datomic.EntityMap{
			"db/ident":       ident,
			"db/valueType":   kw("db.type/tuple"),
			"db/cardinality": kw("db.cardinality/one"),
			"db/tupleAttrs":  datomic.Tuple{c.idents[0], c.idents[1]},
		}}
	}
	e, ok := g.pickEntity()
	if !ok {
		return nil
	}
	parts := g.composites[r.IntN(len(g.composites))].attrs
	for _, k := range []int{r.IntN(2), 0, 1} {
		a := g.ids[parts[k]]
		if v, ok := g.currentValue(ctx, e, a); ok {
			return []datomic.Op{datomic.Add{E: e, A: a, V: v}}
		}
	}
	return nil
}

// exciseOps asks for an excision: of an entity (all of it, or some
// attributes), or of an attribute's values, optionally only before a t
// of the history. It never excises what a composite tuple is computed
// from: Datomic leaves the composite datoms naming the excised values, a
// state no replay can recreate.
func (g *gen) exciseOps(ctx context.Context) []datomic.Op {
	r := g.rnd
	req := datomic.EntityMap{}
	plain := func(idents []string) (int64, bool) {
		ident := idents[r.IntN(len(idents))]
		return g.ids[ident], !g.constituent(g.info[g.ids[ident]].Ident)
	}
	if r.IntN(3) == 0 {
		a, ok := plain([]string{"h/name", "h/d", "h/tags", "h/nums"})
		if !ok {
			return nil
		}
		req["db/excise"] = a
	} else {
		e, ok := g.pickEntity()
		if !ok || g.inComposite(ctx, e) {
			return nil
		}
		req["db/excise"] = e
		if r.IntN(2) == 0 {
			a, ok := plain(plainAttrs)
			if !ok {
				return nil
			}
			req["db.excise/attrs"] = []any{a, g.ids["h/friend"]}
		}
	}
	if len(g.txs) > 0 && r.IntN(2) == 0 {
		req["db.excise/beforeT"] = datomic.ToT(g.txs[r.IntN(len(g.txs))])
	}
	return []datomic.Op{req}
}

// renameOps renames an enum or an attribute, or gives an ident retired by
// an earlier rename to a new attribute (an old ident keeps naming its
// entity until another takes it).
func (g *gen) renameOps(context.Context) []datomic.Op {
	r := g.rnd
	n := g.next()
	switch {
	case len(g.retired) > 0 && r.IntN(3) == 0:
		i := r.IntN(len(g.retired))
		ident := g.retired[i]
		g.retired = append(g.retired[:i], g.retired[i+1:]...)
		return []datomic.Op{datomic.EntityMap{
			"db/ident":       ident,
			"db/valueType":   kw("db.type/long"),
			"db/cardinality": kw("db.cardinality/one"),
		}}
	case r.IntN(2) == 0:
		i := r.IntN(len(g.enums))
		old := g.enums[i]
		to := kw(fmt.Sprintf("kind/r%d", n))
		g.enums = append(g.enums, to) // the old ident stays in use too
		return []datomic.Op{datomic.Add{E: old, A: kw("db/ident"), V: to}}
	default:
		name := renamable[r.IntN(len(renamable))]
		id := g.ids[name]
		old := g.info[id].Ident
		if !g.constituent(old) {
			g.retired = append(g.retired, old)
		}
		return []datomic.Op{datomic.Add{E: id, A: kw("db/ident"), V: kw(fmt.Sprintf("h/renamed%d", n))}}
	}
}

// renamable are the attributes renameOps renames.
var renamable = []string{"h/name", "h/n", "h/tags", "h/friend", "h/kind", "h/child", "h/dec", "h/a", "h/pair", "audit/user"}

// composite is a composite tuple backfillOps installed: its attributes'
// base names and the idents it was installed with.
type composite struct {
	attrs  [2]string
	idents [2]datomic.Keyword
}

// inComposite reports whether entity e, or a value of it, is part of a
// composite tuple: e is referred to through a composite's attribute, or has
// one of them.
func (g *gen) inComposite(ctx context.Context, e int64) bool {
	db, err := g.conn.DB(ctx)
	if err != nil {
		return true
	}
	for _, idx := range []datomic.Index{datomic.VAET, datomic.EAVT} {
		for d, err := range db.Datoms(ctx, idx, e) {
			if err != nil || g.constituent(g.info[d.A].Ident) {
				return true
			}
		}
	}
	return false
}

// constituent reports whether ident names an attribute of a composite
// tuple, or may come to (the backfillable attributes): such an ident is
// never given to another attribute, whose values the composite would then
// take.
func (g *gen) constituent(ident datomic.Keyword) bool {
	switch ident {
	case "h/a", "h/b":
		return true
	}
	for _, c := range g.composites {
		if c.idents[0] == ident || c.idents[1] == ident {
			return true
		}
	}
	for _, b := range backfillable {
		if g.info[g.ids[b]].Ident == ident {
			return true
		}
	}
	return false
}
