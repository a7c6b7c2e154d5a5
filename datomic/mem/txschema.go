package mem

import (
	"slices"
	"strings"

	"github.com/dcbackup/dcbackup/datomic"
)

// checkSchema validates attribute installations and alterations made by the
// transaction and adds the implicit [:db.part/db :db.install/attribute a]
// datom of each new attribute.
func (x *txState) checkSchema() error {
	c := x.c
	s := &c.sys
	var es []int64
	var byE map[int64][]int
	note := func(e int64) {
		if byE == nil {
			byE = make(map[int64][]int)
		}
		if _, ok := byE[e]; !ok {
			es = append(es, e)
			byE[e] = nil
		}
	}
	for i := range x.out {
		if d := &x.out[i]; x.isSchemaAttr(d.a) {
			note(d.e)
		}
	}
	if len(x.installVals) > 0 {
		vals := make([]int64, 0, len(x.installVals))
		for e := range x.installVals {
			vals = append(vals, e)
		}
		slices.Sort(vals)
		for _, e := range vals {
			note(e)
		}
	}
	if len(es) == 0 {
		return nil
	}
	for i := range x.out {
		d := &x.out[i]
		if !d.added {
			continue
		}
		var bad bool
		switch d.a {
		case s.valueType:
			_, ok := s.types[d.v.(int64)]
			bad = !ok
		case s.cardinality:
			bad = d.v.(int64) != s.cardOne && d.v.(int64) != s.cardMany
		case s.unique:
			bad = d.v.(int64) != s.uniqueValue && d.v.(int64) != s.uniqueIdentity
		case s.tupleType:
			bad = datomic.ValueTypeOf(d.v.(datomic.Keyword)) == datomic.TypeInvalid
		}
		if bad {
			return txErr(datomic.ErrInvalidOp, int(d.op), "%s: %s is not a valid value of %s",
				fmtDatom("db/add", d.e, d.ai.Ident, d.v), fmtPos(d.v), d.ai.Ident)
		}
	}
	for i := range x.out {
		if d := &x.out[i]; d.added {
			if _, ok := byE[d.e]; ok {
				byE[d.e] = append(byE[d.e], i)
			}
		}
	}
	posts := make([]datomic.Attribute, len(es))
	oks := make([]bool, len(es))
	// Attributes as they stand after the transaction, by ident: a composite
	// tuple may name attributes installed by the same transaction.
	after := make(map[datomic.Keyword]datomic.Attribute)
	for j, e := range es {
		posts[j], oks[j] = c.attrFrom(e, func(fn func(a int64, v any)) {
			for _, i := range c.ents[e] {
				if f := c.facts.at(i); f.ret == 0 && !x.gone[i] {
					fn(f.a, f.v)
				}
			}
			for _, i := range byE[e] {
				fn(x.out[i].a, x.out[i].v)
			}
		})
		if oks[j] {
			after[posts[j].Ident] = posts[j]
		}
	}
	for j, e := range es {
		post, ok := posts[j], oks[j]
		op := x.firstOp(e)
		pre := c.attrs[e]
		if pre != nil {
			if err := x.checkAlter(op, pre, post, ok); err != nil {
				return err
			}
			continue
		}
		if post.ValueType == datomic.TypeInvalid {
			if post.Cardinality != 0 || post.Unique != datomic.UniqueNone || len(post.TupleAttrs) > 0 ||
				post.TupleType != datomic.TypeInvalid || len(post.TupleTypes) > 0 || x.installs(e) {
				return txErr(datomic.ErrInvalidOp, op, "entity %d has attribute schema but no :db/valueType (incomplete attribute installation)", e)
			}
			continue
		}
		if !ok {
			return txErr(datomic.ErrInvalidOp, op, "attribute %d (%s) needs :db/ident, :db/valueType and :db/cardinality", e, post.Ident)
		}
		if post.IsComponent && post.ValueType != datomic.TypeRef {
			return txErr(datomic.ErrInvalidOp, op, "attribute %s: :db/isComponent needs a ref attribute", post.Ident)
		}
		if err := x.checkTupleSchema(op, post, after); err != nil {
			return err
		}
		a := c.attrs[s.installAttr]
		x.out = append(x.out, datum{e: 0, a: s.installAttr, v: e, ai: a, added: true, op: int32(op)})
		x.added[eavKey{0, s.installAttr, e}] = true
	}
	return x.checkAttrPredTargets()
}

// installs reports whether the transaction asserts [0 :db.install/attribute e]
// explicitly.
func (x *txState) installs(e int64) bool {
	return x.installVals[e]
}

// checkAttrPredTargets refuses :db.attr/preds on a built-in attribute (one
// whose ident is in the db or db.* namespace).
func (x *txState) checkAttrPredTargets() error {
	c := x.c
	for i := range x.out {
		d := &x.out[i]
		if d.a != c.sys.attrPreds || !d.added {
			continue
		}
		if k, ok := x.postOne(d.e, c.sys.ident).(datomic.Keyword); ok && reservedNamespace(k.Namespace()) {
			return txErr(datomic.ErrAttrPredOnSystemAttr, int(d.op), "%s: :db.attr/preds cannot be added to system attribute %s",
				fmtDatom("db/add", d.e, d.ai.Ident, d.v), k)
		}
	}
	return nil
}

// reservedNamespace reports whether ns is Datomic's (db or db.*).
func reservedNamespace(ns string) bool {
	return ns == "db" || strings.HasPrefix(ns, "db.")
}

// firstOp returns the first operation that wrote a datom of e.
func (x *txState) firstOp(e int64) int {
	for i := range x.out {
		if x.out[i].e == e {
			return int(x.out[i].op)
		}
	}
	return -1
}

// checkAlter validates a change to an existing attribute.
func (x *txState) checkAlter(op int, pre *attrInfo, post datomic.Attribute, ok bool) error {
	name := pre.Ident
	switch {
	case !ok || post.ValueType == datomic.TypeInvalid:
		return txErr(datomic.ErrInvalidAlter, op, "attribute %s cannot lose its :db/ident, :db/valueType or :db/cardinality", name)
	case post.ValueType != pre.ValueType:
		return txErr(datomic.ErrInvalidAlter, op, "cannot alter :db/valueType of %s from %s to %s", name, pre.ValueType, post.ValueType)
	case post.Fulltext != pre.Fulltext:
		return txErr(datomic.ErrInvalidAlter, op, "cannot alter :db/fulltext of %s", name)
	case !slices.Equal(post.TupleAttrs, pre.TupleAttrs) || post.TupleType != pre.TupleType || !slices.Equal(post.TupleTypes, pre.TupleTypes):
		return txErr(datomic.ErrInvalidAlter, op, "cannot alter the tuple schema of %s", name)
	}
	c := x.c
	if post.IsComponent && post.ValueType != datomic.TypeRef {
		return txErr(datomic.ErrInvalidAlter, op, "attribute %s: :db/isComponent needs a ref attribute", name)
	}
	if post.Unique != datomic.UniqueNone && pre.Unique == datomic.UniqueNone {
		var err error
		pre.vals.each(func(fs []uint32) {
			holder := int64(-1)
			for _, fi := range fs {
				f := c.facts.at(fi)
				if f.ret != 0 || x.gone[fi] || err != nil {
					continue
				}
				if holder >= 0 && holder != f.e {
					err = txErr(datomic.ErrInvalidAlter, op, "cannot make %s unique: value %s is held by entities %d and %d",
						name, fmtPos(f.v), holder, f.e)
				}
				holder = f.e
			}
		})
		if err != nil {
			return err
		}
	}
	if !pre.IsMany() && post.IsMany() {
		if pre.IsComposite() {
			return txErr(datomic.ErrInvalidAlter, op, "composite tuple %s must be cardinality one (:db.error/tuple-of-attrs-must-be-card-one)", name)
		}
		if len(pre.composites) > 0 {
			return txErr(datomic.ErrInvalidAlter, op, "%s is a constituent of composite tuple %s and must be cardinality one (:db.error/constituent-of-a-composite-must-be-card-one)",
				name, pre.composites[0].Ident)
		}
	}
	if pre.IsMany() && !post.IsMany() {
		seen := make(map[int64]bool)
		var err error
		pre.vals.each(func(fs []uint32) {
			for _, fi := range fs {
				f := c.facts.at(fi)
				if f.ret != 0 || x.gone[fi] || err != nil {
					continue
				}
				if seen[f.e] {
					err = txErr(datomic.ErrInvalidAlter, op, "cannot make %s cardinality one: entity %d has several values", name, f.e)
				}
				seen[f.e] = true
			}
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// checkTupleSchema validates the tuple schema of a new attribute; after
// holds the attributes the transaction installs or changes, by ident.
func (x *txState) checkTupleSchema(op int, a datomic.Attribute, after map[datomic.Keyword]datomic.Attribute) error {
	n := 0
	if len(a.TupleAttrs) > 0 {
		n++
	}
	if a.TupleType != datomic.TypeInvalid {
		n++
	}
	if len(a.TupleTypes) > 0 {
		n++
	}
	if a.ValueType != datomic.TypeTuple {
		if n > 0 {
			return txErr(datomic.ErrInvalidOp, op, "attribute %s has tuple schema but type %s", a.Ident, a.ValueType)
		}
		return nil
	}
	if n != 1 {
		return txErr(datomic.ErrInvalidOp, op, "tuple attribute %s needs exactly one of :db/tupleAttrs, :db/tupleType, :db/tupleTypes", a.Ident)
	}
	if a.TupleType == datomic.TypeTuple {
		return txErr(datomic.ErrInvalidOp, op, "tuple attribute %s: tuples cannot nest", a.Ident)
	}
	if a.TupleType != datomic.TypeInvalid && !tupleValueType(a.TupleType) {
		return txErr(datomic.ErrInvalidOp, op, "tuple attribute %s: %s is not a tuple element type (:db.error/invalid-tuple-type)", a.Ident, a.TupleType)
	}
	for _, t := range a.TupleTypes {
		if !tupleValueType(t) {
			return txErr(datomic.ErrInvalidOp, op, "tuple attribute %s: %s is not a tuple element type (:db.error/invalid-tuple-types)", a.Ident, t)
		}
	}
	if len(a.TupleTypes) > 0 && (len(a.TupleTypes) < 2 || len(a.TupleTypes) > 8) {
		return txErr(datomic.ErrInvalidOp, op, "tuple attribute %s needs 2 to 8 element types", a.Ident)
	}
	if len(a.TupleAttrs) > 0 {
		if len(a.TupleAttrs) < 2 || len(a.TupleAttrs) > 8 {
			return txErr(datomic.ErrInvalidOp, op, "composite tuple %s needs 2 to 8 attributes", a.Ident)
		}
		for _, k := range a.TupleAttrs {
			p, ok := after[k]
			if !ok {
				if info := x.c.attrs[x.c.idents[k]]; info != nil {
					p, ok = info.Attribute, true
				}
			}
			if !ok {
				return txErr(datomic.ErrNotAnAttribute, op, "composite tuple %s names %s, which is not an attribute", a.Ident, k)
			}
			if p.IsMany() || !tupleValueType(p.ValueType) {
				return txErr(datomic.ErrInvalidOp, op, "composite tuple %s: %s must be a cardinality-one attribute of a tuple element type (:db.error/invalid-tuple-attrs)", a.Ident, k)
			}
		}
	}
	return nil
}

// tupleValueType reports whether values of type t may be tuple elements:
// every scalar type but float, bytes and fn (Datomic Pro's tuple value
// types).
func tupleValueType(t datomic.ValueType) bool {
	switch t {
	case datomic.TypeInvalid, datomic.TypeTuple, datomic.TypeFloat, datomic.TypeBytes, datomic.TypeFn:
		return false
	}
	return true
}

// composites maintains the composite tuple attributes whose component
// attributes the transaction changed.
func (x *txState) composites() error {
	c := x.c
	type pair struct {
		e    int64
		comp *attrInfo
		op   int32 // the operation that changed a constituent
	}
	var todo []pair
	var seen map[eaKey]bool
	touch := func(e int64, a *attrInfo, op int32) {
		for _, comp := range a.composites {
			k := eaKey{e, comp.ID}
			if seen[k] {
				continue
			}
			if seen == nil {
				seen = make(map[eaKey]bool)
			}
			seen[k] = true
			todo = append(todo, pair{e, comp, op})
		}
	}
	for i := range x.out {
		if d := &x.out[i]; len(d.ai.composites) > 0 {
			touch(d.e, d.ai, d.op)
		}
	}
	// A redundant assertion of a constituent recomputes its composites too:
	// Datomic's idiom for filling a composite on entities that predate it.
	for _, r := range x.compTouched {
		touch(r.e, c.attrs[r.a], r.op)
	}
	for _, p := range todo {
		tup := make(datomic.Tuple, len(p.comp.parts))
		any := false
		for j, part := range p.comp.parts {
			tup[j] = x.postOne(p.e, part.ID)
			any = any || tup[j] != nil
		}
		var cur *fact
		var curI uint32
		for _, i := range c.ents[p.e] {
			if f := c.facts.at(i); f.a == p.comp.ID && f.ret == 0 && !x.gone[i] {
				cur, curI = f, i
			}
		}
		if cur != nil && any && eqVal(cur.v, tup) {
			continue
		}
		if cur != nil {
			x.retract(p.op, &retrInfo{fi: curI}, p.comp)
		}
		if any {
			x.out = append(x.out, datum{e: p.e, a: p.comp.ID, v: tup, ai: p.comp, added: true, op: p.op})
		}
	}
	return nil
}

// postOne returns the value of cardinality-one attribute a of e after the
// transaction (nil: none).
func (x *txState) postOne(e, a int64) any {
	if v, ok := x.oneVal[eaKey{e, a}]; ok {
		return v
	}
	c := x.c
	for _, i := range c.ents[e] {
		if f := c.facts.at(i); f.a == a && f.ret == 0 && !x.gone[i] {
			return f.v
		}
	}
	return nil
}
