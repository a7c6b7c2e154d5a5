package dcbackup

import (
	"fmt"

	"github.com/dcbackup/dcbackup/datomic"
)

// SegmentFormatVersion is the version of the segment encoding written by this
// package. It reads versions 1 and 2.
const SegmentFormatVersion = 2

// Segment is the decoded form of one stored segment: every transaction of a
// source database whose t lies in [StartT, EndT), with what a restore needs
// to replay them without asking the source.
type Segment struct {
	// Version is the format version the segment was written with (the
	// encoder ignores it and writes SegmentFormatVersion).
	Version int
	// DB is the name of the source database.
	DB string
	// StartT and EndT bound the source t values covered, half-open.
	StartT, EndT int64
	// Txs are the transactions, in t order. Each datom's Tx equals
	// datomic.TxID(tx.T).
	Txs []datomic.Tx
	// Attrs describes every attribute id that occurs in Txs (as the
	// attribute of a datom), as it was in the source when the segment was
	// written.
	Attrs map[int64]datomic.Attribute
	// Idents names the bootstrap entities (those not created by any logged
	// transaction) that the segment mentions, so that a restore maps them by
	// ident.
	Idents map[int64]datomic.Keyword
	// Renames holds, for every attribute of the source whose ident changed
	// since it was installed, its ident when the segment was written. With
	// Attrs, the newest segment of a store tells every attribute's ident
	// at the end of the store (format version 2; empty in version 1).
	Renames map[int64]datomic.Keyword

	// Lineage identifies the source database (format version 2; zero in
	// version 1). The zero Lineage is a valid one (a source whose
	// connection tells no id, with a first transaction at t 0 and no
	// instant): segments written without one encode and decode fine.
	Lineage Lineage
	// Prev links the segment to the source transaction before StartT: the
	// last transaction of the segment before it (NoTx at the start of the
	// log). Set by the writer; the zero TxLink is written as NoTx. Its T
	// must be below StartT.
	Prev TxLink
	// Last is the segment's last transaction, or Prev when it has none.
	// The decoder sets it (and checks it against the header); the encoder
	// ignores it, computes it and reports it in SegmentEncoder.LastHeader.
	Last TxLink
	// Header is what the stored header said; set by the decoder. For a
	// version 1 segment it holds what the decoder read and computed.
	Header SegmentHeader
}

// HasLinks reports whether Lineage, Prev and Last were read from the
// segment: true for format version 2 and later. A version 1 segment has
// none (they are zero); a reader that needs them computes them from the
// transactions.
func (s *Segment) HasLinks() bool { return s.Version >= 2 }

// Features are kinds of content a segment holds that some restore targets
// refuse or that a replay would run on the target. The encoder records them
// in the header, so that a restore can check a whole store before it
// applies anything by reading headers only.
type Features uint32

// Segment features.
const (
	// FeatureBytes: a :db.type/bytes value.
	FeatureBytes Features = 1 << iota
	// FeatureFulltext: a datom of an attribute with :db/fulltext.
	FeatureFulltext
	// FeatureFunctions: a :db.type/fn value (a stored function).
	FeatureFunctions
	// FeatureExcision: a :db/excise request.
	FeatureExcision
	// FeatureAttrPredicates: a :db.attr/preds datom (attribute predicates,
	// which the target's transactor runs).
	FeatureAttrPredicates
	// FeatureEntitySpecs: a :db.entity/attrs or :db.entity/preds datom.
	FeatureEntitySpecs
	// FeaturePartitions: an entity in a partition other than :db.part/db,
	// :db.part/tx and :db.part/user.
	FeaturePartitions

	// featuresAll is every feature this version knows.
	featuresAll = FeatureBytes | FeatureFulltext | FeatureFunctions | FeatureExcision |
		FeatureAttrPredicates | FeatureEntitySpecs | FeaturePartitions
)

var featureNames = []struct {
	f    Features
	name string
}{
	{FeatureBytes, "bytes"},
	{FeatureFulltext, "fulltext"},
	{FeatureFunctions, "functions"},
	{FeatureExcision, "excision"},
	{FeatureAttrPredicates, "attribute-predicates"},
	{FeatureEntitySpecs, "entity-specs"},
	{FeaturePartitions, "partitions"},
}

// String names the features, comma-separated ("" for none).
func (f Features) String() string {
	var b []byte
	for _, n := range featureNames {
		if f&n.f != 0 {
			if len(b) > 0 {
				b = append(b, ',')
			}
			b = append(b, n.name...)
			f &^= n.f
		}
	}
	if f != 0 {
		if len(b) > 0 {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, "%#x", uint32(f))
	}
	return string(b)
}

// SegmentHeader is the part of a stored segment readable without
// decompressing or decrypting it (format version 2), checked by its own
// checksum (DecodeSegmentHeader). Of a version 1 segment, whose header is
// its 16-byte frame, only Version, Compression and RawLen are known until
// it is decoded.
type SegmentHeader struct {
	// Version is the segment format version.
	Version int
	// DB, StartT and EndT are the database name and range.
	DB           string
	StartT, EndT int64
	// TxCount and DatomCount count the transactions and datoms.
	TxCount, DatomCount int64
	// RawLen is the payload's size after decryption and decompression.
	RawLen int64
	// StoredLen is the size of the whole stored segment, frame included:
	// a listing's size that differs means truncation.
	StoredLen int64
	// Compression of the payload.
	Compression Compression
	// Encrypted reports an age-encrypted payload; Recipients are the
	// fingerprints of the recipients it was encrypted to.
	Encrypted  bool
	Recipients []string
	// Lineage, Prev and Last: see Segment.
	Lineage    LineageFingerprint
	Prev, Last TxLink
	// Features summarises the content; MaxStringLen and MaxTupleStringLen
	// are the longest string value, alone and in a tuple, in UTF-16 code
	// units (Datomic's characters).
	Features                        Features
	MaxStringLen, MaxTupleStringLen int
}

// Info returns the segment's range as a SegmentInfo.
func (s *Segment) Info() SegmentInfo { return SegmentInfo{StartT: s.StartT, EndT: s.EndT} }

// DatomCount returns the number of datoms in all transactions.
func (s *Segment) DatomCount() int {
	n := 0
	for _, tx := range s.Txs {
		n += len(tx.Datoms)
	}
	return n
}
