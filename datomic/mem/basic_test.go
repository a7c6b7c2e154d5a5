package mem

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/datomic"
)

func TestSmoke(t *testing.T) {
	c, _ := newTestConn(t, Options{})
	personSchema(t, c)
	rep := mustTx(t, c,
		datomic.EntityMap{"db/id": datomic.TempID("a"), "person/name": "Ann", "person/tags": []any{kw("x"), kw("y")}},
		datomic.Add{E: datomic.TempID("b"), A: kw("person/name"), V: "Bob"},
		datomic.Add{E: datomic.TempID("b"), A: kw("person/friend"), V: datomic.TempID("a")},
	)
	a, b := rep.Tempids["a"], rep.Tempids["b"]
	require.NotZero(t, a)
	require.NotZero(t, b)
	assert.Equal(t, []any{"Ann"}, current(t, c, a, "person/name"))
	assert.Equal(t, []any{a}, current(t, c, b, "person/friend"))
	rep2 := mustTx(t, c, datomic.Add{E: a, A: kw("person/name"), V: "Anna"})
	assert.Len(t, rep2.TxData, 3)
	txs := logTxs(t, c)
	require.Len(t, txs, 3)
	assert.Equal(t, int64(3), txs[2].T)
	db, _ := c.DB(context.Background())
	old := db.AsOf(2)
	var names []any
	for d, err := range old.Datoms(context.Background(), datomic.EAVT, a, kw("person/name")) {
		require.NoError(t, err)
		names = append(names, d.V)
	}
	assert.Equal(t, []any{"Ann"}, names)
}
