package cloud_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/cloud"
	"github.com/dcbackup/dcbackup/datomic/mem"
	"github.com/dcbackup/dcbackup/datomic/peer/peertest"
	"github.com/dcbackup/dcbackup/internal/s3test"
)

// BenchmarkTxRange reads a log of 200 transactions of 50 entities (about
// 20k datoms) from the fake Cloud system over loopback HTTPS, as
// datomic/peer's benchmark of the same name does from the fake
// peer-server. The fake reads the keyfile from S3 for every request it
// checks (the client once), so the figure includes one S3 read per chunk.
func BenchmarkTxRange(b *testing.B) {
	ctx := context.Background()
	m := mem.New(mem.Options{Cloud: true})
	_, err := m.Transact(ctx, schema())
	require.NoError(b, err)
	for i := range 200 {
		ops := make([]datomic.Op, 0, 50)
		for j := range 50 {
			ops = append(ops, datomic.EntityMap{"t/string": "entity-" + strconv.Itoa(i*50+j), "t/long": int64(j)})
		}
		_, err := m.Transact(ctx, ops)
		require.NoError(b, err)
	}
	s3c := s3test.NewClient(b)
	srv := peertest.NewCloudServer(b, m, peertest.Options{Cloud: peertest.CloudOptions{S3: s3c, Bucket: s3test.NewBucket(b, s3c)}})
	conn, err := cloud.Connect(ctx, srv.CloudConfig())
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
