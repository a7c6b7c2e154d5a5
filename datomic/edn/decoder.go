package edn

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/dcbackup/dcbackup/datomic"
)

const (
	bufSize = 64 << 10
	// maxDepth bounds the nesting of collections and tags, so that hostile
	// input cannot exhaust the stack.
	maxDepth = 10000
	// maxInterned bounds the keyword cache of one Decoder.
	maxInterned = 1 << 14
)

// Decoder reads a stream of EDN forms, one top-level form per call to
// [Decoder.Decode]. It buffers a bounded window of its input; a form is
// held in memory only as the value it decodes to.
type Decoder struct {
	r    io.Reader
	buf  []byte
	pos  int   // next unread byte in buf
	end  int   // end of valid bytes in buf
	base int64 // input offset of buf[0]
	rerr error // error of r (io.EOF at the end)
	err  error // sticky decoding error

	line      int   // current line, 1-based
	lineStart int64 // input offset of the current line's first byte
	depth     int

	fresh    int            // counter for #db/id tempids without a number
	tok      []byte         // scratch for tokens
	str      []byte         // scratch for strings
	stack    []any          // items of the collections being read
	keywords map[string]any // interned, boxed keywords
}

// NewDecoder returns a Decoder reading from r.
func NewDecoder(r io.Reader) *Decoder {
	return &Decoder{r: r, buf: make([]byte, bufSize), line: 1, keywords: make(map[string]any)}
}

// Unmarshal decodes data, which must hold exactly one EDN form (comments,
// whitespace and discarded forms aside).
func Unmarshal(data []byte) (any, error) {
	d := NewDecoder(bytes.NewReader(data))
	v, err := d.Decode()
	if err != nil {
		if err == io.EOF {
			return nil, &SyntaxError{Line: 1, Column: 1, Msg: "no form in input", Err: io.ErrUnexpectedEOF}
		}
		return nil, err
	}
	d.skipSpace()
	m := d.mark()
	if _, err := d.Decode(); err != io.EOF {
		if err != nil {
			return nil, err
		}
		return nil, d.syntaxErr(m, "more than one form in input")
	}
	return v, nil
}

// Decode reads the next top-level form. It returns io.EOF when the input
// holds no further form. Errors in the input are *SyntaxError values; after
// an error, every further call returns the same error.
func (d *Decoder) Decode() (any, error) {
	if d.err != nil {
		return nil, d.err
	}
	d.depth = 0
	for {
		if !d.skipSpace() {
			if d.rerr == io.EOF {
				return nil, io.EOF
			}
			d.err = d.readErr()
			return nil, d.err
		}
		v, ok, err := d.readForm()
		if err != nil {
			d.err = err
			return nil, err
		}
		if ok {
			return v, nil
		}
	}
}

// All returns the remaining forms as a sequence. The sequence ends at the
// end of the input or after yielding an error.
func (d *Decoder) All() iter.Seq2[any, error] {
	return func(yield func(any, error) bool) {
		for {
			v, err := d.Decode()
			if err == io.EOF {
				return
			}
			if !yield(v, err) || err != nil {
				return
			}
		}
	}
}

// InputOffset returns the number of input bytes consumed so far.
func (d *Decoder) InputOffset() int64 { return d.base + int64(d.pos) }

// mark is a position in the input.
type mark struct {
	line, col int
	off       int64
}

func (d *Decoder) mark() mark {
	off := d.base + int64(d.pos)
	return mark{line: d.line, col: int(off-d.lineStart) + 1, off: off}
}

func (d *Decoder) syntaxErr(m mark, format string, args ...any) error {
	return &SyntaxError{Line: m.line, Column: m.col, Offset: m.off, Msg: fmt.Sprintf(format, args...)}
}

// eofErr reports input that ended inside a form (or a read error).
func (d *Decoder) eofErr(m mark, what string) error {
	if d.rerr != io.EOF {
		return d.readErr()
	}
	e := d.syntaxErr(m, "unexpected end of input in %s", what).(*SyntaxError)
	e.Err = io.ErrUnexpectedEOF
	return e
}

func (d *Decoder) readErr() error {
	if d.rerr == io.EOF || d.rerr == nil {
		return nil
	}
	return fmt.Errorf("edn: reading input: %w", d.rerr)
}

// fill makes at least one unread byte available; it reports false at the
// end of the input or on a read error (see rerr).
func (d *Decoder) fill() bool {
	if d.pos < d.end {
		return true
	}
	if d.rerr != nil {
		return false
	}
	d.base += int64(d.end)
	d.pos, d.end = 0, 0
	for range 100 {
		n, err := d.r.Read(d.buf)
		d.end = n
		if err != nil {
			d.rerr = err
		}
		if n > 0 {
			return true
		}
		if err != nil {
			return false
		}
	}
	d.rerr = io.ErrNoProgress
	return false
}

// advance consumes n buffered bytes, keeping track of lines.
func (d *Decoder) advance(n int) {
	chunk := d.buf[d.pos : d.pos+n]
	if i := bytes.LastIndexByte(chunk, '\n'); i >= 0 {
		d.line += bytes.Count(chunk, []byte{'\n'})
		d.lineStart = d.base + int64(d.pos+i+1)
	}
	d.pos += n
}

// nextByte consumes and returns one byte.
func (d *Decoder) nextByte() (byte, bool) {
	if !d.fill() {
		return 0, false
	}
	c := d.buf[d.pos]
	if c == '\n' {
		d.line++
		d.lineStart = d.base + int64(d.pos) + 1
	}
	d.pos++
	return c, true
}

// skipSpace skips whitespace, commas and comments. It reports whether a
// byte is available afterwards.
func (d *Decoder) skipSpace() bool {
	for d.fill() {
		switch c := d.buf[d.pos]; c {
		case ' ', ',', '\t', '\r', '\f', '\v':
			d.pos++
		case '\n':
			d.nextByte()
		case ';': // a comment runs to the end of the line
			for {
				if i := bytes.IndexByte(d.buf[d.pos:d.end], '\n'); i >= 0 {
					d.pos += i
					break
				}
				d.pos = d.end
				if !d.fill() {
					return false
				}
			}
		default:
			return true
		}
	}
	return false
}

// isTerminator reports whether c ends a token.
func isTerminator(c byte) bool {
	switch c {
	case ' ', ',', '\t', '\r', '\n', '\f', '\v', '(', ')', '[', ']', '{', '}', '"', ';', '\\':
		return true
	}
	return false
}

// readToken reads bytes up to the next terminator into d.tok. The first
// byte is taken unconditionally when first is true.
func (d *Decoder) readToken(first bool) []byte {
	d.tok = d.tok[:0]
	if first && d.fill() {
		c, _ := d.nextByte()
		d.tok = append(d.tok, c)
	}
	for d.fill() {
		chunk := d.buf[d.pos:d.end]
		i := 0
		for i < len(chunk) && !isTerminator(chunk[i]) {
			i++
		}
		d.tok = append(d.tok, chunk[:i]...)
		d.pos += i
		if i < len(chunk) {
			break
		}
	}
	return d.tok
}

// readForm reads one form starting at the next byte, which skipSpace has
// made available. ok is false when the form was discarded with #_.
func (d *Decoder) readForm() (v any, ok bool, err error) {
	m := d.mark()
	switch c := d.buf[d.pos]; c {
	case '(':
		d.pos++
		items, err := d.readSeq(')', m, "list")
		return List(items), err == nil, err
	case '[':
		d.pos++
		items, err := d.readSeq(']', m, "vector")
		if items == nil {
			items = []any{}
		}
		return items, err == nil, err
	case '{':
		d.pos++
		mp, err := d.readMap(m, "")
		return mp, err == nil, err
	case ')', ']', '}':
		d.pos++
		return nil, false, d.syntaxErr(m, "unexpected %q", c)
	case '"':
		d.pos++
		s, err := d.readString(m)
		return s, err == nil, err
	case '\\':
		d.pos++
		ch, err := d.readChar(m)
		return ch, err == nil, err
	case '#':
		d.pos++
		return d.readDispatch(m)
	case ':':
		d.pos++
		kw, err := d.readKeyword(m)
		return kw, err == nil, err
	}
	tok := d.readToken(false)
	if len(tok) == 0 {
		c, _ := d.nextByte()
		return nil, false, d.syntaxErr(m, "unexpected character %q", c)
	}
	v, err = d.atom(tok, m)
	return v, err == nil, err
}

// readValue reads the next form that is not discarded, as the operand of
// a tag or of #_.
func (d *Decoder) readValue(m mark, what string) (any, error) {
	for {
		if !d.skipSpace() {
			return nil, d.eofErr(m, what)
		}
		switch c := d.buf[d.pos]; c {
		case ')', ']', '}':
			return nil, d.syntaxErr(d.mark(), "unexpected %q: %s needs a value", c, what)
		}
		v, ok, err := d.readForm()
		if err != nil || ok {
			return v, err
		}
	}
}

func (d *Decoder) enter(m mark) error {
	d.depth++
	if d.depth > maxDepth {
		return d.syntaxErr(m, "forms nested deeper than %d", maxDepth)
	}
	return nil
}

// readSeq reads forms up to the closing byte and returns them in a slice
// of their own.
func (d *Decoder) readSeq(closer byte, m mark, what string) ([]any, error) {
	start, err := d.readItems(closer, m, what)
	if err != nil {
		return nil, err
	}
	items := make([]any, len(d.stack)-start)
	copy(items, d.stack[start:])
	d.pop(start)
	return items, nil
}

// readItems reads forms up to the closing byte onto d.stack, from the
// returned index on; the caller pops them. Collections share the stack so
// that each gets exactly one allocation of its final size.
func (d *Decoder) readItems(closer byte, m mark, what string) (int, error) {
	start := len(d.stack)
	if err := d.enter(m); err != nil {
		return start, err
	}
	defer func() { d.depth-- }()
	for {
		if !d.skipSpace() {
			d.pop(start)
			return start, d.eofErr(m, what)
		}
		c := d.buf[d.pos]
		if c == closer {
			d.pos++
			return start, nil
		}
		v, ok, err := d.readForm()
		if err != nil {
			d.pop(start)
			return start, err
		}
		if ok {
			d.stack = append(d.stack, v)
		}
	}
}

// pop drops the stack above start, clearing it for the garbage collector.
func (d *Decoder) pop(start int) {
	clear(d.stack[start:])
	d.stack = d.stack[:start]
}

// readMap reads a map's entries after its '{'. A non-empty ns is the
// namespace of a namespaced map #:ns{...}.
func (d *Decoder) readMap(m mark, ns string) (Map, error) {
	start, err := d.readItems('}', m, "map")
	if err != nil {
		return nil, err
	}
	defer d.pop(start)
	items := d.stack[start:]
	if len(items)%2 != 0 {
		return nil, d.syntaxErr(m, "map literal has an odd number of forms (%d)", len(items))
	}
	mp := make(Map, len(items)/2)
	for i := range mp {
		k := items[2*i]
		if ns != "" {
			k = d.qualify(k, ns)
		}
		mp[i] = Entry{Key: k, Value: items[2*i+1]}
		items[i] = k // the keys, for the duplicate check, overwrite consumed items
	}
	if dup, ok := duplicate(items[:len(mp)]); ok {
		return nil, d.syntaxErr(m, "duplicate map key %s", describe(dup))
	}
	return mp, nil
}

// qualify interns the qualified form of a namespaced map's keyword key.
func (d *Decoder) qualify(k any, ns string) any {
	kw, ok := k.(datomic.Keyword)
	if !ok || strings.IndexByte(string(kw), '/') >= 0 {
		return qualify(k, ns)
	}
	d.tok = append(append(append(d.tok[:0], ns...), '/'), kw...)
	if v, ok := d.keywords[string(d.tok)]; ok {
		return v
	}
	v := any(datomic.Keyword(d.tok))
	if len(d.keywords) < maxInterned {
		d.keywords[string(d.tok)] = v
	}
	return v
}

// qualify gives a keyword or symbol key of a namespaced map its namespace:
// keys without a namespace get ns, keys in the namespace _ lose it.
func qualify(k any, ns string) any {
	switch x := k.(type) {
	case datomic.Keyword:
		switch x.Namespace() {
		case "":
			return datomic.Keyword(ns + "/" + string(x))
		case "_":
			return datomic.Keyword(x.Name())
		}
	case datomic.Symbol:
		kw := datomic.Keyword(x)
		switch kw.Namespace() {
		case "":
			return datomic.Symbol(ns + "/" + string(x))
		case "_":
			return datomic.Symbol(kw.Name())
		}
	}
	return k
}

// duplicate returns a value that occurs twice in vals.
func duplicate(vals []any) (any, bool) {
	if len(vals) <= 16 {
		for i := 1; i < len(vals); i++ {
			if k, ok := vals[i].(datomic.Keyword); ok {
				for j := range i {
					if k2, ok := vals[j].(datomic.Keyword); ok && k == k2 {
						return k, true
					}
				}
				continue
			}
			for j := range i {
				if Equal(vals[i], vals[j]) {
					return vals[i], true
				}
			}
		}
		return nil, false
	}
	var s keySet
	for _, v := range vals {
		if !s.add(v) {
			return v, true
		}
	}
	return nil, false
}

func describe(v any) string {
	s, err := Marshal(v)
	if err != nil || len(s) > 80 {
		return fmt.Sprintf("of type %T", v)
	}
	return string(s)
}

func (d *Decoder) readKeyword(m mark) (any, error) {
	tok := d.readToken(false)
	if len(tok) == 0 {
		return nil, d.syntaxErr(m, "empty keyword")
	}
	if tok[0] == ':' {
		return nil, d.syntaxErr(m, "auto-resolved keyword ::%s is not EDN", tok[1:])
	}
	if kw, ok := d.keywords[string(tok)]; ok {
		return kw, nil
	}
	if string(tok) != "/" && !validSymbol(tok) {
		return nil, d.syntaxErr(m, "invalid keyword :%s", tok)
	}
	var kw any = datomic.Keyword(tok)
	if len(d.keywords) < maxInterned {
		d.keywords[string(tok)] = kw
	}
	return kw, nil
}

// atom interprets a token that is a number, nil, a boolean or a symbol.
func (d *Decoder) atom(tok []byte, m mark) (any, error) {
	c := tok[0]
	if isDigit(c) || (c == '+' || c == '-') && len(tok) > 1 && isDigit(tok[1]) {
		v, err := parseNumber(tok)
		if err != nil {
			return nil, d.syntaxErr(m, "%v", err)
		}
		return v, nil
	}
	switch string(tok) {
	case "nil":
		return nil, nil
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	if !validSymbol(tok) {
		return nil, d.syntaxErr(m, "invalid symbol %q", tok)
	}
	return datomic.Symbol(tok), nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// validSymbol checks a symbol (or a keyword without its colon): an optional
// namespace and a name, separated by one slash, or the lone slash.
func validSymbol(b []byte) bool {
	if string(b) == "/" {
		return true
	}
	if i := bytes.IndexByte(b, '/'); i >= 0 {
		return validSymbolPart(b[:i]) && (string(b[i+1:]) == "/" || validSymbolPart(b[i+1:]))
	}
	return validSymbolPart(b)
}

func validSymbolPart(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	switch c := b[0]; {
	case isDigit(c), c == ':', c == '#', c == '\'':
		return false
	case (c == '+' || c == '-' || c == '.') && len(b) > 1 && isDigit(b[1]):
		return false
	}
	for _, c := range b {
		switch {
		case c >= 0x80, 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', isDigit(c):
		case bytes.IndexByte([]byte(".*+!-_?$%&=<>:#'"), c) >= 0:
		default:
			return false
		}
	}
	return true
}

// readString reads a string after its opening quote.
func (d *Decoder) readString(m mark) (string, error) {
	b, err := d.readStringBytes(m)
	return string(b), err
}

// readStringBytes reads a string after its opening quote into d.str.
func (d *Decoder) readStringBytes(m mark) ([]byte, error) {
	d.str = d.str[:0]
	hi := rune(-1) // pending high surrogate of a \u escape
	flush := func() {
		if hi >= 0 {
			d.str = utf8.AppendRune(d.str, utf8.RuneError)
			hi = -1
		}
	}
	for {
		if !d.fill() {
			return nil, d.eofErr(m, "string")
		}
		chunk := d.buf[d.pos:d.end]
		i := 0
		for i < len(chunk) && chunk[i] != '"' && chunk[i] != '\\' {
			i++
		}
		if i > 0 {
			flush()
			d.str = append(d.str, chunk[:i]...)
			d.advance(i)
		}
		if i == len(chunk) {
			continue
		}
		if chunk[i] == '"' {
			d.pos++
			flush()
			return d.str, nil
		}
		em := d.mark()
		d.pos++ // the backslash
		c, ok := d.nextByte()
		if !ok {
			return nil, d.eofErr(m, "string")
		}
		if c == 'u' {
			r, err := d.hex4(em)
			if err != nil {
				return nil, err
			}
			switch {
			case 0xD800 <= r && r < 0xDC00:
				flush()
				hi = r
			case 0xDC00 <= r && r < 0xE000 && hi >= 0:
				d.str = utf8.AppendRune(d.str, 0x10000+(hi-0xD800)<<10+(r-0xDC00))
				hi = -1
			default:
				flush()
				d.str = utf8.AppendRune(d.str, r)
			}
			continue
		}
		flush()
		switch c {
		case '"', '\\':
			d.str = append(d.str, c)
		case 'n':
			d.str = append(d.str, '\n')
		case 't':
			d.str = append(d.str, '\t')
		case 'r':
			d.str = append(d.str, '\r')
		case 'b':
			d.str = append(d.str, '\b')
		case 'f':
			d.str = append(d.str, '\f')
		default:
			return nil, d.syntaxErr(em, "invalid escape \\%c in string", c)
		}
	}
}

// hex4 reads the four hex digits of a \u escape.
func (d *Decoder) hex4(em mark) (rune, error) {
	var r rune
	for range 4 {
		c, ok := d.nextByte()
		if !ok {
			return 0, d.eofErr(em, "\\u escape")
		}
		h, ok := hexVal(c)
		if !ok {
			return 0, d.syntaxErr(em, "invalid \\u escape")
		}
		r = r<<4 | h
	}
	return r, nil
}

func hexVal(c byte) (rune, bool) {
	switch {
	case '0' <= c && c <= '9':
		return rune(c - '0'), true
	case 'a' <= c && c <= 'f':
		return rune(c-'a') + 10, true
	case 'A' <= c && c <= 'F':
		return rune(c-'A') + 10, true
	}
	return 0, false
}

// readChar reads a character literal after its backslash.
func (d *Decoder) readChar(m mark) (Char, error) {
	if !d.fill() {
		return 0, d.eofErr(m, "character")
	}
	switch d.buf[d.pos] {
	case ' ', '\t', '\n', '\r', '\f', '\v':
		return 0, d.syntaxErr(m, "backslash followed by whitespace")
	}
	tok := d.readToken(true)
	if utf8.RuneCount(tok) == 1 {
		r, _ := utf8.DecodeRune(tok)
		if r == utf8.RuneError && len(tok) == 1 {
			return 0, d.syntaxErr(m, "invalid UTF-8 in character")
		}
		return Char(r), nil
	}
	switch string(tok) {
	case "newline":
		return '\n', nil
	case "space":
		return ' ', nil
	case "tab":
		return '\t', nil
	case "return":
		return '\r', nil
	case "backspace":
		return '\b', nil
	case "formfeed":
		return '\f', nil
	}
	switch {
	case tok[0] == 'u' && len(tok) == 5:
		var r rune
		for _, c := range tok[1:] {
			h, ok := hexVal(c)
			if !ok {
				return 0, d.syntaxErr(m, "invalid character \\%s", tok)
			}
			r = r<<4 | h
		}
		return Char(r), nil
	case tok[0] == 'o' && len(tok) >= 2 && len(tok) <= 4:
		var r rune
		for _, c := range tok[1:] {
			if c < '0' || c > '7' {
				return 0, d.syntaxErr(m, "invalid character \\%s", tok)
			}
			r = r<<3 | rune(c-'0')
		}
		if r > 0377 {
			return 0, d.syntaxErr(m, "octal character \\%s out of range", tok)
		}
		return Char(r), nil
	}
	return 0, d.syntaxErr(m, "invalid character \\%s", tok)
}

// readDispatch reads what follows a '#': a set, a discarded form, a
// namespaced map, a symbolic value or a tagged element.
func (d *Decoder) readDispatch(m mark) (any, bool, error) {
	if !d.fill() {
		return nil, false, d.eofErr(m, "dispatch")
	}
	switch d.buf[d.pos] {
	case '{':
		d.pos++
		items, err := d.readSeq('}', m, "set")
		if err != nil {
			return nil, false, err
		}
		if dup, ok := duplicate(items); ok {
			return nil, false, d.syntaxErr(m, "duplicate set element %s", describe(dup))
		}
		return Set(items), true, nil
	case '_':
		d.pos++
		if err := d.enter(m); err != nil {
			return nil, false, err
		}
		_, err := d.readValue(m, "#_")
		d.depth--
		return nil, false, err
	case ':':
		d.pos++
		ns := string(d.readToken(false))
		switch {
		case ns == "" || ns[0] == ':':
			return nil, false, d.syntaxErr(m, "auto-resolved namespaced map #:%s is not EDN", ns)
		case bytes.IndexByte([]byte(ns), '/') >= 0 || !validSymbolPart([]byte(ns)):
			return nil, false, d.syntaxErr(m, "invalid namespace %q of namespaced map", ns)
		}
		if !d.skipSpace() {
			return nil, false, d.eofErr(m, "namespaced map")
		}
		if d.buf[d.pos] != '{' {
			return nil, false, d.syntaxErr(d.mark(), "namespaced map #:%s needs a map", ns)
		}
		d.pos++
		mp, err := d.readMap(m, ns)
		return mp, err == nil, err
	case '#':
		d.pos++
		switch tok := string(d.readToken(false)); tok {
		case "Inf":
			return math.Inf(1), true, nil
		case "-Inf":
			return math.Inf(-1), true, nil
		case "NaN":
			return math.NaN(), true, nil
		default:
			return nil, false, d.syntaxErr(m, "unknown symbolic value ##%s", tok)
		}
	}
	tok := d.readToken(false)
	if len(tok) == 0 {
		c, _ := d.nextByte()
		return nil, false, d.syntaxErr(m, "invalid dispatch #%c", c)
	}
	if !isAlpha(tok[0]) || !validSymbol(tok) {
		return nil, false, d.syntaxErr(m, "invalid tag #%s", tok)
	}
	tag := datomic.Symbol(tok)
	if tag == "uuid" && d.skipSpace() && d.buf[d.pos] == '"' {
		// The common case, without making a string of the text.
		d.pos++
		b, err := d.readStringBytes(d.mark())
		if err != nil {
			return nil, false, err
		}
		u, ok := parseUUID(b)
		if !ok {
			return nil, false, d.syntaxErr(m, "#uuid: invalid uuid %q", b)
		}
		return u, true, nil
	}
	if err := d.enter(m); err != nil {
		return nil, false, err
	}
	v, err := d.readValue(m, "#"+string(tag))
	d.depth--
	if err != nil {
		return nil, false, err
	}
	v, err = d.tagged(tag, v)
	if err != nil {
		return nil, false, d.syntaxErr(m, "#%s: %v", tag, err)
	}
	return v, true, nil
}

func isAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// tagged interprets the tags the reader knows.
func (d *Decoder) tagged(tag datomic.Symbol, v any) (any, error) {
	switch tag {
	case "inst":
		s, ok := v.(string)
		if !ok {
			return nil, errors.New("value must be a string")
		}
		return ParseInst(s)
	case "uuid":
		s, ok := v.(string)
		if !ok {
			return nil, errors.New("value must be a string")
		}
		return datomic.ParseUUID(s)
	case "uri":
		s, ok := v.(string)
		if !ok {
			return nil, errors.New("value must be a string")
		}
		return datomic.URI(s), nil
	case "db/id":
		return d.dbID(v)
	case "db/fn":
		return dbFn(v)
	}
	return Tagged{Tag: tag, Value: v}, nil
}

// parseUUID parses the canonical 8-4-4-4-12 hex form.
func parseUUID(b []byte) (datomic.UUID, bool) {
	var u datomic.UUID
	if len(b) != 36 || b[8] != '-' || b[13] != '-' || b[18] != '-' || b[23] != '-' {
		return u, false
	}
	j := 0
	for i := 0; i < 36; {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			i++
			continue
		}
		hi, ok1 := hexVal(b[i])
		lo, ok2 := hexVal(b[i+1])
		if !ok1 || !ok2 {
			return u, false
		}
		u[j] = byte(hi<<4 | lo)
		j++
		i += 2
	}
	return u, true
}
