package benchwork

import (
	"context"
	"fmt"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic"
)

// BackupOneTxSegments backs src up into store as BackupNext called once a
// minute on a quiet database leaves it: one segment per transaction
// (MaxTxPerSegment 1), until the store is up to date. It returns the
// totals of the calls.
func BackupOneTxSegments(ctx context.Context, db string, src datomic.Conn, store dcbackup.BackupStore) (dcbackup.BackupResult, error) {
	var total dcbackup.BackupResult
	opts := &dcbackup.BackupOptions{MaxTxPerSegment: 1}
	for {
		res, err := dcbackup.BackupNext(ctx, db, src, store, opts)
		if err != nil {
			return total, fmt.Errorf("benchwork: one-transaction segments: %w", err)
		}
		total.Segments += res.Segments
		total.Transactions += res.Transactions
		total.Datoms += res.Datoms
		total.Bytes += res.Bytes
		total.EndT = res.EndT
		if !res.More {
			return total, nil
		}
	}
}
