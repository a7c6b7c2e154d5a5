package transit

import (
	"cmp"
	"encoding/base64"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/dcbackup/dcbackup/datomic"
)

// maxSafeInt is the largest integer a JSON number carries exactly in
// JavaScript; larger magnitudes are written as "~i" strings.
const maxSafeInt = 1<<53 - 1

// Marshal encodes v as transit+json, using the cache for repeated keywords,
// symbols, tags and map keys. A top-level scalar is wrapped in a quote tag.
func Marshal(v any) ([]byte, error) {
	e := encoder{}
	if isScalar(v) {
		e.buf = append(e.buf, `["~#'",`...)
		if err := e.value(v, false); err != nil {
			return nil, err
		}
		e.buf = append(e.buf, ']')
		return e.buf, nil
	}
	if err := e.value(v, false); err != nil {
		return nil, err
	}
	return e.buf, nil
}

type encoder struct {
	buf   []byte
	cache writeCache
	depth int
}

// scalarString returns the encoded string form of a scalar, or ok=false when
// v is not a scalar with a string form.
func scalarString(v any) (s string, ok bool) {
	switch x := v.(type) {
	case string:
		if len(x) > 0 && (x[0] == '~' || x[0] == '^' || x[0] == '`') {
			return "~" + x, true
		}
		return x, true
	case datomic.Keyword:
		return "~:" + string(x), true
	case datomic.Symbol:
		return "~$" + string(x), true
	case *big.Int:
		if x == nil {
			return "", false
		}
		return "~n" + x.String(), true
	case datomic.BigDec:
		return "~f" + bigDecString(x), true
	case time.Time:
		return "~m" + strconv.FormatInt(x.UnixMilli(), 10), true
	case datomic.UUID:
		return "~u" + x.String(), true
	case datomic.URI:
		return "~r" + string(x), true
	case []byte:
		return "~b" + base64.StdEncoding.EncodeToString(x), true
	case Char:
		return "~c" + string(rune(x)), true
	}
	return "", false
}

// bigDecString writes d so that its scale survives (1.50 stays 1.50, and a
// negative scale uses an exponent as java.math.BigDecimal does). Its length
// is proportional to the digits for any scale (BigDec.String switches to an
// exponent where the plain text would be long).
func bigDecString(d datomic.BigDec) string {
	if d.Scale >= 0 {
		return d.String()
	}
	u := d.Unscaled
	if u == nil {
		u = new(big.Int)
	}
	// Negated as an int64: -(-2^31) does not fit an int32.
	return u.String() + "E+" + strconv.FormatInt(-int64(d.Scale), 10)
}

func isScalar(v any) bool {
	switch v.(type) {
	case []any, datomic.Tuple, List, Set, Map, map[datomic.Keyword]any, map[string]any,
		datomic.Datom, Tagged:
		return false
	}
	return true
}

// intOf returns v as an int64 when it is a Go integer.
func intOf(v any) (int64, bool, error) {
	switch x := v.(type) {
	case int:
		return int64(x), true, nil
	case int8:
		return int64(x), true, nil
	case int16:
		return int64(x), true, nil
	case int32:
		return int64(x), true, nil
	case int64:
		return x, true, nil
	case uint8:
		return int64(x), true, nil
	case uint16:
		return int64(x), true, nil
	case uint32:
		return int64(x), true, nil
	case uint:
		if uint64(x) > math.MaxInt64 {
			return 0, true, fmt.Errorf("transit: integer %d out of range", x)
		}
		return int64(x), true, nil
	case uint64:
		if x > math.MaxInt64 {
			return 0, true, fmt.Errorf("transit: integer %d out of range", x)
		}
		return int64(x), true, nil
	}
	return 0, false, nil
}

// keyString returns the encoded map-key string of a stringable key.
func keyString(k any) (string, bool) {
	if s, ok := scalarString(k); ok {
		return s, true
	}
	if n, ok, err := intOf(k); ok && err == nil {
		return "~i" + strconv.FormatInt(n, 10), true
	}
	switch x := k.(type) {
	case nil:
		return "~_", true
	case bool:
		if x {
			return "~?t", true
		}
		return "~?f", true
	case float64:
		return floatKey(x), true
	case float32:
		return floatKey(float64(x)), true
	}
	return "", false
}

func floatKey(f float64) string {
	if s, special := specialFloat(f); special {
		return s
	}
	return "~d" + strconv.FormatFloat(f, 'g', -1, 64)
}

func specialFloat(f float64) (string, bool) {
	switch {
	case math.IsNaN(f):
		return "~zNaN", true
	case math.IsInf(f, 1):
		return "~zINF", true
	case math.IsInf(f, -1):
		return "~z-INF", true
	}
	return "", false
}

func (e *encoder) value(v any, asKey bool) error {
	if s, ok := scalarString(v); ok {
		e.str(e.cache.lookup(s, asKey))
		return nil
	}
	if n, ok, err := intOf(v); ok {
		if err != nil {
			return err
		}
		if n > maxSafeInt || n < -maxSafeInt {
			e.str("~i" + strconv.FormatInt(n, 10))
		} else {
			e.buf = strconv.AppendInt(e.buf, n, 10)
		}
		return nil
	}
	switch x := v.(type) {
	case nil:
		e.buf = append(e.buf, "null"...)
		return nil
	case bool:
		e.buf = strconv.AppendBool(e.buf, x)
		return nil
	case float64:
		e.float(x, 64)
		return nil
	case float32:
		e.float(float64(x), 32)
		return nil
	}
	e.depth++
	defer func() { e.depth-- }()
	if e.depth > maxDepth {
		return fmt.Errorf("transit: value nested deeper than %d", maxDepth)
	}
	switch x := v.(type) {
	case []any:
		return e.array(x)
	case datomic.Tuple:
		return e.array(x)
	case List:
		return e.tagged("list", []any(x))
	case Set:
		return e.tagged("set", []any(x))
	case Map:
		return e.mapValue(x)
	case map[datomic.Keyword]any:
		m := make(Map, 0, len(x))
		for k, val := range x {
			m = append(m, KV{k, val})
		}
		slices.SortFunc(m, func(a, b KV) int { return cmp.Compare(a.Key.(datomic.Keyword), b.Key.(datomic.Keyword)) })
		return e.mapValue(m)
	case map[string]any:
		m := make(Map, 0, len(x))
		for k, val := range x {
			m = append(m, KV{k, val})
		}
		slices.SortFunc(m, func(a, b KV) int { return cmp.Compare(a.Key.(string), b.Key.(string)) })
		return e.mapValue(m)
	case datomic.Datom:
		return e.tagged("datom", []any{x.E, x.A, x.V, x.Tx, x.Added})
	case Tagged:
		return e.tagged(x.Tag, x.Rep)
	}
	return fmt.Errorf("transit: cannot encode %T", v)
}

func (e *encoder) float(f float64, bits int) {
	if s, special := specialFloat(f); special {
		e.str(s)
		return
	}
	start := len(e.buf)
	e.buf = strconv.AppendFloat(e.buf, f, 'g', -1, bits)
	for _, c := range e.buf[start:] {
		if c == '.' || c == 'e' || c == 'E' {
			return
		}
	}
	e.buf = append(e.buf, ".0"...)
}

func (e *encoder) array(xs []any) error {
	e.buf = append(e.buf, '[')
	for i, x := range xs {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		if err := e.value(x, false); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, ']')
	return nil
}

func (e *encoder) tagged(tag string, rep any) error {
	e.buf = append(e.buf, '[')
	e.str(e.cache.lookup("~#"+tag, false))
	e.buf = append(e.buf, ',')
	if err := e.value(rep, false); err != nil {
		return err
	}
	e.buf = append(e.buf, ']')
	return nil
}

func (e *encoder) mapValue(m Map) error {
	stringable := true
	for _, kv := range m {
		if _, ok := keyString(kv.Key); !ok {
			stringable = false
			break
		}
	}
	if !stringable {
		flat := make([]any, 0, 2*len(m))
		for _, kv := range m {
			flat = append(flat, kv.Key, kv.Value)
		}
		return e.tagged("cmap", flat)
	}
	e.buf = append(e.buf, `["^ "`...)
	for _, kv := range m {
		ks, _ := keyString(kv.Key)
		e.buf = append(e.buf, ',')
		e.str(e.cache.lookup(ks, true))
		e.buf = append(e.buf, ',')
		if err := e.value(kv.Value, false); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, ']')
	return nil
}

// str writes s as a JSON string literal, escaping as JSON.stringify does.
func (e *encoder) str(s string) {
	const hexDigits = "0123456789abcdef"
	e.buf = append(e.buf, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				e.buf = append(e.buf, '\\', c)
			case c == '\n':
				e.buf = append(e.buf, '\\', 'n')
			case c == '\r':
				e.buf = append(e.buf, '\\', 'r')
			case c == '\t':
				e.buf = append(e.buf, '\\', 't')
			case c == '\b':
				e.buf = append(e.buf, '\\', 'b')
			case c == '\f':
				e.buf = append(e.buf, '\\', 'f')
			case c < 0x20:
				e.buf = append(e.buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				e.buf = append(e.buf, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			e.buf = append(e.buf, `\ufffd`...)
		} else {
			e.buf = append(e.buf, s[i:i+n]...)
		}
		i += n
	}
	e.buf = append(e.buf, '"')
}
