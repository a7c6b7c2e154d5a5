package cloud_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/cloud"
)

// liveConfig reads the settings of a live Datomic Cloud system from the
// environment:
//
//	DCBACKUP_CLOUD_ENDPOINT  the system's client endpoint (https URL)
//	DCBACKUP_CLOUD_SYSTEM    the system name
//	DCBACKUP_CLOUD_DB        a database of the system
//	DCBACKUP_CLOUD_REGION    optional: the system's region (default: the
//	                         AWS configuration's)
//	DCBACKUP_CLOUD_WRITE=1   optional: also run the transact test, which
//	                         installs an attribute in the database
//
// AWS credentials that may read the system's keyfiles come from the usual
// places (environment, shared files, SSO, instance role).
func liveConfig(t *testing.T) cloud.Config {
	t.Helper()
	cfg := cloud.Config{
		Endpoint:     os.Getenv("DCBACKUP_CLOUD_ENDPOINT"),
		System:       os.Getenv("DCBACKUP_CLOUD_SYSTEM"),
		DBName:       os.Getenv("DCBACKUP_CLOUD_DB"),
		Region:       os.Getenv("DCBACKUP_CLOUD_REGION"),
		TxRangeChunk: 50,
	}
	if cfg.Endpoint == "" || cfg.System == "" || cfg.DBName == "" {
		t.Skip("live Datomic Cloud test skipped: set DCBACKUP_CLOUD_ENDPOINT, DCBACKUP_CLOUD_SYSTEM and " +
			"DCBACKUP_CLOUD_DB (and AWS credentials that may read the system's keyfiles) to run it against a real system")
	}
	aws, err := config.LoadDefaultConfig(context.Background())
	require.NoError(t, err)
	cfg.AWS = aws
	return cfg
}

func TestLiveCloudRead(t *testing.T) {
	liveRead(t, liveConfig(t))
}

func TestLiveCloudTransact(t *testing.T) {
	cfg := liveConfig(t)
	if os.Getenv("DCBACKUP_CLOUD_WRITE") != "1" {
		t.Skip("live Cloud transact test skipped: set DCBACKUP_CLOUD_WRITE=1 to let it install an attribute")
	}
	liveTransact(t, cfg)
}

// TestLiveBodiesAgainstFake runs the live tests' bodies against the fake
// system, so that they are known to work before they meet a real one.
func TestLiveBodiesAgainstFake(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	_, err := e.mem.Transact(ctx, schema())
	require.NoError(t, err)
	for i := range 120 {
		_, err := e.mem.Transact(ctx, []datomic.Op{datomic.EntityMap{"t/long": int64(i)}})
		require.NoError(t, err)
	}
	cfg := e.cfg
	cfg.TxRangeChunk = 50
	liveRead(t, cfg)
	liveTransact(t, cfg)
}

func liveRead(t *testing.T, cfg cloud.Config) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := cloud.Connect(ctx, cfg)
	require.NoError(t, err)
	defer conn.Close()
	id, err := conn.DatabaseID(ctx)
	require.NoError(t, err)
	t.Logf("connected to %s, :database-id %s", cfg.DBName, id)

	db, err := conn.DB(ctx)
	require.NoError(t, err)
	t.Logf("basis t %d", db.BasisT())
	for _, ident := range []datomic.Keyword{"db/ident", "db/txInstant", "db/valueType"} {
		a, ok, err := db.Attribute(ctx, ident)
		require.NoError(t, err)
		require.True(t, ok, "attribute %v", ident)
		assert.Equal(t, ident, a.Ident)
	}
	txInstant, _, err := db.Entid(ctx, "db/txInstant")
	require.NoError(t, err)

	n := 0
	var last int64
	for tx, err := range conn.TxRange(ctx, 0, 0) {
		require.NoError(t, err)
		if n == 0 {
			t.Logf("the log starts at t %d", tx.T)
		} else {
			assert.Equal(t, last+1, tx.T, "Datomic Cloud's t has no gaps")
		}
		last = tx.T
		found := false
		for _, d := range tx.Datoms {
			if d.E == tx.ID() && d.A == txInstant {
				var inst time.Time
				inst, found = d.V.(time.Time)
				if tx.T <= 5 {
					t.Logf("t %d: %d datoms, :db/txInstant %s", tx.T, len(tx.Datoms), inst.Format(time.RFC3339Nano))
				}
			}
		}
		assert.True(t, found, "tx %d has a txInstant", tx.T)
		if n++; n == 200 {
			break // several chunks of 50
		}
	}
	t.Logf("read %d transactions of the log, last t %d", n, last)
}

func liveTransact(t *testing.T, cfg cloud.Config) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := cloud.Connect(ctx, cfg)
	require.NoError(t, err)
	defer conn.Close()

	ident := datomic.Keyword(fmt.Sprintf("dcbackup.livetest/attr-%d", time.Now().UnixNano()))
	rep, err := conn.Transact(ctx, []datomic.Op{datomic.EntityMap{
		"db/ident":       ident,
		"db/valueType":   datomic.Keyword("db.type/string"),
		"db/cardinality": datomic.Keyword("db.cardinality/one"),
		"db/doc":         "installed by the dcbackup live Datomic Cloud test",
	}})
	require.NoError(t, err)
	assert.Equal(t, rep.BasisBefore+1, rep.BasisAfter)

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
	t.Logf("new entity id %d (partition %d)", rep2.Tempids["e"], datomic.Part(rep2.Tempids["e"]))

	var got []datomic.Tx
	for tx, err := range conn.TxRange(ctx, rep.BasisAfter, 0) {
		require.NoError(t, err)
		got = append(got, tx)
	}
	require.GreaterOrEqual(t, len(got), 2)
	assert.Equal(t, rep2.BasisAfter, got[1].T)
	requireSameDatoms(t, rep2.TxData, got[1].Datoms)
}
