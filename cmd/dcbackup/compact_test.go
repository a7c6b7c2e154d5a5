package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"filippo.io/age"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic/mem"
)

// requireRestores restores store's "db" into a fresh database and checks
// it against the source, datom by datom.
func requireRestores(t *testing.T, store dcbackup.BackupStore, f fixture, decode dcbackup.DecodeOptions) {
	t.Helper()
	target := mem.New(mem.Options{})
	_, err := dcbackup.Restore(t.Context(), f.db, store, target, &dcbackup.RestoreOptions{Decode: decode})
	require.NoError(t, err)
	rep, err := dcbackup.Verify(t.Context(), f.conn, target, nil)
	require.NoError(t, err)
	require.True(t, rep.OK(), "%v", rep.Differences)
}

func TestCompact(t *testing.T) {
	st := fsStore(t)
	f := backUp(t, st, "db", 31, 150, 3)
	segs, err := st.List(t.Context(), "db", 0)
	require.NoError(t, err)
	require.Greater(t, len(segs), 40)
	// An overlap, as a racing writer leaves it.
	_, err = dcbackup.BackupSegment(t.Context(), "db", f.conn, st, segs[5].StartT+1, segs[7].EndT, nil)
	require.NoError(t, err)
	before, err := st.List(t.Context(), "db", 0)
	require.NoError(t, err)
	var bytesBefore int64
	for _, s := range before {
		bytesBefore += s.Size
	}

	r := runCmd(t, nil, "compact", "-store", st.Dir(), "-db", "db", "-max-tx", "50", "-v")
	require.Equal(t, exitOK, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
	after, err := st.List(t.Context(), "db", 0)
	require.NoError(t, err)
	var bytesAfter int64
	for _, s := range after {
		bytesAfter += s.Size
	}
	assert.Less(t, len(after), len(before)/5)
	assert.Regexp(t, fmt.Sprintf(`^compact database db in %s\ndb: %d segments \(%s, %d bytes\) before, %d \(%s, %d bytes\) after: %d merged segments written, %d removed; \d+\.\d s\n$`,
		regexpQuote(st.Dir()), len(before), regexpQuote(humanBytes(bytesBefore)), bytesBefore, len(after), regexpQuote(humanBytes(bytesAfter)), bytesAfter,
		len(after), len(before)), r.stdout)
	assert.Contains(t, r.stderr, `msg="segments merged" db=db start_t=0`, "-v logs each merged segment")

	// Every transaction is still there once, and restores.
	r = runCmd(t, nil, "verify", "-store", st.Dir(), "-db", "db")
	require.Equal(t, exitOK, r.code, r.stdout)
	assert.Contains(t, r.stdout, fmt.Sprintf("db: healthy: %d segments, %d transactions, %d datoms, ", len(after), f.txs, f.datoms))
	r = runCmd(t, nil, "ls", "-store", st.Dir(), "-db", "db", "-json")
	require.Equal(t, exitOK, r.code, r.stderr)
	var ls lsOutput
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &ls))
	assert.Zero(t, ls.Summary.Overlaps)
	assert.Zero(t, ls.Summary.Gaps)
	for _, s := range ls.Segments {
		assert.LessOrEqual(t, len(readSegment(t, st, "db", dcbackup.SegmentInfo{StartT: s.StartT, EndT: s.EndT}).Txs), 50)
	}
	requireRestores(t, st, f, dcbackup.DecodeOptions{})

	// Again: nothing left to merge.
	r = runCmd(t, nil, "compact", "-store", st.Dir(), "-db", "db", "-max-tx", "50", "-json")
	require.Equal(t, exitOK, r.code, r.stderr)
	var out compactOutput
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &out))
	assert.Equal(t, compactOutput{Store: st.Dir(), DB: "db", Before: len(after), After: len(after), BytesBefore: bytesAfter, BytesAfter: bytesAfter,
		Seconds: out.Seconds}, out)
	r = runCmd(t, nil, "compact", "-store", st.Dir(), "-db", "db", "-max-tx", "50")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, fmt.Sprintf("db: %d segments (%s, %d bytes) before: nothing to merge; ", len(after), humanBytes(bytesAfter), bytesAfter))
}

// A damaged segment is left as it is (status 0, counted as skipped); the
// rest is merged, and verify still reports the damage.
func TestCompactLeavesDamagedSegment(t *testing.T) {
	st, segs := problemStore(t)
	bad := segs[3]
	path := st.Path("db", bad)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	head, err := dcbackup.SegmentHeaderSize(data)
	require.NoError(t, err)
	data[head+(len(data)-head)/2] ^= 0x10 // in the body: the header still reads
	require.NoError(t, os.WriteFile(path, data, 0o644))

	r := runCmd(t, nil, "compact", "-store", st.Dir(), "-db", "db", "-json")
	require.Equal(t, exitOK, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
	var out compactOutput
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &out))
	assert.Positive(t, out.Skipped, r.stdout)
	assert.Positive(t, out.Merged, r.stdout)
	kept, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, data, kept)
	r = runCmd(t, nil, "verify", "-store", st.Dir(), "-db", "db")
	assert.Equal(t, exitUnhealthy, r.code, r.stdout)
	assert.Contains(t, r.stdout, fmt.Sprintf("PROBLEM corrupt %s: checksum mismatch", bad))
}

func TestCompactEncrypted(t *testing.T) {
	st := fsStore(t)
	f := backUpEncrypted(t, st)
	key := identityFile(t, testIdentity)
	id, err := age.ParseX25519Identity(testIdentity)
	require.NoError(t, err)
	segs, err := st.List(t.Context(), "db", 0)
	require.NoError(t, err)

	// Without a key, encrypted segments are left as they are.
	r := runCmd(t, nil, "compact", "-store", st.Dir(), "-db", "db")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, fmt.Sprintf(": nothing to merge; %d segments left as they are (", len(segs)))

	// A key to decrypt, and none to encrypt: refused, nothing written.
	r = runCmd(t, nil, "compact", "-store", st.Dir(), "-db", "db", "-identity", key)
	require.Equal(t, exitError, r.code, r.stdout)
	assert.Contains(t, r.stderr, "-identity without -recipient: merged segments would be written unencrypted")
	after, err := st.List(t.Context(), "db", 0)
	require.NoError(t, err)
	assert.Equal(t, segs, after)

	// Bad recipients.
	r = runCmd(t, nil, "compact", "-store", st.Dir(), "-db", "db", "-identity", key, "-recipient", "age1nonsense")
	require.Equal(t, exitError, r.code, r.stdout)
	assert.Contains(t, r.stderr, `-recipient "age1nonsense"`)
	r = runCmd(t, nil, "compact", "-store", st.Dir(), "-db", "db", "-identity", key, "-recipients-file", filepath.Join(t.TempDir(), "absent"))
	require.Equal(t, exitError, r.code, r.stdout)
	assert.Contains(t, r.stderr, "-recipients-file")

	// Both: merged, and encrypted again.
	escrow, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	recipients := filepath.Join(t.TempDir(), "recipients.txt")
	require.NoError(t, os.WriteFile(recipients, []byte("# escrow\n"+escrow.Recipient().String()+"\n"), 0o600))
	r = runCmd(t, nil, "compact", "-store", st.Dir(), "-db", "db", "-max-tx", "1000", "-identity", key,
		"-recipient", id.Recipient().String(), "-recipients-file", recipients)
	require.Equal(t, exitOK, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, fmt.Sprintf("db: %d segments (", len(segs)))
	assert.Contains(t, r.stdout, "1 merged segment written")
	after, err = st.List(t.Context(), "db", 0)
	require.NoError(t, err)
	require.Len(t, after, 1)
	r = runCmd(t, nil, "verify", "-store", st.Dir(), "-db", "db")
	require.Equal(t, exitOK, r.code, r.stdout)
	assert.Contains(t, r.stdout, "; 1 segment encrypted: checksums and headers checked, payloads not")
	// Either identity opens the merged segment.
	for _, k := range []string{key, identityFile(t, escrow.String())} {
		r = runCmd(t, nil, "verify", "-store", st.Dir(), "-db", "db", "-identity", k)
		require.Equal(t, exitOK, r.code, r.stdout)
		assert.Contains(t, r.stdout, fmt.Sprintf("db: healthy: 1 segment, %d transactions, %d datoms", f.txs, f.datoms))
	}
	requireRestores(t, st, f, dcbackup.DecodeOptions{Identities: []age.Identity{escrow}})
}

func TestCompactUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"compact", "-store", "."}, "no database: give -db"},
		{[]string{"compact", "-store", ".", "-db", "x", "-max-tx", "-1"}, "-max-tx and -max-datoms must be positive"},
		{[]string{"compact", "-db", "x"}, "no store: give -store"},
	} {
		r := runCmd(t, nil, tc.args...)
		assert.Equal(t, exitError, r.code, "%v", tc.args)
		assert.Contains(t, r.stderr, tc.msg, "%v", tc.args)
		assert.Empty(t, r.stdout, "%v", tc.args)
	}
}

// regexpQuote quotes s for a regular expression.
func regexpQuote(s string) string { return regexp.QuoteMeta(s) }
