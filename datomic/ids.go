package datomic

// PartShift is the bit position of an entity id's partition.
const PartShift = 42

// Well-known partition indexes.
const (
	PartDB   int64 = 0 // :db.part/db, schema and bootstrap entities
	PartTx   int64 = 3 // :db.part/tx, transaction entities
	PartUser int64 = 4 // :db.part/user, the default partition for new entities
)

// Part returns the partition index of entity id.
func Part(id int64) int64 { return id >> PartShift }

// EntityID builds an entity id from a partition index and a counter.
func EntityID(part, n int64) int64 { return part<<PartShift | n }

// TxID returns the id of the transaction entity of basis t.
func TxID(t int64) int64 { return PartTx<<PartShift | t }

// ToT returns the basis t of a transaction entity id. A value that is not in
// the transaction partition is returned unchanged, so ToT accepts both a t
// and a transaction id, as Datomic's d/tx->t does.
func ToT(tx int64) int64 {
	if Part(tx) == PartTx {
		return tx &^ (PartTx << PartShift)
	}
	return tx
}

// IsTxID reports whether id is in the transaction partition.
func IsTxID(id int64) bool { return Part(id) == PartTx }
