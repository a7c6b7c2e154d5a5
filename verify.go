package dcbackup

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"strings"

	"github.com/dcbackup/dcbackup/datomic"
)

// VerifyOptions configures Verify. The zero value is ready to use.
type VerifyOptions struct {
	// MaxDifferences stops the comparison after this many differences
	// (default 20).
	MaxDifferences int
	// CacheSize bounds the target-to-source id cache (default 1<<20).
	CacheSize int
	// IgnorePartitions skips the check that every restored entity is in
	// the partition it has in the source (for restores made with
	// RestoreOptions.IgnorePartitions).
	IgnorePartitions bool
	// Filter and Rewrite are the restore's (RestoreOptions): Verify then
	// expects what they made of the source, so that a filtered or
	// rewritten restore verifies.
	Filter          func(d datomic.Datom, attr datomic.Attribute) bool
	Rewrite         map[datomic.Keyword]func(v any) (any, error)
	ElideAttributes []datomic.Keyword
}

// Difference is one way in which a restored target differs from its source.
type Difference struct {
	// SourceT is the source transaction concerned (-1 if none).
	SourceT int64
	// TargetT is the target transaction concerned (-1 if none).
	TargetT int64
	// What describes the difference; datoms are written with source ids.
	What string
}

// String formats d for a report.
func (d Difference) String() string {
	return fmt.Sprintf("source t %d / target t %d: %s", d.SourceT, d.TargetT, d.What)
}

// VerifyReport is the outcome of Verify.
type VerifyReport struct {
	// Transactions and Datoms count what was compared.
	Transactions int
	Datoms       int
	// LastT is the last source t compared.
	LastT int64
	// Differences lists the first differences found.
	Differences []Difference
}

// OK reports that no difference was found.
func (r VerifyReport) OK() bool { return len(r.Differences) == 0 }

// Verify compares a source database with a target restored from it, modulo
// the id map: every source transaction up to the last one restored must
// appear in the target, in order, with the same datoms (assertions and
// retractions, transaction instants and annotations included, composite
// tuples included as the target maintains them), and the target must hold
// no transaction a restore did not write. Ids are compared through the
// target's original-id attribute and, for bootstrap entities, by ident.
// Memory is bounded by one transaction and the id cache.
func Verify(ctx context.Context, source, target datomic.Conn, opts *VerifyOptions) (VerifyReport, error) {
	if opts == nil {
		opts = &VerifyOptions{}
	}
	maxDiff := opts.MaxDifferences
	if maxDiff <= 0 {
		maxDiff = 20
	}
	rep := VerifyReport{LastT: -1}
	if source == nil || target == nil {
		return rep, errors.New("dcbackup: verify: nil source or target connection")
	}
	v, err := newVerifier(ctx, source, target, opts.CacheSize, opts.ElideAttributes)
	if v != nil {
		v.noPartitions = hasNoPartitions(ctx, target)
		// A source without partitions chose its entities' partitions
		// itself; the restore left the target to place them.
		v.checkPartitions = !opts.IgnorePartitions && !v.noPartitions && !hasNoPartitions(ctx, source)
		v.filter, v.rewrite = opts.Filter, opts.Rewrite
	}
	if err != nil {
		return rep, err
	}
	if v == nil {
		rep.Differences = append(rep.Differences, Difference{SourceT: -1, TargetT: -1, What: "the target was never restored into (no " + OriginalIDAttr.String() + " attribute)"})
		return rep, nil
	}
	diff := func(d Difference) bool {
		rep.Differences = append(rep.Differences, d)
		return len(rep.Differences) >= maxDiff
	}
	srcBoot, err := bootstrapTxs(ctx, source)
	if err != nil {
		return rep, fmt.Errorf("dcbackup: verify: source: %w", err)
	}
	tgtBoot, err := bootstrapTxs(ctx, target)
	if err != nil {
		return rep, fmt.Errorf("dcbackup: verify: target: %w", err)
	}
	nextSrc, stopSrc := iter.Pull2(source.TxRange(ctx, 0, 0))
	defer stopSrc()
	// The databases' own bootstrap transactions are neither restored nor
	// compared.
	for range srcBoot {
		if _, err, ok := nextSrc(); !ok || err != nil {
			break
		}
	}
	n := 0
	for ttx, err := range target.TxRange(ctx, 0, 0) {
		if err != nil {
			return rep, fmt.Errorf("dcbackup: verify: read target log: %w", err)
		}
		if n++; n <= tgtBoot {
			continue
		}
		srcTx, restored, err := v.originOf(ctx, ttx)
		if err != nil {
			return rep, err
		}
		if !restored {
			if v.isSetup(ttx) {
				continue
			}
			if diff(Difference{SourceT: -1, TargetT: ttx.T, What: "target transaction was not written by a restore"}) {
				return rep, nil
			}
			continue
		}
		// Advance the source log to the transaction this one came from.
		var stx datomic.Tx
		for {
			tx, err, ok := nextSrc()
			if !ok {
				diff(Difference{SourceT: datomic.ToT(srcTx), TargetT: ttx.T, What: "target holds a transaction restored from a source t that the source log does not have"})
				return rep, nil
			}
			if err != nil {
				return rep, fmt.Errorf("dcbackup: verify: read source log: %w", err)
			}
			if tx.T == datomic.ToT(srcTx) {
				stx = tx
				break
			}
			if tx.T > datomic.ToT(srcTx) {
				diff(Difference{SourceT: datomic.ToT(srcTx), TargetT: ttx.T, What: "target transactions are out of source order"})
				return rep, nil
			}
			if diff(Difference{SourceT: tx.T, TargetT: -1, What: "source transaction missing from target"}) {
				return rep, nil
			}
		}
		rep.Transactions++
		rep.Datoms += len(stx.Datoms)
		rep.LastT = stx.T
		for _, what := range v.compareTx(ctx, stx, ttx) {
			if diff(Difference{SourceT: stx.T, TargetT: ttx.T, What: what}) {
				return rep, nil
			}
		}
		if v.err != nil {
			return rep, v.err
		}
	}
	return rep, nil
}

// verifier translates target datoms into source ids.
type verifier struct {
	srcConn, tgtConn datomic.Conn
	src, tgt         datomic.DB
	origAttr         int64
	// own holds the target's bookkeeping attributes; ownTx tells the
	// restore's own transactions.
	own                map[int64]bool
	ownTx              ownTxRule
	cache              *idCache[int64]
	srcAttrs, tgtAttrs map[int64]datomic.Attribute
	// srcLeftOut holds the source attributes a restore leaves out: its
	// own restore bookkeeping attributes, when the source was itself a
	// restore target, and those the restore was told to elide.
	srcLeftOut map[int64]bool
	// srcEmpty caches which source entities have no datoms.
	srcEmpty *idCache[bool]
	// checkPartitions compares the partitions of restored entities;
	// noPartitions says the target has none, so a restore left out
	// partition installations.
	checkPartitions, noPartitions bool
	// filter and rewrite are the restore's.
	filter  func(d datomic.Datom, attr datomic.Attribute) bool
	rewrite map[datomic.Keyword]func(v any) (any, error)
	err     error
}

func newVerifier(ctx context.Context, source, target datomic.Conn, cacheSize int, elide []datomic.Keyword) (*verifier, error) {
	sdb, err := source.DB(ctx)
	if err != nil {
		return nil, fmt.Errorf("dcbackup: verify: read source: %w", err)
	}
	tdb, err := target.DB(ctx)
	if err != nil {
		return nil, fmt.Errorf("dcbackup: verify: read target: %w", err)
	}
	ids, have, err := bookkeepingIDs(ctx, tdb)
	if err != nil || !have[0] {
		return nil, err
	}
	v := &verifier{srcConn: source, tgtConn: target, src: sdb, tgt: tdb, origAttr: ids[0], own: map[int64]bool{}, cache: newIDCache[int64](cacheSize),
		srcAttrs: map[int64]datomic.Attribute{}, tgtAttrs: map[int64]datomic.Attribute{}, srcLeftOut: map[int64]bool{}, srcEmpty: newIDCache[bool](cacheSize)}
	for i, id := range ids {
		if have[i] {
			v.own[id] = true
		}
	}
	instant, _, err := tdb.Entid(ctx, txInstantAttr)
	if err != nil {
		return nil, fmt.Errorf("dcbackup: verify: read target schema: %w", err)
	}
	v.ownTx = ownTxRule{attrs: v.own, origAttr: ids[0], linkAttr: ids[3], instant: instant}
	for _, kw := range append(bookkeepingAttrs[:], elide...) {
		id, ok, err := sdb.Entid(ctx, kw)
		if err != nil {
			return nil, fmt.Errorf("dcbackup: verify: read source schema: %w", err)
		}
		if ok {
			v.srcLeftOut[id] = true
		}
	}
	return v, nil
}

// originOf returns the source transaction id a target transaction was
// restored from.
func (v *verifier) originOf(ctx context.Context, ttx datomic.Tx) (int64, bool, error) {
	for _, d := range ttx.Datoms {
		if d.E == d.Tx && d.A == v.origAttr && d.Added {
			id, ok := d.V.(int64)
			return id, ok, nil
		}
	}
	return 0, false, nil
}

// isSetup reports whether ttx is one of the restore's own transactions,
// which restore no source transaction: every datom installs a bookkeeping
// attribute, gives an entity its original id (an entity created for
// tuples to refer to) or is the transaction's instant.
func (v *verifier) isSetup(ttx datomic.Tx) bool {
	_, foreign := v.ownTx.foreign(ttx)
	return !foreign
}

// compareTx compares one source transaction with its restored copy.
func (v *verifier) compareTx(ctx context.Context, stx, ttx datomic.Tx) []string {
	want := map[string]int{}
	// The keys of the rewritten datoms, without their added flag, to drop
	// what the restore drops: an assertion and a retraction of one datom.
	var rewritten [][2]string
	// rewrittenAdds are the rewritten assertions by key: the target may
	// already hold one, from another source value with the same rewrite.
	rewrittenAdds := map[string]datomic.Datom{}
	// retractions are the retracted datoms by key.
	retractions := map[string]datomic.Datom{}
	for _, d := range stx.Datoms {
		a := v.attr(ctx, v.src, v.srcAttrs, d.A)
		if v.srcLeftOut[d.A] || v.srcLeftOut[d.E] || v.noPartitions && a.Ident == installPartAttr {
			continue
		}
		if ref, ok := d.V.(int64); ok && a.IsRef() && v.srcLeftOut[ref] {
			continue
		}
		if v.filter != nil && !(d.E == stx.ID() && a.Ident == txInstantAttr) && !v.filter(d, a) {
			continue
		}
		val := v.srcValue(ctx, a, d.V)
		if f := v.rewrite[a.Ident]; f != nil {
			nv, err := f(val)
			if err != nil {
				v.fail(fmt.Errorf("rewrite %s of %s: %w", a.Ident, d, err))
				continue
			}
			val = nv
			k := datomKey(d.E, d.A, val, d.Added)
			rewritten = append(rewritten, [2]string{k, datomKey(d.E, d.A, val, !d.Added)})
			if d.Added {
				rd := d
				rd.V = val
				rewrittenAdds[k] = rd
			}
		}
		k := datomKey(d.E, d.A, val, d.Added)
		want[k]++
		if !d.Added {
			retractions[k] = d
			// An assertion and a retraction that compare equal (a
			// rewrite, a composite naming an excised entity) left the
			// target unchanged.
			rewritten = append(rewritten, [2]string{k, datomKey(d.E, d.A, val, true)})
		}
	}
	collapsePairs(want, rewritten)
	got := map[string]int{}
	var gotPairs [][2]string
	var misplaced []string
	lastE := int64(-1)
	for _, d := range ttx.Datoms {
		if v.own[d.A] {
			continue
		}
		a := v.attr(ctx, v.tgt, v.tgtAttrs, d.A)
		e := stx.ID()
		if d.E != ttx.ID() {
			e = v.toSource(ctx, d.E)
			if v.checkPartitions && d.E != lastE && e >= 0 {
				// A partition's index is its entity's id, so the target
				// partition maps back to the source one like any entity.
				if sp := v.toSource(ctx, datomic.Part(d.E)); sp != datomic.Part(e) {
					misplaced = append(misplaced, fmt.Sprintf("entity %d is in partition %d in the source, but its copy is in a partition restored from %d", e, datomic.Part(e), sp))
				}
			}
			lastE = d.E
		}
		val := d.V
		switch {
		case a.IsRef():
			if id, ok := val.(int64); ok {
				if id == ttx.ID() {
					val = stx.ID()
				} else {
					val = v.refToSource(ctx, id)
				}
			}
		case a.ValueType == datomic.TypeTuple:
			if t, ok := val.(datomic.Tuple); ok {
				types := v.tupleTypes(ctx, v.tgt, a)
				out := make(datomic.Tuple, len(t))
				for i, x := range t {
					if id, ok := x.(int64); ok && i < len(types) && types[i] == datomic.TypeRef {
						x = v.refToSource(ctx, id)
						if x == int64(dataless) && a.IsComposite() {
							// See compositeElem.
							x = nil
						}
					}
					out[i] = x
				}
				val = out
			}
		case a.Ident == exciseBeforeTAttr:
			val = v.boundToSource(ctx, v.tgtConn, val, true)
		}
		a2 := v.toSource(ctx, d.A)
		got[datomKey(e, a2, val, d.Added)]++
		if !d.Added {
			gotPairs = append(gotPairs, [2]string{datomKey(e, a2, val, false), datomKey(e, a2, val, true)})
		}
	}
	// Target datoms that compare equal once mapped to the source (two
	// entities without datoms in a composite) cancel out the same way.
	collapsePairs(got, gotPairs)
	out := misplaced
	for k, n := range want {
		if got[k] < n {
			if d, ok := rewrittenAdds[k]; ok && v.heldBefore(ctx, stx, d) {
				continue
			}
			if d, ok := retractions[k]; ok && !v.heldBefore(ctx, stx, d) {
				// The source retracts what its history no longer holds
				// (excised): the target had nothing to retract.
				continue
			}
			out = append(out, "missing from target: "+k)
		}
	}
	for k, n := range got {
		if want[k] < n {
			out = append(out, "extra in target: "+k)
		}
	}
	return out
}

// heldBefore reports whether, before stx, the source entity held a value
// of d's attribute that the rewrite maps to d's (rewritten) value: the
// target then holds it already, and the restored assertion was redundant.
func (v *verifier) heldBefore(ctx context.Context, stx datomic.Tx, d datomic.Datom) bool {
	a := v.attr(ctx, v.src, v.srcAttrs, d.A)
	f := v.rewrite[a.Ident]
	for old, err := range v.src.AsOf(stx.T-1).Datoms(ctx, datomic.EAVT, d.E, d.A) {
		if err != nil {
			v.fail(err)
			return false
		}
		ov := old.V
		if f != nil {
			var err error
			if ov, err = f(ov); err != nil {
				continue
			}
		}
		if datomic.ValuesEqual(ov, d.V) {
			return true
		}
	}
	return false
}

// collapsePairs drops from counts the datoms of each pair of keys (one
// datom, asserted and retracted) that are both present: the database holds
// the same after as before. A datom counted twice counts once.
func collapsePairs(counts map[string]int, pairs [][2]string) {
	for _, k := range pairs {
		switch n, m := counts[k[0]], counts[k[1]]; {
		case n > 0 && m > 0:
			delete(counts, k[0])
			delete(counts, k[1])
		case n > 1:
			counts[k[0]] = 1
		}
	}
}

func (v *verifier) attr(ctx context.Context, db datomic.DB, cache map[int64]datomic.Attribute, id int64) datomic.Attribute {
	if a, ok := cache[id]; ok {
		return a
	}
	a, _, err := db.Attribute(ctx, id)
	if err != nil && v.err == nil {
		v.err = fmt.Errorf("dcbackup: verify: read attribute %d: %w", id, err)
	}
	cache[id] = a
	return a
}

// tupleTypes returns the element types of a tuple attribute of db; those
// of a composite tuple are the value types of the attributes it names.
func (v *verifier) tupleTypes(ctx context.Context, db datomic.DB, a datomic.Attribute) []datomic.ValueType {
	if !a.IsComposite() {
		out := make([]datomic.ValueType, 0, max(len(a.TupleTypes), 8))
		for i := range cap(out) {
			out = append(out, a.TupleElemType(i))
		}
		return out
	}
	out := make([]datomic.ValueType, len(a.TupleAttrs))
	for i, kw := range a.TupleAttrs {
		ca, _, err := db.Attribute(ctx, kw)
		if err != nil {
			v.fail(err)
		}
		out[i] = ca.ValueType
	}
	return out
}

// dataless stands, in compared datoms, for an entity that has no datoms of
// its own (never given any, or excised), on either side: such entities
// carry nothing to compare, and an excision also removes the target's
// record of the source id.
const dataless = -2

// compositeElem: the target computes its composites from what it holds, so
// a composite element naming an entity without datoms (excised, or never
// given any) compares as missing (nil) on both sides: where the source
// kept an excised id in a composite, the target cannot.

// srcValue is the value of a source datom as compared: refs to entities
// without datoms are dataless, excision bounds normalised.
func (v *verifier) srcValue(ctx context.Context, a datomic.Attribute, val any) any {
	switch {
	case a.IsRef():
		if id, ok := val.(int64); ok && v.srcDataless(ctx, id) {
			return int64(dataless)
		}
	case a.ValueType == datomic.TypeTuple:
		t, ok := val.(datomic.Tuple)
		if !ok {
			return val
		}
		types := v.tupleTypes(ctx, v.src, a)
		var out datomic.Tuple
		for i, x := range t {
			if id, ok := x.(int64); ok && i < len(types) && types[i] == datomic.TypeRef && v.srcDataless(ctx, id) {
				if out == nil {
					out = slices.Clone(t)
				}
				out[i] = int64(dataless)
				if a.IsComposite() {
					// See compositeElem.
					out[i] = nil
				}
			}
		}
		if out != nil {
			return out
		}
	case a.Ident == exciseBeforeTAttr:
		return v.boundToSource(ctx, v.srcConn, val, false)
	}
	return val
}

// srcDataless reports whether source entity id has no datoms.
func (v *verifier) srcDataless(ctx context.Context, id int64) bool {
	if d, ok := v.srcEmpty.get(id); ok {
		return d
	}
	empty := true
	for _, err := range v.src.Datoms(ctx, datomic.EAVT, id) {
		if err != nil {
			v.fail(err)
		}
		empty = false
		break
	}
	v.srcEmpty.put(id, empty)
	return empty
}

// refToSource maps a target ref value to the source id it stands for, or
// dataless.
func (v *verifier) refToSource(ctx context.Context, id int64) int64 {
	src := v.toSource(ctx, id)
	if src >= 0 && v.srcDataless(ctx, src) {
		return dataless
	}
	if src < 0 {
		for d, err := range v.tgt.Datoms(ctx, datomic.EAVT, id) {
			if err != nil {
				v.fail(err)
			}
			if !v.own[d.A] {
				return src
			}
		}
		return dataless
	}
	return src
}

// boundToSource normalises an excision bound (:db.excise/beforeT) of
// conn's log (the target's when target) as the source t of the first
// transaction at or after it (-1: none).
func (v *verifier) boundToSource(ctx context.Context, conn datomic.Conn, val any, target bool) any {
	t, ok := val.(int64)
	if !ok {
		return val
	}
	for tx, err := range conn.TxRange(ctx, t, 0) {
		if err != nil {
			v.fail(err)
			return val
		}
		if !target {
			return tx.T
		}
		if src := v.toSource(ctx, tx.ID()); src >= 0 {
			return datomic.ToT(src)
		}
	}
	return int64(-1)
}

// toSource maps a target id to the source id it was restored from, or to
// the source id with the same bootstrap ident; -1 when there is none.
func (v *verifier) toSource(ctx context.Context, id int64) int64 {
	if s, ok := v.cache.get(id); ok {
		return s
	}
	src := int64(-1)
	for d, err := range v.tgt.Datoms(ctx, datomic.EAVT, id, v.origAttr) {
		if err != nil {
			v.fail(err)
			return -1
		}
		src = d.V.(int64)
	}
	if src < 0 {
		if kw, ok, err := v.tgt.Ident(ctx, id); err != nil {
			v.fail(err)
		} else if ok {
			if s, ok, err := v.src.Entid(ctx, kw); err != nil {
				v.fail(err)
			} else if ok {
				src = s
			}
		}
	}
	v.cache.put(id, src)
	return src
}

func (v *verifier) fail(err error) {
	if v.err == nil {
		v.err = fmt.Errorf("dcbackup: verify: %w", err)
	}
}

func datomKey(e, a int64, val any, added bool) string {
	var b strings.Builder
	b.WriteString("[")
	b.WriteString(strconv.FormatInt(e, 10))
	b.WriteByte(' ')
	b.WriteString(strconv.FormatInt(a, 10))
	b.WriteByte(' ')
	b.WriteString(datomic.FormatValue(val))
	b.WriteByte(' ')
	b.WriteString(strconv.FormatBool(added))
	b.WriteString("]")
	return b.String()
}

// hasNoPartitions reports whether conn's database places entities itself
// (Datomic Cloud): a restore into it keeps no partition, and a restore from
// it has none to keep.
func hasNoPartitions(ctx context.Context, conn datomic.Conn) bool {
	lc, ok := conn.(datomic.Limited)
	if !ok {
		return false
	}
	l, err := lc.Limits(ctx)
	return err == nil && l.NoPartitions
}
