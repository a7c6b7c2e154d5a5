package mem

import (
	"github.com/dcbackup/dcbackup/datomic"
)

// bootDef is one bootstrap entity: an ident, and for attributes their schema.
type bootDef struct {
	id        int64
	ident     datomic.Keyword
	vt        datomic.ValueType // TypeInvalid: not an attribute
	card      datomic.Cardinality
	unique    datomic.Unique
	tupleType datomic.ValueType
	index     bool
	fulltext  bool
	doc       string
}

const (
	one  = datomic.CardinalityOne
	many = datomic.CardinalityMany
)

// defaultBoot is the default bootstrap layout, after Datomic Pro's ids where
// they are known (:db/ident 10, :db.install/attribute 13, :db.cardinality/one
// 35, :db.unique/identity 38, :db/valueType 40, :db/cardinality 41,
// :db/unique 42, :db/txInstant 50, :db.type/uuid 56, :db/doc 62); the
// others are plausible guesses.
var defaultBoot = []bootDef{
	{id: 0, ident: "db.part/db"},
	{id: 1, ident: "db/add"},
	{id: 2, ident: "db/retract"},
	{id: 3, ident: "db.part/tx"},
	{id: 4, ident: "db.part/user"},
	{id: 10, ident: "db/ident", vt: datomic.TypeKeyword, card: one, unique: datomic.UniqueIdentity, doc: "Attribute used to uniquely name an entity."},
	{id: 11, ident: "db.install/partition", vt: datomic.TypeRef, card: many},
	{id: 12, ident: "db.install/valueType", vt: datomic.TypeRef, card: many},
	{id: 13, ident: "db.install/attribute", vt: datomic.TypeRef, card: many},
	{id: 14, ident: "db.install/function", vt: datomic.TypeRef, card: many},
	{id: 15, ident: "db/excise", vt: datomic.TypeRef, card: one},
	{id: 16, ident: "db.excise/attrs", vt: datomic.TypeRef, card: many},
	{id: 17, ident: "db.excise/beforeT", vt: datomic.TypeLong, card: one},
	{id: 18, ident: "db.excise/before", vt: datomic.TypeInstant, card: one},
	{id: 19, ident: "db.alter/attribute", vt: datomic.TypeRef, card: many},
	{id: 20, ident: "db.type/ref"},
	{id: 21, ident: "db.type/keyword"},
	{id: 22, ident: "db.type/long"},
	{id: 23, ident: "db.type/string"},
	{id: 24, ident: "db.type/boolean"},
	{id: 25, ident: "db.type/instant"},
	{id: 26, ident: "db.type/fn"},
	{id: 27, ident: "db.type/bytes"},
	{id: 35, ident: "db.cardinality/one"},
	{id: 36, ident: "db.cardinality/many"},
	{id: 37, ident: "db.unique/value"},
	{id: 38, ident: "db.unique/identity"},
	{id: 39, ident: "db/fn", vt: datomic.TypeFn, card: one},
	{id: 40, ident: "db/valueType", vt: datomic.TypeRef, card: one},
	{id: 41, ident: "db/cardinality", vt: datomic.TypeRef, card: one},
	{id: 42, ident: "db/unique", vt: datomic.TypeRef, card: one},
	{id: 43, ident: "db/isComponent", vt: datomic.TypeBoolean, card: one},
	{id: 44, ident: "db/index", vt: datomic.TypeBoolean, card: one},
	{id: 45, ident: "db/noHistory", vt: datomic.TypeBoolean, card: one},
	{id: 46, ident: "db/lang", vt: datomic.TypeRef, card: one},
	{id: 47, ident: "db/code", vt: datomic.TypeString, card: one, fulltext: true},
	{id: 48, ident: "db.lang/clojure"},
	{id: 49, ident: "db.lang/java"},
	{id: 50, ident: "db/txInstant", vt: datomic.TypeInstant, card: one, index: true},
	{id: 51, ident: "db/fulltext", vt: datomic.TypeBoolean, card: one},
	{id: 52, ident: "fressian/tag", vt: datomic.TypeKeyword, card: one, index: true},
	{id: 53, ident: "db.type/symbol"},
	{id: 54, ident: "db/retractEntity"},
	{id: 55, ident: "db/cas"},
	{id: 56, ident: "db.type/uuid"},
	{id: 57, ident: "db.type/double"},
	{id: 58, ident: "db.type/float"},
	{id: 59, ident: "db.type/uri"},
	{id: 60, ident: "db.type/bigint"},
	{id: 61, ident: "db.type/bigdec"},
	{id: 62, ident: "db/doc", vt: datomic.TypeString, card: one, fulltext: true},
	{id: 63, ident: "db.type/tuple"},
	{id: 64, ident: "db/tupleType", vt: datomic.TypeKeyword, card: one},
	{id: 65, ident: "db/tupleTypes", vt: datomic.TypeTuple, card: one, tupleType: datomic.TypeKeyword},
	{id: 66, ident: "db/tupleAttrs", vt: datomic.TypeTuple, card: one, tupleType: datomic.TypeKeyword},
	{id: 67, ident: "db.attr/preds", vt: datomic.TypeSymbol, card: many},
	{id: 68, ident: "db.entity/attrs", vt: datomic.TypeKeyword, card: many},
	{id: 69, ident: "db.entity/preds", vt: datomic.TypeSymbol, card: many},
	{id: 70, ident: "db/ensure", vt: datomic.TypeRef, card: many},
}

// extraBoot are the additional built-ins of Options.ExtraBuiltins. They take
// ids from extraAt on, and every default id from extraAt on moves up by
// len(extraBoot).
const extraAt = 20

var extraBoot = []bootDef{
	{ident: "db.sys/partiallyIndexed", vt: datomic.TypeBoolean, card: one},
	{ident: "db.sys/reId", vt: datomic.TypeRef, card: one},
	{ident: "db.part/sys"},
	{ident: "db.alter/ext", vt: datomic.TypeString, card: many},
	{ident: "db.type/ext"},
}

// sysIDs are the ids of the bootstrap entities the engine itself uses.
type sysIDs struct {
	ident, valueType, cardinality, unique, isComponent, noHistory int64
	index, fulltext, doc, txInstant, tupleAttrs, tupleType        int64
	tupleTypes, installAttr, installPart, installType, alterAttr  int64
	cardOne, cardMany, uniqueValue, uniqueIdentity                int64
	partTx, partUser                                              int64
	types                                                         map[int64]datomic.ValueType
	typeIDs                                                       [datomic.TypeFn + 1]int64

	// Datomic Pro's excision, predicates, entity specs and functions.
	excise, exciseAttrs, exciseBeforeT, exciseBefore int64
	attrPreds, entityAttrs, entityPreds, ensure      int64
	fn, lang, code, fressianTag, installFn           int64
}

// valueTypes are the value types of the engine: Datomic's, and :db.type/fn,
// Datomic Pro's stored functions.
func valueTypes() []datomic.ValueType {
	return append(datomic.ValueTypes(), datomic.TypeFn)
}

// layout returns the bootstrap entities of opts with their final ids.
func layout(opts Options) []bootDef {
	if opts.BootstrapShift < 0 || (opts.BootstrapShift > 0 && opts.BootstrapShift < 4) {
		panic("mem: Options.BootstrapShift must be 0 or at least 4 (smaller shifts collide with the partition ids 3 and 4)")
	}
	defs := make([]bootDef, 0, len(defaultBoot)+len(extraBoot))
	for _, d := range defaultBoot {
		if opts.ExtraBuiltins && d.id >= extraAt {
			d.id += int64(len(extraBoot))
		}
		defs = append(defs, d)
	}
	if opts.ExtraBuiltins {
		for i, d := range extraBoot {
			d.id = extraAt + int64(i)
			defs = append(defs, d)
		}
	}
	for i := range defs {
		switch defs[i].id {
		case datomic.PartDB, datomic.PartTx, datomic.PartUser:
			// A partition's id is its index: never shifted.
		default:
			defs[i].id += opts.BootstrapShift
		}
	}
	return defs
}

// bootstrap writes the bootstrap datoms (log position 0, t 0).
func (c *Conn) bootstrap(opts Options) {
	defs := layout(opts)
	byIdent := make(map[datomic.Keyword]int64, len(defs))
	var maxID int64
	for _, d := range defs {
		byIdent[d.ident] = d.id
		maxID = max(maxID, d.id)
	}
	s := &c.sys
	s.ident = byIdent["db/ident"]
	s.valueType = byIdent["db/valueType"]
	s.cardinality = byIdent["db/cardinality"]
	s.unique = byIdent["db/unique"]
	s.isComponent = byIdent["db/isComponent"]
	s.noHistory = byIdent["db/noHistory"]
	s.index = byIdent["db/index"]
	s.fulltext = byIdent["db/fulltext"]
	s.doc = byIdent["db/doc"]
	s.txInstant = byIdent["db/txInstant"]
	s.tupleAttrs = byIdent["db/tupleAttrs"]
	s.tupleType = byIdent["db/tupleType"]
	s.tupleTypes = byIdent["db/tupleTypes"]
	s.installAttr = byIdent["db.install/attribute"]
	s.installPart = byIdent["db.install/partition"]
	s.installType = byIdent["db.install/valueType"]
	s.alterAttr = byIdent["db.alter/attribute"]
	s.cardOne = byIdent["db.cardinality/one"]
	s.cardMany = byIdent["db.cardinality/many"]
	s.uniqueValue = byIdent["db.unique/value"]
	s.uniqueIdentity = byIdent["db.unique/identity"]
	s.excise = byIdent["db/excise"]
	s.exciseAttrs = byIdent["db.excise/attrs"]
	s.exciseBeforeT = byIdent["db.excise/beforeT"]
	s.exciseBefore = byIdent["db.excise/before"]
	s.attrPreds = byIdent["db.attr/preds"]
	s.entityAttrs = byIdent["db.entity/attrs"]
	s.entityPreds = byIdent["db.entity/preds"]
	s.ensure = byIdent["db/ensure"]
	s.fn = byIdent["db/fn"]
	s.lang = byIdent["db/lang"]
	s.code = byIdent["db/code"]
	s.fressianTag = byIdent["fressian/tag"]
	s.installFn = byIdent["db.install/function"]
	s.partTx = byIdent["db.part/tx"]
	s.partUser = byIdent["db.part/user"]
	s.types = make(map[int64]datomic.ValueType)
	for _, t := range valueTypes() {
		id := byIdent[t.Ident()]
		s.types[id] = t
		s.typeIDs[t] = id
	}

	c.log = append(c.log, txRec{t: 0})
	vtOf := make(map[int64]datomic.ValueType, len(defs))
	for _, d := range defs {
		vtOf[d.id] = d.vt
	}
	add := func(e, a int64, v any) {
		c.insertFact(fact{e: e, a: a, v: v}, vtOf[a])
	}
	// Pass 1: idents and schema of the bootstrap attributes, so that the
	// value types are known when facts are indexed.
	for _, d := range defs {
		if d.vt == datomic.TypeInvalid {
			continue
		}
		c.avet[d.id] = newAttrVals()
	}
	for _, d := range defs {
		add(d.id, s.ident, d.ident)
		if d.vt == datomic.TypeInvalid {
			continue
		}
		add(d.id, s.valueType, s.typeIDs[d.vt])
		card := s.cardOne
		if d.card == many {
			card = s.cardMany
		}
		add(d.id, s.cardinality, card)
		switch d.unique {
		case datomic.UniqueIdentity:
			add(d.id, s.unique, s.uniqueIdentity)
		case datomic.UniqueValue:
			add(d.id, s.unique, s.uniqueValue)
		}
		if d.tupleType != datomic.TypeInvalid {
			add(d.id, s.tupleType, d.tupleType.Ident())
		}
		if d.index {
			add(d.id, s.index, true)
		}
		if d.fulltext {
			add(d.id, s.fulltext, true)
		}
		if d.doc != "" {
			add(d.id, s.doc, d.doc)
		}
		add(0, s.installAttr, d.id)
	}
	for _, t := range valueTypes() {
		add(0, s.installType, s.typeIDs[t])
	}
	for _, p := range []int64{0, s.partTx, s.partUser} {
		add(0, s.installPart, p)
		c.parts[p] = 1
	}

	c.nextDB = maxID + 1
	ids := make([]int64, 0, len(defs))
	for _, d := range defs {
		ids = append(ids, d.id)
	}
	c.refreshSchema(ids)
}
