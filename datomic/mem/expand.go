package mem

import (
	"slices"
	"strings"
	"time"

	"github.com/dcbackup/dcbackup/datomic"
)

// expand turns the transaction's operations into primitive statements,
// resolving attributes, idents and lookup refs against the database before
// the transaction, and numbering tempids.
func (x *txState) expand() error {
	x.stmts = make([]stmt, 0, len(x.ops)+len(x.ops)/2)
	for i, op := range x.ops {
		var err error
		switch o := op.(type) {
		case datomic.Add:
			err = x.listOp(i, kAdd, o.E, o.A, o.V)
		case datomic.Retract:
			if o.V == nil {
				err = x.listOp(i, kRetractAll, o.E, o.A, nil)
			} else {
				err = x.listOp(i, kRetract, o.E, o.A, o.V)
			}
		case datomic.CAS:
			err = x.casOp(i, o)
		case datomic.RetractEntity:
			var e ent
			if e, err = x.entRef(i, o.E); err == nil {
				x.use(e)
				x.stmts = append(x.stmts, stmt{op: int32(i), kind: kRetractEntity, e: e})
			}
		case datomic.EntityMap:
			_, err = x.expandMap(i, o)
		case datomic.ForcePartition:
			err = x.forceOp(i, o)
		default:
			err = txErr(datomic.ErrInvalidOp, i, "unsupported operation %T", op)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (x *txState) listOp(op int, kind uint8, e, a, v any) error {
	name := "db/add"
	if kind != kAdd {
		name = "db/retract"
	}
	ai, err := x.attrOf(op, a)
	if err != nil {
		return err
	}
	if ai.IsComposite() {
		return txErr(datomic.ErrCompositeTuple, op, "%s: composite tuple attribute %s is maintained by the database and cannot be transacted",
			fmtDatom(name, e, a, v), ai.Ident)
	}
	en, err := x.entRef(op, e)
	if err != nil {
		return err
	}
	if kind == kRetractAll {
		x.use(en)
		x.stmts = append(x.stmts, stmt{op: int32(op), kind: kind, e: en, a: ai})
		return nil
	}
	return x.addStmt(op, kind, en, ai, v)
}

// addStmt appends [kind e a v] for a value v still in the caller's form.
func (x *txState) addStmt(op int, kind uint8, e ent, a *attrInfo, v any) error {
	val, vtmp, err := x.value(op, a, v)
	if err != nil {
		return err
	}
	x.push(op, kind, e, a, val, vtmp)
	return nil
}

func (x *txState) push(op int, kind uint8, e ent, a *attrInfo, val any, vtmp int32) {
	x.use(e)
	if vtmp != 0 {
		x.tmp(vtmp).used = true
	}
	if kind == kAdd && e.tmp != 0 {
		t := x.tmp(e.tmp)
		t.entity = true
		if a.ID == x.c.sys.valueType {
			t.schema = true
		}
	}
	if kind == kAdd && vtmp != 0 && (a.ID == x.c.sys.installAttr || a.ID == x.c.sys.installPart) {
		x.tmp(vtmp).schema = true
	}
	x.stmts = append(x.stmts, stmt{op: int32(op), kind: kind, e: e, a: a, v: val, vtmp: vtmp})
}

func (x *txState) use(e ent) {
	if e.tmp != 0 {
		x.tmp(e.tmp).used = true
	}
}

func (x *txState) casOp(op int, o datomic.CAS) error {
	a, err := x.attrOf(op, o.A)
	if err != nil {
		return err
	}
	what := fmtDatom("db/cas", o.E, o.A, o.New)
	if a.IsMany() {
		return txErr(datomic.ErrInvalidOp, op, "%s: :db/cas needs a cardinality-one attribute, %s is cardinality many", what, a.Ident)
	}
	if a.IsComposite() {
		return txErr(datomic.ErrCompositeTuple, op, "%s: composite tuple attribute %s cannot be transacted", what, a.Ident)
	}
	e, err := x.entRef(op, o.E)
	if err != nil {
		return err
	}
	var old any
	if o.Old != nil {
		var otmp int32
		if old, otmp, err = x.value(op, a, o.Old); err != nil {
			return err
		}
		if otmp != 0 {
			return txErr(datomic.ErrInvalidOp, op, "%s: the expected value of :db/cas cannot be a tempid", what)
		}
	}
	val, vtmp, err := x.value(op, a, o.New)
	if err != nil {
		return err
	}
	x.push(op, kCAS, e, a, val, vtmp)
	x.stmts[len(x.stmts)-1].old = old
	if e.tmp != 0 {
		x.tmp(e.tmp).entity = true
	}
	return nil
}

// expandMap expands an entity map and returns its entity.
func (x *txState) expandMap(op int, m datomic.EntityMap) (ent, error) {
	var e ent
	if id, ok := m[datomic.DBID]; ok {
		var err error
		if e, err = x.entRef(op, id); err != nil {
			return e, err
		}
	} else {
		e = ent{tmp: x.newTmp("", op)}
	}
	var buf [16]datomic.Keyword
	keys := buf[:0]
	for k := range m {
		if k != datomic.DBID {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)

	for _, k := range keys {
		val := m[k]
		if k.IsReverse() {
			if err := x.reverse(op, e, k, val); err != nil {
				return e, err
			}
			continue
		}
		a, err := x.attrNamed(op, k)
		if err != nil {
			return e, err
		}
		if a.IsComposite() {
			return e, txErr(datomic.ErrCompositeTuple, op, "%s: composite tuple attribute %s is maintained by the database and cannot be transacted",
				fmtDatom("db/add", m[datomic.DBID], k, val), a.Ident)
		}
		list, isList := val.([]any)
		if isList && !a.IsMany() {
			if a.ValueType != datomic.TypeTuple {
				return e, txErr(datomic.ErrWrongType, op, "%s: attribute %s has cardinality one but was given a list of values",
					fmtDatom("db/add", m[datomic.DBID], k, val), a.Ident)
			}
			isList, val = false, datomic.Tuple(list)
		}
		if !isList {
			if err := x.mapValue(op, m, e, a, val); err != nil {
				return e, err
			}
			continue
		}
		for _, v := range list {
			if err := x.mapValue(op, m, e, a, v); err != nil {
				return e, err
			}
		}
	}
	return e, nil
}

// mapValue expands one value v of attribute a in entity map m of entity e.
func (x *txState) mapValue(op int, m datomic.EntityMap, e ent, a *attrInfo, v any) error {
	nm, ok := asMap(v)
	if !ok {
		return x.addStmt(op, kAdd, e, a, v)
	}
	if a.ValueType != datomic.TypeRef {
		return txErr(datomic.ErrWrongType, op, "%s: a nested map needs a ref attribute, %s is %s",
			fmtDatom("db/add", m[datomic.DBID], a.Ident, "{...}"), a.Ident, a.ValueType)
	}
	if !a.IsComponent && !x.identifiable(nm) {
		return txErr(datomic.ErrInvalidOp, op, "%s: a nested entity map must be a component or carry :db/id or a unique attribute (:db.error/invalid-nested-entity)",
			fmtDatom("db/add", m[datomic.DBID], a.Ident, "{...}"))
	}
	sub, err := x.expandMap(op, nm)
	if err != nil {
		return err
	}
	if sub.tmp != 0 {
		x.push(op, kAdd, e, a, nil, sub.tmp)
	} else {
		x.push(op, kAdd, e, a, sub.id, 0)
	}
	return nil
}

// reverse expands a reverse attribute :ns/_attr of entity map entity e.
func (x *txState) reverse(op int, e ent, k datomic.Keyword, val any) error {
	a, err := x.attrOf(op, k.Reverse())
	if err != nil {
		return err
	}
	if a.ValueType != datomic.TypeRef {
		return txErr(datomic.ErrWrongType, op, "reverse attribute %s names %s, which is not a ref attribute", k, a.Ident)
	}
	list, ok := val.([]any)
	if !ok {
		list = []any{val}
	}
	for _, v := range list {
		var src ent
		if nm, ok := asMap(v); ok {
			src, err = x.expandMap(op, nm)
		} else {
			src, err = x.entRef(op, v)
		}
		if err != nil {
			return err
		}
		x.push(op, kAdd, src, a, e.id, e.tmp)
	}
	return nil
}

func asMap(v any) (datomic.EntityMap, bool) {
	switch m := v.(type) {
	case datomic.EntityMap:
		return m, true
	case map[datomic.Keyword]any:
		return datomic.EntityMap(m), true
	}
	return nil, false
}

// identifiable reports whether a nested, non-component entity map names its
// entity: by :db/id or by a unique attribute.
func (x *txState) identifiable(m datomic.EntityMap) bool {
	for k := range m {
		if k == datomic.DBID {
			return true
		}
		if id, ok := x.c.idents[k]; ok {
			if a := x.c.attrs[id]; a != nil && a.Unique != datomic.UniqueNone {
				return true
			}
		}
	}
	return false
}

// attrNamed resolves an attribute ident (attrOf without boxing k).
func (x *txState) attrNamed(op int, k datomic.Keyword) (*attrInfo, error) {
	if id, ok := x.c.idents[k]; ok {
		if info := x.c.attrs[id]; info != nil {
			return info, nil
		}
	}
	return x.attrOf(op, k)
}

// attrOf resolves an attribute position.
func (x *txState) attrOf(op int, a any) (*attrInfo, error) {
	var id int64
	switch v := a.(type) {
	case datomic.Keyword:
		var ok bool
		if id, ok = x.c.idents[v]; !ok {
			return nil, txErr(datomic.ErrNotAnAttribute, op, "%s is not an attribute (no such ident)", v)
		}
	case int64:
		id = v
	case int:
		id = int64(v)
	case datomic.LookupRef: // such as [:db/ident :person/name]
		var err error
		if id, err = x.lookup(op, v); err != nil {
			return nil, err
		}
	default:
		return nil, txErr(datomic.ErrNotAnAttribute, op, "%s (%T) is not an attribute", fmtPos(a), a)
	}
	info := x.c.attrs[id]
	if info == nil {
		return nil, txErr(datomic.ErrNotAnAttribute, op, "%s is not an attribute", fmtPos(a))
	}
	return info, nil
}

// newTmp numbers a tempid; name "" makes an anonymous one.
func (x *txState) newTmp(name datomic.TempID, op int) int32 {
	if name != "" {
		if i, ok := x.named[name]; ok {
			return i
		}
	}
	tag := x.c.tagPartition(name)
	t := tmpInfo{name: name, op: int32(op), dbPart: tag == datomic.PartDB}
	if tag > 0 {
		t.tagPart = tag
	}
	x.tmps = append(x.tmps, t)
	i := int32(len(x.tmps))
	if name != "" {
		if x.named == nil {
			x.named = make(map[datomic.TempID]int32)
		}
		x.named[name] = i
		if name == datomic.TxTempID {
			x.tmps[i-1].id, x.tmps[i-1].resolved = x.txID, true
			x.tmps[i-1].entity = true
		}
	}
	return i
}

// tempidPartPrefix starts the tempids that the EDN reader makes from
// #db/id [:partition ...] tags.
const tempidPartPrefix = "#db/id[:"

// tagPartition returns the partition named by the #db/id tag that tempid
// name was made from, when that is :db.part/db or an installed partition
// other than :db.part/tx and :db.part/user (the default); else -1.
func (c *Conn) tagPartition(name datomic.TempID) int64 {
	rest, ok := strings.CutPrefix(string(name), tempidPartPrefix)
	if !ok {
		return -1
	}
	if i := strings.IndexAny(rest, " ]"); i > 0 {
		id, ok := c.idents[datomic.Keyword(rest[:i])]
		if ok && c.isPartition(id) && id != datomic.PartTx && id != datomic.PartUser {
			return id
		}
	}
	return -1
}

// entRef resolves an entity position (or a ref value).
func (x *txState) entRef(op int, v any) (ent, error) {
	switch e := v.(type) {
	case int64:
		if !x.validID(e) {
			return ent{}, txErr(datomic.ErrInvalidEntityID, op, "%d is not a valid entity id", e)
		}
		return ent{id: e}, nil
	case int:
		return x.entRef(op, int64(e))
	case datomic.TempID:
		if e == "" {
			return ent{}, txErr(datomic.ErrInvalidOp, op, "empty tempid")
		}
		return ent{tmp: x.newTmp(e, op)}, nil
	case datomic.Keyword:
		id, ok := x.c.idents[e]
		if !ok {
			return ent{}, txErr(datomic.ErrNotAnEntity, op, "unable to resolve entity: %s", e)
		}
		return ent{id: id}, nil
	case datomic.LookupRef:
		id, err := x.lookup(op, e)
		return ent{id: id}, err
	case nil:
		return ent{}, txErr(datomic.ErrInvalidOp, op, "missing entity")
	}
	return ent{}, txErr(datomic.ErrInvalidOp, op, "%s (%T) cannot name an entity", fmtPos(v), v)
}

// lookup resolves a lookup ref against the database before the transaction.
func (x *txState) lookup(op int, r datomic.LookupRef) (int64, error) {
	a, err := x.attrOf(op, r.A)
	if err != nil {
		return 0, err
	}
	if a.Unique == datomic.UniqueNone {
		return 0, txErr(datomic.ErrInvalidOp, op, "lookup ref %s: attribute %s is not unique", fmtPos(r), a.Ident)
	}
	v, vtmp, err := x.value(op, a, r.V)
	if err != nil {
		return 0, err
	}
	if vtmp != 0 {
		return 0, txErr(datomic.ErrNotAnEntity, op, "lookup ref %s cannot use a tempid", fmtPos(r))
	}
	if id, ok := x.c.holder(a, v); ok {
		return id, nil
	}
	return 0, txErr(datomic.ErrNotAnEntity, op, "unable to resolve entity: %s", fmtPos(r))
}

// validID reports whether id names an entity that may exist: an allocated
// id in an installed partition, or a transaction of the log (or this one).
func (x *txState) validID(id int64) bool {
	c := x.c
	n := id & (1<<datomic.PartShift - 1)
	switch datomic.Part(id) {
	case datomic.PartDB:
		return n < c.nextDB
	case datomic.PartTx:
		if n == x.t {
			return true
		}
		_, ok := c.logPos(n)
		return ok
	case datomic.PartUser:
		return n < c.nextEnt && n > 0
	}
	if p := datomic.Part(id); c.isPartition(p) {
		return n > 0 && n < c.partNext(p)
	}
	return false
}

// value checks and normalises v for attribute a. A ref value given as a
// tempid comes back as vtmp.
func (x *txState) value(op int, a *attrInfo, v any) (any, int32, error) {
	switch a.ValueType {
	case datomic.TypeRef:
		switch r := v.(type) {
		case int64:
			if !x.validID(r) {
				return nil, 0, txErr(datomic.ErrInvalidEntityID, op, "value %d of %s is not a valid entity id", r, a.Ident)
			}
			return v, 0, nil
		case datomic.TempID, datomic.Keyword, datomic.LookupRef, int:
			if k, ok := v.(datomic.Keyword); ok {
				// Enum values: reuse one boxed id per ident.
				if b, ok := x.c.identVals[k]; ok {
					return b, 0, nil
				}
			}
			e, err := x.entRef(op, v)
			if err != nil {
				return nil, 0, err
			}
			if e.tmp != 0 {
				return nil, e.tmp, nil
			}
			var b any = e.id
			if k, ok := v.(datomic.Keyword); ok {
				x.c.identVals[k] = b
			}
			return b, 0, nil
		}
	case datomic.TypeLong:
		if i, ok := v.(int); ok {
			return int64(i), 0, nil
		}
	case datomic.TypeInstant:
		if t, ok := v.(time.Time); ok {
			if n := datomic.Instant(t); !n.Equal(t) || t.Location() != time.UTC {
				return n, 0, nil
			}
			return v, 0, nil
		}
	case datomic.TypeTuple:
		switch t := v.(type) {
		case datomic.Tuple:
			return x.tuple(op, a, t)
		case []any:
			return x.tuple(op, a, datomic.Tuple(t))
		}
	}
	if !a.ValueType.Check(v) {
		return nil, 0, txErr(datomic.ErrWrongType, op, "value %s (%T) does not match the type %s of attribute %s",
			fmtPos(v), v, a.ValueType, a.Ident)
	}
	return v, 0, nil
}

// tuple checks a homogeneous or heterogeneous tuple value.
func (x *txState) tuple(op int, a *attrInfo, t datomic.Tuple) (any, int32, error) {
	if len(t) < 2 || len(t) > 8 {
		return nil, 0, txErr(datomic.ErrWrongType, op, "tuple %s of %s must have 2 to 8 elements", fmtPos(t), a.Ident)
	}
	if n := max(len(a.TupleTypes), len(a.parts)); n > 0 && len(t) != n {
		return nil, 0, txErr(datomic.ErrWrongType, op, "tuple %s of %s must have %d elements", fmtPos(t), a.Ident, n)
	}
	var out datomic.Tuple
	for i, el := range t {
		et := a.TupleElemType(i)
		if a.IsComposite() {
			et = a.parts[i].ValueType // only lookup refs reach here
		}
		if el == nil {
			continue
		}
		norm, changed := el, false
		switch et {
		case datomic.TypeRef:
			switch r := el.(type) {
			case datomic.Keyword, datomic.LookupRef, int:
				e, err := x.entRef(op, r)
				if err != nil {
					return nil, 0, err
				}
				norm, changed = e.id, true
			}
		case datomic.TypeLong:
			if i, ok := el.(int); ok {
				norm, changed = int64(i), true
			}
		case datomic.TypeInstant:
			if tm, ok := el.(time.Time); ok {
				norm, changed = datomic.Instant(tm), true
			}
		}
		if !et.Check(norm) || et == datomic.TypeTuple {
			return nil, 0, txErr(datomic.ErrWrongType, op, "element %d %s of tuple %s does not match type %s of attribute %s",
				i, fmtPos(el), fmtPos(t), et, a.Ident)
		}
		if changed || out != nil {
			if out == nil {
				out = slices.Clone(t)
			}
			out[i] = norm
		}
	}
	if out != nil {
		return out, 0, nil
	}
	return t, 0, nil
}
