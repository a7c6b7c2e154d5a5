package mem

import (
	"context"
	"errors"

	"github.com/dcbackup/dcbackup/datomic"
)

// Datomic Cloud mode (Options.Cloud) makes the in-memory database behave
// as a Datomic Cloud database does where a replay can tell the difference:
//
//   - The log starts with CloudBootstrapTxs transactions, t 1 to 5, dated
//     at the epoch, which install the built-in schema; the first user
//     transaction is t 6 (cloud_bootstrap.go).
//   - t runs 6, 7, 8 ... without gaps: entity ids have their own counter.
//   - New entities that are not schema go to one of cloudParts partitions
//     chosen by the database ("auto partitioning"), never to
//     :db.part/user; the counter is shared by all of them, so ids are
//     unique across partitions. Datomic does not document how Cloud
//     chooses; the spread here is a guess with the documented property:
//     entities land in many partitions that the application does not name.
//   - What Cloud refuses is refused (cloud_refuse.go): :db.type/bytes,
//     :db.type/fn, :db/fulltext, excision, :db/force-partition and named
//     partitions, strings longer than 4096 characters and strings in
//     tuples longer than 256.

// CloudBootstrapTxs is the number of bootstrap transactions at the start
// of a Cloud-mode database's log.
const CloudBootstrapTxs = 5

// Cloud's string limits, in characters as Java counts them (UTF-16 code
// units, see CloudStringLen).
const (
	CloudMaxStringLen      = 4096
	CloudMaxTupleStringLen = 256
)

// ErrCloudRefused is wrapped by the error of a transaction that a
// Cloud-mode database refuses because Datomic Cloud does not support what
// it asks for.
var ErrCloudRefused = errors.New("not supported by Datomic Cloud")

// CloudLimits are the limits of a Datomic Cloud database, as the Conn of
// a Cloud-mode database reports them.
func CloudLimits() datomic.Limits {
	return datomic.Limits{
		Product:           "Datomic Cloud",
		NoPartitions:      true,
		NoExcision:        true,
		NoBytes:           true,
		NoFulltext:        true,
		NoFunctions:       true,
		MaxStringLen:      CloudMaxStringLen,
		MaxTupleStringLen: CloudMaxTupleStringLen,
		BootstrapTxs:      CloudBootstrapTxs,
	}
}

// Limits returns what the database refuses that Datomic Pro accepts:
// CloudLimits in Cloud mode, none otherwise. It implements datomic.Limited.
func (c *Conn) Limits(context.Context) (datomic.Limits, error) {
	if c.cloud {
		return CloudLimits(), nil
	}
	return datomic.Limits{}, nil
}

// CloudStringLen is the length of s in characters as Datomic, a Java
// program, counts them: UTF-16 code units, so a character outside the
// Basic Multilingual Plane counts twice (an invalid UTF-8 byte once).
func CloudStringLen(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r > 0xFFFF {
			n++
		}
	}
	return n
}

// Auto partitions of Cloud mode: partition indexes cloudFirstPart to
// cloudFirstPart+cloudParts-1, clear of :db.part/db, :db.part/tx and
// :db.part/user.
const (
	cloudFirstPart = 16
	cloudPartBits  = 10
	cloudParts     = 1 << cloudPartBits
)

// cloudPartition returns the partition of the new entity numbered n: a
// multiplicative hash of n, so that consecutive entities land in different
// partitions and every partition is used.
func cloudPartition(n int64) int64 {
	const golden = 0x9E3779B97F4A7C15
	return cloudFirstPart + int64((uint64(n)*golden)>>(64-cloudPartBits))
}

// isCloudPart reports whether p is an auto partition of a Cloud-mode
// database.
func (c *Conn) isCloudPart(p int64) bool {
	return c.cloud && p >= cloudFirstPart && p < cloudFirstPart+cloudParts
}

// oneEntityCounter reports whether new entities of every partition other
// than :db.part/db share one counter (SharedCounter, and Cloud mode).
func (c *Conn) oneEntityCounter() bool { return c.shared || c.cloud }
