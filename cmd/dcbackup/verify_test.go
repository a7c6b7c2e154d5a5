package main

import (
	binenc "encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic/mem"
	"github.com/dcbackup/dcbackup/internal/histgen"
)

func TestVerifyHealthy(t *testing.T) {
	st := fsStore(t)
	f := backUp(t, st, "db", 4, 250, 40)
	segs, err := st.List(t.Context(), "db", 0)
	require.NoError(t, err)
	end := segs[len(segs)-1].EndT
	healthy := fmt.Sprintf("verify database db in %s\ndb: healthy: %d segments, %d transactions, %d datoms, %s (%d bytes), t [0, %d)",
		st.Dir(), len(segs), f.txs, f.datoms, humanBytes(f.result.Bytes), f.result.Bytes, end)

	for _, jobs := range []string{"1", "4"} {
		r := runCmd(t, nil, "verify", "-store", st.Dir(), "-db", "db", "-j", jobs)
		require.Equal(t, exitOK, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
		assert.Equal(t, healthy+"\n", r.stdout)
		assert.Empty(t, r.stderr)
	}

	// Headers only: the same counts, from the headers.
	r := runCmd(t, nil, "verify", "-store", st.Dir(), "-db", "db", "-headers")
	require.Equal(t, exitOK, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
	assert.Equal(t, healthy+"; headers only: segment bodies not read, counts from the headers\n", r.stdout)

	r = runCmd(t, nil, "verify", "-store", st.Dir(), "-db", "db", "-v")
	require.Equal(t, exitOK, r.code)
	assert.Regexp(t, `; 0 segments redundant \(overlaps a restore passes over, counted once\); \d+\.\d s\n$`, r.stdout)

	r = runCmd(t, nil, "verify", "-store", st.Dir(), "-json")
	require.Equal(t, exitOK, r.code, r.stderr)
	var out struct {
		Store     string     `json:"store"`
		Databases []dbReport `json:"databases"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &out))
	assert.Equal(t, st.Dir(), out.Store)
	assert.Equal(t, []dbReport{{DB: "db", Healthy: true, Segments: len(segs), Transactions: int64(f.txs), Datoms: int64(f.datoms),
		Bytes: f.result.Bytes, EndT: end, Problems: []problem{}}}, out.Databases)
	for _, field := range []string{`"redundant": 0`, `"unverified": 0`, `"headers_only": false`, `"problems": []`} {
		assert.Contains(t, r.stdout, field)
	}
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
	head, err := dcbackup.SegmentHeaderSize(data)
	require.NoError(t, err)
	data[head+(len(data)-head)/2] ^= 0x10 // in the body
	require.NoError(t, os.WriteFile(path, data, 0o644))

	for _, jobs := range []string{"1", "3"} {
		r := runCmd(t, nil, "verify", "-store", st.Dir(), "-db", "db", "-j", jobs)
		require.Equal(t, exitUnhealthy, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		require.Len(t, lines, 4, r.stdout)
		assert.Regexp(t, fmt.Sprintf(`^PROBLEM corrupt \[%d, %d\): checksum mismatch .*: the segment is damaged or truncated$`, bad.StartT, bad.EndT), lines[1])
		// The damaged segment leaves a gap: a restore stops there.
		assert.Equal(t, fmt.Sprintf("PROBLEM gap %s: no sound segment covers t in %s: a restore stops at t %d; run Repair against the source", bad, bad, bad.StartT), lines[2])
		assert.Regexp(t, fmt.Sprintf(`^db: UNHEALTHY: 2 problems \(1 corrupt, 1 gap\); %d segments, \d+ transactions, \d+ datoms, `, len(segs)), lines[3])
	}

	// Reading only the headers does not see damage inside a body.
	r := runCmd(t, nil, "verify", "-store", st.Dir(), "-db", "db", "-headers")
	assert.Equal(t, exitOK, r.code, r.stdout)
	assert.Contains(t, r.stdout, "; headers only: segment bodies not read, counts from the headers\n")

	// stats and dump say the same, with status 1.
	r = runCmd(t, nil, "stats", "-store", st.Dir(), "-db", "db")
	assert.Equal(t, exitUnhealthy, r.code)
	assert.Contains(t, r.stderr, fmt.Sprintf("skipping segment %s", bad))
	assert.Contains(t, r.stdout, fmt.Sprintf("segments      %d (1 unreadable, left out)", len(segs)))
	r = runCmd(t, nil, "dump", "-store", st.Dir(), "-db", "db", "-start", fmt.Sprint(bad.StartT))
	assert.Equal(t, exitUnhealthy, r.code)
	assert.Contains(t, r.stderr, "corrupt segment")
	assert.Empty(t, r.stdout)
}

// A truncated segment is found by the header-only check too (its header
// says how long it is).
func TestVerifyHeadersFindTruncation(t *testing.T) {
	st, segs := problemStore(t)
	bad := segs[2]
	path := st.Path("db", bad)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, data[:len(data)-10], 0o644))
	for _, headers := range []string{"-headers=false", "-headers"} {
		r := runCmd(t, nil, "verify", "-store", st.Dir(), "-db", "db", headers)
		require.Equal(t, exitUnhealthy, r.code, r.stdout)
		assert.Contains(t, r.stdout, fmt.Sprintf("PROBLEM corrupt %s: ", bad), headers)
		assert.Contains(t, r.stdout, fmt.Sprintf("PROBLEM gap %s: ", bad), headers)
	}
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
	assert.Contains(t, r.stdout, fmt.Sprintf("PROBLEM gap [%d, %d): no sound segment covers t in [%d, %d)", gone.StartT, gone.EndT, gone.StartT, gone.EndT))
	assert.Contains(t, r.stdout, "db: UNHEALTHY: 1 problem (1 gap)")

	// The first segment missing is a gap from t 0.
	require.NoError(t, os.Remove(st.Path("db", segs[0])))
	r = runCmd(t, nil, "verify", "-store", st.Dir(), "-db", "db")
	require.Equal(t, exitUnhealthy, r.code)
	assert.Contains(t, r.stdout, fmt.Sprintf("PROBLEM gap [0, %d)", segs[0].EndT))
	assert.Contains(t, r.stdout, "db: UNHEALTHY: 2 problems (2 gap)")
}

// Overlapping segments, left by racing writers or by an interrupted
// compaction, hold some transactions twice: verify and stats count them
// once, as a restore applies them, not the sum of the segments.
func TestVerifyAndStatsCountOverlapsOnce(t *testing.T) {
	st := fsStore(t)
	f := backUp(t, st, "db", 6, 120, 30)
	segs, err := st.List(t.Context(), "db", 0)
	require.NoError(t, err)
	require.Greater(t, len(segs), 4)
	// A racing writer's segment across a boundary, and what an interrupted
	// compaction leaves: a merged segment beside its inputs.
	_, err = dcbackup.BackupSegment(t.Context(), "db", f.conn, st, segs[1].StartT+1, segs[2].EndT, nil)
	require.NoError(t, err)
	_, err = dcbackup.BackupSegment(t.Context(), "db", f.conn, st, segs[3].StartT, segs[4].EndT, nil)
	require.NoError(t, err)
	all, err := st.List(t.Context(), "db", 0)
	require.NoError(t, err)
	require.Len(t, all, len(segs)+2)
	summed := 0
	for _, s := range all {
		summed += len(readSegment(t, st, "db", s).Txs)
	}
	require.Greater(t, summed, f.txs, "the segments hold some transactions twice")

	r := runCmd(t, nil, "verify", "-store", st.Dir(), "-db", "db")
	require.Equal(t, exitOK, r.code, r.stdout)
	assert.Contains(t, r.stdout, fmt.Sprintf("db: healthy: %d segments, %d transactions, %d datoms, ", len(all), f.txs, f.datoms))
	assert.Contains(t, r.stdout, "; 3 segments redundant (overlaps a restore passes over, counted once)\n")
	r = runCmd(t, nil, "verify", "-store", st.Dir(), "-db", "db", "-json", "-headers")
	require.Equal(t, exitOK, r.code, r.stdout)
	var out struct{ Databases []dbReport }
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &out))
	require.Len(t, out.Databases, 1)
	// A segment a restore enters part-way (the racing writer's) is read in
	// full even from the headers, for its link there: counted once too.
	assert.Equal(t, int64(f.txs), out.Databases[0].Transactions)
	assert.Equal(t, 3, out.Databases[0].Redundant)
	assert.True(t, out.Databases[0].HeadersOnly)

	lf := sourceFacts(t, f)
	r = runCmd(t, nil, "stats", "-store", st.Dir(), "-db", "db", "-json", "-top", "1000")
	require.Equal(t, exitOK, r.code, r.stderr)
	var stats struct{ Databases []dbStats }
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &stats))
	require.Len(t, stats.Databases, 1)
	s := stats.Databases[0]
	assert.Equal(t, len(all), s.Segments)
	assert.Equal(t, 4, s.Overlapping) // segments starting before the end of those before them
	assert.Equal(t, lf.txs, s.Transactions)
	assert.Equal(t, lf.datoms, s.Datoms)
	assert.Equal(t, lf.retractions, s.Retractions)
	assert.Equal(t, lf.firstT, *s.FirstT)
	assert.Equal(t, lf.lastT, *s.LastT)
	assert.Equal(t, lf.lastInst.UTC().Format(instantLayout), s.LastInstant)
	require.Len(t, s.TopAttributes, len(lf.perAttr))
	for _, a := range s.TopAttributes {
		assert.Equal(t, lf.perAttr[a.Ident], a.Datoms, a.Ident)
	}
	r = runCmd(t, nil, "stats", "-store", st.Dir(), "-db", "db")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, fmt.Sprintf("  segments      %d (4 overlapping, what they share counted once)\n", len(all)))
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
	end := segs[len(segs)-1].EndT
	r := runCmd(t, nil, "verify", "-store", st.Dir())
	require.Equal(t, exitUnhealthy, r.code, r.stdout)
	assert.Contains(t, r.stdout, "alpha: healthy")
	assert.Equal(t, len(segs), strings.Count(r.stdout, `PROBLEM wrong-database`), r.stdout)
	assert.Contains(t, r.stdout, fmt.Sprintf(`PROBLEM wrong-database %s: it belongs to database "alpha", not "beta"`+"\n", tRange(segs[0].StartT, segs[0].EndT)))
	assert.Contains(t, r.stdout, fmt.Sprintf("PROBLEM gap [0, %d): ", end))
	assert.Contains(t, r.stdout, fmt.Sprintf("beta: UNHEALTHY: %s (1 gap, %d wrong-database); %d segments, 0 transactions, 0 datoms, ",
		plural(int64(len(segs)+1), "problem"), len(segs), len(segs)))

	// dump and stats refuse them too, with status 1.
	r = runCmd(t, nil, "dump", "-store", st.Dir(), "-db", "beta", "-start", "0")
	assert.Equal(t, exitUnhealthy, r.code)
	assert.Contains(t, r.stderr, `it belongs to database "alpha", not "beta"`)
	r = runCmd(t, nil, "stats", "-store", st.Dir(), "-db", "beta")
	assert.Equal(t, exitUnhealthy, r.code)
	assert.Contains(t, r.stdout, fmt.Sprintf("segments      %d (%d unreadable, left out)", len(segs), len(segs)))
}

// lineageConn returns a database with id holding a random history of n
// transactions (seed), its t numbered 1, 2, ...
func lineageConn(t *testing.T, id string, seed uint64, n int) *mem.Conn {
	t.Helper()
	conn := mem.New(mem.Options{Clock: (&stepClock{t: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)}).Now, DatabaseID: id})
	_, err := histgen.Generate(t.Context(), conn, histgen.Config{Seed: seed, Txs: n})
	require.NoError(t, err)
	return conn
}

// replaceSegment backs up the range of the third segment of "db" in store
// from other instead, and returns the range: a segment of other under a
// plausible range.
func replaceSegment(t *testing.T, store *dcbackup.FSStore, other *mem.Conn) dcbackup.SegmentInfo {
	t.Helper()
	segs, err := store.List(t.Context(), "db", 0)
	require.NoError(t, err)
	require.Greater(t, len(segs), 3)
	s := segs[2]
	// BackupSegment refuses to write into a store of another history:
	// write into a store of its own and copy the file.
	own := fsStore(t)
	_, err = dcbackup.BackupSegment(t.Context(), "db", other, own, s.StartT, s.EndT, nil)
	require.NoError(t, err)
	data, err := os.ReadFile(own.Path("db", s))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(store.Path("db", s), data, 0o644))
	return s
}

// A segment of another database (another lineage), or of the same
// database's diverged history (a broken chain), under a plausible range.
func TestVerifyLineageAndChain(t *testing.T) {
	backUp := func(conn *mem.Conn) *dcbackup.FSStore {
		st := fsStore(t)
		_, err := dcbackup.Backup(t.Context(), "db", conn, st, &dcbackup.BackupOptions{MaxTxPerSegment: 10})
		require.NoError(t, err)
		return st
	}
	st := backUp(lineageConn(t, "db-1", 21, 80))
	swapped := replaceSegment(t, st, lineageConn(t, "db-2", 22, 80))
	r := runCmd(t, nil, "verify", "-store", st.Dir(), "-db", "db")
	require.Equal(t, exitUnhealthy, r.code, r.stdout)
	assert.Contains(t, r.stdout, fmt.Sprintf("PROBLEM another-lineage %s: it is of lineage ", swapped))
	assert.Contains(t, r.stdout, "(1 another-lineage, 1 gap)")

	st = backUp(lineageConn(t, "db-1", 21, 80))
	swapped = replaceSegment(t, st, lineageConn(t, "db-1", 23, 80))
	for _, headers := range []string{"-headers=false", "-headers"} {
		r = runCmd(t, nil, "verify", "-store", st.Dir(), "-db", "db", headers)
		require.Equal(t, exitUnhealthy, r.code, r.stdout)
		assert.Contains(t, r.stdout, fmt.Sprintf("PROBLEM broken-chain %s: it continues from ", swapped), headers)
		assert.Contains(t, r.stdout, "(a restore refuses it)", headers)
	}
}

func TestVerifyNothingToVerify(t *testing.T) {
	st := fsStore(t)
	r := runCmd(t, nil, "verify", "-store", st.Dir())
	assert.Equal(t, exitUnhealthy, r.code)
	assert.Equal(t, "dcbackup verify: no databases in "+st.Dir()+" (is -store right?)\n", r.stderr)

	r = runCmd(t, nil, "verify", "-store", st.Dir(), "-db", "nothing")
	assert.Equal(t, exitUnhealthy, r.code)
	assert.Contains(t, r.stdout, "PROBLEM no-segments: "+noSegmentsHint("nothing", st.Dir())+"\n")

	r = runCmd(t, nil, "verify", "-store", filepath.Join(st.Dir(), "absent"), "-db", "x")
	assert.Equal(t, exitError, r.code)
	assert.Contains(t, r.stderr, "no such file or directory")
}

// A database without segments is status 1 with the same hint for every
// command; a store without databases too.
func TestNoSegmentsIsUnhealthyEverywhere(t *testing.T) {
	st := fsStore(t)
	backUp(t, st, "db", 14, 20, 10)
	hint := noSegmentsHint("nothing", st.Dir())
	for _, args := range [][]string{
		{"ls"}, {"ls", "-json"}, {"stats"}, {"stats", "-json"}, {"dump", "-start", "0"}, {"dump", "-segment", "0-10"},
		{"compact"},
	} {
		r := runCmd(t, nil, append(args, "-store", st.Dir(), "-db", "nothing")...)
		assert.Equal(t, exitUnhealthy, r.code, "%v", args)
		assert.Equal(t, "dcbackup "+args[0]+": "+hint+"\n", r.stderr, "%v", args)
		assert.Empty(t, r.stdout, "%v", args)
	}
	r := runCmd(t, nil, "verify", "-store", st.Dir(), "-db", "nothing", "-json")
	assert.Equal(t, exitUnhealthy, r.code)
	var out struct{ Databases []dbReport }
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &out))
	assert.Equal(t, []dbReport{{DB: "nothing", Problems: []problem{{Kind: problemEmpty, Message: hint}}}}, out.Databases)

	// An empty database directory among others: stats sums up the others.
	require.NoError(t, os.Mkdir(filepath.Join(st.Dir(), "empty"), 0o755))
	r = runCmd(t, nil, "stats", "-store", st.Dir())
	assert.Equal(t, exitUnhealthy, r.code)
	assert.Contains(t, r.stdout, "database db in ")
	assert.Equal(t, "dcbackup stats: "+noSegmentsHint("empty", st.Dir())+"\n", r.stderr)

	empty := fsStore(t)
	for _, c := range []string{"ls", "stats", "verify"} {
		r := runCmd(t, nil, c, "-store", empty.Dir())
		assert.Equal(t, exitUnhealthy, r.code, c)
		assert.Equal(t, "dcbackup "+c+": no databases in "+empty.Dir()+" (is -store right?)\n", r.stderr, c)
	}
}

// A store that fails to serve a segment (here an S3 endpoint answering 500)
// is an I/O error, status 2: nothing can be concluded about the backup.
func TestUnreadableSegmentIsAnIOError(t *testing.T) {
	st, segs := problemStore(t)
	s3 := newFailingS3(t, st, "db", segs[1])
	r := runCmd(t, s3.env(), "ls", "-store", s3.where(), "-db", "db")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, fmt.Sprintf("%d segments", len(segs)))

	for _, args := range [][]string{
		{"verify"}, {"verify", "-headers"}, {"verify", "-j", "1"}, {"stats"}, {"dump", "-start", fmt.Sprint(segs[1].StartT)},
		{"compact"},
	} {
		before := s3.fails.Load()
		r := runCmd(t, s3.env(), append(args, "-store", s3.where(), "-db", "db")...)
		assert.Equal(t, exitError, r.code, "%v: %s", args, r.stdout)
		assert.Contains(t, r.stderr, "StatusCode: 500", args)
		assert.Contains(t, r.stderr, segs[1].String(), args)
		assert.NotContains(t, r.stdout, "healthy", args)
		assert.Equal(t, before+1, s3.fails.Load(), "%v: one attempt (AWS_MAX_ATTEMPTS=1)", args)
	}
	// The other segments are served: the same store without the failure is
	// healthy.
	ok := newFailingS3(t, st, "db", dcbackup.SegmentInfo{StartT: 1, EndT: 2})
	for _, headers := range []string{"-headers", "-headers=false"} {
		r = runCmd(t, ok.env(), "verify", "-store", ok.where(), "-db", "db", headers)
		require.Equal(t, exitOK, r.code, r.stdout+r.stderr)
		assert.Empty(t, r.stderr, "no SDK log about ranged reads without a checksum")
	}
}

func TestVerifySegmentUnderWrongName(t *testing.T) {
	st, segs := problemStore(t)
	moved := dcbackup.SegmentInfo{StartT: segs[1].StartT, EndT: segs[1].EndT + 1}
	require.NoError(t, os.Rename(st.Path("db", segs[1]), st.Path("db", moved)))
	r := runCmd(t, nil, "verify", "-store", st.Dir(), "-db", "db")
	require.Equal(t, exitUnhealthy, r.code, r.stdout)
	assert.Contains(t, r.stdout, fmt.Sprintf("PROBLEM corrupt %s: it holds range %s, stored as %s\n", moved, segs[1], moved))
	assert.Contains(t, r.stdout, fmt.Sprintf("PROBLEM gap %s: ", segs[1]))
	assert.Contains(t, r.stdout, "db: UNHEALTHY: 2 problems (1 corrupt, 1 gap)")
}

// asNewerVersion rewrites a segment as a newer format version would store
// it: another version byte, checksums that match.
func asNewerVersion(data []byte) []byte {
	b := append([]byte(nil), data...)
	b[4] = dcbackup.SegmentFormatVersion + 1
	table := crc32.MakeTable(crc32.Castagnoli)
	h := int(binenc.LittleEndian.Uint32(b[8:12]))
	binenc.LittleEndian.PutUint32(b[12+h:], crc32.Checksum(b[:12+h], table))
	n := len(b) - 4
	binenc.LittleEndian.PutUint32(b[n:], crc32.Checksum(b[:n], table))
	return b
}

// A segment of a newer format is an unsupported-version problem (status
// 1), not a failure of the command, and the other databases are still
// verified; a damaged version byte is corruption, also with -headers.
func TestVerifyNewerFormat(t *testing.T) {
	st := fsStore(t)
	backUp(t, st, "alpha", 7, 60, 20)
	backUp(t, st, "beta", 8, 60, 20)
	segs, err := st.List(t.Context(), "alpha", 0)
	require.NoError(t, err)
	newer := segs[1]
	path := st.Path("alpha", newer)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, asNewerVersion(data), 0o644))

	for _, headers := range []bool{false, true} {
		args := []string{"verify", "-store", st.Dir()}
		if headers {
			args = append(args, "-headers")
		}
		r := runCmd(t, nil, args...)
		require.Equal(t, exitUnhealthy, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
		assert.Contains(t, r.stdout, fmt.Sprintf("PROBLEM unsupported-version %s: ", newer))
		assert.Contains(t, r.stdout, "upgrade")
		assert.Contains(t, r.stdout, "beta: healthy: ")

		r = runCmd(t, nil, append(args, "-json")...)
		require.Equal(t, exitUnhealthy, r.code, r.stderr)
		var out struct {
			Databases []dbReport `json:"databases"`
		}
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &out))
		require.Len(t, out.Databases, 2)
		require.Len(t, out.Databases[0].Problems, 1)
		assert.Equal(t, problem{Kind: problemUnsupported, StartT: newer.StartT, EndT: newer.EndT, Message: out.Databases[0].Problems[0].Message},
			out.Databases[0].Problems[0])
		assert.True(t, out.Databases[1].Healthy)
	}

	// The version byte damaged (checksums not recomputed): corruption.
	damaged := append([]byte(nil), data...)
	damaged[4] = dcbackup.SegmentFormatVersion + 1
	require.NoError(t, os.WriteFile(path, damaged, 0o644))
	for _, headers := range []bool{false, true} {
		args := []string{"verify", "-store", st.Dir(), "-db", "alpha"}
		if headers {
			args = append(args, "-headers")
		}
		r := runCmd(t, nil, args...)
		require.Equal(t, exitUnhealthy, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
		assert.Contains(t, r.stdout, fmt.Sprintf("PROBLEM corrupt %s: ", newer), "headers only: %v", headers)
		assert.NotContains(t, r.stdout, "unsupported-version")
	}
}
