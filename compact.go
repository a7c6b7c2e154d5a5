package dcbackup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/internal/ordered"
)

// CompactOptions configures Compact. The zero value is ready to use.
type CompactOptions struct {
	// MaxTxPerSegment and MaxDatomsPerSegment bound a merged segment, as
	// BackupOptions bounds a written one (defaults 10000 and 100000).
	MaxTxPerSegment     int
	MaxDatomsPerSegment int
	// Encode sets the encoding of merged segments (compression,
	// recipients); Decode the limits and identities to read segments with.
	// An encrypted segment that no identity opens is left as it is.
	Encode EncodeOptions
	Decode DecodeOptions
	// Concurrency is the number of segment headers, and of the segments
	// of a run being merged, read at once (default 8).
	Concurrency int
	// Logger receives an Info record per merged segment (default: silent).
	Logger *slog.Logger
}

// CompactResult says what Compact did.
type CompactResult struct {
	// Before and After count the segments of the database before and
	// after; BytesBefore and BytesAfter their stored bytes.
	Before, After           int
	BytesBefore, BytesAfter int64
	// Merged counts the segments written; Removed the segments deleted,
	// each covered by a merged segment checked before the deletion (a
	// store's delete does not tell whether a compactor racing this one
	// deleted it first: both count it).
	Merged, Removed int
	// Skipped counts segments left as they are because they cannot be
	// merged: format version 1, encrypted without an identity, damaged,
	// or of another lineage than their neighbours.
	Skipped int
	// Elapsed is the wall time of the call.
	Elapsed time.Duration
}

// Compact merges runs of consecutive small segments of db into segments up
// to the size limits, oldest first, so that a restore reads a few large
// segments instead of many small ones (BackupNext called every minute
// writes one per call). Policy: along the chain a restore follows, a run of
// segments of one lineage is merged while its transactions and datoms fit
// the limits; segments made redundant by racing writers (overlaps) inside
// a run are removed with it.
//
// Each merged segment is written under a new name, read back, decoded and
// compared with its inputs (range, lineage, links, every transaction's
// digest) before any input is deleted, so a crash at any point loses
// nothing: at worst it leaves overlapping segments, which readers pass
// over. A Restore, Replicate or store check running meanwhile plans again
// when a segment vanishes; a compactor racing BackupNext or another
// compactor deletes only what a checked segment covers. A segment that
// cannot be read (damaged, encrypted to no identity given) is left as it
// is, for Check to report and Repair to heal, and the segments on either
// side of it are merged without it (CompactResult.Skipped counts them).
// The store must implement SegmentRemover.
func Compact(ctx context.Context, db string, store BackupStore, opts *CompactOptions) (CompactResult, error) {
	begin := time.Now()
	if opts == nil {
		opts = &CompactOptions{}
	}
	res, err := compact(ctx, db, store, opts)
	res.Elapsed = time.Since(begin)
	if err != nil {
		return res, newCallError("compact", db, err)
	}
	return res, nil
}

func compact(ctx context.Context, db string, store BackupStore, opts *CompactOptions) (CompactResult, error) {
	var res CompactResult
	if err := ValidateDBName(db); err != nil {
		return res, err
	}
	if store == nil {
		return res, errors.New("nil store")
	}
	rm, ok := store.(SegmentRemover)
	if !ok {
		return res, fmt.Errorf("the store (%T) cannot delete segments", store)
	}
	log := loggerOrDiscard(opts.Logger).With("db", db)
	conc := opts.Concurrency
	if conc <= 0 {
		conc = defaultScanConcurrency
	}
	scanned, err := scanStore(ctx, db, store, scanOptions{depth: scanHeaders, concurrency: conc})
	if err != nil {
		return res, err
	}
	if len(scanned) == 0 {
		return res, noSegments(store)
	}
	for _, s := range scanned {
		res.Before++
		res.BytesBefore += s.Info.Size
	}
	jobs, skipped := planCompaction(scanned, opts)
	res.Skipped = skipped
	dec, err := NewSegmentDecoder(withDB(opts.Decode, db))
	if err != nil {
		return res, err
	}
	defer dec.Close()
	enc, err := NewSegmentEncoder(opts.Encode)
	if err != nil {
		return res, err
	}
	defer enc.Close()
	for len(jobs) > 0 {
		job := jobs[0]
		jobs = jobs[1:]
		merged, removed, err := runCompaction(ctx, db, store, rm, dec, enc, job, conc)
		var unreadable *unreadableInputError
		switch {
		case errors.Is(err, ErrChainBroken):
			// Merging would hide the break: leave it for Check to report.
			res.Skipped += len(job.in)
			log.Warn("segments not merged: their chain is broken", "err", err)
			continue
		case errors.As(err, &unreadable):
			// Damaged, or not readable with the identities given: left as
			// it is, for Check to report and Repair to heal; the segments
			// on either side of it are merged without it.
			log.Warn("segment not merged: it cannot be read", "err", err)
			parts, left := job.without(unreadable.seg)
			res.Skipped += left
			jobs = append(parts, jobs...)
			continue
		}
		if err != nil {
			return res, err
		}
		if merged {
			res.Merged++
			log.Info("segments merged", "start_t", job.out.StartT, "end_t", job.out.EndT, "inputs", len(job.in), "removed", removed)
		}
		res.Removed += removed
	}
	after, err := store.List(ctx, db, 0)
	if err != nil {
		return res, fmt.Errorf("list segments: %w", err)
	}
	for _, s := range after {
		res.After++
		res.BytesAfter += s.Size
	}
	return res, nil
}

func withDB(o DecodeOptions, db string) DecodeOptions {
	o.DB = db
	return o
}

// compactJob merges the chain segments in (applied from their entry t on)
// into one segment out, and deletes in and the redundant segments extra;
// or, with no in, deletes the redundant segments extra that the chain
// segment out covers, once out reads back whole.
type compactJob struct {
	in    []chainEntry
	extra []SegmentInfo
	out   SegmentInfo
}

// chainEntry is a segment of a restore's chain and the t from which the
// chain reads it.
type chainEntry struct {
	SegmentInfo
	from int64
}

// planCompaction cuts the chain a restore follows into runs to merge.
func planCompaction(scanned []scannedSegment, opts *CompactOptions) ([]compactJob, int) {
	maxTx, maxDatoms := (&BackupOptions{MaxTxPerSegment: opts.MaxTxPerSegment}).maxTx(), (&BackupOptions{MaxDatomsPerSegment: opts.MaxDatomsPerSegment}).maxDatoms()
	// An encrypted segment is merged only when it can be read and the
	// merged segment encrypted again.
	cannotReseal := len(opts.Decode.Identities) == 0 || len(opts.Encode.Recipients) == 0
	var sound []SegmentInfo
	heads := map[SegmentInfo]SegmentHeader{}
	skipped := 0
	for _, s := range scanned {
		info := SegmentInfo{StartT: s.Info.StartT, EndT: s.Info.EndT}
		switch {
		case !s.sound():
			skipped++
		case s.Header.Version < 2 || s.Header.Encrypted && cannotReseal:
			skipped++
			// A segment that cannot be merged still takes its place in
			// the chain, and breaks the runs around it.
			sound = append(sound, info)
			heads[info] = SegmentHeader{}
		default:
			sound = append(sound, info)
			heads[info] = s.Header
		}
	}
	var jobs []compactJob
	var run []chainEntry
	var runTx, runDatoms int64
	var lineage LineageFingerprint
	flush := func() {
		if len(run) >= 2 {
			jobs = append(jobs, compactJob{in: run, out: SegmentInfo{StartT: run[0].StartT, EndT: run[len(run)-1].EndT}})
		}
		run, runTx, runDatoms = nil, 0, 0
	}
	chained := map[SegmentInfo]bool{}
	for pos := int64(0); ; {
		info, ok, _ := nextSegment(sound, pos)
		if !ok {
			break
		}
		chained[info] = true
		h := heads[info]
		mergeable := h.Version >= 2
		if !mergeable || len(run) > 0 && (h.Lineage != lineage || runTx+h.TxCount > int64(maxTx) || runDatoms+h.DatomCount > int64(maxDatoms)) {
			flush()
		}
		if mergeable {
			if len(run) == 0 {
				lineage = h.Lineage
			}
			run = append(run, chainEntry{SegmentInfo: info, from: pos})
			runTx += h.TxCount
			runDatoms += h.DatomCount
		}
		pos = info.EndT
	}
	flush()
	// Redundant segments (overlaps left by racing writers, or by an
	// interrupted compaction) inside a merged range go with it; those
	// inside one chain segment go once that segment is read back.
	covering := map[SegmentInfo]int{}
	for _, s := range sound {
		if chained[s] {
			continue
		}
		placed := false
		for i := range jobs {
			if s.StartT >= jobs[i].out.StartT && s.EndT <= jobs[i].out.EndT {
				jobs[i].extra = append(jobs[i].extra, s)
				placed = true
				break
			}
		}
		if placed {
			continue
		}
		for c := range chained {
			if s.StartT >= c.StartT && s.EndT <= c.EndT && heads[c].Version >= 2 {
				i, ok := covering[c]
				if !ok {
					i = len(jobs)
					covering[c] = i
					jobs = append(jobs, compactJob{out: c})
				}
				jobs[i].extra = append(jobs[i].extra, s)
				break
			}
		}
	}
	return jobs, skipped
}

// unreadableInputError is a segment of a run that a compaction cannot
// read: damaged, encrypted to no identity given, plaintext where
// encryption is expected, or beyond the decode limit.
type unreadableInputError struct {
	seg SegmentInfo
	err error
}

func (e *unreadableInputError) Error() string { return e.err.Error() }
func (e *unreadableInputError) Unwrap() error { return e.err }

// asUnreadableInput marks err, an error of reading input seg, as an
// unreadable input when it is one.
func asUnreadableInput(seg SegmentInfo, err error) error {
	for _, e := range []error{ErrCorruptSegment, ErrNoKey, ErrNotEncrypted, ErrSegmentTooLarge} {
		if errors.Is(err, e) {
			return &unreadableInputError{seg: seg, err: err}
		}
	}
	return err
}

// without splits the job around its input bad into the runs before and
// after it, each with the redundant segments it covers; left counts the
// inputs left as they are (bad, and any run too short to merge).
func (j compactJob) without(bad SegmentInfo) (parts []compactJob, left int) {
	i := slices.IndexFunc(j.in, func(e chainEntry) bool { return e.StartT == bad.StartT && e.EndT == bad.EndT })
	if i < 0 {
		return nil, len(j.in)
	}
	left = 1
	for _, run := range [][]chainEntry{j.in[:i], j.in[i+1:]} {
		if len(run) < 2 {
			left += len(run)
			continue
		}
		part := compactJob{in: run, out: SegmentInfo{StartT: run[0].StartT, EndT: run[len(run)-1].EndT}}
		for _, x := range j.extra {
			if x.StartT >= part.out.StartT && x.EndT <= part.out.EndT {
				part.extra = append(part.extra, x)
			}
		}
		parts = append(parts, part)
	}
	return parts, left
}

// runCompaction writes and checks one merged segment, then deletes what it
// covers. merged is false when a segment of the same range existed. The
// inputs are loaded conc at a time (an object store's latency, paid once
// per input, dominates a run of small segments) and decoded in order.
func runCompaction(ctx context.Context, db string, store BackupStore, rm SegmentRemover, dec *SegmentDecoder, enc *SegmentEncoder, job compactJob, conc int) (merged bool, removed int, err error) {
	if len(job.in) == 0 {
		err := removeRedundant(ctx, db, store, rm, dec, job, &removed)
		return false, removed, err
	}
	inputs := make([]*Segment, 0, len(job.in))
	load := func() (func(context.Context, chainEntry) ([]byte, error), func()) {
		return func(ctx context.Context, e chainEntry) ([]byte, error) {
			return store.Load(ctx, db, e.SegmentInfo)
		}, nil
	}
	for f := range ordered.Map(ctx, conc, job.in, load) {
		data, err := f.Value, f.Err
		if errors.Is(err, ErrSegmentNotFound) {
			return false, 0, nil // another compactor got here first
		}
		e := f.Item
		if err != nil {
			return false, 0, asUnreadableInput(e.SegmentInfo, err)
		}
		seg, err := dec.Decode(data, e.SegmentInfo)
		if err != nil {
			return false, 0, asUnreadableInput(e.SegmentInfo, err)
		}
		inputs = append(inputs, seg)
	}
	if len(inputs) != len(job.in) {
		// The fetch stopped early: the context ended.
		if err := ctx.Err(); err != nil {
			return false, 0, err
		}
		return false, 0, fmt.Errorf("read %d of the %d segments to merge", len(inputs), len(job.in))
	}
	if err := continuous(job, inputs); err != nil {
		return false, 0, err
	}
	out := mergeSegments(job, inputs)
	data, err := enc.Encode(out)
	if err != nil {
		return false, 0, err
	}
	info := SegmentInfo{StartT: out.StartT, EndT: out.EndT, Size: int64(len(data))}
	err = store.Save(ctx, db, info, data)
	merged = err == nil
	if err != nil && !errors.Is(err, ErrSegmentExists) {
		return false, 0, err
	}
	// Read back what the store holds under the merged name (ours, or
	// another compactor's) and check it before deleting anything; a
	// merged segment of ours that fails is deleted again.
	if err := readBack(ctx, db, store, dec, info, out); err != nil {
		if merged {
			err = errors.Join(err, rm.Delete(ctx, db, info))
		}
		return false, 0, fmt.Errorf("merged segment %s (its inputs are kept): %w", info, err)
	}
	covered := make([]SegmentInfo, 0, len(job.in)+len(job.extra))
	for _, e := range job.in {
		if e.SegmentInfo.StartT != info.StartT || e.SegmentInfo.EndT != info.EndT {
			covered = append(covered, e.SegmentInfo)
		}
	}
	covered = append(covered, job.extra...)
	removed, err = deleteSegments(ctx, db, store, rm, covered)
	return merged, removed, err
}

// deleteSegments deletes segs of db, in batches when the store is a
// BatchRemover, and returns how many it deleted.
func deleteSegments(ctx context.Context, db string, store BackupStore, rm SegmentRemover, segs []SegmentInfo) (int, error) {
	if br, ok := store.(BatchRemover); ok && len(segs) > 1 {
		if err := br.DeleteSegments(ctx, db, segs); err != nil {
			return 0, err
		}
		return len(segs), nil
	}
	for i, s := range segs {
		if err := rm.Delete(ctx, db, s); err != nil {
			return i, err
		}
	}
	return len(segs), nil
}

// removeRedundant deletes the job's redundant segments once the chain
// segment that covers them reads back whole.
func removeRedundant(ctx context.Context, db string, store BackupStore, rm SegmentRemover, dec *SegmentDecoder, job compactJob, removed *int) error {
	data, err := store.Load(ctx, db, job.out)
	if errors.Is(err, ErrSegmentNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := dec.Decode(data, job.out); err != nil {
		return nil // unreadable: Check reports it, Repair heals it
	}
	n, err := deleteSegments(ctx, db, store, rm, job.extra)
	*removed += n
	return err
}

// continuous checks that each input continues the one before it, as a
// restore would.
func continuous(job compactJob, inputs []*Segment) error {
	for i := 1; i < len(inputs); i++ {
		c := chainState{last: inputs[i-1].Last, lastKnown: true, lineage: inputs[i-1].Header.Lineage}
		if err := c.enter(inputs[i].DB, inputs[i], job.in[i].from); err != nil {
			return err
		}
	}
	return nil
}

// readBack loads segment info and checks that it holds want.
func readBack(ctx context.Context, db string, store BackupStore, dec *SegmentDecoder, info SegmentInfo, want *Segment) error {
	data, err := store.Load(ctx, db, info)
	if err != nil {
		return err
	}
	back, err := dec.Decode(data, info)
	if err != nil {
		return err
	}
	return sameTransactions(back, want)
}

// mergeSegments builds the segment that holds the job's inputs, each from
// the t the chain reads it from, but the first whole: the merged segment
// starts where it starts and continues from its Prev.
func mergeSegments(job compactJob, inputs []*Segment) *Segment {
	first, last := inputs[0], inputs[len(inputs)-1]
	out := &Segment{
		Version: SegmentFormatVersion, DB: first.DB, StartT: job.out.StartT, EndT: job.out.EndT,
		Attrs: map[int64]datomic.Attribute{}, Idents: map[int64]datomic.Keyword{},
		Renames: last.Renames, Lineage: first.Lineage, Prev: first.Prev,
	}
	for i, seg := range inputs {
		maps.Copy(out.Attrs, seg.Attrs)
		maps.Copy(out.Idents, seg.Idents)
		from := job.in[i].from
		if i == 0 {
			from = seg.StartT
		}
		for _, tx := range seg.Txs {
			if tx.T >= from {
				out.Txs = append(out.Txs, tx)
			}
		}
	}
	return out
}

// sameTransactions checks that got holds exactly want's range, lineage,
// links and transactions (by digest).
func sameTransactions(got, want *Segment) error {
	switch {
	case got.StartT != want.StartT || got.EndT != want.EndT:
		return fmt.Errorf("range %s, want %s", got.Info(), want.Info())
	case got.Lineage.Fingerprint() != want.Lineage.Fingerprint():
		return fmt.Errorf("lineage %s, want %s", got.Lineage.Fingerprint(), want.Lineage.Fingerprint())
	case got.Prev != want.Prev:
		return fmt.Errorf("continues from %s, want %s", got.Prev, want.Prev)
	case len(got.Txs) != len(want.Txs):
		return fmt.Errorf("%d transactions, want %d", len(got.Txs), len(want.Txs))
	}
	g, w := NewTxDigester(got.Lineage), NewTxDigester(want.Lineage)
	for i := range got.Txs {
		a, err := g.Link(got.Txs[i])
		if err != nil {
			return err
		}
		b, err := w.Link(want.Txs[i])
		if err != nil {
			return err
		}
		if a != b {
			return fmt.Errorf("transaction %d is %s, want %s", i, a, b)
		}
	}
	return nil
}
