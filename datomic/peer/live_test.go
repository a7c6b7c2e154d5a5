package peer_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/peer"
)

// liveConfig reads the settings of a live peer-server from the environment:
//
//	DCBACKUP_PEER_ENDPOINT     host:port of the peer-server
//	DCBACKUP_PEER_ACCESS_KEY   the -a key
//	DCBACKUP_PEER_SECRET       the -a secret
//	DCBACKUP_PEER_DB           a database name served with -d
//	DCBACKUP_PEER_FINGERPRINT  optional: SHA-256 fingerprint to pin instead
//	                           of Datomic's built-in anchor
//	DCBACKUP_PEER_ANCHOR_PEM   optional: PEM file of a trust anchor
//	                           (e.g. transactor-trust.pem)
//	DCBACKUP_PEER_WRITE=1      optional: also run the transact test, which
//	                           installs an attribute in the database
func liveConfig(t *testing.T) peer.Config {
	t.Helper()
	cfg := peer.Config{
		Endpoint:     os.Getenv("DCBACKUP_PEER_ENDPOINT"),
		AccessKey:    os.Getenv("DCBACKUP_PEER_ACCESS_KEY"),
		Secret:       os.Getenv("DCBACKUP_PEER_SECRET"),
		DBName:       os.Getenv("DCBACKUP_PEER_DB"),
		TxRangeChunk: 50,
	}
	if cfg.Endpoint == "" || cfg.AccessKey == "" || cfg.Secret == "" || cfg.DBName == "" {
		t.Skip("live peer-server test skipped: set DCBACKUP_PEER_ENDPOINT, DCBACKUP_PEER_ACCESS_KEY, " +
			"DCBACKUP_PEER_SECRET and DCBACKUP_PEER_DB to run it against a real Datomic peer-server")
	}
	if fp := os.Getenv("DCBACKUP_PEER_FINGERPRINT"); fp != "" {
		cfg.TLS.Fingerprints = []string{fp}
	}
	if path := os.Getenv("DCBACKUP_PEER_ANCHOR_PEM"); path != "" {
		raw, err := os.ReadFile(path)
		require.NoError(t, err)
		for {
			var block *pem.Block
			block, raw = pem.Decode(raw)
			if block == nil {
				break
			}
			cert, err := x509.ParseCertificate(block.Bytes)
			require.NoError(t, err)
			cfg.TLS.Anchors = append(cfg.TLS.Anchors, cert)
		}
	}
	return cfg
}

func TestLivePeerServerRead(t *testing.T) {
	liveRead(t, liveConfig(t))
}

func TestLivePeerServerTransact(t *testing.T) {
	cfg := liveConfig(t)
	if os.Getenv("DCBACKUP_PEER_WRITE") != "1" {
		t.Skip("live transact test skipped: set DCBACKUP_PEER_WRITE=1 to let it install an attribute")
	}
	liveTransact(t, cfg)
}

// TestLiveBodiesAgainstFake runs the live tests' bodies against the fake
// server, so that they are known to work before they meet a real one.
func TestLiveBodiesAgainstFake(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	_, err := e.mem.Transact(ctx, schema())
	require.NoError(t, err)
	for i := range 120 {
		_, err := e.mem.Transact(ctx, []datomic.Op{datomic.Add{E: datomic.TempID("x"), A: kw("t/long"), V: int64(i)}})
		require.NoError(t, err)
	}
	cfg := e.srv.Config()
	cfg.TxRangeChunk = 50
	cfg.DatomsChunk = 1000
	liveRead(t, cfg)
	liveTransact(t, cfg)
}

func liveRead(t *testing.T, cfg peer.Config) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := peer.Connect(ctx, cfg)
	require.NoError(t, err)
	defer conn.Close()
	t.Logf("connected to %s", mustID(t, conn))

	db, err := conn.DB(ctx)
	require.NoError(t, err)
	t.Logf("basis t %d", db.BasisT())

	for _, ident := range []datomic.Keyword{"db/ident", "db/txInstant", "db/valueType"} {
		a, ok, err := db.Attribute(ctx, ident)
		require.NoError(t, err)
		require.True(t, ok, "attribute %v", ident)
		assert.Equal(t, ident, a.Ident)
		name, ok, err := db.Ident(ctx, a.ID)
		require.NoError(t, err)
		assert.True(t, ok)
		assert.Equal(t, ident, name)
	}
	txInstant, _, err := db.Entid(ctx, "db/txInstant")
	require.NoError(t, err)

	n := 0
	for d, err := range db.Datoms(ctx, datomic.AEVT, datomic.Keyword("db/ident")) {
		require.NoError(t, err)
		_, ok := d.V.(datomic.Keyword)
		assert.True(t, ok, "ident value %T", d.V)
		if n++; n == 2500 {
			break // more than two chunks
		}
	}
	t.Logf("read %d ident datoms", n)

	n = 0
	var last int64
	for tx, err := range conn.TxRange(ctx, 0, 0) {
		require.NoError(t, err)
		assert.Greater(t, tx.T, last)
		last = tx.T
		found := false
		for _, d := range tx.Datoms {
			if d.E == tx.ID() && d.A == txInstant {
				_, found = d.V.(time.Time)
			}
		}
		assert.True(t, found, "tx %d has a txInstant", tx.T)
		if n++; n == 200 {
			break // several chunks of 50
		}
	}
	t.Logf("read %d transactions of the log, last t %d", n, last)
}

func liveTransact(t *testing.T, cfg peer.Config) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := peer.Connect(ctx, cfg)
	require.NoError(t, err)
	defer conn.Close()

	ident := datomic.Keyword(fmt.Sprintf("dcbackup.livetest/attr-%d", time.Now().UnixNano()))
	rep, err := conn.Transact(ctx, []datomic.Op{datomic.EntityMap{
		"db/ident":       ident,
		"db/valueType":   datomic.Keyword("db.type/string"),
		"db/cardinality": datomic.Keyword("db.cardinality/one"),
		"db/doc":         "installed by the dcbackup live peer-server test",
	}})
	require.NoError(t, err)
	assert.Greater(t, rep.BasisAfter, rep.BasisBefore)

	// An explicit instant just after the previous transaction's.
	var inst time.Time
	for _, d := range rep.TxData {
		if d.E == rep.TxID() {
			if v, ok := d.V.(time.Time); ok {
				inst = v.Add(time.Millisecond)
			}
		}
	}
	require.False(t, inst.IsZero(), "schema transaction has a txInstant")
	rep2, err := conn.Transact(ctx, []datomic.Op{
		datomic.Add{E: datomic.TxTempID, A: datomic.Keyword("db/txInstant"), V: inst},
		datomic.Add{E: datomic.TempID("e"), A: ident, V: "~tilde ^caret"},
	})
	require.NoError(t, err)
	require.Contains(t, rep2.Tempids, datomic.TempID("e"))
	for _, d := range rep2.TxData {
		if d.E == rep2.TxID() {
			assert.Equal(t, inst, d.V, "explicit txInstant kept")
		}
	}

	var got []datomic.Tx
	for tx, err := range conn.TxRange(ctx, rep.BasisAfter, 0) {
		require.NoError(t, err)
		got = append(got, tx)
	}
	require.GreaterOrEqual(t, len(got), 2)
	assert.Equal(t, rep2.BasisAfter, got[1].T)
	requireSameDatoms(t, rep2.TxData, got[1].Datoms)
}
