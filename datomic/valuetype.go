package datomic

import (
	"fmt"
	"math/big"
	"time"
)

// ValueType is an attribute's :db/valueType.
type ValueType uint8

// The value types of Datomic.
const (
	TypeInvalid ValueType = iota
	TypeRef
	TypeKeyword
	TypeSymbol
	TypeString
	TypeBoolean
	TypeLong
	TypeBigInt
	TypeFloat
	TypeDouble
	TypeBigDec
	TypeInstant
	TypeUUID
	TypeURI
	TypeBytes
	TypeTuple
	// TypeFn is :db.type/fn, Datomic Pro's stored functions ([Fn]).
	TypeFn
)

var valueTypeIdents = [...]Keyword{
	TypeInvalid: "",
	TypeRef:     "db.type/ref",
	TypeKeyword: "db.type/keyword",
	TypeSymbol:  "db.type/symbol",
	TypeString:  "db.type/string",
	TypeBoolean: "db.type/boolean",
	TypeLong:    "db.type/long",
	TypeBigInt:  "db.type/bigint",
	TypeFloat:   "db.type/float",
	TypeDouble:  "db.type/double",
	TypeBigDec:  "db.type/bigdec",
	TypeInstant: "db.type/instant",
	TypeUUID:    "db.type/uuid",
	TypeURI:     "db.type/uri",
	TypeBytes:   "db.type/bytes",
	TypeTuple:   "db.type/tuple",
	TypeFn:      "db.type/fn",
}

// ValueTypes lists the value types of Datomic Cloud and Pro, without
// TypeFn (Datomic Pro's stored functions).
func ValueTypes() []ValueType {
	out := make([]ValueType, 0, len(valueTypeIdents)-1)
	for t := TypeRef; t <= TypeTuple; t++ {
		out = append(out, t)
	}
	return out
}

// Ident returns the value type's ident, e.g. :db.type/ref.
func (t ValueType) Ident() Keyword {
	if int(t) < len(valueTypeIdents) {
		return valueTypeIdents[t]
	}
	return ""
}

// String returns the ident as EDN.
func (t ValueType) String() string {
	if k := t.Ident(); k != "" {
		return k.String()
	}
	return fmt.Sprintf("ValueType(%d)", uint8(t))
}

// ValueTypeOf returns the value type named by ident, or TypeInvalid.
func ValueTypeOf(ident Keyword) ValueType {
	for t, k := range valueTypeIdents {
		if k == ident && k != "" {
			return ValueType(t)
		}
	}
	return TypeInvalid
}

// Check reports whether v has the Go type that represents t (see the package
// documentation). Tuple elements are not checked here; see Attribute.CheckValue.
func (t ValueType) Check(v any) bool {
	switch v.(type) {
	case int64:
		return t == TypeRef || t == TypeLong
	case Keyword:
		return t == TypeKeyword
	case Symbol:
		return t == TypeSymbol
	case string:
		return t == TypeString
	case bool:
		return t == TypeBoolean
	case *big.Int:
		return t == TypeBigInt && v.(*big.Int) != nil
	case float32:
		return t == TypeFloat
	case float64:
		return t == TypeDouble
	case BigDec:
		return t == TypeBigDec && v.(BigDec).Unscaled != nil
	case time.Time:
		return t == TypeInstant
	case UUID:
		return t == TypeUUID
	case URI:
		return t == TypeURI
	case []byte:
		return t == TypeBytes
	case Tuple:
		return t == TypeTuple
	case Fn:
		return t == TypeFn
	}
	return false
}
