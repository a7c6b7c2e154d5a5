package dcbackup

import "github.com/dcbackup/dcbackup/datomic"

// SegmentFormatVersion is the version of the segment encoding written by this
// package.
const SegmentFormatVersion = 1

// Segment is the decoded form of one stored segment: every transaction of a
// source database whose t lies in [StartT, EndT), with what a restore needs
// to replay them without asking the source.
type Segment struct {
	// Version is the format version the segment was written with.
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
	// at the end of the store (format version 2).
	Renames map[int64]datomic.Keyword

	// Lineage identifies the source database (format version 2; zero in
	// version 1).
	Lineage Lineage
	// Prev links the segment to the source transaction before StartT: the
	// last transaction of the segment before it (NoTx at the start of the
	// log). Set by the writer.
	Prev TxLink
	// Last is the segment's last transaction, or Prev when it has none.
	// The encoder computes it.
	Last TxLink
	// Header is what the stored header said; set by the decoder.
	Header SegmentHeader
}

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
)

// SegmentHeader is the part of a stored segment readable without
// decompressing or decrypting it (format version 2), or the frame of a
// version 1 segment (only Version, the sizes and, once decoded, the range).
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
