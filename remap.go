package dcbackup

import (
	"context"
	"fmt"
	"strconv"

	"github.com/dcbackup/dcbackup/datomic"
)

// RemapStats counts how source ids were resolved during a restore.
type RemapStats struct {
	// CacheHits and CacheMisses count lookups in the bounded id cache.
	CacheHits, CacheMisses int64
	// Lookups counts queries of the target's original-id index.
	Lookups int64
	// CertainlyNew counts ids resolved as new without a lookup because they
	// are above every source id restored so far in their partition.
	CertainlyNew int64
	// NewEntities counts entities the restore created.
	NewEntities int64
}

// remapper turns source entity ids into target entity ids or tempids.
//
// Order of resolution for a source id: the current transaction's entity
// ("datomic.tx") and its tempids; a bootstrap ident recorded in the segment
// (looked up in the target by ident, cached); an id above every source id
// restored so far in its partition (certainly new: entity ids only grow, so
// neither the cache nor the target is asked); the bounded cache; otherwise
// the target's original-id index.
type remapper struct {
	target   datomic.Conn
	db       datomic.DB // target value for lookups; nil until needed
	origAttr int64
	cache    *idCache[any] // values are boxed int64 target ids
	idents   map[datomic.Keyword]int64
	// maxSeen is, per source partition, the highest source id known to be
	// restored; a partition absent from the map is not known yet (resume).
	maxSeen map[int64]int64
	fresh   bool // the target holds no restored entity yet

	// per transaction
	txID    int64
	tempids map[int64]any // boxed datomic.TempID values
	newIDs  []int64
	name    []byte // scratch for tempid names

	stats RemapStats
}

func newRemapper(target datomic.Conn, origAttr int64, cacheSize int, fresh bool) *remapper {
	return &remapper{
		target: target, origAttr: origAttr, cache: newIDCache[any](cacheSize),
		idents: map[datomic.Keyword]int64{}, maxSeen: map[int64]int64{}, fresh: fresh,
		tempids: map[int64]any{},
	}
}

// beginTx starts remapping source transaction txID (0 for a transaction
// of the restore's own, which restores no source transaction).
func (m *remapper) beginTx(txID int64) {
	m.txID = txID
	clear(m.tempids)
	m.newIDs = m.newIDs[:0]
}

// resolve maps source id src to a target entity id (int64) or a tempid.
// The result is boxed once and shared, so resolving costs no allocation
// for an id seen before.
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
	// A certainly new id is in neither the cache nor the target: it is
	// decided before the cache is probed, which, large, costs a cache
	// miss of the processor per probe.
	isNew, err := m.certainlyNew(ctx, src)
	if err != nil {
		return nil, err
	}
	if !isNew {
		if id, ok := m.cache.get(src); ok {
			return id, nil
		}
		id, found, err := m.lookup(ctx, src)
		if err != nil {
			return nil, err
		}
		if found {
			boxed := any(id)
			m.cache.put(src, boxed)
			return boxed, nil
		}
	}
	m.name = strconv.AppendInt(append(m.name[:0], 's'), src, 10)
	var t any = datomic.TempID(m.name)
	m.tempids[src] = t
	m.newIDs = append(m.newIDs, src)
	return t, nil
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

// certainlyNew reports whether src is above every restored source id of its
// partition.
func (m *remapper) certainlyNew(ctx context.Context, src int64) (bool, error) {
	part := datomic.Part(src)
	hi, ok := m.maxSeen[part]
	if !ok {
		if m.fresh {
			hi = -1
		} else {
			var err error
			if hi, err = m.highestRestored(ctx, part); err != nil {
				return false, err
			}
		}
		m.maxSeen[part] = hi
	}
	if src > hi {
		m.stats.CertainlyNew++
		return true, nil
	}
	return false, nil
}

// highestRestored finds the highest source id of partition part that has an
// original-id in the target, by binary search over the original-id index
// (about 42 probes, once per partition when a restore resumes).
func (m *remapper) highestRestored(ctx context.Context, part int64) (int64, error) {
	lo, hi := datomic.EntityID(part, 0), datomic.EntityID(part+1, 0) // search in [lo, hi)
	found := int64(-1)
	for lo < hi {
		mid := lo + (hi-lo)/2
		first, err := m.anyRestoredIn(ctx, mid, hi)
		if err != nil {
			return 0, err
		}
		if first >= 0 {
			found = first
			lo = first + 1
		} else {
			hi = mid
		}
	}
	return found, nil
}

// anyRestoredIn returns the lowest restored source id in [from, to), or -1.
func (m *remapper) anyRestoredIn(ctx context.Context, from, to int64) (int64, error) {
	db, err := m.targetDB(ctx)
	if err != nil {
		return 0, err
	}
	for d, err := range db.IndexRange(ctx, m.origAttr, from, to) {
		if err != nil {
			return 0, fmt.Errorf("scan target original ids: %w", err)
		}
		if v, ok := d.V.(int64); ok {
			return v, nil
		}
	}
	return -1, nil
}

// lookup finds the target entity restored from source id src.
func (m *remapper) lookup(ctx context.Context, src int64) (int64, bool, error) {
	m.stats.Lookups++
	db, err := m.targetDB(ctx)
	if err != nil {
		return 0, false, err
	}
	for d, err := range db.Datoms(ctx, datomic.AVET, m.origAttr, src) {
		if err != nil {
			return 0, false, fmt.Errorf("look up original id %d in target: %w", src, err)
		}
		return d.E, true, nil
	}
	return 0, false, nil
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
		part := datomic.Part(src)
		if hi, ok := m.maxSeen[part]; !ok || src > hi {
			m.maxSeen[part] = src
		}
	}
	m.stats.NewEntities += int64(len(m.newIDs))
	if id, ok := tempids[datomic.TxTempID]; ok && m.txID != 0 {
		m.cache.put(m.txID, id)
		if hi := m.maxSeen[datomic.PartTx]; m.txID > hi {
			m.maxSeen[datomic.PartTx] = m.txID
		}
	}
	// Later lookups must see this transaction.
	m.db = nil
	return nil
}

func (m *remapper) snapshot() RemapStats {
	s := m.stats
	s.CacheHits, s.CacheMisses = m.cache.hits, m.cache.miss
	return s
}
