package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup"
)

func TestVerifyHealthy(t *testing.T) {
	st := fsStore(t)
	f := backUp(t, st, "db", 4, 250, 40)
	segs, err := st.List(t.Context(), "db", 0)
	require.NoError(t, err)
	end := segs[len(segs)-1].EndT

	for _, jobs := range []string{"1", "4"} {
		r := runCmd(t, nil, "verify", "-store", st.Dir(), "-db", "db", "-j", jobs)
		require.Equal(t, exitOK, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
		assert.Equal(t, fmt.Sprintf("verify database db in %s\ndb: healthy: %d segments, %d transactions, %d datoms, %s (%d bytes), t [0, %d)\n",
			st.Dir(), len(segs), f.txs, f.datoms, humanBytes(f.result.Bytes), f.result.Bytes, end), r.stdout)
		assert.Empty(t, r.stderr)
	}

	r := runCmd(t, nil, "verify", "-store", st.Dir(), "-db", "db", "-v")
	require.Equal(t, exitOK, r.code)
	assert.Equal(t, len(segs), strings.Count(r.stdout, "\nok ["), r.stdout)

	r = runCmd(t, nil, "verify", "-store", st.Dir(), "-json")
	require.Equal(t, exitOK, r.code, r.stderr)
	var out struct {
		Store     string     `json:"store"`
		Databases []dbReport `json:"databases"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &out))
	assert.Equal(t, st.Dir(), out.Store)
	assert.Equal(t, []dbReport{{DB: "db", Healthy: true, Segments: len(segs), Transactions: f.txs, Datoms: f.datoms,
		Bytes: f.result.Bytes, StartT: 0, EndT: end, Problems: []problem{}}}, out.Databases)
}

// problemStore returns a backed-up store and its segments.
func problemStore(t *testing.T) (*dcbackup.FSStore, []dcbackup.SegmentInfo) {
	t.Helper()
	st := fsStore(t)
	backUp(t, st, "db", 5, 200, 30)
	segs, err := st.List(t.Context(), "db", 0)
	require.NoError(t, err)
	require.Greater(t, len(segs), 5)
	return st, segs
}

func TestVerifyCorruptSegment(t *testing.T) {
	st, segs := problemStore(t)
	bad := segs[3]
	path := st.Path("db", bad)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	data[len(data)/2] ^= 0x10
	require.NoError(t, os.WriteFile(path, data, 0o644))

	for _, jobs := range []string{"1", "3"} {
		r := runCmd(t, nil, "verify", "-store", st.Dir(), "-db", "db", "-j", jobs)
		require.Equal(t, exitUnhealthy, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		require.Len(t, lines, 3, r.stdout)
		assert.Regexp(t, fmt.Sprintf(`^PROBLEM corrupt \[%d, %d\): checksum mismatch .*: the segment is damaged or truncated$`, bad.StartT, bad.EndT), lines[1])
		assert.Regexp(t, fmt.Sprintf(`^db: UNHEALTHY: 1 problem \(1 corrupt\); %d segments, `, len(segs)), lines[2])
	}

	// stats and dump say the same, with status 1.
	r := runCmd(t, nil, "stats", "-store", st.Dir(), "-db", "db")
	assert.Equal(t, exitUnhealthy, r.code)
	assert.Contains(t, r.stderr, fmt.Sprintf("skipping segment %s", bad))
	assert.Contains(t, r.stdout, fmt.Sprintf("segments      %d (1 unreadable, left out)", len(segs)))
	r = runCmd(t, nil, "dump", "-store", st.Dir(), "-db", "db", "-start", fmt.Sprint(bad.StartT))
	assert.Equal(t, exitUnhealthy, r.code)
	assert.Contains(t, r.stderr, "corrupt segment")
	assert.Empty(t, r.stdout)
}

func TestVerifyMissingSegment(t *testing.T) {
	st, segs := problemStore(t)
	gone := segs[2]
	require.NoError(t, os.Remove(st.Path("db", gone)))

	r := runCmd(t, nil, "verify", "-store", st.Dir(), "-db", "db", "-json")
	require.Equal(t, exitUnhealthy, r.code, r.stderr)
	var out struct{ Databases []dbReport }
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &out))
	require.Len(t, out.Databases, 1)
	rep := out.Databases[0]
	assert.False(t, rep.Healthy)
	assert.Equal(t, len(segs)-1, rep.Segments)
	require.Len(t, rep.Problems, 1)
	assert.Equal(t, problemGap, rep.Problems[0].Kind)
	assert.Equal(t, [2]int64{gone.StartT, gone.EndT}, [2]int64{rep.Problems[0].StartT, rep.Problems[0].EndT})

	r = runCmd(t, nil, "verify", "-store", st.Dir(), "-db", "db")
	require.Equal(t, exitUnhealthy, r.code)
	assert.Contains(t, r.stdout, fmt.Sprintf("PROBLEM gap [%d, %d): no segment covers t in [%d, %d)", gone.StartT, gone.EndT, gone.StartT, gone.EndT))
	assert.Contains(t, r.stdout, "db: UNHEALTHY: 1 problem (1 gap)")

	// The first segment missing is a gap from t 0.
	require.NoError(t, os.Remove(st.Path("db", segs[0])))
	r = runCmd(t, nil, "verify", "-store", st.Dir(), "-db", "db")
	require.Equal(t, exitUnhealthy, r.code)
	assert.Contains(t, r.stdout, fmt.Sprintf("PROBLEM gap [0, %d)", segs[0].EndT))
	assert.Contains(t, r.stdout, "db: UNHEALTHY: 2 problems (2 gap)")
}

func TestVerifyOverlapsAreHealthy(t *testing.T) {
	st := fsStore(t)
	f := backUp(t, st, "db", 6, 120, 30)
	segs, err := st.List(t.Context(), "db", 0)
	require.NoError(t, err)
	_, err = dcbackup.BackupSegment(t.Context(), "db", f.conn, st, segs[1].StartT+1, segs[2].EndT, nil)
	require.NoError(t, err)
	r := runCmd(t, nil, "verify", "-store", st.Dir(), "-db", "db")
	assert.Equal(t, exitOK, r.code, r.stdout)
	assert.Contains(t, r.stdout, fmt.Sprintf("db: healthy: %d segments", len(segs)+1))
}

func TestVerifyWrongDatabase(t *testing.T) {
	st := fsStore(t)
	backUp(t, st, "alpha", 7, 60, 30)
	segs, err := st.List(t.Context(), "alpha", 0)
	require.NoError(t, err)
	// Someone copies alpha's segments into beta's directory.
	require.NoError(t, os.Mkdir(filepath.Join(st.Dir(), "beta"), 0o755))
	for _, s := range segs {
		data, err := os.ReadFile(st.Path("alpha", s))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(st.Path("beta", s), data, 0o644))
	}
	r := runCmd(t, nil, "verify", "-store", st.Dir())
	require.Equal(t, exitUnhealthy, r.code, r.stdout)
	assert.Contains(t, r.stdout, "alpha: healthy")
	assert.Equal(t, len(segs), strings.Count(r.stdout, `PROBLEM wrong-database`), r.stdout)
	assert.Contains(t, r.stdout, fmt.Sprintf(`PROBLEM wrong-database %s: segment holds database "alpha", but is stored for "beta"`, tRange(segs[0].StartT, segs[0].EndT)))
	assert.Contains(t, r.stdout, fmt.Sprintf("beta: UNHEALTHY: %s (%d wrong-database)", plural(int64(len(segs)), "problem"), len(segs)))
}

func TestVerifyNothingToVerify(t *testing.T) {
	st := fsStore(t)
	r := runCmd(t, nil, "verify", "-store", st.Dir())
	assert.Equal(t, exitUnhealthy, r.code)
	assert.Contains(t, r.stderr, "no databases in "+st.Dir())

	r = runCmd(t, nil, "verify", "-store", st.Dir(), "-db", "nothing")
	assert.Equal(t, exitUnhealthy, r.code)
	assert.Contains(t, r.stdout, `PROBLEM no-segments: no segments of database "nothing"`)

	r = runCmd(t, nil, "verify", "-store", filepath.Join(st.Dir(), "absent"), "-db", "x")
	assert.Equal(t, exitError, r.code)
	assert.Contains(t, r.stderr, "no such file or directory")
}

func TestVerifyUnreadableSegmentIsAnIOError(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads files whatever their mode")
	}
	st, segs := problemStore(t)
	require.NoError(t, os.Chmod(st.Path("db", segs[1]), 0))
	r := runCmd(t, nil, "verify", "-store", st.Dir(), "-db", "db")
	assert.Equal(t, exitError, r.code, r.stdout)
	assert.Contains(t, r.stderr, "permission denied")
}

func TestVerifySegmentUnderWrongName(t *testing.T) {
	st, segs := problemStore(t)
	moved := dcbackup.SegmentInfo{StartT: segs[1].StartT, EndT: segs[1].EndT + 1}
	require.NoError(t, os.Rename(st.Path("db", segs[1]), st.Path("db", moved)))
	r := runCmd(t, nil, "verify", "-store", st.Dir(), "-db", "db")
	require.Equal(t, exitUnhealthy, r.code, r.stdout)
	assert.Contains(t, r.stdout, fmt.Sprintf("PROBLEM corrupt %s: it holds range %s, stored as %s\n", moved, segs[1], moved))
	assert.Contains(t, r.stdout, "db: UNHEALTHY: 1 problem (1 corrupt)")
}
