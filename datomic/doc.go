// Package datomic is the vocabulary of the Datomic data model that dcbackup
// needs: values, datoms, transactions, attributes, transaction operations and
// the two small interfaces, [Conn] and [DB], through which backup and restore
// talk to a database engine.
//
// The package does no I/O. Engines live in sub-packages: datomic/mem is an
// in-memory Datomic used as the embedded default and in tests; a client for a
// real peer-server implements the same interfaces.
//
// # Values
//
// A datom's value is a Go value whose dynamic type is fixed by the attribute's
// :db/valueType, without loss:
//
//	:db.type/ref      int64 (an entity id)
//	:db.type/keyword  Keyword
//	:db.type/symbol   Symbol
//	:db.type/string   string
//	:db.type/boolean  bool
//	:db.type/long     int64
//	:db.type/bigint   *big.Int
//	:db.type/float    float32
//	:db.type/double   float64
//	:db.type/bigdec   BigDec (unscaled value and scale, as java.math.BigDecimal)
//	:db.type/instant  time.Time (millisecond precision, UTC)
//	:db.type/uuid     UUID
//	:db.type/uri      URI
//	:db.type/bytes    []byte
//	:db.type/tuple    Tuple (elements typed the same way; nil for a missing element)
//
// # Entity ids
//
// An entity id carries its partition in the bits above bit 42. Transaction
// entities live in partition [PartTx] (3), and a transaction's id is
// 3<<42 + t, where t is the database's basis counter. See [TxID], [ToT] and
// [Part].
package datomic
