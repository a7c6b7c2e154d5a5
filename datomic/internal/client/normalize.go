package client

import (
	"context"
	"math/big"
	"sync"

	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/internal/transit"
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
	// loadedAt is the basis of the last bulk load of value types.
	loadedAt int64
}

// needsLoad reports whether a bulk load at basis t could learn more, and
// if so marks it done.
func (c *typeCache) needsLoad(t int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t <= c.loadedAt {
		return false
	}
	c.loadedAt = t
	return true
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
	if n.conn.types.needsLoad(n.db.BasisT()) {
		if err := n.loadTypes(ctx); err != nil {
			return attrType{}, err
		}
		if t, ok := n.conn.types.get(attr); ok {
			return t, nil
		}
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

// loadTypes reads the value types of every attribute with one datoms read
// of :db/valueType, so that a log read does not ask for attributes one by
// one. Tuple attributes, which need more than their value type, are left
// to Attribute.
func (n *normalizer) loadTypes(ctx context.Context) error {
	var pairs [][2]int64
	req := transit.Map{kv(kwIndex, datomic.Keyword("aevt")), kv("a", datomic.Keyword("db/valueType"))}
	err := n.db.rawDatoms(ctx, "datoms", req, func(d datomic.Datom) bool {
		if vt, ok := d.V.(int64); ok {
			pairs = append(pairs, [2]int64{d.E, vt})
		}
		return true
	})
	if err != nil {
		return err
	}
	for _, p := range pairs {
		k, _, err := n.db.Ident(ctx, p[1])
		if err != nil {
			return err
		}
		if vt := datomic.ValueTypeOf(k); vt != datomic.TypeInvalid && vt != datomic.TypeTuple {
			n.conn.types.put(p[0], attrType{vt: vt})
		}
	}
	return nil
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
			return malformed(n.conn.label(op), "value %s of attribute %d does not fit %v", datomic.FormatValue(ds[i].V), ds[i].A, t.vt)
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
