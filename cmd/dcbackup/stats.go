package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic"
)

func statsCommand() command {
	return command{
		name:    "stats",
		summary: "totals per database: transactions, datoms, bytes, t and instant range, top attributes",
		usage:   "-store STORE [-db NAME] [-identity FILE]... [-top N] [-j N] [-json]",
		detail: `Reads every segment of database -db (or of every database in the store)
and prints its totals: segments, transactions, datoms (assertions and
retractions), stored bytes and bytes per datom, the first and last t and
transaction instant, and the attributes with the most datoms. Overlapping
segments (left by racing writers or an interrupted compaction) hold some
transactions twice; each is counted once, as a restore applies it. A
segment that does not decode is reported on stderr, left out of the
totals, and makes the exit status 1; so does a database without segments.
Encrypted segments need -identity; without one that opens them stats
stops with status 2.`,
		run: runStats,
	}
}

// txStats is what stats keeps of one transaction.
type txStats struct {
	t           int64
	datoms      int
	retractions int
	inst        time.Time // its :db/txInstant (zero: none)
	attrs       []attrDatoms
}

// attrDatoms counts the datoms of one attribute in a transaction.
type attrDatoms struct {
	id int64
	n  int
}

// segStats is what stats keeps of one decoded segment: its transactions'
// figures, so that a range that overlapping segments share is counted
// once.
type segStats struct {
	txs    []txStats
	idents map[int64]datomic.Keyword
	// lineage is the segment's (zero for a version 1 segment).
	lineage dcbackup.LineageFingerprint
}

func reduceStats(seg *dcbackup.Segment) segStats {
	s := segStats{txs: make([]txStats, 0, len(seg.Txs)), idents: map[int64]datomic.Keyword{}}
	if seg.Version >= 2 {
		s.lineage = seg.Header.Lineage
	}
	instAttr := int64(-1)
	for id, a := range seg.Attrs {
		s.idents[id] = a.Ident
		if a.Ident == "db/txInstant" {
			instAttr = id
		}
	}
	perAttr := map[int64]int{}
	for _, tx := range seg.Txs {
		ts := txStats{t: tx.T, datoms: len(tx.Datoms)}
		clear(perAttr)
		for _, d := range tx.Datoms {
			if !d.Added {
				ts.retractions++
			}
			perAttr[d.A]++
			if d.A == instAttr && d.E == tx.ID() && d.Added {
				if inst, ok := d.V.(time.Time); ok {
					ts.inst = inst
				}
			}
		}
		ts.attrs = make([]attrDatoms, 0, len(perAttr))
		for id, n := range perAttr {
			ts.attrs = append(ts.attrs, attrDatoms{id, n})
		}
		s.txs = append(s.txs, ts)
	}
	return s
}

// attrCount is one attribute's datom count.
type attrCount struct {
	ID     int64  `json:"id"`
	Ident  string `json:"ident"`
	Datoms int    `json:"datoms"`
}

// dbStats are the totals of one database.
type dbStats struct {
	DB            string      `json:"db"`
	Segments      int         `json:"segments"`
	Unreadable    int         `json:"unreadable_segments"`
	Vanished      int         `json:"vanished_segments"`
	Foreign       int         `json:"foreign_segments"`
	Overlapping   int         `json:"overlapping_segments"`
	Transactions  int         `json:"transactions"`
	Datoms        int         `json:"datoms"`
	Retractions   int         `json:"retractions"`
	Bytes         int64       `json:"bytes"`
	BytesPerDatom float64     `json:"bytes_per_datom"`
	FirstT        *int64      `json:"first_t"`
	LastT         *int64      `json:"last_t"`
	FirstInstant  string      `json:"first_tx_instant,omitempty"`
	LastInstant   string      `json:"last_tx_instant,omitempty"`
	Attributes    int         `json:"attributes"`
	TopAttributes []attrCount `json:"top_attributes"`
}

func runStats(ctx context.Context, cl *cmdline, args []string) int {
	fs := flagSet(statsCommand())
	sf := addStoreFlags(fs, cl.getenv)
	top := fs.Int("top", 20, "how many attributes to list, by datom count")
	jobs := fs.Int("j", 4, "segments read at once")
	asJSON := fs.Bool("json", false, "print one JSON document instead of text")
	df := addDecodeFlags(fs)
	if code, done := cl.parse(fs, args); done {
		return code
	}
	if *jobs < 1 || *top < 0 {
		return cl.errorf("-j must be at least 1 and -top at least 0")
	}
	opts, err := df.options()
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
	all := []dbStats{}
	code := exitOK
	for _, db := range dbs {
		st, err := collectStats(ctx, cl, h, db, *jobs, *top, opts)
		if errors.Is(err, dcbackup.ErrNoSegments) {
			// Said on stderr; the other databases are still summed up.
			cl.fail(exitUnhealthy, err)
			code = exitUnhealthy
			continue
		}
		if err != nil {
			return cl.fail(exitError, err)
		}
		if st.Unreadable > 0 || st.Foreign > 0 {
			code = exitUnhealthy
		}
		all = append(all, st)
	}
	if len(all) == 0 {
		return code
	}
	if *asJSON {
		err = writeJSON(cl.stdout, struct {
			Store     string    `json:"store"`
			Databases []dbStats `json:"databases"`
		}{h.where, all})
	} else {
		err = printStats(cl.stdout, h.where, all)
	}
	if err != nil {
		return cl.fail(exitError, err)
	}
	return code
}

func collectStats(ctx context.Context, cl *cmdline, h *storeHandle, db string, jobs, top int, opts dcbackup.DecodeOptions) (dbStats, error) {
	st := dbStats{DB: db, TopAttributes: []attrCount{}}
	segs, err := h.List(ctx, db, 0)
	if err != nil {
		return st, err
	}
	if len(segs) == 0 {
		return st, noSegments(db, h.where)
	}
	perAttr := map[int64]int{}
	idents := map[int64]datomic.Keyword{}
	var first, last time.Time
	// covered is the end of the readable segments so far. The listing is
	// sorted by start, so t in [start, covered) of the next segment lies in
	// one already counted: each transaction is counted once, as a restore
	// applies it.
	covered := int64(0)
	// lineage is that of the first segment that tells one; a segment of
	// another is another database's, counted apart (verify says more).
	var lineage dcbackup.LineageFingerprint
	err = scanSegments(ctx, h, db, segs, jobs, opts, reduceStats, func(r scanned[segStats]) error {
		st.Segments++
		st.Bytes += int64(r.size)
		switch {
		case errors.Is(r.loadErr, dcbackup.ErrSegmentNotFound):
			// Listed, then gone (compacted or quarantined meanwhile): no
			// damage, but the totals may miss what it held.
			st.Vanished++
			return nil
		case r.loadErr != nil && !errors.Is(r.loadErr, dcbackup.ErrCorruptSegment) && !errors.Is(r.loadErr, dcbackup.ErrSegmentTooLarge):
			return r.loadErr
		case errors.Is(r.decodeErr, dcbackup.ErrNoKey):
			return fmt.Errorf("%w; give -identity FILE with a key that opens it", r.decodeErr)
		case r.loadErr != nil || r.decodeErr != nil:
			st.Unreadable++
			fmt.Fprintf(cl.stderr, "dcbackup stats: skipping segment %s: %s\n", r.info, trimPrefix(errors.Join(r.loadErr, r.decodeErr).Error()))
			return nil
		}
		switch l := r.res.lineage; {
		case l.IsZero():
		case lineage.IsZero():
			lineage = l
		case l != lineage:
			st.Foreign++
			fmt.Fprintf(cl.stderr, "dcbackup stats: skipping segment %s: it is of lineage %s, the segments before it of lineage %s (another database; see dcbackup verify)\n", r.info, l, lineage)
			return nil
		}
		if r.info.StartT < covered {
			st.Overlapping++
		}
		for _, tx := range r.res.txs {
			if tx.t < covered {
				continue
			}
			st.Transactions++
			st.Datoms += tx.datoms
			st.Retractions += tx.retractions
			if st.FirstT == nil {
				st.FirstT = &tx.t
			}
			st.LastT = &tx.t
			if !tx.inst.IsZero() {
				if first.IsZero() {
					first = tx.inst
				}
				last = tx.inst
			}
			for _, a := range tx.attrs {
				perAttr[a.id] += a.n
			}
		}
		covered = max(covered, r.info.EndT)
		for id, k := range r.res.idents {
			idents[id] = k // the latest name wins (attributes can be renamed)
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	if st.Datoms > 0 {
		st.BytesPerDatom = float64(st.Bytes) / float64(st.Datoms)
	}
	if !first.IsZero() {
		st.FirstInstant = first.UTC().Format(instantLayout)
		st.LastInstant = last.UTC().Format(instantLayout)
	}
	st.Attributes = len(perAttr)
	counts := make([]attrCount, 0, len(perAttr))
	for id, n := range perAttr {
		counts = append(counts, attrCount{ID: id, Ident: idents[id].String(), Datoms: n})
	}
	sort.Slice(counts, func(i, j int) bool {
		if counts[i].Datoms != counts[j].Datoms {
			return counts[i].Datoms > counts[j].Datoms
		}
		return counts[i].ID < counts[j].ID
	})
	st.TopAttributes = append(st.TopAttributes, counts[:min(top, len(counts))]...)
	return st, nil
}

func printStats(w io.Writer, where string, all []dbStats) error {
	for i, s := range all {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "database %s in %s\n", s.DB, where)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		segs := fmt.Sprint(s.Segments)
		var notes []string
		if s.Unreadable > 0 {
			notes = append(notes, fmt.Sprintf("%d unreadable, left out", s.Unreadable))
		}
		if s.Vanished > 0 {
			notes = append(notes, fmt.Sprintf("%d gone while read (compacted meanwhile?), left out: run stats again", s.Vanished))
		}
		if s.Foreign > 0 {
			notes = append(notes, fmt.Sprintf("%d of another database, left out: see dcbackup verify", s.Foreign))
		}
		if s.Overlapping > 0 {
			notes = append(notes, fmt.Sprintf("%d overlapping, what they share counted once", s.Overlapping))
		}
		if len(notes) > 0 {
			segs += " (" + strings.Join(notes, "; ") + ")"
		}
		fmt.Fprintf(tw, "  segments\t%s\n", segs)
		fmt.Fprintf(tw, "  transactions\t%d\n", s.Transactions)
		fmt.Fprintf(tw, "  datoms\t%d (%d assertions, %d retractions)\n", s.Datoms, s.Datoms-s.Retractions, s.Retractions)
		fmt.Fprintf(tw, "  bytes\t%d (%s), %.1f bytes/datom\n", s.Bytes, humanBytes(s.Bytes), s.BytesPerDatom)
		if s.FirstT != nil {
			fmt.Fprintf(tw, "  t\tfirst %d, last %d\n", *s.FirstT, *s.LastT)
		} else {
			fmt.Fprintf(tw, "  t\tno transactions\n")
		}
		if s.FirstInstant != "" {
			fmt.Fprintf(tw, "  tx instant\tfirst %s, last %s\n", s.FirstInstant, s.LastInstant)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if len(s.TopAttributes) == 0 {
			continue
		}
		fmt.Fprintf(w, "  datoms per attribute (top %d of %d):\n", len(s.TopAttributes), s.Attributes)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		for _, a := range s.TopAttributes {
			fmt.Fprintf(tw, "  \t%d\t%.1f%%\t\t%s\n", a.Datoms, 100*float64(a.Datoms)/float64(s.Datoms), a.Ident)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}
