// Package histgen generates random, reproducible transaction histories
// against any datomic.Conn: schema installed and altered over time, entities
// created, updated and retracted, refs (to entities, enums and transactions),
// cardinality many, unique values and identity upserts, components and
// retractEntity, compare-and-swap, tuples of every kind, transaction
// annotations and explicit instants; optionally (Config) composite tuples
// backfilled after the fact, excisions and more renames, and histories that
// a Datomic Cloud database accepts (Config.Cloud). Property tests of backup
// and restore replay such histories.
package histgen

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/dcbackup/dcbackup/datomic"
)

// Config sets the size and shape of a history.
type Config struct {
	// Seed makes the history reproducible.
	Seed uint64
	// Txs is the number of transactions to attempt.
	Txs int
	// MaxOps bounds the operations of one transaction (default 12).
	MaxOps int
	// Start is the instant of the first explicit transaction instant
	// (default 2020-01-01); explicit instants move forward from it.
	Start time.Time

	// The options below add kinds of transactions; each is off by default,
	// and a history without them is the same as before they existed.

	// CompositeBackfill installs composite tuples over attributes the
	// history's entities already have, and fills them the way Datomic's
	// users do: by re-asserting a constituent's current value, which the
	// database answers with the composite datom alone.
	CompositeBackfill bool
	// Excision asks for excisions (:db/excise) of entities, of some of an
	// entity's attributes, and of attributes' values, some only before a t
	// of the history (:db.excise/beforeT).
	Excision bool
	// Renames renames enums and attributes beyond the default history's
	// one renamed attribute, and gives retired idents to new attributes.
	Renames bool
	// Cloud makes histories that a Datomic Cloud database accepts (such as
	// datomic/mem's Cloud mode): no named partition and no
	// :db/force-partition, no :db.type/bytes attribute; instead, an
	// attribute h/text whose strings reach Cloud's limit of 4096
	// characters, counted as Java counts them (UTF-16 code units), and
	// strings in tuples that reach its limit of 256. Excision cannot be
	// combined with it: Datomic Cloud has none.
	Cloud bool
}

// Datomic Cloud's string limits, in UTF-16 code units.
const (
	cloudMaxString      = 4096
	cloudMaxTupleString = 256
)

// Stats reports what Generate did.
type Stats struct {
	Committed int // transactions the database accepted
	Rejected  int // transactions it refused (random histories include some)
	Datoms    int // datoms of the committed transactions
}

// Generate runs a random history of cfg.Txs transactions against conn.
func Generate(ctx context.Context, conn datomic.Conn, cfg Config) (Stats, error) {
	g, err := New(ctx, conn, cfg)
	if err != nil {
		return Stats{}, err
	}
	st, err := g.Run(ctx, cfg.Txs)
	st.Committed += g.setup
	return st, err
}

// Generator continues a random history; its schema is installed by New.
type Generator struct {
	g *gen
	// setup is the number of transactions New committed: the schema,
	// the partition (not in Cloud histories) and the enums.
	setup int
}

// New installs the generator's schema in conn.
func New(ctx context.Context, conn datomic.Conn, cfg Config) (*Generator, error) {
	if cfg.MaxOps <= 0 {
		cfg.MaxOps = 12
	}
	if cfg.Start.IsZero() {
		cfg.Start = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if cfg.Cloud && cfg.Excision {
		return nil, errors.New("histgen: Config.Excision cannot be combined with Config.Cloud: Datomic Cloud has no excision")
	}
	g := &gen{cfg: cfg, rnd: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)), conn: conn, instant: cfg.Start,
		attrs: baseAttrs, plain: plainAttrs}
	if cfg.Cloud {
		g.attrs, g.plain = cloudAttrs(), cloudPlainAttrs()
	}
	var st Stats
	// Composite tuples go in a second transaction, after the attributes
	// they name.
	for _, composite := range []bool{false, true} {
		if err := g.commit(ctx, g.baseSchema(composite), &st); err != nil {
			return nil, err
		}
	}
	if !cfg.Cloud {
		if err := g.commit(ctx, []datomic.Op{datomic.EntityMap{
			"db/ident":              kw(partThings),
			"db.install/_partition": kw("db.part/db"),
		}}, &st); err != nil {
			return nil, err
		}
	}
	if err := g.commit(ctx, g.enumOps(), &st); err != nil {
		return nil, err
	}
	if st.Rejected > 0 || len(g.ids) != len(g.attrs) {
		return nil, fmt.Errorf("histgen: the database rejected the generator's schema")
	}
	return &Generator{g: g, setup: st.Committed}, nil
}

// Run attempts n more random transactions.
func (gr *Generator) Run(ctx context.Context, n int) (Stats, error) {
	var st Stats
	for range n {
		if err := gr.g.commit(ctx, gr.g.randomTx(ctx), &st); err != nil {
			return st, err
		}
	}
	return st, nil
}

// partThings is a partition the generator installs and puts some
// entities in.
const partThings = "h.part/things"

type gen struct {
	cfg Config
	rnd *rand.Rand
	// attrs are the attributes the generator installs, plain those a new
	// entity may get random values for (baseAttrs and plainAttrs, or
	// their Cloud variants).
	attrs    []attrSpec
	plain    []string
	conn     datomic.Conn
	ids      map[string]int64            // base attribute ident -> id
	info     map[int64]datomic.Attribute // current description by id
	entities []int64
	txs      []int64
	enums    []datomic.Keyword
	counter  int
	instant  time.Time
	renames  int

	composites []composite       // installed by backfillOps
	retired    []datomic.Keyword // idents renamed away, free for new attributes
}

func (g *gen) commit(ctx context.Context, ops []datomic.Op, st *Stats) error {
	if len(ops) == 0 {
		return nil
	}
	rep, err := g.conn.Transact(ctx, ops)
	var derr *datomic.Error
	if errors.As(err, &derr) {
		st.Rejected++
		return nil
	}
	if err != nil {
		return fmt.Errorf("histgen: transact: %w", err)
	}
	st.Committed++
	st.Datoms += len(rep.TxData)
	g.txs = append(g.txs, rep.TxID())
	// The generator's new entities, in tempid order: a map's order would
	// make the history depend on more than the seed.
	var names []datomic.TempID
	for t := range rep.Tempids {
		if strings.HasPrefix(string(t), "n") {
			names = append(names, t)
		}
	}
	slices.Sort(names)
	for _, t := range names {
		g.entities = append(g.entities, rep.Tempids[t])
	}
	for _, d := range rep.TxData {
		if inst, ok := d.V.(time.Time); ok && d.E == rep.TxID() && inst.After(g.instant) {
			g.instant = inst
		}
	}
	return g.refreshSchema(ctx)
}

func (g *gen) refreshSchema(ctx context.Context) error {
	db, err := g.conn.DB(ctx)
	if err != nil {
		return err
	}
	if g.ids == nil {
		g.ids, g.info = map[string]int64{}, map[int64]datomic.Attribute{}
	}
	for _, s := range g.attrs {
		if _, ok := g.ids[s.ident]; ok {
			continue
		}
		id, ok, err := db.Entid(ctx, kw(s.ident))
		if err != nil {
			return err
		}
		if ok {
			g.ids[s.ident] = id
		}
	}
	for _, id := range g.ids {
		a, ok, err := db.Attribute(ctx, id)
		if err != nil {
			return err
		}
		if ok {
			g.info[id] = a
		}
	}
	return nil
}

func (g *gen) next() int { g.counter++; return g.counter }

func kw(s string) datomic.Keyword { return datomic.Keyword(s) }

type attrSpec struct {
	ident  string
	vt     string
	many   bool
	unique string
	extra  datomic.EntityMap
}

var baseAttrs = []attrSpec{
	{ident: "h/name", vt: "string"},
	{ident: "h/key", vt: "string", unique: "identity"},
	{ident: "h/code", vt: "long", unique: "value"},
	{ident: "h/n", vt: "long"},
	{ident: "h/tags", vt: "keyword", many: true},
	{ident: "h/friend", vt: "ref"},
	{ident: "h/friends", vt: "ref", many: true},
	{ident: "h/kind", vt: "ref"},
	{ident: "h/child", vt: "ref", many: true, extra: datomic.EntityMap{"db/isComponent": true}},
	{ident: "h/flag", vt: "boolean"},
	{ident: "h/big", vt: "bigint"},
	{ident: "h/f", vt: "float"},
	{ident: "h/d", vt: "double"},
	{ident: "h/dec", vt: "bigdec"},
	{ident: "h/at", vt: "instant"},
	{ident: "h/id", vt: "uuid"},
	{ident: "h/uri", vt: "uri"},
	{ident: "h/raw", vt: "bytes"},
	{ident: "h/sym", vt: "symbol"},
	{ident: "h/nums", vt: "long", many: true},
	{ident: "h/prev-tx", vt: "ref"},
	{ident: "h/a", vt: "long"},
	{ident: "h/b", vt: "ref"},
	{ident: "h/a+b", vt: "tuple", extra: datomic.EntityMap{"db/tupleAttrs": datomic.Tuple{kw("h/a"), kw("h/b")}}},
	{ident: "h/longs", vt: "tuple", extra: datomic.EntityMap{"db/tupleType": kw("db.type/long")}},
	{ident: "h/pair", vt: "tuple", extra: datomic.EntityMap{"db/tupleTypes": datomic.Tuple{kw("db.type/ref"), kw("db.type/string")}}},
	{ident: "audit/user", vt: "string"},
}

func (g *gen) baseSchema(composite bool) []datomic.Op {
	var ops []datomic.Op
	for _, s := range g.attrs {
		if _, ok := s.extra["db/tupleAttrs"]; ok != composite {
			continue
		}
		m := datomic.EntityMap{
			"db/ident":       kw(s.ident),
			"db/valueType":   kw("db.type/" + s.vt),
			"db/cardinality": kw("db.cardinality/one"),
		}
		if s.many {
			m["db/cardinality"] = kw("db.cardinality/many")
		}
		if s.unique != "" {
			m["db/unique"] = kw("db.unique/" + s.unique)
		}
		for k, v := range s.extra {
			m[k] = v
		}
		ops = append(ops, m)
	}
	return ops
}

func (g *gen) enumOps() []datomic.Op {
	var ops []datomic.Op
	for _, e := range []string{"kind/red", "kind/green", "kind/blue"} {
		ops = append(ops, datomic.EntityMap{"db/ident": kw(e)})
		g.enums = append(g.enums, kw(e))
	}
	return ops
}

func (g *gen) pickEntity() (int64, bool) {
	if len(g.entities) == 0 {
		return 0, false
	}
	return g.entities[g.rnd.IntN(len(g.entities))], true
}

func (g *gen) value(vt datomic.ValueType) any {
	r := g.rnd
	switch vt {
	case datomic.TypeString:
		return fmt.Sprintf("s%d-%x", r.IntN(50), r.Uint32())
	case datomic.TypeLong:
		if r.IntN(4) == 0 {
			return int64(r.Uint64())
		}
		return int64(r.IntN(1000))
	case datomic.TypeKeyword:
		return kw(fmt.Sprintf("tag/t%d", r.IntN(20)))
	case datomic.TypeBoolean:
		return r.IntN(2) == 0
	case datomic.TypeBigInt:
		b := new(big.Int).SetUint64(r.Uint64())
		b.Mul(b, new(big.Int).SetUint64(r.Uint64()))
		if r.IntN(2) == 0 {
			b.Neg(b)
		}
		return b
	case datomic.TypeFloat:
		return float32(r.NormFloat64())
	case datomic.TypeDouble:
		return r.NormFloat64() * 1e6
	case datomic.TypeBigDec:
		return datomic.BigDec{Unscaled: big.NewInt(r.Int64N(1e12) - 5e11), Scale: int32(r.IntN(8))}
	case datomic.TypeInstant:
		return time.UnixMilli(r.Int64N(4e12)).UTC()
	case datomic.TypeUUID:
		var u datomic.UUID
		for i := range u {
			u[i] = byte(r.UintN(256))
		}
		return u
	case datomic.TypeURI:
		return datomic.URI(fmt.Sprintf("https://example.com/%d", r.IntN(1000)))
	case datomic.TypeBytes:
		b := make([]byte, r.IntN(12))
		for i := range b {
			b[i] = byte(r.UintN(256))
		}
		return b
	case datomic.TypeSymbol:
		return datomic.Symbol(fmt.Sprintf("sym%d", r.IntN(30)))
	}
	return nil
}
