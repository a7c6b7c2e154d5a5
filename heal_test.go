package dcbackup_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic"
)

// damage is a way a segment file can be spoiled on disk.
type damage struct {
	name string
	// apply spoils path; other is the path of another segment of the
	// store.
	apply func(t *testing.T, path, other string)
}

var damages = []damage{
	{"zero-length", func(t *testing.T, path, _ string) {
		require.NoError(t, os.WriteFile(path, nil, 0o644))
	}},
	{"truncated", func(t *testing.T, path, _ string) {
		fi, err := os.Stat(path)
		require.NoError(t, err)
		require.NoError(t, os.Truncate(path, fi.Size()/2))
	}},
	{"garbage", func(t *testing.T, path, _ string) {
		fi, err := os.Stat(path)
		require.NoError(t, err)
		junk := make([]byte, fi.Size())
		for i := range junk {
			junk[i] = byte(i*7 + 3)
		}
		require.NoError(t, os.WriteFile(path, junk, 0o644))
	}},
	{"wrong-range", func(t *testing.T, path, other string) {
		data, err := os.ReadFile(other)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path, data, 0o644))
	}},
	{"directory", func(t *testing.T, path, _ string) {
		require.NoError(t, os.Remove(path))
		require.NoError(t, os.Mkdir(path, 0o755))
	}},
	{"symlink", func(t *testing.T, path, other string) {
		require.NoError(t, os.Remove(path))
		require.NoError(t, os.Symlink(other, path))
	}},
}

// fsBackup backs a random history up into a filesystem store, a few
// transactions per segment.
func fsBackup(t *testing.T, seed uint64) (*dcbackup.FSStore, datomic.Conn, []dcbackup.SegmentInfo) {
	t.Helper()
	ctx := context.Background()
	src := newSource(t, seed, 30, seed%2 == 0)
	store, err := dcbackup.NewFSStore(t.TempDir())
	require.NoError(t, err)
	_, err = dcbackup.Backup(ctx, "db", src, store, &dcbackup.BackupOptions{MaxTxPerSegment: 4})
	require.NoError(t, err)
	segs, err := store.List(ctx, "db", 0)
	require.NoError(t, err)
	require.Greater(t, len(segs), 4)
	return store, src, segs
}

// Backup and Repair treat a segment that cannot be read as missing: they
// move it aside, back its range up again and say so; then the store
// restores identically. A restore before that fails at the segment instead
// of ending early without a word.
func TestBackupAndRepairHealDamagedSegments(t *testing.T) {
	calls := map[string]func(context.Context, string, datomic.Conn, dcbackup.BackupStore, *dcbackup.BackupOptions) (dcbackup.BackupResult, error){
		"Backup": dcbackup.Backup,
		"Repair": dcbackup.Repair,
	}
	for i, d := range damages {
		for _, which := range []string{"middle", "last"} {
			for callName, call := range calls {
				t.Run(d.name+"/"+which+"/"+callName, func(t *testing.T) {
					ctx := context.Background()
					store, src, segs := fsBackup(t, uint64(50+i))
					victim, other := segs[len(segs)/2], segs[0]
					if which == "last" {
						victim = segs[len(segs)-1]
					}
					d.apply(t, store.Path("db", victim), store.Path("db", other))

					target := newTarget()
					_, err := dcbackup.Restore(ctx, "db", store, target, nil)
					require.ErrorIs(t, err, dcbackup.ErrCorruptSegment, "a restore stops at the damage, with an error")

					res, err := call(ctx, "db", src, store, nil)
					require.NoError(t, err)
					assert.Equal(t, 1, res.Healed)
					assert.Positive(t, res.Segments)
					quarantined, err := filepath.Glob(filepath.Join(store.Dir(), dcbackup.QuarantineDir, "db", dcbackup.SegmentFileName(victim)+".*"))
					require.NoError(t, err)
					assert.Len(t, quarantined, 1)
					requireRestoresIdentically(t, store, src)
				})
			}
		}
	}
}

// BackupNext heals a damaged newest segment: it backs its range up again
// instead of continuing after it.
func TestBackupNextHealsItsLastSegment(t *testing.T) {
	for i, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			ctx := context.Background()
			store, src, segs := fsBackup(t, uint64(70+i))
			d.apply(t, store.Path("db", segs[len(segs)-1]), store.Path("db", segs[0]))
			res, err := dcbackup.BackupNext(ctx, "db", src, store, nil)
			require.NoError(t, err)
			assert.Equal(t, 1, res.Healed)
			requireRestoresIdentically(t, store, src)
		})
	}
}

// A store that cannot move a segment aside gets an error that says what
// to do, not a success.
func TestHealingNeedsASegmentRemover(t *testing.T) {
	ctx := context.Background()
	store, src := backedUp(t, 80, 20, 4)
	segs, err := store.List(ctx, "db", 0)
	require.NoError(t, err)
	plain := plainStore{copySegments(t, store, "db", func(i int, _ dcbackup.SegmentInfo, data []byte) []byte {
		if i == 1 {
			return data[:len(data)/2]
		}
		return data
	})}
	_, err = dcbackup.Backup(ctx, "db", src, plain, nil)
	require.ErrorIs(t, err, dcbackup.ErrCorruptSegment)
	assert.ErrorContains(t, err, "cannot move a damaged segment aside")
	assert.ErrorContains(t, err, segs[1].String())
}

// plainStore hides every optional interface of its store.
type plainStore struct{ s dcbackup.BackupStore }

func (p plainStore) Save(ctx context.Context, db string, seg dcbackup.SegmentInfo, data []byte) error {
	return p.s.Save(ctx, db, seg, data)
}
func (p plainStore) Load(ctx context.Context, db string, seg dcbackup.SegmentInfo) ([]byte, error) {
	return p.s.Load(ctx, db, seg)
}
func (p plainStore) List(ctx context.Context, db string, from int64) ([]dcbackup.SegmentInfo, error) {
	return p.s.List(ctx, db, from)
}
func (p plainStore) Last(ctx context.Context, db string) (dcbackup.SegmentInfo, bool, error) {
	return p.s.Last(ctx, db)
}

// A gap in the middle of the store (a lost object, an interrupted parallel
// backup) is found and filled by ContinuousBackup's first run, and
// reported through OnResult.
func TestContinuousBackupHealsGapsOnItsFirstRun(t *testing.T) {
	store, src := backedUp(t, 90, 40, 3)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	segs, err := store.List(ctx, "db", 0)
	require.NoError(t, err)
	require.NoError(t, store.Delete(ctx, "db", segs[2]))
	gaps, err := dcbackup.Gaps(ctx, "db", store)
	require.NoError(t, err)
	require.Len(t, gaps, 1)

	var first dcbackup.BackupResult
	err = dcbackup.ContinuousBackup(ctx, "db", src, store, &dcbackup.ContinuousBackupOptions{
		OnResult: func(r dcbackup.BackupResult, err error) {
			require.NoError(t, err)
			first = r
			cancel()
		},
	})
	require.True(t, errors.Is(err, context.Canceled))
	assert.Positive(t, first.Segments, "the gap was backed up")
	assert.EqualValues(t, basisT(t, src)+1, first.EndT)
	requireRestoresIdentically(t, store, src)
}
