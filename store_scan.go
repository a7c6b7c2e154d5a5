package dcbackup

import (
	"context"
	"errors"
	"fmt"

	"github.com/dcbackup/dcbackup/internal/ordered"
)

// scanDepth says how much of each segment a store scan reads.
type scanDepth int

const (
	// scanHeaders reads each segment's header (a ranged read where the
	// store has one) and checks it against the listing: name, range,
	// database, size. It finds missing, empty, truncated, garbage and
	// misplaced segments, not damage inside a body.
	scanHeaders scanDepth = iota
	// scanFull reads and decodes every segment (checksums, payload,
	// digests); an encrypted payload is decrypted when identities are
	// given, else only its frame and header are checked.
	scanFull
)

// scannedSegment is what a scan found out about one listed segment.
type scannedSegment struct {
	Info SegmentInfo
	// Header is the segment's header; valid when Err is nil.
	Header SegmentHeader
	// Err says why the segment cannot be used (it matches
	// ErrCorruptSegment, ErrUnsupportedSegmentVersion or
	// ErrSegmentTooLarge); nil when it is sound.
	Err error
	// Vanished: the segment was listed but gone when read (compacted or
	// quarantined meanwhile); it is neither sound nor damaged.
	Vanished bool
	// Unverified: the payload was not checked (encrypted, and no identity
	// given opens it; plaintext where identities were given; beyond the
	// decode limit); Why says which.
	Unverified bool
	Why        error
	// Txs and Datoms count the transactions and datoms (from the header).
	Txs, Datoms int64
	// Links are the links of the segment's transactions, in t order, and
	// TxDatoms their datom counts (full scans of version 2 segments that
	// scanOptions.links selects only): what overlapping segments are
	// compared and counted with.
	Links    []TxLink
	TxDatoms []int
}

// sound reports whether the segment can be used.
func (s *scannedSegment) sound() bool { return s.Err == nil && !s.Vanished }

// scanOptions configure scanStore.
type scanOptions struct {
	depth       scanDepth
	concurrency int
	decode      DecodeOptions
	// links selects the segments whose transaction links are recorded
	// (nil: none), read in full even by a scan of headers; computing them
	// costs a digest per transaction.
	links func(SegmentInfo) bool
}

// scanStore lists db's segments and checks each, up to concurrency at
// once, in listing order. A damaged segment is reported in its
// scannedSegment, not as an error; the error means the store could not be
// listed or read (or ctx ended), or holds a segment of a newer format
// (ErrUnsupportedSegmentVersion: upgrade, rather than take it for damage).
func scanStore(ctx context.Context, db string, store BackupStore, opts scanOptions) ([]scannedSegment, error) {
	segs, err := store.List(ctx, db, 0)
	if err != nil {
		return nil, fmt.Errorf("list segments: %w", err)
	}
	return scanSegments(ctx, db, store, segs, opts)
}

// scanSegments checks the listed segments segs; see scanStore.
func scanSegments(ctx context.Context, db string, store BackupStore, segs []SegmentInfo, opts scanOptions) ([]scannedSegment, error) {
	out := make([]scannedSegment, 0, len(segs))
	decOpts := opts.decode
	decOpts.DB = db
	newWorker := func() (func(context.Context, SegmentInfo) (scannedSegment, error), func()) {
		var dec *SegmentDecoder
		check := func(ctx context.Context, info SegmentInfo) (scannedSegment, error) {
			links := opts.links != nil && opts.links(info)
			if opts.depth == scanHeaders && !links {
				return checkHead(ctx, db, store, info)
			}
			if dec == nil {
				var err error
				if dec, err = NewSegmentDecoder(decOpts); err != nil {
					return scannedSegment{}, err
				}
			}
			return checkFull(ctx, db, store, info, dec, links)
		}
		return check, func() {
			if dec != nil {
				dec.Close()
			}
		}
	}
	for f := range ordered.Map(ctx, opts.concurrency, segs, newWorker) {
		if f.Err != nil {
			return nil, f.Err
		}
		out = append(out, f.Value)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// loadErrorKind sorts an error of the store's Load: a vanished segment,
// damage (what sits under the name is not a segment), or a failure of the
// store itself, which the caller returns.
func loadErrorKind(s *scannedSegment, err error) error {
	switch {
	case errors.Is(err, ErrSegmentNotFound):
		s.Vanished = true
		return nil
	case errors.Is(err, ErrCorruptSegment):
		s.Err = err
		return nil
	}
	return segmentError(s.Info, err)
}

// checkHead reads and checks the header of one segment.
func checkHead(ctx context.Context, db string, store BackupStore, info SegmentInfo) (scannedSegment, error) {
	s := scannedSegment{Info: info}
	h, err := readHeader(ctx, db, store, info)
	if errors.Is(err, ErrUnsupportedSegmentVersion) {
		return s, err
	}
	if err != nil {
		return s, loadErrorKind(&s, err)
	}
	if h.Version < 2 {
		// A version 1 segment has no header worth the name: read it all.
		dec, err := NewSegmentDecoder(DecodeOptions{DB: db})
		if err != nil {
			return s, err
		}
		defer dec.Close()
		return checkFull(ctx, db, store, info, dec, false)
	}
	s.Header, s.Txs, s.Datoms = h, h.TxCount, h.DatomCount
	return s, nil
}

// readHeader reads and checks the header of segment info of db, with a
// ranged read when the store has one. A damaged header is an error
// matching ErrCorruptSegment.
func readHeader(ctx context.Context, db string, store BackupStore, info SegmentInfo) (SegmentHeader, error) {
	var data []byte
	var err error
	if hl, ok := store.(HeadLoader); ok {
		data, err = hl.LoadHead(ctx, db, info, SegmentHeadReadSize)
		if err == nil && len(data) == SegmentHeadReadSize {
			if need, nerr := SegmentHeaderSize(data); nerr == nil && need > len(data) {
				data, err = hl.LoadHead(ctx, db, info, need)
			}
		}
	} else {
		data, err = store.Load(ctx, db, info)
	}
	if err != nil {
		return SegmentHeader{}, segmentError(info, err)
	}
	h, err := DecodeSegmentHeader(data, info)
	if err != nil {
		return h, err
	}
	if h.Version >= 2 && h.DB != db {
		return h, &SegmentError{DB: db, Seg: info, Err: fmt.Errorf("%w: %w: it belongs to database %q", ErrCorruptSegment, ErrWrongDatabase, h.DB)}
	}
	if h.Version >= 2 && info.Size > 0 && h.StoredLen != info.Size {
		return h, &SegmentError{DB: db, Seg: info, Err: corruptf("stored as %d bytes, but its header says %d: truncated or extended", info.Size, h.StoredLen)}
	}
	return h, nil
}

// checkFull loads and decodes one segment with dec, recording the links
// of its transactions when links is set.
func checkFull(ctx context.Context, db string, store BackupStore, info SegmentInfo, dec *SegmentDecoder, links bool) (scannedSegment, error) {
	s := scannedSegment{Info: info}
	data, err := store.Load(ctx, db, info)
	if errors.Is(err, ErrSegmentTooLarge) {
		// Over the store's size bound: a sound segment, written under a
		// larger bound, stays (unverified); what is not a segment is
		// damage.
		h, herr := readHeader(ctx, db, store, info)
		if herr != nil {
			return s, loadErrorKind(&s, herr)
		}
		s.Header, s.Txs, s.Datoms, s.Unverified, s.Why = h, h.TxCount, h.DatomCount, true, err
		return s, nil
	}
	if err != nil {
		return s, loadErrorKind(&s, err)
	}
	seg, err := dec.Decode(data, info)
	switch {
	case errors.Is(err, ErrUnsupportedSegmentVersion):
		return s, err
	case errors.Is(err, ErrNoKey), errors.Is(err, ErrNotEncrypted), errors.Is(err, ErrSegmentTooLarge):
		// The frame and header verified; the payload needs a key, was
		// expected encrypted (a store that was plaintext before), or is
		// beyond the decode limit: not damage.
		h, herr := DecodeSegmentHeader(data, info)
		if herr != nil {
			s.Err = herr
			return s, nil
		}
		s.Header, s.Txs, s.Datoms, s.Unverified, s.Why = h, h.TxCount, h.DatomCount, true, err
		return s, nil
	case err != nil:
		s.Err = err
		return s, nil
	}
	s.Header = seg.Header
	s.Txs, s.Datoms = int64(len(seg.Txs)), int64(seg.DatomCount())
	switch {
	case seg.Version < 2:
		s.Header = v1Header(seg)
	case links:
		g := NewTxDigester(seg.Lineage)
		s.Links = make([]TxLink, 0, len(seg.Txs))
		s.TxDatoms = make([]int, 0, len(seg.Txs))
		for _, tx := range seg.Txs {
			s.TxDatoms = append(s.TxDatoms, len(tx.Datoms))
			l, err := g.Link(tx)
			if err != nil {
				s.Err = &SegmentError{DB: db, Seg: info, Err: corruptf("%v", err)}
				return s, nil
			}
			s.Links = append(s.Links, l)
		}
	}
	return s, nil
}

// v1Header describes a decoded version 1 segment as a header: it has no
// lineage and no links.
func v1Header(seg *Segment) SegmentHeader {
	return SegmentHeader{
		Version: 1, DB: seg.DB, StartT: seg.StartT, EndT: seg.EndT,
		TxCount: int64(len(seg.Txs)), DatomCount: int64(seg.DatomCount()),
		Prev: TxLink{T: -1}, Last: TxLink{T: -1},
	}
}
