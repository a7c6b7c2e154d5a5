package dcbackup

import (
	"unicode/utf8"

	"github.com/dcbackup/dcbackup/datomic"
)

// contentStats is what a version 2 header summarises of a segment's
// values; the encoder computes it, the decoder recomputes and compares.
type contentStats struct {
	features    Features
	maxStr      int // longest string value, UTF-16 code units
	maxTupleStr int // longest string inside a tuple, UTF-16 code units
}

// noteString records the length of a string value. A string's UTF-16
// length never exceeds its UTF-8 length, so only strings longer in bytes
// than the longest so far are counted.
func (s *contentStats) noteString(v string, inTuple bool) {
	m := &s.maxStr
	if inTuple {
		m = &s.maxTupleStr
	}
	if len(v) > *m {
		*m = max(*m, utf16Len(v))
	}
}

// utf16Len returns the length of s in UTF-16 code units, Datomic's (Java's)
// characters: one per rune, two for a rune beyond the Basic Multilingual
// Plane; an invalid UTF-8 byte counts as one.
func utf16Len(s string) int {
	n := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			n++
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		n++
		if r >= 0x10000 {
			n++
		}
		i += size
	}
	return n
}

// partitionFeature returns FeaturePartitions for an entity id outside
// :db.part/db, :db.part/tx and :db.part/user.
func partitionFeature(id int64) Features {
	switch datomic.Part(id) {
	case datomic.PartDB, datomic.PartTx, datomic.PartUser:
		return 0
	}
	return FeaturePartitions
}

// tupleRefFeatures returns FeaturePartitions when a ref element of the
// tuple value v of attribute a is outside the default partitions.
func tupleRefFeatures(a *datomic.Attribute, v any) Features {
	t, _ := v.(datomic.Tuple)
	for i, el := range t {
		if id, ok := el.(int64); ok && a.TupleElemType(i) == datomic.TypeRef {
			if f := partitionFeature(id); f != 0 {
				return f
			}
		}
	}
	return 0
}

// attrInfo is what the encoder and decoder keep of each attribute of a
// segment's dictionary.
type attrInfo struct {
	id int64
	vt datomic.ValueType
	// feat are the features every datom of the attribute has.
	feat Features
	// tupleRefs: a tuple attribute whose elements may be refs; attr is
	// then the attribute, to tell which.
	tupleRefs bool
	attr      datomic.Attribute
	// valueType: :db/valueType, whose values may install an attribute of
	// a type some databases lack (see typeFeatures).
	valueType bool
}

func newAttrInfo(a datomic.Attribute) attrInfo {
	ai := attrInfo{id: a.ID, vt: a.ValueType, feat: attrFeatures(a), valueType: a.Ident == "db/valueType"}
	if a.ValueType == datomic.TypeTuple && a.HasRefsInTuple() {
		ai.tupleRefs, ai.attr = true, a
	}
	return ai
}

// attrFeatures returns the features of every datom of attribute a.
func attrFeatures(a datomic.Attribute) Features {
	var f Features
	if a.Fulltext || a.Ident == "db/fulltext" {
		f |= FeatureFulltext
	}
	switch {
	case a.Ident == "db/excise" || a.Ident.Namespace() == "db.excise":
		f |= FeatureExcision
	case a.Ident == "db.attr/preds":
		f |= FeatureAttrPredicates
	case a.Ident == "db.entity/attrs" || a.Ident == "db.entity/preds":
		f |= FeatureEntitySpecs
	}
	return f
}

// typeFeatures maps the segment's bootstrap value types that some
// databases lack to the feature that installing an attribute of that type
// has: :db.type/bytes to FeatureBytes, :db.type/fn to FeatureFunctions.
func typeFeatures(idents map[int64]datomic.Keyword) map[int64]Features {
	var m map[int64]Features
	for id, kw := range idents {
		var f Features
		switch kw {
		case "db.type/bytes":
			f = FeatureBytes
		case "db.type/fn":
			f = FeatureFunctions
		default:
			continue
		}
		if m == nil {
			m = map[int64]Features{}
		}
		m[id] = f
	}
	return m
}
