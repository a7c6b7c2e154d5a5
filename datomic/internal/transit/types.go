// Package transit reads and writes transit+json (non-verbose), the encoding
// of the Datomic client protocol, mapping transit values to the Go types of
// package datomic.
//
// Decoded values have these Go types:
//
//	null, true/false     nil, bool
//	integer              int64 (or *big.Int when it does not fit)
//	float                float64
//	string               string
//	~:keyword            datomic.Keyword
//	~$symbol             datomic.Symbol
//	~n bigint            *big.Int
//	~f bigdec            datomic.BigDec (scale kept)
//	~m / ~t instant      time.Time (UTC)
//	~u uuid              datomic.UUID
//	~r uri               datomic.URI
//	~b bytes             []byte
//	~c char              Char
//	array                []any
//	map, cmap            Map (entries in wire order)
//	~#list               List
//	~#set                Set
//	~#datom              datomic.Datom
//	other tags           Tagged
//
// The writer accepts the same types plus int, the other sized integers,
// float32, datomic.Tuple (as an array), datomic.Datom, map[datomic.Keyword]any
// and map[string]any (keys sorted so output is deterministic).
package transit

import (
	"errors"
	"reflect"
)

// ErrMalformed is wrapped by every error that reports input that is not
// valid transit+json.
var ErrMalformed = errors.New("transit: malformed input")

// KV is one map entry.
type KV struct {
	Key, Value any
}

// Map is a transit map with its entries in wire order. Keys may be of any
// decoded type, including composite ones (from a ~#cmap).
type Map []KV

// Get returns the value stored under key k.
func (m Map) Get(k any) (any, bool) {
	for _, kv := range m {
		if keyEqual(kv.Key, k) {
			return kv.Value, true
		}
	}
	return nil, false
}

// List is a transit list (~#list).
type List []any

// Set is a transit set (~#set), its elements in wire order.
type Set []any

// Char is a transit character (~c).
type Char rune

// Tagged is a value with a tag this package does not know.
type Tagged struct {
	Tag string
	Rep any
}

func keyEqual(a, b any) bool {
	ta, tb := reflect.TypeOf(a), reflect.TypeOf(b)
	if ta != tb {
		return false
	}
	if ta == nil {
		return true
	}
	if ta.Comparable() {
		return a == b
	}
	return reflect.DeepEqual(a, b)
}
