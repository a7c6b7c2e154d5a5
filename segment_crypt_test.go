package dcbackup_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup"
)

// Fixed test keys (never use them for anything else).
const (
	testIdentityA  = "AGE-SECRET-KEY-19GSMDAG6GE763JHDMDT7XEKRREXCA54MU0S309WQKJG5929ZX3HSKCFWRZ"
	testRecipientA = "age1z9h3fqnn0wsfn306ln50rvdpffaqnk47yvjand4ay9rl4el2wd8qzl0a3u"
	testIdentityB  = "AGE-SECRET-KEY-1UQ3EGD2GD5D2TRVH9YTQWSH4P30UNRV9FFWQEFHRNMJKW38H0K0SL8C4QH"
	testRecipientB = "age1jhwf4m0ufm3h9wdz8s96q30ljp57vm23kawgl8fncmm3k8xvncvqjvfs4g"
)

func testKey(t testing.TB, identity string) (*age.X25519Identity, *age.X25519Recipient) {
	t.Helper()
	id, err := age.ParseX25519Identity(identity)
	require.NoError(t, err)
	return id, id.Recipient()
}

func newKey(t testing.TB) (*age.X25519Identity, *age.X25519Recipient) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	return id, id.Recipient()
}

func TestRecipientFingerprint(t *testing.T) {
	idA, recA := testKey(t, testIdentityA)
	_, recB := testKey(t, testIdentityB)
	require.Equal(t, testRecipientA, recA.String())
	fp := dcbackup.RecipientFingerprint(recA)
	assert.Len(t, fp, 16)
	assert.Equal(t, fp, dcbackup.IdentityFingerprint(idA))
	assert.NotEqual(t, fp, dcbackup.RecipientFingerprint(recB))
	assert.NotContains(t, fp, testRecipientA[4:12], "tells nothing of the key")
	hid, err := age.GenerateHybridIdentity()
	require.NoError(t, err)
	assert.Equal(t, dcbackup.RecipientFingerprint(hid.Recipient()), dcbackup.IdentityFingerprint(hid))
	sr, err := age.NewScryptRecipient("password")
	require.NoError(t, err)
	assert.Equal(t, "(*age.ScryptRecipient)", dcbackup.RecipientFingerprint(sr))
	si, err := age.NewScryptIdentity("password")
	require.NoError(t, err)
	assert.Equal(t, "", dcbackup.IdentityFingerprint(si))
}

func TestSegmentEncryptedRoundTrip(t *testing.T) {
	idA, recA := testKey(t, testIdentityA)
	idB, recB := testKey(t, testIdentityB)
	hid, err := age.GenerateHybridIdentity()
	require.NoError(t, err)
	for name, c := range map[string]struct {
		recipients []age.Recipient
		identities [][]age.Identity // each opens the segment alone
		comp       dcbackup.Compression
	}{
		"one recipient":         {[]age.Recipient{recA}, [][]age.Identity{{idA}}, dcbackup.CompressionZstd},
		"two recipients":        {[]age.Recipient{recA, recB}, [][]age.Identity{{idA}, {idB}, {idB, idA}}, dcbackup.CompressionZstd},
		"uncompressed":          {[]age.Recipient{recB}, [][]age.Identity{{idB}}, dcbackup.CompressionNone},
		"post-quantum (hybrid)": {[]age.Recipient{hid.Recipient()}, [][]age.Identity{{hid}}, dcbackup.CompressionZstd},
	} {
		enc, err := dcbackup.NewSegmentEncoder(dcbackup.EncodeOptions{Recipients: c.recipients, Compression: c.comp})
		require.NoError(t, err, name)
		for seed := range uint64(6) {
			seg := withV2Content(genSegment(seed, int(seed*5)))
			data, err := enc.Encode(seg)
			require.NoError(t, err, name)
			h := enc.LastHeader()
			require.True(t, h.Encrypted)
			require.Len(t, h.Recipients, len(c.recipients))
			for i, r := range c.recipients {
				assert.Equal(t, dcbackup.RecipientFingerprint(r), h.Recipients[i])
			}
			for _, ids := range c.identities {
				got, err := dcbackup.DecodeSegment(data, seg.Info(), dcbackup.DecodeOptions{Identities: ids, DB: seg.DB})
				require.NoError(t, err, "%s seed %d", name, seed)
				requireSameSegment(t, seg, got)
				assert.Equal(t, h, got.Header)
			}
			// The header reads without a key.
			head, err := dcbackup.DecodeSegmentHeader(data[:min(len(data), dcbackup.SegmentHeadReadSize)], seg.Info())
			require.NoError(t, err)
			assert.Equal(t, h, head)
		}
		enc.Close()
	}
}

func TestSegmentEncryptedNoKey(t *testing.T) {
	idA, recA := testKey(t, testIdentityA)
	idB, recB := testKey(t, testIdentityB)
	idC, _ := newKey(t)
	seg := withV2Content(genSegment(2, 10))
	data, err := dcbackup.EncodeSegment(seg, dcbackup.EncodeOptions{Recipients: []age.Recipient{recA, recB}})
	require.NoError(t, err)
	for name, ids := range map[string][]age.Identity{"no identity": nil, "another identity": {idC}} {
		_, err := dcbackup.DecodeSegment(data, seg.Info(), dcbackup.DecodeOptions{Identities: ids})
		require.ErrorIs(t, err, dcbackup.ErrNoKey, name)
		require.NotErrorIs(t, err, dcbackup.ErrCorruptSegment, name)
		var se *dcbackup.SegmentError
		require.ErrorAs(t, err, &se)
		assert.Equal(t, seg.Info(), se.Seg)
		assert.Equal(t, seg.DB, se.DB)
		msg := err.Error()
		assert.Contains(t, msg, dcbackup.RecipientFingerprint(recA), name)
		assert.Contains(t, msg, dcbackup.RecipientFingerprint(recB), name)
		t.Logf("%s: %v", name, err)
	}
	// Not a key for the payload, but everything else is checked first.
	_, err = dcbackup.DecodeSegment(data, dcbackup.SegmentInfo{StartT: seg.StartT, EndT: seg.EndT + 1}, dcbackup.DecodeOptions{})
	require.ErrorIs(t, err, dcbackup.ErrCorruptSegment)
	_, err = dcbackup.DecodeSegment(data, seg.Info(), dcbackup.DecodeOptions{DB: "other", Identities: []age.Identity{idA}})
	require.ErrorIs(t, err, dcbackup.ErrWrongDatabase)
	_, err = dcbackup.DecodeSegment(data, seg.Info(), dcbackup.DecodeOptions{Identities: []age.Identity{idC, idB}})
	require.NoError(t, err)
}

func TestSegmentNotEncrypted(t *testing.T) {
	idA, _ := testKey(t, testIdentityA)
	seg := withV2Content(genSegment(3, 8))
	plain, err := dcbackup.EncodeSegment(seg, dcbackup.EncodeOptions{})
	require.NoError(t, err)
	v1, err := osReadFile(t, "testdata/segment-v1/gen-35-20-none.seg")
	require.NoError(t, err)
	for name, data := range map[string][]byte{"version 2": plain, "version 1": v1} {
		_, err = dcbackup.DecodeSegment(data, dcbackup.SegmentInfo{}, dcbackup.DecodeOptions{Identities: []age.Identity{idA}})
		require.ErrorIs(t, err, dcbackup.ErrNotEncrypted, name)
		require.ErrorIs(t, err, dcbackup.ErrCorruptSegment, name)
		_, err = dcbackup.DecodeSegment(data, dcbackup.SegmentInfo{}, dcbackup.DecodeOptions{Identities: []age.Identity{idA}, AllowUnencrypted: true})
		require.NoError(t, err, name)
	}
}

// TestSegmentKeyRotation: segments written to new recipients after a
// rotation, the old ones still opened by the old identity.
func TestSegmentKeyRotation(t *testing.T) {
	idA, recA := testKey(t, testIdentityA)
	idB, recB := testKey(t, testIdentityB)
	old := withV2Content(genSegment(4, 5))
	oldData, err := dcbackup.EncodeSegment(old, dcbackup.EncodeOptions{Recipients: []age.Recipient{recA}})
	require.NoError(t, err)
	next := withV2Content(genSegment(5, 5))
	nextData, err := dcbackup.EncodeSegment(next, dcbackup.EncodeOptions{Recipients: []age.Recipient{recB}})
	require.NoError(t, err)
	dec, err := dcbackup.NewSegmentDecoder(dcbackup.DecodeOptions{Identities: []age.Identity{idB, idA}})
	require.NoError(t, err)
	defer dec.Close()
	_, err = dec.Decode(oldData, old.Info())
	require.NoError(t, err)
	_, err = dec.Decode(nextData, next.Info())
	require.NoError(t, err)
	_, err = dcbackup.DecodeSegment(oldData, old.Info(), dcbackup.DecodeOptions{Identities: []age.Identity{idB}})
	require.ErrorIs(t, err, dcbackup.ErrNoKey)
	assert.Contains(t, err.Error(), dcbackup.RecipientFingerprint(recA))
}

func TestSegmentEncoderRefusesRecipients(t *testing.T) {
	_, recA := testKey(t, testIdentityA)
	hid, err := age.GenerateHybridIdentity()
	require.NoError(t, err)
	_, err = dcbackup.NewSegmentEncoder(dcbackup.EncodeOptions{Recipients: []age.Recipient{recA, hid.Recipient()}})
	require.Error(t, err, "age refuses to mix post-quantum and classic recipients")
	_, err = dcbackup.NewSegmentEncoder(dcbackup.EncodeOptions{Recipients: []age.Recipient{nil}})
	require.Error(t, err)
}

// fixChecksums recomputes both CRCs of a version 2 segment, as someone
// who edits it on purpose would.
func fixChecksums(b []byte) []byte {
	table := crc32.MakeTable(crc32.Castagnoli)
	h := int(binary.LittleEndian.Uint32(b[8:12]))
	if 12+h+4 <= len(b)-4 {
		binary.LittleEndian.PutUint32(b[12+h:], crc32.Checksum(b[:12+h], table))
	}
	n := len(b) - 4
	binary.LittleEndian.PutUint32(b[n:], crc32.Checksum(b[:n], table))
	return b
}

// TestSegmentEncryptedTampering flips every byte of an encrypted segment:
// as is, the checksums catch it; with the checksums fixed (on purpose),
// age's authentication or the header digest does. Every case is
// ErrCorruptSegment naming the segment.
func TestSegmentEncryptedTampering(t *testing.T) {
	idA, recA := testKey(t, testIdentityA)
	_, recB := testKey(t, testIdentityB)
	seg := withV2Content(genSegment(12, 3))
	data, err := dcbackup.EncodeSegment(seg, dcbackup.EncodeOptions{Recipients: []age.Recipient{recA, recB}})
	require.NoError(t, err)
	dec, err := dcbackup.NewSegmentDecoder(dcbackup.DecodeOptions{Identities: []age.Identity{idA}, DB: seg.DB})
	require.NoError(t, err)
	defer dec.Close()
	name := seg.Info().String()
	cases := 0
	bad := make([]byte, len(data))
	for i := range len(data) - 4 {
		for _, mask := range []byte{0x01, 0xff} {
			for _, fix := range []bool{false, true} {
				copy(bad, data)
				bad[i] ^= mask
				if fix {
					if i == 4 {
						continue // another version: unsupported, not corrupt
					}
					fixChecksums(bad)
					if bytes.Equal(bad, data) {
						continue // the flip hit a checksum, now restored
					}
				}
				cases++
				_, err := dec.Decode(bad, seg.Info())
				if !errors.Is(err, dcbackup.ErrCorruptSegment) {
					t.Fatalf("flip %#x at %d (checksums fixed: %v): got %v, want a corrupt segment error", mask, i, fix, err)
				}
				if msg := err.Error(); !strings.Contains(msg, name) {
					t.Fatalf("flip %#x at %d: %q does not name the segment", mask, i, msg)
				}
			}
		}
	}
	for n := range len(data) {
		cases++
		_, err := dec.Decode(data[:n], seg.Info())
		require.ErrorIs(t, err, dcbackup.ErrCorruptSegment, "truncation to %d", n)
	}
	_, err = dec.Decode(data, seg.Info())
	require.NoError(t, err)
	t.Logf("encrypted segment of %d bytes: %d tamperings detected", len(data), cases)
}

// TestSegmentEncryptedSwap: a valid encrypted body under another valid
// header (the header of another segment, checksums fixed) is refused.
func TestSegmentEncryptedSwap(t *testing.T) {
	idA, recA := testKey(t, testIdentityA)
	enc, err := dcbackup.NewSegmentEncoder(dcbackup.EncodeOptions{Recipients: []age.Recipient{recA}})
	require.NoError(t, err)
	defer enc.Close()
	a := withV2Content(genSegment(20, 4))
	b := withV2Content(genSegment(20, 4))
	b.StartT, b.EndT = a.EndT, a.EndT+(a.EndT-a.StartT)
	for i := range b.Txs {
		shift := b.StartT - a.StartT
		b.Txs[i].T += shift
		for j := range b.Txs[i].Datoms {
			if b.Txs[i].Datoms[j].E == a.Txs[i].ID() {
				b.Txs[i].Datoms[j].E = b.Txs[i].ID()
			}
			b.Txs[i].Datoms[j].Tx = b.Txs[i].ID()
		}
	}
	da, err := enc.Encode(a)
	require.NoError(t, err)
	db, err := enc.Encode(b)
	require.NoError(t, err)
	ha := int(binary.LittleEndian.Uint32(da[8:12]))
	hb := int(binary.LittleEndian.Uint32(db[8:12]))
	// b's header and a's body.
	swapped := append(bytes.Clone(db[:12+hb+4]), da[12+ha+4:]...)
	fixChecksums(swapped)
	_, err = dcbackup.DecodeSegment(swapped, b.Info(), dcbackup.DecodeOptions{Identities: []age.Identity{idA}})
	require.ErrorIs(t, err, dcbackup.ErrCorruptSegment)
	t.Log(err)
	assert.Contains(t, err.Error(), fmt.Sprint(b.Info()))
}
