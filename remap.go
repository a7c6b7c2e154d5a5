package dcbackup

import (
	"context"
	"fmt"
	"strconv"

	"github.com/RoaringBitmap/roaring/v2/roaring64"

	"github.com/dcbackup/dcbackup/datomic"
)

// RemapStats counts how source ids were resolved during a restore.
type RemapStats struct {
	// CacheHits and CacheMisses count lookups in the bounded id cache.
	CacheHits, CacheMisses int64
	// LookupRefs counts ids sent to the target as lookup refs
	// [:dcbackup/original-id id], which the target resolves itself.
	LookupRefs int64
	// Lookups counts requests to the target to resolve ids the restore
	// needs as numbers (refs inside tuples), each for one or more ids.
	Lookups int64
	// NewEntities counts entities the restore created.
	NewEntities int64
	// RestoredIDs is the number of source ids the target held when the
	// restore started, read in one pass of its original-id index (0 for a
	// fresh target).
	RestoredIDs int64
	// IDSetBytes is the memory of the set of restored source ids at the
	// end of the restore.
	IDSetBytes int64
}

// remapper turns source entity ids into target entity ids, lookup refs or
// tempids.
//
// It keeps the exact set of source ids the target holds (every restored
// entity and transaction carries its original id), read once from the
// target's original-id index when a restore resumes, and kept up to date
// with every transaction. A source id in the set is sent as the lookup ref
// [:dcbackup/original-id id], which the target resolves in the transaction
// without a round trip, or as its target id when the bounded cache has
// it; an id not in the set is a new entity: a tempid carrying its original
// id. Only refs inside tuples, which cannot hold lookup refs, need target
// ids: they are resolved in one request per transaction.
type remapper struct {
	target   datomic.Conn
	db       datomic.DB // target value for lookups; nil until needed
	origAttr int64
	restored *roaring64.Bitmap
	cache    *idCache[any] // values are boxed int64 target ids
	idents   map[datomic.Keyword]int64
	// attrs are the boxed target ids of the attributes and partitions
	// resolveAttr resolved: few (the schema's), needed by every segment,
	// and never evicted, so that a small cache does not look them up
	// again segment after segment.
	attrs map[int64]any

	// per transaction
	txID    int64
	tempids map[int64]any // boxed datomic.TempID values
	newIDs  []int64
	name    []byte // scratch for tempid names

	stats RemapStats
}

// newRemapper returns a remapper for target; unless the target is fresh,
// it reads the set of source ids the target holds.
func newRemapper(ctx context.Context, target datomic.Conn, origAttr int64, cacheSize int, fresh bool) (*remapper, error) {
	m := &remapper{
		target: target, origAttr: origAttr, restored: roaring64.New(), cache: newIDCache[any](cacheSize),
		idents: map[datomic.Keyword]int64{}, tempids: map[int64]any{}, attrs: map[int64]any{},
	}
	if fresh {
		return m, nil
	}
	db, err := m.targetDB(ctx)
	if err != nil {
		return nil, err
	}
	for d, err := range db.IndexRange(ctx, origAttr, nil, nil) {
		if err != nil {
			return nil, fmt.Errorf("read the target's original ids: %w", err)
		}
		if v, ok := d.V.(int64); ok && v >= 0 {
			m.restored.Add(uint64(v))
		}
	}
	m.stats.RestoredIDs = int64(m.restored.GetCardinality())
	return m, nil
}

// beginTx starts remapping source transaction txID (0 for a transaction
// of the restore's own, which restores no source transaction).
func (m *remapper) beginTx(txID int64) {
	m.txID = txID
	clear(m.tempids)
	m.newIDs = m.newIDs[:0]
}

// isRestored reports whether the target holds an entity restored from
// source id src.
func (m *remapper) isRestored(src int64) bool { return src >= 0 && m.restored.Contains(uint64(src)) }

// resolve maps source id src to a target entity id (int64), a lookup ref
// or a tempid. The result is boxed once and shared where it can be, so
// resolving costs no allocation for an id seen before.
func (m *remapper) resolve(ctx context.Context, seg *Segment, src int64) (any, error) {
	if src == m.txID {
		return datomic.TxTempID, nil
	}
	if t, ok := m.tempids[src]; ok {
		return t, nil
	}
	if kw, ok := seg.Idents[src]; ok {
		if id, ok := m.cache.get(src); ok {
			return id, nil
		}
		id, err := m.bootstrap(ctx, kw)
		if err != nil {
			return nil, err
		}
		boxed := any(id)
		m.cache.put(src, boxed)
		return boxed, nil
	}
	if m.isRestored(src) {
		if id, ok := m.cache.get(src); ok {
			return id, nil
		}
		m.stats.LookupRefs++
		return datomic.LookupRef{A: m.origAttr, V: src}, nil
	}
	m.name = strconv.AppendInt(append(m.name[:0], 's'), src, 10)
	var t any = datomic.TempID(m.name)
	m.tempids[src] = t
	m.newIDs = append(m.newIDs, src)
	return t, nil
}

// resolveAttr resolves src where Datomic takes no lookup ref (an
// attribute, a partition): like resolve, but a restored entity's target
// id is looked up when the cache does not hold it.
func (m *remapper) resolveAttr(ctx context.Context, seg *Segment, src int64) (any, error) {
	if id, ok := m.attrs[src]; ok {
		return id, nil
	}
	t, err := m.resolve(ctx, seg, src)
	if err != nil {
		return nil, err
	}
	switch t.(type) {
	case int64:
		m.attrs[src] = t
		return t, nil
	case datomic.LookupRef:
	default:
		return t, nil // created by this transaction
	}
	m.stats.LookupRefs--
	if err := m.lookupIDs(ctx, []int64{src}); err != nil {
		return nil, err
	}
	id, _ := m.cache.get(src)
	m.attrs[src] = id
	return id, nil
}

// bootstrap returns the target id of a bootstrap ident.
func (m *remapper) bootstrap(ctx context.Context, kw datomic.Keyword) (int64, error) {
	if id, ok := m.idents[kw]; ok {
		return id, nil
	}
	db, err := m.targetDB(ctx)
	if err != nil {
		return 0, err
	}
	id, ok, err := db.Entid(ctx, kw)
	if err != nil {
		return 0, fmt.Errorf("look up %s in target: %w", kw, err)
	}
	if !ok {
		return 0, fmt.Errorf("%w: the target has no %s; restore into a Datomic of a compatible version", ErrBootstrapMismatch, kw)
	}
	m.idents[kw] = id
	return id, nil
}

// lookupIDs puts the target ids of the restored source ids srcs into the
// cache, in one request: a batch lookup where the target has one,
// otherwise one pass over the range of the original-id index that holds
// them, or, when that range holds many more ids than wanted, one lookup
// each.
func (m *remapper) lookupIDs(ctx context.Context, srcs []int64) error {
	db, err := m.targetDB(ctx)
	if err != nil {
		return err
	}
	lo, hi := srcs[0], srcs[0]
	want := make(map[int64]bool, len(srcs))
	for _, s := range srcs {
		lo, hi = min(lo, s), max(hi, s)
		want[s] = true
	}
	found := func(src, id int64) {
		if want[src] {
			m.cache.put(src, id)
			delete(want, src)
		}
	}
	if br, ok := db.(datomic.BatchResolver); ok {
		m.stats.Lookups++
		vals := make([]any, len(srcs))
		for i, s := range srcs {
			vals[i] = s
		}
		ids, err := br.ResolveLookupRefs(ctx, m.origAttr, vals)
		if err != nil {
			return fmt.Errorf("look up original ids in target: %w", err)
		}
		for i, id := range ids {
			if id != 0 {
				found(srcs[i], id)
			}
		}
	} else if span := m.restored.Rank(uint64(hi)) - m.restored.Rank(uint64(lo)) + 1; span <= uint64(4*len(srcs)+64) {
		m.stats.Lookups++
		for d, err := range db.IndexRange(ctx, m.origAttr, lo, hi+1) {
			if err != nil {
				return fmt.Errorf("look up original ids in target: %w", err)
			}
			if v, ok := d.V.(int64); ok {
				found(v, d.E)
			}
		}
	} else {
		for _, s := range srcs {
			m.stats.Lookups++
			for d, err := range db.Datoms(ctx, datomic.AVET, m.origAttr, s) {
				if err != nil {
					return fmt.Errorf("look up original id %d in target: %w", s, err)
				}
				found(s, d.E)
				break
			}
		}
	}
	for s := range want {
		return fmt.Errorf("the target has no entity with original id %d, though it was restored", s)
	}
	return nil
}

func (m *remapper) targetDB(ctx context.Context) (datomic.DB, error) {
	if m.db == nil {
		db, err := m.target.DB(ctx)
		if err != nil {
			return nil, fmt.Errorf("read target database: %w", err)
		}
		m.db = db
	}
	return m.db, nil
}

// commit records the ids the target gave to the entities this transaction
// created.
func (m *remapper) commit(tempids map[datomic.TempID]int64) error {
	for _, src := range m.newIDs {
		name, _ := m.tempids[src].(datomic.TempID)
		id, ok := tempids[name]
		if !ok {
			return fmt.Errorf("target did not resolve tempid %s", name)
		}
		m.cache.put(src, id)
		m.restored.Add(uint64(src))
	}
	m.stats.NewEntities += int64(len(m.newIDs))
	if id, ok := tempids[datomic.TxTempID]; ok && m.txID != 0 {
		m.cache.put(m.txID, id)
		m.restored.Add(uint64(m.txID))
	}
	// Later lookups must see this transaction.
	m.db = nil
	return nil
}

func (m *remapper) snapshot() RemapStats {
	s := m.stats
	s.CacheHits, s.CacheMisses = m.cache.hits, m.cache.miss
	s.IDSetBytes = int64(m.restored.GetSizeInBytes())
	return s
}
