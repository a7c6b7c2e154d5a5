package mem

import (
	"math"
	"sort"
	"time"

	"github.com/dcbackup/dcbackup/datomic"
)

// excisedPos marks an excised datom: a fact whose add is excisedPos was
// never asserted as far as any read, the log or the transactor can tell; a
// fact whose ret is excisedPos has no retraction (or, if its assertion is
// excised too, no existence at all). No log position reaches it (see the
// 2^32-1 transaction limit in Transact).
const excisedPos = math.MaxUint32

// exciseReq is one excision request: an entity of the transaction with
// :db/excise, and its optional :db.excise/attrs, :db.excise/beforeT and
// :db.excise/before.
type exciseReq struct {
	target     int64
	attrs      map[int64]bool
	beforeT    int64
	hasBeforeT bool
	before     time.Time
	hasBefore  bool
}

// excise carries out the excision requests of the transaction, once its
// datoms are written (the caller holds mu). Datomic excises in its next
// indexing job, "outside the timeline": every database value, earlier ones
// included, and the log lose the excised datoms. Only datoms of earlier
// transactions are excised. See SEMANTICS.md for the rules.
func (x *txState) excise() {
	reqs := x.exciseRequests()
	if len(reqs) == 0 {
		return
	}
	c := x.c
	const (
		assertion  = 1
		retraction = 2
	)
	marks := make(map[uint32]uint8)
	for _, r := range reqs {
		limit := x.pos
		bt := int64(math.MaxInt64)
		if r.hasBeforeT {
			bt = datomic.ToT(r.beforeT)
		}
		if r.hasBefore {
			bt = min(bt, c.asOfT(r.before))
		}
		limit = min(limit, uint32(sort.Search(len(c.log), func(p int) bool { return c.log[p].t >= bt })))
		c.exciseCandidates(r, func(i uint32, f *fact) {
			if c.keeper(f) {
				return
			}
			if f.add != excisedPos && f.add < limit {
				marks[i] |= assertion
				if f.ret != 0 && f.ret != excisedPos && f.ret < limit {
					marks[i] |= retraction
				}
			}
		})
	}
	if len(marks) == 0 {
		return
	}
	idx := make([]uint32, 0, len(marks))
	for i := range marks {
		idx = append(idx, i)
	}
	sort.Slice(idx, func(a, b int) bool { return idx[a] < idx[b] })
	touched := make(map[*attrVals]map[uint32]bool)
	for _, i := range idx {
		f := c.facts.at(i)
		c.unindex(i, f, touched)
		if f.ret == 0 {
			c.live--
			f.ret = excisedPos
		}
		if marks[i]&retraction != 0 {
			f.ret = excisedPos
		}
		f.add = excisedPos
		if f.ret == excisedPos {
			f.v = nil // nothing refers to the value any more
		}
		c.excised++
	}
	for av, gone := range touched {
		av.forget(gone)
	}
}

// exciseRequests collects the excision requests the transaction asserts.
// The caller holds mu, after the transaction's datoms are written.
func (x *txState) exciseRequests() []exciseReq {
	c := x.c
	var reqs []exciseReq
	for i := range x.out {
		d := &x.out[i]
		if !d.added || d.a != c.sys.excise {
			continue
		}
		r := exciseReq{target: d.v.(int64)}
		c.liveValuesOf(d.e, func(a int64, v any) {
			switch a {
			case c.sys.exciseAttrs:
				if r.attrs == nil {
					r.attrs = make(map[int64]bool)
				}
				r.attrs[v.(int64)] = true
			case c.sys.exciseBeforeT:
				r.beforeT, r.hasBeforeT = v.(int64), true
			case c.sys.exciseBefore:
				r.before, r.hasBefore = v.(time.Time), true
			}
		})
		reqs = append(reqs, r)
	}
	return reqs
}

// asOfT is the t below which datoms count as "before" instant inst, the way
// Datomic's as-of a date finds it: the t of the first transaction whose
// :db/txInstant is inst, else one less than the t of the first transaction
// after inst, else no limit.
func (c *Conn) asOfT(inst time.Time) int64 {
	n := len(c.log)
	p := sort.Search(n-1, func(i int) bool { return !c.txInstantAt(i + 1).Before(inst) }) + 1
	if p >= n {
		return math.MaxInt64
	}
	if c.txInstantAt(p).Equal(inst) {
		return c.log[p].t
	}
	return c.log[p].t - 1
}

// txInstantAt returns the :db/txInstant of the transaction at log position
// p >= 1 (never excised: :db/txInstant is a bootstrap attribute).
func (c *Conn) txInstantAt(p int) time.Time {
	rec := &c.log[p]
	txID := datomic.TxID(rec.t)
	for _, ref := range rec.datoms {
		if f := c.facts.at(ref &^ retractFlag); ref&retractFlag == 0 && f.e == txID && f.a == c.sys.txInstant {
			return f.v.(time.Time)
		}
	}
	return time.Time{}
}

// keeper reports whether excision leaves the fact alone: a datom of an
// entity of :db.part/db (schema), or of one of Datomic's bootstrap
// attributes (:db/ident, :db/txInstant, the schema attributes, and the
// excision attributes themselves, which Datomic protects "so there is no
// way to erase your tracks").
func (c *Conn) keeper(f *fact) bool {
	if datomic.Part(f.e) == datomic.PartDB {
		return true
	}
	s := &c.sys
	switch f.a {
	case s.ident, s.installPart, s.installType, s.installAttr, s.installFn, s.alterAttr,
		s.excise, s.exciseAttrs, s.exciseBeforeT, s.exciseBefore,
		s.valueType, s.cardinality, s.unique, s.isComponent, s.index, s.noHistory, s.fulltext,
		s.lang, s.code, s.fn, s.fressianTag, s.txInstant:
		return true
	}
	return false
}

// exciseCandidates calls fn with each fact (history included) that request
// r names, before the keeper and t limits: for an attribute target (an
// attribute, and no :db.excise/attrs), every datom of the attribute; for an
// entity target, the datoms of the entity and those referring to it
// (limited to :db.excise/attrs when given), and every datom of, or
// referring to, its component entities, recursively.
func (c *Conn) exciseCandidates(r exciseReq, fn func(i uint32, f *fact)) {
	if datomic.Part(r.target) == datomic.PartDB && c.attrs[r.target] != nil && len(r.attrs) == 0 {
		if av := c.avet[r.target]; av != nil {
			av.each(func(fs []uint32) {
				for _, i := range fs {
					fn(i, c.facts.at(i))
				}
			})
		}
		return
	}
	isRef := func(a int64) bool {
		info := c.attrs[a]
		return info != nil && info.ValueType == datomic.TypeRef
	}
	// The target's component entities, through component attributes (only
	// those of :db.excise/attrs at the first level), over all of history.
	comps := make(map[int64]bool)
	queue := []int64{r.target}
	for level := 0; len(queue) > 0; level++ {
		var next []int64
		for _, e := range queue {
			for _, i := range c.ents[e] {
				f := c.facts.at(i)
				info := c.attrs[f.a]
				if info == nil || !info.IsComponent || info.ValueType != datomic.TypeRef {
					continue
				}
				if level == 0 && len(r.attrs) > 0 && !r.attrs[f.a] {
					continue
				}
				if ce := f.v.(int64); ce != r.target && !comps[ce] {
					comps[ce] = true
					next = append(next, ce)
				}
			}
		}
		queue = next
	}
	seen := make(map[uint32]bool)
	visit := func(i uint32) {
		if seen[i] {
			return
		}
		seen[i] = true
		f := c.facts.at(i)
		ref := isRef(f.a)
		var v int64
		if ref {
			v = f.v.(int64)
		}
		switch {
		case (f.e == r.target || ref && v == r.target) && (len(r.attrs) == 0 || r.attrs[f.a]),
			comps[f.e],
			ref && comps[v]:
			fn(i, f)
		}
	}
	for _, e := range append([]int64{r.target}, mapKeys(comps)...) {
		for _, i := range c.ents[e] {
			visit(i)
		}
		for _, i := range c.refs[e] {
			visit(i)
		}
	}
}

func mapKeys(m map[int64]bool) []int64 {
	out := make([]int64, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(a, b int) bool { return out[a] < out[b] })
	return out
}

// unindex removes fact i from the entity, reference and value indexes;
// the attribute indexes it leaves are collected in touched, to forget the
// facts in their ordered lists at once. The caller holds mu.
func (c *Conn) unindex(i uint32, f *fact, touched map[*attrVals]map[uint32]bool) {
	if es := removeFact(c.ents[f.e], i); len(es) == 0 {
		delete(c.ents, f.e)
	} else {
		c.ents[f.e] = es
	}
	if info := c.attrs[f.a]; info != nil && info.ValueType == datomic.TypeRef {
		r := f.v.(int64)
		if rs := removeFact(c.refs[r], i); len(rs) == 0 {
			delete(c.refs, r)
		} else {
			c.refs[r] = rs
		}
	}
	av := c.avet[f.a]
	if av == nil {
		return
	}
	av.remove(valKey(f.v), i)
	if touched[av] == nil {
		touched[av] = make(map[uint32]bool)
	}
	touched[av][i] = true
}

// removeFact removes i from fs, in place.
func removeFact(fs []uint32, i uint32) []uint32 {
	for j, x := range fs {
		if x == i {
			return append(fs[:j], fs[j+1:]...)
		}
	}
	return fs
}

// remove drops fact i with value key k from the hash index. The caller
// holds mu exclusively.
func (av *attrVals) remove(k any, i uint32) {
	p, ok := av.m[k]
	switch {
	case !ok:
		return
	case p&multiFlag == 0:
		if p != i {
			return
		}
		delete(av.m, k)
	default:
		j := p &^ multiFlag
		before := len(av.multi[j])
		av.multi[j] = removeFact(av.multi[j], i)
		if len(av.multi[j]) == before {
			return
		}
		if len(av.multi[j]) == 0 {
			delete(av.m, k)
		}
	}
	av.n--
}

// forget drops the facts gone from the ordered list and the pending facts,
// making a new ordered list (readers may hold the old one). The caller
// holds mu exclusively.
func (av *attrVals) forget(gone map[uint32]bool) {
	av.sortMu.Lock()
	defer av.sortMu.Unlock()
	if !av.built {
		return
	}
	sorted := make([]uint32, 0, len(av.sorted))
	for _, i := range av.sorted {
		if !gone[i] {
			sorted = append(sorted, i)
		}
	}
	av.sorted = sorted
	pending := av.pending[:0]
	for _, i := range av.pending {
		if !gone[i] {
			pending = append(pending, i)
		}
	}
	av.pending = pending
}
