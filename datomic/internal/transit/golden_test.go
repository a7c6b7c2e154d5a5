package transit

import (
	"encoding/json"
	"math"
	"math/big"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/datomic"
)

type goldenCase struct {
	Name    string `json:"name"`
	Transit string `json:"transit"`
}

func loadGolden(t *testing.T) map[string]string {
	t.Helper()
	raw, err := os.ReadFile("testdata/golden.json")
	require.NoError(t, err)
	var cases []goldenCase
	require.NoError(t, json.Unmarshal(raw, &cases))
	out := make(map[string]string, len(cases))
	for _, c := range cases {
		out[c.Name] = c.Transit
	}
	return out
}

func kw(s string) datomic.Keyword { return datomic.Keyword(s) }

func bigInt(s string) *big.Int {
	b, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic(s)
	}
	return b
}

func bigDec(s string) datomic.BigDec {
	d, err := datomic.ParseBigDec(s)
	if err != nil {
		panic(err)
	}
	return d
}

func uuid(s string) datomic.UUID {
	u, err := datomic.ParseUUID(s)
	if err != nil {
		panic(err)
	}
	return u
}

func ms(n int64) time.Time { return time.UnixMilli(n).UTC() }

// goldenExpected holds the Go value of every case written by transit-js.
// notExact lists cases our writer encodes differently (but equivalently).
var goldenNotExact = map[string]bool{
	"instant-verbose": true, // written by the verbose writer
}

func goldenExpected() map[string]any {
	ctx := func() Map {
		return Map{{kw("db-name"), "hello"}, {kw("database-id"), "datomic:dev://localhost:4334/hello"},
			{kw("t"), int64(1000)}, {kw("next-t"), int64(1001)}}
	}
	many := make([]any, 100)
	for i := range many {
		many[i] = Map{{kw("item/id"), int64(i)}, {kw("item/kind"), kw("kind/k" + itoa(i%50))}}
	}
	var rollover []any
	for i := 0; i < 2000; i++ {
		rollover = append(rollover, kw("k/"+itoa(i)))
	}
	for i := 0; i < 2000; i += 97 {
		rollover = append(rollover, kw("k/"+itoa(i)))
	}
	const txA, txB = int64(13194139534312), int64(13194139534314)
	return map[string]any{
		"nil":                  nil,
		"true":                 true,
		"false":                false,
		"zero":                 int64(0),
		"negative":             int64(-42),
		"max-safe":             int64(1<<53 - 1),
		"min-safe":             int64(-(1<<53 - 1)),
		"long-2^53":            int64(1 << 53),
		"long-2^53+1":          int64(1<<53 + 1),
		"long-eid":             int64(4611681620380877805),
		"long-min":             int64(math.MinInt64),
		"long-max":             int64(math.MaxInt64),
		"double":               1.5,
		"double-small":         -2.25e-10,
		"double-inf":           math.Inf(1),
		"double-neg-inf":       math.Inf(-1),
		"string":               "hello",
		"string-empty":         "",
		"string-unicode":       "h\u00e9llo \u4e16\u754c \U0001F600",
		"string-escapes":       "quote\" backslash\\ newline\n tab\t ctl\u0001",
		"string-tilde":         "~:not-a-keyword",
		"string-caret":         "^ not a map",
		"string-backtick":      "`reserved",
		"keyword":              kw("db/ident"),
		"keyword-short":        kw("a"),
		"symbol":               datomic.Symbol("?e"),
		"bigint":               bigInt("123456789012345678901234567890"),
		"bigint-small":         big.NewInt(5),
		"bigdec":               bigDec("1.50"),
		"bigdec-negative":      bigDec("-0.0010"),
		"bigdec-integer":       bigDec("42"),
		"instant":              ms(1577836800000),
		"instant-verbose":      ms(1577836800123),
		"instant-before-epoch": ms(-86400000),
		"uuid":                 uuid("5f0c4d5e-1b7a-4c5d-9e8f-0123456789ab"),
		"uri":                  datomic.URI("https://example.com/a?b=c"),
		"bytes":                []byte{0, 1, 2, 0xfd, 0xfe, 0xff},
		"vector":               []any{int64(1), "two", kw("three"), []any{int64(4), []any{int64(5)}}},
		"vector-empty":         []any{},
		"list":                 List{int64(1), int64(2), int64(3)},
		"set":                  Set{kw("a"), kw("b")},
		"map":                  Map{{kw("db/ident"), kw("person/name")}, {kw("db/cardinality"), kw("db.cardinality/one")}},
		"map-empty":            Map{},
		"map-string-keys":      Map{{"name", "Ann"}, {"ab", int64(1)}, {"~tilde", int64(2)}},
		"map-int-keys":         Map{{int64(1), "a"}, {int64(4611681620380877805), "b"}},
		"map-scalar-keys":      Map{{true, "t"}, {nil, "nil"}, {uuid("5f0c4d5e-1b7a-4c5d-9e8f-0123456789ab"), "u"}},
		"cmap":                 Map{{[]any{int64(1), int64(2)}, "pair"}, {Map{{kw("a"), int64(1)}}, "map"}},
		"datom":                datomic.Datom{E: 13194139782472, A: 50, V: ms(1577836800000), Tx: 13194139782472, Added: true},
		"datoms": []any{
			datomic.Datom{E: 139, A: 10, V: kw("account/id"), Tx: 13194139782472, Added: true},
			datomic.Datom{E: 139, A: 40, V: int64(56), Tx: 13194139782472, Added: true},
			datomic.Datom{E: 4611681620380877805, A: 62, V: "doc", Tx: 13194139782472, Added: false},
		},
		"unknown-tag":     Tagged{Tag: "point", Rep: []any{int64(1), int64(2)}},
		"cache-two-digit": many,
		"cache-rollover":  rollover,
		"request-q": append(Map{
			{kw("offset"), int64(0)},
			{kw("query"), []any{kw("find"), datomic.Symbol("?e"), kw("in"), datomic.Symbol("$"), kw("where"),
				[]any{datomic.Symbol("?e"), kw("db/ident"), kw("db/txInstant")}}},
			{kw("args"), []any{ctx()}},
			{kw("timeout"), int64(60000)}, {kw("limit"), int64(1000)}, {kw("chunk"), int64(1000)},
			{kw("op"), kw("q")},
		}, ctx()...),
		"request-transact": Map{
			{kw("op"), kw("transact")},
			{kw("tx-id"), uuid("11111111-2222-3333-4444-555555555555")},
			{kw("database-id"), "datomic:dev://localhost:4334/hello"},
			{kw("tx-data"), []any{
				[]any{kw("db/add"), "datomic.tx", kw("db/txInstant"), ms(1577836800000)},
				[]any{kw("db/add"), "e17592186045418", kw("person/name"), "Ann"},
				Map{{kw("db/id"), "e17592186045419"}, {kw("person/name"), "Bob"}, {kw("person/likes"), []any{kw("cheese"), kw("wine")}}},
			}},
			{kw("db-name"), "hello"}, {kw("t"), int64(1000)}, {kw("next-t"), int64(1001)},
		},
		"response-tx-range": Map{
			{kw("data"), []any{
				Map{{kw("t"), int64(1000)}, {kw("data"), []any{
					datomic.Datom{E: txA, A: 50, V: ms(1577836800000), Tx: txA, Added: true}}}},
				Map{{kw("t"), int64(1002)}, {kw("data"), []any{
					datomic.Datom{E: txB, A: 50, V: ms(1577836801000), Tx: txB, Added: true},
					datomic.Datom{E: 17592186045418, A: 72, V: "Ann", Tx: txB, Added: true}}}},
			}},
			{kw("chunk"), int64(2)}, {kw("next-offset"), int64(2)},
			{kw("next-token"), uuid("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee")},
		},
	}
}

func TestGoldenRead(t *testing.T) {
	golden := loadGolden(t)
	expected := goldenExpected()
	for name, enc := range golden {
		t.Run(name, func(t *testing.T) {
			got, err := Unmarshal([]byte(enc))
			require.NoError(t, err)
			if name == "double-nan" {
				f, ok := got.(float64)
				require.True(t, ok)
				assert.True(t, math.IsNaN(f))
				return
			}
			want, ok := expected[name]
			require.True(t, ok, "no expected value for golden case %q", name)
			assertSame(t, want, got)
		})
	}
	for name := range expected {
		assert.Contains(t, golden, name, "expected value without a golden case")
	}
}

func TestGoldenWrite(t *testing.T) {
	for name, enc := range loadGolden(t) {
		if goldenNotExact[name] {
			continue
		}
		t.Run(name, func(t *testing.T) {
			v, err := Unmarshal([]byte(enc))
			require.NoError(t, err)
			out, err := Marshal(v)
			require.NoError(t, err)
			assert.Equal(t, enc, string(out))
		})
	}
}

// TestRequestBodyFromProtocolDoc checks the q body that the signing test
// vector is computed over, byte for byte.
func TestRequestBodyFromProtocolDoc(t *testing.T) {
	want := `["^ ","~:offset",0,"~:query",["~:find","~$?e","~:in","~$$","~:where",["^3","~:db/ident","~:db/txInstant"]],` +
		`"~:args",[["^ ","~:db-name","hello","~:database-id","datomic:dev://localhost:4334/hello","~:t",1000,"~:next-t",1001]],` +
		`"~:timeout",60000,"~:limit",1000,"~:chunk",1000,"~:op","~:q","^9","hello","^:","datomic:dev://localhost:4334/hello","~:t",1000,"^;",1001]`
	out, err := Marshal(goldenExpected()["request-q"])
	require.NoError(t, err)
	assert.Equal(t, want, string(out))
}
