package dcbackup

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"math/big"
	"slices"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/klauspost/compress/zstd"

	"github.com/dcbackup/dcbackup/datomic"
)

// SegmentEncoder encodes segments, reusing its buffers, CBOR mode and zstd
// encoder from one call to the next. It is not safe for concurrent use:
// give each goroutine its own (they are cheap to keep, costly to create).
type SegmentEncoder struct {
	opts EncodeOptions
	em   cbor.EncMode
	zenc *zstd.Encoder
	crc  *crc32.Table
	seal *sealer

	p       segmentPayload
	payload bytes.Buffer
	comp    []byte
	hdr     []byte
	attrs   attrTable
	stats   contentStats

	dig        *TxDigester
	digLineage Lineage

	last SegmentHeader
}

// maxTupleLen bounds the elements of one tuple value (Datomic allows 8).
const maxTupleLen = 1 << 16

// NewSegmentEncoder returns an encoder with opts. It fails for an unknown
// compression, and for recipients that age cannot encrypt to together.
func NewSegmentEncoder(opts EncodeOptions) (*SegmentEncoder, error) {
	em, err := newSegmentEncMode()
	if err != nil {
		return nil, err
	}
	e := &SegmentEncoder{opts: opts, em: em, crc: newCRCTable()}
	if e.seal, err = newSealer(opts.Recipients); err != nil {
		return nil, err
	}
	switch opts.Compression {
	case CompressionNone:
	case CompressionZstd:
		e.zenc, err = zstd.NewWriter(nil,
			zstd.WithEncoderLevel(zstd.SpeedDefault),
			zstd.WithEncoderConcurrency(1),
			zstd.WithEncoderCRC(false), // the frame's CRC-32C covers it
			zstd.WithZeroFrames(true))
		if err != nil {
			return nil, fmt.Errorf("dcbackup: zstd encoder: %w", err)
		}
	default:
		return nil, fmt.Errorf("dcbackup: unknown compression %d", opts.Compression)
	}
	return e, nil
}

// Close releases the encoder's resources. The encoder must not be used
// afterwards.
func (e *SegmentEncoder) Close() {
	if e.zenc != nil {
		_ = e.zenc.Close()
		e.zenc = nil
	}
}

// Encode returns the stored form of seg: a new slice the caller owns. It
// leaves seg untouched; LastHeader returns the header it wrote, with the
// Last link the next segment's Prev must be.
//
// A seg that is not well formed (see ErrInvalidSegment) is refused: its
// database name must pass ValidateDBName, its range ValidateSegmentRange,
// its transactions must be in strictly increasing t order inside the
// range, every datom's Tx must be datomic.TxID of its transaction's t,
// every datom's attribute must be in Attrs, every value must have the Go
// type of its attribute's value type (datomic.Fn not inside tuples), and
// Prev must be NoTx, the zero TxLink (written as NoTx) or a link with
// 0 <= T < StartT. Instants are stored in milliseconds. seg.Version,
// seg.Last and seg.Header are ignored: the segment is written in
// SegmentFormatVersion, and Last, the features and the longest strings
// are computed. Every entry of seg.Attrs, seg.Idents and seg.Renames is
// written, used or not.
func (e *SegmentEncoder) Encode(seg *Segment) ([]byte, error) {
	if seg == nil {
		return nil, invalidf("nil segment")
	}
	out, err := e.encode(seg)
	if err != nil {
		return nil, fmt.Errorf("dcbackup: encode segment %s of database %q: %w", seg.Info(), seg.DB, err)
	}
	return out, nil
}

// LastHeader returns the header of the segment the last successful Encode
// call wrote (the zero SegmentHeader before any): among others its Last
// link, Features and sizes.
func (e *SegmentEncoder) LastHeader() SegmentHeader {
	h := e.last
	h.Recipients = slices.Clone(h.Recipients)
	return h
}

func (e *SegmentEncoder) encode(seg *Segment) ([]byte, error) {
	if err := ValidateDBName(seg.DB); err != nil {
		return nil, invalidf("%v", err)
	}
	if err := ValidateSegmentRange(seg.Info()); err != nil {
		return nil, invalidf("%v", err)
	}
	prev := seg.Prev
	if prev == (TxLink{}) {
		prev = NoTx
	}
	switch {
	case prev.T < -1 || prev.T >= seg.StartT:
		return nil, invalidf("previous transaction t %d is not in [-1, %d)", prev.T, seg.StartT)
	case prev.T == -1 && prev.Digest != (TxDigest{}):
		return nil, invalidf("previous transaction t -1 (none) with a digest")
	}
	if err := e.attrs.build(seg.Attrs); err != nil {
		return nil, err
	}
	p := &e.p
	*p = segmentPayload{
		DatabaseID:     seg.Lineage.DatabaseID,
		GenesisT:       seg.Lineage.GenesisT,
		GenesisInstant: seg.Lineage.genesisMillis(),
		Renames:        identRecords(p.Renames[:0], seg.Renames),
		Attrs:          e.attrs.recs,
		Idents:         identRecords(p.Idents[:0], seg.Idents),
		segmentColumns: segmentColumns{
			TxCol:   p.TxCol[:0],
			OpCol:   p.OpCol[:0],
			ECol:    p.ECol[:0],
			IntCol:  p.IntCol[:0],
			ByteCol: p.ByteCol[:0],
		},
	}
	datoms, err := e.encodeTxs(seg)
	if err != nil {
		return nil, err
	}
	last := prev
	if n := len(seg.Txs); n > 0 {
		if e.dig == nil || e.digLineage != seg.Lineage {
			e.dig, e.digLineage = NewTxDigester(seg.Lineage), seg.Lineage
		}
		if last, err = e.dig.Link(seg.Txs[n-1]); err != nil {
			return nil, invalidf("%v", err)
		}
	}
	e.payload.Reset()
	if err := e.em.NewEncoder(&e.payload).Encode(p); err != nil {
		return nil, fmt.Errorf("cbor: %w", err)
	}
	raw := e.payload.Bytes()

	// The body's plaintext is the header digest, then the payload as
	// stored: compressed, unless that breaks the ratio bound.
	comp, stored := byte(frameCompressionNone), raw
	if e.zenc != nil {
		e.comp = e.zenc.EncodeAll(raw, e.comp[:0])
		if uint64(len(raw)) <= maxRawLen(headerDigestLen+len(e.comp)) {
			comp, stored = frameCompressionZstd, e.comp
		}
	}
	plainLen := headerDigestLen + len(stored)
	bodyLen := plainLen
	enc := byte(frameEncryptionNone)
	var sealw io.WriteCloser
	var fingerprints []string
	if e.seal != nil {
		enc, fingerprints = frameEncryptionAge, e.seal.fingerprints
		if sealw, bodyLen, err = e.seal.begin(plainLen); err != nil {
			return nil, err
		}
	}

	r := headerRecord{
		DB:          seg.DB,
		StartT:      seg.StartT,
		EndT:        seg.EndT,
		TxCount:     uint64(len(seg.Txs)),
		DatomCount:  uint64(datoms),
		RawLen:      uint64(len(raw)),
		Lineage:     nil,
		Prev:        toLinkRecord(prev),
		Last:        toLinkRecord(last),
		Features:    uint64(e.stats.features),
		MaxStr:      uint64(e.stats.maxStr),
		MaxTupleStr: uint64(e.stats.maxTupleStr),
		Recipients:  fingerprints,
	}
	fp := seg.Lineage.Fingerprint()
	r.Lineage = fp[:]
	// The stored length includes the header, whose length depends on it:
	// iterate until it is stable (at most a few rounds, lengths only grow).
	for {
		if e.hdr, err = marshalHeader(e.hdr[:0], e.em, &r); err != nil {
			return nil, err
		}
		total := uint64(frameV2PrefixLen + len(e.hdr) + 4 + bodyLen + frameTrailerLen)
		if total == r.StoredLen {
			break
		}
		r.StoredLen = total
	}
	if len(e.hdr) > frameV2MaxHeaderLen {
		return nil, invalidf("header of %d bytes, more than %d (too many recipients?)", len(e.hdr), frameV2MaxHeaderLen)
	}

	out := make([]byte, frameV2PrefixLen, r.StoredLen)
	putFrameV2Prefix(out, comp, enc, len(e.hdr))
	out = append(out, e.hdr...)
	out = binary.LittleEndian.AppendUint32(out, crc32.Checksum(out, e.crc))
	digest := sha256.Sum256(out[:frameV2PrefixLen+len(e.hdr)])
	if sealw != nil {
		if _, err := sealw.Write(digest[:]); err != nil {
			return nil, fmt.Errorf("age: %w", err)
		}
		if _, err := sealw.Write(stored); err != nil {
			return nil, fmt.Errorf("age: %w", err)
		}
		if err := sealw.Close(); err != nil {
			return nil, fmt.Errorf("age: %w", err)
		}
		if e.seal.buf.Len() != bodyLen {
			return nil, fmt.Errorf("age: encrypted body of %d bytes, %d expected", e.seal.buf.Len(), bodyLen)
		}
		out = append(out, e.seal.buf.Bytes()...)
	} else {
		out = append(out, digest[:]...)
		out = append(out, stored...)
	}
	out = binary.LittleEndian.AppendUint32(out, crc32.Checksum(out, e.crc))
	if uint64(len(out)) != r.StoredLen {
		return nil, fmt.Errorf("segment of %d bytes, header says %d", len(out), r.StoredLen)
	}
	h, err := headerFromRecord(&r, out[:frameV2PrefixLen])
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	e.last = h
	return out, nil
}

// encodeTxs fills the datom columns of e.p and e.stats, and returns the
// number of datoms.
func (e *SegmentEncoder) encodeTxs(seg *Segment) (int, error) {
	p := &e.p
	txCol, opCol, eCol := p.TxCol, p.OpCol, p.ECol
	vals := valueWriter{ints: p.IntCol, bytes: p.ByteCol}
	prevT := seg.StartT
	var lastE, baseE int64
	var feat Features
	typeFeat := typeFeatures(seg.Idents)
	datoms := 0
	for ti := range seg.Txs {
		tx := &seg.Txs[ti]
		if tx.T < seg.StartT || tx.T >= seg.EndT {
			return 0, invalidf("transaction t %d outside the range", tx.T)
		}
		if ti > 0 && tx.T <= prevT {
			return 0, invalidf("transaction t %d follows t %d: not strictly increasing", tx.T, prevT)
		}
		txCol = appendUvarint(txCol, uint64(tx.T-prevT))
		txCol = appendUvarint(txCol, uint64(len(tx.Datoms)))
		prevT = tx.T
		txID := datomic.TxID(tx.T)
		for di := range tx.Datoms {
			d := &tx.Datoms[di]
			if d.Tx != txID {
				return 0, invalidf("t %d: datom %s has tx %d, want %d", tx.T, d, d.Tx, txID)
			}
			idx, ok := e.attrs.index(d.A)
			if !ok {
				return 0, invalidf("t %d: datom %s: attribute %d is not in Attrs", tx.T, d, d.A)
			}
			var mode uint64
			switch {
			case d.E == lastE:
				mode = eModeSame
			case d.E == txID:
				mode = eModeTx
			default:
				mode = eModeDelta
				eCol = appendVarint(eCol, d.E-baseE)
				baseE = d.E
				feat |= partitionFeature(d.E)
			}
			lastE = d.E
			op := uint64(idx)<<3 | mode<<1
			if d.Added {
				op |= 1
			}
			opCol = appendUvarint(opCol, op)
			a := &e.attrs.info[idx]
			if err := vals.value(a.vt, d.V); err != nil {
				return 0, invalidf("t %d: datom %s: %v", tx.T, d, err)
			}
			feat |= a.feat
			if a.tupleRefs {
				feat |= tupleRefFeatures(&a.attr, d.V)
			}
			if id, ok := d.V.(int64); ok && a.valueType {
				feat |= typeFeat[id]
			}
		}
		datoms += len(tx.Datoms)
	}
	p.TxCol, p.OpCol, p.ECol, p.IntCol, p.ByteCol = txCol, opCol, eCol, vals.ints, vals.bytes
	vals.stats.features |= feat
	e.stats = vals.stats
	return datoms, nil
}

// E modes of a datom's op.
const (
	eModeSame  = 0 // e of the previous datom (0 before the first)
	eModeTx    = 1 // the transaction's own entity id
	eModeDelta = 2 // previous delta-coded e + the next zigzag varint of ECol
)

// valueWriter appends values to the two value columns, and notes in stats
// what the header summarises.
type valueWriter struct {
	ints, bytes []byte
	prevRef     int64
	prevInst    int64
	inTuple     bool
	stats       contentStats
}

func (w *valueWriter) str(s string) {
	w.ints = appendUvarint(w.ints, uint64(len(s)))
	w.bytes = append(w.bytes, s...)
}

func (w *valueWriter) bigInt(x *big.Int) {
	n := (x.BitLen() + 7) / 8
	h := uint64(n) << 1
	if x.Sign() < 0 {
		h |= 1
	}
	w.ints = appendUvarint(w.ints, h)
	w.bytes = slices.Grow(w.bytes, n)
	l := len(w.bytes)
	w.bytes = w.bytes[:l+n]
	x.FillBytes(w.bytes[l:])
}

func wrongType(t datomic.ValueType, v any) error {
	return fmt.Errorf("value %s of Go type %T is not a %s", datomic.FormatValue(v), v, t)
}

// value appends v, whose attribute has value type t. Refs and instants are
// delta-coded against the previous ones of the segment.
func (w *valueWriter) value(t datomic.ValueType, v any) error {
	switch t {
	case datomic.TypeRef:
		x, ok := v.(int64)
		if !ok {
			return wrongType(t, v)
		}
		w.ints = appendVarint(w.ints, x-w.prevRef)
		w.prevRef = x
		w.stats.features |= partitionFeature(x)
		return nil
	case datomic.TypeInstant:
		x, ok := v.(time.Time)
		if !ok {
			return wrongType(t, v)
		}
		ms := x.UnixMilli()
		w.ints = appendVarint(w.ints, ms-w.prevInst)
		w.prevInst = ms
		return nil
	case datomic.TypeTuple:
		x, ok := v.(datomic.Tuple)
		if !ok {
			return wrongType(t, v)
		}
		if len(x) > maxTupleLen {
			return fmt.Errorf("tuple of %d elements, more than %d", len(x), maxTupleLen)
		}
		w.ints = appendUvarint(w.ints, uint64(len(x)))
		w.inTuple = true
		defer func() { w.inTuple = false }()
		for i, el := range x {
			et := tupleElemTag(el)
			if et == datomic.TypeInvalid && el != nil {
				return fmt.Errorf("tuple element %d: unsupported Go type %T", i, el)
			}
			w.ints = append(w.ints, byte(et))
			if el != nil {
				if err := w.plain(et, el); err != nil {
					return fmt.Errorf("tuple element %d: %w", i, err)
				}
			}
		}
		return nil
	}
	return w.plain(t, v)
}

// plain appends a value that is neither delta-coded nor a tuple.
func (w *valueWriter) plain(t datomic.ValueType, v any) error {
	ok := false
	switch t {
	case datomic.TypeRef, datomic.TypeLong:
		var x int64
		if x, ok = v.(int64); ok {
			w.ints = appendVarint(w.ints, x)
		}
	case datomic.TypeString:
		var x string
		if x, ok = v.(string); ok {
			w.str(x)
			w.stats.noteString(x, w.inTuple)
		}
	case datomic.TypeKeyword:
		var x datomic.Keyword
		if x, ok = v.(datomic.Keyword); ok {
			w.str(string(x))
		}
	case datomic.TypeSymbol:
		var x datomic.Symbol
		if x, ok = v.(datomic.Symbol); ok {
			w.str(string(x))
		}
	case datomic.TypeURI:
		var x datomic.URI
		if x, ok = v.(datomic.URI); ok {
			w.str(string(x))
		}
	case datomic.TypeBoolean:
		var x bool
		if x, ok = v.(bool); ok {
			b := byte(0)
			if x {
				b = 1
			}
			w.ints = append(w.ints, b)
		}
	case datomic.TypeBigInt:
		var x *big.Int
		if x, ok = v.(*big.Int); ok && x != nil {
			w.bigInt(x)
		} else {
			ok = false
		}
	case datomic.TypeFloat:
		var x float32
		if x, ok = v.(float32); ok {
			w.bytes = binary.LittleEndian.AppendUint32(w.bytes, math.Float32bits(x))
		}
	case datomic.TypeDouble:
		var x float64
		if x, ok = v.(float64); ok {
			w.bytes = binary.LittleEndian.AppendUint64(w.bytes, math.Float64bits(x))
		}
	case datomic.TypeBigDec:
		var x datomic.BigDec
		if x, ok = v.(datomic.BigDec); ok && x.Unscaled != nil {
			w.ints = appendVarint(w.ints, int64(x.Scale))
			w.bigInt(x.Unscaled)
		} else {
			ok = false
		}
	case datomic.TypeInstant:
		var x time.Time
		if x, ok = v.(time.Time); ok {
			w.ints = appendVarint(w.ints, x.UnixMilli())
		}
	case datomic.TypeUUID:
		var x datomic.UUID
		if x, ok = v.(datomic.UUID); ok {
			w.bytes = append(w.bytes, x[:]...)
		}
	case datomic.TypeBytes:
		var x []byte
		if x, ok = v.([]byte); ok {
			w.ints = appendUvarint(w.ints, uint64(len(x)))
			w.bytes = append(w.bytes, x...)
			w.stats.features |= FeatureBytes
		}
	case datomic.TypeFn:
		var x datomic.Fn
		if x, ok = v.(datomic.Fn); ok && !w.inTuple {
			w.fn(x)
		} else {
			ok = false
		}
	default:
		return fmt.Errorf("value type %s cannot be stored here", t)
	}
	if !ok {
		return wrongType(t, v)
	}
	return nil
}

// fn appends a stored function: its language, parameter count and
// parameters, code, requires and imports, each text as a string is.
func (w *valueWriter) fn(f datomic.Fn) {
	w.str(string(f.Lang))
	w.ints = appendUvarint(w.ints, uint64(len(f.Params)))
	for _, p := range f.Params {
		w.str(string(p))
	}
	w.str(f.Code)
	w.str(f.Requires)
	w.str(f.Imports)
	w.stats.features |= FeatureFunctions
}

// tupleElemTag returns the tag of a tuple element: the value type its Go
// type stands for (int64 is tagged long; ref and long share it), or
// TypeInvalid for nil and unsupported types.
func tupleElemTag(v any) datomic.ValueType {
	switch v.(type) {
	case int64:
		return datomic.TypeLong
	case string:
		return datomic.TypeString
	case datomic.Keyword:
		return datomic.TypeKeyword
	case datomic.Symbol:
		return datomic.TypeSymbol
	case datomic.URI:
		return datomic.TypeURI
	case bool:
		return datomic.TypeBoolean
	case *big.Int:
		return datomic.TypeBigInt
	case float32:
		return datomic.TypeFloat
	case float64:
		return datomic.TypeDouble
	case datomic.BigDec:
		return datomic.TypeBigDec
	case time.Time:
		return datomic.TypeInstant
	case datomic.UUID:
		return datomic.TypeUUID
	case []byte:
		return datomic.TypeBytes
	}
	return datomic.TypeInvalid
}

// attrTable is the encoder's attribute dictionary: records sorted by id,
// what the encoder needs of each, and an index from id to position.
type attrTable struct {
	recs  []attrRecord
	info  []attrInfo
	ids   []int64
	dense []int32 // position+1 for small ids, 0 when absent
	other map[int64]int32
}

const attrDenseLimit = 1 << 16

func (t *attrTable) build(attrs map[int64]datomic.Attribute) error {
	t.ids = t.ids[:0]
	for id, a := range attrs {
		if a.ID != id {
			return invalidf("Attrs[%d] describes attribute id %d", id, a.ID)
		}
		t.ids = append(t.ids, id)
	}
	slices.Sort(t.ids)
	clear(t.dense)
	clear(t.other)
	t.recs = t.recs[:0]
	t.info = t.info[:0]
	for i, id := range t.ids {
		a := attrs[id]
		if id >= 0 && id < attrDenseLimit {
			if int(id) >= len(t.dense) {
				t.dense = append(t.dense, make([]int32, int(id)+1-len(t.dense))...)
			}
			t.dense[id] = int32(i + 1)
		} else {
			if t.other == nil {
				t.other = make(map[int64]int32)
			}
			t.other[id] = int32(i + 1)
		}
		r := attrToRecord(a)
		if err := checkAttrRecord(r, SegmentFormatVersion); err != nil {
			return invalidf("%v", err)
		}
		t.recs = append(t.recs, r)
		t.info = append(t.info, newAttrInfo(a))
	}
	return nil
}

func (t *attrTable) index(id int64) (int, bool) {
	var p int32
	if id >= 0 && id < int64(len(t.dense)) {
		p = t.dense[id]
	} else if id >= attrDenseLimit || id < 0 {
		p = t.other[id]
	}
	return int(p) - 1, p > 0
}

func attrToRecord(a datomic.Attribute) attrRecord {
	r := attrRecord{
		ID:          a.ID,
		Ident:       string(a.Ident),
		ValueType:   uint8(a.ValueType),
		Cardinality: uint8(a.Cardinality),
		Unique:      uint8(a.Unique),
		TupleType:   uint8(a.TupleType),
	}
	if a.IsComponent {
		r.Flags |= attrFlagComponent
	}
	if a.NoHistory {
		r.Flags |= attrFlagNoHistory
	}
	if a.Index {
		r.Flags |= attrFlagIndex
	}
	if a.Fulltext {
		r.Flags |= attrFlagFulltext
	}
	if len(a.TupleAttrs) > 0 {
		r.TupleAttrs = make([]string, len(a.TupleAttrs))
		for i, k := range a.TupleAttrs {
			r.TupleAttrs[i] = string(k)
		}
	}
	if len(a.TupleTypes) > 0 {
		r.TupleTypes = make([]byte, len(a.TupleTypes))
		for i, vt := range a.TupleTypes {
			r.TupleTypes[i] = byte(vt)
		}
	}
	return r
}

func identRecords(dst []identRecord, idents map[int64]datomic.Keyword) []identRecord {
	for id, k := range idents {
		dst = append(dst, identRecord{ID: id, Ident: string(k)})
	}
	slices.SortFunc(dst, func(a, b identRecord) int { return cmp.Compare(a.ID, b.ID) })
	return dst
}
