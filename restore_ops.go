package dcbackup

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/dcbackup/dcbackup/datomic"
)

// opAttr is what buildOps needs to know about one attribute of a segment,
// worked out once per segment instead of once per datom.
type opAttr struct {
	// attr is the attribute as the segment describes it; named the same
	// with the ident the options know it by: the one it has at the end of
	// the store (see restorer.finalIdents).
	attr, named datomic.Attribute
	// drop: composite tuple or bookkeeping attribute, never restored;
	// elide: left out by the restore's options or for the target.
	drop, elide bool
	// composite: a composite tuple, which the target maintains.
	composite bool
	// beforeT: :db.excise/beforeT, whose value is a source t.
	beforeT  bool
	ref      bool
	refTuple bool // a tuple with ref elements
	instant  bool // :db/txInstant
	rewrite  func(any) (any, error)
	// former is the attribute named by its ident in the target, when it
	// was renamed since the target's last restore (nil otherwise): the
	// Filter must keep or drop each datom under both names alike.
	former *datomic.Attribute
	// target is the attribute's target id once it resolved to one (boxed,
	// shared by every datom); nil until then.
	target any
}

// segOps holds the per-segment attribute table of buildOps.
type segOps struct {
	seg   *Segment
	attrs map[int64]*opAttr
	// skip holds the segment's attributes left out entirely: the
	// bookkeeping ones and those the options elide (nil: none).
	skip map[int64]bool
	// elided reports whether an attribute of that ident is left out;
	// final are the idents of renamed attributes at the end of the store.
	elided func(datomic.Keyword) bool
	final  map[int64]datomic.Keyword
	// identAttrs are the ids of :db/ident among the segment's attributes.
	identAttrs []int64
}

// elided reports whether attributes of ident kw are left out entirely.
func (r *restorer) elided(kw datomic.Keyword) bool {
	if isBookkeeping(kw) {
		return true
	}
	for _, e := range r.opts.ElideAttributes {
		if e == kw {
			return true
		}
	}
	return false
}

// opsFor returns the attribute table of seg, building it when seg is not
// the segment of the previous call.
func (r *restorer) opsFor(seg *Segment) *segOps {
	if r.ops != nil && r.ops.seg == seg {
		return r.ops
	}
	so := &segOps{seg: seg, attrs: make(map[int64]*opAttr, len(seg.Attrs)), elided: r.elided, final: r.finalIdents}
	for id, a := range seg.Attrs {
		named := a
		if kw, ok := r.finalIdents[id]; ok {
			named.Ident = kw
		}
		elided := r.elided(named.Ident)
		oa := &opAttr{
			attr:      a,
			named:     named,
			drop:      a.IsComposite() || elided,
			composite: a.IsComposite() && !elided,
			beforeT:   a.Ident == exciseBeforeTAttr,
			ref:       a.IsRef(),
			refTuple:  a.ValueType == datomic.TypeTuple && a.HasRefsInTuple(),
			instant:   a.Ident == txInstantAttr,
			rewrite:   r.opts.Rewrite[named.Ident],
			elide: runsOnTarget(a) && r.opts.Functions == FunctionsElide ||
				a.Ident == installPartAttr && r.limits.NoPartitions,
		}
		if kw, ok := r.formerIdents[id]; ok {
			former := a
			former.Ident = kw
			oa.former = &former
		}
		so.attrs[id] = oa
		if elided {
			if so.skip == nil {
				so.skip = map[int64]bool{}
			}
			so.skip[id] = true
		}
		if a.Ident == identAttr {
			so.identAttrs = append(so.identAttrs, id)
		}
	}
	r.ops = so
	return so
}

// txSkip returns the entities whose datoms tx must not restore: the
// bookkeeping attributes of a source that was itself a restore target and
// the attributes the options elide, including those tx itself names with
// :db/ident.
func (so *segOps) txSkip(tx datomic.Tx) map[int64]bool {
	skip := so.skip
	if len(so.identAttrs) == 0 {
		return skip
	}
	copied := false
	for i := range tx.Datoms {
		d := &tx.Datoms[i]
		if !so.isIdentAttr(d.A) {
			continue
		}
		kw, ok := d.V.(datomic.Keyword)
		if f, renamed := so.final[d.E]; renamed {
			kw = f
		}
		if ok && so.elided(kw) {
			if !copied {
				m := make(map[int64]bool, len(skip)+1)
				for k, v := range skip {
					m[k] = v
				}
				skip, copied = m, true
			}
			skip[d.E] = true
		}
	}
	return skip
}

func (so *segOps) isIdentAttr(a int64) bool {
	for _, id := range so.identAttrs {
		if id == a {
			return true
		}
	}
	return false
}

// buildOps turns one source transaction into target operations: ids
// remapped, composite tuples and bookkeeping datoms dropped, the caller's
// filter and rewrites applied, an original-id datom for every entity the
// transaction creates, and the compare-and-swap of the restore marker.
func (r *restorer) buildOps(ctx context.Context, seg *Segment, tx datomic.Tx) ([]datomic.Op, error) {
	m := r.remap
	txID := tx.ID()
	m.beginTx(txID)
	so := r.opsFor(seg)
	skip := so.txSkip(tx)
	// Room for the datoms, the original ids of new entities (one per few
	// datoms) and the two bookkeeping operations.
	ops := make([]datomic.Op, 0, len(tx.Datoms)+len(tx.Datoms)/4+4)
	var oa *opAttr
	oaID := int64(0)
	// rewritten are the positions in ops of datoms whose value a rewrite
	// replaced.
	var rewritten []int
	// composites are the composite tuples tx asserts.
	var composites []*datomic.Datom
	// The entity of the previous datom and its resolution: datoms of one
	// entity come in runs.
	lastE, haveE := int64(0), false
	var lastTarget any
	for i := range tx.Datoms {
		d := &tx.Datoms[i]
		if oa == nil || oaID != d.A {
			var ok bool
			if oa, ok = so.attrs[d.A]; !ok {
				return nil, fmt.Errorf("%w: datom %s uses attribute %d, which the segment does not describe", ErrCorruptSegment, *d, d.A)
			}
			oaID = d.A
		}
		if oa.composite && d.Added && !skip[d.E] {
			composites = append(composites, d)
		}
		if oa.drop || oa.elide {
			continue
		}
		if skip != nil {
			if skip[d.E] || skip[d.A] {
				continue
			}
			if oa.ref {
				if v, ok := d.V.(int64); ok && skip[v] {
					continue
				}
			}
		}
		if r.opts.Filter != nil && !(oa.instant && d.E == txID) {
			keep, err := r.filter(*d, oa)
			if err != nil {
				return nil, err
			}
			if !keep {
				continue
			}
		}
		v := d.V
		if oa.rewrite != nil {
			nv, err := oa.rewrite(v)
			if err != nil {
				return nil, fmt.Errorf("%w %s of %s: %w", errOptionFunc, oa.named.Ident, *d, err)
			}
			v = nv
		}
		e := lastTarget
		if !haveE || d.E != lastE {
			var err error
			if e, err = m.resolve(ctx, seg, d.E); err != nil {
				return nil, fmt.Errorf("entity of %s: %w", *d, err)
			}
			lastE, lastTarget, haveE = d.E, e, true
		}
		a := oa.target
		if a == nil {
			var err error
			if a, err = m.resolveAttr(ctx, seg, d.A); err != nil {
				return nil, fmt.Errorf("attribute of %s: %w", *d, err)
			}
			if _, isID := a.(int64); isID {
				// A target id never changes; a tempid (an attribute this
				// transaction creates) is resolved again next time.
				oa.target = a
			}
		}
		if oa.ref || oa.refTuple {
			var err error
			if v, err = r.remapValue(ctx, seg, oa, v); err != nil {
				return nil, fmt.Errorf("value of %s: %w", *d, err)
			}
		}
		if oa.beforeT {
			var err error
			if v, err = r.targetT(ctx, v); err != nil {
				return nil, fmt.Errorf("value of %s: %w", *d, err)
			}
		}
		if oa.rewrite != nil {
			rewritten = append(rewritten, len(ops))
		}
		if d.Added {
			ops = append(ops, datomic.Add{E: e, A: a, V: v})
		} else {
			ops = append(ops, datomic.Retract{E: e, A: a, V: v})
		}
	}
	if len(rewritten) > 1 {
		ops = collapseRewritten(ops, rewritten)
	}
	for _, d := range composites {
		op, err := r.backfill(ctx, seg, so, tx, d)
		if err != nil {
			return nil, fmt.Errorf("composite %s: %w", *d, err)
		}
		if op != nil {
			ops = append(ops, op)
		}
	}
	if len(r.bare) > 0 || len(r.lookups) > 0 {
		return nil, errNeedsIDs
	}
	var force datomic.ForcePartition
	if !r.opts.IgnorePartitions && !r.limits.NoPartitions {
		var err error
		if force, err = r.partitions(ctx, seg, tx); err != nil {
			return nil, err
		}
	}
	for _, src := range m.newIDs {
		ops = append(ops, datomic.Add{E: m.tempids[src], A: r.st.origAttr, V: src})
	}
	if force != nil {
		ops = append(ops, force)
	}
	ops = append(ops,
		datomic.Add{E: datomic.TxTempID, A: r.st.origAttr, V: txID},
		datomic.CAS{E: r.st.markerAttr, A: r.st.markerAttr, Old: markerValue(r.st.lastT), New: tx.T},
	)
	return ops, nil
}

// errNeedsIDs: refs inside tuples name entities whose target ids are not
// known (restorer.lookups) or that the target does not have yet
// (restorer.bare).
var errNeedsIDs = errors.New("tuples refer to entities without a known target id")

// prepareIDs gives the entities that refs inside tuples of tx name target
// ids: it looks up the restored ones, in one request, and creates the
// others.
func (r *restorer) prepareIDs(ctx context.Context, seg *Segment, tx datomic.Tx) error {
	if len(r.lookups) > 0 {
		err := r.remap.lookupIDs(ctx, r.lookups)
		r.lookups = r.lookups[:0]
		if err != nil {
			return err
		}
	}
	if len(r.bare) > 0 {
		instant, ok := txInstant(seg, tx)
		if !ok {
			return fmt.Errorf("source t %d has no :db/txInstant", tx.T)
		}
		return r.createBare(ctx, seg, tx, instant)
	}
	return nil
}

// createBare creates, in a transaction of its own dated at instant, an
// entity for each source id in r.bare, carrying only its original id (and
// kept in its source partition), so that tuples can refer to them.
func (r *restorer) createBare(ctx context.Context, seg *Segment, tx datomic.Tx, instant time.Time) error {
	m := r.remap
	m.beginTx(0)
	ops := make([]datomic.Op, 0, len(r.bare)+2)
	for _, src := range r.bare {
		if _, ok := m.tempids[src]; ok {
			continue
		}
		t := datomic.TempID("b" + strconv.FormatInt(src, 10))
		m.tempids[src] = t
		m.newIDs = append(m.newIDs, src)
		ops = append(ops, datomic.Add{E: t, A: r.st.origAttr, V: src})
	}
	r.bare = r.bare[:0]
	if !r.opts.IgnorePartitions && !r.limits.NoPartitions {
		force, err := r.partitions(ctx, seg, tx)
		if err != nil {
			return err
		}
		if force != nil {
			ops = append(ops, force)
		}
	}
	ops = append(ops, datomic.Add{E: datomic.TxTempID, A: txInstantAttr, V: instant}, r.ownTxTag())
	rep, err := r.target.Transact(ctx, ops)
	if err != nil {
		return fmt.Errorf("create the entities that tuples of source t %d refer to: %w", tx.T, err)
	}
	return m.commit(rep.Tempids)
}

// ownTxTag marks a transaction of the restore's own that restores no
// source transaction (see ownTxRule).
func (r *restorer) ownTxTag() datomic.Op {
	return datomic.Add{E: datomic.TxTempID, A: r.st.linkAttr, V: "restore"}
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
func (r *restorer) remapValue(ctx context.Context, seg *Segment, oa *opAttr, v any) (any, error) {
	switch {
	case oa.ref:
		id, ok := v.(int64)
		if !ok {
			return nil, fmt.Errorf("ref value is %T", v)
		}
		return r.remap.resolve(ctx, seg, id)
	case oa.refTuple:
		in, ok := v.(datomic.Tuple)
		if !ok {
			return nil, fmt.Errorf("tuple value is %T", v)
		}
		out := make(datomic.Tuple, len(in))
		for i, e := range in {
			id, isID := e.(int64)
			if oa.attr.TupleElemType(i) != datomic.TypeRef || !isID {
				out[i] = e
				continue
			}
			t, err := r.remap.resolve(ctx, seg, id)
			if err != nil {
				return nil, err
			}
			switch t := t.(type) {
			case int64:
				out[i] = t
			case datomic.LookupRef:
				// A tuple cannot hold a lookup ref: its target id is
				// looked up before the transaction is built again.
				r.lookups = append(r.lookups, id)
			default:
				// An entity without datoms in the target (elided, or never
				// given any): a tuple cannot hold a tempid either, so it
				// is created before this transaction.
				r.bare = append(r.bare, id)
			}
		}
		return out, nil
	}
	return v, nil
}

// partitions keeps each new entity in its source partition. It returns the
// :db/force-partition directive for the new entities that would otherwise
// land elsewhere in the target, or nil when there are none: entities of
// :db.part/user, and attributes in :db.part/db, land right by default, so
// a database that does not use partitions never needs the directive.
func (r *restorer) partitions(ctx context.Context, seg *Segment, tx datomic.Tx) (datomic.ForcePartition, error) {
	m := r.remap
	var force datomic.ForcePartition
	for _, src := range m.newIDs {
		var part any
		switch p := datomic.Part(src); p {
		case datomic.PartUser, datomic.PartTx:
			continue
		case datomic.PartDB:
			if installsAttribute(seg, tx, src) {
				continue
			}
			part = datomic.Keyword("db.part/db")
		default:
			id, ok, err := r.targetPartition(ctx, seg, p)
			if err != nil {
				return nil, fmt.Errorf("partition of entity %d: %w", src, err)
			}
			if !ok {
				continue // a partition the source's database chose: the target places the entity
			}
			part = id
		}
		if force == nil {
			force = datomic.ForcePartition{}
		}
		force[m.tempids[src].(datomic.TempID)] = part
	}
	return force, nil
}

// installsAttribute reports whether tx gives entity e a :db/valueType:
// Datomic puts a new attribute in :db.part/db by itself.
func installsAttribute(seg *Segment, tx datomic.Tx, e int64) bool {
	for i := range tx.Datoms {
		d := &tx.Datoms[i]
		if d.E == e && d.Added && seg.Attrs[d.A].Ident == "db/valueType" {
			return true
		}
	}
	return false
}

// targetT translates a source t, the bound of an excision
// (:db.excise/beforeT: datoms of transactions before it), into the target
// t that bounds the same transactions: the target t of the first restored
// transaction at or after it, or, when there is none yet, the target's
// next t.
func (r *restorer) targetT(ctx context.Context, v any) (any, error) {
	srcT, ok := v.(int64)
	if !ok {
		return nil, fmt.Errorf(":db.excise/beforeT holds %T", v)
	}
	db, err := r.remap.targetDB(ctx)
	if err != nil {
		return nil, err
	}
	for d, err := range db.IndexRange(ctx, r.st.origAttr, datomic.TxID(max(srcT, 0)), datomic.EntityID(datomic.PartTx+1, 0)) {
		if err != nil {
			return nil, fmt.Errorf("look up restored transactions: %w", err)
		}
		return datomic.ToT(d.E), nil
	}
	return db.BasisT() + 1, nil
}

// backfill returns the operation that makes the target assert composite
// datom d, which tx asserts without changing any of the composite's
// attributes: Datomic's idiom for filling a composite on entities that
// predate it (re-assert a component value: the redundant datom is dropped,
// the composite is computed and logged). The restore re-asserts the first
// component the tuple holds, as the source did; nil when tx changes a
// component itself, so that the target computes the composite anyway.
func (r *restorer) backfill(ctx context.Context, seg *Segment, so *segOps, tx datomic.Tx, d *datomic.Datom) (datomic.Op, error) {
	comp := so.attrs[d.A].attr
	isComponent := func(a int64) bool {
		oa := so.attrs[a]
		return oa != nil && slices.Contains(comp.TupleAttrs, oa.attr.Ident)
	}
	for i := range tx.Datoms {
		if o := &tx.Datoms[i]; o.E == d.E && isComponent(o.A) {
			return nil, nil
		}
	}
	tuple, ok := d.V.(datomic.Tuple)
	if !ok {
		return nil, fmt.Errorf("composite value is %T", d.V)
	}
	for i, el := range tuple {
		if el == nil || i >= len(comp.TupleAttrs) {
			continue
		}
		attr, ok, err := r.componentAttr(ctx, seg, so, comp.TupleAttrs[i])
		if err != nil || !ok {
			return nil, err
		}
		v := el
		if id, isID := el.(int64); isID && attr.ref {
			if v, err = r.remap.resolve(ctx, seg, id); err != nil {
				return nil, err
			}
		}
		e, err := r.remap.resolve(ctx, seg, d.E)
		if err != nil {
			return nil, err
		}
		return datomic.Add{E: e, A: attr.target, V: v}, nil
	}
	return nil, nil
}

// componentTarget is a composite's component attribute in the target.
type componentTarget struct {
	target any
	ref    bool
}

// componentAttr finds the composite component named ident in the target:
// through the source attribute of that ident in the segment, or, when the
// segment does not describe it, by its ident in the target.
func (r *restorer) componentAttr(ctx context.Context, seg *Segment, so *segOps, ident datomic.Keyword) (componentTarget, bool, error) {
	for id, oa := range so.attrs {
		if oa.attr.Ident == ident {
			t, err := r.remap.resolveAttr(ctx, seg, id)
			return componentTarget{target: t, ref: oa.ref}, err == nil, err
		}
	}
	db, err := r.remap.targetDB(ctx)
	if err != nil {
		return componentTarget{}, false, err
	}
	a, ok, err := db.Attribute(ctx, ident)
	if err != nil || !ok {
		return componentTarget{}, false, err
	}
	return componentTarget{target: a.ID, ref: a.IsRef()}, true, nil
}

// collapseRewritten drops what a rewrite that maps several values to one
// makes of a transaction: an assertion and a retraction of the same datom
// (the value changed in the source, not after the rewrite) are both
// dropped, and a datom asserted twice is asserted once. at are the
// positions in ops of the rewritten datoms.
func collapseRewritten(ops []datomic.Op, at []int) []datomic.Op {
	type key struct {
		e, a any
		v    string
	}
	keyOf := func(op datomic.Op) (key, bool) {
		switch o := op.(type) {
		case datomic.Add:
			return key{o.E, o.A, datomic.FormatValue(o.V)}, true
		case datomic.Retract:
			return key{o.E, o.A, datomic.FormatValue(o.V)}, false
		}
		return key{}, false
	}
	adds, retracts := map[key]int{}, map[key]int{}
	drop := map[int]bool{}
	for _, i := range at {
		k, added := keyOf(ops[i])
		switch {
		case added && retracts[k] > 0:
			drop[i], drop[retracts[k]-1] = true, true
			delete(retracts, k)
		case added && adds[k] > 0:
			drop[i] = true
		case added:
			adds[k] = i + 1
		case adds[k] > 0:
			drop[i], drop[adds[k]-1] = true, true
			delete(adds, k)
		case retracts[k] > 0:
			drop[i] = true
		default:
			retracts[k] = i + 1
		}
	}
	if len(drop) == 0 {
		return ops
	}
	out := ops[:0]
	for i, op := range ops {
		if !drop[i] {
			out = append(out, op)
		}
	}
	return out
}
