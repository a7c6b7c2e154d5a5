package datomic

// Op is one transaction operation: [Add], [Retract], [CAS], [RetractEntity],
// an [EntityMap] or a [ForcePartition] directive.
//
// An entity position (E) takes an int64 entity id, a [TempID], a [Keyword]
// ident or a [LookupRef]. An attribute position (A) takes a Keyword ident or
// an int64 attribute id. A value (V) of a ref attribute takes the same forms
// as an entity position, and, inside an EntityMap, a nested EntityMap.
type Op interface{ isOp() }

// TempID is a temporary id, resolved by the transaction to a new or upserted
// entity. Equal strings in one transaction name the same entity.
type TempID string

// TxTempID names the transaction being run.
const TxTempID TempID = "datomic.tx"

// LookupRef names the entity whose unique attribute A has value V.
type LookupRef struct {
	A any
	V any
}

// Add asserts [E A V], the list form [:db/add e a v].
type Add struct{ E, A, V any }

// Retract retracts [E A V], the list form [:db/retract e a v].
type Retract struct{ E, A, V any }

// CAS is [:db/cas e a old new]: set a cardinality-one attribute to New if its
// current value is Old (nil Old: the attribute has no value).
type CAS struct{ E, A, Old, New any }

// RetractEntity is [:db/retractEntity e]: retracts every datom of e, every
// reference to e, and recursively its component entities.
type RetractEntity struct{ E any }

// EntityMap is the map form of a transaction: :db/id names the entity
// (a tempid when absent), every other key is an attribute (or a reverse
// attribute such as :ns/_attr), and values of cardinality-many attributes may
// be given as []any.
type EntityMap map[Keyword]any

// ForcePartition is Datomic's :db/force-partition directive: each tempid
// in the map becomes a new entity in the given partition, named by its
// entity id (int64) or ident (Keyword), e.g. :db.part/db or an installed
// partition. On the wire it is the map form {:db/force-partition {tempid
// partition}}.
type ForcePartition map[TempID]any

// DBID is the key of an entity map that names its entity.
const DBID Keyword = "db/id"

func (Add) isOp()            {}
func (Retract) isOp()        {}
func (CAS) isOp()            {}
func (RetractEntity) isOp()  {}
func (EntityMap) isOp()      {}
func (ForcePartition) isOp() {}

// TxReport is the result of a successful transaction.
type TxReport struct {
	// BasisBefore and BasisAfter are the database basis t before and after.
	BasisBefore, BasisAfter int64
	// TxData is every datom the transaction asserted or retracted.
	TxData []Datom
	// Tempids maps each tempid of the transaction to its entity id.
	Tempids map[TempID]int64
}

// TxID returns the id of the transaction entity.
func (r TxReport) TxID() int64 { return TxID(r.BasisAfter) }
