// Package mem is a single-process, in-memory Datomic: it implements
// [datomic.Conn] and [datomic.DB] with Datomic's documented transaction
// semantics (tempids, entity maps, upserts, schema as data, cardinality,
// uniqueness, :db/cas, :db/retractEntity, tuples and their backfill,
// :db/txInstant rules, Datomic Pro's refusals, excision, attribute
// predicates and entity specs run by Go functions of [Options]), the log,
// the four indexes and as-of views.
//
// Every datom ever asserted is kept once, stamped with the transaction that
// asserted it and, once retracted, the transaction that retracted it. A
// database value is the pair (engine, log position): reads filter by that
// position, so a [DB] stays consistent however many transactions follow.
// Transactions are serialised; readers take a shared lock only while they
// copy a bounded batch of results.
//
// SEMANTICS.md in this directory lists each Datomic behaviour implemented,
// where Datomic documents it, and where the engine had to guess.
package mem
