package dcbackup

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"slices"
	"time"

	"github.com/dcbackup/dcbackup/datomic"
)

// Lineage identifies the source database a segment was backed up from: the
// id its connection tells (datomic.Identified), and the first transaction
// of its log. Two databases differ in lineage even when they share a name,
// a schema and a t numbering; a database restored from an older backup, or
// deleted and created again, keeps neither its first transaction's instant
// nor, usually, its id.
type Lineage struct {
	// DatabaseID is the source's own id ("" when its connection tells
	// none).
	DatabaseID string
	// GenesisT and GenesisInstant are the t and :db/txInstant of the first
	// transaction of the source's log (GenesisT -1: the log was empty).
	GenesisT       int64
	GenesisInstant time.Time
}

// LineageFingerprint is the public name of a Lineage, stored in the clear
// in every segment's header: equal lineages have equal fingerprints, and a
// fingerprint tells nothing of the database id or first transaction.
type LineageFingerprint [16]byte

// String returns the fingerprint in hex.
func (f LineageFingerprint) String() string { return hex.EncodeToString(f[:]) }

// IsZero reports whether f is unset (a segment of format version 1).
func (f LineageFingerprint) IsZero() bool { return f == LineageFingerprint{} }

// IsZero reports whether l is the zero Lineage: what segments written
// without a lineage carry (and every version 1 segment).
func (l Lineage) IsZero() bool {
	return l.DatabaseID == "" && l.GenesisT == 0 && l.GenesisInstant.IsZero()
}

// key derives the lineage's secret key, which keys transaction digests:
// SHA-256 of a domain string, the database id and the first transaction.
func (l Lineage) key() [32]byte {
	b := make([]byte, 0, 64+len(l.DatabaseID))
	b = append(b, "dcbackup lineage key v2\x00"...)
	b = appendUvarint(b, uint64(len(l.DatabaseID)))
	b = append(b, l.DatabaseID...)
	b = appendVarint(b, l.GenesisT)
	b = appendVarint(b, l.genesisMillis())
	return sha256.Sum256(b)
}

func (l Lineage) genesisMillis() int64 {
	if l.GenesisInstant.IsZero() {
		return 0
	}
	return l.GenesisInstant.UnixMilli()
}

// Fingerprint returns the lineage's public fingerprint.
func (l Lineage) Fingerprint() LineageFingerprint {
	k := l.key()
	h := sha256.New()
	h.Write([]byte("dcbackup lineage v2\x00"))
	h.Write(k[:])
	var f LineageFingerprint
	copy(f[:], h.Sum(nil))
	return f
}

// String describes the lineage for messages.
func (l Lineage) String() string {
	id := l.DatabaseID
	if id == "" {
		id = "no database id"
	}
	if l.GenesisT < 0 {
		return fmt.Sprintf("%s, empty log", id)
	}
	return fmt.Sprintf("%s, first transaction t %d at %s", id, l.GenesisT, l.GenesisInstant.UTC().Format(time.RFC3339Nano))
}

// TxDigest is a keyed digest of one source transaction: equal for the same
// transaction of the same lineage, however its datoms are ordered or
// segmented, and different for any other transaction.
type TxDigest [16]byte

// String returns the digest in hex.
func (d TxDigest) String() string { return hex.EncodeToString(d[:]) }

// TxLink names one source transaction by its t and digest. Segments chain
// through links: a segment's Prev is the Last of the segment before it.
type TxLink struct {
	// T is the transaction's t; -1 when there is no transaction (the link
	// before the first transaction of a log).
	T int64
	// Digest is the transaction's digest (zero when T is -1).
	Digest TxDigest
}

// NoTx is the link before the first transaction of a log.
var NoTx = TxLink{T: -1}

// String formats the link for messages.
func (l TxLink) String() string {
	if l.T < 0 {
		return "no transaction"
	}
	return fmt.Sprintf("t %d (digest %s)", l.T, l.Digest)
}

// TxDigester computes transaction digests for one lineage, reusing its
// buffers. It is not safe for concurrent use.
type TxDigester struct {
	mac     hash.Hash
	buf     []byte
	offsets []int
	order   []int
	vals    valueWriter
}

// NewTxDigester returns a digester for transactions of lineage l.
func NewTxDigester(l Lineage) *TxDigester {
	k := l.key()
	return &TxDigester{mac: hmac.New(sha256.New, k[:])}
}

// Link returns the link of tx: its t and digest.
func (g *TxDigester) Link(tx datomic.Tx) (TxLink, error) {
	d, err := g.Digest(tx)
	return TxLink{T: tx.T, Digest: d}, err
}

// Digest returns the digest of tx: HMAC-SHA-256, keyed by the lineage,
// of the transaction's t and its datoms in canonical order (see
// SEGMENT-FORMAT.md), truncated to 16 bytes. It fails only for a value
// of a Go type that no value type has.
func (g *TxDigester) Digest(tx datomic.Tx) (TxDigest, error) {
	g.buf = g.buf[:0]
	g.offsets = g.offsets[:0]
	for i := range tx.Datoms {
		d := &tx.Datoms[i]
		g.offsets = append(g.offsets, len(g.buf))
		var err error
		if g.buf, err = g.appendDatom(g.buf, d); err != nil {
			return TxDigest{}, fmt.Errorf("digest of t %d: datom %s: %w", tx.T, *d, err)
		}
	}
	g.offsets = append(g.offsets, len(g.buf))
	g.order = g.order[:0]
	for i := range tx.Datoms {
		g.order = append(g.order, i)
	}
	enc := func(i int) []byte { return g.buf[g.offsets[i]:g.offsets[i+1]] }
	slices.SortFunc(g.order, func(a, b int) int { return bytes.Compare(enc(a), enc(b)) })

	g.mac.Reset()
	var scratch [2 * binary.MaxVarintLen64]byte
	h := appendUvarint(scratch[:0], uint64(tx.T))
	h = appendUvarint(h, uint64(len(tx.Datoms)))
	g.mac.Write(h)
	for _, i := range g.order {
		e := enc(i)
		g.mac.Write(appendUvarint(scratch[:0], uint64(len(e))))
		g.mac.Write(e)
	}
	var out TxDigest
	copy(out[:], g.mac.Sum(nil))
	return out, nil
}

// appendDatom appends the canonical encoding of d: e and a as zigzag
// varints, added as one byte, the value's type code, then the value as a
// tuple element is encoded (SEGMENT-FORMAT.md, section 3), its varint part
// and its byte part each prefixed by its length.
func (g *TxDigester) appendDatom(b []byte, d *datomic.Datom) ([]byte, error) {
	b = appendVarint(b, d.E)
	b = appendVarint(b, d.A)
	if d.Added {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	t := canonicalType(d.V)
	if t == datomic.TypeInvalid {
		return b, fmt.Errorf("unsupported Go type %T", d.V)
	}
	b = append(b, byte(t))
	g.vals = valueWriter{ints: g.vals.ints[:0], bytes: g.vals.bytes[:0]}
	if err := g.vals.value(t, d.V); err != nil {
		return b, err
	}
	b = appendUvarint(b, uint64(len(g.vals.ints)))
	b = append(b, g.vals.ints...)
	b = appendUvarint(b, uint64(len(g.vals.bytes)))
	return append(b, g.vals.bytes...), nil
}

// canonicalType is the value type a digest encodes v as: the type of its Go
// value, with refs and longs alike as longs.
func canonicalType(v any) datomic.ValueType {
	switch v.(type) {
	case datomic.Tuple:
		return datomic.TypeTuple
	case datomic.Fn:
		return datomic.TypeFn
	}
	return tupleElemTag(v)
}
