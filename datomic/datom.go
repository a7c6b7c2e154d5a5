package datomic

import (
	"fmt"
	"time"
)

// Datom is one fact: entity E has value V for attribute A, asserted
// (Added) or retracted by transaction Tx.
type Datom struct {
	E     int64
	A     int64
	V     any
	Tx    int64
	Added bool
}

// String formats d as #datom[e a v tx added].
func (d Datom) String() string {
	return fmt.Sprintf("#datom[%d %d %s %d %t]", d.E, d.A, FormatValue(d.V), d.Tx, d.Added)
}

// Tx is one transaction as the log returns it: its basis T and every datom it
// asserted or retracted, including the transaction entity's own datoms
// (:db/txInstant and any annotations) and implicit retractions.
type Tx struct {
	T      int64
	Datoms []Datom
}

// ID returns the transaction entity id of tx.
func (tx Tx) ID() int64 { return TxID(tx.T) }

// Index names one of Datomic's indexes.
type Index uint8

// The four indexes.
const (
	EAVT Index = iota + 1
	AEVT
	AVET
	VAET
)

// String returns the index name.
func (i Index) String() string {
	switch i {
	case EAVT:
		return "eavt"
	case AEVT:
		return "aevt"
	case AVET:
		return "avet"
	case VAET:
		return "vaet"
	}
	return fmt.Sprintf("Index(%d)", uint8(i))
}

// FormatValue formats v as EDN-like text for messages and dumps.
func FormatValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "nil"
	case string:
		return fmt.Sprintf("%q", x)
	case Keyword:
		return x.String()
	case UUID:
		return `#uuid "` + x.String() + `"`
	case time.Time:
		return `#inst "` + x.UTC().Format("2006-01-02T15:04:05.000Z") + `"`
	case BigDec:
		return x.String() + "M"
	case URI:
		return `#uri "` + string(x) + `"`
	case []byte:
		return fmt.Sprintf("#bytes %x", x)
	case Fn:
		return x.String()
	case Tuple:
		s := "["
		for i, e := range x {
			if i > 0 {
				s += " "
			}
			s += FormatValue(e)
		}
		return s + "]"
	}
	return fmt.Sprint(v)
}
