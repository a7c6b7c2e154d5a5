package peertest

import (
	"context"
	"fmt"
	"math/big"
	"net/http"

	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/internal/transit"
)

var (
	kwTxData   = datomic.Keyword("tx-data")
	kwDBBefore = datomic.Keyword("db-before")
	kwDBAfter  = datomic.Keyword("db-after")
	kwTempids  = datomic.Keyword("tempids")
	kwDBID     = datomic.Keyword("db/id")
	kwForce    = datomic.Keyword("db/force-partition")
)

func (s *Server) transact(ctx context.Context, d *database, req transit.Map) (int, transit.Map) {
	v, _ := req.Get(kwTxData)
	data, ok := v.([]any)
	if !ok {
		return incorrect(":tx-data is %T, not a vector", v)
	}
	db, err := d.conn.DB(ctx)
	if err != nil {
		return errorResponse(err)
	}
	conv := &txConv{ctx: ctx, db: db}
	ops := make([]datomic.Op, 0, len(data))
	for i, x := range data {
		var err error
		if ops, err = conv.ops(ops, x); err != nil {
			return http.StatusBadRequest, anomaly(datomic.CatIncorrect, datomic.ErrInvalidOp.Code,
				fmt.Sprintf("tx-data element %d: %v", i, err))
		}
	}
	rep, err := d.conn.Transact(ctx, ops)
	if err != nil {
		return errorResponse(err)
	}
	txData := make([]any, len(rep.TxData))
	for i, d := range rep.TxData {
		txData[i] = d
	}
	tempids := transit.Map{}
	for k, id := range rep.Tempids {
		tempids = append(tempids, transit.KV{Key: string(k), Value: id})
	}
	return http.StatusOK, transit.Map{
		{Key: kwDBBefore, Value: d.desc(rep.BasisBefore)},
		{Key: kwDBAfter, Value: d.desc(rep.BasisAfter)},
		{Key: kwTxData, Value: txData},
		{Key: kwTempids, Value: tempids},
	}
}

// txConv turns wire tx-data into operations, reading the schema to tell a
// tempid string from a string value and a lookup ref from a tuple.
type txConv struct {
	ctx context.Context
	db  datomic.DB
}

// ops appends the operations of tx-data element x: a map carrying
// :db/force-partition gives a datomic.ForcePartition, followed by the entity
// map of its other keys when it has any.
func (c *txConv) ops(ops []datomic.Op, x any) ([]datomic.Op, error) {
	m, ok := x.(transit.Map)
	if !ok {
		op, err := c.op(x)
		if err != nil {
			return ops, err
		}
		return append(ops, op), nil
	}
	v, ok := m.Get(kwForce)
	if !ok {
		op, err := c.entityMap(m)
		if err != nil {
			return ops, err
		}
		return append(ops, op), nil
	}
	f, err := forcePartition(v)
	if err != nil {
		return ops, err
	}
	ops = append(ops, f)
	rest := make(transit.Map, 0, len(m)-1)
	for _, kv := range m {
		if kv.Key != kwForce {
			rest = append(rest, kv)
		}
	}
	if len(rest) == 0 {
		return ops, nil
	}
	op, err := c.entityMap(rest)
	if err != nil {
		return ops, err
	}
	return append(ops, op), nil
}

// forcePartition decodes the value of :db/force-partition, a map from
// tempid strings to partition ids or idents.
func forcePartition(v any) (datomic.ForcePartition, error) {
	m, ok := v.(transit.Map)
	if !ok {
		return nil, fmt.Errorf(":db/force-partition is %T, not a map", v)
	}
	out := make(datomic.ForcePartition, len(m))
	for _, kv := range m {
		tmp, ok := kv.Key.(string)
		if !ok {
			return nil, fmt.Errorf(":db/force-partition key %v is not a tempid", kv.Key)
		}
		switch p := kv.Value.(type) {
		case int64, datomic.Keyword:
			out[datomic.TempID(tmp)] = p
		default:
			return nil, fmt.Errorf(":db/force-partition: partition %v of %q is not an entity id or an ident", kv.Value, tmp)
		}
	}
	return out, nil
}

func (c *txConv) op(x any) (datomic.Op, error) {
	switch v := x.(type) {
	case transit.Map:
		return c.entityMap(v)
	case []any:
		if len(v) == 0 {
			return nil, fmt.Errorf("empty list form")
		}
		fn, _ := v[0].(datomic.Keyword)
		args := v[1:]
		switch fn {
		case "db/add", "db/retract":
			if len(args) != 3 {
				return nil, fmt.Errorf("%v takes 3 arguments", fn)
			}
			e, err := c.entity(args[0])
			if err != nil {
				return nil, err
			}
			val, err := c.value(args[1], args[2], false)
			if err != nil {
				return nil, err
			}
			if fn == "db/add" {
				return datomic.Add{E: e, A: args[1], V: val}, nil
			}
			return datomic.Retract{E: e, A: args[1], V: val}, nil
		case "db/cas":
			if len(args) != 4 {
				return nil, fmt.Errorf(":db/cas takes 4 arguments")
			}
			e, err := c.entity(args[0])
			if err != nil {
				return nil, err
			}
			old, err := c.value(args[1], args[2], false)
			if err != nil {
				return nil, err
			}
			nv, err := c.value(args[1], args[3], false)
			if err != nil {
				return nil, err
			}
			return datomic.CAS{E: e, A: args[1], Old: old, New: nv}, nil
		case "db/retractEntity":
			if len(args) != 1 {
				return nil, fmt.Errorf(":db/retractEntity takes 1 argument")
			}
			e, err := c.entity(args[0])
			if err != nil {
				return nil, err
			}
			return datomic.RetractEntity{E: e}, nil
		}
		return nil, fmt.Errorf("unsupported operation %v", v[0])
	}
	return nil, fmt.Errorf("%T is not an operation", x)
}

func (c *txConv) entity(x any) (any, error) {
	switch v := x.(type) {
	case int64, datomic.Keyword:
		return v, nil
	case string:
		return datomic.TempID(v), nil
	case []any:
		if len(v) == 2 {
			val, err := c.value(v[0], v[1], false)
			if err != nil {
				return nil, err
			}
			return datomic.LookupRef{A: v[0], V: val}, nil
		}
	}
	return nil, fmt.Errorf("%v is not an entity reference", x)
}

func (c *txConv) entityMap(m transit.Map) (datomic.EntityMap, error) {
	out := make(datomic.EntityMap, len(m))
	for _, kv := range m {
		k, ok := kv.Key.(datomic.Keyword)
		if !ok {
			return nil, fmt.Errorf("entity map key %v is not a keyword", kv.Key)
		}
		if k == kwDBID {
			e, err := c.entity(kv.Value)
			if err != nil {
				return nil, err
			}
			out[k] = e
			continue
		}
		v, err := c.value(k, kv.Value, true)
		if err != nil {
			return nil, fmt.Errorf("%v: %w", k, err)
		}
		out[k] = v
	}
	return out, nil
}

// value converts the value of attribute a; inMap allows a collection of
// values for a cardinality-many attribute and nested entity maps.
func (c *txConv) value(a, x any, inMap bool) (any, error) {
	attr, known := c.attribute(a)
	if kw, ok := a.(datomic.Keyword); ok && kw.IsReverse() {
		attr, known = datomic.Attribute{ValueType: datomic.TypeRef, Cardinality: datomic.CardinalityMany}, true
	}
	if !known {
		return x, nil
	}
	if xs, ok := x.([]any); ok && inMap && attr.IsMany() {
		if attr.ValueType != datomic.TypeTuple || (len(xs) > 0 && isVector(xs[0])) {
			out := make([]any, len(xs))
			for i, e := range xs {
				v, err := c.one(attr, e, inMap)
				if err != nil {
					return nil, err
				}
				out[i] = v
			}
			return out, nil
		}
	}
	return c.one(attr, x, inMap)
}

func isVector(x any) bool { _, ok := x.([]any); return ok }

func (c *txConv) one(attr datomic.Attribute, x any, inMap bool) (any, error) {
	switch attr.ValueType {
	case datomic.TypeRef:
		switch v := x.(type) {
		case transit.Map:
			if !inMap {
				return nil, fmt.Errorf("nested entity map outside an entity map")
			}
			return c.entityMap(v)
		default:
			return c.entity(v)
		}
	case datomic.TypeTuple:
		xs, ok := x.([]any)
		if !ok {
			return nil, fmt.Errorf("tuple value %v is not a vector", x)
		}
		out := make(datomic.Tuple, len(xs))
		for i, e := range xs {
			out[i] = scalar(attr.TupleElemType(i), e)
		}
		return out, nil
	}
	return scalar(attr.ValueType, x), nil
}

// scalar converts a wire scalar to the Go type of vt.
func scalar(vt datomic.ValueType, x any) any {
	switch vt {
	case datomic.TypeFloat:
		switch v := x.(type) {
		case float64:
			return float32(v)
		case int64:
			return float32(v)
		}
	case datomic.TypeDouble:
		if v, ok := x.(int64); ok {
			return float64(v)
		}
	case datomic.TypeBigInt:
		if v, ok := x.(int64); ok {
			return big.NewInt(v)
		}
	case datomic.TypeRef:
		if s, ok := x.(string); ok {
			return datomic.TempID(s)
		}
	}
	return x
}

func (c *txConv) attribute(a any) (datomic.Attribute, bool) {
	attr, ok, err := c.db.Attribute(c.ctx, a)
	if err != nil || !ok {
		return datomic.Attribute{}, false
	}
	return attr, true
}
