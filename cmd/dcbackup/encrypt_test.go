package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic/mem"
	"github.com/dcbackup/dcbackup/internal/histgen"
)

// A fixed test key (never use it for anything else).
const testIdentity = "AGE-SECRET-KEY-19GSMDAG6GE763JHDMDT7XEKRREXCA54MU0S309WQKJG5929ZX3HSKCFWRZ"

// identityFile writes identity as an age key file and returns its path.
func identityFile(t *testing.T, identity string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "key.txt")
	require.NoError(t, os.WriteFile(path, []byte("# created: test\n"+identity+"\n"), 0o600))
	return path
}

// backUpEncrypted writes a random history as database "db", encrypted to
// the recipient of testIdentity.
func backUpEncrypted(t *testing.T, store dcbackup.BackupStore) fixture {
	t.Helper()
	id, err := age.ParseX25519Identity(testIdentity)
	require.NoError(t, err)
	ctx := t.Context()
	conn := mem.New(mem.Options{Clock: (&stepClock{t: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)}).Now})
	_, err = histgen.Generate(ctx, conn, histgen.Config{Seed: 41, Txs: 80})
	require.NoError(t, err)
	res, err := dcbackup.Backup(ctx, "db", conn, store, &dcbackup.BackupOptions{MaxTxPerSegment: 20,
		Encode: dcbackup.EncodeOptions{Recipients: []age.Recipient{id.Recipient()}}})
	require.NoError(t, err)
	f := fixture{conn: conn, db: "db", result: res}
	for tx, err := range conn.TxRange(ctx, 0, 0) {
		require.NoError(t, err)
		f.txs++
		f.datoms += len(tx.Datoms)
	}
	return f
}

func TestEncryptedStore(t *testing.T) {
	st := fsStore(t)
	f := backUpEncrypted(t, st)
	key := identityFile(t, testIdentity)
	other, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	wrong := identityFile(t, other.String())
	segs, err := st.List(t.Context(), "db", 0)
	require.NoError(t, err)
	end := segs[len(segs)-1].EndT
	counts := fmt.Sprintf("%d segments, %d transactions, %d datoms", len(segs), f.txs, f.datoms)

	// Structure without a key.
	r := runCmd(t, nil, "ls", "-store", st.Dir(), "-db", "db")
	require.Equal(t, exitOK, r.code, r.stderr)
	r = runCmd(t, nil, "verify", "-store", st.Dir(), "-db", "db")
	require.Equal(t, exitOK, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "db: healthy: "+counts)
	assert.Contains(t, r.stdout, fmt.Sprintf("t [0, %d); %d segments encrypted: checksums and headers checked, payloads not (give -identity to check them)", end, len(segs)))

	// Payloads with the key.
	r = runCmd(t, nil, "verify", "-store", st.Dir(), "-db", "db", "-identity", key)
	require.Equal(t, exitOK, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "db: healthy: "+counts)
	assert.NotContains(t, r.stdout, "payloads not")

	// The wrong key: the segments it does not open are a finding, which
	// names the identity given; dump names a segment's recipients.
	r = runCmd(t, nil, "verify", "-store", st.Dir(), "-db", "db", "-identity", wrong)
	require.Equal(t, exitUnhealthy, r.code, r.stdout)
	for _, s := range segs {
		assert.Contains(t, r.stdout, fmt.Sprintf("PROBLEM no-key %s: no identity can open the segment: it is encrypted to recipient", s))
	}
	assert.Contains(t, r.stdout, "the identities given are "+dcbackup.IdentityFingerprint(other))
	assert.Contains(t, r.stdout, fmt.Sprintf("db: UNHEALTHY: %d problems (%d no-key); %s", len(segs), len(segs), counts))
	assert.NotContains(t, r.stdout, "encrypted:", "the problems say it; the summary does not again")
	id, err := age.ParseX25519Identity(testIdentity)
	require.NoError(t, err)
	r = runCmd(t, nil, "dump", "-store", st.Dir(), "-db", "db", "-segment", fmt.Sprintf("%d-%d", segs[1].StartT, segs[1].EndT), "-identity", wrong)
	require.Equal(t, exitError, r.code, r.stdout)
	assert.Contains(t, r.stderr, dcbackup.RecipientFingerprint(id.Recipient()))
	// Both keys: the right one opens them.
	r = runCmd(t, nil, "verify", "-store", st.Dir(), "-db", "db", "-identity", wrong, "-identity", key)
	require.Equal(t, exitOK, r.code, r.stdout)

	// dump and stats need the key.
	r = runCmd(t, nil, "dump", "-store", st.Dir(), "-db", "db", "-start", "0")
	require.Equal(t, exitError, r.code)
	assert.Contains(t, r.stderr, "no identity can open the segment")
	r = runCmd(t, nil, "dump", "-store", st.Dir(), "-db", "db", "-start", "0", "-identity", key)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, `"a":":db/txInstant"`)
	r = runCmd(t, nil, "stats", "-store", st.Dir(), "-db", "db")
	require.Equal(t, exitError, r.code)
	assert.Contains(t, r.stderr, "give -identity")
	r = runCmd(t, nil, "stats", "-store", st.Dir(), "-db", "db", "-identity", key, "-json")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, fmt.Sprintf(`"datoms": %d`, f.datoms))

	// A key file that is not one.
	r = runCmd(t, nil, "verify", "-store", st.Dir(), "-db", "db", "-identity", filepath.Join(st.Dir(), "db", dcbackup.SegmentFileName(segs[0])))
	require.Equal(t, exitError, r.code)
	assert.Contains(t, r.stderr, "-identity")
}

// TestPlaintextSegmentWithIdentity: with -identity, an unencrypted
// segment is a finding unless -allow-unencrypted.
func TestPlaintextSegmentWithIdentity(t *testing.T) {
	st := fsStore(t)
	backUp(t, st, "db", 42, 60, 20)
	key := identityFile(t, testIdentity)
	r := runCmd(t, nil, "verify", "-store", st.Dir(), "-db", "db", "-identity", key)
	require.Equal(t, exitUnhealthy, r.code, r.stdout)
	assert.Contains(t, r.stdout, "PROBLEM not-encrypted [")
	assert.NotContains(t, r.stdout, "encrypted:", "plaintext segments are not called encrypted")
	r = runCmd(t, nil, "verify", "-store", st.Dir(), "-db", "db", "-identity", key, "-allow-unencrypted")
	require.Equal(t, exitOK, r.code, r.stdout)
}

func TestMaxDecoded(t *testing.T) {
	st := fsStore(t)
	backUp(t, st, "db", 43, 60, 30)
	r := runCmd(t, nil, "verify", "-store", st.Dir(), "-db", "db", "-max-decoded", "1KiB")
	require.Equal(t, exitUnhealthy, r.code, r.stdout)
	assert.Contains(t, r.stdout, "PROBLEM too-large [")
	assert.Contains(t, r.stdout, "limit 1024")
	assert.NotContains(t, r.stdout, "encrypted:", "plaintext segments are not called encrypted")
	r = runCmd(t, nil, "dump", "-store", st.Dir(), "-db", "db", "-start", "0", "-max-decoded", "1024")
	require.Equal(t, exitUnhealthy, r.code)
	r = runCmd(t, nil, "verify", "-store", st.Dir(), "-db", "db", "-max-decoded", "lots")
	require.Equal(t, exitError, r.code)
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"1": 1, "1024": 1024, "1KiB": 1 << 10, "256MiB": 256 << 20, "2G": 2 << 30, "3kb": 3 << 10} {
		got, err := parseBytes(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "0", "-1", "1TiB", "MiB", "1.5MiB", "99999999999GiB"} {
		_, err := parseBytes(in)
		require.Error(t, err, in)
	}
}
