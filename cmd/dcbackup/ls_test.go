package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup"
)

func TestLs(t *testing.T) {
	st := fsStore(t)
	f := backUp(t, st, "alpha", 1, 200, 40)
	backUp(t, st, "beta", 2, 50, 1000)
	segs, err := st.List(t.Context(), "alpha", 0)
	require.NoError(t, err)
	require.Greater(t, len(segs), 3)
	require.Equal(t, f.result.Segments, len(segs))
	var total int64
	for _, s := range segs {
		total += s.Size
	}
	last := segs[len(segs)-1]

	r := runCmd(t, nil, "ls", "-store", st.Dir(), "-db", "alpha")
	require.Equal(t, exitOK, r.code, r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, len(segs)+3, r.stdout) // header, column names, segments, summary
	assert.Equal(t, "database alpha in "+st.Dir(), lines[0])
	for i, s := range segs {
		assert.Equal(t, []string{fmt.Sprint(s.StartT), fmt.Sprint(s.EndT), fmt.Sprint(s.Size)}, strings.Fields(lines[i+2]))
	}
	assert.Equal(t, fmt.Sprintf("%d segments, %s (%d bytes), t [0, %d), 0 gaps", len(segs), humanBytes(total), total, last.EndT), lines[len(lines)-1])

	r = runCmd(t, nil, "ls", "-store", st.Dir(), "-db", "alpha", "-json")
	require.Equal(t, exitOK, r.code, r.stderr)
	var out lsOutput
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &out))
	assert.Equal(t, lsSummary{DB: "alpha", Segments: len(segs), Bytes: total, StartT: 0, EndT: last.EndT}, out.Summary)
	assert.Empty(t, out.Gaps)
	require.Len(t, out.Segments, len(segs))
	for i, s := range segs {
		assert.Equal(t, lsSegment{StartT: s.StartT, EndT: s.EndT, Bytes: s.Size}, out.Segments[i])
	}

	// Without -db: the store's databases.
	r = runCmd(t, []string{"DCBACKUP_STORE=" + st.Dir()}, "ls")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "databases in "+st.Dir())
	assert.Regexp(t, fmt.Sprintf(`(?m)^alpha\s+%d\s+%d\s+\[0, %d\)\s+0$`, len(segs), total, last.EndT), r.stdout)
	assert.Regexp(t, `(?m)^beta\s+\d+\s+\d+\s+\[0, \d+\)\s+0$`, r.stdout)

	// An unknown database has no segments: status 1, as for verify.
	r = runCmd(t, nil, "ls", "-store", st.Dir(), "-db", "gamma")
	assert.Equal(t, exitUnhealthy, r.code)
	assert.Equal(t, "dcbackup ls: "+noSegmentsHint("gamma", st.Dir())+"\n", r.stderr)
}

func TestLsMarksGapsAndOverlaps(t *testing.T) {
	st := fsStore(t)
	f := backUp(t, st, "db", 3, 200, 30)
	segs, err := st.List(t.Context(), "db", 0)
	require.NoError(t, err)
	require.Greater(t, len(segs), 4)
	// A hole: the third segment is gone.
	hole := segs[2]
	require.NoError(t, os.Remove(st.Path("db", hole)))
	// An overlap, as a racing writer could leave: a segment across the
	// boundary of the fourth and fifth.
	over := dcbackup.SegmentInfo{StartT: segs[3].StartT + 1, EndT: segs[4].StartT + 1}
	_, err = dcbackup.BackupSegment(t.Context(), "db", f.conn, st, over.StartT, over.EndT, nil)
	require.NoError(t, err)

	r := runCmd(t, nil, "ls", "-store", st.Dir(), "-db", "db")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Regexp(t, fmt.Sprintf(`(?m)^%d\s+%d\s+-\s+GAP: no segment covers \[%d, %d\)$`, hole.StartT, hole.EndT, hole.StartT, hole.EndT), r.stdout)
	assert.Regexp(t, fmt.Sprintf(`(?m)^%d\s+%d\s+\d+\s+overlaps the previous segment \(verify checks that they agree\)$`, over.StartT, over.EndT), r.stdout)
	assert.Contains(t, r.stdout, fmt.Sprintf("%d segments", len(segs))) // one gone, one added
	// The new segment overlaps its predecessor, and its successor overlaps it.
	assert.Regexp(t, fmt.Sprintf(`(?m)^%d\s+%d\s+\d+\s+overlaps the previous segment \(verify checks that they agree\)$`, segs[4].StartT, segs[4].EndT), r.stdout)
	assert.Contains(t, r.stdout, ", 1 gap, 2 overlaps\n")

	r = runCmd(t, nil, "ls", "-store", st.Dir(), "-db", "db", "-json")
	require.Equal(t, exitOK, r.code, r.stderr)
	var out lsOutput
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &out))
	assert.Equal(t, []lsGap{{StartT: hole.StartT, EndT: hole.EndT}}, out.Gaps)
	assert.Equal(t, 1, out.Summary.Gaps)
	assert.Equal(t, 2, out.Summary.Overlaps)
}
