package peer

import (
	"context"
	"math/big"
	"sync"

	"github.com/dcbackup/dcbackup/datomic"
)

// Transit+json does not carry every distinction of Datomic's value types:
// a float and a double are both JSON numbers, and a tuple is a plain array.
// Values read from the server are therefore converted to the Go type of
// their attribute's value type (see package datomic), using the schema.

// attrType is what normalisation needs to know of an attribute.
type attrType struct {
	vt    datomic.ValueType
	elems func(i int) datomic.ValueType
}

// typeCache remembers attribute value types, which Datomic never changes.
type typeCache struct {
	mu sync.Mutex
	m  map[int64]attrType
}

func (c *typeCache) get(id int64) (attrType, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.m[id]
	return t, ok
}

func (c *typeCache) put(id int64, t attrType) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[int64]attrType)
	}
	c.m[id] = t
}

// normalizer converts datom values, reading the schema through db (the
// latest database when db is nil, fetched on first need).
type normalizer struct {
	conn *Conn
	db   *DB
}

func (c *Conn) normalizerFor(db *DB) *normalizer { return &normalizer{conn: c, db: db} }

func (n *normalizer) typeOf(ctx context.Context, attr int64) (attrType, error) {
	if t, ok := n.conn.types.get(attr); ok {
		return t, nil
	}
	if n.db == nil {
		db, err := n.conn.status(ctx)
		if err != nil {
			return attrType{}, err
		}
		n.db = db
	}
	a, ok, err := n.db.Attribute(ctx, attr)
	if err != nil {
		return attrType{}, err
	}
	if !ok {
		// Not an attribute in this value: leave values as read, do not cache.
		return attrType{}, nil
	}
	t := attrType{vt: a.ValueType}
	if a.ValueType == datomic.TypeTuple {
		switch {
		case len(a.TupleAttrs) > 0:
			types := make([]datomic.ValueType, len(a.TupleAttrs))
			for i, k := range a.TupleAttrs {
				ea, ok, err := n.db.Attribute(ctx, k)
				if err != nil {
					return attrType{}, err
				}
				if ok {
					types[i] = ea.ValueType
				}
			}
			t.elems = func(i int) datomic.ValueType {
				if i < len(types) {
					return types[i]
				}
				return datomic.TypeInvalid
			}
		default:
			t.elems = a.TupleElemType
		}
	}
	n.conn.types.put(attr, t)
	return t, nil
}

// datoms normalises the values of ds in place.
func (n *normalizer) datoms(ctx context.Context, op string, ds []datomic.Datom) error {
	for i := range ds {
		t, err := n.typeOf(ctx, ds[i].A)
		if err != nil {
			return err
		}
		v, ok := normalizeValue(ds[i].V, t.vt, t.elems)
		if !ok {
			return malformed(op, "value %s of attribute %d does not fit %v", datomic.FormatValue(ds[i].V), ds[i].A, t.vt)
		}
		ds[i].V = v
	}
	return nil
}

// normalizeValue converts v to the Go type of value type vt. It reports
// false for a value that cannot be of that type.
func normalizeValue(v any, vt datomic.ValueType, elems func(int) datomic.ValueType) (any, bool) {
	switch vt {
	case datomic.TypeInvalid:
		return v, true
	case datomic.TypeFloat:
		switch x := v.(type) {
		case float64:
			return float32(x), true
		case int64:
			return float32(x), true
		}
	case datomic.TypeDouble:
		if x, ok := v.(int64); ok {
			return float64(x), true
		}
	case datomic.TypeBigInt:
		if x, ok := v.(int64); ok {
			return big.NewInt(x), true
		}
	case datomic.TypeTuple:
		var xs []any
		switch x := v.(type) {
		case []any:
			xs = x
		case datomic.Tuple:
			xs = x
		default:
			return v, false
		}
		out := make(datomic.Tuple, len(xs))
		for i, e := range xs {
			et := datomic.TypeInvalid
			if elems != nil {
				et = elems(i)
			}
			if e == nil {
				continue
			}
			ev, ok := normalizeValue(e, et, nil)
			if !ok {
				return v, false
			}
			out[i] = ev
		}
		return out, true
	}
	return v, vt.Check(v)
}
