package dcbackup

import (
	"bytes"
	"crypto/sha256"
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

// SegmentDecoder verifies and decodes segments, reusing its buffers, CBOR
// mode and zstd decoder from one call to the next. It is not safe for
// concurrent use: give each goroutine its own. The segments it returns
// share nothing with the decoder or the input bytes (string values of one
// segment share one backing allocation).
type SegmentDecoder struct {
	opts  DecodeOptions
	dm    cbor.DecMode
	zdec  *zstd.Decoder
	crc   *crc32.Table
	buf   []byte
	plain []byte

	dig        *TxDigester
	digLineage Lineage
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
	d.buf, d.plain = nil, nil
}

// Decode verifies data, the stored form of the segment info (see
// DecodeSegment), and decodes it. Errors are *SegmentError values
// wrapping ErrCorruptSegment, ErrUnsupportedSegmentVersion,
// ErrSegmentTooLarge or ErrNoKey.
//
// It checks, in this order: the frame and the checksum of the whole
// segment; the header's checksum and fields; the range (info) and the
// database (DecodeOptions.DB); the payload's size against the limits,
// before decrypting or decompressing anything; the encryption against
// DecodeOptions.Identities; then it decrypts, checks the header digest
// (the header belongs to this payload), decompresses and decodes, and
// checks that the header's counts, lineage fingerprint, last transaction,
// features and longest strings are those of the content.
func (d *SegmentDecoder) Decode(data []byte, info SegmentInfo) (*Segment, error) {
	seg, err := d.decode(data, info)
	if err != nil {
		db := d.opts.DB
		if db == "" && seg != nil {
			db = seg.DB
		}
		return nil, &SegmentError{DB: db, Seg: info.rangeOnly(), Err: err}
	}
	return seg, nil
}

// decode returns the error cause; a non-nil segment with an error carries
// the database name read from a verified segment, for the message.
func (d *SegmentDecoder) decode(data []byte, info SegmentInfo) (*Segment, error) {
	version, err := checkFrame(data, d.crc)
	if err != nil {
		return nil, err
	}
	if version == 1 {
		return d.decodeV1(data, info)
	}
	h, hlen, err := decodeHeader(data, SegmentInfo{StartT: info.StartT, EndT: info.EndT}, d.dm, d.crc)
	var named *Segment
	if h.DB != "" && ValidateDBName(h.DB) == nil {
		named = &Segment{DB: h.DB}
	}
	if err != nil {
		return named, err
	}
	if h.StoredLen != int64(len(data)) {
		return named, corruptf("%d bytes, header says %d", len(data), h.StoredLen)
	}
	if d.opts.DB != "" && h.DB != d.opts.DB {
		return named, wrongDatabase(h.DB, d.opts.DB)
	}
	headEnd := frameV2PrefixLen + hlen
	body := data[headEnd+4 : len(data)-frameTrailerLen]
	if err := checkRawLen(uint64(h.RawLen), len(body), d.opts.maxDecoded()); err != nil {
		return named, err
	}
	plain := body
	switch {
	case h.Encrypted:
		if plain, err = openBody(body, d.opts.Identities, &h, d.plain); err != nil {
			return named, err
		}
		d.plain = plain
	case len(d.opts.Identities) > 0 && !d.opts.AllowUnencrypted:
		return named, notEncrypted()
	}
	if len(plain) < headerDigestLen {
		return named, corruptf("body of %d bytes, shorter than the header digest", len(plain))
	}
	if digest := sha256.Sum256(data[:headEnd]); !bytes.Equal(plain[:headerDigestLen], digest[:]) {
		return named, corruptf("the header digest in the payload does not match the header: the header was altered or belongs to another segment")
	}
	raw, err := d.decompress(h.Compression == CompressionZstd, plain[headerDigestLen:], uint64(h.RawLen))
	if err != nil {
		return named, err
	}
	var p segmentPayload
	if err := d.dm.Unmarshal(raw, &p); err != nil {
		return named, corruptf("cbor: %v", err)
	}
	lin := Lineage{DatabaseID: p.DatabaseID, GenesisT: p.GenesisT}
	if p.GenesisInstant != 0 {
		lin.GenesisInstant = time.UnixMilli(p.GenesisInstant).UTC()
	}
	if lin.Fingerprint() != h.Lineage {
		return named, corruptf("the lineage in the payload (%s) does not match the header's fingerprint %s", lin, h.Lineage)
	}
	seg := &Segment{
		Version: int(version),
		DB:      h.DB,
		StartT:  h.StartT,
		EndT:    h.EndT,
		Lineage: lin,
		Prev:    h.Prev,
		Last:    h.Last,
	}
	if seg.Renames, err = identMap(p.Renames, "rename"); err != nil {
		return named, err
	}
	stats, err := decodePayload(&p.segmentColumns, p.Attrs, p.Idents, seg, uint64(h.TxCount), uint64(h.DatomCount), 2)
	if err != nil {
		return named, err
	}
	last := h.Prev
	if n := len(seg.Txs); n > 0 {
		if d.dig == nil || d.digLineage != lin {
			d.dig, d.digLineage = NewTxDigester(lin), lin
		}
		if last, err = d.dig.Link(seg.Txs[n-1]); err != nil {
			return named, corruptf("%v", err)
		}
	}
	switch {
	case last != h.Last:
		return named, corruptf("the header's last transaction is %s, the content's %s", h.Last, last)
	case stats.features != h.Features:
		return named, corruptf("the header's features are %q, the content's %q", h.Features, stats.features)
	case stats.maxStr != h.MaxStringLen || stats.maxTupleStr != h.MaxTupleStringLen:
		return named, corruptf("the header's longest strings are %d and %d characters (alone, in a tuple), the content's %d and %d",
			h.MaxStringLen, h.MaxTupleStringLen, stats.maxStr, stats.maxTupleStr)
	}
	seg.Header = h
	return seg, nil
}

func wrongDatabase(got, want string) error {
	return fmt.Errorf("%w: %w: it belongs to database %q, not %q", ErrCorruptSegment, ErrWrongDatabase, got, want)
}

func notEncrypted() error {
	return fmt.Errorf("%w: %w: identities were given, so encrypted segments are expected (DecodeOptions.AllowUnencrypted accepts plaintext ones)", ErrCorruptSegment, ErrNotEncrypted)
}

// decompress returns the payload of rawLen bytes that stored holds. It
// never allocates more than rawLen bytes, which the caller checked.
func (d *SegmentDecoder) decompress(zstdFrame bool, stored []byte, rawLen uint64) ([]byte, error) {
	if !zstdFrame {
		if uint64(len(stored)) != rawLen {
			return nil, corruptf("payload of %d bytes, header says %d", len(stored), rawLen)
		}
		return stored, nil
	}
	if uint64(cap(d.buf)) < rawLen {
		d.buf = make([]byte, 0, rawLen)
	}
	raw, err := d.zdec.DecodeAll(stored, d.buf[:0:rawLen])
	if err != nil {
		return nil, corruptf("zstd: %v", err)
	}
	if uint64(len(raw)) != rawLen {
		return nil, corruptf("payload decompressed to %d bytes, header says %d", len(raw), rawLen)
	}
	return raw, nil
}

// decodeV1 decodes a version 1 segment whose checksum verified.
func (d *SegmentDecoder) decodeV1(data []byte, info SegmentInfo) (*Segment, error) {
	f, err := checkFrameV1(data)
	if err != nil {
		return nil, err
	}
	if err := checkRawLen(f.rawLen, len(f.payload), d.opts.maxDecoded()); err != nil {
		return nil, err
	}
	if len(d.opts.Identities) > 0 && !d.opts.AllowUnencrypted {
		return nil, notEncrypted()
	}
	raw, err := d.decompress(f.compression == frameCompressionZstd, f.payload, f.rawLen)
	if err != nil {
		return nil, err
	}
	var p segmentPayloadV1
	if err := d.dm.Unmarshal(raw, &p); err != nil {
		return nil, corruptf("cbor: %v", err)
	}
	named := &Segment{DB: p.DB}
	if err := ValidateDBName(p.DB); err != nil {
		return nil, corruptf("%v", err)
	}
	if d.opts.DB != "" && p.DB != d.opts.DB {
		return named, wrongDatabase(p.DB, d.opts.DB)
	}
	own := SegmentInfo{StartT: p.StartT, EndT: p.EndT}
	if err := ValidateSegmentRange(own); err != nil {
		return named, corruptf("%v", err)
	}
	if (info.StartT != 0 || info.EndT != 0) && (info.StartT != p.StartT || info.EndT != p.EndT) {
		return named, corruptf("it holds range %s, stored as %s", own, info.rangeOnly())
	}
	seg := &Segment{Version: 1, DB: p.DB, StartT: p.StartT, EndT: p.EndT}
	stats, err := decodePayload(&p.segmentColumns, p.Attrs, p.Idents, seg, p.TxCount, p.DatomCount, 1)
	if err != nil {
		return named, err
	}
	seg.Header = SegmentHeader{
		Version: 1, DB: p.DB, StartT: p.StartT, EndT: p.EndT,
		TxCount: int64(p.TxCount), DatomCount: int64(p.DatomCount),
		RawLen: int64(f.rawLen), StoredLen: int64(len(data)), Compression: CompressionNone,
		Features: stats.features, MaxStringLen: stats.maxStr, MaxTupleStringLen: stats.maxTupleStr,
	}
	if f.compression == frameCompressionZstd {
		seg.Header.Compression = CompressionZstd
	}
	return seg, nil
}

// identMap builds the map of [id, ident] records, refusing a repeated id.
func identMap(recs []identRecord, what string) (map[int64]datomic.Keyword, error) {
	m := make(map[int64]datomic.Keyword, len(recs))
	for _, r := range recs {
		if _, dup := m[r.ID]; dup {
			return nil, corruptf("%s of entity %d listed twice", what, r.ID)
		}
		m[r.ID] = datomic.Keyword(r.Ident)
	}
	return m, nil
}

// decodePayload decodes the dictionary, idents and datom columns into
// seg (whose range is set), with txCount transactions and datomCount
// datoms, and returns what the content holds for the header.
func decodePayload(c *segmentColumns, attrRecs []attrRecord, identRecs []identRecord, seg *Segment, txCount, datomCount uint64, version int) (contentStats, error) {
	// Every transaction takes at least 2 bytes of TxCol and every datom at
	// least 1 byte of OpCol: this bounds the allocations below by the
	// payload's size.
	if txCount > uint64(len(c.TxCol))/2 {
		return contentStats{}, corruptf("%d transactions in a %d-byte column", txCount, len(c.TxCol))
	}
	if datomCount > uint64(len(c.OpCol)) {
		return contentStats{}, corruptf("%d datoms in a %d-byte column", datomCount, len(c.OpCol))
	}
	attrs, infos, err := decodeAttrs(attrRecs, version)
	if err != nil {
		return contentStats{}, err
	}
	idents, err := identMap(identRecs, "ident")
	if err != nil {
		return contentStats{}, err
	}
	seg.Attrs, seg.Idents = attrs, idents
	seg.Txs = make([]datomic.Tx, txCount)
	return decodeTxs(c, seg, datomCount, infos)
}

// decodeAttrs builds the dictionary and returns, per position, what the
// column decoder needs.
func decodeAttrs(recs []attrRecord, version int) (map[int64]datomic.Attribute, []attrInfo, error) {
	attrs := make(map[int64]datomic.Attribute, len(recs))
	infos := make([]attrInfo, len(recs))
	for i, r := range recs {
		if err := checkAttrRecord(r, version); err != nil {
			return nil, nil, corruptf("%v", err)
		}
		if _, dup := attrs[r.ID]; dup {
			return nil, nil, corruptf("attribute %d listed twice", r.ID)
		}
		a := recordToAttr(r)
		attrs[r.ID] = a
		infos[i] = newAttrInfo(a)
	}
	return attrs, infos, nil
}

// checkAttrRecord validates the enumerations of an attribute record of a
// segment of format version; value type fn (16) is new in version 2.
func checkAttrRecord(r attrRecord, version int) error {
	maxType := uint8(datomic.TypeFn)
	if version < 2 {
		maxType = uint8(datomic.TypeTuple)
	}
	switch {
	case r.ValueType < uint8(datomic.TypeRef) || r.ValueType > maxType:
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

func decodeTxs(c *segmentColumns, seg *Segment, datomCount uint64, attrs []attrInfo) (contentStats, error) {
	txr := colReader{b: c.TxCol}
	opr := colReader{b: c.OpCol}
	er := colReader{b: c.ECol}
	vr := valueReader{ints: colReader{b: c.IntCol}, bytes: strReader{s: string(c.ByteCol), b: c.ByteCol}}
	all := make([]datomic.Datom, datomCount)
	used := uint64(0)
	prevT := seg.StartT
	var lastE, baseE int64
	var feat Features
	typeFeat := typeFeatures(seg.Idents)
	nattrs := uint64(len(attrs))
	for ti := range seg.Txs {
		dt := txr.uvarint()
		n := txr.uvarint()
		if txr.bad {
			return contentStats{}, corruptf("transaction column ends after %d of %d transactions", ti, len(seg.Txs))
		}
		// prevT < EndT, so EndT-prevT does not overflow, and t = prevT+dt
		// < EndT does not either.
		if dt >= uint64(seg.EndT-prevT) || (ti > 0 && dt == 0) {
			return contentStats{}, corruptf("transaction %d: t %d + %d outside [%d, %d) or not increasing", ti, prevT, dt, seg.StartT, seg.EndT)
		}
		t := prevT + int64(dt)
		prevT = t
		if n > datomCount-used {
			return contentStats{}, corruptf("transaction t %d: %d datoms, more than the %d announced", t, n, datomCount)
		}
		ds := all[used : used+n : used+n]
		used += n
		txID := datomic.TxID(t)
		for i := range ds {
			op := opr.uvarint()
			idx := op >> 3
			if idx >= nattrs {
				return contentStats{}, corruptf("transaction t %d: attribute index %d of %d", t, idx, nattrs)
			}
			switch (op >> 1) & 3 {
			case eModeSame:
			case eModeTx:
				lastE = txID
			case eModeDelta:
				baseE += er.varint()
				lastE = baseE
				feat |= partitionFeature(baseE)
			default:
				return contentStats{}, corruptf("transaction t %d: invalid e mode in op %#x", t, op)
			}
			a := &attrs[idx]
			v := vr.value(a.vt)
			ds[i] = datomic.Datom{E: lastE, A: a.id, V: v, Tx: txID, Added: op&1 != 0}
			feat |= a.feat
			if a.tupleRefs {
				feat |= tupleRefFeatures(&a.attr, v)
			}
			if id, ok := v.(int64); ok && a.valueType {
				feat |= typeFeat[id]
			}
		}
		if opr.bad || er.bad || vr.bad() {
			return contentStats{}, corruptf("transaction t %d: datom columns malformed or short", t)
		}
		if vr.err != nil {
			return contentStats{}, corruptf("transaction t %d: %v", t, vr.err)
		}
		seg.Txs[ti] = datomic.Tx{T: t, Datoms: ds}
	}
	switch {
	case used != datomCount:
		return contentStats{}, corruptf("%d datoms decoded, %d announced", used, datomCount)
	case !txr.done(), !opr.done(), !er.done(), !vr.ints.done(), !vr.bytes.done():
		return contentStats{}, corruptf("trailing bytes in datom columns")
	}
	vr.stats.features |= feat
	return vr.stats, nil
}

// valueReader reads values from the two value columns, mirroring
// valueWriter.
type valueReader struct {
	ints     colReader
	bytes    strReader
	prevRef  int64
	prevInst int64
	err      error
	inTuple  bool
	stats    contentStats
}

func (r *valueReader) bad() bool { return r.ints.bad || r.bytes.bad }

var errBadTupleTag = errors.New("invalid tuple element tag")

func (r *valueReader) value(t datomic.ValueType) any {
	switch t {
	case datomic.TypeRef:
		r.prevRef += r.ints.varint()
		r.stats.features |= partitionFeature(r.prevRef)
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
		r.inTuple = true
		defer func() { r.inTuple = false }()
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
		v := r.bytes.take(r.ints.uvarint())
		r.stats.noteString(v, r.inTuple)
		return v
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
		r.stats.features |= FeatureBytes
		return append(make([]byte, 0, len(b)), b...)
	case datomic.TypeFn:
		if !r.inTuple {
			return r.fn()
		}
	}
	r.ints.bad = true
	return nil
}

// fn reads a stored function, as valueWriter.fn writes it.
func (r *valueReader) fn() any {
	f := datomic.Fn{Lang: datomic.Keyword(r.bytes.take(r.ints.uvarint()))}
	n := r.ints.uvarint()
	// Each parameter takes at least its length byte.
	if n > uint64(len(r.ints.b)-r.ints.i) {
		r.ints.bad = true
		return nil
	}
	if n > 0 {
		f.Params = make([]datomic.Symbol, n)
		for i := range f.Params {
			f.Params[i] = datomic.Symbol(r.bytes.take(r.ints.uvarint()))
		}
	}
	f.Code = r.bytes.take(r.ints.uvarint())
	f.Requires = r.bytes.take(r.ints.uvarint())
	f.Imports = r.bytes.take(r.ints.uvarint())
	r.stats.features |= FeatureFunctions
	return f
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
