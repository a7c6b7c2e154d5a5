package cloud_test

import (
	"context"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/cloud"
	"github.com/dcbackup/dcbackup/datomic/mem"
)

// TestConnect checks what a connection tells and what it sent to get it.
func TestConnect(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()

	id, err := e.conn.DatabaseID(ctx)
	require.NoError(t, err)
	memID, _ := e.mem.DatabaseID(ctx)
	assert.Equal(t, memID, id, ":database-id is the served database's")
	assert.Equal(t, "test", e.conn.DBName())
	limits, err := e.conn.Limits(ctx)
	require.NoError(t, err)
	assert.Equal(t, mem.CloudLimits(), limits, "the client and the in-memory Cloud mode agree")
	db, err := e.conn.DB(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(5), db.BasisT(), "a fresh database holds the bootstrap transactions")

	assert.Equal(t, 1, e.srv.Requests("GET /"))
	assert.Equal(t, 1, e.srv.Requests("datomic.catalog/resolve-db"))
	h := e.srv.Header("status")
	require.NotNil(t, h)
	assert.Equal(t, "application/transit+json", h.Get("Content-Type"))
	assert.Equal(t, "application/transit+json", h.Get("Accept"))
	assert.Equal(t, "datomic.client.protocol/status", h.Get("X-Nano-Op"))
	assert.Equal(t, id, h.Get("X-Nano-Target"))
	assert.Equal(t, h.Get("Authorization"), h.Get("X-Cognitect-Auth"))
	assert.Equal(t, h.Get("Host"), h.Get("X-Cognitect-Host"))
	assert.Regexp(t, `^127\.0\.0\.1:\d+$`, h.Get("Host"), "the port is part of the host")
	auth := h.Get("Authorization")
	cred, ok := strings.CutPrefix(auth, "AWS4-HMAC-SHA256 Credential=")
	require.True(t, ok, auth)
	assert.True(t, isS3Key(cred), auth)
	wantKey := strings.ReplaceAll("s3://"+e.srv.AuthPath()+"/test-system/datomic/access/dbs/db/test/read/", "/", `\`)
	assert.True(t, strings.HasPrefix(cred, wantKey), "%s does not start with %s", cred, wantKey)
	assert.Contains(t, auth, "/us-east-1/datomic/aws4_request, SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-target, Signature=")
	assert.Empty(t, e.srv.Header("datomic.catalog/resolve-db").Get("X-Nano-Target"))
}

// TestLogAndTransact writes every value type through the client and reads
// the log back, bootstrap transactions included.
func TestLogAndTransact(t *testing.T) {
	e := newEnv(t, func(c *cloud.Config) { c.TxRangeChunk = 3 })
	ctx := context.Background()
	rep, err := e.conn.Transact(ctx, schema())
	require.NoError(t, err)
	assert.Equal(t, int64(6), rep.BasisAfter, "the first user transaction is t 6")

	u, _ := datomic.ParseUUID("5f0c4d5e-1b7a-4c5d-9e8f-0123456789ab")
	dec, _ := datomic.ParseBigDec("1.50")
	huge, _ := new(big.Int).SetString("123456789012345678901234567890", 10)
	rep, err = e.conn.Transact(ctx, []datomic.Op{
		datomic.EntityMap{
			"db/id":       datomic.TempID("ann"),
			"t/string":    "~Ann^",
			"t/long":      int64(1) << 60,
			"t/float":     float32(0.1),
			"t/double":    2.5,
			"t/bigint":    huge,
			"t/bigdec":    dec,
			"t/instant":   time.Date(1970, 1, 1, 0, 0, 0, 5e6, time.UTC),
			"t/uuid":      u,
			"t/uri":       datomic.URI("https://example.com/"),
			"t/keyword":   []any{kw("a/b"), kw("c")},
			"t/symbol":    datomic.Symbol("sym"),
			"t/boolean":   false,
			"t/ref":       []any{datomic.TempID("bob")},
			"t/component": datomic.EntityMap{"t/string": "part"},
			"t/pair":      datomic.Tuple{int64(1), int64(2)},
			"t/mixed":     datomic.Tuple{"x", 1.25},
		},
		datomic.Add{E: datomic.TempID("bob"), A: kw("t/string"), V: "Bob"},
	})
	require.NoError(t, err)
	assert.Equal(t, int64(7), rep.BasisAfter, "t has no gaps")
	ann := rep.Tempids["ann"]
	assert.NotEqual(t, datomic.PartUser, datomic.Part(ann), "Cloud places entities itself")

	requireSameTxs(t, collectTxs(t, e.mem, 0, 0), collectTxs(t, e.conn, 0, 0))
	boot := collectTxs(t, e.conn, 0, 6)
	require.Len(t, boot, 5)
	for i, tx := range boot {
		assert.Equal(t, int64(i+1), tx.T)
	}

	// Reads by the DB value, with a lookup ref.
	db, err := e.conn.DB(ctx)
	require.NoError(t, err)
	var names []any
	for d, err := range db.Datoms(ctx, datomic.EAVT, datomic.LookupRef{A: kw("t/string"), V: "Bob"}, kw("t/string")) {
		require.NoError(t, err)
		names = append(names, d.V)
	}
	assert.Equal(t, []any{"Bob"}, names)
	a, ok, err := db.Attribute(ctx, kw("t/mixed"))
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, []datomic.ValueType{datomic.TypeString, datomic.TypeDouble}, a.TupleTypes)
	n := 0
	for _, err := range db.IndexRange(ctx, kw("t/long"), nil, nil) {
		require.NoError(t, err)
		n++
	}
	assert.Equal(t, 1, n)

	// What Cloud refuses travels back as the database's error.
	_, err = e.conn.Transact(ctx, []datomic.Op{attr("t/bytes", "bytes", "one")})
	assert.ErrorIs(t, err, datomic.ErrNotAnEntity)
	assert.Contains(t, err.Error(), "cloud transact")
}

// TestKeysAreCached: each keyfile is read once for any number of requests.
func TestKeysAreCached(t *testing.T) {
	e := newEnv(t, func(c *cloud.Config) { c.TxRangeChunk = 1 })
	ctx := context.Background()
	_, err := e.conn.Transact(ctx, schema())
	require.NoError(t, err)
	for i := range 5 {
		_, err := e.conn.Transact(ctx, []datomic.Op{datomic.EntityMap{"t/long": int64(i)}})
		require.NoError(t, err)
	}
	assert.Len(t, collectTxs(t, e.conn, 0, 0), 11)
	assert.Greater(t, e.srv.Requests("next"), 9)
	assert.Equal(t, 1, e.reads(cloud.KindDBRead, "test"))
	assert.Equal(t, 1, e.reads(cloud.KindDBWrite, "test"))
	assert.Equal(t, 0, e.reads(cloud.KindAdmin, ""))
}

// TestKeyRotationDuringTxRange rotates the read key twice in the middle of
// a long log read: each time the refused request is sent again with the
// new key, and the read goes on where it was.
func TestKeyRotationDuringTxRange(t *testing.T) {
	e := newEnv(t, func(c *cloud.Config) { c.TxRangeChunk = 7 })
	ctx := context.Background()
	_, err := e.mem.Transact(ctx, schema())
	require.NoError(t, err)
	for i := range 300 {
		_, err := e.mem.Transact(ctx, []datomic.Op{datomic.EntityMap{"t/string": "s" + itoa(i), "t/long": int64(i)}})
		require.NoError(t, err)
	}
	var got []datomic.Tx
	for tx, err := range e.conn.TxRange(ctx, 0, 0) {
		require.NoError(t, err)
		got = append(got, tx)
		if len(got) == 100 || len(got) == 200 {
			require.NoError(t, e.srv.RotateKey(ctx, cloud.KindDBRead, "test"))
		}
	}
	requireSameTxs(t, collectTxs(t, e.mem, 0, 0), got)
	assert.Equal(t, 3, e.reads(cloud.KindDBRead, "test"), "read at connect and after each rotation")
	// 306 transactions in chunks of 7: 44 chunks, 43 of them :next, and
	// two :next refused once each.
	assert.Equal(t, 1, e.srv.Requests("tx-range"))
	assert.Equal(t, 43+2, e.srv.Requests("next"))
}

// TestKeyRotationDuringTransacts rotates the write key twice during a
// series of transactions: every transaction is applied exactly once.
func TestKeyRotationDuringTransacts(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	_, err := e.conn.Transact(ctx, schema())
	require.NoError(t, err)
	for i := range 30 {
		if i == 10 || i == 20 {
			require.NoError(t, e.srv.RotateKey(ctx, cloud.KindDBWrite, "test"))
		}
		rep, err := e.conn.Transact(ctx, []datomic.Op{datomic.EntityMap{"t/string": "s" + itoa(i)}})
		require.NoError(t, err)
		assert.Equal(t, int64(7+i), rep.BasisAfter)
	}
	txs := userTxs(t, e.mem)
	require.Len(t, txs, 31, "schema and 30 transactions, none twice")
	assert.Equal(t, 31+2, e.srv.Requests("transact"), "two refused once")
	assert.Equal(t, 3, e.reads(cloud.KindDBWrite, "test"))
	assert.Equal(t, 1, e.reads(cloud.KindDBRead, "test"), "the read key did not change")
}

// TestKeyRotationUnderConcurrentReads: requests in flight when the key
// changes each get through, and the keyfile is read again a bounded number
// of times.
func TestKeyRotationUnderConcurrentReads(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 8*20)
	start := make(chan struct{})
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for range 20 {
				if _, err := e.conn.DB(ctx); err != nil {
					errs <- err
				}
			}
		}()
	}
	close(start)
	require.NoError(t, e.srv.RotateKey(ctx, cloud.KindDBRead, "test"))
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	reads := e.reads(cloud.KindDBRead, "test")
	assert.GreaterOrEqual(t, reads, 1)
	assert.LessOrEqual(t, reads, 1+8, "at most one re-read per refused request in flight")
	_, err := e.conn.DB(ctx)
	require.NoError(t, err)
}

// TestForbiddenWithUnchangedKey: a 403 after which the keyfile holds the
// same key is final, for reads and transactions.
func TestForbiddenWithUnchangedKey(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	_, err := e.conn.Transact(ctx, schema())
	require.NoError(t, err)
	before := len(userTxs(t, e.mem))

	e.srv.InjectFault("transact", 1, peertestForbidden)
	_, err = e.conn.Transact(ctx, []datomic.Op{datomic.EntityMap{"t/string": "x"}})
	require.Error(t, err)
	assert.ErrorIs(t, err, datomic.ErrForbidden)
	assert.Contains(t, err.Error(), "cloud transact")
	assert.Equal(t, 2, e.srv.Requests("transact"), "sent once")
	assert.Equal(t, 2, e.reads(cloud.KindDBWrite, "test"), "the keyfile was read again")
	assert.Len(t, userTxs(t, e.mem), before)

	statusBefore := e.srv.Requests("status")
	e.srv.InjectFault("status", 1, peertestForbidden)
	_, err = e.conn.DB(ctx)
	assert.ErrorIs(t, err, datomic.ErrForbidden)
	assert.Equal(t, statusBefore+1, e.srv.Requests("status"))

	// A key that changed is retried once only: a second refusal is final.
	require.NoError(t, e.srv.RotateKey(ctx, cloud.KindDBWrite, "test"))
	e.srv.InjectFault("transact", 1, peertestForbidden) // taken by the retry, which passes the signature check
	_, err = e.conn.Transact(ctx, []datomic.Op{datomic.EntityMap{"t/string": "y"}})
	assert.ErrorIs(t, err, datomic.ErrForbidden)
	assert.Equal(t, 4, e.srv.Requests("transact"), "the stale request and one retry")
	assert.Len(t, userTxs(t, e.mem), before)
	// The new key is kept.
	_, err = e.conn.Transact(ctx, []datomic.Op{datomic.EntityMap{"t/string": "z"}})
	require.NoError(t, err)
	assert.Equal(t, 5, e.srv.Requests("transact"))
}

// TestDatabaseNotFound: a database without keyfiles does not exist; the
// error names it and nothing is sent to the endpoint for it.
func TestDatabaseNotFound(t *testing.T) {
	e := newEnv(t, nil)
	cfg := e.cfg
	cfg.DBName = "nope"
	_, err := cloud.Connect(context.Background(), cfg)
	require.Error(t, err)
	assert.ErrorIs(t, err, datomic.ErrNotFound)
	assert.Contains(t, err.Error(), `database "nope" not found`)
	assert.Contains(t, err.Error(), "dbs/db/nope/read/.keys")
	assert.Equal(t, 1, e.srv.Requests("datomic.catalog/resolve-db"), "only the first connection's")

	cfg.DBName = "a/b"
	_, err = cloud.Connect(context.Background(), cfg)
	assert.ErrorIs(t, err, datomic.ErrIncorrect)
}

// TestRetriesReadsOnly: busy and unavailable answers are retried for
// reads, never for a transaction.
func TestRetriesReadsOnly(t *testing.T) {
	e := newEnv(t, func(c *cloud.Config) { c.TxRangeChunk = 2 })
	ctx := context.Background()
	_, err := e.conn.Transact(ctx, schema())
	require.NoError(t, err)

	base := e.srv.Requests("status")
	e.srv.InjectFault("status", 2, peertestBusy)
	_, err = e.conn.DB(ctx)
	require.NoError(t, err)
	assert.Equal(t, base+3, e.srv.Requests("status"))

	e.srv.InjectFault("tx-range", 1, peertestUnavailable)
	e.srv.InjectFault("next", 1, peertestUnavailable)
	e.srv.InjectFault("next", 1, peertestBusy)
	requireSameTxs(t, collectTxs(t, e.mem, 0, 0), collectTxs(t, e.conn, 0, 0))

	tx := e.srv.Requests("transact")
	e.srv.InjectFault("transact", 1, peertestUnavailable)
	_, err = e.conn.Transact(ctx, []datomic.Op{datomic.EntityMap{"t/string": "x"}})
	assert.ErrorIs(t, err, datomic.ErrUnavailable)
	e.srv.InjectFault("transact", 1, peertestBusy)
	_, err = e.conn.Transact(ctx, []datomic.Op{datomic.EntityMap{"t/string": "x"}})
	assert.ErrorIs(t, err, datomic.ErrBusy)
	assert.Equal(t, tx+2, e.srv.Requests("transact"))
	assert.Len(t, userTxs(t, e.mem), 1)
}

// TestCatalog lists, creates and deletes databases with the admin and
// catalog keys.
func TestCatalog(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	cl, err := cloud.NewClient(ctx, e.cfg)
	require.NoError(t, err)
	defer cl.Close()

	names, err := cl.ListDatabases(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"test"}, names)
	require.NoError(t, cl.CreateDatabase(ctx, "other"))
	names, err = cl.ListDatabases(ctx)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"test", "other"}, names)
	assert.Equal(t, 1, e.reads(cloud.KindAdmin, ""), "")
	assert.Equal(t, "datomic.catalog/create-db", e.srv.Header("datomic.catalog/create-db").Get("X-Nano-Op"))

	other, err := cl.Connect(ctx, "other")
	require.NoError(t, err)
	db, err := other.DB(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(5), db.BasisT())
	rep, err := other.Transact(ctx, []datomic.Op{attr("o/name", "string", "one")})
	require.NoError(t, err)
	assert.Equal(t, int64(6), rep.BasisAfter)
	otherID, _ := other.DatabaseID(ctx)
	testID, _ := e.conn.DatabaseID(ctx)
	assert.NotEqual(t, testID, otherID)

	err = cl.CreateDatabase(ctx, "other")
	assert.ErrorIs(t, err, datomic.ErrConflict)

	require.NoError(t, cl.DeleteDatabase(ctx, "other"))
	_, err = cl.Connect(ctx, "other")
	assert.ErrorIs(t, err, datomic.ErrNotFound)

	// create-db is never sent twice.
	e.srv.InjectFault("datomic.catalog/create-db", 1, peertestUnavailable)
	err = cl.CreateDatabase(ctx, "third")
	assert.ErrorIs(t, err, datomic.ErrUnavailable)
	assert.Equal(t, 3, e.srv.Requests("datomic.catalog/create-db"))
}

func itoa(i int) string { return big.NewInt(int64(i)).String() }
