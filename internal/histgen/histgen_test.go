package histgen

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/mem"
)

// recorder records every transaction a generator attempts.
type recorder struct {
	datomic.Conn
	txs []string
}

func (r *recorder) Transact(ctx context.Context, ops []datomic.Op) (datomic.TxReport, error) {
	rep, err := r.Conn.Transact(ctx, ops)
	r.txs = append(r.txs, fmt.Sprintf("%#v -> %v %d", ops, err != nil, len(rep.TxData)))
	return rep, err
}

func newConn(shared bool) *mem.Conn {
	t := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	return mem.New(mem.Options{SharedCounter: shared, Clock: func() time.Time { t = t.Add(time.Minute); return t }})
}

func generate(t *testing.T, cfg Config, shared bool) (*mem.Conn, *recorder, Stats) {
	t.Helper()
	conn := newConn(shared)
	rec := &recorder{Conn: conn}
	st, err := Generate(context.Background(), rec, cfg)
	require.NoError(t, err)
	return conn, rec, st
}

func digest(txs []string) string {
	h := sha256.New()
	for _, s := range txs {
		h.Write([]byte(s))
		h.Write([]byte{'\n'})
	}
	return fmt.Sprintf("%x", h.Sum(nil)[:8])
}

// TestHistoriesAreReproducible: a seed gives one history, and the
// histories of these seeds without the optional features are the ones the
// generator made before those features existed (digests of every attempted
// transaction and its outcome; a change of the in-memory engine's ids or
// refusals changes them too).
func TestHistoriesAreReproducible(t *testing.T) {
	for _, c := range []struct {
		seed   uint64
		shared bool
		want   string
	}{
		{0, false, "f74bc819999f2a65"},
		{1, true, "e06a21870979ba2b"},
		{42, false, "7b4b52c0c12b0e9e"},
	} {
		_, a, _ := generate(t, Config{Seed: c.seed, Txs: 80}, c.shared)
		_, b, _ := generate(t, Config{Seed: c.seed, Txs: 80}, c.shared)
		assert.Equal(t, a.txs, b.txs, "seed %d", c.seed)
		assert.Equal(t, c.want, digest(a.txs), "seed %d: the default history changed", c.seed)
	}
}

// TestOptionalFeatures: with the options on, histories hold composite
// backfills (transactions whose only datoms are composite datoms),
// excisions and renames, and most transactions commit.
func TestOptionalFeatures(t *testing.T) {
	ctx := context.Background()
	var backfills, excisions, enumRenames, attrRenames, reuses int
	for seed := range uint64(12) {
		cfg := Config{Seed: seed, Txs: 150, CompositeBackfill: true, Excision: true, Renames: true}
		conn, rec, st := generate(t, cfg, seed%2 == 0)
		require.Greater(t, st.Committed, len(rec.txs)*2/3, "seed %d: most transactions commit", seed)
		db, err := conn.DB(ctx)
		require.NoError(t, err)
		// composite attribute -> its constituent attributes
		composite := map[int64][]int64{}
		for d, err := range db.Datoms(ctx, datomic.AEVT, datomic.Keyword("db/tupleAttrs")) {
			require.NoError(t, err)
			for _, k := range d.V.(datomic.Tuple) {
				id, _, _ := db.Entid(ctx, k.(datomic.Keyword))
				composite[d.E] = append(composite[d.E], id)
			}
		}
		excise, _, _ := db.Entid(ctx, "db/excise")
		ident, _, _ := db.Entid(ctx, "db/ident")
		for tx, err := range conn.TxRange(ctx, 0, 0) {
			require.NoError(t, err)
			touched := map[[2]int64]bool{}
			for _, d := range tx.Datoms {
				touched[[2]int64{d.E, d.A}] = true
			}
			for _, d := range tx.Datoms {
				if parts, ok := composite[d.A]; ok && d.Added && !touched[[2]int64{d.E, parts[0]}] && !touched[[2]int64{d.E, parts[1]}] {
					backfills++ // a composite datom without a constituent datom
				}
				switch {
				case d.A == excise:
					excisions++
				case d.A == ident && d.Added && tx.T > 5:
					if k := d.V.(datomic.Keyword); k.Namespace() == "kind" && len(k.Name()) > 1 && k.Name()[0] == 'r' {
						enumRenames++
					} else if k.Namespace() == "h" && len(k.Name()) > 7 && k.Name()[:7] == "renamed" {
						attrRenames++
					}
				}
			}
		}
		for _, s := range rec.txs[4:] { // after the generator's schema
			if strings.Contains(s, `"db/valueType":"db.type/long"`) && strings.Contains(s, " -> false ") {
				reuses++ // a long attribute committed: only a retired ident given to a new attribute
			}
		}
	}
	assert.Positive(t, backfills, "backfills that write composite datoms only")
	assert.Positive(t, excisions, "excision requests")
	assert.Positive(t, enumRenames, "renamed enums")
	assert.Positive(t, attrRenames, "renamed attributes")
	assert.Positive(t, reuses, "retired idents given to new attributes")
}

// cloudRecorder records the errors of the transactions a generator
// attempts.
type cloudRecorder struct {
	datomic.Conn
	txs  []string
	errs []error
}

func (r *cloudRecorder) Transact(ctx context.Context, ops []datomic.Op) (datomic.TxReport, error) {
	rep, err := r.Conn.Transact(ctx, ops)
	r.txs = append(r.txs, fmt.Sprintf("%#v -> %v %d", ops, err != nil, len(rep.TxData)))
	if err != nil {
		r.errs = append(r.errs, err)
	}
	return rep, err
}

func generateCloud(t *testing.T, cfg Config) (*mem.Conn, *cloudRecorder, Stats) {
	t.Helper()
	clock := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	conn := mem.New(mem.Options{Cloud: true, Clock: func() time.Time { clock = clock.Add(time.Minute); return clock }})
	rec := &cloudRecorder{Conn: conn}
	st, err := Generate(context.Background(), rec, cfg)
	require.NoError(t, err)
	return conn, rec, st
}

// TestCloudHistories: Cloud histories are accepted by a Cloud-mode
// database (no transaction refused for what Cloud does not support), hold
// no bytes and no named partition, and have strings right up to Cloud's
// limits as Java counts them, with characters outside the Basic
// Multilingual Plane.
func TestCloudHistories(t *testing.T) {
	ctx := context.Background()
	var atLimit, atTupleLimit, wide int
	for seed := range uint64(12) {
		cfg := Config{Seed: seed, Txs: 150, Cloud: true, CompositeBackfill: seed%2 == 0, Renames: seed%3 == 0}
		conn, rec, st := generateCloud(t, cfg)
		_, again, _ := generateCloud(t, cfg)
		assert.Equal(t, digest(rec.txs), digest(again.txs), "seed %d: reproducible", seed)
		for _, err := range rec.errs {
			require.NotErrorIs(t, err, mem.ErrCloudRefused, "seed %d", seed)
		}
		require.Greater(t, st.Committed, len(rec.txs)*2/3, "seed %d: most transactions commit", seed)
		db, err := conn.DB(ctx)
		require.NoError(t, err)
		_, ok, err := db.Entid(ctx, partThings)
		require.NoError(t, err)
		assert.False(t, ok, "no named partition")
		installPart, _, err := db.Entid(ctx, "db.install/partition")
		require.NoError(t, err)
		for _, s := range rec.txs {
			require.NotContains(t, s, "ForcePartition", "seed %d", seed)
		}
		txs := 0
		for tx, err := range conn.TxRange(ctx, mem.CloudBootstrapTxs+1, 0) {
			require.NoError(t, err)
			txs++
			for _, d := range tx.Datoms {
				require.NotEqual(t, installPart, d.A, "seed %d: a partition installed", seed)
				switch v := d.V.(type) {
				case []byte:
					t.Errorf("seed %d: a bytes value: %v", seed, d)
				case string:
					n := mem.CloudStringLen(v)
					require.LessOrEqual(t, n, cloudMaxString)
					if n == cloudMaxString {
						atLimit++
						if len(v) > n && utf8.RuneCountInString(v) < n {
							wide++
						}
					}
				case datomic.Tuple:
					for _, e := range v {
						if s, ok := e.(string); ok {
							n := mem.CloudStringLen(s)
							require.LessOrEqual(t, n, cloudMaxTupleString)
							if n == cloudMaxTupleString {
								atTupleLimit++
							}
						}
					}
				}
			}
		}
		assert.Equal(t, st.Committed, txs, "seed %d: every committed transaction is in the log", seed)
	}
	assert.Positive(t, atLimit, "strings of exactly 4096 UTF-16 units")
	assert.Positive(t, wide, "of them, some with more bytes than units and fewer runes than units")
	assert.Positive(t, atTupleLimit, "strings of exactly 256 units in tuples")

	_, err := New(ctx, mem.New(mem.Options{Cloud: true}), Config{Cloud: true, Excision: true})
	assert.ErrorContains(t, err, "Datomic Cloud has no excision")
}
