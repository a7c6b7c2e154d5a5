package transit

import (
	"math/big"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// JSON integers decode as strconv reads them: an int64 when they fit one
// (the short ones without a string, the long ones through strconv), a
// *big.Int beyond; malformed ones are errors.
func TestIntegerTokens(t *testing.T) {
	for _, tok := range []string{"0", "-0", "7", "-7", "007", "123456789012345678", "-123456789012345678",
		"999999999999999999", "1234567890123456789", "9223372036854775807", "-9223372036854775808"} {
		v, err := Unmarshal([]byte("[" + tok + "]"))
		require.NoError(t, err, tok)
		want, err := strconv.ParseInt(tok, 10, 64)
		require.NoError(t, err, tok)
		assert.Equal(t, []any{want}, v, tok)
	}
	for _, tok := range []string{"9223372036854775808", "-9223372036854775809", "123456789012345678901234567890"} {
		v, err := Unmarshal([]byte("[" + tok + "]"))
		require.NoError(t, err, tok)
		want, _ := new(big.Int).SetString(tok, 10)
		require.Len(t, v, 1, tok)
		assertSame(t, want, v.([]any)[0])
	}
	for _, tok := range []string{"-", "--5", "5-", "1-2"} {
		_, err := Unmarshal([]byte("[" + tok + "]"))
		assert.Error(t, err, tok)
	}
	for _, tok := range []string{"1.5", "-2e3", "1E2"} {
		v, err := Unmarshal([]byte("[" + tok + "]"))
		require.NoError(t, err, tok)
		want, err := strconv.ParseFloat(tok, 64)
		require.NoError(t, err, tok)
		assert.Equal(t, []any{want}, v, tok)
	}
}

// A decoded vector holds its elements whatever their number (it starts
// with room for a datom's).
func TestVectorsOfEveryLength(t *testing.T) {
	for n := range 20 {
		want := make([]any, n)
		for i := range want {
			want[i] = int64(i * 1000)
		}
		data, err := Marshal(want)
		require.NoError(t, err)
		got, err := Unmarshal(data)
		require.NoError(t, err)
		assert.Equal(t, want, got, "%d elements", n)
	}
}
