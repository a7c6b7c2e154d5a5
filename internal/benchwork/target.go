package benchwork

import (
	"context"
	"iter"
	"sync"

	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/mem"
)

// NopTarget is a restore target that does not apply transactions: its
// Transact hands every tempid a fresh entity id and returns, so a restore
// into it measures the restore's own work (load, verify, decompress,
// decode, remap, building the operations) without the target's. The first
// transaction with entity maps (the restore's bookkeeping schema) is
// applied for real to an in-memory database, so that the bookkeeping
// attributes exist. It remembers the original-id of every entity it was
// given, so that the restore's original-id lookups find them, as in a real
// target.
type NopTarget struct {
	db *mem.Conn

	mu       sync.Mutex
	origAttr int64
	t        int64
	next     int64
	orig     map[int64]int64 // source id -> target id
	// Transactions and Ops count what Transact was given.
	Transactions, Ops int
}

var _ datomic.Conn = (*NopTarget)(nil)

// NewNopTarget returns an empty target.
func NewNopTarget() *NopTarget {
	return &NopTarget{db: mem.New(mem.Options{}), next: datomic.EntityID(datomic.PartUser, 1), orig: map[int64]int64{}}
}

// DB returns the bookkeeping database; its original-id index answers from
// the ids handed out.
func (n *NopTarget) DB(ctx context.Context) (datomic.DB, error) {
	db, err := n.db.DB(ctx)
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return nopDB{DB: db, n: n, origAttr: n.origAttr}, nil
}

// TxRange streams the bookkeeping database's log.
func (n *NopTarget) TxRange(ctx context.Context, start, end int64) iter.Seq2[datomic.Tx, error] {
	return n.db.TxRange(ctx, start, end)
}

// Transact applies a transaction of entity maps to the bookkeeping
// database and, for any other, resolves its tempids to fresh ids.
func (n *NopTarget) Transact(ctx context.Context, ops []datomic.Op) (datomic.TxReport, error) {
	for _, op := range ops {
		if _, ok := op.(datomic.EntityMap); ok {
			rep, err := n.db.Transact(ctx, ops)
			if err == nil {
				db := n.db.Snapshot()
				id, _, _ := db.Entid(ctx, "dcbackup/original-id")
				n.mu.Lock()
				n.origAttr = id
				n.t = rep.BasisAfter
				n.mu.Unlock()
			}
			return rep, err
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.t++
	rep := datomic.TxReport{BasisBefore: n.t - 1, BasisAfter: n.t, Tempids: make(map[datomic.TempID]int64, len(ops)/4)}
	rep.Tempids[datomic.TxTempID] = datomic.TxID(n.t)
	resolve := func(x any) int64 {
		switch v := x.(type) {
		case datomic.TempID:
			if id, ok := rep.Tempids[v]; ok {
				return id
			}
			id := n.next
			n.next++
			rep.Tempids[v] = id
			return id
		case int64:
			return v
		}
		return 0
	}
	for _, op := range ops {
		switch o := op.(type) {
		case datomic.Add:
			e := resolve(o.E)
			if _, ok := o.V.(datomic.TempID); ok {
				resolve(o.V)
			}
			if a, ok := o.A.(int64); ok && a == n.origAttr {
				if src, ok := o.V.(int64); ok {
					n.orig[src] = e
				}
			}
		case datomic.Retract:
			resolve(o.E)
		}
	}
	n.Transactions++
	n.Ops += len(ops)
	return rep, nil
}

// nopDB is the bookkeeping database with the original-id index of the ids
// handed out.
type nopDB struct {
	datomic.DB
	n        *NopTarget
	origAttr int64
}

func (d nopDB) Datoms(ctx context.Context, index datomic.Index, components ...any) iter.Seq2[datomic.Datom, error] {
	if index == datomic.AVET && len(components) == 2 && d.origAttr != 0 && components[0] == any(d.origAttr) {
		return func(yield func(datomic.Datom, error) bool) {
			src, _ := components[1].(int64)
			d.n.mu.Lock()
			id, ok := d.n.orig[src]
			d.n.mu.Unlock()
			if ok {
				yield(datomic.Datom{E: id, A: d.origAttr, V: src, Added: true}, nil)
			}
		}
	}
	return d.DB.Datoms(ctx, index, components...)
}
