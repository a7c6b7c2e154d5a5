package peer_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/mem"
	"github.com/dcbackup/dcbackup/datomic/peer"
	"github.com/dcbackup/dcbackup/datomic/peer/peertest"
)

// BenchmarkTxRange reads a log of 200 transactions of 50 entities (about
// 20k datoms) through the fake server over loopback HTTPS.
func BenchmarkTxRange(b *testing.B) {
	ctx := context.Background()
	m := mem.New(mem.Options{SharedCounter: true})
	_, err := m.Transact(ctx, schema())
	require.NoError(b, err)
	for i := range 200 {
		ops := make([]datomic.Op, 0, 50)
		for j := range 50 {
			ops = append(ops, datomic.EntityMap{"t/string": "entity-" + itoa(i*50+j), "t/long": int64(j)})
		}
		_, err := m.Transact(ctx, ops)
		require.NoError(b, err)
	}
	srv := peertest.NewServer(b, m)
	conn, err := peer.Connect(ctx, srv.Config())
	require.NoError(b, err)
	defer conn.Close()
	datoms := 0
	for b.Loop() {
		datoms = 0
		for tx, err := range conn.TxRange(ctx, 0, 0) {
			if err != nil {
				b.Fatal(err)
			}
			datoms += len(tx.Datoms)
		}
	}
	b.ReportMetric(float64(datoms)*float64(b.N)/b.Elapsed().Seconds(), "datoms/s")
}
