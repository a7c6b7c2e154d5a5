package mem

import (
	"slices"

	"github.com/dcbackup/dcbackup/datomic"
)

// attrInfo is the transactor's view of an installed attribute.
type attrInfo struct {
	datomic.Attribute
	vals *attrVals
	// composites are the composite tuple attributes that name this one.
	composites []*attrInfo
	// parts are, for a composite tuple, its component attributes in order.
	parts []*attrInfo
	// preds are the attribute's predicates (:db.attr/preds), sorted.
	preds []datomic.Symbol
}

// insertFact adds f to the fact store and the indexes; vt is the value type
// of f's attribute. The caller holds mu (or owns c exclusively).
func (c *Conn) insertFact(f fact, vt datomic.ValueType) uint32 {
	i := c.facts.push(f)
	es := c.ents[f.e]
	if es == nil {
		es = make([]uint32, 0, 8)
	}
	c.ents[f.e] = append(es, i)
	av := c.avet[f.a]
	if av == nil {
		av = newAttrVals()
		c.avet[f.a] = av
	}
	av.add(valKey(f.v), i)
	if vt == datomic.TypeRef {
		r := f.v.(int64)
		c.refs[r] = append(c.refs[r], i)
	}
	c.live++
	return i
}

// buildAttr reads the schema of entity id as of log position pos. The
// caller holds mu (shared) or is the writer.
func (c *Conn) buildAttr(pos uint32, id int64) (datomic.Attribute, bool) {
	return c.attrFrom(id, func(fn func(a int64, v any)) {
		for _, i := range c.ents[id] {
			if f := c.facts.at(i); f.visible(pos) {
				fn(f.a, f.v)
			}
		}
	})
}

// attrFrom builds the schema of entity id from its datoms, which each
// passes to its argument.
func (c *Conn) attrFrom(id int64, each func(fn func(a int64, v any))) (datomic.Attribute, bool) {
	s := &c.sys
	a := datomic.Attribute{ID: id}
	each(func(attr int64, v any) {
		switch attr {
		case s.ident:
			a.Ident = v.(datomic.Keyword)
		case s.valueType:
			a.ValueType = s.types[v.(int64)]
		case s.cardinality:
			switch v.(int64) {
			case s.cardMany:
				a.Cardinality = datomic.CardinalityMany
			case s.cardOne:
				a.Cardinality = datomic.CardinalityOne
			}
		case s.unique:
			switch v.(int64) {
			case s.uniqueIdentity:
				a.Unique = datomic.UniqueIdentity
			case s.uniqueValue:
				a.Unique = datomic.UniqueValue
			}
		case s.isComponent:
			a.IsComponent = v.(bool)
		case s.noHistory:
			a.NoHistory = v.(bool)
		case s.index:
			a.Index = v.(bool)
		case s.fulltext:
			a.Fulltext = v.(bool)
		case s.tupleAttrs:
			for _, k := range v.(datomic.Tuple) {
				kw, _ := k.(datomic.Keyword)
				a.TupleAttrs = append(a.TupleAttrs, kw)
			}
		case s.tupleType:
			a.TupleType = datomic.ValueTypeOf(v.(datomic.Keyword))
		case s.tupleTypes:
			for _, k := range v.(datomic.Tuple) {
				kw, _ := k.(datomic.Keyword)
				a.TupleTypes = append(a.TupleTypes, datomic.ValueTypeOf(kw))
			}
		}
	})
	if a.ValueType == datomic.TypeInvalid || a.Ident == "" || a.Cardinality == 0 {
		return a, false
	}
	return a, true
}

// identAt returns the ident of id as of log position pos.
func (c *Conn) identAt(pos uint32, id int64) (datomic.Keyword, bool) {
	for _, i := range c.ents[id] {
		f := c.facts.at(i)
		if f.a == c.sys.ident && f.visible(pos) {
			return f.v.(datomic.Keyword), true
		}
	}
	return "", false
}

// entidAt returns the entity whose ident is k as of log position pos: the
// entity that has it, or else the entity that last had it (Datomic keeps
// resolving an ident after a rename).
func (c *Conn) entidAt(pos uint32, k datomic.Keyword) (int64, bool) {
	av := c.avet[c.sys.ident]
	var last *fact
	var one [1]uint32
	for _, i := range av.get(k, &one) {
		f := c.facts.at(i)
		if f.visible(pos) {
			return f.e, true
		}
		if f.add <= pos && (last == nil || f.add > last.add) {
			last = f
		}
	}
	if last != nil {
		return last.e, true
	}
	return 0, false
}

// refreshSchema rebuilds the transactor's caches for entities ids after
// their idents or schema changed.
func (c *Conn) refreshSchema(ids []int64) {
	pos := uint32(len(c.log) - 1)
	clear(c.identVals)
	for _, id := range ids {
		// An ident that an entity no longer has keeps naming it (until
		// another entity takes it), as in Datomic.
		delete(c.names, id)
		if k, ok := c.identAt(pos, id); ok {
			c.idents[k] = id
			c.names[id] = k
		}
		a, ok := c.buildAttr(pos, id)
		if !ok {
			delete(c.attrs, id)
			continue
		}
		info := c.attrs[id]
		if info == nil {
			info = &attrInfo{}
			c.attrs[id] = info
		}
		info.Attribute = a
		info.preds = info.preds[:0]
		for _, i := range c.ents[id] {
			if f := c.facts.at(i); f.a == c.sys.attrPreds && f.visible(pos) {
				info.preds = append(info.preds, f.v.(datomic.Symbol))
			}
		}
		slices.Sort(info.preds)
		if c.avet[id] == nil {
			c.avet[id] = newAttrVals()
		}
		info.vals = c.avet[id]
	}
	for _, info := range c.attrs {
		info.composites = info.composites[:0]
		info.parts = info.parts[:0]
	}
	for _, info := range c.attrs {
		for _, k := range info.TupleAttrs {
			part := c.attrs[c.idents[k]]
			if part == nil {
				continue
			}
			info.parts = append(info.parts, part)
			part.composites = append(part.composites, info)
		}
	}
}
