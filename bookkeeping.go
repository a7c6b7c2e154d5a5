package dcbackup

import (
	"context"
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
)

func isBookkeeping(kw datomic.Keyword) bool {
	return kw == OriginalIDAttr || kw == LastSourceTAttr
}

// targetState is what a restore knows about its target when it starts.
type targetState struct {
	origAttr, markerAttr int64
	// lastT is the last source t restored, -1 when none.
	lastT int64
	// setUp reports that the bookkeeping attributes exist.
	setUp bool
}

// readTargetState inspects the target: a fresh target must hold no data; a
// target a restore already wrote to must not have been written to since.
func readTargetState(ctx context.Context, target datomic.Conn) (targetState, error) {
	st := targetState{lastT: -1}
	db, err := target.DB(ctx)
	if err != nil {
		return st, fmt.Errorf("read target database: %w", err)
	}
	orig, okOrig, err := db.Entid(ctx, OriginalIDAttr)
	if err != nil {
		return st, fmt.Errorf("read target schema: %w", err)
	}
	marker, okMarker, err := db.Entid(ctx, LastSourceTAttr)
	if err != nil {
		return st, fmt.Errorf("read target schema: %w", err)
	}
	switch {
	case !okOrig && !okMarker:
		return st, checkTargetEmpty(ctx, target)
	case okOrig != okMarker:
		return st, fmt.Errorf("%w: it has only one of %s and %s", ErrTargetModified, OriginalIDAttr, LastSourceTAttr)
	}
	st.origAttr, st.markerAttr, st.setUp = orig, marker, true
	// The transaction that last wrote the marker (or, before the first
	// restored transaction, installed it) must be the target's latest.
	lastTx := int64(-1)
	for d, err := range db.Datoms(ctx, datomic.EAVT, marker, marker) {
		if err != nil {
			return st, fmt.Errorf("read restore marker: %w", err)
		}
		v, ok := d.V.(int64)
		if !ok {
			return st, fmt.Errorf("%w: restore marker holds %T", ErrTargetModified, d.V)
		}
		st.lastT, lastTx = v, d.Tx
	}
	if lastTx < 0 {
		for d, err := range db.Datoms(ctx, datomic.EAVT, marker, identAttr) {
			if err != nil {
				return st, fmt.Errorf("read restore marker: %w", err)
			}
			lastTx = d.Tx
		}
	}
	if basis := db.BasisT(); datomic.ToT(lastTx) != basis {
		return st, fmt.Errorf("%w: its basis is t %d but the last restored transaction is t %d; restore into a fresh database", ErrTargetModified, basis, datomic.ToT(lastTx))
	}
	return st, nil
}

// checkTargetEmpty fails unless the target's log holds nothing but
// transaction instants.
func checkTargetEmpty(ctx context.Context, target datomic.Conn) error {
	for tx, err := range target.TxRange(ctx, 0, 0) {
		if err != nil {
			return fmt.Errorf("read target log: %w", err)
		}
		for _, d := range tx.Datoms {
			if d.E != d.Tx {
				return fmt.Errorf("%w: transaction t %d asserted %s; restore into a fresh database", ErrTargetNotEmpty, tx.T, d)
			}
		}
	}
	return nil
}

// setUpTarget installs the bookkeeping attributes in one transaction dated
// at instant, the first source transaction's, so that every restored
// transaction may carry its original, never earlier, instant.
func setUpTarget(ctx context.Context, target datomic.Conn, instant time.Time) (targetState, error) {
	ops := []datomic.Op{
		datomic.EntityMap{
			"db/ident":       OriginalIDAttr,
			"db/valueType":   datomic.Keyword("db.type/long"),
			"db/cardinality": datomic.Keyword("db.cardinality/one"),
			"db/unique":      datomic.Keyword("db.unique/value"),
			"db/doc":         "Entity id in the source database this entity was restored from (dcbackup).",
		},
		datomic.EntityMap{
			"db/ident":       LastSourceTAttr,
			"db/valueType":   datomic.Keyword("db.type/long"),
			"db/cardinality": datomic.Keyword("db.cardinality/one"),
			"db/noHistory":   true,
			"db/doc":         "Basis t of the last source transaction restored into this database (dcbackup).",
		},
		datomic.EntityMap{datomic.DBID: datomic.TxTempID, "db/txInstant": instant},
	}
	if _, err := target.Transact(ctx, ops); err != nil {
		return targetState{}, fmt.Errorf("install restore bookkeeping attributes: %w", err)
	}
	db, err := target.DB(ctx)
	if err != nil {
		return targetState{}, fmt.Errorf("read target database: %w", err)
	}
	st := targetState{lastT: -1, setUp: true}
	var ok1, ok2 bool
	if st.origAttr, ok1, err = db.Entid(ctx, OriginalIDAttr); err == nil {
		st.markerAttr, ok2, err = db.Entid(ctx, LastSourceTAttr)
	}
	if err != nil || !ok1 || !ok2 {
		return st, fmt.Errorf("bookkeeping attributes missing after install (err %v)", err)
	}
	return st, nil
}
