package mem

import (
	"context"
	"crypto/rand"
	"sync"
	"time"

	"github.com/dcbackup/dcbackup/datomic"
)

// Options configure a new in-memory database. The zero value gives a
// database with contiguous t values (1, 2, 3, ...), the default bootstrap
// layout and the wall clock.
type Options struct {
	// Clock supplies the time used for :db/txInstant when a transaction
	// gives none, and the limit of the "future instant" check. nil means
	// time.Now.
	Clock func() time.Time
	// SharedCounter numbers both t and new entities from one counter, as
	// Datomic Pro does, so the t values of consecutive transactions have
	// gaps; the first transaction's t is 1000. When false, t runs 1, 2, 3,
	// ... and entities have their own counter.
	SharedCounter bool
	// BootstrapShift is added to every bootstrap entity id except those of
	// the partitions :db.part/db (0), :db.part/tx (3) and :db.part/user (4),
	// whose ids are their partition indexes, to simulate another Datomic
	// version's layout. It must be 0 or at least 4: New panics otherwise.
	BootstrapShift int64
	// ExtraBuiltins installs a few more built-in idents and attributes,
	// which moves the ids of later bootstrap entities (a layout that differs
	// from the default by more than a constant shift).
	ExtraBuiltins bool
	// DatabaseID is the id the database reports (datomic.Identified);
	// empty means a new random UUID, so that two databases are never
	// taken for each other.
	DatabaseID string
	// Cloud makes the database behave as a Datomic Cloud database (see
	// cloud.go): its log starts with five bootstrap transactions at the
	// epoch, t runs without gaps, new entities are spread over many
	// partitions, and what Cloud refuses is refused. It cannot be combined
	// with SharedCounter: New panics.
	Cloud bool
	// AttrPreds are the attribute predicates (:db.attr/preds) the database
	// can run, by the symbol that names them: a value passes when the
	// function returns true. A transaction that needs a symbol missing here
	// is refused, as Datomic refuses one whose predicate is not on the
	// transactor's classpath.
	AttrPreds map[datomic.Symbol]func(v any) bool
	// EntityPreds are the entity predicates (:db.entity/preds of an entity
	// spec, run by :db/ensure) the database can run, by symbol. A predicate
	// gets the database as it would be after the transaction and the
	// entity id; the entity passes when it returns true. Missing symbols
	// are refused as for AttrPreds.
	EntityPreds map[datomic.Symbol]func(ctx context.Context, db datomic.DB, e int64) bool
}

// Stats are a few figures about a database's latest value.
type Stats struct {
	// Datoms is the number of current (asserted, not retracted) datoms,
	// bootstrap datoms included.
	Datoms int
	// Facts is the number of datoms ever asserted, history included,
	// excised datoms not.
	Facts int
	// Entities is the number of entities that ever had a datom.
	Entities int
	// Transactions is the number of transactions in the log.
	Transactions int
	// BasisT is the t of the latest transaction (0 for a new database).
	BasisT int64
}

// Conn is an in-memory database. It is safe for concurrent use:
// transactions are serialised and database values are immutable.
type Conn struct {
	id     string
	clock  func() time.Time
	shared bool
	cloud  bool // Datomic Cloud mode (Options.Cloud)
	sys    sysIDs
	// attrPreds and entityPreds are Options.AttrPreds and EntityPreds.
	attrPreds   map[datomic.Symbol]func(v any) bool
	entityPreds map[datomic.Symbol]func(ctx context.Context, db datomic.DB, e int64) bool

	txMu sync.Mutex // serialises Transact; guards the writer state below

	// Writer state: read and written only by the goroutine holding txMu,
	// and readers never touch it.
	attrs  map[int64]*attrInfo
	idents map[datomic.Keyword]int64
	names  map[int64]datomic.Keyword
	// identVals caches ident -> boxed entity id for ref values given as
	// idents; cleared whenever idents change.
	identVals map[datomic.Keyword]any
	nextDB    int64 // next entity counter in :db.part/db
	nextEnt   int64 // next entity counter (and, when shared, the next t)
	nextT     int64 // next t when the counter is not shared
	// parts maps each installed partition to its next entity counter
	// (unused for :db.part/db, :db.part/tx, :db.part/user, and for every
	// partition when the counter is shared).
	parts map[int64]int64

	mu          sync.RWMutex // guards the data below; held shared by readers
	facts       factStore
	ents        map[int64][]uint32 // e -> facts (EAVT, unsorted)
	refs        map[int64][]uint32 // ref value -> facts (VAET, unsorted)
	avet        map[int64]*attrVals
	log         []txRec // log[0] is the bootstrap pseudo-transaction (t 0)
	live        int
	excised     int // facts whose assertion was excised
	lastInstant time.Time
}

// txRec is one transaction of the log: its t and its datoms as fact
// positions (retractFlag set for a retraction).
type txRec struct {
	t      int64
	datoms []uint32
}

// New returns a new database holding only the bootstrap schema.
func New(opts Options) *Conn {
	c := &Conn{
		id:          opts.DatabaseID,
		clock:       opts.Clock,
		shared:      opts.SharedCounter,
		attrPreds:   opts.AttrPreds,
		entityPreds: opts.EntityPreds,
		attrs:       make(map[int64]*attrInfo),
		idents:      make(map[datomic.Keyword]int64),
		names:       make(map[int64]datomic.Keyword),
		identVals:   make(map[datomic.Keyword]any),
		ents:        make(map[int64][]uint32),
		refs:        make(map[int64][]uint32),
		avet:        make(map[int64]*attrVals),
		parts:       make(map[int64]int64),
	}
	if c.clock == nil {
		c.clock = time.Now
	}
	if c.id == "" {
		c.id = randomUUID()
	}
	c.bootstrap(opts)
	if c.shared {
		c.nextEnt = 1000
	} else {
		c.nextEnt = 1
		c.nextT = 1
	}
	if opts.Cloud {
		c.cloudBootstrap(opts)
	}
	return c
}

// DatabaseID returns the database's id (Options.DatabaseID, or the random
// UUID it was given at creation); it implements datomic.Identified.
func (c *Conn) DatabaseID(context.Context) (string, error) { return c.id, nil }

// randomUUID returns a random (version 4) UUID in its text form.
func randomUUID() string {
	var u datomic.UUID
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u.String()
}

// Stats returns figures about the latest database value.
func (c *Conn) Stats() Stats {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return Stats{
		Datoms:       c.live,
		Facts:        int(c.facts.n) - c.excised,
		Entities:     len(c.ents),
		Transactions: len(c.log) - 1,
		BasisT:       c.log[len(c.log)-1].t,
	}
}
