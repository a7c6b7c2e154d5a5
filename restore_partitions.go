package dcbackup

import (
	"context"
	"errors"
	"fmt"

	"github.com/dcbackup/dcbackup/datomic"
)

// targetParts caches which target entities are partitions: the target's
// [:db.part/db :db.install/partition p] datoms, as of basis.
type targetParts struct {
	parts map[int64]bool
	basis int64 // the basis they were read at; 0: never read
}

// targetPartition returns the target partition that keeps source
// partition p (the partition index of a new entity, outside the built-in
// ones). ok is false when p is not a partition the target has from the
// source: neither a bootstrap entity nor a restored one, or one whose
// target copy is not a partition. The source's database then chose the
// number itself (Datomic Cloud spreads new entities over partitions that
// are numbers, not entities, and that may equal any entity's id), and the
// target places the entity.
func (r *restorer) targetPartition(ctx context.Context, seg *Segment, p int64) (id int64, ok bool, err error) {
	m := r.remap
	if _, boot := seg.Idents[p]; !boot && !m.isRestored(p) {
		return 0, false, nil
	}
	t, err := m.resolveAttr(ctx, seg, p)
	if errors.Is(err, ErrBootstrapMismatch) {
		return 0, false, nil // an ident the target does not have: no partition of it
	}
	if err != nil {
		return 0, false, err
	}
	if id, ok = t.(int64); !ok {
		return 0, false, nil
	}
	ok, err = r.isTargetPartition(ctx, id)
	return id, ok, err
}

// isTargetPartition reports whether target entity id is a partition. The
// partitions are read again, from the database value the remapper reads,
// when id is not among those read at an earlier basis.
func (r *restorer) isTargetPartition(ctx context.Context, id int64) (bool, error) {
	tp := &r.parts
	if tp.parts[id] {
		return true, nil
	}
	db, err := r.remap.targetDB(ctx)
	if err != nil {
		return false, err
	}
	if tp.basis == db.BasisT() && tp.parts != nil {
		return false, nil
	}
	parts := map[int64]bool{}
	for d, err := range db.Datoms(ctx, datomic.EAVT, datomic.PartDB, installPartAttr) {
		if err != nil {
			return false, fmt.Errorf("read the target's partitions: %w", err)
		}
		if v, ok := d.V.(int64); ok {
			parts[v] = true
		}
	}
	*tp = targetParts{parts: parts, basis: db.BasisT()}
	return parts[id], nil
}
