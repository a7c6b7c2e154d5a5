package main

import (
	"encoding/json"
	"math"
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/datomic"
)

func TestJSONValue(t *testing.T) {
	huge, ok := new(big.Int).SetString("-123456789012345678901234567890", 10)
	require.True(t, ok)
	u, err := datomic.ParseUUID("5f1e3b1a-0c4e-4d8a-9b2f-3a6c1d2e4f50")
	require.NoError(t, err)
	for _, tc := range []struct {
		v    any
		want string
	}{
		{nil, `null`},
		{datomic.Keyword("artist/type"), `":artist/type"`},
		{datomic.Keyword("plain"), `":plain"`},
		{"text with \"quotes\" <b> & ünïcode", `"text with \"quotes\" <b> & ünïcode"`},
		{datomic.Symbol("my.ns/fn"), `"my.ns/fn"`},
		{datomic.URI("https://example.com/a?b=c"), `"https://example.com/a?b=c"`},
		{true, `true`},
		{int64(math.MaxInt64), `9223372036854775807`},
		{int64(-17592186045418), `-17592186045418`},
		{float64(0.1), `0.1`},
		{float64(1e300), `1e+300`},
		{float32(0.1), `0.1`},
		{float32(3), `3`},
		{math.NaN(), `"NaN"`},
		{math.Inf(1), `"+Inf"`},
		{float32(math.Inf(-1)), `"-Inf"`},
		{huge, `"-123456789012345678901234567890"`},
		{datomic.BigDec{Unscaled: big.NewInt(150), Scale: 2}, `"1.50"`},
		{datomic.BigDec{Unscaled: big.NewInt(-5), Scale: -3}, `"-5E+3"`}, // java.math.BigDecimal.toString: the scale survives
		{time.Date(2019, 3, 4, 5, 6, 7, 891_000_000, time.FixedZone("X", 3600)), `"2019-03-04T04:06:07.891Z"`},
		{time.Unix(0, 0), `"1970-01-01T00:00:00.000Z"`},
		{u, `"5f1e3b1a-0c4e-4d8a-9b2f-3a6c1d2e4f50"`},
		{[]byte{0, 1, 2, 0xfe, 0xff}, `"AAEC/v8="`},
		{datomic.Tuple{int64(1), nil, datomic.Keyword("a/b"), "s", time.Unix(1, 0)}, `[1,null,":a/b","s","1970-01-01T00:00:01.000Z"]`},
	} {
		got, err := json.Marshal(jsonValue(tc.v))
		require.NoError(t, err, "%#v", tc.v)
		assert.JSONEq(t, tc.want, string(got), "%#v", tc.v)
	}
}
