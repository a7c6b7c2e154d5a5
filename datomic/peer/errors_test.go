package peer_test

import (
	"context"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/mem"
	"github.com/dcbackup/dcbackup/datomic/peer"
	"github.com/dcbackup/dcbackup/datomic/peer/peertest"
)

func newServer(t *testing.T) (*mem.Conn, *peertest.Server) {
	t.Helper()
	m := mem.New(mem.Options{SharedCounter: true, Clock: fixedClock()})
	return m, peertest.NewServer(t, m)
}

func TestWrongSignatureIsForbidden(t *testing.T) {
	_, srv := newServer(t)
	cfg := srv.Config()
	cfg.Secret = "wrong"
	_, err := peer.Connect(context.Background(), cfg)
	require.Error(t, err)
	assert.ErrorIs(t, err, datomic.ErrForbidden)
	assert.Contains(t, err.Error(), "resolve-db")
	assert.Equal(t, 1, srv.Requests("datomic.catalog/resolve-db"), "forbidden is not retried")

	cfg = srv.Config()
	cfg.AccessKey = "someone-else"
	_, err = peer.Connect(context.Background(), cfg)
	assert.ErrorIs(t, err, datomic.ErrForbidden)
}

func TestUnknownDatabase(t *testing.T) {
	_, srv := newServer(t)
	cfg := srv.Config()
	cfg.DBName = "other"
	_, err := peer.Connect(context.Background(), cfg)
	assert.ErrorIs(t, err, datomic.ErrNotFound)
}

func TestAnomaliesMapToCategories(t *testing.T) {
	cats := []datomic.Category{datomic.CatIncorrect, datomic.CatConflict, datomic.CatNotFound, datomic.CatForbidden,
		datomic.CatUnsupported, datomic.CatFault}
	sentinels := map[datomic.Category]error{
		datomic.CatIncorrect: datomic.ErrIncorrect, datomic.CatConflict: datomic.ErrConflict,
		datomic.CatNotFound: datomic.ErrNotFound, datomic.CatForbidden: datomic.ErrForbidden,
		datomic.CatUnsupported: datomic.ErrUnsupported, datomic.CatFault: datomic.ErrFault,
	}
	e := newEnv(t, nil)
	for _, cat := range cats {
		e.srv.InjectFault("status", 1, peertest.Fault{Category: cat, Message: "boom"})
		_, err := e.conn.DB(context.Background())
		require.Error(t, err)
		assert.ErrorIs(t, err, sentinels[cat], "category %s", cat)
		var de *datomic.Error
		require.True(t, errors.As(err, &de))
		assert.Equal(t, cat, de.Category)
		assert.Contains(t, de.Message, "status")
		assert.Contains(t, de.Message, "boom")
	}
	// A Datomic error code travels as :db/error.
	e.srv.InjectFault("transact", 1, peertest.Fault{Category: datomic.CatConflict, Code: "db.error/unique-conflict"})
	_, err := e.conn.Transact(context.Background(), nil)
	assert.ErrorIs(t, err, datomic.ErrUniqueConflict)
	// Plain HTTP statuses without an anomaly body.
	for status, want := range map[int]error{403: datomic.ErrForbidden, 400: datomic.ErrIncorrect, 500: datomic.ErrFault} {
		e.srv.InjectFault("status", 1, peertest.Fault{Status: status})
		_, err := e.conn.DB(context.Background())
		assert.ErrorIs(t, err, want, "status %d", status)
	}
}

func TestRetriesIdempotentOpsOnly(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	_, err := e.conn.Transact(ctx, schema())
	require.NoError(t, err)
	base := e.srv.Requests("status")

	// Busy: three retries (100, 200, 400 ms in the default policy), then give up.
	e.srv.InjectFault("status", 4, peertest.Fault{Category: datomic.CatBusy})
	_, err = e.conn.DB(ctx)
	assert.ErrorIs(t, err, datomic.ErrBusy)
	assert.Equal(t, base+4, e.srv.Requests("status"))

	// Busy twice, then an answer.
	e.srv.InjectFault("status", 2, peertest.Fault{Category: datomic.CatBusy})
	_, err = e.conn.DB(ctx)
	require.NoError(t, err)
	assert.Equal(t, base+7, e.srv.Requests("status"))

	// Unavailable (anomaly or 503) and interrupted are retried for reads,
	// including a :next chunk in the middle of a tx-range.
	e.srv.InjectFault("tx-range", 1, peertest.Fault{Category: datomic.CatUnavailable})
	e.srv.InjectFault("tx-range", 1, peertest.Fault{Status: 503})
	e.srv.InjectFault("tx-range", 1, peertest.Fault{Category: datomic.CatInterrupted})
	requireSameTxs(t, collectTxs(t, e.mem, 0, 0), collectTxs(t, e.conn, 0, 0))
	assert.Equal(t, 4, e.srv.Requests("tx-range"))

	// Never for transact.
	e.srv.InjectFault("transact", 1, peertest.Fault{Category: datomic.CatUnavailable})
	_, err = e.conn.Transact(ctx, []datomic.Op{datomic.Add{E: datomic.TempID("x"), A: kw("t/string"), V: "x"}})
	assert.ErrorIs(t, err, datomic.ErrUnavailable)
	assert.Contains(t, err.Error(), "transact")
	assert.Equal(t, 2, e.srv.Requests("transact"))
	e.srv.InjectFault("transact", 1, peertest.Fault{Category: datomic.CatBusy})
	_, err = e.conn.Transact(ctx, []datomic.Op{datomic.Add{E: datomic.TempID("x"), A: kw("t/string"), V: "x"}})
	assert.ErrorIs(t, err, datomic.ErrBusy)
	assert.Equal(t, 3, e.srv.Requests("transact"))
}

func TestRetriesAreBounded(t *testing.T) {
	e := newEnv(t, func(c *peer.Config) { c.Retry.UnavailableRetries = 3 })
	e.srv.InjectFault("status", 10, peertest.Fault{Category: datomic.CatUnavailable})
	base := e.srv.Requests("status")
	_, err := e.conn.DB(context.Background())
	assert.ErrorIs(t, err, datomic.ErrUnavailable)
	assert.Equal(t, base+4, e.srv.Requests("status"))
}

func TestMalformedResponses(t *testing.T) {
	e := newEnv(t, func(c *peer.Config) { c.TxRangeChunk = 1 })
	ctx := context.Background()
	_, err := e.conn.Transact(ctx, schema())
	require.NoError(t, err)
	_, err = e.conn.Transact(ctx, []datomic.Op{datomic.Add{E: datomic.TempID("x"), A: kw("t/string"), V: "x"}})
	require.NoError(t, err)

	check := func(t *testing.T, err error, op string) {
		t.Helper()
		require.Error(t, err)
		assert.ErrorIs(t, err, peer.ErrMalformed)
		var de *datomic.Error
		require.True(t, errors.As(err, &de), "%T", err)
		assert.Contains(t, de.Message, op)
	}
	faults := map[string]peertest.Fault{
		"truncated":   {Truncate: true},
		"not transit": {Body: []byte("<html>oops</html>")},
		"not a map":   {Body: []byte(`[1,2,3]`)},
		"bad cache":   {Body: []byte(`["^ ","^5",1]`)},
		"bad datom":   {Body: []byte(`["^ ","~:data",[["^ ","~:t",5,"~:data",[["~#datom",[1,"a",2,3,true]]]]]]`)},
		"no t":        {Body: []byte(`["^ ","~:data",[["^ ","~:data",[]]]]`)},
		"data scalar": {Body: []byte(`["^ ","~:data",5]`)},
	}
	for name, f := range faults {
		t.Run("tx-range "+name, func(t *testing.T) {
			e.srv.InjectFault("tx-range", 1, f)
			var err error
			n := 0
			for _, err = range e.conn.TxRange(ctx, 0, 0) {
				if err != nil {
					break
				}
				n++
			}
			check(t, err, "tx-range")
			assert.Zero(t, n, "nothing yielded before the bad chunk")
		})
	}
	t.Run("next chunk truncated", func(t *testing.T) {
		e.srv.InjectFault("next", 1, peertest.Fault{Truncate: true})
		var err error
		n := 0
		for _, err = range e.conn.TxRange(ctx, 0, 0) {
			if err != nil {
				break
			}
			n++
		}
		check(t, err, "tx-range")
		assert.Equal(t, 1, n, "the first chunk is yielded, then the error")
	})
	t.Run("transact truncated", func(t *testing.T) {
		e.srv.InjectFault("transact", 1, peertest.Fault{Truncate: true})
		_, err := e.conn.Transact(ctx, []datomic.Op{datomic.Add{E: datomic.TempID("y"), A: kw("t/string"), V: "y"}})
		check(t, err, "transact")
	})
	t.Run("status without t", func(t *testing.T) {
		e.srv.InjectFault("status", 1, peertest.Fault{Body: []byte(`["^ ","~:database-id","x"]`)})
		_, err := e.conn.DB(ctx)
		check(t, err, "status")
	})
	t.Run("datoms wrong value type", func(t *testing.T) {
		db, err := e.conn.DB(ctx)
		require.NoError(t, err)
		id, _, err := db.Entid(ctx, kw("t/string"))
		require.NoError(t, err)
		_, _, err = db.Attribute(ctx, id)
		require.NoError(t, err)
		e.srv.InjectFault("datoms", 1, peertest.Fault{Body: []byte(`["^ ","~:data",[["~#datom",[1,` + itoa(int(id)) + `,42,3,true]]]]`)})
		for _, err = range db.Datoms(ctx, datomic.AEVT, kw("t/string")) {
			if err != nil {
				break
			}
		}
		check(t, err, "datoms")
	})
}

func TestTimeoutHonoured(t *testing.T) {
	e := newEnv(t, func(c *peer.Config) { c.Retry.UnavailableRetries = -1 })
	e.srv.InjectFault("status", 1, peertest.Fault{Hang: true})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := e.conn.DB(ctx)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorIs(t, err, datomic.ErrInterrupted)
	assert.Contains(t, err.Error(), "status")
	assert.Less(t, time.Since(start), 10*time.Second)

	// Config.Timeout bounds an operation too. (Long enough for the
	// connection itself to be made on a loaded machine.)
	e2 := newEnv(t, func(c *peer.Config) { c.Timeout = time.Second })
	e2.srv.InjectFault("status", 100, peertest.Fault{Hang: true})
	_, err = e2.conn.DB(context.Background())
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestTLSTrust(t *testing.T) {
	_, srv := newServer(t)
	ctx := context.Background()

	// The default pins Datomic's anchor, which the test server does not use.
	cfg := srv.Config()
	cfg.TLS = peer.TLSConfig{}
	_, err := peer.Connect(ctx, cfg)
	require.Error(t, err)
	assert.ErrorIs(t, err, peer.ErrUntrustedServer)
	assert.ErrorIs(t, err, datomic.ErrForbidden)
	assert.Equal(t, 0, srv.Requests("datomic.catalog/resolve-db"), "nothing is sent to an untrusted server")

	// A wrong pin fails; the right one (any case, with colons) works.
	cfg.TLS = peer.TLSConfig{Fingerprints: []string{peer.DatomicTrustAnchorSHA256}}
	_, err = peer.Connect(ctx, cfg)
	assert.ErrorIs(t, err, peer.ErrUntrustedServer)
	fp := peer.Fingerprint(srv.Certificate())
	var colons string
	for i := 0; i < len(fp); i += 2 {
		if i > 0 {
			colons += ":"
		}
		colons += fp[i : i+2]
	}
	cfg.TLS = peer.TLSConfig{Fingerprints: []string{"00" + fp[2:], upper(colons)}}
	c, err := peer.Connect(ctx, cfg)
	require.NoError(t, err)
	_ = c.Close()

	// A malformed pin is a configuration error.
	cfg.TLS = peer.TLSConfig{Fingerprints: []string{"abc"}}
	_, err = peer.Connect(ctx, cfg)
	assert.Error(t, err)

	// Anchors: the issuer of the server certificate (self-signed here).
	cfg.TLS = peer.TLSConfig{Anchors: []*x509.Certificate{srv.Certificate()}}
	c, err = peer.Connect(ctx, cfg)
	require.NoError(t, err)
	_, _ = c.DB(ctx)
	_ = c.Close()

	// Standard verification with a caller's CA pool and host name check.
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	cfg.TLS = peer.TLSConfig{RootCAs: pool}
	c, err = peer.Connect(ctx, cfg)
	require.NoError(t, err)
	_ = c.Close()
	cfg.TLS = peer.TLSConfig{RootCAs: x509.NewCertPool()}
	_, err = peer.Connect(ctx, cfg)
	assert.ErrorIs(t, err, datomic.ErrForbidden)
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 32
		}
	}
	return string(b)
}

func TestConfigErrors(t *testing.T) {
	ctx := context.Background()
	for name, cfg := range map[string]peer.Config{
		"no endpoint": {DBName: "x"},
		"http":        {Endpoint: "http://localhost:8998", DBName: "x"},
		"no db":       {Endpoint: "localhost:8998"},
		"no host":     {Endpoint: "https://:8998", DBName: "x"},
	} {
		_, err := peer.Connect(ctx, cfg)
		assert.Error(t, err, name)
	}
}
