package datomic

import "fmt"

// Category is the kind of a failure, after Cognitect's anomaly categories.
type Category string

// Anomaly categories.
const (
	CatIncorrect   Category = "incorrect"
	CatConflict    Category = "conflict"
	CatNotFound    Category = "not-found"
	CatForbidden   Category = "forbidden"
	CatUnsupported Category = "unsupported"
	CatUnavailable Category = "unavailable"
	CatBusy        Category = "busy"
	CatInterrupted Category = "interrupted"
	CatFault       Category = "fault"
)

// Error is a failure reported by a database, such as a rejected transaction.
// Test for a kind of failure with errors.Is against the sentinels below, which
// match on Code (or, for the category sentinels, on Category).
type Error struct {
	Category Category
	// Code is Datomic's error keyword, e.g. :db.error/unique-conflict.
	Code Keyword
	// Message says what happened, naming the offending datom or operation.
	Message string
	// Op is the index of the offending operation in the transaction, or -1.
	Op int
	// Err is an underlying cause, if any.
	Err error
}

// Error implements error.
func (e *Error) Error() string {
	s := string(e.Category)
	if e.Code != "" {
		s = e.Code.String()
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Op >= 0 && e.Message != "" {
		s += fmt.Sprintf(" (op %d)", e.Op)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Is matches a sentinel: by Code when the sentinel has one, else by Category.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok || t.Message != "" {
		return false
	}
	if t.Code != "" {
		return t.Code == e.Code
	}
	return t.Category == e.Category
}

// Retryable reports whether the failure is transient (busy, unavailable,
// interrupted): the same request may succeed later.
func (e *Error) Retryable() bool {
	switch e.Category {
	case CatBusy, CatUnavailable, CatInterrupted:
		return true
	}
	return false
}

func sentinel(c Category, code Keyword) *Error { return &Error{Category: c, Code: code, Op: -1} }

// Category sentinels.
var (
	ErrIncorrect   = sentinel(CatIncorrect, "")
	ErrConflict    = sentinel(CatConflict, "")
	ErrNotFound    = sentinel(CatNotFound, "")
	ErrForbidden   = sentinel(CatForbidden, "")
	ErrUnsupported = sentinel(CatUnsupported, "")
	ErrUnavailable = sentinel(CatUnavailable, "")
	ErrBusy        = sentinel(CatBusy, "")
	ErrInterrupted = sentinel(CatInterrupted, "")
	ErrFault       = sentinel(CatFault, "")
)

// Transaction error sentinels, one per Datomic error code.
var (
	// ErrUniqueConflict: a unique attribute's value is held by another entity.
	ErrUniqueConflict = sentinel(CatConflict, "db.error/unique-conflict")
	// ErrDatomsConflict: two different values of a cardinality-one attribute
	// of one entity, or an assert and a retract of the same datom, in one transaction.
	ErrDatomsConflict = sentinel(CatConflict, "db.error/datoms-conflict")
	// ErrCASFailed: a :db/cas found a value other than the expected one.
	ErrCASFailed = sentinel(CatConflict, "db.error/cas-failed")
	// ErrNotAnEntity: an ident or lookup ref names no entity.
	ErrNotAnEntity = sentinel(CatIncorrect, "db.error/not-an-entity")
	// ErrNotAnAttribute: the attribute position names no installed attribute.
	ErrNotAnAttribute = sentinel(CatIncorrect, "db.error/not-an-attribute")
	// ErrWrongType: a value does not match the attribute's value type.
	ErrWrongType = sentinel(CatIncorrect, "db.error/wrong-type-for-attribute")
	// ErrPastTxInstant: an explicit :db/txInstant is older than the latest transaction's.
	ErrPastTxInstant = sentinel(CatIncorrect, "db.error/past-tx-instant")
	// ErrFutureTxInstant: an explicit :db/txInstant lies in the future.
	ErrFutureTxInstant = sentinel(CatIncorrect, "db.error/future-tx-instant")
	// ErrInvalidEntityID: an entity id that does not exist or is malformed.
	ErrInvalidEntityID = sentinel(CatIncorrect, "db.error/invalid-entity-id")
	// ErrTempidNotAnEntity: a tempid used only as a value.
	ErrTempidNotAnEntity = sentinel(CatIncorrect, "db.error/tempid-not-an-entity")
	// ErrInvalidOp: a malformed operation.
	ErrInvalidOp = sentinel(CatIncorrect, "db.error/invalid-tx-op")
	// ErrInvalidAlter: a schema change that Datomic does not allow.
	ErrInvalidAlter = sentinel(CatIncorrect, "db.error/invalid-alter-attribute")
	// ErrCompositeTuple: an attempt to assert a composite tuple's value directly.
	ErrCompositeTuple = sentinel(CatIncorrect, "db.error/invalid-tuple-value")
)
