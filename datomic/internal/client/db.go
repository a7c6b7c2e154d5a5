package client

import (
	"context"
	"fmt"
	"iter"
	"strings"
	"sync"

	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/internal/transit"
)

// DB is a database value of a connection: the database at one
// basis (and, after AsOf, as of an earlier t). It implements datomic.DB by
// reading the server's indexes; idents and attributes it has read are
// remembered for the life of the value.
type DB struct {
	conn     *Conn
	t, nextT int64
	asOf     int64 // 0: none

	idents identCache
	mu     sync.Mutex
	attrs  map[int64]datomic.Attribute
}

func (c *Conn) newDB(t, nextT int64) *DB {
	return &DB{conn: c, t: t, nextT: nextT}
}

// BasisT is the basis t of the value (the as-of t when that is earlier).
func (d *DB) BasisT() int64 {
	if d.asOf > 0 && d.asOf < d.t {
		return d.asOf
	}
	return d.t
}

// AsOf returns the database as of basis t.
func (d *DB) AsOf(t int64) datomic.DB {
	return &DB{conn: d.conn, t: d.t, nextT: d.nextT, asOf: t}
}

// context is the request context of the value.
func (d *DB) context() transit.Map {
	m := transit.Map{kv(kwDBName, d.conn.dbName), kv(kwDatabaseID, d.conn.databaseID), kv(kwT, d.t), kv(kwNextT, d.nextT)}
	if d.asOf > 0 {
		m = append(m, kv(kwAsOf, d.asOf))
	}
	return m
}

// componentToWire converts an index component (id, ident or value).
func componentToWire(v any) (any, error) {
	switch v.(type) {
	case datomic.TempID, datomic.EntityMap:
		return nil, fmt.Errorf("%T is not an index component", v)
	}
	return valueToWire(v)
}

// rawDatoms streams datoms as the server sent them (values not normalised).
func (d *DB) rawDatoms(ctx context.Context, op string, req transit.Map, each func(datomic.Datom) bool) error {
	reqCtx := d.context()
	req = with(with(reqCtx, req...), kv(kwOp, datomic.Keyword(op)), kv(kwOffset, int64(0)), kv(kwLimit, int64(-1)),
		kv(kwChunk, int64(d.conn.t.DatomsChunk)), kv(kwTimeout, d.conn.timeoutMillis()))
	return d.conn.stream(ctx, op, req, reqCtx, func(resp transit.Map) (bool, error) {
		ds, err := datomsOf(d.conn.label(op), firstOf(resp.Get(kwData)))
		if err != nil {
			return false, err
		}
		for _, dt := range ds {
			if !each(dt) {
				return false, nil
			}
		}
		return true, nil
	})
}

func datomsRequest(index datomic.Index, components []any) (transit.Map, error) {
	keys, ok := indexKeys[index]
	if !ok {
		return nil, fmt.Errorf("unknown index %v", index)
	}
	if len(components) > len(keys) {
		return nil, fmt.Errorf("%d components for index %v", len(components), index)
	}
	req := transit.Map{kv(kwIndex, datomic.Keyword(index.String()))}
	for i, c := range components {
		w, err := componentToWire(c)
		if err != nil {
			return nil, err
		}
		req = append(req, kv(keys[i], w))
	}
	return req, nil
}

// streamNormalized runs a datoms-like read and yields normalised datoms.
func (d *DB) streamNormalized(ctx context.Context, op string, req transit.Map, yield func(datomic.Datom, error) bool) {
	norm := d.conn.normalizerFor(d)
	stopped := false
	var nerr error
	err := d.rawDatoms(ctx, op, req, func(dt datomic.Datom) bool {
		one := []datomic.Datom{dt}
		if nerr = norm.datoms(ctx, op, one); nerr != nil {
			return false
		}
		if !yield(one[0], nil) {
			stopped = true
			return false
		}
		return true
	})
	if err == nil {
		err = nerr
	}
	if err != nil && !stopped {
		yield(datomic.Datom{}, err)
	}
}

// Datoms streams the datoms of index whose leading components equal
// components, DatomsChunk datoms per request.
func (d *DB) Datoms(ctx context.Context, index datomic.Index, components ...any) iter.Seq2[datomic.Datom, error] {
	return func(yield func(datomic.Datom, error) bool) {
		req, err := datomsRequest(index, components)
		if err != nil {
			yield(datomic.Datom{}, &datomic.Error{Category: datomic.CatIncorrect, Message: d.conn.label("datoms") + ": " + err.Error(), Op: -1})
			return
		}
		d.streamNormalized(ctx, "datoms", req, yield)
	}
}

// IndexRange streams the AVET datoms of attr with values in [start, end).
func (d *DB) IndexRange(ctx context.Context, attr any, start, end any) iter.Seq2[datomic.Datom, error] {
	return func(yield func(datomic.Datom, error) bool) {
		a, err := componentToWire(attr)
		if err == nil {
			var s, e any
			if s, err = componentToWire(start); err == nil {
				e, err = componentToWire(end)
			}
			if err == nil {
				req := transit.Map{kv(kwAttrID, a)}
				if s != nil {
					req = append(req, kv(kwStart, s))
				}
				if e != nil {
					req = append(req, kv(kwEnd, e))
				}
				d.streamNormalized(ctx, "index-range", req, yield)
				return
			}
		}
		yield(datomic.Datom{}, &datomic.Error{Category: datomic.CatIncorrect, Message: d.conn.label("index-range") + ": " + err.Error(), Op: -1})
	}
}

// Ident returns the ident of entity id.
func (d *DB) Ident(ctx context.Context, id int64) (datomic.Keyword, bool, error) {
	if k, ok := d.conn.sys.get(id); ok {
		return k, true, nil
	}
	if k, ok := d.idents.get(id); ok {
		return k, k != "", nil
	}
	var found datomic.Keyword
	req := transit.Map{kv(kwIndex, datomic.Keyword("eavt")), kv("e", id), kv("a", kwIdent)}
	err := d.rawDatoms(ctx, "datoms", req, func(dt datomic.Datom) bool {
		if k, ok := dt.V.(datomic.Keyword); ok {
			found = k
		}
		return false
	})
	if err != nil {
		return "", false, err
	}
	if isSystemIdent(found) {
		d.conn.sys.put(id, found)
	} else {
		d.idents.put(id, found)
	}
	return found, found != "", nil
}

// Entid returns the entity id of ident.
func (d *DB) Entid(ctx context.Context, ident datomic.Keyword) (int64, bool, error) {
	if id, ok := d.conn.sys.getID(ident); ok {
		return id, true, nil
	}
	var id int64
	found := false
	req := transit.Map{kv(kwIndex, datomic.Keyword("avet")), kv("a", kwIdent), kv("v", ident)}
	err := d.rawDatoms(ctx, "datoms", req, func(dt datomic.Datom) bool {
		if k, ok := dt.V.(datomic.Keyword); ok && k == ident {
			id, found = dt.E, true
		}
		return false
	})
	if err != nil {
		return 0, false, err
	}
	if found && isSystemIdent(ident) {
		d.conn.sys.put(id, ident)
	}
	return id, found, nil
}

// isSystemIdent reports whether k names a bootstrap entity (:db/*, :db.type/*,
// :db.cardinality/* ...), whose id never changes.
func isSystemIdent(k datomic.Keyword) bool {
	ns := k.Namespace()
	return ns == "db" || strings.HasPrefix(ns, "db.") || ns == "fressian"
}

// Attribute describes the attribute named by an id (int64) or ident (Keyword).
func (d *DB) Attribute(ctx context.Context, attr any) (datomic.Attribute, bool, error) {
	var id int64
	switch x := attr.(type) {
	case int64:
		id = x
	case int:
		id = int64(x)
	case datomic.Keyword:
		eid, ok, err := d.Entid(ctx, x)
		if err != nil || !ok {
			return datomic.Attribute{}, false, err
		}
		id = eid
	default:
		return datomic.Attribute{}, false, &datomic.Error{Category: datomic.CatIncorrect,
			Message: fmt.Sprintf("%s: %T names no attribute", d.conn.label("attribute"), attr), Op: -1}
	}
	d.mu.Lock()
	a, ok := d.attrs[id]
	d.mu.Unlock()
	if ok {
		return a, a.ValueType != datomic.TypeInvalid, nil
	}
	a, err := d.readAttribute(ctx, id)
	if err != nil {
		return datomic.Attribute{}, false, err
	}
	d.mu.Lock()
	if d.attrs == nil {
		d.attrs = make(map[int64]datomic.Attribute)
	}
	d.attrs[id] = a
	d.mu.Unlock()
	return a, a.ValueType != datomic.TypeInvalid, nil
}

// readAttribute reads the schema datoms of entity id.
func (d *DB) readAttribute(ctx context.Context, id int64) (datomic.Attribute, error) {
	var ds []datomic.Datom
	req := transit.Map{kv(kwIndex, datomic.Keyword("eavt")), kv("e", id)}
	err := d.rawDatoms(ctx, "datoms", req, func(dt datomic.Datom) bool {
		ds = append(ds, dt)
		return len(ds) < 10000
	})
	if err != nil {
		return datomic.Attribute{}, err
	}
	a := datomic.Attribute{ID: id, Cardinality: datomic.CardinalityOne}
	identOf := func(v any) (datomic.Keyword, error) {
		switch x := v.(type) {
		case datomic.Keyword:
			return x, nil
		case int64:
			k, _, err := d.Ident(ctx, x)
			return k, err
		}
		return "", nil
	}
	keywords := func(v any) ([]datomic.Keyword, error) {
		var xs []any
		switch x := v.(type) {
		case []any:
			xs = x
		case datomic.Tuple:
			xs = x
		}
		out := make([]datomic.Keyword, 0, len(xs))
		for _, e := range xs {
			k, err := identOf(e)
			if err != nil {
				return nil, err
			}
			out = append(out, k)
		}
		return out, nil
	}
	for _, dt := range ds {
		name, _, err := d.Ident(ctx, dt.A)
		if err != nil {
			return a, err
		}
		var k datomic.Keyword
		switch name {
		case "db/ident":
			a.Ident, _ = dt.V.(datomic.Keyword)
		case "db/valueType":
			if k, err = identOf(dt.V); err == nil {
				a.ValueType = datomic.ValueTypeOf(k)
			}
		case "db/cardinality":
			if k, err = identOf(dt.V); err == nil && k == datomic.CardinalityMany.Ident() {
				a.Cardinality = datomic.CardinalityMany
			}
		case "db/unique":
			if k, err = identOf(dt.V); err == nil {
				switch k {
				case datomic.UniqueValue.Ident():
					a.Unique = datomic.UniqueValue
				case datomic.UniqueIdentity.Ident():
					a.Unique = datomic.UniqueIdentity
				}
			}
		case "db/isComponent":
			a.IsComponent, _ = dt.V.(bool)
		case "db/noHistory":
			a.NoHistory, _ = dt.V.(bool)
		case "db/index":
			a.Index, _ = dt.V.(bool)
		case "db/fulltext":
			a.Fulltext, _ = dt.V.(bool)
		case "db/tupleAttrs":
			a.TupleAttrs, err = keywords(dt.V)
		case "db/tupleType":
			if k, err = identOf(dt.V); err == nil {
				a.TupleType = datomic.ValueTypeOf(k)
			}
		case "db/tupleTypes":
			var ks []datomic.Keyword
			if ks, err = keywords(dt.V); err == nil {
				for _, k := range ks {
					a.TupleTypes = append(a.TupleTypes, datomic.ValueTypeOf(k))
				}
			}
		}
		if err != nil {
			return a, err
		}
	}
	return a, nil
}

// identCache maps entity ids to idents (and back), safe for concurrent use.
type identCache struct {
	mu   sync.Mutex
	byID map[int64]datomic.Keyword
	byKw map[datomic.Keyword]int64
}

func (c *identCache) get(id int64) (datomic.Keyword, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k, ok := c.byID[id]
	return k, ok
}

func (c *identCache) getID(k datomic.Keyword) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id, ok := c.byKw[k]
	return id, ok
}

func (c *identCache) put(id int64, k datomic.Keyword) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byID == nil {
		c.byID = make(map[int64]datomic.Keyword)
		c.byKw = make(map[datomic.Keyword]int64)
	}
	c.byID[id] = k
	if k != "" {
		c.byKw[k] = id
	}
}
