package datomic

// Transaction error sentinels for Datomic Pro's rules on the transaction
// entity, bootstrap datoms, attribute predicates and entity specs.
var (
	// ErrResetTxInstant: :db/txInstant asserted or retracted on a
	// transaction other than the current one.
	ErrResetTxInstant = sentinel(CatIncorrect, "db.error/reset-tx-instant")
	// ErrMultipleTxInstants: two values of :db/txInstant for the current
	// transaction.
	ErrMultipleTxInstants = sentinel(CatIncorrect, "db.error/multiple-tx-instants")
	// ErrDatomCannotBeAltered: a change to a bootstrap datom, such as
	// renaming a built-in ident, altering a built-in attribute or
	// uninstalling a partition.
	ErrDatomCannotBeAltered = sentinel(CatIncorrect, "db.error/datom-cannot-be-altered")
	// ErrAttrPred: a value failed one of its attribute's predicates
	// (:db.attr/preds).
	ErrAttrPred = sentinel(CatIncorrect, "db.error/attr-pred")
	// ErrAttrPredOnSystemAttr: :db.attr/preds on a built-in attribute.
	ErrAttrPredOnSystemAttr = sentinel(CatIncorrect, "db.error/attr-pred-on-system-attr")
	// ErrEntityAttr: an entity lacks an attribute its entity spec
	// (:db/ensure, :db.entity/attrs) requires.
	ErrEntityAttr = sentinel(CatIncorrect, "db.error/entity-attr")
	// ErrEntityPred: an entity failed a predicate of its entity spec
	// (:db/ensure, :db.entity/preds).
	ErrEntityPred = sentinel(CatIncorrect, "db.error/entity-pred")
)
