package dcbackup

import (
	"context"
	"fmt"
	"sync"

	"github.com/dcbackup/dcbackup/datomic"
)

// sourceLineage returns the lineage of the source: its database id, when
// its connection tells one, and its log's first transaction.
func sourceLineage(ctx context.Context, conn datomic.Conn, schema *sourceSchema) (Lineage, error) {
	l := Lineage{GenesisT: schema.first.T}
	if idc, ok := conn.(datomic.Identified); ok {
		id, err := idc.DatabaseID(ctx)
		if err != nil {
			return l, fmt.Errorf("read the source's database id: %w", err)
		}
		l.DatabaseID = id
	}
	inst, err := schema.firstInstant(ctx)
	if err != nil {
		return l, err
	}
	l.GenesisInstant = inst
	return l, nil
}

// sourceLinks computes and remembers links of source transactions, to
// compare the store with the source. It is safe for concurrent use.
type sourceLinks struct {
	conn   datomic.Conn
	schema *sourceSchema
	basis  int64
	mu     sync.Mutex
	dig    *TxDigester
}

func newSourceLinks(conn datomic.Conn, schema *sourceSchema, basis int64, l Lineage) *sourceLinks {
	return &sourceLinks{conn: conn, schema: schema, basis: basis, dig: NewTxDigester(l)}
}

// link returns the source's link for tx.
func (s *sourceLinks) link(tx datomic.Tx) (TxLink, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dig.Link(tx)
}

// storeView is what a stored segment says about the source transactions
// around its end: its last transaction, and that no other transaction lies
// between that one and its end.
type storeView struct {
	seg  SegmentInfo
	last TxLink
}

// check compares a stored segment's end with the source: the source must
// have reached the segment's end, have the segment's last transaction
// with the same digest, and have no transaction between it and the
// segment's end. It returns nil or a *SourceMismatchError; excised reports
// a digest that differs because the source excised data since (the
// segment's transaction then holds datoms the source no longer has).
func (s *sourceLinks) check(ctx context.Context, db string, v storeView) (excised bool, err error) {
	mismatch := func(format string, args ...any) error {
		return &SourceMismatchError{DB: db, Segment: v.seg, What: fmt.Sprintf(format, args...)}
	}
	if v.seg.EndT-1 > s.basis {
		return false, mismatch("the store covers t up to %d, but the source's basis is t %d (a store of another database, or a source restored from an older backup)", v.seg.EndT-1, s.basis)
	}
	from := v.seg.StartT
	if v.last.T >= 0 {
		from = v.last.T
	}
	var got []datomic.Tx
	for tx, err := range s.schema.userTxs(ctx, s.conn, from, v.seg.EndT) {
		if err != nil {
			return false, fmt.Errorf("read source log [%d, %d): %w", from, v.seg.EndT, err)
		}
		got = append(got, tx)
		if len(got) > 1 {
			break
		}
	}
	switch {
	case v.last.T >= 0 && (len(got) == 0 || got[0].T != v.last.T):
		return false, mismatch("the store's transaction t %d is not in the source", v.last.T)
	case v.last.T < 0 && len(got) > 0:
		return false, mismatch("the source has a transaction at t %d, which the store records as empty", got[0].T)
	case len(got) > 1:
		return false, mismatch("the source has a transaction at t %d, between the store's last transaction t %d and the end of its segment", got[1].T, v.last.T)
	case v.last.T < 0:
		return false, nil
	}
	l, err := s.link(got[0])
	if err != nil {
		return false, err
	}
	if l.Digest == v.last.Digest {
		return false, nil
	}
	ex, err := excisedSince(ctx, s.conn, l.T)
	if err != nil {
		return false, err
	}
	if ex >= 0 {
		return true, nil
	}
	return false, mismatch("the source's transaction t %d differs from the store's (digest %s, the store has %s)", l.T, l.Digest, v.last.Digest)
}

// excisedSince returns the t of an excision request in the source newer
// than t, or -1 when there is none.
func excisedSince(ctx context.Context, conn datomic.Conn, t int64) (int64, error) {
	db, err := conn.DB(ctx)
	if err != nil {
		return -1, fmt.Errorf("read source database: %w", err)
	}
	if _, ok, err := db.Entid(ctx, exciseAttr); err != nil || !ok {
		return -1, err
	}
	found := int64(-1)
	for d, err := range db.Datoms(ctx, datomic.AEVT, exciseAttr) {
		if err != nil {
			return -1, fmt.Errorf("read source excisions: %w", err)
		}
		if et := datomic.ToT(d.Tx); et > t {
			found = max(found, et)
		}
	}
	return found, nil
}

// exciseAttr is Datomic Pro's :db/excise.
const exciseAttr datomic.Keyword = "db/excise"
