package main

import (
	"context"
	"fmt"
	"io"

	"github.com/dcbackup/dcbackup"
)

func lsCommand() command {
	return command{
		name:    "ls",
		summary: "list a database's segments (ranges, sizes, gaps), or the store's databases",
		usage:   "-store STORE [-db NAME] [-json]",
		detail: `Lists the segments of database -db, oldest first: their t range
[start, end), their size, and every gap (a range of t that no segment
covers, so a restore would stop there). Overlapping segments, which two
backup processes racing can leave, are marked: usually harmless, but ls
reads no segment, so only verify tells whether they agree. A summary line
follows. Without -db, lists the databases of the store with the same
summary for each. ls reads only the listing, never a segment's contents.
A database without segments, or a store without databases, is status 1.`,
		run: runLs,
	}
}

// lsSegment is one segment of the JSON output.
type lsSegment struct {
	StartT   int64 `json:"start_t"`
	EndT     int64 `json:"end_t"`
	Bytes    int64 `json:"bytes"`
	Overlaps bool  `json:"overlaps,omitempty"`
}

// lsGap is a gap of the JSON output.
type lsGap struct {
	StartT int64 `json:"start_t"`
	EndT   int64 `json:"end_t"`
}

// lsSummary sums up a database's listing.
type lsSummary struct {
	DB       string `json:"db"`
	Segments int    `json:"segments"`
	Bytes    int64  `json:"bytes"`
	// StartT and EndT bound the t range the segments span, [start, end).
	StartT   int64 `json:"start_t"`
	EndT     int64 `json:"end_t"`
	Gaps     int   `json:"gaps"`
	Overlaps int   `json:"overlaps"`
}

// lsOutput is the JSON document of `ls -db`.
type lsOutput struct {
	Store    string      `json:"store"`
	DB       string      `json:"db"`
	Segments []lsSegment `json:"segments"`
	Gaps     []lsGap     `json:"gaps"`
	Summary  lsSummary   `json:"summary"`
}

func runLs(ctx context.Context, cl *cmdline, args []string) int {
	fs := flagSet(lsCommand())
	sf := addStoreFlags(fs, cl.getenv)
	asJSON := fs.Bool("json", false, "print one JSON document instead of a table")
	if code, done := cl.parse(fs, args); done {
		return code
	}
	h, err := sf.open(ctx, cl.getenv)
	if err != nil {
		return cl.fail(exitError, err)
	}
	if sf.db == "" {
		return lsDatabases(ctx, cl, h, *asJSON)
	}
	if err := dcbackup.ValidateDBName(sf.db); err != nil {
		return cl.fail(exitError, err)
	}
	segs, err := h.List(ctx, sf.db, 0)
	if err != nil {
		return cl.fail(exitError, err)
	}
	if len(segs) == 0 {
		return cl.fail(exitUnhealthy, noSegments(sf.db, h.where))
	}
	out := describe(h.where, sf.db, segs)
	if *asJSON {
		err = writeJSON(cl.stdout, out)
	} else {
		err = printLs(cl.stdout, out)
	}
	if err != nil {
		return cl.fail(exitError, err)
	}
	return exitOK
}

// describe turns a listing into the ls output: segments with overlaps
// marked, gaps and the summary.
func describe(where, db string, segs []dcbackup.SegmentInfo) lsOutput {
	out := lsOutput{Store: where, DB: db, Segments: make([]lsSegment, 0, len(segs)), Gaps: []lsGap{}}
	out.Summary.DB = db
	covered := int64(0)
	for i, s := range segs {
		overlaps := i > 0 && s.StartT < covered
		out.Segments = append(out.Segments, lsSegment{StartT: s.StartT, EndT: s.EndT, Bytes: s.Size, Overlaps: overlaps})
		if overlaps {
			out.Summary.Overlaps++
		}
		covered = max(covered, s.EndT)
		out.Summary.Bytes += s.Size
	}
	for _, g := range dcbackup.CoverageGaps(segs) {
		out.Gaps = append(out.Gaps, lsGap{StartT: g.StartT, EndT: g.EndT})
	}
	out.Summary.Segments = len(segs)
	out.Summary.Gaps = len(out.Gaps)
	if len(segs) > 0 {
		out.Summary.StartT = segs[0].StartT
		out.Summary.EndT = covered
	}
	return out
}

// printLs writes the table: segments in t order with the gaps between
// them, then the summary.
func printLs(w io.Writer, out lsOutput) error {
	fmt.Fprintf(w, "database %s in %s\n", out.DB, out.Store)
	tw := newTable(w)
	fmt.Fprintln(tw, "START T\tEND T\tBYTES\tNOTE")
	gaps := out.Gaps
	for _, s := range out.Segments {
		for len(gaps) > 0 && gaps[0].StartT < s.StartT {
			g := gaps[0]
			gaps = gaps[1:]
			fmt.Fprintf(tw, "%d\t%d\t-\tGAP: no segment covers %s\n", g.StartT, g.EndT, tRange(g.StartT, g.EndT))
		}
		note := ""
		if s.Overlaps {
			note = "overlaps the previous segment (verify checks that they agree)"
		}
		fmt.Fprintf(tw, "%d\t%d\t%d\t%s\n", s.StartT, s.EndT, s.Bytes, note)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, summaryLine(out.Summary))
	return err
}

func summaryLine(s lsSummary) string {
	line := fmt.Sprintf("%s, %s (%d bytes), t %s, %s", plural(int64(s.Segments), "segment"),
		humanBytes(s.Bytes), s.Bytes, tRange(s.StartT, s.EndT), plural(int64(s.Gaps), "gap"))
	if s.Overlaps > 0 {
		line += ", " + plural(int64(s.Overlaps), "overlap")
	}
	return line
}

// lsDatabases lists the store's databases with a summary of each.
func lsDatabases(ctx context.Context, cl *cmdline, h *storeHandle, asJSON bool) int {
	dbs, err := h.databases(ctx)
	if err != nil {
		return cl.fail(exitError, err)
	}
	if len(dbs) == 0 {
		return cl.fail(exitUnhealthy, noDatabases(h.where))
	}
	sums := make([]lsSummary, 0, len(dbs))
	for _, db := range dbs {
		segs, err := h.List(ctx, db, 0)
		if err != nil {
			return cl.fail(exitError, err)
		}
		sums = append(sums, describe(h.where, db, segs).Summary)
	}
	if asJSON {
		err = writeJSON(cl.stdout, struct {
			Store     string      `json:"store"`
			Databases []lsSummary `json:"databases"`
		}{h.where, sums})
	} else {
		err = printDatabases(cl.stdout, h.where, sums)
	}
	if err != nil {
		return cl.fail(exitError, err)
	}
	return exitOK
}

func printDatabases(w io.Writer, where string, sums []lsSummary) error {
	fmt.Fprintf(w, "databases in %s\n", where)
	tw := newTable(w)
	fmt.Fprintln(tw, "DATABASE\tSEGMENTS\tBYTES\tT RANGE\tGAPS")
	for _, s := range sums {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%d\n", s.DB, s.Segments, s.Bytes, tRange(s.StartT, s.EndT), s.Gaps)
	}
	return tw.Flush()
}
