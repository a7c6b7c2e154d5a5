package dcbackup_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/peer"
	"github.com/dcbackup/dcbackup/datomic/peer/peertest"
	"github.com/stretchr/testify/require"
)

// overPeer serves conn through a fake peer-server on loopback HTTPS and
// returns a client connection to it.
func overPeer(t *testing.T, conn datomic.Conn) datomic.Conn {
	t.Helper()
	srv := peertest.NewServer(t, conn)
	c, err := peer.Connect(context.Background(), srv.Config())
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestPeerRoundTripRandomHistories backs up and restores random histories
// with both the source and the target behind the peer-server protocol, so
// that every call the library makes goes over the wire.
func TestPeerRoundTripRandomHistories(t *testing.T) {
	for seed := range uint64(12) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			local := newSource(t, 300+seed, 30, seed%2 == 0)
			src := overPeer(t, local)
			store := dcbackup.NewMemStore()
			bk, err := dcbackup.Backup(ctx, "db", src, store, &dcbackup.BackupOptions{MaxTxPerSegment: 1 + int(seed%7)})
			require.NoError(t, err)
			require.Positive(t, bk.Transactions)

			localTarget := newTarget()
			target := overPeer(t, localTarget)
			rs, err := dcbackup.Restore(ctx, "db", store, target, nil)
			require.NoError(t, err)
			require.Equal(t, bk.Transactions, rs.Transactions)
			// Verified both over the wire and directly.
			requireVerified(t, src, target)
			requireVerified(t, local, localTarget)
		})
	}
}
