package mem

import (
	"context"
	"iter"
	"sort"

	"github.com/dcbackup/dcbackup/datomic"
)

// TxRange copies at most logBatch transactions, and stops adding
// transactions to a batch once it holds logBatchDatoms datoms, per lock
// acquisition.
const (
	logBatch       = 64
	logBatchDatoms = 1 << 16
)

// TxRange streams the log's transactions with start <= t < end (end <= 0:
// no upper bound; start and end may also be transaction ids) in t order, each with all its datoms in the order the
// transaction produced them. The range is fixed when the stream starts;
// transactions committed meanwhile are not included.
func (c *Conn) TxRange(ctx context.Context, start, end int64) iter.Seq2[datomic.Tx, error] {
	start, end = datomic.ToT(start), datomic.ToT(end)
	return func(yield func(datomic.Tx, error) bool) {
		c.mu.RLock()
		n := len(c.log)
		lo := sort.Search(n, func(i int) bool { return i > 0 && c.log[i].t >= start })
		hi := n
		if end > 0 {
			hi = sort.Search(n, func(i int) bool { return i > 0 && c.log[i].t >= end })
		}
		c.mu.RUnlock()
		batch := make([]datomic.Tx, 0, logBatch)
		for p := lo; p < hi; {
			if err := ctx.Err(); err != nil {
				yield(datomic.Tx{}, err)
				return
			}
			batch = batch[:0]
			datoms := 0
			c.mu.RLock()
			for ; p < hi && len(batch) < logBatch && datoms < logBatchDatoms; p++ {
				tx := c.txAt(p)
				datoms += len(tx.Datoms)
				batch = append(batch, tx)
			}
			c.mu.RUnlock()
			for _, tx := range batch {
				if !yield(tx, nil) {
					return
				}
			}
		}
	}
}

// txAt returns the transaction at log position p; the caller holds mu.
func (c *Conn) txAt(p int) datomic.Tx {
	rec := &c.log[p]
	tx := datomic.Tx{T: rec.t, Datoms: make([]datomic.Datom, 0, len(rec.datoms))}
	txID := datomic.TxID(rec.t)
	for _, ref := range rec.datoms {
		f := c.facts.at(ref &^ retractFlag)
		added := ref&retractFlag == 0
		if added && f.add == excisedPos || !added && f.ret == excisedPos {
			continue // excised
		}
		tx.Datoms = append(tx.Datoms, datomic.Datom{E: f.e, A: f.a, V: f.v, Tx: txID, Added: added})
	}
	return tx
}
