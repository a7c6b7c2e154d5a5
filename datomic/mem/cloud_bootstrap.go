package mem

import (
	"strings"
	"time"

	"github.com/dcbackup/dcbackup/datomic"
)

// cloudBootstrap turns a new database into a Cloud-mode one: the bootstrap
// datoms, which bootstrap wrote as the log's pseudo-transaction t 0, become
// the datoms of CloudBootstrapTxs transactions t 1 to 5, each with its
// :db/txInstant at the epoch, as Datomic Cloud's (and Datomic Local's)
// tx-range shows them. Which built-in goes in which transaction is not
// documented; they are grouped by kind (core schema, functions and
// excision, tuples, attribute predicates, entity specs), every attribute
// whole in one transaction with its installation. The next transaction is
// t 6; new entities get ids from a counter that starts past the bootstrap
// ids, in auto partitions.
func (c *Conn) cloudBootstrap(opts Options) {
	if opts.SharedCounter {
		panic("mem: Options.Cloud cannot be combined with SharedCounter (Datomic Cloud's t has no gaps)")
	}
	c.cloud = true
	group := make(map[int64]int, len(c.names))
	for id, k := range c.names {
		group[id] = cloudBootGroup(k)
	}
	c.log = c.log[:1]
	for t := int64(1); t <= CloudBootstrapTxs; t++ {
		c.log = append(c.log, txRec{t: t})
	}
	// The bootstrap facts, in the order bootstrap wrote them, to their
	// transaction: an entity's own datoms go with it, a datom of
	// :db.part/db that installs an entity ([0 :db.install/attribute a])
	// with the entity installed.
	n := c.facts.n
	for i := range n {
		f := c.facts.at(i)
		e := f.e
		if e == datomic.PartDB && f.a != c.sys.ident {
			if v, ok := f.v.(int64); ok {
				e = v
			}
		}
		pos := group[e]
		if pos == 0 {
			pos = CloudBootstrapTxs
		}
		f.add = uint32(pos)
		c.log[pos].datoms = append(c.log[pos].datoms, i)
	}
	epoch := time.Unix(0, 0).UTC()
	for pos := 1; pos <= CloudBootstrapTxs; pos++ {
		rec := &c.log[pos]
		i := c.insertFact(fact{e: datomic.TxID(rec.t), a: c.sys.txInstant, v: epoch, add: uint32(pos)}, datomic.TypeInstant)
		rec.datoms = append([]uint32{i}, rec.datoms...)
	}
	c.lastInstant = epoch
	c.nextT = CloudBootstrapTxs + 1
	c.nextEnt = c.nextDB
}

// cloudBootGroup is the bootstrap transaction (1 to 5) of the built-in
// named k.
func cloudBootGroup(k datomic.Keyword) int {
	ns := k.Namespace()
	switch {
	case ns == "db.attr":
		return 4
	case ns == "db.entity" || k == "db/ensure":
		return 5
	case k == "db.type/tuple" || strings.HasPrefix(string(k), "db/tuple"):
		return 3
	case ns == "db.excise" || ns == "db.lang" || ns == "db.alter" || ns == "db.sys" || ns == "fressian",
		k == "db/excise", k == "db/fn", k == "db/lang", k == "db/code", k == "db/cas", k == "db/retractEntity",
		k == "db.install/function", k == "db.type/fn":
		return 2
	}
	return 1
}
