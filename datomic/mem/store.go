package mem

import (
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/dcbackup/dcbackup/datomic"
)

// fact is one datom ever asserted: [e a v] asserted by the transaction at
// log position add and, when ret != 0, retracted by the one at position ret.
type fact struct {
	e, a int64
	v    any
	add  uint32
	ret  uint32
}

// visible reports whether f is part of the database at log position pos.
func (f *fact) visible(pos uint32) bool {
	return f.add <= pos && (f.ret == 0 || f.ret > pos)
}

const (
	chunkBits = 13
	chunkSize = 1 << chunkBits
	chunkMask = chunkSize - 1
	// retractFlag marks a log entry that retracts the fact it names.
	retractFlag = 1 << 31
)

// factStore is an append-only arena of facts in fixed-size chunks, so that
// growing it never copies facts.
type factStore struct {
	chunks [][]fact
	n      uint32
}

func (s *factStore) at(i uint32) *fact { return &s.chunks[i>>chunkBits][i&chunkMask] }

func (s *factStore) push(f fact) uint32 {
	i := s.n
	if int(i>>chunkBits) == len(s.chunks) {
		s.chunks = append(s.chunks, make([]fact, chunkSize))
	}
	s.chunks[i>>chunkBits][i&chunkMask] = f
	s.n++
	return i
}

// Value keys: comparable stand-ins for values whose Go representation is not
// comparable or whose == is not Datomic's equality.
type (
	timeKey  int64
	bigKey   string
	decKey   string
	bytesKey string
	tupleKey string
	fnKey    string
)

// valKey returns a comparable key such that valKey(a) == valKey(b) iff a and
// b are the same Datomic value.
func valKey(v any) any {
	switch x := v.(type) {
	case time.Time:
		return timeKey(x.UnixNano())
	case *big.Int:
		return bigKey(x.String())
	case datomic.BigDec:
		return decKey(x.Unscaled.String() + "e" + strconv.Itoa(int(x.Scale)))
	case []byte:
		return bytesKey(x)
	case datomic.Tuple:
		var b strings.Builder
		writeTupleKey(&b, x)
		return tupleKey(b.String())
	case datomic.Fn:
		return fnKey(x.String())
	}
	return v
}

func writeTupleKey(b *strings.Builder, t datomic.Tuple) {
	for _, e := range t {
		var tag byte
		var s string
		switch x := e.(type) {
		case nil:
			tag = 'n'
		case int64:
			tag, s = 'l', strconv.FormatInt(x, 10)
		case string:
			tag, s = 's', x
		case datomic.Keyword:
			tag, s = 'k', string(x)
		case datomic.Symbol:
			tag, s = 'y', string(x)
		case bool:
			tag, s = 'b', strconv.FormatBool(x)
		case float32:
			tag, s = 'f', strconv.FormatFloat(float64(x), 'g', -1, 32)
		case float64:
			tag, s = 'd', strconv.FormatFloat(x, 'g', -1, 64)
		case time.Time:
			tag, s = 'i', strconv.FormatInt(x.UnixNano(), 10)
		case datomic.UUID:
			tag, s = 'u', x.String()
		case datomic.URI:
			tag, s = 'r', string(x)
		case *big.Int:
			tag, s = 'N', x.String()
		case datomic.BigDec:
			tag, s = 'M', x.Unscaled.String()+"e"+strconv.Itoa(int(x.Scale))
		case []byte:
			tag, s = 'B', string(x)
		case datomic.Tuple:
			var sub strings.Builder
			writeTupleKey(&sub, x)
			tag, s = 'T', sub.String()
		default:
			tag, s = '?', datomic.FormatValue(x)
		}
		b.WriteByte(tag)
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
	}
}
