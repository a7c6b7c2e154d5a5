package datomic

import (
	"context"
	"iter"
)

// Conn is a connection to one database: the operations backup and restore
// need and nothing more, so that wrapping a real client is small work.
type Conn interface {
	// DB returns the latest database value.
	DB(ctx context.Context) (DB, error)
	// TxRange streams the log's transactions whose t lies in [start, end),
	// in t order. end <= 0 means no upper bound. The stream holds a bounded
	// number of transactions in memory at a time.
	TxRange(ctx context.Context, start, end int64) iter.Seq2[Tx, error]
	// Transact runs ops as one transaction. A rejected transaction returns
	// an error (a *Error for rejections by the database) and changes nothing.
	Transact(ctx context.Context, ops []Op) (TxReport, error)
}

// DB is an immutable database value.
type DB interface {
	// BasisT is the t of the latest transaction in this value.
	BasisT() int64
	// Attribute describes the attribute named by id (int64) or ident (Keyword).
	Attribute(ctx context.Context, attr any) (Attribute, bool, error)
	// Ident returns the ident of entity id, if it has one.
	Ident(ctx context.Context, id int64) (Keyword, bool, error)
	// Entid returns the entity id of ident.
	Entid(ctx context.Context, ident Keyword) (int64, bool, error)
	// Datoms streams the current datoms of index whose leading components
	// equal components (entities and attributes as int64 ids or Keyword
	// idents), in index order.
	Datoms(ctx context.Context, index Index, components ...any) iter.Seq2[Datom, error]
	// IndexRange streams the AVET datoms of attr whose value lies in
	// [start, end), in value order; a nil bound is open.
	IndexRange(ctx context.Context, attr any, start, end any) iter.Seq2[Datom, error]
	// AsOf returns the database as of basis t.
	AsOf(t int64) DB
}

// Identified is implemented by connections that can tell their database's
// identity: Datomic's :database-id (peer-server and Cloud), or an id the
// engine gives each database it creates. Backup records it in every
// segment and refuses to continue a backup of another database under the
// same name.
type Identified interface {
	// DatabaseID returns the database's id; "" when it has none.
	DatabaseID(ctx context.Context) (string, error)
}

// Limits describes what a database refuses that Datomic Pro accepts. The
// zero value is Datomic Pro: no limits. A restore checks a backup against
// its target's limits before it applies anything.
type Limits struct {
	// Product names the database product in messages, e.g. "Datomic Cloud".
	Product string
	// NoPartitions: entities cannot be placed in named partitions
	// (:db/force-partition is not accepted); the database places them.
	NoPartitions bool
	// NoExcision: :db/excise is not supported.
	NoExcision bool
	// NoBytes: :db.type/bytes is not supported.
	NoBytes bool
	// NoFulltext: :db/fulltext is not supported.
	NoFulltext bool
	// NoFunctions: :db.type/fn values (stored functions) are not supported.
	NoFunctions bool
	// MaxStringLen and MaxTupleStringLen bound the length of a string
	// value, and of a string inside a tuple, in characters (0: no bound).
	MaxStringLen, MaxTupleStringLen int
	// BootstrapTxs is the number of transactions at the start of a new
	// database's log that the database wrote itself (Datomic Cloud: t 1 to
	// 5); they are never restored, and a database with only them is empty.
	BootstrapTxs int
}

// Limited is implemented by connections whose database has Limits.
type Limited interface {
	// Limits returns what the database refuses.
	Limits(ctx context.Context) (Limits, error)
}

// BatchResolver is implemented by database values that resolve many
// lookup refs of one unique attribute in one request.
type BatchResolver interface {
	// ResolveLookupRefs returns, for each of values, the entity whose
	// unique attribute attr has that value (0 when none), in the order of
	// values.
	ResolveLookupRefs(ctx context.Context, attr any, values []any) ([]int64, error)
}
