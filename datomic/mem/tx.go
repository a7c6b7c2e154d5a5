package mem

import (
	"context"
	"time"

	"github.com/dcbackup/dcbackup/datomic"
)

// Statement kinds.
const (
	kAdd uint8 = iota + 1
	kRetract
	kRetractAll // [:db/retract e a] without a value
	kCAS
	kRetractEntity
)

// ent is an entity position: a resolved id, or a tempid (tmp > 0 is an
// index+1 into txState.tmps).
type ent struct {
	id  int64
	tmp int32
}

// stmt is one primitive statement of a transaction.
type stmt struct {
	op   int32
	kind uint8
	e    ent
	a    *attrInfo
	v    any   // the value; for a ref attribute an int64 once resolved
	vtmp int32 // a ref value given as a tempid
	old  any   // :db/cas expected value (nil: none)
}

// tmpInfo is one tempid of a transaction.
type tmpInfo struct {
	name     datomic.TempID // "" for an entity map without :db/id
	id       int64          // resolved id, when resolved
	resolved bool
	alias    int32 // unified with this tempid (index+1), 0 if none
	entity   bool  // asserted as the entity of an add
	used     bool  // used by a statement (as entity or value)
	schema   bool  // installs an attribute: goes to :db.part/db
	dbPart   bool  // names :db.part/db (a #db/id[:db.part/db] tempid)
	tagPart  int64 // an installed partition named by its #db/id tag (0: none)
	forced   bool  // given a partition by :db/force-partition
	force    int64 // the forced partition
	op       int32
}

// datum is one datom the transaction will write.
type datum struct {
	e, a  int64
	v     any
	ai    *attrInfo
	fi    uint32 // for a retraction: the fact retracted
	op    int32  // the operation it comes from (-1: the engine's own)
	added bool
}

type eaKey struct{ e, a int64 }

type eavKey struct {
	e, a int64
	v    any
}

// touchRec is a constituent [e a] of a composite that operation op
// touched without writing a datom.
type touchRec struct {
	e, a int64
	op   int32
}

// txState is the working state of one transaction.
type txState struct {
	c     *Conn
	t     int64
	txID  int64
	pos   uint32
	ops   []datomic.Op
	stmts []stmt
	tmps  []tmpInfo
	named map[datomic.TempID]int32

	nextEnt, nextDB int64
	partNext        map[int64]int64 // counters of installed partitions changed by this transaction

	out      []datum
	retr     map[eavKey]*retrInfo // retractions of current datoms
	added    map[eavKey]bool
	oneVal   map[eaKey]any
	gone     map[uint32]bool // facts retracted by this transaction
	instant  time.Time
	schemaEs map[int64]bool

	ctx context.Context
	// compTouched are [e a] of composite constituents the transaction
	// asserted redundantly or retracted though absent: they recompute the
	// composites as any other change does.
	compTouched []touchRec
	// installVals are the values of explicit [:db.part/db :db.install/attribute
	// v] (and :db.alter/attribute) assertions, which are not written: the
	// engine writes the install datom of each new attribute itself.
	installVals map[int64]bool
	// ensures are the :db/ensure assertions, checked after the datoms are
	// known and never written.
	ensures []ensureReq
}

// Transact runs ops as one transaction. A rejected transaction returns a
// *datomic.Error naming the offending operation and changes nothing.
func (c *Conn) Transact(ctx context.Context, ops []datomic.Op) (datomic.TxReport, error) {
	if err := ctx.Err(); err != nil {
		return datomic.TxReport{}, err
	}
	c.txMu.Lock()
	defer c.txMu.Unlock()

	x := &txState{c: c, ops: ops, nextEnt: c.nextEnt, nextDB: c.nextDB, ctx: ctx}
	if c.shared {
		x.t = x.nextEnt
		x.nextEnt++
	} else {
		x.t = c.nextT
	}
	x.txID = datomic.TxID(x.t)
	x.pos = uint32(len(c.log))
	before := c.log[len(c.log)-1].t

	if err := x.refuseCloudOps(); err != nil {
		return datomic.TxReport{}, err
	}
	if err := x.expand(); err != nil {
		return datomic.TxReport{}, err
	}
	if err := x.resolve(); err != nil {
		return datomic.TxReport{}, err
	}
	if err := x.datoms(); err != nil {
		return datomic.TxReport{}, err
	}
	if err := x.refuseCloudDatoms(); err != nil {
		return datomic.TxReport{}, err
	}
	if err := ctx.Err(); err != nil {
		return datomic.TxReport{}, err
	}
	if uint64(c.facts.n)+uint64(len(x.out)) >= retractFlag || len(c.log) >= 1<<32-1 {
		return datomic.TxReport{}, txErr(datomic.ErrUnavailable, -1, "the in-memory database is full (2^31 datoms)")
	}
	rep := x.apply()
	rep.BasisBefore = before
	return rep, nil
}

// apply writes the transaction's datoms and its log entry.
func (x *txState) apply() datomic.TxReport {
	c := x.c
	rep := datomic.TxReport{
		BasisAfter: x.t,
		TxData:     make([]datomic.Datom, len(x.out)),
		Tempids:    make(map[datomic.TempID]int64, len(x.named)),
	}
	logDatoms := make([]uint32, len(x.out))
	var schemaTouched []int64

	c.mu.Lock()
	for i := range x.out {
		d := &x.out[i]
		rep.TxData[i] = datomic.Datom{E: d.e, A: d.a, V: d.v, Tx: x.txID, Added: d.added}
		if d.added {
			logDatoms[i] = c.insertFact(fact{e: d.e, a: d.a, v: d.v, add: x.pos}, d.ai.ValueType)
		} else {
			c.facts.at(d.fi).ret = x.pos
			c.live--
			logDatoms[i] = d.fi | retractFlag
		}
		if x.isSchemaAttr(d.a) {
			schemaTouched = append(schemaTouched, d.e)
		}
	}
	c.log = append(c.log, txRec{t: x.t, datoms: logDatoms})
	c.lastInstant = x.instant
	x.excise()
	if len(schemaTouched) > 0 {
		c.refreshSchema(schemaTouched) // may add AVET entries: under mu
	}
	c.mu.Unlock()

	c.nextEnt, c.nextDB = x.nextEnt, x.nextDB
	x.installPartitions()
	if !c.shared {
		c.nextT++
	}
	for name, i := range x.named {
		if t := x.tmp(i); t.resolved {
			rep.Tempids[name] = t.id
		}
	}
	return rep
}

// isSchemaAttr reports whether a is one of the attributes that define
// idents and attributes.
func (x *txState) isSchemaAttr(a int64) bool {
	s := &x.c.sys
	switch a {
	case s.ident, s.valueType, s.cardinality, s.unique, s.isComponent, s.noHistory,
		s.index, s.fulltext, s.tupleAttrs, s.tupleType, s.tupleTypes, s.installAttr, s.attrPreds:
		return true
	}
	return false
}

// root follows tempid aliases; i and the result are index+1.
func (x *txState) root(i int32) int32 {
	for x.tmps[i-1].alias != 0 {
		i = x.tmps[i-1].alias
	}
	return i
}

// tmp returns the tempid that i (index+1) stands for, after aliases.
func (x *txState) tmp(i int32) *tmpInfo { return &x.tmps[x.root(i)-1] }
