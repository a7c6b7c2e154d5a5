package dcbackup

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// MemStore is a BackupStore that keeps segments in memory, for tests. It is
// safe for concurrent use. Saved and loaded bytes are copied, so callers may
// reuse their buffers.
type MemStore struct {
	mu  sync.RWMutex
	dbs map[string]map[segmentKey][]byte
	// quarantined holds quarantined segments by their quarantine name.
	quarantined map[string][]byte
}

type segmentKey struct{ start, end int64 }

var (
	_ BackupStore    = (*MemStore)(nil)
	_ HeadLoader     = (*MemStore)(nil)
	_ SegmentRemover = (*MemStore)(nil)
)

// NewMemStore returns an empty in-memory store.
func NewMemStore() *MemStore {
	return &MemStore{dbs: make(map[string]map[segmentKey][]byte), quarantined: make(map[string][]byte)}
}

// Save stores a copy of data as segment seg of db; see BackupStore.Save.
func (m *MemStore) Save(ctx context.Context, db string, seg SegmentInfo, data []byte) error {
	if err := checkStoreArgs(ctx, db, seg); err != nil {
		return fmt.Errorf("dcbackup: save segment %s of database %q: %w", seg, db, err)
	}
	k := segmentKey{seg.StartT, seg.EndT}
	cp := bytes.Clone(data)
	if cp == nil {
		cp = []byte{}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	segs := m.dbs[db]
	if segs == nil {
		segs = make(map[segmentKey][]byte)
		m.dbs[db] = segs
	}
	if _, ok := segs[k]; ok {
		return fmt.Errorf("dcbackup: save segment %s of database %q: %w", seg, db, ErrSegmentExists)
	}
	segs[k] = cp
	return nil
}

// Load returns a copy of segment seg of db; see BackupStore.Load.
func (m *MemStore) Load(ctx context.Context, db string, seg SegmentInfo) ([]byte, error) {
	if err := checkStoreArgs(ctx, db, seg); err != nil {
		return nil, fmt.Errorf("dcbackup: load segment %s of database %q: %w", seg, db, err)
	}
	m.mu.RLock()
	data, ok := m.dbs[db][segmentKey{seg.StartT, seg.EndT}]
	m.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("dcbackup: load segment %s of database %q: %w", seg, db, ErrSegmentNotFound)
	}
	return bytes.Clone(data), nil
}

// LoadHead returns a copy of the first n bytes of segment seg of db; see
// HeadLoader.
func (m *MemStore) LoadHead(ctx context.Context, db string, seg SegmentInfo, n int) ([]byte, error) {
	data, err := m.Load(ctx, db, seg)
	if err != nil {
		return nil, err
	}
	return data[:min(max(n, 0), len(data))], nil
}

// Quarantine moves segment seg of db out of the listing; see
// SegmentRemover. Quarantined returns its bytes.
func (m *MemStore) Quarantine(ctx context.Context, db string, seg SegmentInfo) (string, error) {
	if err := checkStoreArgs(ctx, db, seg); err != nil {
		return "", fmt.Errorf("dcbackup: quarantine segment %s of database %q: %w", seg, db, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := segmentKey{seg.StartT, seg.EndT}
	data, ok := m.dbs[db][k]
	if !ok {
		return "", fmt.Errorf("dcbackup: quarantine segment %s of database %q: %w", seg, db, ErrSegmentNotFound)
	}
	delete(m.dbs[db], k)
	name := QuarantineDir + "/" + db + "/" + quarantineName(seg, time.Now())
	m.quarantined[name] = data
	return name, nil
}

// Quarantined returns the quarantined segments by quarantine name, with
// copies of their bytes.
func (m *MemStore) Quarantined() map[string][]byte {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make(map[string][]byte, len(m.quarantined))
	for k, v := range m.quarantined {
		out[k] = bytes.Clone(v)
	}
	return out
}

// Delete removes segment seg of db; see SegmentRemover.
func (m *MemStore) Delete(ctx context.Context, db string, seg SegmentInfo) error {
	if err := checkStoreArgs(ctx, db, seg); err != nil {
		return fmt.Errorf("dcbackup: delete segment %s of database %q: %w", seg, db, err)
	}
	m.mu.Lock()
	delete(m.dbs[db], segmentKey{seg.StartT, seg.EndT})
	m.mu.Unlock()
	return nil
}

// List returns the segments of db with StartT >= fromT, sorted by StartT
// (then EndT).
func (m *MemStore) List(ctx context.Context, db string, fromT int64) ([]SegmentInfo, error) {
	if err := checkDBArgs(ctx, db); err != nil {
		return nil, fmt.Errorf("dcbackup: list segments of database %q: %w", db, err)
	}
	m.mu.RLock()
	out := make([]SegmentInfo, 0, len(m.dbs[db]))
	for k, data := range m.dbs[db] {
		if k.start >= fromT {
			out = append(out, SegmentInfo{StartT: k.start, EndT: k.end, Size: int64(len(data))})
		}
	}
	m.mu.RUnlock()
	sortSegmentInfos(out)
	return out, nil
}

// Last returns the segment of db with the greatest StartT (then EndT).
func (m *MemStore) Last(ctx context.Context, db string) (SegmentInfo, bool, error) {
	if err := checkDBArgs(ctx, db); err != nil {
		return SegmentInfo{}, false, fmt.Errorf("dcbackup: find the last segment of database %q: %w", db, err)
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	var last SegmentInfo
	found := false
	for k, data := range m.dbs[db] {
		s := SegmentInfo{StartT: k.start, EndT: k.end, Size: int64(len(data))}
		if !found || compareSegments(s, last) > 0 {
			last, found = s, true
		}
	}
	return last, found, nil
}

func checkDBArgs(ctx context.Context, db string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return ValidateDBName(db)
}

func checkStoreArgs(ctx context.Context, db string, seg SegmentInfo) error {
	if err := checkDBArgs(ctx, db); err != nil {
		return err
	}
	return ValidateSegmentRange(seg)
}

func compareSegments(a, b SegmentInfo) int {
	if c := cmp.Compare(a.StartT, b.StartT); c != 0 {
		return c
	}
	return cmp.Compare(a.EndT, b.EndT)
}

func sortSegmentInfos(s []SegmentInfo) { slices.SortFunc(s, compareSegments) }
