package edn

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dcbackup/dcbackup/datomic"
)

// Marshal formats v as EDN text that [Unmarshal] reads back as an equal
// value. It accepts what the reader produces (nil, bool, int64, *big.Int,
// float64, datomic.BigDec, string, Char, datomic.Keyword, datomic.Symbol,
// []any, List, Set, Map, Tagged, time.Time, datomic.UUID, datomic.URI,
// datomic.TempID, datomic.Fn) and also int, float32, datomic.Tuple (as a vector),
// datomic.LookupRef (as a vector) and datomic.EntityMap.
//
// A tempid made by the reader from #db/id prints as a #db/id tag again
// (a tempid without a number gets a fresh one when read back); any other
// tempid prints as a string, which is how transaction data spells tempids.
func Marshal(v any) ([]byte, error) { return Append(nil, v) }

// Append appends the EDN text of v to dst; see [Marshal].
func Append(dst []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, "nil"...), nil
	case bool:
		return strconv.AppendBool(dst, x), nil
	case int64:
		return strconv.AppendInt(dst, x, 10), nil
	case int:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case *big.Int:
		if x == nil {
			return nil, fmt.Errorf("edn: nil *big.Int")
		}
		return append(x.Append(dst, 10), 'N'), nil
	case float64:
		return appendFloat(dst, x, 64), nil
	case float32:
		return appendFloat(dst, float64(x), 32), nil
	case datomic.BigDec:
		return appendBigDec(dst, x)
	case string:
		return appendString(dst, x), nil
	case Char:
		return appendChar(dst, x), nil
	case datomic.Keyword:
		return append(append(dst, ':'), x...), nil
	case datomic.Symbol:
		return append(dst, x...), nil
	case []any:
		return appendSeq(dst, '[', ']', x)
	case datomic.Tuple:
		return appendSeq(dst, '[', ']', x)
	case List:
		return appendSeq(dst, '(', ')', x)
	case Set:
		return appendSeq(append(dst, '#'), '{', '}', x)
	case Map:
		dst = append(dst, '{')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			var err error
			if dst, err = Append(dst, e.Key); err != nil {
				return nil, err
			}
			dst = append(dst, ' ')
			if dst, err = Append(dst, e.Value); err != nil {
				return nil, err
			}
		}
		return append(dst, '}'), nil
	case datomic.EntityMap:
		m := make(Map, 0, len(x))
		for _, k := range sortedKeys(x) {
			m = append(m, Entry{Key: k, Value: x[k]})
		}
		return Append(dst, m)
	case datomic.LookupRef:
		return appendSeq(dst, '[', ']', []any{x.A, x.V})
	case Tagged:
		dst = append(append(append(dst, '#'), x.Tag...), ' ')
		return Append(dst, x.Value)
	case time.Time:
		dst = append(dst, `#inst "`...)
		dst = x.UTC().AppendFormat(dst, "2006-01-02T15:04:05.000000000Z07:00")
		return append(dst, '"'), nil
	case datomic.UUID:
		return append(append(append(dst, `#uuid "`...), x.String()...), '"'), nil
	case datomic.Fn:
		return appendFn(dst, x), nil
	case datomic.URI:
		return appendString(append(dst, "#uri "...), string(x)), nil
	case datomic.TempID:
		if part, ok := TempIDPartition(x); ok {
			rest := strings.TrimPrefix(string(x), dbIDPrefix+string(part))
			if n, ok := strings.CutPrefix(rest, " "); ok {
				return fmt.Appendf(dst, "#db/id [:%s %s", string(part), n), nil
			}
			return fmt.Appendf(dst, "#db/id [:%s]", string(part)), nil
		}
		return appendString(dst, string(x)), nil
	}
	return nil, fmt.Errorf("edn: cannot format value of type %T", v)
}

// appendFn writes f as a #db/fn literal; :code is written as a string,
// which reads back as the same function.
func appendFn(dst []byte, f datomic.Fn) []byte {
	dst = append(dst, "#db/fn {:lang :"...)
	dst = append(dst, f.Lang...)
	dst = append(dst, ", :params ["...)
	for i, p := range f.Params {
		if i > 0 {
			dst = append(dst, ' ')
		}
		dst = append(dst, p...)
	}
	dst = appendString(append(dst, "], :code "...), f.Code)
	if f.Requires != "" {
		dst = append(append(dst, ", :requires "...), f.Requires...)
	}
	if f.Imports != "" {
		dst = append(append(dst, ", :imports "...), f.Imports...)
	}
	return append(dst, '}')
}

func sortedKeys(m datomic.EntityMap) []datomic.Keyword {
	keys := make([]datomic.Keyword, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	// :db/id first, then in byte order, for stable output.
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keyLess(keys[j], keys[j-1]); j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

func keyLess(a, b datomic.Keyword) bool {
	if a == datomic.DBID || b == datomic.DBID {
		return a == datomic.DBID && b != datomic.DBID
	}
	return a < b
}

func appendSeq(dst []byte, open, close byte, items []any) ([]byte, error) {
	dst = append(dst, open)
	for i, e := range items {
		if i > 0 {
			dst = append(dst, ' ')
		}
		var err error
		if dst, err = Append(dst, e); err != nil {
			return nil, err
		}
	}
	return append(dst, close), nil
}

func appendFloat(dst []byte, f float64, bits int) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(dst, "##Inf"...)
	case math.IsInf(f, -1):
		return append(dst, "##-Inf"...)
	case math.IsNaN(f):
		return append(dst, "##NaN"...)
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, 'g', -1, bits)
	if !strings.ContainsAny(string(dst[start:]), ".eEn") {
		dst = append(dst, ".0"...)
	}
	return dst
}

func appendBigDec(dst []byte, d datomic.BigDec) ([]byte, error) {
	if d.Unscaled == nil {
		return nil, fmt.Errorf("edn: BigDec without unscaled value")
	}
	if d.Scale < 0 {
		// 15 with scale -2 is 1.5E+3 in Java; keep the scale with an
		// exponent (negated as an int64: -(-2^31) does not fit an int32).
		dst = d.Unscaled.Append(dst, 10)
		return append(strconv.AppendInt(append(dst, 'E'), -int64(d.Scale), 10), 'M'), nil
	}
	// Java's notation: plain, or an exponent when the scale would make the
	// plain text long (1E-2147483647M, not two billion zeros).
	return append(append(dst, d.String()...), 'M'), nil
}

func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, `\n`...)
		case '\t':
			dst = append(dst, `\t`...)
		case '\r':
			dst = append(dst, `\r`...)
		default:
			if c < 0x20 || c == 0x7f {
				dst = fmt.Appendf(dst, `\u%04x`, c)
			} else {
				dst = append(dst, c)
			}
		}
	}
	return append(dst, '"')
}

func charName(c Char) string {
	switch c {
	case '\n':
		return "newline"
	case ' ':
		return "space"
	case '\t':
		return "tab"
	case '\r':
		return "return"
	case '\b':
		return "backspace"
	case '\f':
		return "formfeed"
	}
	return ""
}

func appendChar(dst []byte, c Char) []byte {
	if name := charName(c); name != "" {
		return append(append(dst, '\\'), name...)
	}
	r := rune(c)
	switch {
	case r >= 0 && r < 0x21 || r == 0x7f || 0xD800 <= r && r < 0xE000:
		return fmt.Appendf(dst, `\u%04x`, r)
	case !utf8.ValidRune(r):
		// Not a character at all (the reader never makes one): the best
		// that can be printed is the replacement character.
		r = utf8.RuneError
	}
	return utf8.AppendRune(append(dst, '\\'), r)
}
