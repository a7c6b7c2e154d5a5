package peer_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/mem"
	"github.com/dcbackup/dcbackup/datomic/peer"
	"github.com/dcbackup/dcbackup/datomic/peer/peertest"
)

type kw = datomic.Keyword

// env is an in-memory database served by the fake peer-server, and a
// client connection to it.
type env struct {
	mem  *mem.Conn
	srv  *peertest.Server
	conn *peer.Conn
}

// fixedClock is a clock for the engine that advances one second per call.
func fixedClock() func() time.Time {
	t := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	return func() time.Time {
		t = t.Add(time.Second)
		return t
	}
}

func newEnv(t *testing.T, adjust func(*peer.Config)) *env {
	t.Helper()
	m := mem.New(mem.Options{SharedCounter: true, Clock: fixedClock()})
	srv := peertest.NewServer(t, m)
	cfg := srv.Config()
	if adjust != nil {
		adjust(&cfg)
	}
	conn, err := peer.Connect(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return &env{mem: m, srv: srv, conn: conn}
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

// schema covers every value type.
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
		attr("t/bytes", "bytes", "one"),
		attr("t/keyword", "keyword", "many"),
		attr("t/symbol", "symbol", "one"),
		attr("t/boolean", "boolean", "one"),
		attr("t/ref", "ref", "many"),
		attr("t/component", "ref", "one", "db/isComponent", true),
		attr("t/pair", "tuple", "one", "db/tupleType", kw("db.type/long")),
		attr("t/mixed", "tuple", "one", "db/tupleTypes", datomic.Tuple{kw("db.type/string"), kw("db.type/double")}), // Datomic has no float tuple elements
		attr("t/note", "string", "one", "db/noHistory", true),
		datomic.EntityMap{"db/ident": kw("color/red")},
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

type cfgT = peer.Config

func itoa(i int) string { return strconv.Itoa(i) }

// mustID returns the connection's database id.
func mustID(t *testing.T, c *peer.Conn) string {
	t.Helper()
	id, err := c.DatabaseID(context.Background())
	require.NoError(t, err)
	return id
}
