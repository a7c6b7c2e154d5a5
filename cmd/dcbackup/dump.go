package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic"
)

func dumpCommand() command {
	return command{
		name:    "dump",
		summary: "print one segment as JSON lines, one datom per line",
		usage:   "-store STORE -db NAME (-start T | -segment START-END) [-identity FILE]... [-attrs]",
		detail: `Prints the datoms of one segment as JSON lines, in log order:

  {"t":1005,"e":17592186045418,"a":":artist/name","v":"Bach","added":true}

"a" is the attribute's ident from the segment's attribute dictionary. "e"
and ref values are entity ids as numbers; when the segment knows the
entity's ident (a bootstrap entity, an attribute, or an enum whose
:db/ident the segment asserts) it is added as "e_ident" / "v_ident".
Values: keywords ":ns/name"; strings, symbols and URIs as text; longs and
doubles as numbers (NaN and infinities as strings); bigints and bigdecs as
decimal strings; instants RFC 3339 with milliseconds in UTC; UUIDs as
text; bytes base64; tuples as arrays. A value's type is its attribute's
:db/valueType (see -attrs).

-start T picks the segment whose range starts at T, or else the one that
contains t T; -segment START-END picks the segment stored as [START, END).
With -attrs, prints instead of the datoms the segment's attribute
dictionary, one attribute per line ({"id":..,"ident":..,"valueType":..,
...}), then the other bootstrap entities it mentions ({"id":..,"ident":..}).

An encrypted segment needs -identity FILE, an age identity file that
opens it (the error names the recipients it was encrypted to).`,
		run: runDump,
	}
}

// datomLine is one line of dump's output.
type datomLine struct {
	T      int64  `json:"t"`
	E      int64  `json:"e"`
	EIdent string `json:"e_ident,omitempty"`
	A      string `json:"a"`
	V      any    `json:"v"`
	VIdent string `json:"v_ident,omitempty"`
	Added  bool   `json:"added"`
}

// attrLine is one line of `dump -attrs`.
type attrLine struct {
	ID          int64    `json:"id"`
	Ident       string   `json:"ident"`
	ValueType   string   `json:"valueType"`
	Cardinality string   `json:"cardinality,omitempty"`
	Unique      string   `json:"unique,omitempty"`
	IsComponent bool     `json:"isComponent,omitempty"`
	NoHistory   bool     `json:"noHistory,omitempty"`
	Index       bool     `json:"index,omitempty"`
	Fulltext    bool     `json:"fulltext,omitempty"`
	TupleAttrs  []string `json:"tupleAttrs,omitempty"`
	TupleType   string   `json:"tupleType,omitempty"`
	TupleTypes  []string `json:"tupleTypes,omitempty"`
}

// identLine is one bootstrap ident of `dump -attrs`.
type identLine struct {
	ID    int64  `json:"id"`
	Ident string `json:"ident"`
}

func runDump(ctx context.Context, cl *cmdline, args []string) int {
	fs := flagSet(dumpCommand())
	sf := addStoreFlags(fs, cl.getenv)
	var start optionalT
	fs.Var(&start, "start", "dump the segment starting at (or else containing) t `T`")
	segFlag := fs.String("segment", "", "dump the segment stored as [START, END), written `START-END`")
	attrs := fs.Bool("attrs", false, "print the attribute dictionary and bootstrap idents instead of the datoms")
	df := addDecodeFlags(fs)
	if code, done := cl.parse(fs, args); done {
		return code
	}
	opts, err := df.options()
	if err != nil {
		return cl.fail(exitError, err)
	}
	if start.set == (*segFlag != "") {
		return cl.errorf("give exactly one of -start T and -segment START-END")
	}
	if sf.db == "" {
		return cl.errorf("no database: give -db NAME (or set %s)", envDB)
	}
	if err := dcbackup.ValidateDBName(sf.db); err != nil {
		return cl.fail(exitError, err)
	}
	h, err := sf.open(ctx, cl.getenv)
	if err != nil {
		return cl.fail(exitError, err)
	}
	var info dcbackup.SegmentInfo
	if *segFlag != "" {
		if info, err = parseSegmentFlag(*segFlag); err != nil {
			return cl.errorf("-segment: %v", err)
		}
	} else if info, err = findSegment(ctx, h, sf.db, start.t); err != nil {
		return cl.fail(exitCode(err), err)
	}
	opts.DB = sf.db // a segment of another database is refused as corrupt
	seg, err := loadSegment(ctx, h, sf.db, info, opts)
	switch {
	case errors.Is(err, dcbackup.ErrNoKey):
		err = fmt.Errorf("%w; give -identity FILE with a key that opens it", err)
	case errors.Is(err, dcbackup.ErrSegmentNotFound):
		// Say so when the database has no segment at all.
		if segs, lerr := h.List(ctx, sf.db, 0); lerr == nil && len(segs) == 0 {
			err = noSegments(sf.db, h.where)
		}
	}
	if err != nil {
		return cl.fail(exitCode(err), err)
	}
	bw := bufio.NewWriterSize(cl.stdout, 64<<10)
	if *attrs {
		err = dumpAttrs(bw, seg)
	} else {
		err = dumpDatoms(bw, seg)
	}
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		return cl.fail(exitError, err)
	}
	return exitOK
}

// optionalT is a flag holding a t, which may be absent.
type optionalT struct {
	t   int64
	set bool
}

func (o *optionalT) String() string {
	if o == nil || !o.set {
		return ""
	}
	return strconv.FormatInt(o.t, 10)
}

func (o *optionalT) Set(s string) error {
	t, err := strconv.ParseInt(s, 10, 64)
	if err != nil || t < 0 {
		return fmt.Errorf("want a t (an integer >= 0), not %q", s)
	}
	o.t, o.set = t, true
	return nil
}

// parseSegmentFlag parses "START-END".
func parseSegmentFlag(s string) (dcbackup.SegmentInfo, error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return dcbackup.SegmentInfo{}, fmt.Errorf("%q: want START-END", s)
	}
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(b, 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return dcbackup.SegmentInfo{}, fmt.Errorf("%q: want START-END: %w", s, err)
	}
	info := dcbackup.SegmentInfo{StartT: start, EndT: end}
	return info, dcbackup.ValidateSegmentRange(info)
}

// findSegment returns the segment starting at t, or else the one that
// contains t and reaches furthest.
func findSegment(ctx context.Context, h *storeHandle, db string, t int64) (dcbackup.SegmentInfo, error) {
	segs, err := h.List(ctx, db, 0)
	if err != nil {
		return dcbackup.SegmentInfo{}, err
	}
	if len(segs) == 0 {
		return dcbackup.SegmentInfo{}, noSegments(db, h.where)
	}
	var best dcbackup.SegmentInfo
	found := false
	for _, s := range segs {
		switch {
		case s.StartT == t:
			return s, nil
		case s.StartT < t && t < s.EndT && (!found || s.EndT > best.EndT):
			best, found = s, true
		}
	}
	if !found {
		return best, fmt.Errorf("no segment of database %q in %s contains t %d: %w", db, h.where, t, dcbackup.ErrSegmentNotFound)
	}
	return best, nil
}

// namer resolves entity ids to idents with what a segment knows: its
// attribute dictionary, its bootstrap idents, and the :db/ident datoms it
// asserts itself (enums installed in its range).
type namer struct {
	seg    *dcbackup.Segment
	logged map[int64]datomic.Keyword
}

func newNamer(seg *dcbackup.Segment) namer {
	n := namer{seg: seg, logged: map[int64]datomic.Keyword{}}
	identAttr := int64(-1)
	for id, a := range seg.Attrs {
		if a.Ident == "db/ident" {
			identAttr = id
		}
	}
	for _, tx := range seg.Txs {
		for _, d := range tx.Datoms {
			if k, ok := d.V.(datomic.Keyword); ok && d.A == identAttr && d.Added {
				n.logged[d.E] = k
			}
		}
	}
	return n
}

func (n namer) ident(id int64) string {
	if a, ok := n.seg.Attrs[id]; ok && a.Ident != "" {
		return a.Ident.String()
	}
	if k, ok := n.seg.Idents[id]; ok {
		return k.String()
	}
	if k, ok := n.logged[id]; ok {
		return k.String()
	}
	return ""
}

func dumpDatoms(w io.Writer, seg *dcbackup.Segment) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	n := newNamer(seg)
	for _, tx := range seg.Txs {
		for _, d := range tx.Datoms {
			attr := seg.Attrs[d.A]
			line := datomLine{T: tx.T, E: d.E, EIdent: n.ident(d.E), A: n.ident(d.A), V: jsonValue(d.V), Added: d.Added}
			if line.A == "" {
				line.A = strconv.FormatInt(d.A, 10)
			}
			if ref, ok := d.V.(int64); ok && attr.ValueType == datomic.TypeRef {
				line.VIdent = n.ident(ref)
			}
			if err := enc.Encode(line); err != nil {
				return err
			}
		}
	}
	return nil
}

func dumpAttrs(w io.Writer, seg *dcbackup.Segment) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	ids := make([]int64, 0, len(seg.Attrs))
	for id := range seg.Attrs {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		if err := enc.Encode(toAttrLine(seg.Attrs[id])); err != nil {
			return err
		}
	}
	ids = ids[:0]
	for id := range seg.Idents {
		if _, isAttr := seg.Attrs[id]; !isAttr {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		if err := enc.Encode(identLine{ID: id, Ident: seg.Idents[id].String()}); err != nil {
			return err
		}
	}
	return nil
}

func toAttrLine(a datomic.Attribute) attrLine {
	l := attrLine{
		ID: a.ID, Ident: a.Ident.String(), ValueType: a.ValueType.String(),
		IsComponent: a.IsComponent, NoHistory: a.NoHistory, Index: a.Index, Fulltext: a.Fulltext,
	}
	if a.Cardinality != 0 {
		l.Cardinality = a.Cardinality.Ident().String()
	}
	if u := a.Unique.Ident(); u != "" {
		l.Unique = u.String()
	}
	for _, k := range a.TupleAttrs {
		l.TupleAttrs = append(l.TupleAttrs, k.String())
	}
	if a.TupleType != datomic.TypeInvalid {
		l.TupleType = a.TupleType.String()
	}
	for _, t := range a.TupleTypes {
		l.TupleTypes = append(l.TupleTypes, t.String())
	}
	return l
}

// loadSegment loads and decodes one segment.
func loadSegment(ctx context.Context, store dcbackup.BackupStore, db string, info dcbackup.SegmentInfo, opts dcbackup.DecodeOptions) (*dcbackup.Segment, error) {
	data, err := store.Load(ctx, db, info)
	if err != nil {
		return nil, err
	}
	return dcbackup.DecodeSegment(data, info, opts)
}
