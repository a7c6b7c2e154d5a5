package dcbackup_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/mem"
	"github.com/dcbackup/dcbackup/internal/histgen"
	"github.com/dcbackup/dcbackup/internal/s3test"
)

// Backup, Restore and Replicate encrypt and decrypt through
// BackupOptions.Encode and RestoreOptions.Decode.

func encryptedBackup(t testing.TB, source datomic.Conn, store dcbackup.BackupStore, recipients ...age.Recipient) dcbackup.BackupResult {
	t.Helper()
	res, err := dcbackup.Backup(context.Background(), "db", source, store, &dcbackup.BackupOptions{
		MaxTxPerSegment: 15, Concurrency: 2, Encode: dcbackup.EncodeOptions{Recipients: recipients},
	})
	require.NoError(t, err)
	require.Greater(t, res.Segments, 2)
	return res
}

// requireAllEncrypted checks from the headers alone (no key) that every
// segment of store's "db" is encrypted to exactly recipients.
func requireAllEncrypted(t testing.TB, store dcbackup.BackupStore, recipients ...age.Recipient) {
	t.Helper()
	ctx := context.Background()
	segs, err := store.List(ctx, "db", 0)
	require.NoError(t, err)
	var want []string
	for _, r := range recipients {
		want = append(want, dcbackup.RecipientFingerprint(r))
	}
	for _, s := range segs {
		data, err := store.Load(ctx, "db", s)
		require.NoError(t, err)
		h, err := dcbackup.DecodeSegmentHeader(data, s)
		require.NoError(t, err)
		require.True(t, h.Encrypted, "segment %s", s)
		require.Equal(t, want, h.Recipients, "segment %s", s)
	}
}

func restoreOpts(ids ...age.Identity) *dcbackup.RestoreOptions {
	return &dcbackup.RestoreOptions{Decode: dcbackup.DecodeOptions{Identities: ids}}
}

// requireRestoreRefusedWith restores store's "db" into target with opts,
// and requires the restore to fail with want and leave the target's basis
// unchanged.
func requireRestoreRefusedWith(t testing.TB, store dcbackup.BackupStore, target datomic.Conn, opts *dcbackup.RestoreOptions, want error) error {
	t.Helper()
	before := basisT(t, target)
	_, err := dcbackup.Restore(context.Background(), "db", store, target, opts)
	require.ErrorIs(t, err, want)
	require.Equal(t, before, basisT(t, target), "target untouched")
	return err
}

func TestEncryptedBackupRestore(t *testing.T) {
	idA, recA := testKey(t, testIdentityA)
	idB, recB := testKey(t, testIdentityB)
	source := newSource(t, 31, 120, true)
	fsStore, err := dcbackup.NewFSStore(t.TempDir())
	require.NoError(t, err)
	for name, store := range map[string]dcbackup.BackupStore{"mem": dcbackup.NewMemStore(), "filesystem": fsStore} {
		t.Run(name, func(t *testing.T) {
			encryptedBackup(t, source, store, recA, recB)
			requireAllEncrypted(t, store, recA, recB)
			gaps, err := dcbackup.Gaps(context.Background(), "db", store)
			require.NoError(t, err)
			require.Empty(t, gaps, "structure needs no key")
			for _, id := range []age.Identity{idA, idB} {
				target := newTarget()
				res, err := dcbackup.Restore(context.Background(), "db", store, target, restoreOpts(id))
				require.NoError(t, err)
				txs, _ := logLen(t, source)
				require.Equal(t, txs, res.Transactions)
				requireVerified(t, source, target)
			}
		})
	}
}

// TestEncryptedStoreHidesContent: no string, keyword or attribute ident
// of the source appears in the stored bytes of an encrypted backup (while
// an unencrypted, uncompressed one shows them all).
func TestEncryptedStoreHidesContent(t *testing.T) {
	_, recA := testKey(t, testIdentityA)
	source := newSource(t, 32, 80, true)
	ctx := context.Background()
	secrets := map[string]bool{}
	db, err := source.DB(ctx)
	require.NoError(t, err)
	for tx, err := range source.TxRange(ctx, 0, 0) {
		require.NoError(t, err)
		for _, d := range tx.Datoms {
			var s string
			switch v := d.V.(type) {
			case string:
				s = v
			case datomic.Keyword:
				s = string(v)
			}
			if len(s) >= 6 {
				secrets[s] = true
			}
			if a, ok, err := db.Attribute(ctx, d.A); err == nil && ok && len(a.Ident) >= 6 {
				secrets[string(a.Ident)] = true
			}
		}
	}
	require.Greater(t, len(secrets), 20)
	stored := func(opts dcbackup.EncodeOptions) []byte {
		store := dcbackup.NewMemStore()
		_, err := dcbackup.Backup(ctx, "db", source, store, &dcbackup.BackupOptions{MaxTxPerSegment: 20, Encode: opts})
		require.NoError(t, err)
		segs, err := store.List(ctx, "db", 0)
		require.NoError(t, err)
		var all []byte
		for _, s := range segs {
			data, err := store.Load(ctx, "db", s)
			require.NoError(t, err)
			all = append(all, data...)
		}
		return all
	}
	plain := stored(dcbackup.EncodeOptions{Compression: dcbackup.CompressionNone})
	sealed := stored(dcbackup.EncodeOptions{Recipients: []age.Recipient{recA}, Compression: dcbackup.CompressionNone})
	for s := range secrets {
		require.True(t, bytes.Contains(plain, []byte(s)), "the plaintext store shows %q", s)
		require.False(t, bytes.Contains(sealed, []byte(s)), "the encrypted store shows %q", s)
	}
	t.Logf("%d strings, keywords and idents hidden", len(secrets))
}

func TestEncryptedRestoreRefused(t *testing.T) {
	idA, recA := testKey(t, testIdentityA)
	idC, _ := newKey(t)
	source := newSource(t, 33, 60, true)
	store := dcbackup.NewMemStore()
	encryptedBackup(t, source, store, recA)

	// No key, the wrong key.
	err := requireRestoreRefusedWith(t, store, newTarget(), nil, dcbackup.ErrNoKey)
	assert.Contains(t, err.Error(), dcbackup.RecipientFingerprint(recA))
	err = requireRestoreRefusedWith(t, store, newTarget(), restoreOpts(idC), dcbackup.ErrNoKey)
	assert.Contains(t, err.Error(), dcbackup.RecipientFingerprint(recA))

	// A byte changed in the first segment's body, checksums fixed.
	tampered := copySegments(t, store, "db", func(i int, _ dcbackup.SegmentInfo, data []byte) []byte {
		if i == 0 {
			data[len(data)-40] ^= 0x20
			fixChecksums(data)
		}
		return data
	})
	requireRestoreRefusedWith(t, tampered, newTarget(), restoreOpts(idA), dcbackup.ErrCorruptSegment)

	// A segment written in the clear by someone without a recipient key.
	forged := copySegments(t, store, "db", func(i int, s dcbackup.SegmentInfo, data []byte) []byte {
		if i == 0 {
			seg, err := dcbackup.DecodeSegment(data, s, dcbackup.DecodeOptions{Identities: []age.Identity{idA}})
			require.NoError(t, err)
			data, err = dcbackup.EncodeSegment(seg, dcbackup.EncodeOptions{})
			require.NoError(t, err)
		}
		return data
	})
	requireRestoreRefusedWith(t, forged, newTarget(), restoreOpts(idA), dcbackup.ErrNotEncrypted)

	// The second segment's bytes stored under the first one's range.
	segs, err := store.List(context.Background(), "db", 0)
	require.NoError(t, err)
	second, err := store.Load(context.Background(), "db", segs[1])
	require.NoError(t, err)
	moved := copySegments(t, store, "db", func(i int, _ dcbackup.SegmentInfo, data []byte) []byte {
		if i == 0 {
			return bytes.Clone(second)
		}
		return data
	})
	requireRestoreRefusedWith(t, moved, newTarget(), restoreOpts(idA), dcbackup.ErrCorruptSegment)
}

// TestEncryptedKeyRotation: a backup continued with new recipients; the
// restore needs the old identity for the old segments and the new one for
// the new.
func TestEncryptedKeyRotation(t *testing.T) {
	idA, recA := testKey(t, testIdentityA)
	idB, recB := testKey(t, testIdentityB)
	ctx := context.Background()
	source := mem.New(mem.Options{Clock: newStepClock().Now, SharedCounter: true})
	gen, err := histgen.New(ctx, source, histgen.Config{Seed: 34})
	require.NoError(t, err)
	_, err = gen.Run(ctx, 40)
	require.NoError(t, err)
	store := dcbackup.NewMemStore()
	encryptedBackup(t, source, store, recA)
	_, err = gen.Run(ctx, 40)
	require.NoError(t, err)
	next, err := dcbackup.BackupNext(ctx, "db", source, store, &dcbackup.BackupOptions{Encode: dcbackup.EncodeOptions{Recipients: []age.Recipient{recB}}})
	require.NoError(t, err)
	require.Equal(t, 1, next.Segments)

	requireRestoreRefusedWith(t, store, newTarget(), restoreOpts(idB), dcbackup.ErrNoKey)
	target := newTarget()
	_, err = dcbackup.Restore(ctx, "db", store, target, restoreOpts(idB, idA))
	require.NoError(t, err)
	requireVerified(t, source, target)
}

func TestEncryptedReplicate(t *testing.T) {
	idA, recA := testKey(t, testIdentityA)
	source := newSource(t, 35, 40, false)
	store := dcbackup.NewMemStore()
	encryptedBackup(t, source, store, recA)
	var ts []int64
	for tx, err := range source.TxRange(context.Background(), 0, 0) {
		require.NoError(t, err)
		ts = append(ts, tx.T)
	}
	stop := ts[len(ts)-5]
	target := newTarget()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := dcbackup.Replicate(ctx, "db", store, target, &dcbackup.ReplicateOptions{
		PollInterval: time.Millisecond,
		Restore:      dcbackup.RestoreOptions{UntilT: stop, Decode: dcbackup.DecodeOptions{Identities: []age.Identity{idA}}},
	})
	require.NoError(t, err)
	rep := requireVerified(t, source, target)
	require.Equal(t, stop, rep.LastT)
}

// TestS3EncryptedRoundTrip backs up to a real S3-compatible server,
// encrypted, and restores.
func TestS3EncryptedRoundTrip(t *testing.T) {
	store := s3test.NewStore(t, dcbackup.S3Options{})
	idA, recA := testKey(t, testIdentityA)
	source := newSource(t, 36, 80, true)
	encryptedBackup(t, source, store, recA)
	requireAllEncrypted(t, store, recA)
	requireRestoreRefusedWith(t, store, newTarget(), nil, dcbackup.ErrNoKey)
	target := newTarget()
	_, err := dcbackup.Restore(context.Background(), "db", store, target, restoreOpts(idA))
	require.NoError(t, err)
	requireVerified(t, source, target)
}
