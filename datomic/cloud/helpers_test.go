package cloud_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/cloud"
	"github.com/dcbackup/dcbackup/datomic/mem"
	"github.com/dcbackup/dcbackup/datomic/peer/peertest"
	"github.com/dcbackup/dcbackup/internal/s3test"
)

type kw = datomic.Keyword

// countingS3 counts the keyfile reads of the client under test.
type countingS3 struct {
	inner cloud.S3API
	mu    sync.Mutex
	gets  map[string]int // by object key
}

func (c *countingS3) GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	c.mu.Lock()
	c.gets[aws.ToString(in.Key)]++
	c.mu.Unlock()
	return c.inner.GetObject(ctx, in, optFns...)
}

// reads returns how many times the keyfile of a kind of key of db was read.
func (e *env) reads(kind, db string) int {
	_, key := e.srv.Keyfile(kind, db)
	e.s3.mu.Lock()
	defer e.s3.mu.Unlock()
	return e.s3.gets[key]
}

// env is an in-memory Cloud-mode database served by a fake Cloud system
// whose keyfiles are in a fresh bucket of the S3 test server, and a client
// connection to it.
type env struct {
	mem  *mem.Conn
	srv  *peertest.Server
	s3   *countingS3
	raw  *s3.Client
	cfg  cloud.Config
	conn *cloud.Conn
}

// fixedClock is a clock for the engine that advances one second per call
// from a fixed instant.
func fixedClock() func() time.Time {
	var mu sync.Mutex
	t := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(time.Second)
		return t
	}
}

func newEnv(t *testing.T, adjust func(*cloud.Config)) *env {
	t.Helper()
	raw := s3test.NewClient(t)
	bucket := s3test.NewBucket(t, raw)
	m := mem.New(mem.Options{Cloud: true, Clock: fixedClock()})
	srv := peertest.NewCloudServer(t, m, peertest.Options{Cloud: peertest.CloudOptions{S3: raw, Bucket: bucket, Prefix: "keys/v1"}})
	counting := &countingS3{inner: raw, gets: map[string]int{}}
	cfg := srv.CloudConfig()
	cfg.S3 = counting
	if adjust != nil {
		adjust(&cfg)
	}
	conn, err := cloud.Connect(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return &env{mem: m, srv: srv, s3: counting, raw: raw, cfg: cfg, conn: conn}
}

func attr(ident, vt, card string, more ...any) datomic.EntityMap {
	m := datomic.EntityMap{
		"db/ident":       kw(ident),
		"db/valueType":   kw("db.type/" + vt),
		"db/cardinality": kw("db.cardinality/" + card),
	}
	for i := 0; i+1 < len(more); i += 2 {
		m[kw(more[i].(string))] = more[i+1]
	}
	return m
}

// schema covers the value types Datomic Cloud has.
func schema() []datomic.Op {
	return []datomic.Op{
		attr("t/string", "string", "one", "db/unique", kw("db.unique/identity")),
		attr("t/long", "long", "one", "db/index", true),
		attr("t/float", "float", "one"),
		attr("t/double", "double", "one"),
		attr("t/bigint", "bigint", "one"),
		attr("t/bigdec", "bigdec", "one"),
		attr("t/instant", "instant", "one"),
		attr("t/uuid", "uuid", "one"),
		attr("t/uri", "uri", "one"),
		attr("t/keyword", "keyword", "many"),
		attr("t/symbol", "symbol", "one"),
		attr("t/boolean", "boolean", "one"),
		attr("t/ref", "ref", "many"),
		attr("t/component", "ref", "one", "db/isComponent", true),
		attr("t/pair", "tuple", "one", "db/tupleType", kw("db.type/long")),
		attr("t/mixed", "tuple", "one", "db/tupleTypes", datomic.Tuple{kw("db.type/string"), kw("db.type/double")}),
	}
}

func collectTxs(t *testing.T, c datomic.Conn, start, end int64) []datomic.Tx {
	t.Helper()
	var out []datomic.Tx
	for tx, err := range c.TxRange(context.Background(), start, end) {
		require.NoError(t, err)
		out = append(out, tx)
	}
	return out
}

func requireSameTxs(t *testing.T, want, got []datomic.Tx) {
	t.Helper()
	require.Equal(t, len(want), len(got), "number of transactions")
	for i := range want {
		require.Equal(t, want[i].T, got[i].T, "tx %d", i)
		requireSameDatoms(t, want[i].Datoms, got[i].Datoms)
	}
}

func requireSameDatoms(t *testing.T, want, got []datomic.Datom) {
	t.Helper()
	require.Equal(t, len(want), len(got), "number of datoms")
	for j := range want {
		w, g := want[j], got[j]
		require.Equal(t, [4]any{w.E, w.A, w.Tx, w.Added}, [4]any{g.E, g.A, g.Tx, g.Added}, "datom %d", j)
		require.True(t, datomic.ValuesEqual(w.V, g.V), "datom %d value: want %s (%T), got %s (%T)",
			j, datomic.FormatValue(w.V), w.V, datomic.FormatValue(g.V), g.V)
	}
}

// userTxs are the transactions after the bootstrap ones.
func userTxs(t *testing.T, c datomic.Conn) []datomic.Tx {
	t.Helper()
	return collectTxs(t, c, mem.CloudBootstrapTxs+1, 0)
}

func isS3Key(s string) bool { return strings.HasPrefix(s, `s3:\\`) }

// Faults the tests inject.
var (
	peertestForbidden   = peertest.Fault{Category: datomic.CatForbidden}
	peertestBusy        = peertest.Fault{Category: datomic.CatBusy}
	peertestUnavailable = peertest.Fault{Category: datomic.CatUnavailable}
)
