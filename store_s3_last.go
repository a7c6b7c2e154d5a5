package dcbackup

import (
	"context"
	"fmt"
	"math"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Last returns the segment of db with the greatest StartT (then EndT); see
// BackupStore.Last.
//
// S3 lists keys in ascending order only, so Last searches the zero-padded
// key space with ListObjectsV2 requests of up to 1000 keys: StartAfter =
// "<prefix>/<db>/<t zero-padded>" lists the segments starting at or after
// t, and a listing that is not truncated ends the search (its last segment
// is the answer). Request counts, with b the bit length of the greatest
// StartT (at most 42 for Datomic t values) and P = 1000:
//
//   - at most P segments: 1 request;
//   - more: Last gallops beyond the last segment seen (doubling the
//     distance each probe) until a probe finds nothing, then bisects until
//     a probe lands within the last P segments. For N segments of similar
//     t span this is about 2*log2(N/P)+3: 13 requests for 100,000 segments
//     (TestFindLastSegmentLayouts);
//   - whatever the layout, at most 2*b+3 requests (87 for Datomic t
//     values), plus one per further page when more than P segments share
//     the greatest StartT.
//
// Last only reads listings and never trusts a hint, so it is never wrong:
// with concurrent writers it returns a segment that was the last at some
// moment during the call.
func (s *S3Store) Last(ctx context.Context, db string) (SegmentInfo, bool, error) {
	if err := checkDBArgs(ctx, db); err != nil {
		return SegmentInfo{}, false, fmt.Errorf("dcbackup: find the last segment of database %q: %w", db, err)
	}
	prefix := s.dbPrefix(db)
	pager := func(ctx context.Context, after string) ([]SegmentInfo, bool, error) {
		return s.listPage(ctx, prefix, after)
	}
	seg, ok, err := findLastSegment(ctx, pager)
	if err != nil {
		return SegmentInfo{}, false, fmt.Errorf("dcbackup: find the last segment of database %q under %s: %w", db, s.where(prefix), err)
	}
	return seg, ok, nil
}

// listPage lists the first page of segments under prefix whose names sort
// after after ("" for all). Pages holding no segment (only foreign keys)
// are skipped, so no segments means none follow. more reports whether the
// listing had further keys.
func (s *S3Store) listPage(ctx context.Context, prefix, after string) (segs []SegmentInfo, more bool, err error) {
	in := &s3.ListObjectsV2Input{
		Bucket:  aws.String(s.bucket),
		Prefix:  aws.String(prefix),
		MaxKeys: aws.Int32(s.opts.ListPageSize),
	}
	if after != "" {
		in.StartAfter = aws.String(prefix + after)
	}
	for {
		out, err := s.client.ListObjectsV2(ctx, in)
		if err != nil {
			return nil, false, err
		}
		segs = appendSegments(segs, prefix, out.Contents, 0)
		more = aws.ToBool(out.IsTruncated) && out.NextContinuationToken != nil
		if len(segs) > 0 || !more {
			return segs, more, nil
		}
		in.ContinuationToken = out.NextContinuationToken
	}
}

// segmentPager returns, in key order, the first page of segments whose
// names sort after after ("" for all), and whether more keys follow. No
// segments implies that none follow.
type segmentPager func(ctx context.Context, after string) (segs []SegmentInfo, more bool, err error)

// findLastSegment finds the segment with the greatest name, using page with
// after = padT(x) to ask for the segments with StartT >= x. See
// S3Store.Last for the request counts.
func findLastSegment(ctx context.Context, page segmentPager) (SegmentInfo, bool, error) {
	segs, more, err := page(ctx, "")
	if err != nil || len(segs) == 0 {
		return SegmentInfo{}, false, err
	}
	best := segs[len(segs)-1]
	if !more {
		return best, true, nil
	}
	// probe lists from x: found reports segments at or after x, done that
	// there are no more (best is the answer); otherwise more than a page of
	// segments start at or after x, and best is the last of that page.
	probe := func(x int64) (found, done bool, err error) {
		segs, more, err := page(ctx, padT(x))
		if err != nil || len(segs) == 0 {
			return false, false, err
		}
		best = segs[len(segs)-1]
		return true, !more, nil
	}

	// Invariants: a listing from lo is truncated (so the last page, which
	// ends the search, starts above lo); nothing starts at or after hi
	// (nothing can start at MaxInt64, as StartT < EndT).
	lo, hi := int64(0), int64(math.MaxInt64)
	// Gallop: probe beyond the last segment seen, doubling the distance,
	// until nothing is found.
	for step := max(best.StartT, 1); ; {
		x := hi
		if step < hi-best.StartT {
			x = best.StartT + step
		}
		found, done, err := probe(x)
		if err != nil {
			return SegmentInfo{}, false, err
		}
		if done {
			return best, true, nil
		}
		if !found {
			hi = x
			break
		}
		lo = x
		step = min(step, math.MaxInt64/2) * 2
	}
	// Bisect [lo, hi) until a probe lands in the last page.
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		found, done, err := probe(mid)
		if err != nil {
			return SegmentInfo{}, false, err
		}
		if done {
			return best, true, nil
		}
		if found {
			lo = mid
		} else {
			hi = mid
		}
	}
	// More than a page of segments start at lo and none later (several
	// segments with the same StartT): page through them.
	for more := true; more; {
		segs, more, err = page(ctx, SegmentFileName(best))
		if err != nil {
			return SegmentInfo{}, false, err
		}
		if len(segs) > 0 {
			best = segs[len(segs)-1]
		}
	}
	return best, true, nil
}
