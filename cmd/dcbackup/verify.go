package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/dcbackup/dcbackup"
)

func verifyCommand() command {
	return command{
		name:    "verify",
		summary: "read every segment and check the backup is complete and readable",
		usage:   "-store STORE [-db NAME] [-identity FILE]... [-j N] [-v] [-json]",
		detail: `Reads every segment of database -db (or of every database in the store)
and checks that it is readable: its checksum verifies, it decodes, its
range is the one it is stored under, and it belongs to the database it is
stored for. Checks that the segments cover t without a gap from t 0 (a
missing segment shows as a gap; overlapping segments left by racing
writers are fine). Prints a line per problem and a summary per database.

Encrypted segments: without -identity, verify checks everything but the
payload (both checksums, the header, its range, database, sizes and
recipients) and says how many payloads it did not check; with -identity
it decrypts and decodes them too, and reports a segment no identity opens
(no-key) and, unless -allow-unencrypted, an unencrypted segment
(not-encrypted).

Exit status: 0 healthy, 1 at least one problem, 2 the store could not be
read. Segments are read one at a time per worker (-j), so memory stays
bounded by a few segments whatever the size of the backup.`,
		run: runVerify,
	}
}

// Problem kinds reported by verify.
const (
	problemGap         = "gap"
	problemCorrupt     = "corrupt"
	problemWrongDB     = "wrong-database"
	problemMissing     = "missing"
	problemUnsupported = "unsupported-version"
	problemTooLarge    = "too-large"
	problemEmpty       = "no-segments"
	problemNoKey       = "no-key"
	problemNotEnc      = "not-encrypted"
)

// problem is one finding of verify.
type problem struct {
	Kind    string `json:"kind"`
	StartT  int64  `json:"start_t"`
	EndT    int64  `json:"end_t"`
	Message string `json:"message"`
}

// dbReport is verify's result for one database.
type dbReport struct {
	DB           string `json:"db"`
	Healthy      bool   `json:"healthy"`
	Segments     int    `json:"segments"`
	Transactions int    `json:"transactions"`
	Datoms       int    `json:"datoms"`
	Bytes        int64  `json:"bytes"`
	StartT       int64  `json:"start_t"`
	EndT         int64  `json:"end_t"`
	// UncheckedPayloads counts encrypted segments whose payload was not
	// checked (no -identity): their structure and header were.
	UncheckedPayloads int       `json:"unchecked_payloads"`
	Problems          []problem `json:"problems"`
}

type verifyFlags struct {
	jobs    int
	verbose bool
	json    bool
	decode  dcbackup.DecodeOptions
}

func runVerify(ctx context.Context, cl *cmdline, args []string) int {
	fs := flagSet(verifyCommand())
	sf := addStoreFlags(fs, cl.getenv)
	var vf verifyFlags
	fs.IntVar(&vf.jobs, "j", 4, "segments read at once")
	fs.BoolVar(&vf.verbose, "v", false, "print a line for every segment, not only for problems")
	fs.BoolVar(&vf.json, "json", false, "print one JSON document instead of text")
	df := addDecodeFlags(fs)
	if code, done := cl.parse(fs, args); done {
		return code
	}
	if vf.jobs < 1 {
		return cl.errorf("-j must be at least 1")
	}
	var err error
	if vf.decode, err = df.options(); err != nil {
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
		return cl.fail(exitUnhealthy, unhealthy("no databases in %s", h.where))
	}
	text := cl.stdout
	if vf.json {
		text = io.Discard
	}
	reports := make([]dbReport, 0, len(dbs))
	for _, db := range dbs {
		fmt.Fprintf(text, "verify database %s in %s\n", db, h.where)
		rep, err := verifyDB(ctx, h, db, vf, text)
		if err != nil {
			return cl.fail(exitError, err)
		}
		fmt.Fprintln(text, verifySummary(rep))
		reports = append(reports, rep)
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

// segCounts is what verify keeps of a decoded segment.
type segCounts struct {
	db     string
	txs    int
	datoms int
}

// verifyDB checks one database, writing problem lines (and, verbose,
// segment lines) to w as it goes. Its error means the store could not be
// read; problems are in the report.
func verifyDB(ctx context.Context, h *storeHandle, db string, vf verifyFlags, w io.Writer) (dbReport, error) {
	rep := dbReport{DB: db, Problems: []problem{}}
	segs, err := h.List(ctx, db, 0)
	if err != nil {
		return rep, err
	}
	report := func(p problem) {
		rep.Problems = append(rep.Problems, p)
		if p.EndT > p.StartT {
			fmt.Fprintf(w, "PROBLEM %s %s: %s\n", p.Kind, tRange(p.StartT, p.EndT), p.Message)
		} else {
			fmt.Fprintf(w, "PROBLEM %s: %s\n", p.Kind, p.Message)
		}
	}
	if len(segs) == 0 {
		report(problem{Kind: problemEmpty, Message: fmt.Sprintf("no segments of database %q in %s (is -db right?)", db, h.where)})
		return rep, nil
	}
	rep.StartT, rep.EndT = segs[0].StartT, 0
	for _, s := range segs {
		rep.EndT = max(rep.EndT, s.EndT)
	}
	gaps := dcbackup.CoverageGaps(segs)
	flushGaps := func(before int64) {
		for len(gaps) > 0 && gaps[0].StartT < before {
			g := gaps[0]
			gaps = gaps[1:]
			report(problem{Kind: problemGap, StartT: g.StartT, EndT: g.EndT,
				Message: fmt.Sprintf("no segment covers t in %s: a restore stops at t %d; run Repair against the source", tRange(g.StartT, g.EndT), g.StartT)})
		}
	}
	reduce := func(s *dcbackup.Segment) segCounts {
		return segCounts{db: s.DB, txs: len(s.Txs), datoms: s.DatomCount()}
	}
	err = scanSegments(ctx, h, db, segs, vf.jobs, vf.decode, reduce, func(r scanned[segCounts]) error {
		flushGaps(r.info.StartT)
		rep.Segments++
		rep.Bytes += int64(r.size)
		if r.header != nil && r.header.DB == db {
			// Encrypted, no identity: everything but the payload verified.
			rep.UncheckedPayloads++
			rep.Transactions += int(r.header.TxCount)
			rep.Datoms += int(r.header.DatomCount)
			if vf.verbose {
				fmt.Fprintf(w, "ok %s: %s, %s, %d bytes, encrypted: header checked, payload not (no -identity)\n", tRange(r.info.StartT, r.info.EndT),
					plural(r.header.TxCount, "transaction"), plural(r.header.DatomCount, "datom"), r.size)
			}
			return nil
		}
		if r.header != nil {
			r.res.db, r.decodeErr = r.header.DB, nil
		}
		if p, ok, err := segmentProblem(db, r); err != nil {
			return err
		} else if ok {
			report(p)
			return nil
		}
		rep.Transactions += r.res.txs
		rep.Datoms += r.res.datoms
		if vf.verbose {
			fmt.Fprintf(w, "ok %s: %s, %s, %d bytes\n", tRange(r.info.StartT, r.info.EndT),
				plural(int64(r.res.txs), "transaction"), plural(int64(r.res.datoms), "datom"), r.size)
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	flushGaps(rep.EndT + 1)
	rep.Healthy = len(rep.Problems) == 0
	return rep, nil
}

// segmentProblem classifies the outcome of reading one segment. An error
// means the store itself failed (not a finding about the backup).
func segmentProblem(db string, r scanned[segCounts]) (problem, bool, error) {
	p := problem{StartT: r.info.StartT, EndT: r.info.EndT}
	switch {
	case errors.Is(r.loadErr, dcbackup.ErrSegmentNotFound):
		p.Kind = problemMissing
		p.Message = "listed, but gone when read (deleted meanwhile?)"
	case r.loadErr != nil:
		return p, false, fmt.Errorf("read segment %s: %w", r.info, r.loadErr)
	case errors.Is(r.decodeErr, dcbackup.ErrUnsupportedSegmentVersion):
		p.Kind = problemUnsupported
		p.Message = decodeCause(r.decodeErr) + " (written by a newer dcbackup; upgrade this command)"
	case errors.Is(r.decodeErr, dcbackup.ErrSegmentTooLarge):
		p.Kind = problemTooLarge
		p.Message = decodeCause(r.decodeErr)
	case errors.Is(r.decodeErr, dcbackup.ErrNoKey):
		p.Kind = problemNoKey
		p.Message = decodeCause(r.decodeErr)
	case errors.Is(r.decodeErr, dcbackup.ErrNotEncrypted):
		p.Kind = problemNotEnc
		p.Message = strings.TrimPrefix(decodeCause(r.decodeErr), "corrupt segment: ") + "; anyone who can write to the store could have written it"
	case r.decodeErr != nil:
		p.Kind = problemCorrupt
		p.Message = strings.TrimPrefix(decodeCause(r.decodeErr), "corrupt segment: ")
	case r.res.db != db:
		p.Kind = problemWrongDB
		p.Message = fmt.Sprintf("segment holds database %q, but is stored for %q", r.res.db, db)
	default:
		return p, false, nil
	}
	return p, true, nil
}

// verifySummary is the last line for a database.
func verifySummary(r dbReport) string {
	counts := fmt.Sprintf("%s, %s, %s, %s (%d bytes)", plural(int64(r.Segments), "segment"),
		plural(int64(r.Transactions), "transaction"), plural(int64(r.Datoms), "datom"), humanBytes(r.Bytes), r.Bytes)
	if r.Segments > 0 {
		counts += ", t " + tRange(r.StartT, r.EndT)
	}
	if r.UncheckedPayloads > 0 {
		counts += fmt.Sprintf("; %s encrypted: checksums and headers checked, payloads not (give -identity to check them)",
			plural(int64(r.UncheckedPayloads), "segment"))
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
	sort.Strings(kinds)
	return fmt.Sprintf("%s: UNHEALTHY: %s (%s); %s", r.DB, plural(int64(len(r.Problems)), "problem"), strings.Join(kinds, ", "), counts)
}

// decodeCause is the text of a decode error without the segment's name,
// which the problem line already gives.
func decodeCause(err error) string {
	var se *dcbackup.SegmentError
	if errors.As(err, &se) && se.Err != nil {
		err = se.Err
	}
	return trimPrefix(err.Error())
}
