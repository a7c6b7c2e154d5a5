// Package benchwork provides the workloads and test doubles of the
// performance benchmarks: a generated source database whose log is computed
// on the fly (so that its size does not cost memory), and a restore target
// whose Transact does nothing but hand out ids (so that the restore's own
// cost can be measured without the target's).
package benchwork

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
	"strings"
	"time"

	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/mem"
)

// Config shapes a generated workload. The zero value (with Datoms or
// Transactions set) is ready to use.
type Config struct {
	// Seed makes the workload reproducible.
	Seed uint64
	// Datoms is the approximate number of datoms of the generated log.
	Datoms int
	// EntitiesPerTx is the number of entities each transaction creates
	// (default 20, which gives about 190 datoms per transaction).
	EntitiesPerTx int
	// TStride is the t distance between consecutive transactions (default
	// 1; Datomic Pro's shared counter makes it larger).
	TStride int64
	// Transactions, when positive, is the number of generated
	// transactions, and Datoms is ignored.
	Transactions int
}

// Source is a read-only datomic.Conn whose log is a schema transaction held
// in an in-memory database followed by generated transactions computed
// from their position alone. Each generated transaction creates
// EntitiesPerTx entities (string, uuid, long, double, enum ref, ref to an
// older entity, two keywords of a cardinality-many attribute), renames half
// of the entities created three transactions earlier (a retraction and an
// assertion) and retracts a keyword of a quarter of those created seven
// transactions earlier. The log is valid: restoring it into a Datomic
// succeeds. Memory does not grow with the log's length.
type Source struct {
	cfg    Config
	schema *mem.Conn
	ids    attrIDs
	enums  []int64
	firstT int64
	txs    int
	basis  int64
	words  []string          // vocabulary of names
	tags   []datomic.Keyword // values of item/tags
}

type attrIDs struct {
	instant, name, gid, year, score, kind, parent, tags int64
}

var _ datomic.Conn = (*Source)(nil)

// entityBase is the counter of the first generated entity.
const entityBase = 1 << 32

// NewSource installs the workload's schema in an in-memory database and
// returns the source.
func NewSource(ctx context.Context, cfg Config) (*Source, error) {
	if cfg.EntitiesPerTx <= 0 {
		cfg.EntitiesPerTx = 20
	}
	if cfg.TStride <= 0 {
		cfg.TStride = 1
	}
	clock := func() time.Time { return time.Date(2019, 12, 31, 0, 0, 0, 0, time.UTC) }
	c := mem.New(mem.Options{Clock: clock})
	attr := func(ident, vt, card string, extra ...any) datomic.EntityMap {
		m := datomic.EntityMap{
			"db/ident":       datomic.Keyword(ident),
			"db/valueType":   datomic.Keyword("db.type/" + vt),
			"db/cardinality": datomic.Keyword("db.cardinality/" + card),
		}
		for i := 0; i+1 < len(extra); i += 2 {
			m[datomic.Keyword(extra[i].(string))] = extra[i+1]
		}
		return m
	}
	ops := []datomic.Op{
		attr("item/name", "string", "one"),
		attr("item/gid", "uuid", "one", "db/unique", datomic.Keyword("db.unique/identity")),
		attr("item/year", "long", "one"),
		attr("item/score", "double", "one"),
		attr("item/kind", "ref", "one"),
		attr("item/parent", "ref", "one"),
		attr("item/tags", "keyword", "many"),
	}
	if _, err := c.Transact(ctx, ops); err != nil {
		return nil, fmt.Errorf("benchwork: schema: %w", err)
	}
	var enumOps []datomic.Op
	for i := range 8 {
		enumOps = append(enumOps, datomic.EntityMap{"db/ident": datomic.Keyword(fmt.Sprintf("item.kind/k%d", i))})
	}
	if _, err := c.Transact(ctx, enumOps); err != nil {
		return nil, fmt.Errorf("benchwork: enums: %w", err)
	}
	db := c.Snapshot()
	s := &Source{cfg: cfg, schema: c, words: strings.Fields(`the of and a to in love night blue song live sun moon
		john paul george ringo black white red orchestra quartet band hits greatest
		best symphony no concerto minor major remastered edition deluxe vol part
		city river mountain road home heart rain fire dream star day summer winter`)}
	for i := range 64 {
		s.tags = append(s.tags, datomic.Keyword(fmt.Sprintf("tag/t%d", i)))
	}
	var err error
	entid := func(k string) int64 {
		if err != nil {
			return 0
		}
		id, ok, e := db.Entid(ctx, datomic.Keyword(k))
		if e == nil && !ok {
			e = fmt.Errorf("no %s", k)
		}
		err = e
		return id
	}
	s.ids = attrIDs{
		instant: entid("db/txInstant"), name: entid("item/name"), gid: entid("item/gid"),
		year: entid("item/year"), score: entid("item/score"), kind: entid("item/kind"),
		parent: entid("item/parent"), tags: entid("item/tags"),
	}
	for i := range 8 {
		s.enums = append(s.enums, entid(fmt.Sprintf("item.kind/k%d", i)))
	}
	if err != nil {
		return nil, fmt.Errorf("benchwork: %w", err)
	}
	s.firstT = db.BasisT() + 1
	perTx := s.datomsPerTx()
	s.txs = max(1, (cfg.Datoms+perTx-1)/perTx)
	if cfg.Transactions > 0 {
		s.txs = cfg.Transactions
	}
	s.basis = s.tOf(s.txs - 1)
	return s, nil
}

func (s *Source) datomsPerTx() int {
	e := s.cfg.EntitiesPerTx
	return 1 + 8*e + 2*(e/2) + e/4
}

func (s *Source) tOf(i int) int64 { return s.firstT + int64(i)*s.cfg.TStride }

// EntitiesPerTx returns the number of entities each generated transaction
// creates.
func (s *Source) EntitiesPerTx() int { return s.cfg.EntitiesPerTx }

// Transactions returns the number of generated transactions.
func (s *Source) Transactions() int { return s.txs }

// DB returns the latest database value: the schema, with the basis of the
// last generated transaction. Only the schema can be read from it.
func (s *Source) DB(ctx context.Context) (datomic.DB, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return sourceDB{DB: s.schema.Snapshot(), basis: s.basis}, nil
}

type sourceDB struct {
	*mem.DB
	basis int64
}

func (d sourceDB) BasisT() int64 { return d.basis }

// Transact refuses: the source is read-only.
func (s *Source) Transact(context.Context, []datomic.Op) (datomic.TxReport, error) {
	return datomic.TxReport{}, errors.New("benchwork: the generated source is read-only")
}

// TxRange streams the schema transactions and the generated ones with t in
// [start, end) (end <= 0: no bound).
func (s *Source) TxRange(ctx context.Context, start, end int64) iter.Seq2[datomic.Tx, error] {
	return func(yield func(datomic.Tx, error) bool) {
		if end <= 0 {
			end = math.MaxInt64
		}
		if start < s.firstT {
			for tx, err := range s.schema.TxRange(ctx, start, min(end, s.firstT)) {
				if !yield(tx, err) || err != nil {
					return
				}
			}
		}
		i := 0
		if start > s.firstT {
			i = int((start - s.firstT + s.cfg.TStride - 1) / s.cfg.TStride)
		}
		for ; i < s.txs && s.tOf(i) < end; i++ {
			if i%64 == 0 {
				if err := ctx.Err(); err != nil {
					yield(datomic.Tx{}, err)
					return
				}
			}
			if !yield(s.Tx(i), nil) {
				return
			}
		}
	}
}

// Tx returns generated transaction i (0-based).
func (s *Source) Tx(i int) datomic.Tx {
	t := s.tOf(i)
	txID := datomic.TxID(t)
	ne := s.cfg.EntitiesPerTx
	ds := make([]datomic.Datom, 0, s.datomsPerTx())
	add := func(e, a int64, v any, added bool) {
		ds = append(ds, datomic.Datom{E: e, A: a, V: v, Tx: txID, Added: added})
	}
	add(txID, s.ids.instant, time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i)*time.Second), true)
	for j := range ne {
		k := int64(i*ne + j)
		e := entityID(k)
		h := s.hash(k)
		add(e, s.ids.name, s.name(k, 0), true)
		add(e, s.ids.gid, s.uuid(k), true)
		add(e, s.ids.year, int64(1900+h%120), true)
		add(e, s.ids.score, float64(h>>40)/float64(1<<24)*100, true)
		add(e, s.ids.kind, s.enums[(h>>8)%uint64(len(s.enums))], true)
		parent := int64(0)
		if k > 0 {
			parent = int64((h >> 16) % uint64(k))
		}
		add(e, s.ids.parent, entityID(parent), true)
		t0, t1 := s.tagPair(h)
		add(e, s.ids.tags, t0, true)
		add(e, s.ids.tags, t1, true)
	}
	if p := i - 3; p >= 0 {
		for j := range ne / 2 {
			k := int64(p*ne + j)
			add(entityID(k), s.ids.name, s.name(k, 0), false)
			add(entityID(k), s.ids.name, s.name(k, 1), true)
		}
	}
	if p := i - 7; p >= 0 {
		for j := range ne / 4 {
			k := int64(p*ne + j)
			t0, _ := s.tagPair(s.hash(k))
			add(entityID(k), s.ids.tags, t0, false)
		}
	}
	return datomic.Tx{T: t, Datoms: ds}
}

func entityID(k int64) int64 { return datomic.EntityID(datomic.PartUser, entityBase+k) }

// hash is splitmix64 of k under the seed.
func (s *Source) hash(k int64) uint64 {
	z := uint64(k) + s.cfg.Seed*0x9e3779b97f4a7c15 + 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// name returns entity k's name, version v (0 at creation, 1 after the
// rename).
func (s *Source) name(k int64, v int) string {
	h := s.hash(k ^ 0x5bd1e995)
	n := 1 + int(h%4)
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(' ')
		}
		w := s.words[(h>>(8+6*i))%uint64(len(s.words))]
		b.WriteString(strings.ToUpper(w[:1]))
		b.WriteString(w[1:])
	}
	if v > 0 {
		b.WriteString(" (Remastered)")
	}
	return b.String()
}

func (s *Source) uuid(k int64) datomic.UUID {
	var u datomic.UUID
	a, b := s.hash(k^0x3c6ef372), s.hash(k^0x1f83d9ab)
	for i := range 8 {
		u[i] = byte(a >> (8 * i))
		u[8+i] = byte(b >> (8 * i))
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u
}

// tagPair returns an entity's two distinct keywords.
func (s *Source) tagPair(h uint64) (datomic.Keyword, datomic.Keyword) {
	a := (h >> 24) % 64
	b := (a + 1 + (h>>32)%63) % 64
	return s.tags[a], s.tags[b]
}
