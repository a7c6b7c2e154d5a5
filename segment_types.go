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
