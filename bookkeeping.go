package dcbackup

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dcbackup/dcbackup/datomic"
)

// The attributes a restore adds to its target.
const (
	// OriginalIDAttr holds, on every entity a restore created, the entity
	// id it had in the source (unique, so indexed).
	OriginalIDAttr datomic.Keyword = "dcbackup/original-id"
	// LastSourceTAttr holds, on its own attribute entity, the t of the last
	// source transaction restored. It is not kept in history. Every
	// restored transaction changes it with a compare-and-swap, so a restore
	// that resumes after a crash applies each source transaction exactly
	// once.
	LastSourceTAttr datomic.Keyword = "dcbackup/last-source-t"
	// SourceLineageAttr holds, on the LastSourceTAttr entity, the lineage
	// fingerprint (hex) of the source database the target was restored
	// from: a restore from another database's store is refused.
	SourceLineageAttr datomic.Keyword = "dcbackup/source-lineage"
	// SourceLinkAttr holds, on the LastSourceTAttr entity, the t and
	// digest ("<t> <hex>") of a restored source transaction: the last one
	// restored from a segment, written with it. A restore from a store
	// whose history diverged from the target's is refused. It is not kept
	// in history.
	SourceLinkAttr datomic.Keyword = "dcbackup/source-link"
	// PendingIDsAttr holds, on the LastSourceTAttr entity, the original
	// ids that a restored excision removes with the entities it excises
	// ("<target id>:<source id>" pairs), until the restore has asserted
	// them again: later transactions still refer to those entities. It is
	// not kept in history.
	PendingIDsAttr datomic.Keyword = "dcbackup/pending-original-ids"
	// AttributeNamesAttr holds, on the LastSourceTAttr entity, the idents
	// by which the last restore that named attributes in its options
	// (Filter, Rewrite, ElideAttributes) knew the attributes renamed in the
	// source, one "<source id>=<ident>" value per attribute (cardinality
	// many: each value stays short): a later restore whose options would
	// treat one of them differently under its new ident is refused. A
	// restore without such options clears it. It is not kept in history.
	AttributeNamesAttr datomic.Keyword = "dcbackup/attribute-names"
)

// bookkeepingAttrs are the restore's attributes, in the order setUpTarget
// installs them.
var bookkeepingAttrs = [...]datomic.Keyword{OriginalIDAttr, LastSourceTAttr, SourceLineageAttr, SourceLinkAttr, PendingIDsAttr, AttributeNamesAttr}

func isBookkeeping(kw datomic.Keyword) bool {
	for _, b := range bookkeepingAttrs {
		if kw == b {
			return true
		}
	}
	return false
}

// targetState is what a restore knows about its target when it starts.
type targetState struct {
	origAttr, markerAttr, lineageAttr, linkAttr, pendingAttr, namesAttr int64
	// lastT is the last source t restored, -1 when none.
	lastT int64
	// lineage and link are the recorded lineage fingerprint and source
	// link ("" when not recorded: a target of an older restore, or of a
	// version 1 store).
	lineage, link string
	// pending are original ids to assert again (PendingIDsAttr).
	pending string
	// names are the recorded attribute names (AttributeNamesAttr).
	names []string
	// setUp reports that the bookkeeping attributes exist; complete that
	// all of them do.
	setUp, complete bool
}

// bookkeepingIDs returns the target ids of the bookkeeping attributes it
// has.
func bookkeepingIDs(ctx context.Context, db datomic.DB) (ids [len(bookkeepingAttrs)]int64, have [len(bookkeepingAttrs)]bool, err error) {
	for i, kw := range bookkeepingAttrs {
		if ids[i], have[i], err = db.Entid(ctx, kw); err != nil {
			return ids, have, fmt.Errorf("read target schema: %w", err)
		}
	}
	return ids, have, nil
}

// readTargetState inspects the target: a fresh target must hold no data; a
// target a restore already wrote to must not have been written to since.
func readTargetState(ctx context.Context, target datomic.Conn) (targetState, error) {
	st := targetState{lastT: -1}
	db, err := target.DB(ctx)
	if err != nil {
		return st, fmt.Errorf("read target database: %w", err)
	}
	ids, have, err := bookkeepingIDs(ctx, db)
	if err != nil {
		return st, err
	}
	switch {
	case !have[0] && !have[1]:
		return st, checkTargetEmpty(ctx, target)
	case have[0] != have[1]:
		return st, fmt.Errorf("%w: it has only one of %s and %s", ErrTargetModified, OriginalIDAttr, LastSourceTAttr)
	}
	st.origAttr, st.markerAttr, st.lineageAttr, st.linkAttr, st.pendingAttr, st.namesAttr = ids[0], ids[1], ids[2], ids[3], ids[4], ids[5]
	st.setUp, st.complete = true, have[2] && have[3] && have[4] && have[5]
	marker := st.markerAttr
	// The transaction that last wrote the marker (or, before the first
	// restored transaction, installed it).
	lastTx := int64(-1)
	for d, err := range db.Datoms(ctx, datomic.EAVT, marker) {
		if err != nil {
			return st, fmt.Errorf("read restore marker: %w", err)
		}
		switch {
		case d.A == marker:
			v, ok := d.V.(int64)
			if !ok {
				return st, fmt.Errorf("%w: restore marker holds %T", ErrTargetModified, d.V)
			}
			st.lastT, lastTx = v, d.Tx
		case st.complete && d.A == st.lineageAttr:
			st.lineage, _ = d.V.(string)
		case st.complete && d.A == st.linkAttr:
			st.link, _ = d.V.(string)
		case st.complete && d.A == st.pendingAttr:
			st.pending, _ = d.V.(string)
		case st.complete && d.A == st.namesAttr:
			if v, ok := d.V.(string); ok {
				st.names = append(st.names, v)
			}
		}
	}
	if lastTx < 0 {
		for d, err := range db.Datoms(ctx, datomic.EAVT, marker, identAttr) {
			if err != nil {
				return st, fmt.Errorf("read restore marker: %w", err)
			}
			lastTx = d.Tx
		}
	}
	// Every transaction since is the restore's own bookkeeping.
	if basis := db.BasisT(); datomic.ToT(lastTx) != basis {
		if err := checkOnlyBookkeeping(ctx, target, st, datomic.ToT(lastTx)+1); err != nil {
			return st, fmt.Errorf("%w: %w; restore into a fresh database", ErrTargetModified, err)
		}
	}
	return st, nil
}

// checkOnlyBookkeeping fails unless every target transaction from t on
// is one of the restore's own: it touches only the bookkeeping attributes
// (a schema upgrade) or only gives entities their original id (entities
// created for tuples to refer to).
func checkOnlyBookkeeping(ctx context.Context, target datomic.Conn, st targetState, t int64) error {
	db, err := target.DB(ctx)
	if err != nil {
		return fmt.Errorf("read target database: %w", err)
	}
	instant, _, err := db.Entid(ctx, txInstantAttr)
	if err != nil {
		return fmt.Errorf("read target schema: %w", err)
	}
	own := ownTxRule{attrs: map[int64]bool{st.origAttr: true, st.markerAttr: true, st.lineageAttr: true, st.linkAttr: true, st.pendingAttr: true, st.namesAttr: true},
		origAttr: st.origAttr, linkAttr: st.linkAttr, instant: instant}
	for tx, err := range target.TxRange(ctx, t, 0) {
		if err != nil {
			return fmt.Errorf("read target log: %w", err)
		}
		if d, ok := own.foreign(tx); ok {
			return fmt.Errorf("the target's transaction t %d, after the last restored one, asserted %s", tx.T, d)
		}
	}
	return nil
}

// ownTxRule tells the restore's own transactions, which restore no source
// transaction, from anyone else's: the transaction installing the
// bookkeeping attributes (every datom on one of them, or installing one),
// and those that create entities for tuples to refer to or give excised
// entities their original ids again (tagged with SourceLinkAttr on the
// transaction entity, and asserting only original ids).
type ownTxRule struct {
	// attrs are the bookkeeping attributes' ids.
	attrs                       map[int64]bool
	origAttr, linkAttr, instant int64
}

// foreign returns a datom of tx that no transaction of the restore's own
// asserts; ok is false when tx is one of the restore's own.
func (o ownTxRule) foreign(tx datomic.Tx) (datomic.Datom, bool) {
	tagged := false
	for _, d := range tx.Datoms {
		if d.E == d.Tx && d.A == o.linkAttr && d.Added {
			tagged = true
		}
	}
	ours := tagged
	var instant datomic.Datom
	for _, d := range tx.Datoms {
		v, isID := d.V.(int64)
		switch {
		case o.attrs[d.E]:
			ours = true
		case d.E == datomic.PartDB && isID && o.attrs[v]: // [:db.part/db :db.install/attribute a]
			ours = true
		case d.E == d.Tx && d.A == o.instant:
			instant = d
		case d.E == d.Tx && d.A == o.linkAttr && tagged:
		case tagged && d.A == o.origAttr && d.Added:
		default:
			return d, true
		}
	}
	if !ours {
		// Nothing but its instant: an empty transaction, which the
		// restore never writes of its own.
		return instant, true
	}
	return datomic.Datom{}, false
}

// checkTargetEmpty fails unless the target's log holds nothing but
// transaction instants, after the database's own bootstrap transactions
// (Datomic Cloud logs them).
func checkTargetEmpty(ctx context.Context, target datomic.Conn) error {
	boot, err := bootstrapTxs(ctx, target)
	if err != nil {
		return err
	}
	n := 0
	for tx, err := range target.TxRange(ctx, 0, 0) {
		if err != nil {
			return fmt.Errorf("read target log: %w", err)
		}
		if n++; n <= boot {
			continue
		}
		for _, d := range tx.Datoms {
			if d.E != d.Tx {
				return fmt.Errorf("%w: transaction t %d asserted %s; restore into a fresh database", ErrTargetNotEmpty, tx.T, d)
			}
		}
	}
	return nil
}

// bookkeepingSchema returns the entity maps installing the bookkeeping
// attributes named in which.
func bookkeepingSchema(which ...datomic.Keyword) []datomic.Op {
	defs := map[datomic.Keyword]datomic.EntityMap{
		OriginalIDAttr: {
			"db/ident":       OriginalIDAttr,
			"db/valueType":   datomic.Keyword("db.type/long"),
			"db/cardinality": datomic.Keyword("db.cardinality/one"),
			"db/unique":      datomic.Keyword("db.unique/value"),
			"db/doc":         "Entity id in the source database this entity was restored from (dcbackup).",
		},
		LastSourceTAttr: {
			"db/ident":       LastSourceTAttr,
			"db/valueType":   datomic.Keyword("db.type/long"),
			"db/cardinality": datomic.Keyword("db.cardinality/one"),
			"db/noHistory":   true,
			"db/doc":         "Basis t of the last source transaction restored into this database (dcbackup).",
		},
		SourceLineageAttr: {
			"db/ident":       SourceLineageAttr,
			"db/valueType":   datomic.Keyword("db.type/string"),
			"db/cardinality": datomic.Keyword("db.cardinality/one"),
			"db/doc":         "Lineage fingerprint of the source database this database was restored from (dcbackup).",
		},
		PendingIDsAttr: {
			"db/ident":       PendingIDsAttr,
			"db/valueType":   datomic.Keyword("db.type/string"),
			"db/cardinality": datomic.Keyword("db.cardinality/one"),
			"db/noHistory":   true,
			"db/doc":         "Original ids an excision removed, to assert again (dcbackup).",
		},
		AttributeNamesAttr: {
			"db/ident":       AttributeNamesAttr,
			"db/valueType":   datomic.Keyword("db.type/string"),
			"db/cardinality": datomic.Keyword("db.cardinality/many"),
			"db/noHistory":   true,
			"db/doc":         "Idents by which the restore's options knew renamed source attributes (dcbackup).",
		},
		SourceLinkAttr: {
			"db/ident":       SourceLinkAttr,
			"db/valueType":   datomic.Keyword("db.type/string"),
			"db/cardinality": datomic.Keyword("db.cardinality/one"),
			"db/noHistory":   true,
			"db/doc":         "t and digest of a source transaction restored into this database (dcbackup).",
		},
	}
	ops := make([]datomic.Op, 0, len(which))
	for _, kw := range which {
		ops = append(ops, defs[kw])
	}
	return ops
}

// setUpTarget installs the bookkeeping attributes the target lacks, in one
// transaction dated at instant: a fresh target's is the first source
// transaction's instant, so that every restored transaction may carry its
// original, never earlier, instant; an older restore's target gets the
// instant of its latest transaction.
func setUpTarget(ctx context.Context, target datomic.Conn, st targetState, instant time.Time) (targetState, error) {
	var missing []datomic.Keyword
	db, err := target.DB(ctx)
	if err != nil {
		return st, fmt.Errorf("read target database: %w", err)
	}
	_, have, err := bookkeepingIDs(ctx, db)
	if err != nil {
		return st, err
	}
	for i, kw := range bookkeepingAttrs {
		if !have[i] {
			missing = append(missing, kw)
		}
	}
	if len(missing) > 0 {
		ops := append(bookkeepingSchema(missing...), datomic.EntityMap{datomic.DBID: datomic.TxTempID, "db/txInstant": instant})
		if _, err := target.Transact(ctx, ops); err != nil {
			return st, fmt.Errorf("install restore bookkeeping attributes: %w", err)
		}
		if db, err = target.DB(ctx); err != nil {
			return st, fmt.Errorf("read target database: %w", err)
		}
	}
	ids, have, err := bookkeepingIDs(ctx, db)
	if err != nil {
		return st, err
	}
	for i, kw := range bookkeepingAttrs {
		if !have[i] {
			return st, fmt.Errorf("bookkeeping attribute %s missing after install", kw)
		}
	}
	st.origAttr, st.markerAttr, st.lineageAttr, st.linkAttr, st.pendingAttr, st.namesAttr = ids[0], ids[1], ids[2], ids[3], ids[4], ids[5]
	st.setUp, st.complete = true, true
	return st, nil
}

// latestInstant returns the :db/txInstant of the target's latest
// transaction.
func latestInstant(ctx context.Context, target datomic.Conn) (time.Time, error) {
	db, err := target.DB(ctx)
	if err != nil {
		return time.Time{}, fmt.Errorf("read target database: %w", err)
	}
	basis := db.BasisT()
	instAttr, ok, err := db.Entid(ctx, txInstantAttr)
	if err != nil || !ok {
		return time.Time{}, errors.Join(errors.New("read target schema: no :db/txInstant"), err)
	}
	for d, err := range db.Datoms(ctx, datomic.EAVT, datomic.TxID(basis), instAttr) {
		if err != nil {
			return time.Time{}, fmt.Errorf("read target's latest instant: %w", err)
		}
		if t, ok := d.V.(time.Time); ok {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("the target's latest transaction, t %d, has no :db/txInstant", basis)
}

// bootstrapTxs returns how many transactions at the start of conn's log
// its database wrote itself (datomic.Limits.BootstrapTxs).
func bootstrapTxs(ctx context.Context, conn datomic.Conn) (int, error) {
	lc, ok := conn.(datomic.Limited)
	if !ok {
		return 0, nil
	}
	l, err := lc.Limits(ctx)
	if err != nil {
		return 0, fmt.Errorf("read limits: %w", err)
	}
	return l.BootstrapTxs, nil
}
