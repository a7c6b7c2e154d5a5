package mem

import (
	"github.com/dcbackup/dcbackup/datomic"
)

// checkBootDatoms refuses changes to the datoms of Datomic's own entities:
// on an entity of :db.part/db whose ident is in the db, db.* or fressian
// namespace (:db.part/db itself, the built-in attributes, value types and
// enums), a datom may add a value of a cardinality-many attribute or a
// value of an attribute the entity has none of, but may not replace a
// cardinality-one value nor retract anything (:db.error/datom-cannot-be-altered,
// "Boot datoms cannot be altered"). This covers renaming or retracting a
// built-in ident, altering a built-in attribute and uninstalling a
// partition.
func (x *txState) checkBootDatoms() error {
	c := x.c
	for i := range x.out {
		d := &x.out[i]
		if datomic.Part(d.e) != datomic.PartDB || !x.maybeLive(d.e) || !c.systemEntity(d.e) {
			continue
		}
		if d.added && d.ai.IsMany() {
			continue
		}
		if !d.added || c.hasLive(d.e, d.a) {
			kind := "db/add"
			if !d.added {
				kind = "db/retract"
			}
			return txErr(datomic.ErrDatomCannotBeAltered, int(d.op), "boot datoms cannot be altered: %s", fmtDatom(kind, d.e, d.ai.Ident, d.v))
		}
	}
	return nil
}

// systemEntity reports whether e's ident (before the transaction) names one
// of Datomic's own entities.
func (c *Conn) systemEntity(e int64) bool {
	k, ok := c.names[e]
	if !ok {
		return false
	}
	ns := k.Namespace()
	return ns == "fressian" || reservedNamespace(ns)
}

// hasLive reports whether e has a current value of attribute a (before the
// transaction; writer only).
func (c *Conn) hasLive(e, a int64) bool {
	for _, i := range c.ents[e] {
		if f := c.facts.at(i); f.a == a && f.ret == 0 {
			return true
		}
	}
	return false
}
