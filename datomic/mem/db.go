package mem

import (
	"cmp"
	"context"
	"iter"
	"slices"
	"time"

	"github.com/dcbackup/dcbackup/datomic"
)

// readBatch is how many datoms Datoms copies per lock acquisition.
const readBatch = 1024

// DB is an immutable value of an in-memory database: the database as of one
// position of its log.
type DB struct {
	c   *Conn
	pos uint32 // datoms: the log position the value shows
	t   int64
	// schema is the log position whose schema and idents the value uses:
	// the basis of the value AsOf was called on, as in Datomic.
	schema uint32
}

var _ datomic.DB = (*DB)(nil)
var _ datomic.Conn = (*Conn)(nil)

// DB returns the latest database value.
func (c *Conn) DB(ctx context.Context) (datomic.DB, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return c.Snapshot(), nil
}

// Snapshot returns the latest database value as the concrete type.
func (c *Conn) Snapshot() *DB {
	c.mu.RLock()
	defer c.mu.RUnlock()
	p := len(c.log) - 1
	return &DB{c: c, pos: uint32(p), t: c.log[p].t, schema: uint32(p)}
}

// BasisT returns the t of the latest transaction in d.
func (d *DB) BasisT() int64 { return d.t }

// AsOf returns the database as of basis t (a t or a transaction id): d
// without the datoms of the transactions after t. Like Datomic, the as-of
// value keeps d's schema and idents.
func (d *DB) AsOf(t int64) datomic.DB {
	t = datomic.ToT(t)
	d.c.mu.RLock()
	defer d.c.mu.RUnlock()
	p := min(d.c.posAsOf(t), d.pos)
	return &DB{c: d.c, pos: p, t: d.c.log[p].t, schema: d.schema}
}

// Attribute describes the attribute named by id (int64) or ident (Keyword).
func (d *DB) Attribute(ctx context.Context, attr any) (datomic.Attribute, bool, error) {
	if err := ctx.Err(); err != nil {
		return datomic.Attribute{}, false, err
	}
	d.c.mu.RLock()
	defer d.c.mu.RUnlock()
	id, ok := d.entid(attr)
	if !ok {
		return datomic.Attribute{}, false, nil
	}
	a, ok := d.c.buildAttr(d.schema, id)
	return a, ok, nil
}

// Ident returns the ident of entity id.
func (d *DB) Ident(ctx context.Context, id int64) (datomic.Keyword, bool, error) {
	if err := ctx.Err(); err != nil {
		return "", false, err
	}
	d.c.mu.RLock()
	defer d.c.mu.RUnlock()
	k, ok := d.c.identAt(d.schema, id)
	return k, ok, nil
}

// Entid returns the entity whose ident is ident.
func (d *DB) Entid(ctx context.Context, ident datomic.Keyword) (int64, bool, error) {
	if err := ctx.Err(); err != nil {
		return 0, false, err
	}
	d.c.mu.RLock()
	defer d.c.mu.RUnlock()
	id, ok := d.c.entidAt(d.schema, ident)
	return id, ok, nil
}

// entid resolves an entity position: an id, an ident or a lookup ref. The
// caller holds mu.
func (d *DB) entid(x any) (int64, bool) {
	switch v := x.(type) {
	case int64:
		return v, true
	case int:
		return int64(v), true
	case datomic.Keyword:
		return d.c.entidAt(d.schema, v)
	case datomic.LookupRef:
		a, ok := d.entid(v.A)
		if !ok {
			return 0, false
		}
		attr, ok := d.c.buildAttr(d.schema, a)
		if !ok || attr.Unique == datomic.UniqueNone {
			return 0, false
		}
		val, ok := d.normValue(attr, v.V)
		if !ok {
			return 0, false
		}
		for _, f := range d.valueFacts(a, val) {
			return d.c.facts.at(f).e, true
		}
	}
	return 0, false
}

// normValue brings a value given by a reader to the engine's representation
// for attribute a.
func (d *DB) normValue(a datomic.Attribute, v any) (any, bool) {
	switch a.ValueType {
	case datomic.TypeRef:
		id, ok := d.entid(v)
		return id, ok
	case datomic.TypeLong:
		if i, ok := v.(int); ok {
			return int64(i), true
		}
	case datomic.TypeInstant:
		if t, ok := v.(time.Time); ok {
			return datomic.Instant(t), true
		}
	case datomic.TypeTuple:
		if l, ok := v.([]any); ok {
			return datomic.Tuple(l), true
		}
	}
	return v, true
}

// valueFacts returns the facts [_ a v] visible in d. The caller holds mu.
func (d *DB) valueFacts(a int64, v any) []uint32 {
	av := d.c.avet[a]
	if av == nil {
		return nil
	}
	var out []uint32
	var one [1]uint32
	for _, i := range av.get(valKey(v), &one) {
		if d.c.facts.at(i).visible(d.pos) {
			out = append(out, i)
		}
	}
	return out
}

// query is a resolved Datoms request.
type query struct {
	index   datomic.Index
	e, a    int64
	v       any
	tx      int64
	hasE    bool
	hasA    bool
	hasV    bool
	hasTx   bool
	invalid bool // a component names nothing: no datoms
}

// Datoms streams the datoms of index whose leading components equal
// components, in index order.
func (d *DB) Datoms(ctx context.Context, index datomic.Index, components ...any) iter.Seq2[datomic.Datom, error] {
	return func(yield func(datomic.Datom, error) bool) {
		if index < datomic.EAVT || index > datomic.VAET {
			yield(datomic.Datom{}, txErr(datomic.ErrIncorrect, -1, "unknown index %s", index))
			return
		}
		if len(components) > 4 {
			yield(datomic.Datom{}, txErr(datomic.ErrIncorrect, -1, "%s takes at most 4 components", index))
			return
		}
		d.c.mu.RLock()
		q := d.resolve(index, components)
		groups := d.groups(q)
		d.c.mu.RUnlock()
		if q.invalid {
			return
		}
		var sc scratch
		for _, g := range groups {
			var more bool
			if index == datomic.AVET && !q.hasV {
				more = d.avetScan(ctx, g, nil, nil, yield)
			} else {
				more = d.emit(ctx, q, g, &sc, yield)
			}
			if !more {
				return
			}
		}
	}
}

// IndexRange streams the AVET datoms of attr with start <= v < end (nil:
// open), in value order.
func (d *DB) IndexRange(ctx context.Context, attr any, start, end any) iter.Seq2[datomic.Datom, error] {
	return func(yield func(datomic.Datom, error) bool) {
		d.c.mu.RLock()
		a, ok := d.entid(attr)
		var at datomic.Attribute
		if ok {
			at, ok = d.c.buildAttr(d.schema, a)
		}
		if ok && start != nil {
			start, ok = d.normValue(at, start)
		}
		if ok && end != nil {
			end, ok = d.normValue(at, end)
		}
		d.c.mu.RUnlock()
		if !ok {
			return
		}
		d.avetScan(ctx, a, start, end, yield)
	}
}

// resolve turns components into a query; the caller holds mu.
func (d *DB) resolve(index datomic.Index, comps []any) query {
	q := query{index: index}
	var order []byte
	switch index {
	case datomic.EAVT:
		order = []byte("eavt")
	case datomic.AEVT:
		order = []byte("aevt")
	case datomic.AVET:
		order = []byte("avet")
	case datomic.VAET:
		order = []byte("vaet")
	}
	var vraw any
	for i, x := range comps {
		var ok bool
		switch order[i] {
		case 'e':
			q.e, ok = d.entid(x)
			q.hasE = true
		case 'a':
			q.a, ok = d.entid(x)
			q.hasA = true
		case 'v':
			vraw, ok, q.hasV = x, true, true
		case 't':
			switch t := x.(type) {
			case int64:
				q.tx, ok = datomic.TxID(datomic.ToT(t)), true
			case int:
				q.tx, ok = datomic.TxID(int64(t)), true
			}
			q.hasTx = true
		}
		if !ok {
			q.invalid = true
			return q
		}
	}
	if q.hasV {
		if index == datomic.VAET {
			var ok bool
			if q.v, ok = d.entid(vraw); !ok {
				q.invalid = true
			}
			return q
		}
		// The value's representation depends on the attribute.
		if q.hasA {
			a, ok := d.c.buildAttr(d.schema, q.a)
			if !ok {
				q.invalid = true
				return q
			}
			if q.v, ok = d.normValue(a, vraw); !ok {
				q.invalid = true
			}
		} else {
			q.v = vraw
		}
	}
	return q
}

// groups lists the index's groups to scan for q, in index order: entities
// for EAVT, attributes for AEVT and AVET, ref targets for VAET. The caller
// holds mu.
func (d *DB) groups(q query) []int64 {
	if q.invalid {
		return nil
	}
	c := d.c
	var keys []int64
	switch q.index {
	case datomic.EAVT:
		if q.hasE {
			return []int64{q.e}
		}
		keys = make([]int64, 0, len(c.ents))
		for e := range c.ents {
			keys = append(keys, e)
		}
	case datomic.AEVT, datomic.AVET:
		if q.hasA {
			return []int64{q.a}
		}
		keys = make([]int64, 0, len(c.avet))
		for a := range c.avet {
			keys = append(keys, a)
		}
	case datomic.VAET:
		if q.hasV {
			return []int64{q.v.(int64)}
		}
		keys = make([]int64, 0, len(c.refs))
		for v := range c.refs {
			keys = append(keys, v)
		}
	}
	slices.Sort(keys)
	return keys
}

// scratch holds buffers reused across the groups of one Datoms call.
type scratch struct {
	sel []uint32
	buf []datomic.Datom
}

// emit yields the datoms of group g that match q in index order. It reports
// whether to continue.
func (d *DB) emit(ctx context.Context, q query, g int64, sc *scratch, yield func(datomic.Datom, error) bool) bool {
	if err := ctx.Err(); err != nil {
		yield(datomic.Datom{}, err)
		return false
	}
	c := d.c
	sel := sc.sel[:0]
	keep := func(cand []uint32) {
		for _, i := range cand {
			if f := c.facts.at(i); f.visible(d.pos) && d.match(q, g, f) {
				sel = append(sel, i)
			}
		}
	}
	c.mu.RLock()
	switch q.index {
	case datomic.EAVT:
		keep(c.ents[g])
	case datomic.AEVT, datomic.AVET:
		switch {
		case q.hasE:
			keep(c.ents[q.e])
		case q.hasV:
			if av := c.avet[g]; av != nil {
				var one [1]uint32
				keep(av.get(valKey(q.v), &one))
			}
		default:
			if av := c.avet[g]; av != nil {
				av.each(keep)
			}
		}
	case datomic.VAET:
		keep(c.refs[g])
	}
	slices.SortFunc(sel, func(x, y uint32) int { return compareFacts(q.index, c.facts.at(x), c.facts.at(y)) })
	c.mu.RUnlock()
	sc.sel = sel

	for len(sel) > 0 {
		n := min(len(sel), readBatch)
		buf := sc.buf[:0]
		c.mu.RLock()
		for _, i := range sel[:n] {
			f := c.facts.at(i)
			if !f.visible(d.pos) {
				continue // excised since it was selected
			}
			buf = append(buf, datomic.Datom{E: f.e, A: f.a, V: f.v, Tx: datomic.TxID(c.log[f.add].t), Added: true})
		}
		c.mu.RUnlock()
		sc.buf = buf
		sel = sel[n:]
		for _, dt := range buf {
			if !yield(dt, nil) {
				return false
			}
		}
	}
	return true
}

// match reports whether fact f of group g matches q's components.
func (d *DB) match(q query, g int64, f *fact) bool {
	switch q.index {
	case datomic.EAVT:
		if f.e != g {
			return false
		}
	case datomic.AEVT, datomic.AVET:
		if f.a != g {
			return false
		}
	case datomic.VAET:
		if r, ok := f.v.(int64); !ok || r != g {
			return false
		}
	}
	if q.hasE && f.e != q.e || q.hasA && f.a != q.a {
		return false
	}
	if q.hasV && !eqVal(f.v, q.v) {
		return false
	}
	if q.hasTx && datomic.TxID(d.c.log[f.add].t) != q.tx {
		return false
	}
	return true
}

// compareFacts orders facts as index does.
func compareFacts(index datomic.Index, x, y *fact) int {
	switch index {
	case datomic.EAVT:
		if c := cmp.Compare(x.e, y.e); c != 0 {
			return c
		}
		if c := cmp.Compare(x.a, y.a); c != 0 {
			return c
		}
		return datomic.CompareValues(x.v, y.v)
	case datomic.AEVT:
		if c := cmp.Compare(x.a, y.a); c != 0 {
			return c
		}
		if c := cmp.Compare(x.e, y.e); c != 0 {
			return c
		}
		return datomic.CompareValues(x.v, y.v)
	case datomic.AVET:
		if c := cmp.Compare(x.a, y.a); c != 0 {
			return c
		}
		if c := datomic.CompareValues(x.v, y.v); c != 0 {
			return c
		}
		return cmp.Compare(x.e, y.e)
	default:
		if c := datomic.CompareValues(x.v, y.v); c != 0 {
			return c
		}
		if c := cmp.Compare(x.a, y.a); c != 0 {
			return c
		}
		return cmp.Compare(x.e, y.e)
	}
}
