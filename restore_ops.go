package dcbackup

import (
	"context"
	"fmt"

	"github.com/dcbackup/dcbackup/datomic"
)

// buildOps turns one source transaction into target operations: ids
// remapped, composite tuples and bookkeeping datoms dropped, the caller's
// filter and rewrites applied, an original-id datom for every entity the
// transaction creates, and the compare-and-swap of the restore marker.
func (r *restorer) buildOps(ctx context.Context, seg *Segment, tx datomic.Tx) ([]datomic.Op, error) {
	m := r.remap
	m.beginTx(tx.ID())
	skip := bookkeepingEntities(seg, tx)
	ops := make([]datomic.Op, 0, len(tx.Datoms)+4)
	for _, d := range tx.Datoms {
		attr, ok := seg.Attrs[d.A]
		if !ok {
			return nil, fmt.Errorf("%w: datom %s uses attribute %d, which the segment does not describe", ErrCorruptSegment, d, d.A)
		}
		if attr.IsComposite() || isBookkeeping(attr.Ident) || skip[d.E] || skip[d.A] {
			continue
		}
		if attr.IsRef() {
			if v, ok := d.V.(int64); ok && skip[v] {
				continue
			}
		}
		isInstant := d.E == tx.ID() && attr.Ident == "db/txInstant"
		if !isInstant && r.opts.Filter != nil && !r.opts.Filter(d, attr) {
			continue
		}
		v := d.V
		if fn := r.opts.Rewrite[attr.Ident]; fn != nil {
			nv, err := fn(v)
			if err != nil {
				return nil, fmt.Errorf("rewrite %s of %s: %w", attr.Ident, d, err)
			}
			v = nv
		}
		e, err := m.resolve(ctx, seg, d.E)
		if err != nil {
			return nil, fmt.Errorf("entity of %s: %w", d, err)
		}
		a, err := m.resolve(ctx, seg, d.A)
		if err != nil {
			return nil, fmt.Errorf("attribute of %s: %w", d, err)
		}
		if v, err = r.remapValue(ctx, seg, attr, v); err != nil {
			return nil, fmt.Errorf("value of %s: %w", d, err)
		}
		if d.Added {
			ops = append(ops, datomic.Add{E: e, A: a, V: v})
		} else {
			ops = append(ops, datomic.Retract{E: e, A: a, V: v})
		}
	}
	for _, src := range m.newIDs {
		ops = append(ops, datomic.Add{E: m.tempids[src], A: r.st.origAttr, V: src})
	}
	ops = append(ops,
		datomic.Add{E: datomic.TxTempID, A: r.st.origAttr, V: tx.ID()},
		datomic.CAS{E: r.st.markerAttr, A: r.st.markerAttr, Old: markerValue(r.st.lastT), New: tx.T},
	)
	return ops, nil
}

// markerValue is the expected current value of the marker: nil before the
// first restored transaction.
func markerValue(lastT int64) any {
	if lastT < 0 {
		return nil
	}
	return lastT
}

// remapValue maps the entity ids inside a value: a ref, or the ref elements
// of a tuple.
func (r *restorer) remapValue(ctx context.Context, seg *Segment, attr datomic.Attribute, v any) (any, error) {
	switch {
	case attr.IsRef():
		id, ok := v.(int64)
		if !ok {
			return nil, fmt.Errorf("ref value is %T", v)
		}
		return r.remap.resolve(ctx, seg, id)
	case attr.ValueType == datomic.TypeTuple && attr.HasRefsInTuple():
		in, ok := v.(datomic.Tuple)
		if !ok {
			return nil, fmt.Errorf("tuple value is %T", v)
		}
		out := make(datomic.Tuple, len(in))
		for i, e := range in {
			id, isID := e.(int64)
			if attr.TupleElemType(i) != datomic.TypeRef || !isID {
				out[i] = e
				continue
			}
			t, err := r.remap.resolve(ctx, seg, id)
			if err != nil {
				return nil, err
			}
			tid, ok := t.(int64)
			if !ok {
				return nil, fmt.Errorf("tuple element %d refers to entity %d, created in the same transaction; a tuple cannot hold a tempid", i, id)
			}
			out[i] = tid
		}
		return out, nil
	}
	return v, nil
}

// bookkeepingEntities returns the entities of a source that was itself a
// restore target which carry restore bookkeeping: the bookkeeping
// attributes themselves. Their datoms are not restored.
func bookkeepingEntities(seg *Segment, tx datomic.Tx) map[int64]bool {
	var skip map[int64]bool
	for id, a := range seg.Attrs {
		if isBookkeeping(a.Ident) {
			if skip == nil {
				skip = map[int64]bool{}
			}
			skip[id] = true
		}
	}
	for _, d := range tx.Datoms {
		if kw, ok := d.V.(datomic.Keyword); ok && isBookkeeping(kw) && seg.Attrs[d.A].Ident == identAttr {
			if skip == nil {
				skip = map[int64]bool{}
			}
			skip[d.E] = true
		}
	}
	return skip
}
