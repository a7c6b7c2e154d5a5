package edn

import (
	"math"
	"math/big"
	"time"

	"github.com/dcbackup/dcbackup/datomic"
)

// Map is an EDN map, kept in the order its entries were read. Keys may be of
// any EDN type, including collections, which a Go map could not hold.
type Map []Entry

// Entry is one key/value pair of a [Map].
type Entry struct {
	Key   any
	Value any
}

// Get returns the value stored under key, compared with [Equal].
func (m Map) Get(key any) (any, bool) {
	for _, e := range m {
		if Equal(e.Key, key) {
			return e.Value, true
		}
	}
	return nil, false
}

// Keyword returns the value stored under the keyword k.
func (m Map) Keyword(k datomic.Keyword) (any, bool) {
	for _, e := range m {
		if kw, ok := e.Key.(datomic.Keyword); ok && kw == k {
			return e.Value, true
		}
	}
	return nil, false
}

// List is an EDN list, such as (a b c). Vectors decode to []any.
type List []any

// Set is an EDN set, #{...}, with its elements in the order they were read.
type Set []any

// Char is an EDN character, such as \a or \newline.
type Char rune

// Tagged is a tagged element whose tag the reader does not interpret, such
// as #db/fn {...} or #myapp/thing [1 2]. Value is the element as read.
type Tagged struct {
	Tag   datomic.Symbol
	Value any
}

// Equal reports whether a and b are the same EDN value: same Go type and
// same contents. It also compares the datomic values the converter makes
// (Tuple, LookupRef, EntityMap). Maps and sets compare without regard to order; big
// integers, big decimals (including scale) and instants compare by value;
// two NaNs are equal so that every value equals itself.
func Equal(a, b any) bool {
	switch x := a.(type) {
	case []any:
		y, ok := b.([]any)
		return ok && seqEqual(x, y)
	case List:
		y, ok := b.(List)
		return ok && seqEqual(x, y)
	case datomic.Tuple:
		y, ok := b.(datomic.Tuple)
		return ok && seqEqual(x, y)
	case Set:
		y, ok := b.(Set)
		return ok && len(x) == len(y) && subset(x, y)
	case Map:
		y, ok := b.(Map)
		if !ok || len(x) != len(y) {
			return false
		}
		for _, e := range x {
			v, ok := y.Get(e.Key)
			if !ok || !Equal(e.Value, v) {
				return false
			}
		}
		return true
	case Tagged:
		y, ok := b.(Tagged)
		return ok && x.Tag == y.Tag && Equal(x.Value, y.Value)
	case *big.Int:
		y, ok := b.(*big.Int)
		return ok && (x == y || x != nil && y != nil && x.Cmp(y) == 0)
	case datomic.BigDec:
		y, ok := b.(datomic.BigDec)
		return ok && x.Equal(y)
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	case float64:
		y, ok := b.(float64)
		return ok && (x == y || math.IsNaN(x) && math.IsNaN(y))
	case float32:
		y, ok := b.(float32)
		return ok && (x == y || x != x && y != y)
	case []byte:
		y, ok := b.([]byte)
		return ok && string(x) == string(y)
	case datomic.LookupRef:
		y, ok := b.(datomic.LookupRef)
		return ok && Equal(x.A, y.A) && Equal(x.V, y.V)
	case datomic.Fn:
		y, ok := b.(datomic.Fn)
		return ok && x.Equal(y)
	case datomic.EntityMap:
		y, ok := b.(datomic.EntityMap)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !Equal(v, w) {
				return false
			}
		}
		return true
	}
	if !comparableValue(a) || !comparableValue(b) {
		return false
	}
	return a == b
}

func seqEqual(x, y []any) bool {
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if !Equal(x[i], y[i]) {
			return false
		}
	}
	return true
}

// subset reports whether every element of x is in y.
func subset(x, y []any) bool {
	for _, e := range x {
		found := false
		for _, f := range y {
			if Equal(e, f) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// comparableValue reports whether v may be compared with == without panic
// and with the right meaning.
func comparableValue(v any) bool {
	switch v.(type) {
	case nil, bool, int64, int, string, datomic.Keyword, datomic.Symbol, Char,
		datomic.UUID, datomic.URI, datomic.TempID:
		return true
	}
	return false
}

// keySet detects duplicate keys of maps and elements of sets: values with a
// hashable representation go into a Go map, others are compared one by one.
type keySet struct {
	hashed map[any]struct{}
	others []any
}

// add records v and reports false if an equal value was already present.
func (s *keySet) add(v any) bool {
	if comparableValue(v) {
		if s.hashed == nil {
			s.hashed = make(map[any]struct{})
		}
		if _, dup := s.hashed[v]; dup {
			return false
		}
		s.hashed[v] = struct{}{}
		return true
	}
	for _, o := range s.others {
		if Equal(o, v) {
			return false
		}
	}
	s.others = append(s.others, v)
	return true
}
