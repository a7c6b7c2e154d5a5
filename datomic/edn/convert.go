package edn

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/dcbackup/dcbackup/datomic"
)

// ConvertOptions tune [ConvertTx]. The zero value converts without a schema.
type ConvertOptions struct {
	// Schema describes the attribute with the given ident, reporting false
	// for an unknown one. When nil, or for unknown attributes, the
	// converter decides by the shape of the data alone (see ConvertTx).
	Schema func(datomic.Keyword) (datomic.Attribute, bool)
}

// TxDataError reports transaction data that cannot be converted. It
// matches [ErrTxData] or, for data that is understood but not supported,
// [ErrUnsupported].
type TxDataError struct {
	// Op is the index of the offending operation in the transaction.
	Op int
	// Path names the attributes leading to the offending value, outermost
	// first, e.g. ":release/labels :label/country".
	Path string
	// Msg says what is wrong.
	Msg string
	// Err is ErrTxData or ErrUnsupported.
	Err error
}

// Error implements error.
func (e *TxDataError) Error() string {
	s := fmt.Sprintf("%v: op %d", e.Err, e.Op)
	if e.Path != "" {
		s += ": " + e.Path
	}
	return s + ": " + e.Msg
}

// Unwrap returns ErrTxData or ErrUnsupported.
func (e *TxDataError) Unwrap() error { return e.Err }

func bad(format string, args ...any) error {
	return &TxDataError{Msg: fmt.Sprintf(format, args...), Err: ErrTxData}
}

func unsupported(format string, args ...any) error {
	return &TxDataError{Msg: fmt.Sprintf(format, args...), Err: ErrUnsupported}
}

// inAttr adds attribute k to the path of a conversion error.
func inAttr(err error, k datomic.Keyword) error {
	if e, ok := err.(*TxDataError); ok {
		if e.Path == "" {
			e.Path = k.String()
		} else {
			e.Path = k.String() + " " + e.Path
		}
	}
	return err
}

// ConvertTx turns a transaction, a vector (or list) of entity maps and list
// forms as read by the [Decoder], into operations.
//
// Entity maps become [datomic.EntityMap]. Their :db/id, like every entity
// position, may be an integer id (negative numbers are tempids, as in old
// transaction data), a string (a tempid; "datomic.tx" is the transaction),
// a #db/id tempid, a keyword (an ident) or a two-element vector
// [:unique/attr value] (a lookup ref). A nested map is a nested entity map.
// List forms are [:db/add e a v], [:db/retract e a v], [:db/cas e a old new]
// and [:db/retractEntity e] (and the older :db.fn/cas and
// :db.fn/retractEntity); other transaction functions are [ErrUnsupported],
// as are tagged values the reader does not know. A #db/fn literal is a
// datomic.Fn value (of a :db.type/fn attribute such as :db/fn).
//
// Values: instants are truncated to milliseconds, keywords stay keywords
// (they are idents when the attribute is a ref) and a set always holds the
// values of a cardinality-many attribute. A vector is ambiguous without a
// schema; the rules are:
//
//   - With a schema entry for the attribute: a tuple attribute takes the
//     vector as a datomic.Tuple (or, when cardinality many and every element
//     is a vector, as several tuples); a ref attribute takes [k v] as a
//     lookup ref when k is a unique attribute (or, if k is unknown, by the
//     shape rule below); otherwise a cardinality-many attribute takes the
//     elements as its values ([]any) and a cardinality-one attribute
//     rejects the vector.
//   - Without one, a vector of two elements whose first is a namespaced
//     keyword and whose second is a scalar other than a keyword, such as
//     [:person/name "Joe"], is a lookup ref; any other vector holds the
//     values of a cardinality-many attribute in an entity map, and is a
//     tuple in a list form such as [:db/add e a v] (which takes one value).
//     Reverse attributes (:ns/_attr) are treated as refs. Give a schema for
//     data with tuple attributes in entity maps.
//
// With a schema, numbers are converted to the attribute's type (integers
// for :db.type/float, :db.type/double, :db.type/bigint and
// :db.type/bigdec; doubles for :db.type/float; big integers that fit for
// :db.type/long) and strings given for ref attributes become tempids.
func ConvertTx(form any, opts ConvertOptions) ([]datomic.Op, error) {
	items, ok := seqOf(form)
	if !ok {
		return nil, &TxDataError{Op: -1, Msg: fmt.Sprintf("transaction must be a vector, got %s", typeName(form)), Err: ErrTxData}
	}
	c := converter{schema: opts.Schema}
	ops := make([]datomic.Op, 0, len(items))
	for i, item := range items {
		op, err := c.op(item)
		if err != nil {
			if e, ok := err.(*TxDataError); ok {
				e.Op = i
			}
			return nil, err
		}
		ops = append(ops, op)
	}
	return ops, nil
}

// ConvertOp converts one operation of a transaction: an entity map or a
// list form. See [ConvertTx].
func ConvertOp(form any, opts ConvertOptions) (datomic.Op, error) {
	return converter{schema: opts.Schema}.op(form)
}

type converter struct {
	schema func(datomic.Keyword) (datomic.Attribute, bool)
}

func (c converter) op(form any) (datomic.Op, error) {
	if m, ok := form.(Map); ok {
		return c.entityMap(m)
	}
	if items, ok := seqOf(form); ok {
		return c.listForm(items)
	}
	return nil, bad("operation must be a map or a vector, got %s", typeName(form))
}

// attr looks up k in the schema. A reverse attribute is described as the
// cardinality-many ref it is from this side.
func (c converter) attr(k datomic.Keyword) (datomic.Attribute, bool) {
	if c.schema == nil {
		return datomic.Attribute{}, false
	}
	if k.IsReverse() {
		a, ok := c.schema(k.Reverse())
		if !ok {
			return a, false
		}
		return datomic.Attribute{ID: a.ID, Ident: k, ValueType: datomic.TypeRef, Cardinality: datomic.CardinalityMany}, true
	}
	return c.schema(k)
}

func (c converter) entityMap(m Map) (datomic.EntityMap, error) {
	em := make(datomic.EntityMap, len(m))
	for _, e := range m {
		k, ok := e.Key.(datomic.Keyword)
		if !ok {
			return nil, bad("entity map key %s is not a keyword", describe(e.Key))
		}
		if _, dup := em[k]; dup {
			return nil, bad("entity map has key %s twice", k)
		}
		var v any
		var err error
		if k == datomic.DBID {
			v, err = c.entity(e.Value)
		} else {
			v, err = c.value(k, e.Value)
		}
		if err != nil {
			return nil, inAttr(err, k)
		}
		em[k] = v
	}
	return em, nil
}

// entity converts an entity position.
func (c converter) entity(v any) (any, error) {
	switch x := v.(type) {
	case int64:
		if x < 0 {
			return datomic.TempID(strconv.FormatInt(x, 10)), nil
		}
		return x, nil
	case string:
		return datomic.TempID(x), nil
	case datomic.TempID, datomic.Keyword:
		return x, nil
	}
	if items, ok := seqOf(v); ok {
		if len(items) == 2 {
			if k, ok := items[0].(datomic.Keyword); ok && isScalar(items[1]) {
				return c.lookupRef(k, items[1])
			}
		}
		return nil, bad("entity %s is neither an id, a tempid, an ident nor a lookup ref", describe(v))
	}
	return nil, bad("entity of type %s is neither an id, a tempid, an ident nor a lookup ref", typeName(v))
}

func (c converter) lookupRef(k datomic.Keyword, v any) (datomic.LookupRef, error) {
	a, known := c.attr(k)
	val, err := c.scalar(k, a, known, v)
	if err != nil {
		return datomic.LookupRef{}, err
	}
	return datomic.LookupRef{A: k, V: val}, nil
}

// value converts the value of attribute k in an entity map.
func (c converter) value(k datomic.Keyword, v any) (any, error) {
	a, known := c.attr(k)
	isRef := known && a.IsRef() || !known && k.IsReverse()
	switch x := v.(type) {
	case Map:
		if known && !a.IsRef() {
			return nil, bad("nested map for %s attribute", a.ValueType)
		}
		return c.entityMap(x)
	case Set:
		return c.many(k, a, known, isRef, x)
	}
	items, ok := seqOf(v)
	if !ok {
		return c.scalar(k, a, known, v)
	}
	if known && a.ValueType == datomic.TypeTuple {
		if a.IsMany() && len(items) > 0 && allSeqs(items) {
			return c.many(k, a, known, isRef, items)
		}
		return c.tuple(k, a, items)
	}
	if lk, val, ok := c.lookupRefShape(items, known, isRef); ok {
		return c.lookupRef(lk, val)
	}
	if known && !a.IsMany() {
		return nil, bad("%d values for cardinality-one attribute", len(items))
	}
	return c.many(k, a, known, isRef, items)
}

// lookupRefShape tells whether a vector in a value position is a lookup ref
// (see ConvertTx).
func (c converter) lookupRefShape(items []any, known, isRef bool) (datomic.Keyword, any, bool) {
	if len(items) != 2 || known && !isRef {
		return "", nil, false
	}
	k, ok := items[0].(datomic.Keyword)
	if !ok || !isScalar(items[1]) {
		return "", nil, false
	}
	if a, ok := c.attr(k); ok && isRef {
		return k, items[1], a.Unique != datomic.UniqueNone
	}
	if _, isKw := items[1].(datomic.Keyword); isKw || k.Namespace() == "" {
		return "", nil, false
	}
	return k, items[1], true
}

// many converts the values of a cardinality-many attribute.
func (c converter) many(k datomic.Keyword, a datomic.Attribute, known, isRef bool, items []any) ([]any, error) {
	out := make([]any, len(items))
	for i, item := range items {
		var v any
		var err error
		switch x := item.(type) {
		case Map:
			if known && !a.IsRef() {
				return nil, bad("nested map for %s attribute", a.ValueType)
			}
			v, err = c.entityMap(x)
		case Set:
			err = bad("a set inside the values of an attribute")
		default:
			elems, ok := seqOf(item)
			if !ok {
				v, err = c.scalar(k, a, known, item)
				break
			}
			if known && a.ValueType == datomic.TypeTuple {
				v, err = c.tuple(k, a, elems)
				break
			}
			lk, val, ok := c.lookupRefShape(elems, known, isRef)
			if !ok {
				return nil, bad("value %s is neither a lookup ref nor a tuple", describe(item))
			}
			v, err = c.lookupRef(lk, val)
		}
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func (c converter) tuple(k datomic.Keyword, a datomic.Attribute, items []any) (datomic.Tuple, error) {
	t := make(datomic.Tuple, len(items))
	for i, item := range items {
		if item == nil {
			continue
		}
		elem := datomic.Attribute{Ident: k, ValueType: a.TupleElemType(i), Cardinality: datomic.CardinalityOne}
		if elem.ValueType == datomic.TypeInvalid && i < len(a.TupleAttrs) {
			if ea, ok := c.attr(a.TupleAttrs[i]); ok {
				elem = ea
			}
		}
		known := elem.ValueType != datomic.TypeInvalid
		if elems, ok := seqOf(item); ok && elem.IsRef() {
			lk, val, ok := c.lookupRefShape(elems, known, true)
			if !ok {
				return nil, bad("tuple element %d: %s is not a lookup ref", i, describe(item))
			}
			v, err := c.lookupRef(lk, val)
			if err != nil {
				return nil, err
			}
			t[i] = v
			continue
		}
		v, err := c.scalar(k, elem, known, item)
		if err != nil {
			if e, ok := err.(*TxDataError); ok {
				e.Msg = fmt.Sprintf("tuple element %d: %s", i, e.Msg)
			}
			return nil, err
		}
		t[i] = v
	}
	return t, nil
}

// scalar converts a single value that is not a collection.
func (c converter) scalar(k datomic.Keyword, a datomic.Attribute, known bool, v any) (any, error) {
	isRef := known && a.IsRef() || !known && k.IsReverse()
	switch x := v.(type) {
	case nil:
		return nil, bad("nil is not a value")
	case Tagged:
		return nil, unsupported("#%s values", x.Tag)
	case Char:
		return nil, unsupported("character values")
	case Map, Set, List, []any:
		return nil, bad("%s where a single value is expected", typeName(v))
	case time.Time:
		return datomic.Instant(x), nil
	case string:
		if isRef {
			return datomic.TempID(x), nil
		}
		return x, nil
	case int64:
		if !known {
			return x, nil
		}
		switch a.ValueType {
		case datomic.TypeFloat:
			return float32(x), nil
		case datomic.TypeDouble:
			return float64(x), nil
		case datomic.TypeBigInt:
			return big.NewInt(x), nil
		case datomic.TypeBigDec:
			return datomic.BigDec{Unscaled: big.NewInt(x)}, nil
		}
	case float64:
		if known && a.ValueType == datomic.TypeFloat {
			return float32(x), nil
		}
	case *big.Int:
		if !known {
			return x, nil
		}
		switch a.ValueType {
		case datomic.TypeLong, datomic.TypeRef:
			if x.IsInt64() {
				return x.Int64(), nil
			}
		case datomic.TypeBigDec:
			return datomic.BigDec{Unscaled: x}, nil
		}
	}
	return v, nil
}

// listForm converts [:db/add e a v] and the other built-in list forms.
func (c converter) listForm(items []any) (datomic.Op, error) {
	if len(items) == 0 {
		return nil, bad("empty list form")
	}
	fn, ok := items[0].(datomic.Keyword)
	if !ok {
		return nil, bad("list form must start with a keyword, got %s", describe(items[0]))
	}
	var want int // the length of the form
	switch fn {
	case "db/add", "db/retract":
		want = 4
	case "db/cas", "db.fn/cas":
		want = 5
	case "db/retractEntity", "db.fn/retractEntity":
		want = 2
	default:
		return nil, unsupported("transaction function %s", fn)
	}
	if len(items) != want {
		return nil, bad("%s takes %d arguments, got %d", fn, want-1, len(items)-1)
	}
	e, err := c.entity(items[1])
	if err != nil {
		return nil, err
	}
	if want == 2 {
		return datomic.RetractEntity{E: e}, nil
	}
	a, k, err := attrPosition(items[2])
	if err != nil {
		return nil, err
	}
	if fn != "db/cas" && fn != "db.fn/cas" && items[3] == nil || len(items) == 5 && items[4] == nil {
		return nil, inAttr(bad("nil is not a value"), k)
	}
	v, err := c.single(k, items[3])
	if err != nil {
		return nil, inAttr(err, k)
	}
	switch fn {
	case "db/add":
		return datomic.Add{E: e, A: a, V: v}, nil
	case "db/retract":
		return datomic.Retract{E: e, A: a, V: v}, nil
	}
	old := v
	nv, err := c.single(k, items[4])
	if err != nil {
		return nil, inAttr(err, k)
	}
	return datomic.CAS{E: e, A: a, Old: old, New: nv}, nil
}

// attrPosition checks the attribute of a list form: an ident or an id.
func attrPosition(v any) (any, datomic.Keyword, error) {
	switch x := v.(type) {
	case datomic.Keyword:
		if x.IsReverse() {
			return nil, "", bad("reverse attribute %s in a list form", x)
		}
		return x, x, nil
	case int64:
		return x, "", nil
	}
	return nil, "", bad("attribute %s is neither an ident nor an id", describe(v))
}

// single converts the one value of a list form (nil is allowed as the old
// value of :db/cas and is checked by the caller otherwise).
func (c converter) single(k datomic.Keyword, v any) (any, error) {
	a, known := datomic.Attribute{}, false
	if k != "" {
		a, known = c.attr(k)
	}
	isRef := known && a.IsRef()
	switch v.(type) {
	case nil:
		return nil, nil
	case Map:
		return nil, bad("a map is not a value in a list form")
	case Set:
		return nil, bad("a set is not a value in a list form")
	}
	items, ok := seqOf(v)
	if !ok {
		return c.scalar(k, a, known, v)
	}
	if known && a.ValueType == datomic.TypeTuple {
		return c.tuple(k, a, items)
	}
	if lk, val, ok := c.lookupRefShape(items, known, isRef); ok {
		return c.lookupRef(lk, val)
	}
	if !known && k != "" {
		// One value of unknown type: a vector can only be a tuple.
		return c.tuple(k, a, items)
	}
	return nil, bad("vector %s is neither a lookup ref nor a tuple", describe(v))
}

func seqOf(v any) ([]any, bool) {
	switch x := v.(type) {
	case []any:
		return x, true
	case List:
		return x, true
	}
	return nil, false
}

func allSeqs(items []any) bool {
	for _, it := range items {
		if _, ok := seqOf(it); !ok {
			return false
		}
	}
	return true
}

func isScalar(v any) bool {
	switch v.(type) {
	case nil, Map, Set, List, []any, Tagged:
		return false
	}
	return true
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "nil"
	case Map:
		return "map"
	case Set:
		return "set"
	case List:
		return "list"
	case []any:
		return "vector"
	case string:
		return "string"
	case datomic.Keyword:
		return "keyword"
	case Tagged:
		return "tagged value"
	}
	return strings.TrimPrefix(fmt.Sprintf("%T", v), "*")
}
