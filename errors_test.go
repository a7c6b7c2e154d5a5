package dcbackup_test

import (
	"context"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic"
)

// loadFailingStore fails every Load with a store error.
type loadFailingStore struct{ dcbackup.BackupStore }

var errDiskGone = errors.New("input/output error")

func (loadFailingStore) Load(context.Context, string, dcbackup.SegmentInfo) ([]byte, error) {
	return nil, errDiskGone
}

// Every error states each fact once: one "dcbackup:" prefix, each range
// and the database name at most once.
func TestErrorsStateEachFactOnce(t *testing.T) {
	ctx := testCtx(t)
	store, src := backedUp(t, 180, 30, 5)
	segs, err := store.List(ctx, "db", 0)
	require.NoError(t, err)
	corrupt := copySegments(t, store, "db", func(i int, _ dcbackup.SegmentInfo, data []byte) []byte {
		if i == 1 {
			data[len(data)/2] ^= 1
		}
		return data
	})
	gappy := copySegments(t, store, "db", func(i int, _ dcbackup.SegmentInfo, data []byte) []byte {
		if i == 2 {
			return nil
		}
		return data
	})
	misplaced := copySegments(t, store, "other", nil)
	fs, err := dcbackup.NewFSStore(t.TempDir())
	require.NoError(t, err)
	_, err = dcbackup.Backup(ctx, "db", src, fs, &dcbackup.BackupOptions{MaxTxPerSegment: 5})
	require.NoError(t, err)
	fsSegs, err := fs.List(ctx, "db", 0)
	require.NoError(t, err)
	require.NoError(t, os.Remove(fs.Path("db", fsSegs[1])))
	require.NoError(t, os.Mkdir(fs.Path("db", fsSegs[1]), 0o755))
	id, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	other, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	sealed := dcbackup.NewMemStore()
	_, err = dcbackup.Backup(ctx, "db", src, sealed, &dcbackup.BackupOptions{Encode: dcbackup.EncodeOptions{Recipients: []age.Recipient{id.Recipient()}}})
	require.NoError(t, err)
	stranger, _ := historyConn(t, "", 181, 40)
	modified := newTarget()
	_, err = dcbackup.RestoreSegment(ctx, "db", store, modified, nil)
	require.NoError(t, err)
	_, err = modified.Transact(ctx, []datomic.Op{datomic.Add{E: datomic.TempID("x"), A: datomic.Keyword("db/doc"), V: "foreign"}})
	require.NoError(t, err)

	cases := map[string]func() error{
		"corrupt segment": func() error { _, err := dcbackup.Restore(ctx, "db", corrupt, newTarget(), nil); return err },
		"gap":             func() error { _, err := dcbackup.Restore(ctx, "db", gappy, newTarget(), nil); return err },
		"invalid name":    func() error { _, err := dcbackup.Backup(ctx, "bad name/x", src, store, nil); return err },
		"invalid name, restore": func() error {
			_, err := dcbackup.Restore(ctx, "bad name/x", store, newTarget(), nil)
			return err
		},
		"store fails": func() error {
			_, err := dcbackup.Restore(ctx, "db", loadFailingStore{store}, newTarget(), nil)
			return err
		},
		"store fails, backup": func() error { _, err := dcbackup.Repair(ctx, "db", src, loadFailingStore{store}, nil); return err },
		"segment of another database": func() error {
			_, err := dcbackup.Restore(ctx, "other", misplaced, newTarget(), nil)
			return err
		},
		"directory in place": func() error { _, err := dcbackup.Restore(ctx, "db", fs, newTarget(), nil); return err },
		"no key":             func() error { _, err := dcbackup.Restore(ctx, "db", sealed, newTarget(), nil); return err },
		"wrong key": func() error {
			_, err := dcbackup.Restore(ctx, "db", sealed, newTarget(), &dcbackup.RestoreOptions{Decode: dcbackup.DecodeOptions{Identities: []age.Identity{other}}})
			return err
		},
		"another source":  func() error { _, err := dcbackup.BackupNext(ctx, "db", stranger, store, nil); return err },
		"target modified": func() error { _, err := dcbackup.Restore(ctx, "db", store, modified, nil); return err },
		"no segments":     func() error { _, err := dcbackup.Restore(ctx, "nothing", store, newTarget(), nil); return err },
		"nil connection":  func() error { _, err := dcbackup.BackupNext(ctx, "db", nil, store, nil); return err },
		"nil store":       func() error { _, err := dcbackup.Restore(ctx, "db", nil, newTarget(), nil); return err },
		"check":           func() error { _, err := dcbackup.Check(ctx, "nothing", store, nil); return err },
		"compact":         func() error { _, err := dcbackup.Compact(ctx, "db", plainStore{store}, nil); return err },
	}
	ranges := regexp.MustCompile(`\[\d+, \d+\)`)
	for name, call := range cases {
		err := call()
		require.Error(t, err, name)
		msg := err.Error()
		assert.Equal(t, 1, strings.Count(msg, "dcbackup:"), "%s: one prefix: %s", name, msg)
		seen := map[string]bool{}
		for _, r := range ranges.FindAllString(msg, -1) {
			assert.False(t, seen[r], "%s: range %s stated twice: %s", name, r, msg)
			seen[r] = true
		}
		for _, db := range []string{`"db"`, `"other"`, `"nothing"`} {
			assert.LessOrEqual(t, strings.Count(msg, db), 1, "%s: database %s stated twice: %s", name, db, msg)
		}
		t.Logf("%s: %s", name, msg)
	}
	_ = segs
}

func TestNilArgumentsAreErrors(t *testing.T) {
	ctx := testCtx(t)
	store := dcbackup.NewMemStore()
	_, err := dcbackup.Verify(ctx, nil, newTarget(), nil)
	require.ErrorContains(t, err, "nil source or target")
	_, err = dcbackup.Backup(ctx, "db", nil, store, nil)
	require.ErrorContains(t, err, "nil source connection")
	_, err = dcbackup.Restore(ctx, "db", store, nil, nil)
	require.ErrorContains(t, err, "nil target connection")
	_, err = dcbackup.Repair(ctx, "db", newTarget(), nil, nil)
	require.ErrorContains(t, err, "nil store")
	_, err = dcbackup.Gaps(ctx, "db", nil)
	require.ErrorContains(t, err, "nil store")
}
