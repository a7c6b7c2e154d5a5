package mem

import (
	"sort"

	"github.com/dcbackup/dcbackup/datomic"
)

// holder returns the entity that currently holds value v of unique
// attribute a (latest database value; writer only).
func (c *Conn) holder(a *attrInfo, v any) (int64, bool) {
	var one [1]uint32
	for _, i := range a.vals.get(valKey(v), &one) {
		if f := c.facts.at(i); f.ret == 0 {
			return f.e, true
		}
	}
	return 0, false
}

// logPos returns the log position of the transaction with basis t. The
// caller holds mu shared or is the writer.
func (c *Conn) logPos(t int64) (uint32, bool) {
	i := sort.Search(len(c.log), func(i int) bool { return c.log[i].t >= t })
	if i < len(c.log) && c.log[i].t == t {
		return uint32(i), true
	}
	return 0, false
}

// posAsOf returns the last log position whose t is at most t.
func (c *Conn) posAsOf(t int64) uint32 {
	i := sort.Search(len(c.log), func(i int) bool { return c.log[i].t > t })
	if i == 0 {
		return 0
	}
	return uint32(i - 1)
}

// eqVal reports whether two values of one attribute are the same value.
func eqVal(a, b any) bool {
	switch x := a.(type) {
	case int64:
		y, ok := b.(int64)
		return ok && x == y
	case string:
		y, ok := b.(string)
		return ok && x == y
	case datomic.Keyword:
		y, ok := b.(datomic.Keyword)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case datomic.UUID:
		y, ok := b.(datomic.UUID)
		return ok && x == y
	}
	return datomic.ValuesEqual(a, b)
}

// liveValues calls fn for each current fact of [e a] (writer only).
func (c *Conn) liveValues(e, a int64, fn func(i uint32, f *fact)) {
	for _, i := range c.ents[e] {
		if f := c.facts.at(i); f.a == a && f.ret == 0 {
			fn(i, f)
		}
	}
}

// liveFact returns the current fact [e a v], if any (writer only). It
// scans whichever is shorter: e's facts or the facts with value v.
func (c *Conn) liveFact(e int64, a *attrInfo, v any) (uint32, bool) {
	es := c.ents[e]
	if len(es) > 32 {
		var one [1]uint32
		if ps := a.vals.get(valKey(v), &one); len(ps) < len(es) {
			for _, i := range ps {
				if f := c.facts.at(i); f.e == e && f.ret == 0 {
					return i, true
				}
			}
			return 0, false
		}
	}
	for _, i := range es {
		if f := c.facts.at(i); f.a == a.ID && f.ret == 0 && eqVal(f.v, v) {
			return i, true
		}
	}
	return 0, false
}
