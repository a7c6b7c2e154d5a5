package datomic

// Cardinality is an attribute's :db/cardinality.
type Cardinality uint8

// Cardinalities.
const (
	CardinalityOne Cardinality = iota + 1
	CardinalityMany
)

// Ident returns :db.cardinality/one or :db.cardinality/many.
func (c Cardinality) Ident() Keyword {
	if c == CardinalityMany {
		return "db.cardinality/many"
	}
	return "db.cardinality/one"
}

// Unique is an attribute's :db/unique (or none).
type Unique uint8

// Uniqueness kinds.
const (
	UniqueNone Unique = iota
	UniqueValue
	UniqueIdentity
)

// Ident returns :db.unique/value, :db.unique/identity or "" for none.
func (u Unique) Ident() Keyword {
	switch u {
	case UniqueValue:
		return "db.unique/value"
	case UniqueIdentity:
		return "db.unique/identity"
	}
	return ""
}

// Attribute describes an installed attribute.
type Attribute struct {
	ID          int64
	Ident       Keyword
	ValueType   ValueType
	Cardinality Cardinality
	Unique      Unique
	IsComponent bool
	NoHistory   bool
	Index       bool
	Fulltext    bool
	// TupleAttrs names the attributes of a composite tuple, whose values
	// the database maintains itself.
	TupleAttrs []Keyword
	// TupleType is the element type of a homogeneous tuple.
	TupleType ValueType
	// TupleTypes are the element types of a heterogeneous tuple.
	TupleTypes []ValueType
}

// IsRef reports whether values of a are entity ids.
func (a Attribute) IsRef() bool { return a.ValueType == TypeRef }

// IsComposite reports whether a is a composite tuple (:db/tupleAttrs).
func (a Attribute) IsComposite() bool { return len(a.TupleAttrs) > 0 }

// IsMany reports whether a has cardinality many.
func (a Attribute) IsMany() bool { return a.Cardinality == CardinalityMany }

// TupleElemType returns the value type of element i of a homogeneous or
// heterogeneous tuple, or TypeInvalid when it is not known from the
// attribute alone (composite tuples take their element types from the
// attributes they name).
func (a Attribute) TupleElemType(i int) ValueType {
	switch {
	case a.TupleType != TypeInvalid:
		return a.TupleType
	case i < len(a.TupleTypes):
		return a.TupleTypes[i]
	}
	return TypeInvalid
}

// HasRefsInTuple reports whether a tuple attribute may hold entity ids.
func (a Attribute) HasRefsInTuple() bool {
	if a.TupleType == TypeRef {
		return true
	}
	for _, t := range a.TupleTypes {
		if t == TypeRef {
			return true
		}
	}
	return false
}
