package dcbackup

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"math/big"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/klauspost/compress/zstd"

	"github.com/dcbackup/dcbackup/datomic"
)

// SegmentDecoder verifies and decodes segments, reusing its decompression
// buffer, CBOR mode and zstd decoder from one call to the next. It is not
// safe for concurrent use: give each goroutine its own. The segments it
// returns share nothing with the decoder or the input bytes (string values
// of one segment share one backing allocation).
type SegmentDecoder struct {
	opts DecodeOptions
	dm   cbor.DecMode
	zdec *zstd.Decoder
	crc  *crc32.Table
	buf  []byte
}

// NewSegmentDecoder returns a decoder with opts.
func NewSegmentDecoder(opts DecodeOptions) (*SegmentDecoder, error) {
	dm, err := newSegmentDecMode()
	if err != nil {
		return nil, err
	}
	zdec, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderMaxMemory(uint64(opts.maxDecoded())),
		zstd.WithDecodeAllCapLimit(true))
	if err != nil {
		return nil, fmt.Errorf("dcbackup: zstd decoder: %w", err)
	}
	return &SegmentDecoder{opts: opts, dm: dm, zdec: zdec, crc: newCRCTable()}, nil
}

// Close releases the decoder's resources. The decoder must not be used
// afterwards.
func (d *SegmentDecoder) Close() {
	if d.zdec != nil {
		d.zdec.Close()
		d.zdec = nil
	}
	d.buf = nil
}

// Decode verifies the checksum of data, the stored form of the segment
// info (see DecodeSegment), and decodes it. Errors are *SegmentError values
// wrapping ErrCorruptSegment, ErrUnsupportedSegmentVersion or
// ErrSegmentTooLarge.
func (d *SegmentDecoder) Decode(data []byte, info SegmentInfo) (*Segment, error) {
	seg, err := d.decode(data, info)
	if err != nil {
		db := d.opts.DB
		if db == "" && seg != nil {
			db = seg.DB
		}
		return nil, &SegmentError{DB: db, Seg: SegmentInfo{StartT: info.StartT, EndT: info.EndT}, Err: err}
	}
	return seg, nil
}

// decode returns the error cause; a non-nil segment with an error carries
// the database name read from a verified segment, for the message.
func (d *SegmentDecoder) decode(data []byte, info SegmentInfo) (*Segment, error) {
	f, err := checkFrame(data, d.crc)
	if err != nil {
		return nil, err
	}
	maxLen := d.opts.maxDecoded()
	if f.rawLen > uint64(maxLen) {
		return nil, fmt.Errorf("%w: payload of %d bytes, limit %d", ErrSegmentTooLarge, f.rawLen, maxLen)
	}
	raw := f.payload
	if f.compression == frameCompressionZstd {
		if uint64(cap(d.buf)) < f.rawLen {
			d.buf = make([]byte, 0, f.rawLen)
		}
		raw, err = d.zdec.DecodeAll(f.payload, d.buf[:0:f.rawLen])
		if err != nil {
			return nil, corruptf("zstd: %v", err)
		}
		if uint64(len(raw)) != f.rawLen {
			return nil, corruptf("payload decompressed to %d bytes, header says %d", len(raw), f.rawLen)
		}
	}
	var p segmentPayload
	if err := d.dm.Unmarshal(raw, &p); err != nil {
		return nil, corruptf("cbor: %v", err)
	}
	named := &Segment{DB: p.DB}
	if err := ValidateDBName(p.DB); err != nil {
		return nil, corruptf("%v", err)
	}
	if d.opts.DB != "" && p.DB != d.opts.DB {
		return named, fmt.Errorf("%w: %w: it belongs to database %q, not %q", ErrCorruptSegment, ErrWrongDatabase, p.DB, d.opts.DB)
	}
	own := SegmentInfo{StartT: p.StartT, EndT: p.EndT}
	if err := ValidateSegmentRange(own); err != nil {
		return named, corruptf("%v", err)
	}
	if (info.StartT != 0 || info.EndT != 0) && (info.StartT != p.StartT || info.EndT != p.EndT) {
		return named, corruptf("it holds range %s, stored as %s", own, SegmentInfo{StartT: info.StartT, EndT: info.EndT})
	}
	seg, err := decodePayload(&p)
	if err != nil {
		return named, err
	}
	return seg, nil
}

func decodePayload(p *segmentPayload) (*Segment, error) {
	// Every transaction takes at least 2 bytes of TxCol and every datom at
	// least 1 byte of OpCol: this bounds the allocations below by the
	// payload's size.
	if p.TxCount > uint64(len(p.TxCol))/2 {
		return nil, corruptf("%d transactions in a %d-byte column", p.TxCount, len(p.TxCol))
	}
	if p.DatomCount > uint64(len(p.OpCol)) {
		return nil, corruptf("%d datoms in a %d-byte column", p.DatomCount, len(p.OpCol))
	}
	attrs, types, err := decodeAttrs(p.Attrs)
	if err != nil {
		return nil, err
	}
	idents := make(map[int64]datomic.Keyword, len(p.Idents))
	for _, r := range p.Idents {
		if _, dup := idents[r.ID]; dup {
			return nil, corruptf("ident of entity %d listed twice", r.ID)
		}
		idents[r.ID] = datomic.Keyword(r.Ident)
	}
	seg := &Segment{
		Version: SegmentFormatVersion,
		DB:      p.DB,
		StartT:  p.StartT,
		EndT:    p.EndT,
		Txs:     make([]datomic.Tx, p.TxCount),
		Attrs:   attrs,
		Idents:  idents,
	}
	if err := decodeTxs(p, seg, types); err != nil {
		return nil, err
	}
	return seg, nil
}

// decodeAttrs builds the dictionary and returns, per position, the
// attribute id and value type.
func decodeAttrs(recs []attrRecord) (map[int64]datomic.Attribute, []attrRef, error) {
	attrs := make(map[int64]datomic.Attribute, len(recs))
	types := make([]attrRef, len(recs))
	for i, r := range recs {
		if err := checkAttrRecord(r); err != nil {
			return nil, nil, corruptf("%v", err)
		}
		if _, dup := attrs[r.ID]; dup {
			return nil, nil, corruptf("attribute %d listed twice", r.ID)
		}
		attrs[r.ID] = recordToAttr(r)
		types[i] = attrRef{id: r.ID, vt: datomic.ValueType(r.ValueType)}
	}
	return attrs, types, nil
}

type attrRef struct {
	id int64
	vt datomic.ValueType
}

// checkAttrRecord validates the enumerations of an attribute record.
func checkAttrRecord(r attrRecord) error {
	switch {
	case r.ValueType < uint8(datomic.TypeRef) || r.ValueType > uint8(datomic.TypeTuple):
		return fmt.Errorf("attribute %d has value type %d", r.ID, r.ValueType)
	case r.Cardinality > uint8(datomic.CardinalityMany):
		return fmt.Errorf("attribute %d has cardinality %d", r.ID, r.Cardinality)
	case r.Unique > uint8(datomic.UniqueIdentity):
		return fmt.Errorf("attribute %d has unique %d", r.ID, r.Unique)
	case r.Flags&^attrFlagsAll != 0:
		return fmt.Errorf("attribute %d has flags %#x", r.ID, r.Flags)
	case r.TupleType >= uint8(datomic.TypeTuple):
		return fmt.Errorf("attribute %d has tuple type %d", r.ID, r.TupleType)
	}
	for _, t := range r.TupleTypes {
		if t < uint8(datomic.TypeRef) || t >= uint8(datomic.TypeTuple) {
			return fmt.Errorf("attribute %d has tuple element type %d", r.ID, t)
		}
	}
	return nil
}

func recordToAttr(r attrRecord) datomic.Attribute {
	a := datomic.Attribute{
		ID:          r.ID,
		Ident:       datomic.Keyword(r.Ident),
		ValueType:   datomic.ValueType(r.ValueType),
		Cardinality: datomic.Cardinality(r.Cardinality),
		Unique:      datomic.Unique(r.Unique),
		IsComponent: r.Flags&attrFlagComponent != 0,
		NoHistory:   r.Flags&attrFlagNoHistory != 0,
		Index:       r.Flags&attrFlagIndex != 0,
		Fulltext:    r.Flags&attrFlagFulltext != 0,
		TupleType:   datomic.ValueType(r.TupleType),
	}
	if len(r.TupleAttrs) > 0 {
		a.TupleAttrs = make([]datomic.Keyword, len(r.TupleAttrs))
		for i, k := range r.TupleAttrs {
			a.TupleAttrs[i] = datomic.Keyword(k)
		}
	}
	if len(r.TupleTypes) > 0 {
		a.TupleTypes = make([]datomic.ValueType, len(r.TupleTypes))
		for i, t := range r.TupleTypes {
			a.TupleTypes[i] = datomic.ValueType(t)
		}
	}
	return a
}

func decodeTxs(p *segmentPayload, seg *Segment, attrs []attrRef) error {
	txr := colReader{b: p.TxCol}
	opr := colReader{b: p.OpCol}
	er := colReader{b: p.ECol}
	vr := valueReader{ints: colReader{b: p.IntCol}, bytes: strReader{s: string(p.ByteCol), b: p.ByteCol}}
	all := make([]datomic.Datom, p.DatomCount)
	used := uint64(0)
	prevT := p.StartT
	var lastE, baseE int64
	nattrs := uint64(len(attrs))
	for ti := range seg.Txs {
		dt := txr.uvarint()
		n := txr.uvarint()
		if txr.bad {
			return corruptf("transaction column ends after %d of %d transactions", ti, len(seg.Txs))
		}
		// prevT < EndT, so EndT-prevT does not overflow, and t = prevT+dt
		// < EndT does not either.
		if dt >= uint64(p.EndT-prevT) || (ti > 0 && dt == 0) {
			return corruptf("transaction %d: t %d + %d outside [%d, %d) or not increasing", ti, prevT, dt, p.StartT, p.EndT)
		}
		t := prevT + int64(dt)
		prevT = t
		if n > p.DatomCount-used {
			return corruptf("transaction t %d: %d datoms, more than the %d announced", t, n, p.DatomCount)
		}
		ds := all[used : used+n : used+n]
		used += n
		txID := datomic.TxID(t)
		for i := range ds {
			op := opr.uvarint()
			idx := op >> 3
			if idx >= nattrs {
				return corruptf("transaction t %d: attribute index %d of %d", t, idx, nattrs)
			}
			switch (op >> 1) & 3 {
			case eModeSame:
			case eModeTx:
				lastE = txID
			case eModeDelta:
				baseE += er.varint()
				lastE = baseE
			default:
				return corruptf("transaction t %d: invalid e mode in op %#x", t, op)
			}
			a := attrs[idx]
			ds[i] = datomic.Datom{E: lastE, A: a.id, V: vr.value(a.vt), Tx: txID, Added: op&1 != 0}
		}
		if opr.bad || er.bad || vr.bad() {
			return corruptf("transaction t %d: datom columns malformed or short", t)
		}
		if vr.err != nil {
			return corruptf("transaction t %d: %v", t, vr.err)
		}
		seg.Txs[ti] = datomic.Tx{T: t, Datoms: ds}
	}
	switch {
	case used != p.DatomCount:
		return corruptf("%d datoms decoded, %d announced", used, p.DatomCount)
	case !txr.done(), !opr.done(), !er.done(), !vr.ints.done(), !vr.bytes.done():
		return corruptf("trailing bytes in datom columns")
	}
	return nil
}

// valueReader reads values from the two value columns, mirroring
// valueWriter.
type valueReader struct {
	ints     colReader
	bytes    strReader
	prevRef  int64
	prevInst int64
	err      error
}

func (r *valueReader) bad() bool { return r.ints.bad || r.bytes.bad }

var errBadTupleTag = errors.New("invalid tuple element tag")

func (r *valueReader) value(t datomic.ValueType) any {
	switch t {
	case datomic.TypeRef:
		r.prevRef += r.ints.varint()
		return r.prevRef
	case datomic.TypeInstant:
		r.prevInst += r.ints.varint()
		return time.UnixMilli(r.prevInst).UTC()
	case datomic.TypeTuple:
		n := r.ints.uvarint()
		// Each element takes at least its tag byte.
		if n > maxTupleLen || n > uint64(len(r.ints.b)-r.ints.i) {
			r.ints.bad = true
			return nil
		}
		tup := make(datomic.Tuple, n)
		for i := range tup {
			tag := r.ints.uvarint()
			switch {
			case tag == 0:
			case tag >= uint64(datomic.TypeTuple):
				r.err = errBadTupleTag
				r.ints.bad = true
				return nil
			default:
				tup[i] = r.plain(datomic.ValueType(tag))
			}
		}
		return tup
	}
	return r.plain(t)
}

func (r *valueReader) plain(t datomic.ValueType) any {
	switch t {
	case datomic.TypeRef, datomic.TypeLong:
		return r.ints.varint()
	case datomic.TypeString:
		return r.bytes.take(r.ints.uvarint())
	case datomic.TypeKeyword:
		return datomic.Keyword(r.bytes.take(r.ints.uvarint()))
	case datomic.TypeSymbol:
		return datomic.Symbol(r.bytes.take(r.ints.uvarint()))
	case datomic.TypeURI:
		return datomic.URI(r.bytes.take(r.ints.uvarint()))
	case datomic.TypeBoolean:
		switch r.ints.uvarint() {
		case 0:
			return false
		case 1:
			return true
		}
		r.ints.bad = true
		return false
	case datomic.TypeBigInt:
		return r.bigInt()
	case datomic.TypeFloat:
		return math.Float32frombits(binary.LittleEndian.Uint32(r.fixed(4)))
	case datomic.TypeDouble:
		return math.Float64frombits(binary.LittleEndian.Uint64(r.fixed(8)))
	case datomic.TypeBigDec:
		scale := r.ints.varint()
		if scale < math.MinInt32 || scale > math.MaxInt32 {
			r.ints.bad = true
			scale = 0
		}
		return datomic.BigDec{Unscaled: r.bigInt(), Scale: int32(scale)}
	case datomic.TypeInstant:
		return time.UnixMilli(r.ints.varint()).UTC()
	case datomic.TypeUUID:
		var u datomic.UUID
		copy(u[:], r.fixed(16))
		return u
	case datomic.TypeBytes:
		b := r.bytes.takeBytes(r.ints.uvarint())
		return append(make([]byte, 0, len(b)), b...)
	}
	r.ints.bad = true
	return nil
}

// fixed returns the next n bytes, or n zero bytes when the column is short.
func (r *valueReader) fixed(n int) []byte {
	b := r.bytes.takeBytes(uint64(n))
	if len(b) < n {
		return make([]byte, n)
	}
	return b
}

func (r *valueReader) bigInt() *big.Int {
	h := r.ints.uvarint()
	x := new(big.Int).SetBytes(r.bytes.takeBytes(h >> 1))
	if h&1 != 0 {
		x.Neg(x)
	}
	return x
}
