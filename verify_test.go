package dcbackup_test

import (
	"context"
	"iter"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic"
)

// editedLog shows a connection's log through edit, which may change one
// transaction: a damaged copy of a restored target.
type editedLog struct {
	datomic.Conn
	edit func(tx datomic.Tx) datomic.Tx
}

func (c editedLog) TxRange(ctx context.Context, start, end int64) iter.Seq2[datomic.Tx, error] {
	return func(yield func(datomic.Tx, error) bool) {
		for tx, err := range c.Conn.TxRange(ctx, start, end) {
			if err == nil {
				tx = c.edit(tx)
			}
			if !yield(tx, err) {
				return
			}
		}
	}
}

// Verify reports each way a target can differ from its source: a datom
// missing, a datom added, an instant changed, an entity in another
// partition. A Verify that only ever passes would leave every restore test
// green.
func TestVerifyFindsEveryKindOfDifference(t *testing.T) {
	ctx := context.Background()
	store, src := backedUp(t, 100, 40, 5)
	target := newTarget()
	_, err := dcbackup.Restore(ctx, "db", store, target, nil)
	require.NoError(t, err)
	requireVerified(t, src, target)

	tdb, err := target.DB(ctx)
	require.NoError(t, err)
	instAttr, ok, err := tdb.Entid(ctx, "db/txInstant")
	require.NoError(t, err)
	require.True(t, ok)
	// The target transaction to damage: the last one, which the restore
	// wrote from the source's last transaction and which asserts something
	// about an ordinary entity.
	var victim datomic.Tx
	for tx, err := range target.TxRange(ctx, 0, 0) {
		require.NoError(t, err)
		for _, d := range tx.Datoms {
			if d.E != tx.ID() && datomic.Part(d.E) == datomic.PartUser && d.Added {
				victim = tx
			}
		}
	}
	require.NotZero(t, victim.T)
	userDatom := func(tx datomic.Tx) int {
		for i, d := range tx.Datoms {
			if d.E != tx.ID() && datomic.Part(d.E) == datomic.PartUser && d.Added {
				return i
			}
		}
		return -1
	}

	cases := []struct {
		name string
		edit func(tx datomic.Tx) datomic.Tx
		want string
	}{
		{"datom removed", func(tx datomic.Tx) datomic.Tx {
			i := userDatom(tx)
			tx.Datoms = append(append([]datomic.Datom(nil), tx.Datoms[:i]...), tx.Datoms[i+1:]...)
			return tx
		}, "missing from target: "},
		{"datom added", func(tx datomic.Tx) datomic.Tx {
			d := tx.Datoms[userDatom(tx)]
			d.V = datomic.Keyword("db/doc") // a value of another type: surely not in the source
			tx.Datoms = append(append([]datomic.Datom(nil), tx.Datoms...), d)
			return tx
		}, "extra in target: "},
		{"instant changed", func(tx datomic.Tx) datomic.Tx {
			tx.Datoms = append([]datomic.Datom(nil), tx.Datoms...)
			for i, d := range tx.Datoms {
				if d.E == tx.ID() && d.A == instAttr {
					tx.Datoms[i].V = d.V.(time.Time).Add(time.Millisecond)
				}
			}
			return tx
		}, "#inst"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			damaged := editedLog{Conn: target, edit: func(tx datomic.Tx) datomic.Tx {
				if tx.T == victim.T {
					return c.edit(tx)
				}
				return tx
			}}
			rep, err := dcbackup.Verify(ctx, src, damaged, nil)
			require.NoError(t, err)
			require.False(t, rep.OK())
			found := false
			for _, d := range rep.Differences {
				assert.Equal(t, victim.T, d.TargetT, "difference %s", d)
				if strings.Contains(d.What, c.want) {
					found = true
				}
			}
			assert.True(t, found, "%q in %v", c.want, rep.Differences)
		})
	}
}

// An entity restored into another partition than its source's is a
// difference (unless the restore was told to ignore partitions, and Verify
// too).
func TestVerifyFindsEntitiesInAnotherPartition(t *testing.T) {
	ctx := context.Background()
	store, src := backedUp(t, 101, 60, 5)
	target := newTarget()
	_, err := dcbackup.Restore(ctx, "db", store, target, &dcbackup.RestoreOptions{IgnorePartitions: true})
	require.NoError(t, err)
	rep, err := dcbackup.Verify(ctx, src, target, nil)
	require.NoError(t, err)
	require.False(t, rep.OK())
	for _, d := range rep.Differences {
		assert.Contains(t, d.What, "in partition")
	}
	rep, err = dcbackup.Verify(ctx, src, target, &dcbackup.VerifyOptions{IgnorePartitions: true})
	require.NoError(t, err)
	assert.True(t, rep.OK(), "%v", rep.Differences)
}
