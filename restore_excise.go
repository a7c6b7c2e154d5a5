package dcbackup

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dcbackup/dcbackup/datomic"
)

// An excision (Datomic Pro's :db/excise) removes the datoms of an entity,
// and of its components, from every database value, the entity's original
// id included: the restore would lose track of entities whose later
// datoms, or refs to them, survive the excision. So before it applies a
// transaction that excises entities, the restore adds their original ids
// to a note in that same transaction (PendingIDsAttr), and asserts again
// those the excision removed, in a transaction of its own: right after,
// and whenever a restore starts (Datomic Pro excises when it next indexes,
// not at once, and a restore may have been interrupted in between). The
// note is kept.

// excisedIDs returns the "<target id>:<source id>" pairs of the target
// entities that tx's excision requests may remove: each excised entity and
// its components, recursively. Nothing when tx excises nothing.
func (r *restorer) excisedIDs(ctx context.Context, seg *Segment, tx datomic.Tx) (string, error) {
	so := r.opsFor(seg)
	var roots []int64
	for _, d := range tx.Datoms {
		if oa := so.attrs[d.A]; oa != nil && oa.attr.Ident == exciseAttr && d.Added {
			if id, ok := d.V.(int64); ok && r.remap.isRestored(id) {
				roots = append(roots, id)
			}
		}
	}
	if len(roots) == 0 {
		return "", nil
	}
	if err := r.remap.lookupIDs(ctx, roots); err != nil {
		return "", err
	}
	db, err := r.remap.targetDB(ctx)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	seen := map[int64]bool{}
	var walk func(tid int64) error
	walk = func(tid int64) error {
		if seen[tid] {
			return nil
		}
		seen[tid] = true
		for d, err := range db.Datoms(ctx, datomic.EAVT, tid) {
			if err != nil {
				return fmt.Errorf("read excised entity %d: %w", tid, err)
			}
			if d.A == r.st.origAttr {
				fmt.Fprintf(&b, "%d:%d ", tid, d.V)
				continue
			}
			a, ok, err := db.Attribute(ctx, d.A)
			if err != nil {
				return err
			}
			if ok && a.IsComponent {
				if c, isID := d.V.(int64); isID {
					if err := walk(c); err != nil {
						return err
					}
				}
			}
		}
		return nil
	}
	for _, src := range roots {
		t, _ := r.remap.cache.get(src)
		if tid, ok := t.(int64); ok {
			if err := walk(tid); err != nil {
				return "", err
			}
		}
	}
	return strings.TrimSpace(b.String()), nil
}

// reassertIDs asserts again the original ids of pending ("<target
// id>:<source id>" pairs) that the target no longer has, in one
// transaction dated at instant (none when it has them all).
func (r *restorer) reassertIDs(ctx context.Context, pending string, instant time.Time) error {
	db, err := r.target.DB(ctx)
	if err != nil {
		return fmt.Errorf("read target database: %w", err)
	}
	var ops []datomic.Op
	for _, pair := range strings.Fields(pending) {
		ts, ss, ok := strings.Cut(pair, ":")
		tid, err1 := strconv.ParseInt(ts, 10, 64)
		src, err2 := strconv.ParseInt(ss, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			return fmt.Errorf("%w: malformed %s %q", ErrTargetModified, PendingIDsAttr, pair)
		}
		held := false
		for _, err := range db.Datoms(ctx, datomic.EAVT, tid, r.st.origAttr) {
			if err != nil {
				return fmt.Errorf("read original id of %d: %w", tid, err)
			}
			held = true
		}
		if !held {
			ops = append(ops, datomic.Add{E: tid, A: r.st.origAttr, V: src})
		}
	}
	if len(ops) == 0 {
		return nil
	}
	ops = append(ops, datomic.Add{E: datomic.TxTempID, A: txInstantAttr, V: instant}, r.ownTxTag())
	if _, err := r.target.Transact(ctx, ops); err != nil {
		return fmt.Errorf("assert again the original ids an excision removed: %w", err)
	}
	if r.remap != nil {
		r.remap.db = nil
	}
	return nil
}
