package mem

import (
	"context"
	"iter"
	"slices"

	"github.com/dcbackup/dcbackup/datomic"
)

// txView is the database as a transaction would leave it, before it is
// committed: the database before the transaction, without the datoms the
// transaction retracts and with those it asserts. Entity predicates
// (:db/ensure) see it, as Datomic's see the db-after. Schema, idents and
// lookup refs resolve as before the transaction.
type txView struct {
	base *DB
	t    int64
	adds []datomic.Datom
	refs []bool // adds[i] is a ref datom
	gone map[eavKey]bool
}

var _ datomic.DB = (*txView)(nil)

// view returns the transaction's txView.
func (x *txState) view() *txView {
	v := &txView{base: x.c.Snapshot(), t: x.t}
	for i := range x.out {
		d := &x.out[i]
		if d.added {
			v.adds = append(v.adds, datomic.Datom{E: d.e, A: d.a, V: d.v, Tx: x.txID, Added: true})
			v.refs = append(v.refs, d.ai.ValueType == datomic.TypeRef)
			continue
		}
		if v.gone == nil {
			v.gone = make(map[eavKey]bool)
		}
		v.gone[eavKey{d.e, d.a, valKey(d.v)}] = true
	}
	return v
}

// BasisT is the t the transaction would have.
func (v *txView) BasisT() int64 { return v.t }

// Attribute describes an attribute as before the transaction.
func (v *txView) Attribute(ctx context.Context, attr any) (datomic.Attribute, bool, error) {
	return v.base.Attribute(ctx, attr)
}

// Ident returns an ident as before the transaction.
func (v *txView) Ident(ctx context.Context, id int64) (datomic.Keyword, bool, error) {
	return v.base.Ident(ctx, id)
}

// Entid resolves an ident as before the transaction.
func (v *txView) Entid(ctx context.Context, ident datomic.Keyword) (int64, bool, error) {
	return v.base.Entid(ctx, ident)
}

// AsOf returns the view itself for t at or after the transaction's, else
// the database before the transaction as of t.
func (v *txView) AsOf(t int64) datomic.DB {
	if datomic.ToT(t) >= v.t {
		return v
	}
	return v.base.AsOf(t)
}

// Datoms streams the datoms of index that match components, in index order.
func (v *txView) Datoms(ctx context.Context, index datomic.Index, components ...any) iter.Seq2[datomic.Datom, error] {
	return func(yield func(datomic.Datom, error) bool) {
		if index < datomic.EAVT || index > datomic.VAET || len(components) > 4 {
			for d, err := range v.base.Datoms(ctx, index, components...) {
				yield(d, err) // the base reports the error
				return
			}
			return
		}
		v.base.c.mu.RLock()
		q := v.base.resolve(index, components)
		v.base.c.mu.RUnlock()
		if q.invalid {
			return
		}
		var extra []datomic.Datom
		for i, d := range v.adds {
			if v.match(q, d, v.refs[i]) {
				extra = append(extra, d)
			}
		}
		v.merge(index, extra, v.base.Datoms(ctx, index, components...), yield)
	}
}

// IndexRange streams the AVET datoms of attr with start <= v < end.
func (v *txView) IndexRange(ctx context.Context, attr any, start, end any) iter.Seq2[datomic.Datom, error] {
	return func(yield func(datomic.Datom, error) bool) {
		v.base.c.mu.RLock()
		a, ok := v.base.entid(attr)
		var at datomic.Attribute
		if ok {
			at, ok = v.base.c.buildAttr(v.base.schema, a)
		}
		if ok && start != nil {
			start, ok = v.base.normValue(at, start)
		}
		if ok && end != nil {
			end, ok = v.base.normValue(at, end)
		}
		v.base.c.mu.RUnlock()
		if !ok {
			return
		}
		var extra []datomic.Datom
		for _, d := range v.adds {
			if d.A == a && (start == nil || datomic.CompareValues(d.V, start) >= 0) && (end == nil || datomic.CompareValues(d.V, end) < 0) {
				extra = append(extra, d)
			}
		}
		v.merge(datomic.AVET, extra, v.base.IndexRange(ctx, attr, start, end), yield)
	}
}

// match reports whether added datom d matches query q.
func (v *txView) match(q query, d datomic.Datom, ref bool) bool {
	switch {
	case q.index == datomic.VAET && !ref,
		q.hasE && d.E != q.e,
		q.hasA && d.A != q.a,
		q.hasTx && d.Tx != q.tx:
		return false
	case q.hasV && q.index == datomic.VAET:
		r, ok := d.V.(int64)
		return ok && r == q.v.(int64)
	case q.hasV:
		return eqVal(d.V, q.v)
	}
	return true
}

// merge yields base without the datoms the transaction retracts, merged in
// index order with extra, the matching datoms it asserts.
func (v *txView) merge(index datomic.Index, extra []datomic.Datom, base iter.Seq2[datomic.Datom, error], yield func(datomic.Datom, error) bool) {
	cmpD := func(a, b datomic.Datom) int {
		return compareFacts(index, &fact{e: a.E, a: a.A, v: a.V}, &fact{e: b.E, a: b.A, v: b.V})
	}
	slices.SortFunc(extra, cmpD)
	for d, err := range base {
		if err != nil {
			yield(d, err)
			return
		}
		if v.gone[eavKey{d.E, d.A, valKey(d.V)}] {
			continue
		}
		for len(extra) > 0 && cmpD(extra[0], d) < 0 {
			if !yield(extra[0], nil) {
				return
			}
			extra = extra[1:]
		}
		if !yield(d, nil) {
			return
		}
	}
	for _, d := range extra {
		if !yield(d, nil) {
			return
		}
	}
}
