package mem

import (
	"cmp"
	"context"
	"slices"
	"sort"
	"sync"

	"github.com/dcbackup/dcbackup/datomic"
)

// attrVals is the AVET index of one attribute: a hash from value key to the
// facts (of every time) with that value, for lookups by value, and a sorted
// list of the same facts by (value, entity), built on the first ordered read
// and kept up to date lazily, for ordered scans.
type attrVals struct {
	// m maps a value key to its only fact, or, with multiFlag set, to the
	// index in multi of the list of its facts.
	m     map[any]uint32
	multi [][]uint32
	n     int // number of facts

	sortMu  sync.Mutex // guards the fields below among readers
	built   bool       // sorted has been built; pending then collects new facts
	sorted  []uint32   // immutable once published: merges make a new slice
	pending []uint32   // facts added since the last merge (written by the writer)
}

// multiFlag marks an attrVals.m entry that indexes multi. Fact positions
// stay below it (see retractFlag).
const multiFlag = 1 << 31

func newAttrVals() *attrVals { return &attrVals{m: make(map[any]uint32)} }

// add records fact i with value key k. The caller holds mu exclusively.
func (av *attrVals) add(k any, i uint32) {
	switch p, ok := av.m[k]; {
	case !ok:
		av.m[k] = i
	case p&multiFlag == 0:
		av.multi = append(av.multi, []uint32{p, i})
		av.m[k] = multiFlag | uint32(len(av.multi)-1)
	default:
		j := p &^ multiFlag
		av.multi[j] = append(av.multi[j], i)
	}
	av.n++
	if av.built {
		av.pending = append(av.pending, i)
	}
}

// get returns the facts with value key k; one is scratch space for the
// common case of a single fact. The caller holds mu (or is the writer).
func (av *attrVals) get(k any, one *[1]uint32) []uint32 {
	p, ok := av.m[k]
	switch {
	case !ok:
		return nil
	case p&multiFlag == 0:
		one[0] = p
		return one[:]
	}
	return av.multi[p&^multiFlag]
}

// each calls fn with the facts of each value. The caller holds mu (or is
// the writer).
func (av *attrVals) each(fn func(fs []uint32)) {
	var one [1]uint32
	for _, p := range av.m {
		if p&multiFlag == 0 {
			one[0] = p
			fn(one[:])
		} else {
			fn(av.multi[p&^multiFlag])
		}
	}
}

// sortedFacts returns the attribute's facts in (value, entity, t) order.
// The caller holds mu shared; the result must not be modified.
func (av *attrVals) sortedFacts(c *Conn) []uint32 {
	av.sortMu.Lock()
	defer av.sortMu.Unlock()
	less := func(x, y uint32) int {
		fx, fy := c.facts.at(x), c.facts.at(y)
		if r := datomic.CompareValues(fx.v, fy.v); r != 0 {
			return r
		}
		if r := cmp.Compare(fx.e, fy.e); r != 0 {
			return r
		}
		return cmp.Compare(fx.add, fy.add)
	}
	if !av.built {
		s := make([]uint32, 0, av.n)
		av.each(func(fs []uint32) { s = append(s, fs...) })
		slices.SortFunc(s, less)
		av.sorted, av.built = s, true
		return s
	}
	if len(av.pending) > 0 {
		p := av.pending
		slices.SortFunc(p, less)
		merged := make([]uint32, 0, len(av.sorted)+len(p))
		i, j := 0, 0
		for i < len(av.sorted) && j < len(p) {
			if less(av.sorted[i], p[j]) <= 0 {
				merged = append(merged, av.sorted[i])
				i++
			} else {
				merged = append(merged, p[j])
				j++
			}
		}
		merged = append(merged, av.sorted[i:]...)
		merged = append(merged, p[j:]...)
		av.sorted, av.pending = merged, nil
	}
	return av.sorted
}

// avetScan yields the datoms of attribute a visible in d whose value lies
// in [start, end) (nil: open), in value order, copying a bounded batch per
// lock acquisition. It reports whether to continue.
func (d *DB) avetScan(ctx context.Context, a int64, start, end any, yield func(datomic.Datom, error) bool) bool {
	c := d.c
	c.mu.RLock()
	av := c.avet[a]
	if av == nil {
		c.mu.RUnlock()
		return true
	}
	sorted := av.sortedFacts(c)
	i := 0
	if start != nil {
		i = sort.Search(len(sorted), func(k int) bool {
			return datomic.CompareValues(c.facts.at(sorted[k]).v, start) >= 0
		})
	}
	c.mu.RUnlock()
	buf := make([]datomic.Datom, 0, min(len(sorted)-i, readBatch))
	for i < len(sorted) {
		if err := ctx.Err(); err != nil {
			yield(datomic.Datom{}, err)
			return false
		}
		buf = buf[:0]
		c.mu.RLock()
		for ; i < len(sorted) && len(buf) < readBatch; i++ {
			f := c.facts.at(sorted[i])
			if end != nil && datomic.CompareValues(f.v, end) >= 0 {
				i = len(sorted)
				break
			}
			if f.visible(d.pos) {
				buf = append(buf, datomic.Datom{E: f.e, A: f.a, V: f.v, Tx: datomic.TxID(c.log[f.add].t), Added: true})
			}
		}
		c.mu.RUnlock()
		for _, dt := range buf {
			if !yield(dt, nil) {
				return false
			}
		}
	}
	return true
}
