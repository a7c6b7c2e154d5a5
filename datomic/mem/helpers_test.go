package mem

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/datomic"
)

type kw = datomic.Keyword

// testClock is a manual clock starting at a fixed instant.
type testClock struct{ now time.Time }

func (c *testClock) Now() time.Time { return c.now }

func newTestConn(t *testing.T, opts Options) (*Conn, *testClock) {
	t.Helper()
	clk := &testClock{now: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)}
	if opts.Clock == nil {
		opts.Clock = clk.Now
	}
	return New(opts), clk
}

func attrMap(ident string, vt string, card string, extra ...any) datomic.EntityMap {
	m := datomic.EntityMap{
		"db/ident":       kw(ident),
		"db/valueType":   kw("db.type/" + vt),
		"db/cardinality": kw("db.cardinality/" + card),
	}
	for i := 0; i+1 < len(extra); i += 2 {
		m[kw(extra[i].(string))] = extra[i+1]
	}
	return m
}

func mustTx(t *testing.T, c *Conn, ops ...datomic.Op) datomic.TxReport {
	t.Helper()
	rep, err := c.Transact(context.Background(), ops)
	require.NoError(t, err)
	return rep
}

// personSchema installs a small schema used by many tests.
func personSchema(t *testing.T, c *Conn) {
	t.Helper()
	mustTx(t, c,
		attrMap("person/name", "string", "one"),
		attrMap("person/email", "string", "one", "db/unique", kw("db.unique/identity")),
		attrMap("person/ssn", "string", "one", "db/unique", kw("db.unique/value")),
		attrMap("person/age", "long", "one"),
		attrMap("person/tags", "keyword", "many"),
		attrMap("person/friend", "ref", "many"),
		attrMap("person/spouse", "ref", "one"),
		attrMap("person/address", "ref", "one", "db/isComponent", true),
		attrMap("address/street", "string", "one"),
		attrMap("person/kind", "ref", "one"),
		datomic.EntityMap{"db/ident": kw("kind/human")},
		datomic.EntityMap{"db/ident": kw("kind/robot")},
	)
}

// current returns the current values of [e a] in the latest database.
func current(t *testing.T, c *Conn, e int64, a kw) []any {
	t.Helper()
	db, err := c.DB(context.Background())
	require.NoError(t, err)
	var out []any
	for d, err := range db.Datoms(context.Background(), datomic.EAVT, e, a) {
		require.NoError(t, err)
		out = append(out, d.V)
	}
	return out
}

func logTxs(t *testing.T, c *Conn) []datomic.Tx {
	t.Helper()
	var out []datomic.Tx
	for tx, err := range c.TxRange(context.Background(), 0, 0) {
		require.NoError(t, err)
		out = append(out, tx)
	}
	return out
}
