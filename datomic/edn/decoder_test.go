package edn

import (
	"errors"
	"io"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/datomic"
)

func mustRead(t *testing.T, s string) any {
	t.Helper()
	v, err := Unmarshal([]byte(s))
	require.NoError(t, err, "input %q", s)
	return v
}

func bigInt(s string) *big.Int {
	b, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic(s)
	}
	return b
}

func TestScalars(t *testing.T) {
	cases := []struct {
		in   string
		want any
	}{
		{"nil", nil},
		{"true", true},
		{"false", false},
		{"0", int64(0)},
		{"-17", int64(-17)},
		{"+5", int64(5)},
		{"9223372036854775807", int64(math.MaxInt64)},
		{"-9223372036854775808", int64(math.MinInt64)},
		{"9223372036854775808", bigInt("9223372036854775808")},
		{"12N", big.NewInt(12)},
		{"-123456789012345678901234567890", bigInt("-123456789012345678901234567890")},
		{"1.5", 1.5},
		{"-0.25", -0.25},
		{"1e3", 1000.0},
		{"2.5E-2", 0.025},
		{"1.", 1.0},
		{"1e400", math.Inf(1)},
		{"##Inf", math.Inf(1)},
		{"##-Inf", math.Inf(-1)},
		{"1.50M", datomic.BigDec{Unscaled: big.NewInt(150), Scale: 2}},
		{"7M", datomic.BigDec{Unscaled: big.NewInt(7), Scale: 0}},
		{"-1.5e3M", datomic.BigDec{Unscaled: big.NewInt(-15), Scale: -2}},
		{`"hello"`, "hello"},
		{`""`, ""},
		{`"a\tb\nc\\d\"e\rf\bg\fh"`, "a\tb\nc\\d\"e\rf\bg\fh"},
		{`"\u00e9\u20AC"`, "é€"},
		{`"\ud83d\ude00"`, "😀"},
		{`"\ud83d x"`, "\uFFFD x"},
		{`"multi
line"`, "multi\nline"},
		{`\a`, Char('a')},
		{`\newline`, Char('\n')},
		{`\space`, Char(' ')},
		{`\tab`, Char('\t')},
		{`\u0041`, Char('A')},
		{`\o101`, Char('A')},
		{`\(`, Char('(')},
		{`\é`, Char('é')},
		{":db/ident", datomic.Keyword("db/ident")},
		{":simple", datomic.Keyword("simple")},
		{":a.b-c/d?e!", datomic.Keyword("a.b-c/d?e!")},
		{"foo", datomic.Symbol("foo")},
		{"clojure.string/join", datomic.Symbol("clojure.string/join")},
		{"->", datomic.Symbol("->")},
		{"RuntimeException.", datomic.Symbol("RuntimeException.")},
		{"/", datomic.Symbol("/")},
		{"-", datomic.Symbol("-")},
		{"+", datomic.Symbol("+")},
		{"nil?", datomic.Symbol("nil?")},
		{`#uuid "0005682c-3083-415e-ae4c-debd7be3e47e"`, mustUUID("0005682c-3083-415e-ae4c-debd7be3e47e")},
		{`#uri "http://example.com/x"`, datomic.URI("http://example.com/x")},
		{`#inst "1970"`, time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)},
		{`#inst "2013-10-31T10:00:00.000-00:00"`, time.Date(2013, 10, 31, 10, 0, 0, 0, time.UTC)},
		{`#myapp/point [1 2]`, Tagged{Tag: "myapp/point", Value: []any{int64(1), int64(2)}}},
	}
	for _, c := range cases {
		got := mustRead(t, c.in)
		assert.True(t, Equal(c.want, got), "input %s: got %#v want %#v", c.in, got, c.want)
	}
	assert.True(t, math.IsNaN(mustRead(t, "##NaN").(float64)))
}

func mustUUID(s string) datomic.UUID {
	u, err := datomic.ParseUUID(s)
	if err != nil {
		panic(err)
	}
	return u
}

func TestInstForms(t *testing.T) {
	cases := map[string]time.Time{
		"1970":                           time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
		"1980-02":                        time.Date(1980, 2, 1, 0, 0, 0, 0, time.UTC),
		"1983-03-04":                     time.Date(1983, 3, 4, 0, 0, 0, 0, time.UTC),
		"1983-03-04T05":                  time.Date(1983, 3, 4, 5, 0, 0, 0, time.UTC),
		"1983-03-04T05:06":               time.Date(1983, 3, 4, 5, 6, 0, 0, time.UTC),
		"1983-03-04T05:06:07":            time.Date(1983, 3, 4, 5, 6, 7, 0, time.UTC),
		"1983-03-04T05:06:07.8":          time.Date(1983, 3, 4, 5, 6, 7, 800_000_000, time.UTC),
		"1983-03-04T05:06:07.123456789Z": time.Date(1983, 3, 4, 5, 6, 7, 123456789, time.UTC),
		"2013-10-31T10:00:00.000+02:00":  time.Date(2013, 10, 31, 8, 0, 0, 0, time.UTC),
		"2013-10-31T10:00:00-05:30":      time.Date(2013, 10, 31, 15, 30, 0, 0, time.UTC),
		"2000-02-29":                     time.Date(2000, 2, 29, 0, 0, 0, 0, time.UTC),
		"1970Z":                          time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	for in, want := range cases {
		got, err := ParseInst(in)
		require.NoError(t, err, in)
		assert.True(t, want.Equal(got), "%s: got %v want %v", in, got, want)
		assert.Equal(t, time.UTC, got.Location())
	}
	for _, bad := range []string{"", "70", "1970-1", "1970-13", "1970-00", "1999-02-29", "1970-01-01T24",
		"1970-01-01T10:60", "1970-01-01T10:00:61", "1970-01-01T10:00:00.", "1970-01-01 10:00",
		"1970-01-01T10:00:00+0100", "1970-01-01T10:00:00+25:00", "1970-01-01x"} {
		_, err := ParseInst(bad)
		assert.Error(t, err, bad)
	}
}

func TestCollections(t *testing.T) {
	v := mustRead(t, `[1 (2 3) {:a 1, "b" [2]} #{:x :y} []]`)
	want := []any{int64(1), List{int64(2), int64(3)},
		Map{{datomic.Keyword("a"), int64(1)}, {"b", []any{int64(2)}}},
		Set{datomic.Keyword("x"), datomic.Keyword("y")}, []any{}}
	assert.True(t, Equal(want, v), "%#v", v)

	m := mustRead(t, `{:b 2 :a 1 [1 2] :vec-key {:n 1} :map-key}`).(Map)
	require.Len(t, m, 4)
	assert.Equal(t, datomic.Keyword("b"), m[0].Key, "order kept")
	got, ok := m.Get([]any{int64(1), int64(2)})
	require.True(t, ok)
	assert.Equal(t, datomic.Keyword("vec-key"), got)
	got, ok = m.Keyword("a")
	require.True(t, ok)
	assert.Equal(t, int64(1), got)
	_, ok = m.Keyword("zz")
	assert.False(t, ok)

	// Sets and maps compare without order.
	assert.True(t, Equal(mustRead(t, `#{1 2 3}`), mustRead(t, `#{3 1 2}`)))
	assert.True(t, Equal(mustRead(t, `{:a 1 :b 2}`), mustRead(t, `{:b 2 :a 1}`)))
	assert.False(t, Equal(mustRead(t, `[1 2]`), mustRead(t, `(1 2)`)))
}

func TestNamespacedMap(t *testing.T) {
	v := mustRead(t, `#:artist{:name "Adamo" :gid #uuid "d3132eab-36d1-476e-a736-cb6dbb08a4a2" :db/id "x" :_/bare 1 "s" 2 sym 3}`)
	m := v.(Map)
	keys := make([]any, len(m))
	for i, e := range m {
		keys[i] = e.Key
	}
	assert.Equal(t, []any{datomic.Keyword("artist/name"), datomic.Keyword("artist/gid"),
		datomic.Keyword("db/id"), datomic.Keyword("bare"), "s", datomic.Symbol("artist/sym")}, keys)

	nested := mustRead(t, `#:release{:artists #:artist{:gid 1}, :year 1972}`).(Map)
	inner, ok := nested.Keyword("release/artists")
	require.True(t, ok)
	assert.True(t, Equal(Map{{datomic.Keyword("artist/gid"), int64(1)}}, inner))

	// Whitespace between the namespace and the map is allowed.
	assert.True(t, Equal(Map{{datomic.Keyword("a/b"), int64(1)}}, mustRead(t, "#:a {:b 1}")))
}

func TestDiscardCommentsCommas(t *testing.T) {
	v := mustRead(t, `
; leading comment
[1, 2,,, #_ 3 #_#_ 4 5 6 ; trailing
 #_ {:ignored [1 2]} 7 #_ #inst "1970"] ; done`)
	assert.True(t, Equal([]any{int64(1), int64(2), int64(6), int64(7)}, v), "%#v", v)
	assert.True(t, Equal(Map{{datomic.Keyword("a"), int64(2)}}, mustRead(t, `{:a #_ 1 2}`)))
	assert.True(t, Equal(datomic.Keyword("k"), mustRead(t, `#_ skipped :k`)))
}

func TestDBID(t *testing.T) {
	d := NewDecoder(strings.NewReader(`
[#db/id [:db.part/user] #db/id[:db.part/user] #db/id [:db.part/user -1] #db/id [:db.part/user -1]
 #db/id [:db.part/db -1] #db/id [:db.part/tx] #db/id [:db.part/tx -7]]
[#db/id [:db.part/user]]`))
	v, err := d.Decode()
	require.NoError(t, err)
	ids := v.([]any)
	assert.NotEqual(t, ids[0], ids[1], "fresh tempids differ")
	assert.Equal(t, ids[2], ids[3], "equal numbers give equal tempids")
	assert.NotEqual(t, ids[2], ids[4], "partition is part of the tempid")
	assert.Equal(t, datomic.TxTempID, ids[5])
	assert.Equal(t, datomic.TxTempID, ids[6])
	for i, id := range ids[:5] {
		tid, ok := id.(datomic.TempID)
		require.True(t, ok, "item %d is %T", i, id)
		part, ok := TempIDPartition(tid)
		require.True(t, ok)
		if i == 4 {
			assert.Equal(t, datomic.Keyword("db.part/db"), part)
		} else {
			assert.Equal(t, datomic.Keyword("db.part/user"), part)
		}
	}
	v2, err := d.Decode()
	require.NoError(t, err)
	assert.NotContains(t, ids, v2.([]any)[0], "fresh tempids stay unique across forms")
	_, ok := TempIDPartition("plain")
	assert.False(t, ok)

	for _, bad := range []string{`#db/id []`, `#db/id [:db.part/user 1]`, `#db/id [:db.part/user -1 2]`, `#db/id ["x"]`, `#db/id :x`} {
		_, err := Unmarshal([]byte(bad))
		assert.ErrorIs(t, err, ErrSyntax, bad)
	}
}

func TestDBFnReadsAsFunction(t *testing.T) {
	v := mustRead(t, `#db/fn {:lang "clojure" :params [db e] :code (-> (d/entity db e) :x (+ 1)) :requires [[clojure.string :as str]]}`)
	f, ok := v.(datomic.Fn)
	require.True(t, ok, "%T", v)
	assert.Equal(t, datomic.Fn{Lang: "clojure", Params: []datomic.Symbol{"db", "e"},
		Code: "(-> (d/entity db e) :x (+ 1))", Requires: "[[clojure.string :as str]]"}, f)

	v = mustRead(t, `#db/fn {:lang :java :params [] :code "return 1;" :imports [java.util.Date]}`)
	assert.Equal(t, datomic.Fn{Lang: "java", Params: []datomic.Symbol{}, Code: "return 1;", Imports: "[java.util.Date]"}, v)

	// Marshal prints the literal back; reading it again gives the same function.
	text, err := Marshal(f)
	require.NoError(t, err)
	assert.Equal(t, `#db/fn {:lang :clojure, :params [db e], :code "(-> (d/entity db e) :x (+ 1))", :requires [[clojure.string :as str]]}`, string(text))
	assert.True(t, Equal(f, mustRead(t, string(text))))
	assert.False(t, Equal(f, datomic.Fn{Lang: "clojure", Code: "x"}))

	for _, bad := range []string{
		`#db/fn []`,
		`#db/fn {:lang "clojure"}`,
		`#db/fn {:code "x"}`,
		`#db/fn {:lang "ruby" :code "x"}`,
		`#db/fn {:lang "clojure" :code "x" :params [1]}`,
		`#db/fn {:lang "clojure" :code "x" :params x}`,
		`#db/fn {:lang "clojure" :code "x" :extra 1}`,
		`#db/fn {:lang "clojure" :code "x" :requires foo}`,
		`#db/fn {"lang" "clojure" :code "x"}`,
	} {
		_, err := Unmarshal([]byte(bad))
		assert.ErrorIs(t, err, ErrSyntax, bad)
	}
}

func TestStreaming(t *testing.T) {
	in := "{:a 1}\n{:a 2}\n\n; tail\n{:a 3} "
	d := NewDecoder(strings.NewReader(in))
	var got []any
	for v, err := range d.All() {
		require.NoError(t, err)
		got = append(got, v)
	}
	require.Len(t, got, 3)
	assert.True(t, Equal(Map{{datomic.Keyword("a"), int64(3)}}, got[2]))
	_, err := d.Decode()
	assert.Equal(t, io.EOF, err)
	assert.Equal(t, int64(len(in)), d.InputOffset())
}

// oneByteReader hands out its input one byte at a time, so that every token
// straddles buffer refills.
type oneByteReader struct{ s string }

func (r *oneByteReader) Read(p []byte) (int, error) {
	if r.s == "" {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	p[0] = r.s[0]
	r.s = r.s[1:]
	return 1, nil
}

func TestByteAtATime(t *testing.T) {
	in := `#:a{:s "x\u00e9y\nz" :k :kw/x :n -12 :f 1.5e3 :b 12345678901234567890N :d 1.25M :c \newline
:u #uuid "0005682c-3083-415e-ae4c-debd7be3e47e" :i #inst "1970-01-02" :v [#_ 1 2 #{3}] :l (x y)} [1]`
	d1 := NewDecoder(strings.NewReader(in))
	d2 := NewDecoder(&oneByteReader{in})
	for {
		v1, err1 := d1.Decode()
		v2, err2 := d2.Decode()
		require.Equal(t, err1, err2)
		if err1 != nil {
			assert.Equal(t, io.EOF, err1)
			break
		}
		assert.True(t, Equal(v1, v2), "%#v\n%#v", v1, v2)
	}
}

func TestSyntaxErrors(t *testing.T) {
	cases := []struct {
		in        string
		line, col int
		msg       string
	}{
		{`[1 2`, 1, 1, "unexpected end of input in vector"},
		{"{:a 1\n :b}", 1, 1, "odd number"},
		{"[1\n  2)]", 2, 4, `unexpected ')'`},
		{`"abc`, 1, 1, "end of input in string"},
		{`"a\qb"`, 1, 3, `invalid escape`},
		{`{:a 1 :a 2}`, 1, 1, "duplicate map key :a"},
		{`#{1 1}`, 1, 1, "duplicate set element 1"},
		{`#:a{:b 1 :a/b 2}`, 1, 1, "duplicate map key :a/b"},
		{"\n\n   ::auto", 3, 4, "auto-resolved"},
		{`#::{:a 1}`, 1, 1, "auto-resolved"},
		{`#:a/b{:c 1}`, 1, 1, "invalid namespace"},
		{`#:a [1]`, 1, 5, "needs a map"},
		{`012`, 1, 1, "leading zero"},
		{`1.5N`, 1, 1, "invalid number"},
		{`1/2`, 1, 1, "invalid number"},
		{`0x1F`, 1, 1, "invalid number"},
		{`1e`, 1, 1, "invalid number"},
		{`1e123456789012M`, 1, 1, "out of range"},
		{`1e-2147483648M`, 1, 1, "invalid number"}, // scale 2^31: beyond Java's int
		{`1e2147483649M`, 1, 1, "invalid number"},
		{`.5`, 1, 1, "invalid symbol"},
		{`a/b/c`, 1, 1, "invalid symbol"},
		{`:`, 1, 1, "empty keyword"},
		{`#inst 5`, 1, 1, "must be a string"},
		{`#inst "1970-13"`, 1, 1, "invalid instant"},
		{`#uuid "xyz"`, 1, 1, "invalid uuid"},
		{`#`, 1, 1, "end of input"},
		{`#_`, 1, 1, "end of input"},
		{`[#_]`, 1, 4, "#_ needs a value"},
		{`#inst`, 1, 1, "end of input"},
		{`##Foo`, 1, 1, "unknown symbolic value"},
		{`#1 x`, 1, 1, "invalid tag"},
		{`\`, 1, 1, "end of input"},
		{`\abc`, 1, 1, "invalid character"},
		{`\u12`, 1, 1, "invalid character"},
		{`\o777`, 1, 1, "out of range"},
		{"\\ x", 1, 1, "whitespace"},
		{`'x`, 1, 1, "invalid symbol"},
		{`1 2`, 1, 3, "more than one form"},
		{``, 1, 1, "no form"},
	}
	for _, c := range cases {
		_, err := Unmarshal([]byte(c.in))
		require.Error(t, err, c.in)
		var se *SyntaxError
		require.True(t, errors.As(err, &se), "%q: %v", c.in, err)
		assert.ErrorIs(t, err, ErrSyntax)
		assert.Contains(t, se.Msg, c.msg, c.in)
		assert.Equal(t, c.line, se.Line, "%q line: %v", c.in, err)
		assert.Equal(t, c.col, se.Column, "%q column: %v", c.in, err)
	}
	_, err := Unmarshal([]byte(`[1 2`))
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
}

func TestErrorIsSticky(t *testing.T) {
	d := NewDecoder(strings.NewReader(`[1] ) [2]`))
	_, err := d.Decode()
	require.NoError(t, err)
	_, err1 := d.Decode()
	require.Error(t, err1)
	_, err2 := d.Decode()
	assert.Equal(t, err1, err2)
}

type failingReader struct{ n int }

var errBoom = errors.New("boom")

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, errBoom
	}
	r.n--
	return copy(p, "[1 "), nil
}

func TestReadErrorIsReturned(t *testing.T) {
	_, err := NewDecoder(&failingReader{n: 1}).Decode()
	require.ErrorIs(t, err, errBoom)
	assert.NotErrorIs(t, err, ErrSyntax)
	_, err = NewDecoder(&failingReader{}).Decode()
	require.ErrorIs(t, err, errBoom)
}

func TestDeepNesting(t *testing.T) {
	in := strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1)
	_, err := Unmarshal([]byte(in))
	require.ErrorIs(t, err, ErrSyntax)
	assert.Contains(t, err.Error(), "nested deeper")
	in = strings.Repeat("[", 500) + strings.Repeat("]", 500)
	_, err = Unmarshal([]byte(in))
	require.NoError(t, err)
	in = strings.Repeat("#x ", maxDepth+1) + "1"
	_, err = Unmarshal([]byte(in))
	require.ErrorIs(t, err, ErrSyntax)
}

func TestLargeCollectionsDuplicates(t *testing.T) {
	var b strings.Builder
	b.WriteString("#{")
	for i := range 30 {
		b.WriteString("[" + string(rune('a'+i%26)) + " " + strings.Repeat("1", 1+i/26) + "] ")
	}
	ok := b.String() + "}"
	_, err := Unmarshal([]byte(ok))
	require.NoError(t, err)
	_, err = Unmarshal([]byte(b.String() + "[a 1]}"))
	assert.ErrorContains(t, err, "duplicate set element [a 1]")

	b.Reset()
	b.WriteString("{")
	for i := range 30 {
		b.WriteString(":k" + string(rune('a'+i%26)) + strings.Repeat("x", i/26) + " 1 ")
	}
	_, err = Unmarshal([]byte(b.String() + "}"))
	require.NoError(t, err)
	_, err = Unmarshal([]byte(b.String() + ":kb 2}"))
	assert.ErrorContains(t, err, "duplicate map key :kb")
	_, err = Unmarshal([]byte(`{1.5 a 1.5 b}`))
	assert.ErrorContains(t, err, "duplicate map key 1.5")
	_, err = Unmarshal([]byte(`#{#inst "1970" #inst "1970-01-01T00:00:00Z"}`))
	assert.ErrorContains(t, err, "duplicate set element")
}

func TestTagValueTypes(t *testing.T) {
	for _, in := range []string{`#uuid 5`, `#uri 5`, `#uuid #_ 1 "bad"`} {
		_, err := Unmarshal([]byte(in))
		assert.ErrorIs(t, err, ErrSyntax, in)
	}
	v := mustRead(t, `#uuid #_ 1 "0005682C-3083-415E-AE4C-DEBD7BE3E47E"`)
	assert.Equal(t, mustUUID("0005682c-3083-415e-ae4c-debd7be3e47e"), v)
}

// TestBigDecExtremeScalesRoundTrip: every scale Java allows prints as a
// short literal that reads back with the same scale.
func TestBigDecExtremeScalesRoundTrip(t *testing.T) {
	for _, scale := range []int32{math.MinInt32, math.MinInt32 + 1, -7, 0, 7, 1 << 20, math.MaxInt32} {
		for _, u := range []int64{0, 1, -15, 1234567} {
			d := datomic.BigDec{Unscaled: big.NewInt(u), Scale: scale}
			text, err := Marshal(d)
			require.NoError(t, err)
			assert.Less(t, len(text), 40, "%s", text)
			back := mustRead(t, string(text))
			assert.True(t, Equal(d, back), "%s read back as %v", text, back)
		}
	}
}
