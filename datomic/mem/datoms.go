package mem

import (
	"time"

	"github.com/dcbackup/dcbackup/datomic"
)

// retrInfo is an explicit or implicit retraction of the transaction.
type retrInfo struct {
	fi      uint32
	emitted bool
}

// datoms computes the datoms the transaction writes, enforcing
// cardinality, redundancy elimination, :db/txInstant, schema, composite
// tuple and uniqueness rules against the database before the transaction.
func (x *txState) datoms() error {
	if err := x.lower(); err != nil {
		return err
	}
	if err := x.txInstant(); err != nil {
		return err
	}
	c := x.c
	x.added = make(map[eavKey]bool, len(x.stmts))
	for i := range x.stmts {
		s := &x.stmts[i]
		if s.kind != kRetract {
			continue
		}
		if x.derivedInstall(s.e.id, s.a.ID) {
			continue // Datomic drops it: install datoms are the engine's
		}
		fi, ok := c.liveFact(s.e.id, s.a, s.v)
		if !ok {
			if len(s.a.composites) > 0 {
				x.compTouched = append(x.compTouched, touchRec{s.e.id, s.a.ID, s.op})
			}
			continue
		}
		if x.retr == nil {
			x.retr = make(map[eavKey]*retrInfo)
		}
		k := eavKey{s.e.id, s.a.ID, valKey(s.v)}
		if _, dup := x.retr[k]; !dup {
			x.retr[k] = &retrInfo{fi: fi}
		}
	}
	for i := range x.stmts {
		s := &x.stmts[i]
		switch s.kind {
		case kRetract:
			k := eavKey{s.e.id, s.a.ID, valKey(s.v)}
			if r := x.retr[k]; r != nil && !r.emitted {
				x.retract(s.op, r, s.a)
			}
		case kAdd:
			if err := x.assert(s); err != nil {
				return err
			}
		}
	}
	if err := x.checkBootDatoms(); err != nil {
		return err
	}
	if err := x.checkSchema(); err != nil {
		return err
	}
	if err := x.checkPartitions(); err != nil {
		return err
	}
	if err := x.composites(); err != nil {
		return err
	}
	if err := x.checkUnique(); err != nil {
		return err
	}
	return x.checkPreds()
}

func (x *txState) retract(op int32, r *retrInfo, a *attrInfo) {
	f := x.c.facts.at(r.fi)
	r.emitted = true
	if x.gone == nil {
		x.gone = make(map[uint32]bool)
	}
	x.gone[r.fi] = true
	x.out = append(x.out, datum{e: f.e, a: f.a, v: f.v, ai: a, fi: r.fi, op: op})
}

// assert handles one [:db/add e a v].
func (x *txState) assert(s *stmt) error {
	c := x.c
	e, a, v := s.e.id, s.a, s.v
	switch {
	case e == x.txID && a.ID == c.sys.txInstant:
		return nil // handled by txInstant
	case x.derivedInstall(e, a.ID):
		// Datomic drops explicit install and alter datoms and writes the
		// install datom of each new attribute itself (checkSchema).
		if a.ID == c.sys.installAttr {
			if x.installVals == nil {
				x.installVals = make(map[int64]bool)
			}
			x.installVals[v.(int64)] = true
		}
		return nil
	case a.ID == c.sys.ensure:
		// :db/ensure is a directive, never a datom (checkPreds).
		x.ensures = append(x.ensures, ensureReq{e: e, spec: v.(int64), op: s.op})
		return nil
	}
	vk := valKey(v)
	k := eavKey{e, a.ID, vk}
	if r := x.retr[k]; r != nil {
		return txErr(datomic.ErrDatomsConflict, int(s.op), "%s is both asserted and retracted in this transaction",
			fmtDatom("db/add", e, a.Ident, v))
	}
	if x.added[k] {
		return nil
	}
	x.added[k] = true
	redundant := false
	if !a.IsMany() {
		ea := eaKey{e, a.ID}
		if prev, ok := x.oneVal[ea]; ok {
			return txErr(datomic.ErrDatomsConflict, int(s.op), "two values for cardinality-one attribute %s of entity %d in one transaction: %s and %s",
				a.Ident, e, fmtPos(prev), fmtPos(v))
		}
		if x.oneVal == nil {
			x.oneVal = make(map[eaKey]any)
		}
		x.oneVal[ea] = v
		if x.maybeLive(e) {
			for _, i := range c.ents[e] {
				f := c.facts.at(i)
				if f.a != a.ID || f.ret != 0 {
					continue
				}
				if eqVal(f.v, v) {
					redundant = true
					continue
				}
				k2 := eavKey{e, a.ID, valKey(f.v)}
				if r := x.retr[k2]; r != nil {
					continue // retracted explicitly by this transaction
				}
				if x.retr == nil {
					x.retr = make(map[eavKey]*retrInfo)
				}
				r := &retrInfo{fi: i}
				x.retr[k2] = r
				x.retract(s.op, r, a)
			}
		}
	} else if x.maybeLive(e) {
		_, redundant = c.liveFact(e, a, v)
	}
	if !redundant {
		x.out = append(x.out, datum{e: e, a: a.ID, v: v, ai: a, added: true, op: s.op})
	} else if len(a.composites) > 0 {
		x.compTouched = append(x.compTouched, touchRec{e, a.ID, s.op})
	}
	return nil
}

// derivedInstall reports whether [e a] is an install or alter datom on
// :db.part/db, which the engine derives itself.
func (x *txState) derivedInstall(e, a int64) bool {
	return e == datomic.PartDB && (a == x.c.sys.installAttr || a == x.c.sys.alterAttr)
}

// maybeLive reports whether e may have datoms before this transaction
// (false for entities created by it).
func (x *txState) maybeLive(e int64) bool {
	n := e & (1<<datomic.PartShift - 1)
	switch datomic.Part(e) {
	case datomic.PartUser:
		return n < x.c.nextEnt
	case datomic.PartDB:
		return n < x.c.nextDB
	case datomic.PartTx:
		return e != x.txID
	}
	if p := datomic.Part(e); x.c.isPartition(p) {
		return n < x.c.partNext(p)
	}
	return true
}

// lower rewrites :db/cas, :db/retractEntity and value-less retractions into
// plain assertions and retractions.
func (x *txState) lower() error {
	complex := false
	for i := range x.stmts {
		if k := x.stmts[i].kind; k != kAdd && k != kRetract {
			complex = true
			break
		}
	}
	if !complex {
		return nil
	}
	c := x.c
	out := make([]stmt, 0, len(x.stmts))
	var done map[int64]bool
	for _, s := range x.stmts {
		switch s.kind {
		case kRetractAll:
			c.liveValues(s.e.id, s.a.ID, func(_ uint32, f *fact) {
				out = append(out, stmt{op: s.op, kind: kRetract, e: ent{id: f.e}, a: s.a, v: f.v})
			})
		case kCAS:
			var cur []any
			c.liveValues(s.e.id, s.a.ID, func(_ uint32, f *fact) { cur = append(cur, f.v) })
			ok := (s.old == nil && len(cur) == 0) || (s.old != nil && len(cur) == 1 && eqVal(cur[0], s.old))
			if !ok {
				var have any
				if len(cur) > 0 {
					have = cur[0]
				}
				return txErr(datomic.ErrCASFailed, int(s.op), "compare failed: %s: expected %s, found %s",
					fmtDatom("db/cas", s.e.id, s.a.Ident, s.v), fmtPos(s.old), fmtPos(have))
			}
			s.kind = kAdd
			out = append(out, s)
		case kRetractEntity:
			if done == nil {
				done = make(map[int64]bool)
			}
			out = x.retractEntity(s.op, s.e.id, out, done)
		default:
			out = append(out, s)
		}
	}
	x.stmts = out
	return nil
}

// retractEntity appends retractions of every datom of e, of every reference
// to e, and recursively of e's component entities.
func (x *txState) retractEntity(op int32, e int64, out []stmt, done map[int64]bool) []stmt {
	if done[e] {
		return out
	}
	done[e] = true
	c := x.c
	var comps []int64
	for _, i := range c.ents[e] {
		f := c.facts.at(i)
		if f.ret != 0 {
			continue
		}
		a := c.attrs[f.a]
		if a == nil {
			continue
		}
		out = append(out, stmt{op: op, kind: kRetract, e: ent{id: e}, a: a, v: f.v})
		if a.IsComponent && a.ValueType == datomic.TypeRef {
			comps = append(comps, f.v.(int64))
		}
	}
	for _, i := range c.refs[e] {
		f := c.facts.at(i)
		if f.ret != 0 {
			continue
		}
		if a := c.attrs[f.a]; a != nil {
			out = append(out, stmt{op: op, kind: kRetract, e: ent{id: f.e}, a: a, v: f.v})
		}
	}
	for _, ce := range comps {
		out = x.retractEntity(op, ce, out, done)
	}
	return out
}

// txInstant settles the transaction's :db/txInstant: an explicit one must
// not be older than the latest transaction's nor in the future.
func (x *txState) txInstant() error {
	c := x.c
	var inst time.Time
	given := false
	op := int32(-1)
	for i := range x.stmts {
		s := &x.stmts[i]
		if s.a.ID != c.sys.txInstant || (s.kind != kAdd && s.kind != kRetract) {
			continue
		}
		if s.e.id != x.txID {
			if datomic.IsTxID(s.e.id) {
				return txErr(datomic.ErrResetTxInstant, int(s.op), "%s: you can set :db/txInstant only on the current transaction",
					fmtDatom(kindName(s.kind), s.e.id, s.a.Ident, s.v))
			}
			continue // an ordinary datom on an ordinary entity
		}
		if s.kind != kAdd {
			continue
		}
		t := s.v.(time.Time)
		if given && !t.Equal(inst) {
			return txErr(datomic.ErrMultipleTxInstants, int(s.op), "time conflict: :db/txInstant specified more than once (%s and %s)",
				fmtPos(inst), fmtPos(t))
		}
		inst, given, op = t, true, s.op
	}
	now := datomic.Instant(c.clock())
	if given {
		if inst.Before(c.lastInstant) {
			return txErr(datomic.ErrPastTxInstant, int(op), "time conflict: %s is older than the database basis %s",
				fmtPos(inst), fmtPos(c.lastInstant))
		}
		if inst.After(now) {
			return txErr(datomic.ErrFutureTxInstant, int(op), "time conflict: %s is in the future (now %s)",
				fmtPos(inst), fmtPos(now))
		}
	} else {
		inst = now
		if inst.Before(c.lastInstant) {
			inst = c.lastInstant
		}
	}
	x.instant = inst
	a := c.attrs[c.sys.txInstant]
	x.out = append(x.out, datum{e: x.txID, a: a.ID, v: inst, ai: a, added: true, op: op})
	return nil
}

// checkUnique rejects assertions of unique values held by another entity.
func (x *txState) checkUnique() error {
	c := x.c
	var mine map[avKey]int64
	for i := range x.out {
		d := &x.out[i]
		if !d.added || d.ai.Unique == datomic.UniqueNone {
			continue
		}
		vk := valKey(d.v)
		if mine == nil {
			mine = make(map[avKey]int64)
		}
		k := avKey{d.a, vk}
		if other, ok := mine[k]; ok && other != d.e {
			return txErr(datomic.ErrUniqueConflict, int(d.op), "unique conflict: %s, value %s of %s also asserted for entity %d in this transaction",
				fmtDatom("db/add", d.e, d.ai.Ident, d.v), fmtPos(d.v), d.ai.Ident, other)
		}
		mine[k] = d.e
		var one [1]uint32
		for _, fi := range d.ai.vals.get(vk, &one) {
			f := c.facts.at(fi)
			if f.ret == 0 && f.e != d.e && !x.gone[fi] {
				return txErr(datomic.ErrUniqueConflict, int(d.op), "unique conflict: %s, value %s of %s already held by entity %d",
					fmtDatom("db/add", d.e, d.ai.Ident, d.v), fmtPos(d.v), d.ai.Ident, f.e)
			}
		}
	}
	return nil
}
