package dcbackup

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/dcbackup/dcbackup/datomic"
)

// PurgeResult says what PurgeExcised did.
type PurgeResult struct {
	// Checked counts the segments compared with the source; Stale those
	// that held datoms the source no longer has.
	Checked, Stale int
	// Written counts the segments written in their place, Removed the
	// segments deleted (each covered by a written one, checked first).
	Written, Removed int
	// Healed counts segments moved aside afterwards, as Backup moves them
	// (one that still continued a rewritten segment's old history), whose
	// ranges were backed up again.
	Healed int
	// Elapsed is the wall time of the call.
	Elapsed time.Duration
}

// PurgeExcised brings db's store in line with a source that excised data
// (Datomic Pro's :db/excise) after it was backed up: segments written
// before the excision still hold the excised datoms, and a restore from
// them would bring those back until it replays the excision. It compares
// every segment older than the source's newest excision with the source's
// log, transaction by transaction (by digest), and writes the source's
// transactions in place of every segment that differs, together with the
// segment after it (whose link to its predecessor changes), under new
// names, each read back and checked before the segments it replaces are
// deleted; a run of such segments becomes one segment as far as the
// options' segment limits allow. Segments off the restore's path
// (overlaps) that hold excised data are deleted. It needs the identities
// of an encrypted store (opts.Decode) and a store that can delete
// (SegmentRemover); a store with a gap before the excision is refused
// (ErrGap) until Backup or Repair fills it. Having rewritten anything, it
// ends as Repair does: a segment that still continues a rewritten run's
// old history is moved aside (Healed) and its range backed up again.
//
// An interrupted purge loses nothing, and run again it completes. A run of
// stale segments beyond the segment limits is rewritten in several
// groups: interrupted between two, the store is refused by restores, with
// ErrChainBroken before anything is applied, until the purge is run again
// (the next segment still continues the history before the excision).
func PurgeExcised(ctx context.Context, db string, conn datomic.Conn, store BackupStore, opts *BackupOptions) (PurgeResult, error) {
	var res PurgeResult
	_, err := backupCall(ctx, "purge", db, conn, store, opts, func(r *backupRun) (BackupResult, error) {
		return BackupResult{}, r.purge(ctx, &res)
	})
	return res, err
}

func (r *backupRun) purge(ctx context.Context, res *PurgeResult) error {
	begin := time.Now()
	defer func() { res.Elapsed = time.Since(begin) }()
	rm, ok := r.store.(SegmentRemover)
	if !ok {
		return fmt.Errorf("the store (%T) cannot delete segments", r.store)
	}
	exT, err := excisedSince(ctx, r.conn, -1)
	if err != nil || exT < 0 {
		return err
	}
	var st BackupResult
	state, err := r.checkStore(ctx, scanHeaders, &st)
	if err != nil {
		return err
	}
	var sound []SegmentInfo
	counts := map[SegmentInfo]segmentCounts{}
	for _, s := range state.sound {
		info := SegmentInfo{StartT: s.Info.StartT, EndT: s.Info.EndT}
		sound = append(sound, info)
		counts[info] = segmentCounts{txs: s.Txs, datoms: s.Datoms}
	}
	chain, err := purgeChain(sound, exT)
	if err != nil {
		return err
	}
	dec, err := NewSegmentDecoder(withDB(r.opts.Decode, r.db))
	if err != nil {
		return err
	}
	defer dec.Close()
	stale := make([]bool, len(chain))
	for i, info := range chain {
		if info.StartT >= exT {
			break
		}
		res.Checked++
		if stale[i], err = r.isStale(ctx, dec, info); err != nil {
			return err
		}
		if stale[i] {
			res.Stale++
		}
	}
	if err := r.purgeOffChain(ctx, rm, dec, sound, chain, exT, res); err != nil {
		return err
	}
	sizes := make([]segmentCounts, len(chain))
	for i, info := range chain {
		sizes[i] = counts[info]
	}
	limit := segmentCounts{txs: int64(r.opts.maxTx()), datoms: int64(r.opts.maxDatoms())}
	for _, group := range purgeGroups(stale, sizes, limit) {
		if err := r.rewrite(ctx, rm, dec, chain, group, res); err != nil {
			return err
		}
	}
	if res.Written == 0 {
		return nil
	}
	// A rewritten group ends with the source's transaction; a segment
	// after it that a run not purged before (a segment refilled since an
	// excision, say) still links to the old one is moved aside and backed
	// up again, as Repair does, so that what this call leaves restores.
	var fixed BackupResult
	fixed, err = r.healAndFill(ctx, scanHeaders, func(st storeState) int64 { return min(st.end, r.basis+1) })
	res.Written += fixed.Segments
	res.Healed += fixed.Healed
	return err
}

// segmentCounts are a segment's transactions and datoms, from its header.
type segmentCounts struct{ txs, datoms int64 }

func (c segmentCounts) plus(o segmentCounts) segmentCounts {
	return segmentCounts{txs: c.txs + o.txs, datoms: c.datoms + o.datoms}
}

// purgeChain returns the segments a restore of sound follows, in order. A
// gap before exT is refused: the segments after it could not be compared
// with the source's log as one chain.
func purgeChain(sound []SegmentInfo, exT int64) ([]SegmentInfo, error) {
	var chain []SegmentInfo
	for pos := int64(0); ; {
		info, ok, gapEnd := nextSegment(sound, pos)
		if !ok {
			if gapEnd > 0 && pos < exT {
				return nil, fmt.Errorf("%w: no segment holds [%d, %d); fill it first (Backup or Repair)", ErrGap, pos, gapEnd)
			}
			return chain, nil
		}
		chain = append(chain, info)
		pos = info.EndT
	}
}

// purgeOffChain deletes the segments off the chain (overlaps, or a
// segment an interrupted purge had not yet deleted beside the one that
// replaced it) that hold datoms the source no longer has: the chain covers
// their range, so nothing is lost.
func (r *backupRun) purgeOffChain(ctx context.Context, rm SegmentRemover, dec *SegmentDecoder, sound, chain []SegmentInfo, exT int64, res *PurgeResult) error {
	if len(chain) == 0 {
		return nil
	}
	end := chain[len(chain)-1].EndT
	for _, info := range sound {
		if info.StartT >= exT || info.EndT > end || slices.Contains(chain, info) {
			continue
		}
		res.Checked++
		stale, err := r.isStale(ctx, dec, info)
		if err != nil {
			return err
		}
		if !stale {
			continue
		}
		res.Stale++
		if err := rm.Delete(ctx, r.db, info); err != nil && !errors.Is(err, ErrSegmentNotFound) {
			return err
		}
		res.Removed++
		r.log.Info("overlapping segment with excised data deleted", "start_t", info.StartT, "end_t", info.EndT)
	}
	return nil
}

// isStale reports whether a segment's transactions differ from the
// source's in its range.
func (r *backupRun) isStale(ctx context.Context, dec *SegmentDecoder, info SegmentInfo) (bool, error) {
	data, err := r.store.Load(ctx, r.db, info)
	if err != nil {
		return false, err
	}
	seg, err := dec.Decode(data, info)
	if err != nil {
		return false, err
	}
	i := 0
	for tx, err := range r.schema.userTxs(ctx, r.conn, info.StartT, info.EndT) {
		if err != nil {
			return false, fmt.Errorf("read log %s: %w", info, err)
		}
		if i >= len(seg.Txs) || seg.Txs[i].T != tx.T {
			return true, nil
		}
		a, err := r.links.link(tx)
		if err != nil {
			return false, err
		}
		b, err := r.links.link(seg.Txs[i])
		if err != nil {
			return false, err
		}
		if a != b {
			return true, nil
		}
		i++
	}
	return i != len(seg.Txs), nil
}

// purgeGroups cuts the chain positions to rewrite into groups of
// consecutive segments, each written as one segment: each run of stale
// segments, with the segments after it up to one that holds a transaction
// (the links of those before it change), or, at the end of the chain, the
// one before it. A run is cut into as few groups as limit allows (a group
// spans at least two segments, at most three when the limit is reached:
// the memory a group takes stays bounded); a group of one segment happens
// only for a store of one segment. A group's range, spanning two segments
// or more, is no segment's name yet. Between two groups of one run the
// store's chain is broken until the second is written, so fewer groups
// mean fewer such moments.
func purgeGroups(stale []bool, sizes []segmentCounts, limit segmentCounts) [][2]int {
	var groups [][2]int // [first, last] positions
	n := len(stale)
	for i := 0; i < n; {
		if !stale[i] {
			i++
			continue
		}
		j := i
		for j+1 < n && stale[j+1] {
			j++
		}
		first, last := i, j
		switch {
		case j+1 < n:
			last = j + 1
			for last+1 < n && sizes[last].txs == 0 {
				last++
			}
		case i > 0:
			first = i - 1
		}
		for k := first; k <= last; {
			end := min(k+1, last)
			sum := sizes[k].plus(sizes[end])
			if end == k {
				sum = sizes[k]
			}
			for end < last {
				next := sum.plus(sizes[end+1])
				if next.txs > limit.txs || next.datoms > limit.datoms {
					break
				}
				sum, end = next, end+1
			}
			if last-end == 1 {
				end = last // no group of one at the end
			}
			groups = append(groups, [2]int{k, end})
			k = end + 1
		}
		i = last + 1
	}
	return groups
}

// rewrite writes the source's transactions of one group's range as one
// segment (two for a group of one segment, whose own name is taken),
// checks them, and deletes the group's segments.
func (r *backupRun) rewrite(ctx context.Context, rm SegmentRemover, dec *SegmentDecoder, chain []SegmentInfo, group [2]int, res *PurgeResult) error {
	in := chain[group[0] : group[1]+1]
	out := SegmentInfo{StartT: in[0].StartT, EndT: in[len(in)-1].EndT}
	segs, err := r.store.List(ctx, r.db, 0)
	if err != nil {
		return fmt.Errorf("list segments: %w", err)
	}
	pieces := []SegmentInfo{out}
	if len(in) == 1 {
		m, err := r.splitPoint(ctx, out)
		if err != nil {
			return err
		}
		pieces = []SegmentInfo{{StartT: out.StartT, EndT: m}, {StartT: m, EndT: out.EndT}}
	}
	prev, err := r.sourceLinkBefore(ctx, out.StartT, segs)
	if err != nil {
		return err
	}
	for _, p := range pieces {
		var wrote BackupResult
		b := r.newBuilder(p.StartT, prev)
		for tx, err := range r.schema.userTxs(ctx, r.conn, p.StartT, p.EndT) {
			if err != nil {
				return fmt.Errorf("read log %s: %w", p, err)
			}
			if err := b.add(ctx, tx); err != nil {
				return err
			}
		}
		b.seg.EndT = p.EndT
		if prev, err = r.save(ctx, b.seg, &wrote); err != nil {
			return err
		}
		res.Written += wrote.Segments
		// Read back what the store holds under the new name (ours, or an
		// earlier purge's) and check it against the source.
		if err := readBack(ctx, r.db, r.store, dec, p, b.seg); err != nil {
			return fmt.Errorf("segment %s (nothing deleted): %w", p, err)
		}
	}
	// The group's segments, and any other segment inside the new range
	// (overlaps), which may hold excised data too.
	for _, s := range segs {
		if s.StartT < out.StartT || s.EndT > out.EndT || slices.ContainsFunc(pieces, func(p SegmentInfo) bool { return p.StartT == s.StartT && p.EndT == s.EndT }) {
			continue
		}
		if err := rm.Delete(ctx, r.db, s); err != nil && !errors.Is(err, ErrSegmentNotFound) {
			return err
		}
		res.Removed++
	}
	r.log.Info("segments rewritten without excised data", "start_t", out.StartT, "end_t", out.EndT, "replaced", len(in))
	return nil
}

// splitPoint returns a t inside seg's range at which to cut it in two: the
// t of its last transaction, or of the one after its start.
func (r *backupRun) splitPoint(ctx context.Context, seg SegmentInfo) (int64, error) {
	if seg.EndT-seg.StartT < 2 {
		return 0, fmt.Errorf("segment %s spans one t and is the store's only one: it cannot be rewritten under another name; back the database up into a new store instead", seg)
	}
	m := seg.StartT + 1
	for tx, err := range r.schema.userTxs(ctx, r.conn, seg.StartT, seg.EndT) {
		if err != nil {
			return 0, fmt.Errorf("read log %s: %w", seg, err)
		}
		if tx.T > seg.StartT {
			m = tx.T
		}
	}
	return m, nil
}
