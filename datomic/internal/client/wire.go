package client

import (
	"crypto/rand"
	"fmt"
	"math/big"

	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/internal/transit"
)

// Keywords of the protocol's request and response maps.
var (
	kwOp         = datomic.Keyword("op")
	kwDBName     = datomic.Keyword("db-name")
	kwDatabaseID = datomic.Keyword("database-id")
	kwT          = datomic.Keyword("t")
	kwNextT      = datomic.Keyword("next-t")
	kwAsOf       = datomic.Keyword("as-of")
	kwNextToken  = datomic.Keyword("next-token")
	kwNextOffset = datomic.Keyword("next-offset")
	kwChunk      = datomic.Keyword("chunk")
	kwOffset     = datomic.Keyword("offset")
	kwLimit      = datomic.Keyword("limit")
	kwTimeout    = datomic.Keyword("timeout")
	kwData       = datomic.Keyword("data")
	kwDBs        = datomic.Keyword("dbs")
	kwStart      = datomic.Keyword("start")
	kwEnd        = datomic.Keyword("end")
	kwTxID       = datomic.Keyword("tx-id")
	kwTxData     = datomic.Keyword("tx-data")
	kwDBBefore   = datomic.Keyword("db-before")
	kwDBAfter    = datomic.Keyword("db-after")
	kwTempids    = datomic.Keyword("tempids")
	kwIndex      = datomic.Keyword("index")
	kwAttrID     = datomic.Keyword("attrid")
)

// Transaction operation keywords.
var (
	kwAdd           = datomic.Keyword("db/add")
	kwRetract       = datomic.Keyword("db/retract")
	kwCAS           = datomic.Keyword("db/cas")
	kwRetractEntity = datomic.Keyword("db/retractEntity")
	kwForcePart     = datomic.Keyword("db/force-partition")
)

// indexKeys are the request keys of an index's components, in index order.
var indexKeys = map[datomic.Index][]datomic.Keyword{
	datomic.EAVT: {"e", "a", "v"},
	datomic.AEVT: {"a", "e", "v"},
	datomic.AVET: {"a", "v", "e"},
	datomic.VAET: {"v", "a", "e"},
}

// txData converts ops to the protocol's tx-data: list forms as vectors,
// entity maps as maps, tempids as strings, lookup refs as vectors.
func txData(label string, ops []datomic.Op) ([]any, error) {
	out := make([]any, 0, len(ops))
	for i, op := range ops {
		w, err := opToWire(op)
		if err != nil {
			return nil, &datomic.Error{Category: datomic.CatIncorrect, Code: datomic.ErrInvalidOp.Code,
				Message: fmt.Sprintf("%s: %v", label, err), Op: i}
		}
		out = append(out, w)
	}
	return out, nil
}

func opToWire(op datomic.Op) (any, error) {
	switch o := op.(type) {
	case datomic.Add:
		return list(kwAdd, o.E, o.A, o.V)
	case datomic.Retract:
		return list(kwRetract, o.E, o.A, o.V)
	case datomic.CAS:
		return list(kwCAS, o.E, o.A, o.Old, o.New)
	case datomic.RetractEntity:
		return list(kwRetractEntity, o.E)
	case datomic.EntityMap:
		return entityMap(o)
	case datomic.ForcePartition:
		return forcePartition(o)
	case nil:
		return nil, fmt.Errorf("nil operation")
	}
	return nil, fmt.Errorf("unsupported operation %T", op)
}

func list(fn datomic.Keyword, args ...any) (any, error) {
	out := make([]any, 0, 1+len(args))
	out = append(out, fn)
	for _, a := range args {
		w, err := valueToWire(a)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, nil
}

func entityMap(m datomic.EntityMap) (any, error) {
	out := make(map[datomic.Keyword]any, len(m))
	for k, v := range m {
		w, err := valueToWire(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out[k] = w
	}
	return out, nil
}

// forcePartition converts the directive to its map form
// {:db/force-partition {"tempid" partition}}, the partition as an entity id
// or an ident.
func forcePartition(f datomic.ForcePartition) (any, error) {
	parts := make(map[string]any, len(f))
	for tmp, p := range f {
		switch v := p.(type) {
		case int64, datomic.Keyword:
			parts[string(tmp)] = v
		case int:
			parts[string(tmp)] = int64(v)
		default:
			return nil, fmt.Errorf(":db/force-partition: partition of %q is %T, not an entity id or an ident", string(tmp), p)
		}
	}
	return map[datomic.Keyword]any{kwForcePart: parts}, nil
}

// valueToWire converts an entity, attribute or value position to the wire.
func valueToWire(v any) (any, error) {
	switch x := v.(type) {
	case datomic.TempID:
		return string(x), nil
	case datomic.LookupRef:
		a, err := valueToWire(x.A)
		if err != nil {
			return nil, err
		}
		val, err := valueToWire(x.V)
		if err != nil {
			return nil, err
		}
		return []any{a, val}, nil
	case datomic.EntityMap:
		return entityMap(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			w, err := valueToWire(e)
			if err != nil {
				return nil, err
			}
			out[i] = w
		}
		return out, nil
	case datomic.Tuple:
		out := make(datomic.Tuple, len(x))
		for i, e := range x {
			w, err := valueToWire(e)
			if err != nil {
				return nil, err
			}
			out[i] = w
		}
		return out, nil
	case int:
		return int64(x), nil
	case *big.Int:
		if x == nil {
			return nil, fmt.Errorf("nil *big.Int")
		}
	case datomic.BigDec:
		if x.Unscaled == nil {
			return nil, fmt.Errorf("BigDec without unscaled value")
		}
	}
	return v, nil
}

// randomUUID returns a version 4 UUID for :tx-id.
func randomUUID() datomic.UUID {
	var u datomic.UUID
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u
}

// datomsOf reads a vector of #datom values.
func datomsOf(label string, v any) ([]datomic.Datom, error) {
	if v == nil {
		return nil, nil
	}
	xs, ok := v.([]any)
	if !ok {
		return nil, malformed(label, "datoms are %T, not a vector", v)
	}
	out := make([]datomic.Datom, len(xs))
	for i, x := range xs {
		d, ok := x.(datomic.Datom)
		if !ok {
			return nil, malformed(label, "element %d is %T, not a datom", i, x)
		}
		out[i] = d
	}
	return out, nil
}

// with returns a copy of m with more entries.
func with(m transit.Map, kvs ...transit.KV) transit.Map {
	out := make(transit.Map, 0, len(m)+len(kvs))
	out = append(out, m...)
	for _, kv := range kvs {
		replaced := false
		for i := range out {
			if out[i].Key == kv.Key {
				out[i].Value = kv.Value
				replaced = true
				break
			}
		}
		if !replaced {
			out = append(out, kv)
		}
	}
	return out
}

func kv(k datomic.Keyword, v any) transit.KV { return transit.KV{Key: k, Value: v} }

var kwIdent = datomic.Keyword("db/ident")
