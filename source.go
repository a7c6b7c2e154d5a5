package dcbackup

import (
	"context"
	"fmt"
	"iter"
	"sync"
	"time"

	"github.com/dcbackup/dcbackup/datomic"
)

// Idents of the built-in attributes backup and restore look at.
const (
	identAttr     datomic.Keyword = "db/ident"
	valueTypeAttr datomic.Keyword = "db/valueType"
	txInstantAttr datomic.Keyword = "db/txInstant"
)

// sourceSchema is what a backup needs to know about the source beyond its
// log: the bootstrap entities and the attributes. It is read once per
// backup call from one database value and is safe for concurrent use.
type sourceSchema struct {
	db datomic.DB
	// first is the source log's first transaction (T -1: empty log).
	first datomic.Tx
	// userStart is the t of the first transaction the source's users
	// wrote: the transactions before it are the database's own bootstrap
	// (Datomic Cloud logs them, t 1 to 5), never backed up or restored.
	userStart int64
	// renames maps every attribute whose ident changed since it was
	// installed to its current ident (Segment.Renames).
	renames   map[int64]datomic.Keyword
	bootstrap map[int64]datomic.Keyword
	// maxBootstrap is the highest bootstrap id: an id above it (every
	// user entity and transaction) needs no lookup in bootstrap.
	maxBootstrap int64

	mu    sync.Mutex
	attrs map[int64]datomic.Attribute
}

// loadSourceSchema reads the bootstrap entities of db. An entity is a
// bootstrap entity when its :db/ident was asserted by a transaction older
// than the first transaction in the log (no logged transaction created it),
// or when its ident is one of Datomic's built-ins (see builtinIdent), in
// case a Datomic version logs its bootstrap transactions. A restore finds
// bootstrap entities in the target by ident.
func loadSourceSchema(ctx context.Context, conn datomic.Conn, db datomic.DB) (*sourceSchema, error) {
	s := &sourceSchema{db: db, first: datomic.Tx{T: -1}, bootstrap: map[int64]datomic.Keyword{},
		attrs: map[int64]datomic.Attribute{}, renames: map[int64]datomic.Keyword{}}
	bootTxs := 0
	if lc, ok := conn.(datomic.Limited); ok {
		lim, err := lc.Limits(ctx)
		if err != nil {
			return nil, fmt.Errorf("read the source's limits: %w", err)
		}
		bootTxs = lim.BootstrapTxs
	}
	n := 0
	s.userStart = -1
	for tx, err := range conn.TxRange(ctx, 0, 0) {
		if err != nil {
			return nil, fmt.Errorf("read first transactions of the source log: %w", err)
		}
		if n == 0 {
			s.first = tx
		}
		if n == bootTxs {
			s.userStart = tx.T
			break
		}
		n++
		s.userStart = tx.T + 1
	}
	if s.userStart < 0 {
		s.userStart = 0
	}
	// Idents asserted before the first user transaction are bootstrap
	// idents; with an empty log, every ident is.
	firstT := s.userStart
	if n == 0 && s.first.T < 0 {
		firstT = -1
	}
	// The transaction that gave each entity its current ident.
	identTx := map[int64]int64{}
	for d, err := range db.Datoms(ctx, datomic.AEVT, identAttr) {
		if err != nil {
			return nil, fmt.Errorf("read source idents: %w", err)
		}
		kw, ok := d.V.(datomic.Keyword)
		if !ok {
			return nil, fmt.Errorf("source ident of %d is %T, not a keyword", d.E, d.V)
		}
		identTx[d.E] = d.Tx
		if firstT < 0 || datomic.ToT(d.Tx) < firstT || builtinIdent(kw) {
			s.bootstrap[d.E] = kw
			s.maxBootstrap = max(s.maxBootstrap, d.E)
		}
	}
	// An attribute whose ident was asserted after its value type was
	// renamed (or given its ident late).
	for d, err := range db.Datoms(ctx, datomic.AEVT, valueTypeAttr) {
		if err != nil {
			return nil, fmt.Errorf("read source attributes: %w", err)
		}
		if tx, ok := identTx[d.E]; ok && tx > d.Tx {
			kw, _, err := db.Ident(ctx, d.E)
			if err != nil {
				return nil, fmt.Errorf("read ident of source attribute %d: %w", d.E, err)
			}
			s.renames[d.E] = kw
		}
	}
	return s, nil
}

// userTxs streams the source transactions of [start, end) that its users
// wrote, leaving out the database's bootstrap transactions.
func (s *sourceSchema) userTxs(ctx context.Context, conn datomic.Conn, start, end int64) iter.Seq2[datomic.Tx, error] {
	return conn.TxRange(ctx, max(start, s.userStart), end)
}

// firstInstant returns the :db/txInstant of the log's first transaction.
func (s *sourceSchema) firstInstant(ctx context.Context) (time.Time, error) {
	if s.first.T < 0 {
		return time.Time{}, nil
	}
	for _, d := range s.first.Datoms {
		if d.E != d.Tx || !d.Added {
			continue
		}
		a, err := s.attribute(ctx, d.A)
		if err != nil {
			return time.Time{}, err
		}
		if a.Ident == txInstantAttr {
			if t, ok := d.V.(time.Time); ok {
				return t, nil
			}
		}
	}
	return time.Time{}, fmt.Errorf("the source's first transaction, t %d, has no :db/txInstant", s.first.T)
}

// attribute returns the source attribute with id, cached.
func (s *sourceSchema) attribute(ctx context.Context, id int64) (datomic.Attribute, error) {
	s.mu.Lock()
	a, ok := s.attrs[id]
	s.mu.Unlock()
	if ok {
		return a, nil
	}
	a, ok, err := s.db.Attribute(ctx, id)
	if err != nil {
		return a, fmt.Errorf("read source attribute %d: %w", id, err)
	}
	if !ok {
		return a, fmt.Errorf("source log uses attribute %d, which the source does not describe", id)
	}
	s.mu.Lock()
	s.attrs[id] = a
	s.mu.Unlock()
	return a, nil
}

// builtinIdent reports whether kw names one of Datomic's built-in entities:
// the :db namespace, the db.* namespaces Datomic reserves for its schema
// (but not :db.part/*, where users install partitions, beyond the three
// built-in ones), and :fressian/tag.
func builtinIdent(kw datomic.Keyword) bool {
	switch ns := kw.Namespace(); ns {
	case "db", "db.type", "db.cardinality", "db.unique", "db.install", "db.alter",
		"db.excise", "db.bootstrap", "db.sys", "db.fn", "db.attr", "db.entity", "db.lang":
		return true
	case "db.part":
		switch kw.Name() {
		case "db", "tx", "user":
			return true
		}
	case "fressian":
		return kw == "fressian/tag"
	}
	return false
}
