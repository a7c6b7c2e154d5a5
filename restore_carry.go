package dcbackup

import (
	"context"
	"errors"
	"fmt"

	"github.com/dcbackup/dcbackup/datomic"
)

// FunctionPolicy says what a restore does with what the target's
// transactor would run during and after the replay: stored functions
// (:db.type/fn values such as :db/fn), attribute predicates
// (:db.attr/preds) and entity specs (:db.entity/attrs, :db.entity/preds).
type FunctionPolicy int

const (
	// FunctionsRefuse refuses a backup that holds any, naming the
	// attribute and t, before anything is applied (the default).
	FunctionsRefuse FunctionPolicy = iota
	// FunctionsElide leaves those datoms out of the target.
	FunctionsElide
	// FunctionsKeep restores them as they are: the target must be a
	// Datomic Pro whose transactor has the predicates' code on its
	// classpath.
	FunctionsKeep
)

// ErrCannotRestore: the backup holds something the target cannot hold or
// would run, and the restore options do not say to leave it out. Nothing
// was applied. A *CannotRestoreError names the attribute and t.
var ErrCannotRestore = errors.New("the target cannot restore the backup identically")

// CannotRestoreError names the first datom a restore cannot carry into its
// target. It matches ErrCannotRestore.
type CannotRestoreError struct {
	DB string
	// T is the source transaction, Attr the attribute of the datom.
	T    int64
	Attr datomic.Keyword
	// Why says what the target refuses, and Hint what the caller can do.
	Why, Hint string
	// Applied counts the transactions the call applied before it found
	// this one (0: the refusal came before anything was applied, as it
	// does but for segments whose header says nothing, of format 1).
	Applied int
}

// Error implements error.
func (e *CannotRestoreError) Error() string {
	applied := "nothing was applied"
	if e.Applied > 0 {
		applied = fmt.Sprintf("the %d transactions before it were applied, nothing of it", e.Applied)
	}
	return fmt.Sprintf("dcbackup: restore %q: source t %d, attribute %s: %s; %s; %s", e.DB, e.T, e.Attr, e.Why, applied, e.Hint)
}

// Is makes a CannotRestoreError match ErrCannotRestore.
func (e *CannotRestoreError) Is(target error) bool { return target == ErrCannotRestore }

// Idents of the attributes a replay cannot always carry.
const (
	fulltextAttr       datomic.Keyword = "db/fulltext"
	attrPredsAttr      datomic.Keyword = "db.attr/preds"
	entityAttrsAttr    datomic.Keyword = "db.entity/attrs"
	entityPredsAttr    datomic.Keyword = "db.entity/preds"
	installPartAttr    datomic.Keyword = "db.install/partition"
	exciseAttrsAttr    datomic.Keyword = "db.excise/attrs"
	exciseBeforeTAttr  datomic.Keyword = "db.excise/beforeT"
	exciseBeforeAttr   datomic.Keyword = "db.excise/before"
	elideOrRewriteHint                 = "elide these datoms (RestoreOptions.Filter) or rewrite their values (RestoreOptions.Rewrite)"
)

// runsOnTarget reports whether datoms of attribute a hold what the target's
// transactor would run.
func runsOnTarget(a datomic.Attribute) bool {
	switch a.Ident {
	case attrPredsAttr, entityAttrsAttr, entityPredsAttr:
		return true
	}
	return a.ValueType == datomic.TypeFn
}

// relevantFeatures are the segment features that the target's limits or
// the function policy may refuse.
func (r *restorer) relevantFeatures() Features {
	var f Features
	l := r.limits
	if l.NoBytes {
		f |= FeatureBytes
	}
	if l.NoFulltext {
		f |= FeatureFulltext
	}
	if l.NoExcision {
		f |= FeatureExcision
	}
	if r.opts.Functions == FunctionsRefuse || l.NoFunctions && r.opts.Functions == FunctionsKeep {
		f |= FeatureFunctions | FeatureAttrPredicates | FeatureEntitySpecs
	}
	return f
}

// mayRefuse reports whether a segment with header h may hold something the
// restore cannot carry (a version 1 segment says nothing: it may), or
// whose Filter must be checked against an attribute renamed since the
// target's last restore (checkRenamedSince).
func (r *restorer) mayRefuse(h SegmentHeader) bool {
	if h.Version < 2 || len(r.formerIdents) > 0 && r.opts.Filter != nil || len(r.absentRenamed) > 0 {
		return true // or the Filter must be asked about a renamed attribute
	}
	l := r.limits
	if len(r.opts.Rewrite) > 0 && (l.NoBytes || l.MaxStringLen > 0 || l.MaxTupleStringLen > 0) {
		return true // a rewrite may make what the header does not show
	}
	return h.Features&r.relevantFeatures() != 0 ||
		l.MaxStringLen > 0 && h.MaxStringLen > l.MaxStringLen ||
		l.MaxTupleStringLen > 0 && h.MaxTupleStringLen > l.MaxTupleStringLen
}

// checkCarry returns a *CannotRestoreError for the first datom of seg, from
// source t from on, that the restore cannot carry into its target: after
// the filter and the rewrites, as the restore would send it.
func (r *restorer) checkCarry(seg *Segment, from int64) error {
	if seg.Version >= 2 && !r.mayRefuse(seg.Header) {
		return nil
	}
	so := r.opsFor(seg)
	for _, tx := range seg.Txs {
		if tx.T < from {
			continue
		}
		if r.stopsBefore(seg, tx) {
			return nil
		}
		if r.absentRenamed != nil {
			if err := r.checkInstalled(seg, tx); err != nil {
				return err
			}
		}
		skip := so.txSkip(tx)
		for i := range tx.Datoms {
			d := &tx.Datoms[i]
			oa := so.attrs[d.A]
			if oa == nil || oa.drop || oa.elide || skip[d.E] {
				continue
			}
			if v, ok := d.V.(int64); ok && oa.ref && skip[v] {
				continue
			}
			if r.opts.Filter != nil && !(oa.instant && d.E == tx.ID()) {
				keep, err := r.filter(*d, oa)
				if err != nil {
					return err
				}
				if !keep {
					continue
				}
			}
			v := d.V
			if oa.rewrite != nil {
				nv, err := oa.rewrite(v)
				if err != nil {
					return fmt.Errorf("%w %s of %s: %w", errOptionFunc, oa.named.Ident, *d, err)
				}
				v = nv
			}
			if why, hint := r.refuses(seg, oa.attr, v); why != "" {
				return &CannotRestoreError{DB: r.db, T: tx.T, Attr: oa.named.Ident, Why: why, Hint: hint}
			}
		}
	}
	return nil
}

// refuses says why the target refuses value v of attribute a ("" when it
// does not).
func (r *restorer) refuses(seg *Segment, a datomic.Attribute, v any) (why, hint string) {
	l := r.limits
	product := l.Product
	if product == "" {
		product = "the target"
	}
	switch {
	case runsOnTarget(a) && r.opts.Functions == FunctionsRefuse:
		return fmt.Sprintf("%s would run %s during or after the replay", product, datomic.FormatValue(v)),
			"set RestoreOptions.Functions to FunctionsElide to leave it out, or to FunctionsKeep if the target's transactor has its code"
	case runsOnTarget(a) && l.NoFunctions:
		return fmt.Sprintf("%s has no stored functions, attribute predicates or entity specs", product),
			"set RestoreOptions.Functions to FunctionsElide to leave them out"
	case l.NoFulltext && a.Ident == fulltextAttr && v == true:
		return fmt.Sprintf("%s has no fulltext attributes", product), "leave the :db/fulltext datom out (RestoreOptions.Filter)"
	case l.NoExcision && isExcision(a.Ident):
		return fmt.Sprintf("%s has no excision", product), "elide the excision's datoms (RestoreOptions.Filter)"
	case a.Ident == valueTypeAttr:
		id, _ := v.(int64)
		switch vt := seg.Idents[id]; {
		case vt == "db.type/bytes" && l.NoBytes, vt == "db.type/fn" && l.NoFunctions:
			return fmt.Sprintf("it installs an attribute of type %s, which %s does not have", vt, product),
				"leave the attribute out (RestoreOptions.ElideAttributes)"
		}
	}
	switch x := v.(type) {
	case []byte:
		if l.NoBytes {
			return fmt.Sprintf("%s has no :db.type/bytes values", product), elideOrRewriteHint
		}
	case string:
		if n := utf16Len(x); l.MaxStringLen > 0 && n > l.MaxStringLen {
			return fmt.Sprintf("a string of %d characters, and %s takes at most %d", n, product, l.MaxStringLen), elideOrRewriteHint
		}
	case datomic.Tuple:
		for _, e := range x {
			switch e := e.(type) {
			case []byte:
				if l.NoBytes {
					return fmt.Sprintf("%s has no :db.type/bytes values", product), elideOrRewriteHint
				}
			case string:
				if n := utf16Len(e); l.MaxTupleStringLen > 0 && n > l.MaxTupleStringLen {
					return fmt.Sprintf("a string of %d characters in a tuple, and %s takes at most %d there", n, product, l.MaxTupleStringLen), elideOrRewriteHint
				}
			}
		}
	}
	return "", ""
}

func isExcision(kw datomic.Keyword) bool {
	return kw == exciseAttr || kw.Namespace() == "db.excise"
}

// preflightCarry checks, before anything is applied, every segment of the
// chain whose header says it may hold what the target cannot carry.
func (r *restorer) preflightCarry(ctx context.Context, chain []SegmentInfo, heads map[SegmentInfo]SegmentHeader) error {
	var flagged []SegmentInfo
	for _, info := range chain {
		if h, ok := heads[info]; ok && r.mayRefuse(h) {
			flagged = append(flagged, info)
		}
	}
	if len(flagged) == 0 {
		return nil
	}
	dec, err := NewSegmentDecoder(r.opts.Decode)
	if err != nil {
		return err
	}
	defer dec.Close()
	r.installed = map[int64]bool{}
	from := r.pos
	for _, info := range flagged {
		seg, err := r.loadWith(ctx, dec, info)
		if errors.Is(err, ErrSegmentNotFound) {
			continue // vanished: checked when applied
		}
		if err != nil {
			return err
		}
		err = r.checkCarry(seg, from)
		r.ops = nil
		if err != nil {
			return err
		}
	}
	return nil
}
