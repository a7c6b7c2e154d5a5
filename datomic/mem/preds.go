package mem

import (
	"fmt"
	"slices"

	"github.com/dcbackup/dcbackup/datomic"
)

// ensureReq is one [e :db/ensure spec] of a transaction.
type ensureReq struct {
	e, spec int64
	op      int32
}

// checkPreds runs, once the transaction's datoms are known, the attribute
// predicates of every value it asserts (:db.attr/preds of the attribute as
// it was before the transaction) and the entity specs its :db/ensure
// directives name: every attribute of :db.entity/attrs must be on the
// entity after the transaction, and every predicate of :db.entity/preds
// must accept it. A predicate symbol the database cannot run refuses the
// transaction as an unresolvable symbol does on Datomic's transactor.
func (x *txState) checkPreds() error {
	if err := x.checkAttrPreds(); err != nil {
		return err
	}
	for _, r := range x.ensures {
		if err := x.checkEnsure(r); err != nil {
			return err
		}
	}
	return nil
}

// checkAttrPreds calls the attribute predicates of each value asserted,
// redundant assertions included, once per datom.
func (x *txState) checkAttrPreds() error {
	var seen map[eavKey]bool
	for i := range x.stmts {
		s := &x.stmts[i]
		if s.kind != kAdd || len(s.a.preds) == 0 {
			continue
		}
		k := eavKey{s.e.id, s.a.ID, valKey(s.v)}
		if seen[k] {
			continue
		}
		if seen == nil {
			seen = make(map[eavKey]bool)
		}
		seen[k] = true
		for _, sym := range s.a.preds {
			pred, ok := x.c.attrPreds[sym]
			if !ok {
				return unresolved(int(s.op), sym)
			}
			if !pred(s.v) {
				return txErr(datomic.ErrAttrPred, int(s.op), "entity %d attribute %s value %s failed pred %s",
					s.e.id, s.a.Ident, fmtPos(s.v), sym)
			}
		}
	}
	return nil
}

// checkEnsure checks entity r.e against the entity spec r.spec as it was
// before the transaction.
func (x *txState) checkEnsure(r ensureReq) error {
	c := x.c
	var attrs []datomic.Keyword
	var preds []datomic.Symbol
	c.liveValuesOf(r.spec, func(a int64, v any) {
		switch a {
		case c.sys.entityAttrs:
			attrs = append(attrs, v.(datomic.Keyword))
		case c.sys.entityPreds:
			preds = append(preds, v.(datomic.Symbol))
		}
	})
	slices.Sort(attrs)
	slices.Sort(preds)
	specName := fmtPos(r.spec)
	if k, ok := c.names[r.spec]; ok {
		specName = k.String()
	}
	var missing []datomic.Keyword
	for _, k := range attrs {
		id, ok := c.idents[k]
		if !ok || !x.hasAfter(r.e, id) {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return txErr(datomic.ErrEntityAttr, int(r.op), "entity %d missing attributes %s of spec %s", r.e, fmtKeywords(missing), specName)
	}
	if len(preds) == 0 {
		return nil
	}
	view := x.view()
	for _, sym := range preds {
		pred, ok := c.entityPreds[sym]
		if !ok {
			return unresolved(int(r.op), sym)
		}
		if !pred(x.ctx, view, r.e) {
			return txErr(datomic.ErrEntityPred, int(r.op), "entity %d failed pred %s of spec %s", r.e, sym, specName)
		}
	}
	return nil
}

// unresolved is the refusal of a predicate the database cannot run: on
// Datomic, a symbol that does not resolve on the transactor's classpath
// (anomaly category not-found, "Can't resolve symbol").
func unresolved(op int, sym datomic.Symbol) error {
	return &datomic.Error{Category: datomic.CatNotFound, Message: fmt.Sprintf("can't resolve symbol: %s", sym), Op: op}
}

// hasAfter reports whether e has a value of attribute a after the
// transaction.
func (x *txState) hasAfter(e, a int64) bool {
	for i := range x.out {
		if d := &x.out[i]; d.added && d.e == e && d.a == a {
			return true
		}
	}
	c := x.c
	for _, i := range c.ents[e] {
		if f := c.facts.at(i); f.a == a && f.ret == 0 && !x.gone[i] {
			return true
		}
	}
	return false
}

// liveValuesOf calls fn with the attribute and value of each current datom
// of e (writer only).
func (c *Conn) liveValuesOf(e int64, fn func(a int64, v any)) {
	for _, i := range c.ents[e] {
		if f := c.facts.at(i); f.ret == 0 {
			fn(f.a, f.v)
		}
	}
}

func fmtKeywords(ks []datomic.Keyword) string {
	s := "["
	for i, k := range ks {
		if i > 0 {
			s += " "
		}
		s += k.String()
	}
	return s + "]"
}
