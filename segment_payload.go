package dcbackup

import (
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// segmentPayload is the CBOR structure of a version 2 segment's payload:
// one array of fixed positions (see SEGMENT-FORMAT.md). The datoms are
// kept in byte string columns that this package encodes by hand for speed.
type segmentPayload struct {
	_              struct{} `cbor:",toarray"`
	DatabaseID     string
	GenesisT       int64
	GenesisInstant int64 // ms since the epoch, 0 when unset
	Renames        []identRecord
	Attrs          []attrRecord
	Idents         []identRecord
	segmentColumns
}

// segmentColumns are the datom columns, the last five elements of the
// payload of every version.
type segmentColumns struct {
	TxCol   []byte // per tx: uvarint t delta, uvarint datom count
	OpCol   []byte // per datom: uvarint attr index<<3 | e mode<<1 | added
	ECol    []byte // zigzag varint e deltas (e mode 2 only)
	IntCol  []byte // varints of values
	ByteCol []byte // raw bytes of values
}

// segmentPayloadV1 is the payload of a version 1 segment.
type segmentPayloadV1 struct {
	_          struct{} `cbor:",toarray"`
	DB         string
	StartT     int64
	EndT       int64
	TxCount    uint64
	DatomCount uint64
	Attrs      []attrRecord
	Idents     []identRecord
	segmentColumns
}

// attrRecord is one entry of the attribute dictionary.
type attrRecord struct {
	_           struct{} `cbor:",toarray"`
	ID          int64
	Ident       string
	ValueType   uint8
	Cardinality uint8
	Unique      uint8
	Flags       uint8 // attrFlag* bits
	TupleAttrs  []string
	TupleType   uint8
	TupleTypes  []byte // one value type per element
}

// Attribute flag bits of attrRecord.Flags.
const (
	attrFlagComponent = 1 << iota
	attrFlagNoHistory
	attrFlagIndex
	attrFlagFulltext
	attrFlagsAll = attrFlagComponent | attrFlagNoHistory | attrFlagIndex | attrFlagFulltext
)

// identRecord names one bootstrap entity.
type identRecord struct {
	_     struct{} `cbor:",toarray"`
	ID    int64
	Ident string
}

// Limits of the CBOR decoder, for untrusted input. Arrays hold attributes
// and idents; datoms live in byte strings, bounded by MaxDecodedBytes.
const (
	cborMaxArrayElements = 1 << 22
	cborMaxNestedLevels  = 8
	cborMaxMapPairs      = 1 << 10
)

func newSegmentEncMode() (cbor.EncMode, error) {
	opts := cbor.CoreDetEncOptions()
	opts.NilContainers = cbor.NilContainerAsEmpty
	em, err := opts.EncMode()
	if err != nil {
		return nil, fmt.Errorf("dcbackup: cbor encoder: %w", err)
	}
	return em, nil
}

func newSegmentDecMode() (cbor.DecMode, error) {
	dm, err := cbor.DecOptions{
		MaxArrayElements: cborMaxArrayElements,
		MaxMapPairs:      cborMaxMapPairs,
		MaxNestedLevels:  cborMaxNestedLevels,
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		IndefLength:      cbor.IndefLengthForbidden,
		TagsMd:           cbor.TagsForbidden,
		UTF8:             cbor.UTF8RejectInvalid,
	}.DecMode()
	if err != nil {
		return nil, fmt.Errorf("dcbackup: cbor decoder: %w", err)
	}
	return dm, nil
}
