package datomic

import (
	"math"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func dec(u int64, scale int32) BigDec { return BigDec{Unscaled: big.NewInt(u), Scale: scale} }

// TestBigDecStringLikeJava checks BigDec.String against the outputs of
// java.math.BigDecimal.toString for the same unscaled value and scale.
func TestBigDecStringLikeJava(t *testing.T) {
	for _, c := range []struct {
		d    BigDec
		want string
	}{
		{dec(0, 0), "0"},
		{dec(123, 0), "123"},
		{dec(-123, 0), "-123"},
		{dec(12340, 3), "12.340"},
		{dec(-12340, 3), "-12.340"},
		{dec(1, 1), "0.1"},
		{dec(1, 6), "0.000001"},
		{dec(1, 7), "1E-7"},
		{dec(123, 8), "0.00000123"},
		{dec(123, 9), "1.23E-7"},
		{dec(-123, 10), "-1.23E-8"},
		{dec(15, -2), "1.5E+3"},
		{dec(1, -1), "1E+1"},
		{dec(0, -2), "0E+2"},
		{dec(0, 10), "0E-10"},
		{dec(0, 3), "0.000"},
		{BigDec{Scale: 2}, "0.00"}, // nil unscaled is zero
		{dec(7, math.MaxInt32), "7E-2147483647"},
		{dec(7, math.MinInt32), "7E+2147483648"},
		{dec(-70, math.MinInt32), "-7.0E+2147483649"},
	} {
		assert.Equal(t, c.want, c.d.String(), "%v scale %d", c.d.Unscaled, c.d.Scale)
		back, err := ParseBigDec(c.want)
		require.NoError(t, err, c.want)
		if c.d.Unscaled != nil {
			assert.True(t, back.Equal(c.d), "%s reads back as %v scale %d", c.want, back.Unscaled, back.Scale)
		}
	}
}

// TestBigDecExtremeScalesAreCheap: the text of a decimal is proportional
// to its digits, not to its scale, and comparisons never build 10^scale.
func TestBigDecExtremeScalesAreCheap(t *testing.T) {
	huge := new(big.Int).Exp(big.NewInt(10), big.NewInt(300), nil)
	huge.Add(huge, big.NewInt(7))
	for _, scale := range []int32{math.MinInt32, math.MinInt32 + 1, -1 << 30, 1 << 30, math.MaxInt32 - 1, math.MaxInt32} {
		for _, u := range []*big.Int{big.NewInt(1), big.NewInt(-42), huge, new(big.Int).Neg(huge), new(big.Int)} {
			d := BigDec{Unscaled: u, Scale: scale}
			s := d.String()
			assert.Less(t, len(s), 340, "scale %d", scale)
			back, err := ParseBigDec(s)
			require.NoError(t, err, s)
			assert.True(t, back.Equal(d), "%s", s)
			assert.Equal(t, 0, CompareValues(d, back))
			assert.Equal(t, -1, CompareValues(BigDec{Unscaled: new(big.Int).Sub(u, big.NewInt(1)), Scale: scale}, d))
		}
	}
	// Positive values: a larger scale is a smaller number.
	assert.Equal(t, -1, CompareValues(dec(1, math.MaxInt32), dec(1, math.MinInt32)))
	assert.Equal(t, 1, CompareValues(dec(-1, math.MaxInt32), dec(-1, math.MinInt32)))
	assert.Equal(t, 1, CompareValues(dec(1, math.MaxInt32), dec(0, math.MinInt32)))
}

// TestCompareBigDecNegativeScales: 15 with scale -2 is 1500, which a
// comparison that took 10^-2 as 1 ordered below 16.
func TestCompareBigDecNegativeScales(t *testing.T) {
	assert.Equal(t, 1, CompareValues(dec(15, -2), dec(16, 0)))
	assert.Equal(t, -1, CompareValues(dec(-15, -2), dec(-16, 0)))
	assert.Equal(t, 1, CompareValues(dec(15, -2), dec(1499, 0)))
	// Equal numbers order by scale: 1.5E+3 (scale -2) before 1500 (scale 0).
	assert.Equal(t, -1, CompareValues(dec(15, -2), dec(1500, 0)))
	assert.Equal(t, 1, CompareValues(dec(150, 2), dec(15, 1)))
	assert.False(t, ValuesEqual(dec(150, 2), dec(15, 1)))
}

// TestCompareBigDecMatchesRationals compares random decimals, with small
// and negative scales, against exact rational arithmetic.
func TestCompareBigDecMatchesRationals(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	rat := func(d BigDec) *big.Rat {
		p := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs32(d.Scale))), nil)
		if d.Scale >= 0 {
			return new(big.Rat).SetFrac(d.Unscaled, p)
		}
		return new(big.Rat).SetInt(new(big.Int).Mul(d.Unscaled, p))
	}
	gen := func() BigDec {
		u := big.NewInt(r.Int64N(2001) - 1000)
		if r.IntN(4) == 0 {
			u.Mul(u, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(r.IntN(30))), nil))
		}
		return BigDec{Unscaled: u, Scale: int32(r.IntN(41) - 20)}
	}
	for range 20000 {
		a, b := gen(), gen()
		want := rat(a).Cmp(rat(b))
		if want == 0 {
			want = cmpInt32(a.Scale, b.Scale)
		}
		require.Equal(t, want, CompareValues(a, b), "%v e-%d vs %v e-%d", a.Unscaled, a.Scale, b.Unscaled, b.Scale)
	}
}

func abs32(x int32) int64 {
	if x < 0 {
		return -int64(x)
	}
	return int64(x)
}

func cmpInt32(a, b int32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestParseBigDecRefusesScalesOutsideInt32(t *testing.T) {
	for _, s := range []string{
		"1E-2147483648",   // scale 2^31
		"1E+2147483649",   // scale -2^31 - 1
		"0.1E-2147483647", // scale 1 + 2^31 - 1
		"1E-9223372036854775808",
		"1E9223372036854775807",
		"1E99999999999999999999",
	} {
		_, err := ParseBigDec(s)
		require.Error(t, err, s)
	}
	for _, s := range []string{"1E-2147483647", "1E+2147483648", "1E2147483648M"} {
		_, err := ParseBigDec(s)
		require.NoError(t, err, s)
	}
	for _, s := range []string{"", "M", "-", "+", ".", "1.2.3", "1e", "1e+", "0x10", "1e0x2", "1_0", " 1", "1.5e3 ", "1e5 x"} {
		_, err := ParseBigDec(s)
		require.Error(t, err, "%q", s)
	}
	d, err := ParseBigDec("+1.50")
	require.NoError(t, err)
	assert.Equal(t, dec(150, 2), d)
	d, err = ParseBigDec(".5")
	require.NoError(t, err)
	assert.Equal(t, dec(5, 1), d)
}

func TestFormatValueBigDecHugeScale(t *testing.T) {
	s := FormatValue(dec(3, math.MaxInt32))
	assert.Equal(t, "3E-2147483647M", s)
	assert.False(t, strings.Contains(FormatValue(dec(3, math.MinInt32)), "00000"))
}
