package mem

import (
	"github.com/dcbackup/dcbackup/datomic"
)

type avKey struct {
	a int64
	v any
}

// resolve gives every tempid its entity id: an existing entity when the
// tempid asserts a unique-identity value that entity holds (upsert), else a
// new id (see newID for its partition). Tempids that assert the same new
// unique-identity value become one entity. A tempid that upserts keeps the
// existing entity's id whatever partition it was forced into.
func (x *txState) resolve() error {
	if len(x.tmps) == 0 {
		return nil
	}
	c := x.c
	for changed := true; changed; {
		changed = false
		for i := range x.stmts {
			s := &x.stmts[i]
			if s.kind != kAdd || s.e.tmp == 0 || s.a.Unique != datomic.UniqueIdentity {
				continue
			}
			t := x.tmp(s.e.tmp)
			if t.resolved {
				continue
			}
			v := s.v
			if s.vtmp != 0 {
				vt := x.tmp(s.vtmp)
				if !vt.resolved {
					continue
				}
				v = vt.id
			}
			if id, ok := c.holder(s.a, v); ok {
				t.id, t.resolved = id, true
				changed = true
			}
		}
	}

	var seen map[avKey]int32
	for i := range x.stmts {
		s := &x.stmts[i]
		if s.kind != kAdd || s.e.tmp == 0 || s.a.Unique != datomic.UniqueIdentity {
			continue
		}
		r := x.root(s.e.tmp)
		if x.tmps[r-1].resolved {
			continue
		}
		v := s.v
		if s.vtmp != 0 {
			vt := x.tmp(s.vtmp)
			if !vt.resolved {
				continue
			}
			v = vt.id
		}
		if seen == nil {
			seen = make(map[avKey]int32)
		}
		k := avKey{s.a.ID, valKey(v)}
		other, ok := seen[k]
		if !ok {
			seen[k] = r
			continue
		}
		if other = x.root(other); other != r {
			o, t := &x.tmps[other-1], &x.tmps[r-1]
			o.entity = o.entity || t.entity
			o.used = o.used || t.used
			o.schema = o.schema || t.schema
			if t.forced {
				if o.forced && o.force != t.force {
					return txErr(datomic.ErrInvalidOp, int(t.op), "tempids %q and %q name one new entity but are forced into partitions %d and %d",
						string(o.name), string(t.name), o.force, t.force)
				}
				o.forced, o.force = true, t.force
			}
			if o.tagPart == 0 {
				o.tagPart = t.tagPart
			}
			o.dbPart = o.dbPart || t.dbPart
			t.alias = other
		}
	}

	for i := range x.tmps {
		t := &x.tmps[i]
		if t.alias != 0 || t.resolved {
			continue
		}
		if !t.entity {
			if t.used {
				name := string(t.name)
				return txErr(datomic.ErrTempidNotAnEntity, int(t.op), "tempid %q is used only as a value; it must also be the entity of an assertion", name)
			}
			continue
		}
		id, err := x.newID(t)
		if err != nil {
			return err
		}
		t.id, t.resolved = id, true
	}

	for i := range x.stmts {
		s := &x.stmts[i]
		if s.e.tmp != 0 {
			s.e.id = x.tmp(s.e.tmp).id
		}
		if s.vtmp != 0 {
			s.v = x.tmp(s.vtmp).id
		}
	}
	return nil
}
