package transit

import (
	"encoding/base64"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/dcbackup/dcbackup/datomic"
)

// maxDepth bounds the nesting of arrays and objects in untrusted input.
const maxDepth = 512

// Unmarshal decodes one transit+json value from data. Trailing bytes other
// than whitespace are an error.
func Unmarshal(data []byte) (any, error) {
	d := decoder{data: data}
	d.skipSpace()
	v, err := d.value(false)
	if err != nil {
		return nil, err
	}
	d.skipSpace()
	if d.pos != len(d.data) {
		return nil, d.errorf("trailing data")
	}
	return v, nil
}

type decoder struct {
	data  []byte
	pos   int
	depth int
	cache readCache
}

func (d *decoder) errorf(format string, args ...any) error {
	return fmt.Errorf("%w at byte %d: %s", ErrMalformed, d.pos, fmt.Sprintf(format, args...))
}

func (d *decoder) skipSpace() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// value decodes the JSON value at the current position.
func (d *decoder) value(asKey bool) (any, error) {
	if d.pos >= len(d.data) {
		return nil, d.errorf("unexpected end of input")
	}
	switch c := d.data[d.pos]; {
	case c == '"':
		s, err := d.cachedString(asKey)
		if err != nil {
			return nil, err
		}
		return d.decodeString(s)
	case c == '[':
		return d.array()
	case c == '{':
		return d.object()
	case c == '-' || (c >= '0' && c <= '9'):
		return d.number()
	case c == 't':
		return true, d.literal("true")
	case c == 'f':
		return false, d.literal("false")
	case c == 'n':
		return nil, d.literal("null")
	default:
		return nil, d.errorf("unexpected character %q", c)
	}
}

func (d *decoder) literal(word string) error {
	if !strings.HasPrefix(string(d.data[d.pos:min(len(d.data), d.pos+len(word))]), word) {
		return d.errorf("invalid literal")
	}
	d.pos += len(word)
	return nil
}

// cachedString reads a JSON string and resolves it through the cache.
func (d *decoder) cachedString(asKey bool) (string, error) {
	s, err := d.jsonString()
	if err != nil {
		return "", err
	}
	if isCacheRef(s) {
		i, ok := cacheIndex(s)
		if !ok || i >= len(d.cache.entries) {
			return "", d.errorf("unknown cache reference %q", s)
		}
		return d.cache.entries[i], nil
	}
	if cacheable(s, asKey) {
		d.cache.add(s)
	}
	return s, nil
}

func (d *decoder) enter() error {
	d.depth++
	if d.depth > maxDepth {
		return d.errorf("nesting deeper than %d", maxDepth)
	}
	return nil
}

// array decodes a JSON array: a map ("^ " first), a tagged value ("~#tag"
// first, then one value) or a plain vector.
func (d *decoder) array() (any, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	defer func() { d.depth-- }()
	d.pos++ // [
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
		return []any{}, nil
	}
	if d.pos < len(d.data) && d.data[d.pos] == '"' {
		head, err := d.cachedString(false)
		if err != nil {
			return nil, err
		}
		switch {
		case head == "^ ":
			return d.arrayMap()
		case strings.HasPrefix(head, "~#"):
			if err := d.comma(); err != nil {
				return nil, err
			}
			rep, err := d.value(false)
			if err != nil {
				return nil, err
			}
			if err := d.closing(']'); err != nil {
				return nil, err
			}
			return d.tagged(head[2:], rep)
		}
		first, err := d.decodeString(head)
		if err != nil {
			return nil, err
		}
		return d.vectorFrom(append(make([]any, 0, vectorCap), first))
	}
	v, err := d.value(false)
	if err != nil {
		return nil, err
	}
	return d.vectorFrom(append(make([]any, 0, vectorCap), v))
}

// vectorCap is the capacity a decoded vector starts with: most vectors of
// the protocol are datoms (five elements) and operations (four or five),
// which then take one allocation instead of four.
const vectorCap = 8

// vectorFrom reads the remaining elements of a vector.
func (d *decoder) vectorFrom(out []any) (any, error) {
	for {
		d.skipSpace()
		if d.pos >= len(d.data) {
			return nil, d.errorf("unterminated array")
		}
		if d.data[d.pos] == ']' {
			d.pos++
			return out, nil
		}
		if err := d.comma(); err != nil {
			return nil, err
		}
		v, err := d.value(false)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
}

func (d *decoder) comma() error {
	d.skipSpace()
	if d.pos >= len(d.data) || d.data[d.pos] != ',' {
		return d.errorf("expected ','")
	}
	d.pos++
	d.skipSpace()
	return nil
}

func (d *decoder) closing(c byte) error {
	d.skipSpace()
	if d.pos >= len(d.data) || d.data[d.pos] != c {
		return d.errorf("expected %q", c)
	}
	d.pos++
	return nil
}

// arrayMap reads the key/value pairs after a "^ " marker.
func (d *decoder) arrayMap() (any, error) {
	var m Map
	for {
		d.skipSpace()
		if d.pos >= len(d.data) {
			return nil, d.errorf("unterminated map")
		}
		if d.data[d.pos] == ']' {
			d.pos++
			if m == nil {
				m = Map{}
			}
			return m, nil
		}
		if err := d.comma(); err != nil {
			return nil, err
		}
		k, err := d.value(true)
		if err != nil {
			return nil, err
		}
		if err := d.comma(); err != nil {
			return nil, d.errorf("map key without value")
		}
		v, err := d.value(false)
		if err != nil {
			return nil, err
		}
		m = append(m, KV{k, v})
	}
}

// object decodes a JSON object (the verbose map form, or {"~#tag": rep}).
func (d *decoder) object() (any, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	defer func() { d.depth-- }()
	d.pos++ // {
	m := Map{}
	for i := 0; ; i++ {
		d.skipSpace()
		if d.pos >= len(d.data) {
			return nil, d.errorf("unterminated object")
		}
		if d.data[d.pos] == '}' {
			d.pos++
			return m, nil
		}
		if i > 0 {
			if err := d.comma(); err != nil {
				return nil, err
			}
		}
		if d.pos >= len(d.data) || d.data[d.pos] != '"' {
			return nil, d.errorf("expected object key")
		}
		raw, err := d.cachedString(true)
		if err != nil {
			return nil, err
		}
		if err := d.closing(':'); err != nil {
			return nil, err
		}
		d.skipSpace()
		v, err := d.value(false)
		if err != nil {
			return nil, err
		}
		if i == 0 && strings.HasPrefix(raw, "~#") {
			if err := d.closing('}'); err != nil {
				return nil, err
			}
			return d.tagged(raw[2:], v)
		}
		k, err := d.decodeString(raw)
		if err != nil {
			return nil, err
		}
		m = append(m, KV{k, v})
	}
}

func (d *decoder) number() (any, error) {
	start := d.pos
	isFloat := false
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		if c == '.' || c == 'e' || c == 'E' {
			isFloat = true
		} else if !(c >= '0' && c <= '9' || c == '-' || c == '+') {
			break
		}
		d.pos++
	}
	if !isFloat {
		if n, ok := shortInt(d.data[start:d.pos]); ok {
			return n, nil
		}
	}
	tok := string(d.data[start:d.pos])
	if isFloat {
		f, err := strconv.ParseFloat(tok, 64)
		if err != nil {
			return nil, d.errorf("invalid number %q", tok)
		}
		return f, nil
	}
	return d.integer(tok)
}

// shortInt parses tok when it is an optional minus sign and 1 to 18
// decimal digits (which always fit an int64), without the string a
// strconv call needs; ok is false for anything else.
func shortInt(tok []byte) (n int64, ok bool) {
	neg := len(tok) > 0 && tok[0] == '-'
	if neg {
		tok = tok[1:]
	}
	if len(tok) == 0 || len(tok) > 18 {
		return 0, false
	}
	for _, c := range tok {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

func (d *decoder) integer(tok string) (any, error) {
	if n, err := strconv.ParseInt(tok, 10, 64); err == nil {
		return n, nil
	}
	b, ok := new(big.Int).SetString(tok, 10)
	if !ok {
		return nil, d.errorf("invalid integer %q", tok)
	}
	return b, nil
}

// jsonString reads a JSON string literal.
func (d *decoder) jsonString() (string, error) {
	d.pos++ // opening quote
	start := d.pos
	// Fast path: no escapes.
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		if c == '"' {
			s := string(d.data[start:d.pos])
			d.pos++
			return s, nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		d.pos++
	}
	var sb strings.Builder
	sb.Write(d.data[start:d.pos])
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			d.pos++
			return sb.String(), nil
		case c < 0x20:
			return "", d.errorf("control character in string")
		case c != '\\':
			sb.WriteByte(c)
			d.pos++
			continue
		}
		d.pos++
		if d.pos >= len(d.data) {
			break
		}
		e := d.data[d.pos]
		d.pos++
		switch e {
		case '"', '\\', '/':
			sb.WriteByte(e)
		case 'b':
			sb.WriteByte('\b')
		case 'f':
			sb.WriteByte('\f')
		case 'n':
			sb.WriteByte('\n')
		case 'r':
			sb.WriteByte('\r')
		case 't':
			sb.WriteByte('\t')
		case 'u':
			r, err := d.hex4()
			if err != nil {
				return "", err
			}
			if utf16.IsSurrogate(r) {
				r2 := utf8.RuneError
				if d.pos+1 < len(d.data) && d.data[d.pos] == '\\' && d.data[d.pos+1] == 'u' {
					save := d.pos
					d.pos += 2
					lo, err := d.hex4()
					if err != nil {
						return "", err
					}
					if r2 = utf16.DecodeRune(r, lo); r2 == utf8.RuneError {
						d.pos = save
					}
				}
				r = r2
			}
			sb.WriteRune(r)
		default:
			return "", d.errorf("invalid escape \\%c", e)
		}
	}
	return "", d.errorf("unterminated string")
}

func (d *decoder) hex4() (rune, error) {
	if d.pos+4 > len(d.data) {
		return 0, d.errorf("short \\u escape")
	}
	n, err := strconv.ParseUint(string(d.data[d.pos:d.pos+4]), 16, 32)
	if err != nil {
		return 0, d.errorf("invalid \\u escape")
	}
	d.pos += 4
	return rune(n), nil
}

// decodeString turns an encoded transit string into its value.
func (d *decoder) decodeString(s string) (any, error) {
	if len(s) < 2 || s[0] != '~' {
		return s, nil
	}
	body := s[2:]
	switch s[1] {
	case '~', '^', '`':
		return s[1:], nil
	case ':':
		return datomic.Keyword(body), nil
	case '$':
		return datomic.Symbol(body), nil
	case '_':
		return nil, nil
	case '?':
		switch body {
		case "t":
			return true, nil
		case "f":
			return false, nil
		}
	case 'i':
		return d.integer(body)
	case 'n':
		if b, ok := new(big.Int).SetString(body, 10); ok {
			return b, nil
		}
	case 'f':
		if v, err := datomic.ParseBigDec(body); err == nil {
			return v, nil
		}
	case 'd':
		if f, err := strconv.ParseFloat(body, 64); err == nil {
			return f, nil
		}
	case 'z':
		switch body {
		case "NaN":
			return math.NaN(), nil
		case "INF":
			return math.Inf(1), nil
		case "-INF":
			return math.Inf(-1), nil
		}
	case 'm':
		if ms, err := strconv.ParseInt(body, 10, 64); err == nil {
			return time.UnixMilli(ms).UTC(), nil
		}
	case 't':
		if t, err := time.Parse(time.RFC3339Nano, body); err == nil {
			return t.UTC(), nil
		}
	case 'u':
		if u, err := datomic.ParseUUID(body); err == nil {
			return u, nil
		}
	case 'r':
		return datomic.URI(body), nil
	case 'b':
		if b, err := base64.StdEncoding.DecodeString(body); err == nil {
			return b, nil
		}
	case 'c':
		if r, n := utf8.DecodeRuneInString(body); n == len(body) && n > 0 {
			return Char(r), nil
		}
	case '#':
		return nil, d.errorf("tag %q outside an array head", s)
	default:
		return Tagged{Tag: s[1:2], Rep: body}, nil
	}
	return nil, d.errorf("invalid ~%c value %q", s[1], body)
}

// tagged builds the value of a composite tag.
func (d *decoder) tagged(tag string, rep any) (any, error) {
	switch tag {
	case "'":
		return rep, nil
	case "set", "list", "cmap", "datom":
		arr, ok := rep.([]any)
		if !ok {
			return nil, d.errorf("tag %s needs an array, got %T", tag, rep)
		}
		switch tag {
		case "set":
			return Set(arr), nil
		case "list":
			return List(arr), nil
		case "cmap":
			if len(arr)%2 != 0 {
				return nil, d.errorf("cmap with an odd number of elements")
			}
			m := make(Map, 0, len(arr)/2)
			for i := 0; i < len(arr); i += 2 {
				m = append(m, KV{arr[i], arr[i+1]})
			}
			return m, nil
		default:
			return d.datom(arr)
		}
	}
	return Tagged{Tag: tag, Rep: rep}, nil
}

func (d *decoder) datom(arr []any) (any, error) {
	if len(arr) != 4 && len(arr) != 5 {
		return nil, d.errorf("datom with %d elements", len(arr))
	}
	var ids [3]int64
	for i, j := range []int{0, 1, 3} {
		n, ok := arr[j].(int64)
		if !ok {
			return nil, d.errorf("datom element %d is %T, not an integer", j, arr[j])
		}
		ids[i] = n
	}
	added := true
	if len(arr) == 5 {
		b, ok := arr[4].(bool)
		if !ok {
			return nil, d.errorf("datom added flag is %T", arr[4])
		}
		added = b
	}
	return datomic.Datom{E: ids[0], A: ids[1], V: arr[2], Tx: ids[2], Added: added}, nil
}
