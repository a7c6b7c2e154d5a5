package mem

import (
	"fmt"
	"unicode/utf8"

	"github.com/dcbackup/dcbackup/datomic"
)

// cloudErr is a refusal of a Cloud-mode database: a *datomic.Error of the
// kind of sentinel, wrapping ErrCloudRefused.
func cloudErr(sentinel *datomic.Error, op int, format string, args ...any) *datomic.Error {
	e := txErr(sentinel, op, format, args...)
	e.Err = ErrCloudRefused
	return e
}

// refuseCloudOps refuses, in Cloud mode and before anything is resolved,
// operations that Datomic Cloud does not know: :db/force-partition,
// excision (:db/excise and :db.excise/*), attributes of value type
// :db.type/bytes or :db.type/fn, :db/fulltext, and new partitions.
func (x *txState) refuseCloudOps() error {
	if !x.c.cloud {
		return nil
	}
	for i, op := range x.ops {
		var err error
		switch o := op.(type) {
		case datomic.ForcePartition:
			err = cloudErr(datomic.ErrNotAnAttribute, i, ":db/force-partition: Datomic Cloud places new entities itself (no partition control)")
		case datomic.Add:
			err = x.refuseCloudPair(i, o.A, o.V)
		case datomic.Retract:
			err = x.refuseCloudPair(i, o.A, nil)
		case datomic.CAS:
			err = x.refuseCloudPair(i, o.A, o.New)
		case datomic.EntityMap:
			err = x.refuseCloudMap(i, o)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// refuseCloudMap checks the attributes and values of an entity map and of
// the maps nested in it.
func (x *txState) refuseCloudMap(op int, m datomic.EntityMap) error {
	for k, v := range m {
		if k == datomic.DBID {
			continue
		}
		vals, ok := v.([]any)
		if !ok {
			vals = []any{v}
		}
		for _, e := range vals {
			if nm, ok := asMap(e); ok {
				if err := x.refuseCloudMap(op, nm); err != nil {
					return err
				}
				continue
			}
			var err error
			if k.IsReverse() {
				err = x.refuseCloudPair(op, k.Reverse(), nil)
			} else {
				err = x.refuseCloudPair(op, k, e)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// refuseCloudPair refuses attribute a (with value v, nil when it does not
// matter) where Datomic Cloud has no such attribute or value.
func (x *txState) refuseCloudPair(op int, a, v any) error {
	k := x.cloudIdent(a)
	switch {
	case k == "db/excise" || k.Namespace() == "db.excise":
		return cloudErr(datomic.ErrNotAnAttribute, op, "%s: Datomic Cloud has no excision", k)
	case k == "db/force-partition" || k == "db/match-partition":
		return cloudErr(datomic.ErrNotAnAttribute, op, "%s: Datomic Cloud places new entities itself (no partition control)", k)
	case k == "db.install/partition":
		return cloudErr(datomic.ErrInvalidOp, op, "%s: Datomic Cloud has no named partitions", k)
	case k == "db/fulltext" && v == true:
		return cloudErr(datomic.ErrNotAnAttribute, op, "%s: Datomic Cloud has no full-text search", k)
	case k == "db/valueType":
		if vt := datomic.ValueTypeOf(x.cloudIdent(v)); vt == datomic.TypeBytes || vt == datomic.TypeFn {
			return cloudErr(datomic.ErrNotAnEntity, op, "%s: Datomic Cloud has no value type %s", k, vt.Ident())
		}
	}
	return nil
}

// cloudIdent returns the ident that an attribute position or an enum value
// names ("" for none).
func (x *txState) cloudIdent(a any) datomic.Keyword {
	switch v := a.(type) {
	case datomic.Keyword:
		return v
	case int64:
		return x.c.names[v]
	case int:
		return x.c.names[int64(v)]
	}
	return ""
}

// refuseCloudDatoms refuses, in Cloud mode, the datoms of a transaction
// that Datomic Cloud would not accept: strings over Cloud's lengths
// (composite tuples included, which the transaction has computed by now),
// values of the types Cloud does not have, and, should refuseCloudOps
// have let them through, the schema it refuses.
func (x *txState) refuseCloudDatoms() error {
	if !x.c.cloud {
		return nil
	}
	s := &x.c.sys
	for i := range x.out {
		d := &x.out[i]
		if !d.added {
			continue
		}
		op := int(d.op)
		switch d.a {
		case s.valueType:
			if vt := s.types[d.v.(int64)]; vt == datomic.TypeBytes || vt == datomic.TypeFn {
				return cloudErr(datomic.ErrNotAnEntity, op, "%s: Datomic Cloud has no value type %s",
					fmtDatom("db/add", d.e, d.ai.Ident, vt.Ident()), vt.Ident())
			}
		case s.fulltext:
			if d.v == true {
				return cloudErr(datomic.ErrNotAnAttribute, op, "%s: Datomic Cloud has no full-text search",
					fmtDatom("db/add", d.e, d.ai.Ident, d.v))
			}
		case s.installPart:
			return cloudErr(datomic.ErrInvalidOp, op, "%s: Datomic Cloud has no named partitions",
				fmtDatom("db/add", d.e, d.ai.Ident, d.v))
		}
		if err := refuseCloudValue(op, d); err != nil {
			return err
		}
	}
	return nil
}

// refuseCloudValue checks the value of an asserted datom.
func refuseCloudValue(op int, d *datum) error {
	switch v := d.v.(type) {
	case string:
		if n := CloudStringLen(v); n > CloudMaxStringLen {
			return cloudErr(datomic.ErrIncorrect, op, "%s: a string of %d characters; Datomic Cloud takes at most %d",
				fmtDatom("db/add", d.e, d.ai.Ident, abbrev(v)), n, CloudMaxStringLen)
		}
	case datomic.Tuple:
		for j, el := range v {
			s, ok := el.(string)
			if !ok {
				continue
			}
			if n := CloudStringLen(s); n > CloudMaxTupleStringLen {
				return cloudErr(datomic.ErrIncorrect, op, "%s: element %d of the tuple is a string of %d characters; Datomic Cloud takes at most %d in a tuple",
					fmtDatom("db/add", d.e, d.ai.Ident, abbrev(s)), j, n, CloudMaxTupleStringLen)
			}
		}
	case []byte:
		return cloudErr(datomic.ErrNotAnEntity, op, "%s: Datomic Cloud has no value type :db.type/bytes",
			fmtDatom("db/add", d.e, d.ai.Ident, v))
	case datomic.Fn:
		return cloudErr(datomic.ErrNotAnEntity, op, "%s: Datomic Cloud has no value type :db.type/fn",
			fmtDatom("db/add", d.e, d.ai.Ident, "#db/fn{...}"))
	}
	return nil
}

// abbrev shortens a long string for a message.
func abbrev(s string) string {
	const keep = 40
	if len(s) <= keep {
		return s
	}
	cut := keep
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s... (%d bytes)", s[:cut], len(s))
}
