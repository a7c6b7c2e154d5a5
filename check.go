package dcbackup

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// CheckOptions configures Check. The zero value reads every segment in
// full, eight at a time.
type CheckOptions struct {
	// HeadersOnly reads only each segment's header (a ranged read where
	// the store has one): it finds missing, empty, truncated, misplaced
	// and foreign segments and broken links, not damage inside a body. A
	// segment that a restore enters midway (it overlaps the one before)
	// is read in full all the same: its link at that point is inside.
	HeadersOnly bool
	// Concurrency is the number of segments read at once (default 8).
	Concurrency int
	// Decode sets decoding limits, and the identities that open encrypted
	// segments; without one, an encrypted segment's payload is not
	// checked (its checksums and header are), and CheckReport.Unverified
	// counts it.
	Decode DecodeOptions
}

// ProblemKind classifies what is wrong with a segment.
type ProblemKind int

// Problem kinds.
const (
	// ProblemDamaged: the segment cannot be read: its checksum fails, it
	// does not decode, it holds another range or database than its name
	// says, or what holds its name is not a segment file.
	ProblemDamaged ProblemKind = iota + 1
	// ProblemLineage: the segment was backed up from another database
	// than the others.
	ProblemLineage
	// ProblemChain: the segment does not continue the one before it.
	ProblemChain
	// ProblemUnreadable: the segment is sound, but its payload cannot be
	// read with the options given, so a restore with them would stop
	// there: no identity given opens it (ErrNoKey, reported only when
	// identities are given), it is not encrypted where identities are
	// given (ErrNotEncrypted), or it is beyond the decode limit
	// (ErrSegmentTooLarge).
	ProblemUnreadable
)

// String names the kind.
func (k ProblemKind) String() string {
	switch k {
	case ProblemDamaged:
		return "damaged"
	case ProblemLineage:
		return "another-lineage"
	case ProblemChain:
		return "broken-chain"
	case ProblemUnreadable:
		return "unreadable"
	}
	return fmt.Sprintf("ProblemKind(%d)", int(k))
}

// SegmentProblem is one problem Check found.
type SegmentProblem struct {
	Seg  SegmentInfo
	Kind ProblemKind
	Err  error
}

// String formats the problem for a report.
func (p SegmentProblem) String() string { return fmt.Sprintf("%s %s: %v", p.Kind, p.Seg, p.Err) }

// CheckReport is the outcome of Check.
type CheckReport struct {
	// Segments and Bytes count the segments listed.
	Segments int
	Bytes    int64
	// Transactions and Datoms count what the store holds along the chain
	// a restore follows, overlaps counted once (from the headers, for
	// segments whose payload was not read).
	Transactions, Datoms int64
	// EndT is the end of the last segment: the store covers [0, EndT)
	// when it has no gap.
	EndT int64
	// Gaps are the ranges no sound segment covers: a restore stops there.
	Gaps []Gap
	// Problems lists the segments that cannot be used, in t order.
	Problems []SegmentProblem
	// Redundant counts segments that a restore passes over because others
	// cover their range (overlaps left by racing writers or an
	// interrupted compaction: harmless).
	Redundant int
	// Unverified counts segments whose payload was not read: encrypted
	// with no identity given (not a problem: a check of structure), or
	// ProblemUnreadable.
	Unverified int
	// Elapsed is the wall time of the call.
	Elapsed time.Duration
}

// OK reports that the store is complete and readable: no gap, no problem.
func (r CheckReport) OK() bool { return len(r.Gaps) == 0 && len(r.Problems) == 0 }

// Check reads every segment of db (or only their headers) and reports
// whether a restore would get every transaction: damaged segments, segments
// of another lineage, segments that do not continue the one before them,
// and gaps (damaged segments leave gaps). It changes nothing (Repair
// heals what it finds). Memory is bounded by a few segments per worker.
// A store without segments of db is ErrNoSegments; other errors mean the
// store could not be read.
func Check(ctx context.Context, db string, store BackupStore, opts *CheckOptions) (CheckReport, error) {
	begin := time.Now()
	if opts == nil {
		opts = &CheckOptions{}
	}
	rep, err := check(ctx, db, store, opts)
	rep.Elapsed = time.Since(begin)
	if err != nil {
		return rep, newCallError("check", db, err)
	}
	return rep, nil
}

func check(ctx context.Context, db string, store BackupStore, opts *CheckOptions) (CheckReport, error) {
	var rep CheckReport
	if err := ValidateDBName(db); err != nil {
		return rep, err
	}
	if store == nil {
		return rep, errors.New("nil store")
	}
	depth := scanFull
	if opts.HeadersOnly {
		depth = scanHeaders
	}
	conc := opts.Concurrency
	if conc <= 0 {
		conc = defaultScanConcurrency
	}
	var scanned []scannedSegment
	for attempt := 0; ; attempt++ {
		segs, err := store.List(ctx, db, 0)
		if err != nil {
			return rep, fmt.Errorf("list segments: %w", err)
		}
		scanned, err = scanSegments(ctx, db, store, segs, scanOptions{depth: depth, concurrency: conc, decode: opts.Decode, links: enteredMidway(segs)})
		if err != nil {
			return rep, err
		}
		// A segment gone while read was replaced (a compaction): what
		// replaced it is not in this listing, so list and read again.
		if !slices.ContainsFunc(scanned, func(s scannedSegment) bool { return s.Vanished }) {
			break
		}
		if attempt == maxReplans {
			return rep, fmt.Errorf("segments kept vanishing while they were read (a compaction running?): %w", ErrSegmentNotFound)
		}
	}
	if len(scanned) == 0 {
		return rep, noSegments(store)
	}
	byInfo := map[SegmentInfo]*scannedSegment{}
	var sound []SegmentInfo
	lineage := storeLineage(scanned)
	for i := range scanned {
		s := &scanned[i]
		rep.Segments++
		rep.Bytes += s.Info.Size
		rep.EndT = max(rep.EndT, s.Info.EndT)
		if s.Unverified {
			rep.Unverified++
			if len(opts.Decode.Identities) > 0 || !errors.Is(s.Why, ErrNoKey) {
				rep.Problems = append(rep.Problems, SegmentProblem{Seg: s.Info, Kind: ProblemUnreadable, Err: s.Why})
			}
		}
		switch {
		case s.Vanished:
			continue
		case !s.sound():
			rep.Problems = append(rep.Problems, SegmentProblem{Seg: s.Info, Kind: ProblemDamaged, Err: s.Err})
			continue
		case s.Header.Version >= 2 && s.Header.Lineage != lineage:
			rep.Problems = append(rep.Problems, SegmentProblem{Seg: s.Info, Kind: ProblemLineage, Err: fmt.Errorf(
				"%w: it is of lineage %s, most of the store's segments of lineage %s (Backup or Repair with the store's source moves it aside)", ErrChainBroken, s.Header.Lineage, lineage)})
			continue
		}
		key := SegmentInfo{StartT: s.Info.StartT, EndT: s.Info.EndT}
		byInfo[key] = s
		sound = append(sound, key)
	}
	rep.Gaps = findGaps(sound, rep.EndT)
	// Walk the chain a restore follows.
	chained := map[SegmentInfo]bool{}
	prev, prevKnown := NoTx, true
	for pos := int64(0); ; {
		info, ok, gapEnd := nextSegment(sound, pos)
		if !ok && gapEnd > 0 {
			// Past a gap (reported), the chain goes on: count it too.
			pos, prevKnown = gapEnd, false
			continue
		}
		if !ok {
			break
		}
		chained[info] = true
		s := byInfo[info]
		h := s.Header
		if h.Version >= 2 && prevKnown {
			view, viewKnown := h.Prev, true
			if info.StartT < pos {
				view, viewKnown = linkBefore(s, pos)
			}
			if viewKnown && view != prev {
				rep.Problems = append(rep.Problems, SegmentProblem{Seg: info, Kind: ProblemChain, Err: fmt.Errorf(
					"%w: it continues from %s, but the segment before it ends with %s%s", ErrChainBroken, view, prev, rewrittenHint(view, prev))})
			}
		}
		txs, datoms := countFrom(s, pos)
		rep.Transactions += txs
		rep.Datoms += datoms
		prev, prevKnown = h.Last, h.Version >= 2
		pos = info.EndT
	}
	for _, info := range sound {
		if !chained[info] {
			rep.Redundant++
		}
	}
	return rep, nil
}

// storeLineage returns the lineage that holds most of the transactions of
// the sound version 2 segments (on a tie, the newest segment's): the
// store's database, against which a segment of another is reported. It
// weighs transactions, not segments, so that neither the way a history
// was cut into segments nor a few stray overlaps decide.
func storeLineage(scanned []scannedSegment) LineageFingerprint {
	weight := map[LineageFingerprint]int64{}
	var best LineageFingerprint
	var bestEnd int64 = -1
	for i := range scanned {
		s := &scanned[i]
		w, counts := lineageWeight(s)
		if !counts || s.Header.Version < 2 {
			continue
		}
		l := s.Header.Lineage
		weight[l] += w
		if w, b := weight[l], weight[best]; w > b || w == b && s.Info.EndT > bestEnd {
			best, bestEnd = l, s.Info.EndT
		}
	}
	return best
}

// lineageWeight is what segment s weighs in telling whose store it is:
// its transactions, plus one so that a range without any counts too;
// counts is false for a segment that vanished or cannot be read.
func lineageWeight(s *scannedSegment) (w int64, counts bool) {
	if s.Vanished || !s.sound() {
		return 0, false
	}
	return s.Txs + 1, true
}

// enteredMidway selects the segments a chain may enter after their start:
// those inside which another segment ends. Only their transaction links
// are needed to check and count the chain.
func enteredMidway(segs []SegmentInfo) func(SegmentInfo) bool {
	ends := make([]int64, len(segs))
	for i, s := range segs {
		ends[i] = s.EndT
	}
	slices.Sort(ends)
	return func(s SegmentInfo) bool {
		i, _ := slices.BinarySearch(ends, s.StartT+1)
		return i < len(ends) && ends[i] < s.EndT
	}
}

// linkBefore returns a fully read segment's link of its last transaction
// before pos (its Prev when it has none); known is false when the segment's
// transactions were not read.
func linkBefore(s *scannedSegment, pos int64) (TxLink, bool) {
	if s.Links == nil && s.Txs > 0 {
		return TxLink{}, false
	}
	l := s.Header.Prev
	for _, x := range s.Links {
		if x.T < pos {
			l = x
		}
	}
	return l, true
}

// countFrom counts the transactions and datoms of a segment from source t
// pos on: exactly for a segment read in full, from its header otherwise.
func countFrom(s *scannedSegment, pos int64) (txs, datoms int64) {
	if s.TxDatoms == nil || pos <= s.Info.StartT {
		return s.Txs, s.Datoms
	}
	for i, l := range s.Links {
		if l.T >= pos {
			txs++
			datoms += int64(s.TxDatoms[i])
		}
	}
	return txs, datoms
}
