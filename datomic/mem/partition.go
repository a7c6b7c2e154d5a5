package mem

import (
	"slices"

	"github.com/dcbackup/dcbackup/datomic"
)

// maxPartition bounds the id of a partition entity: a partition's index is
// its entity id, and an entity id keeps the index in the bits from
// datomic.PartShift up, which leaves 21 bits for a non-negative int64.
const maxPartition = 1 << (63 - datomic.PartShift)

// isPartition reports whether id is an installed partition (before the
// transaction).
func (c *Conn) isPartition(id int64) bool {
	_, ok := c.parts[id]
	return ok || c.isCloudPart(id)
}

// partNext returns the next entity counter of an installed partition other
// than :db.part/db and :db.part/tx, before the transaction.
func (c *Conn) partNext(p int64) int64 {
	if p == datomic.PartUser || c.oneEntityCounter() {
		return c.nextEnt
	}
	return c.parts[p]
}

// partCounter returns the next entity counter of partition p as the
// transaction sees it.
func (x *txState) partCounter(p int64) int64 {
	switch {
	case p == datomic.PartDB:
		return x.nextDB
	case p == datomic.PartUser || x.c.oneEntityCounter():
		return x.nextEnt
	}
	if n, ok := x.partNext[p]; ok {
		return n
	}
	return x.c.parts[p]
}

// allocIn gives a new entity id in partition p.
func (x *txState) allocIn(p int64) int64 {
	switch {
	case p == datomic.PartDB:
		x.nextDB++
		return datomic.EntityID(p, x.nextDB-1)
	case p == datomic.PartUser || x.c.oneEntityCounter():
		x.nextEnt++
		return datomic.EntityID(p, x.nextEnt-1)
	}
	n := x.partCounter(p)
	if x.partNext == nil {
		x.partNext = make(map[int64]int64)
	}
	x.partNext[p] = n + 1
	return datomic.EntityID(p, n)
}

// forceOp records a :db/force-partition directive: each tempid becomes a
// new entity in the named partition unless it upserts.
func (x *txState) forceOp(op int, o datomic.ForcePartition) error {
	names := make([]datomic.TempID, 0, len(o))
	for name := range o {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		spec := o[name]
		switch name {
		case "":
			return txErr(datomic.ErrInvalidOp, op, ":db/force-partition: empty tempid")
		case datomic.TxTempID:
			return txErr(datomic.ErrInvalidOp, op, ":db/force-partition: the transaction entity %q cannot be moved to another partition", string(name))
		}
		p, err := x.partitionOf(op, spec)
		if err != nil {
			return err
		}
		t := &x.tmps[x.newTmp(name, op)-1]
		if t.forced && t.force != p {
			return txErr(datomic.ErrInvalidOp, op, ":db/force-partition: tempid %q is forced into partitions %d and %d", string(name), t.force, p)
		}
		t.forced, t.force = true, p
	}
	return nil
}

// partitionOf resolves the partition of a :db/force-partition entry: an
// installed partition named by id or ident, never :db.part/tx.
func (x *txState) partitionOf(op int, spec any) (int64, error) {
	var p int64
	switch v := spec.(type) {
	case int64:
		p = v
	case int:
		p = int64(v)
	case datomic.Keyword:
		id, ok := x.c.idents[v]
		if !ok {
			return 0, txErr(datomic.ErrNotAnEntity, op, ":db/force-partition: unable to resolve partition %s", v)
		}
		p = id
	default:
		return 0, txErr(datomic.ErrInvalidOp, op, ":db/force-partition: %s (%T) does not name a partition", fmtPos(spec), spec)
	}
	if !x.c.isPartition(p) {
		return 0, txErr(datomic.ErrInvalidOp, op, ":db/force-partition: %s is not a partition", fmtPos(spec))
	}
	if p == datomic.PartTx {
		return 0, txErr(datomic.ErrInvalidOp, op, ":db/force-partition: no entity can be forced into :db.part/tx")
	}
	return p, nil
}

// newID gives an unresolved tempid its new entity id: in its forced
// partition, else :db.part/db for schema entities and #db/id[:db.part/db]
// tempids, else the partition of its #db/id tag, else :db.part/user (in
// Cloud mode: a partition Cloud would choose, see cloudPartition).
func (x *txState) newID(t *tmpInfo) (int64, error) {
	p := datomic.PartUser
	switch {
	case t.forced:
		if t.schema && t.force != datomic.PartDB {
			return 0, txErr(datomic.ErrInvalidOp, int(t.op), "tempid %q installs an attribute or a partition and cannot be forced out of :db.part/db", string(t.name))
		}
		p = t.force
	case t.schema || t.dbPart:
		p = datomic.PartDB
	case t.tagPart != 0:
		p = t.tagPart
	case x.c.cloud:
		p = cloudPartition(x.nextEnt)
	}
	return x.allocIn(p), nil
}

// checkPartitions validates the partitions the transaction installs: each
// value of [:db.part/db :db.install/partition p] must be an entity of
// :db.part/db with an ident, not an attribute, whose id fits a partition
// index. Partitions cannot be uninstalled.
func (x *txState) checkPartitions() error {
	c := x.c
	s := &c.sys
	for i := range x.out {
		d := &x.out[i]
		if d.a != s.installPart {
			continue
		}
		p := d.v.(int64)
		what := fmtDatom("db/add", d.e, d.ai.Ident, p)
		if !d.added {
			return txErr(datomic.ErrInvalidOp, int(d.op), "%s: a partition cannot be uninstalled", fmtDatom("db/retract", d.e, d.ai.Ident, p))
		}
		switch {
		case d.e != 0:
			return txErr(datomic.ErrInvalidOp, int(d.op), "%s: partitions are installed on :db.part/db (entity 0)", what)
		case datomic.Part(p) != datomic.PartDB:
			return txErr(datomic.ErrInvalidOp, int(d.op), "%s: a partition entity must be in :db.part/db", what)
		case p >= maxPartition:
			return txErr(datomic.ErrInvalidOp, int(d.op), "%s: partition entity id %d does not fit a partition index (must be below %d)", what, p, int64(maxPartition))
		case c.attrs[p] != nil || x.postOne(p, s.valueType) != nil:
			return txErr(datomic.ErrInvalidOp, int(d.op), "%s: an attribute cannot be a partition", what)
		case x.postOne(p, s.ident) == nil:
			return txErr(datomic.ErrInvalidOp, int(d.op), "%s: a partition needs a :db/ident", what)
		}
	}
	return nil
}

// installPartitions registers the partitions installed by the transaction
// (called once it is applied).
func (x *txState) installPartitions() {
	c := x.c
	for i := range x.out {
		d := &x.out[i]
		if d.a == c.sys.installPart && d.added && !c.isPartition(d.v.(int64)) {
			c.parts[d.v.(int64)] = 1
		}
	}
	for p, n := range x.partNext {
		c.parts[p] = n
	}
}
