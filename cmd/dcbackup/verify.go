package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/dcbackup/dcbackup"
)

func verifyCommand() command {
	return command{
		name:    "verify",
		summary: "read every segment and check the backup is complete and readable",
		usage:   "-store STORE [-db NAME] [-identity FILE]... [-headers] [-j N] [-v] [-json]",
		detail: `Checks database -db (or every database in the store) with the library's
Check: reads every segment and checks that it is readable (its checksum
verifies, it decodes, its range is the one it is stored under, it belongs
to the database it is stored for), that it is of the same lineage (backed
up from the same database) as the others and continues the segment before
it, and that the segments cover t without a gap from t 0. Overlapping
segments, left by racing writers or an interrupted compaction, are fine:
transactions and datoms are counted once, as a restore applies them.
Prints a line per problem and a summary per database.

-headers reads only each segment's header (a ranged read on S3): it finds
missing, empty, truncated, misplaced and foreign segments and broken
links, not damage inside a segment's body. It counts from the headers, so
a segment that overlaps the one before it is counted whole.

Encrypted segments: without -identity, verify checks everything but the
payload (both checksums, the header, its range, database, sizes and
recipients) and says how many payloads it did not check; with -identity
it decrypts and decodes them too, and reports segments that no identity
opens (no-key) and, unless -allow-unencrypted, unencrypted segments
(not-encrypted).

Exit status: 0 healthy, 1 at least one problem (or no segments), 2 the
store could not be read. Each of the -j workers holds one segment at a
time, so memory stays bounded whatever the size of the backup.`,
		run: runVerify,
	}
}

// Problem kinds reported by verify. corrupt, wrong-database,
// unsupported-version, too-large, no-key and not-encrypted say why a
// segment is damaged (the library's ProblemDamaged).
const (
	problemGap         = "gap"
	problemCorrupt     = "corrupt"
	problemWrongDB     = "wrong-database"
	problemUnsupported = "unsupported-version"
	problemTooLarge    = "too-large"
	problemNoKey       = "no-key"
	problemNotEnc      = "not-encrypted"
	problemLineage     = "another-lineage"
	problemChain       = "broken-chain"
	problemEmpty       = "no-segments"
)

// problem is one finding of verify. A problem that concerns no range
// (no-segments) has StartT == EndT == 0.
type problem struct {
	Kind    string `json:"kind"`
	StartT  int64  `json:"start_t"`
	EndT    int64  `json:"end_t"`
	Message string `json:"message"`
}

// dbReport is verify's result for one database.
type dbReport struct {
	DB      string `json:"db"`
	Healthy bool   `json:"healthy"`
	// Segments and Bytes count the segments listed.
	Segments int   `json:"segments"`
	Bytes    int64 `json:"bytes"`
	// Transactions and Datoms count what the store holds along the chain
	// a restore follows, overlaps counted once (past a gap too).
	Transactions int64 `json:"transactions"`
	Datoms       int64 `json:"datoms"`
	// EndT is the end of the last segment: without problems, the backup
	// covers t in [0, EndT).
	EndT int64 `json:"end_t"`
	// Redundant counts segments a restore passes over because others
	// cover their range.
	Redundant int `json:"redundant"`
	// Unverified counts segments whose payload was not checked (their
	// checksums and header were): encrypted ones when no -identity is
	// given (not a problem), and those with a no-key, not-encrypted or
	// too-large problem.
	Unverified int `json:"unverified"`
	// HeadersOnly: only the segments' headers were read (-headers).
	HeadersOnly bool      `json:"headers_only"`
	Problems    []problem `json:"problems"`
}

type verifyFlags struct {
	jobs    int
	verbose bool
	json    bool
	headers bool
}

func runVerify(ctx context.Context, cl *cmdline, args []string) int {
	fs := flagSet(verifyCommand())
	sf := addStoreFlags(fs, cl.getenv)
	var vf verifyFlags
	fs.IntVar(&vf.jobs, "j", 4, "segments read at once")
	fs.BoolVar(&vf.headers, "headers", false, "read only each segment's header: finds missing, truncated, misplaced and foreign segments, not damage inside a body")
	fs.BoolVar(&vf.verbose, "v", false, "say more in the summary: redundant segments, time taken")
	fs.BoolVar(&vf.json, "json", false, "print one JSON document instead of text")
	df := addDecodeFlags(fs)
	if code, done := cl.parse(fs, args); done {
		return code
	}
	if vf.jobs < 1 {
		return cl.errorf("-j must be at least 1")
	}
	decode, err := df.options()
	if err != nil {
		return cl.fail(exitError, err)
	}
	h, err := sf.open(ctx, cl.getenv)
	if err != nil {
		return cl.fail(exitError, err)
	}
	dbs, err := h.selectDBs(ctx, sf.db)
	if err != nil {
		return cl.fail(exitError, err)
	}
	if len(dbs) == 0 {
		return cl.fail(exitUnhealthy, noDatabases(h.where))
	}
	text := cl.stdout
	if vf.json {
		text = io.Discard
	}
	opts := &dcbackup.CheckOptions{HeadersOnly: vf.headers, Concurrency: vf.jobs, Decode: decode}
	reports := make([]dbReport, 0, len(dbs))
	for _, db := range dbs {
		fmt.Fprintf(text, "verify database %s in %s\n", db, h.where)
		rep, err := verifyDB(ctx, h, db, opts)
		if err != nil {
			return cl.fail(exitError, err)
		}
		for _, p := range rep.Problems {
			fmt.Fprintln(text, problemLine(p))
		}
		fmt.Fprintln(text, verifySummary(rep, vf.verbose))
		reports = append(reports, rep.dbReport)
	}
	if vf.json {
		if err := writeJSON(cl.stdout, struct {
			Store     string     `json:"store"`
			Databases []dbReport `json:"databases"`
		}{h.where, reports}); err != nil {
			return cl.fail(exitError, err)
		}
	}
	for _, r := range reports {
		if !r.Healthy {
			return exitUnhealthy
		}
	}
	return exitOK
}

// verified is a database's report with what only the text shows.
type verified struct {
	dbReport
	seconds float64
	// encrypted counts the encrypted segments not checked for want of
	// -identity (the unverified segments that are not problems).
	encrypted int
}

// verifyDB checks one database with dcbackup.Check. Its error means the
// store could not be read; problems are in the report.
func verifyDB(ctx context.Context, h *storeHandle, db string, opts *dcbackup.CheckOptions) (verified, error) {
	rep := verified{dbReport: dbReport{DB: db, HeadersOnly: opts.HeadersOnly, Problems: []problem{}}}
	cr, err := dcbackup.Check(ctx, db, h.BackupStore, opts) // the store itself: ranged header reads where it has them
	rep.seconds = cr.Elapsed.Seconds()
	if errors.Is(err, dcbackup.ErrNoSegments) {
		rep.Problems = append(rep.Problems, problem{Kind: problemEmpty, Message: noSegmentsHint(db, h.where)})
		return rep, nil
	}
	var se *dcbackup.SegmentError
	if errors.Is(err, dcbackup.ErrUnsupportedSegmentVersion) && errors.As(err, &se) {
		// A segment of a newer format stops the check: it is not damage.
		rep.Problems = append(rep.Problems, segmentProblem(dcbackup.SegmentProblem{Seg: se.Seg, Kind: dcbackup.ProblemDamaged, Err: err}))
		return rep, nil
	}
	if err != nil {
		return rep, err
	}
	rep.Segments, rep.Bytes = cr.Segments, cr.Bytes
	rep.Transactions, rep.Datoms, rep.EndT = cr.Transactions, cr.Datoms, cr.EndT
	rep.Redundant, rep.Unverified = cr.Redundant, cr.Unverified
	rep.encrypted = cr.Unverified
	for _, sp := range cr.Problems {
		rep.Problems = append(rep.Problems, segmentProblem(sp))
		if sp.Kind == dcbackup.ProblemUnreadable {
			rep.encrypted--
		}
	}
	for _, g := range cr.Gaps {
		rep.Problems = append(rep.Problems, problem{Kind: problemGap, StartT: g.StartT, EndT: g.EndT,
			Message: fmt.Sprintf("no sound segment covers t in %s: a restore stops at t %d; run Repair against the source", tRange(g.StartT, g.EndT), g.StartT)})
	}
	// A problem before the gap it leaves, both in t order.
	slices.SortStableFunc(rep.Problems, func(a, b problem) int { return cmp.Compare(a.StartT, b.StartT) })
	rep.Healthy = len(rep.Problems) == 0
	return rep, nil
}

// segmentProblem turns one of Check's problems into verify's.
func segmentProblem(sp dcbackup.SegmentProblem) problem {
	p := problem{StartT: sp.Seg.StartT, EndT: sp.Seg.EndT, Message: problemCause(sp)}
	switch sp.Kind {
	case dcbackup.ProblemLineage:
		p.Kind = problemLineage
		p.Message += " (a segment of another database under a plausible range: compare with the source; a restore refuses it)"
		return p
	case dcbackup.ProblemChain:
		p.Kind = problemChain
		p.Message += " (a restore refuses it)"
		return p
	}
	switch err := sp.Err; {
	case errors.Is(err, dcbackup.ErrUnsupportedSegmentVersion):
		p.Kind = problemUnsupported
		p.Message += " (written by a newer dcbackup; upgrade this command)"
	case errors.Is(err, dcbackup.ErrSegmentTooLarge):
		p.Kind = problemTooLarge
	case errors.Is(err, dcbackup.ErrNoKey):
		p.Kind = problemNoKey
	case errors.Is(err, dcbackup.ErrNotEncrypted):
		p.Kind = problemNotEnc
		p.Message += "; anyone who can write to the store could have written it"
	case errors.Is(err, dcbackup.ErrWrongDatabase):
		p.Kind = problemWrongDB
	default:
		p.Kind = problemCorrupt
	}
	return p
}

// problemCause is the text of a problem's error without what the problem
// line already says: the segment's name and the sentinel that its kind
// restates.
func problemCause(sp dcbackup.SegmentProblem) string {
	err := sp.Err
	if err == nil {
		return sp.Kind.String()
	}
	var se *dcbackup.SegmentError
	if errors.As(err, &se) && se.Err != nil {
		err = se.Err
	}
	s := trimPrefix(err.Error())
	s = strings.TrimPrefix(s, "segment "+sp.Seg.String()+": ")
	for _, sentinel := range []error{dcbackup.ErrCorruptSegment, dcbackup.ErrWrongDatabase, dcbackup.ErrChainBroken, dcbackup.ErrNotEncrypted} {
		s = strings.TrimPrefix(s, sentinel.Error()+": ")
	}
	return s
}

// problemLine is the text line of a problem.
func problemLine(p problem) string {
	if p.EndT > p.StartT {
		return fmt.Sprintf("PROBLEM %s %s: %s", p.Kind, tRange(p.StartT, p.EndT), p.Message)
	}
	return fmt.Sprintf("PROBLEM %s: %s", p.Kind, p.Message)
}

// verifySummary is the last line for a database.
func verifySummary(r verified, verbose bool) string {
	counts := fmt.Sprintf("%s, %s, %s, %s (%d bytes)", plural(int64(r.Segments), "segment"),
		plural(r.Transactions, "transaction"), plural(r.Datoms, "datom"), humanBytes(r.Bytes), r.Bytes)
	if r.Segments > 0 {
		counts += ", t " + tRange(0, r.EndT)
	}
	if r.HeadersOnly {
		counts += "; headers only: segment bodies not read, counts from the headers"
	}
	if r.encrypted > 0 && !r.HeadersOnly { // with -headers, no payload is read
		counts += fmt.Sprintf("; %s encrypted: checksums and headers checked, payloads not (give -identity to check them)",
			plural(int64(r.encrypted), "segment"))
	}
	if r.Redundant > 0 || verbose {
		counts += fmt.Sprintf("; %s redundant (overlaps a restore passes over, counted once)", plural(int64(r.Redundant), "segment"))
	}
	if verbose {
		counts += fmt.Sprintf("; %.1f s", r.seconds)
	}
	if r.Healthy {
		return fmt.Sprintf("%s: healthy: %s", r.DB, counts)
	}
	byKind := map[string]int{}
	for _, p := range r.Problems {
		byKind[p.Kind]++
	}
	kinds := make([]string, 0, len(byKind))
	for k, n := range byKind {
		kinds = append(kinds, fmt.Sprintf("%d %s", n, k))
	}
	slices.Sort(kinds)
	return fmt.Sprintf("%s: UNHEALTHY: %s (%s); %s", r.DB, plural(int64(len(r.Problems)), "problem"), strings.Join(kinds, ", "), counts)
}
