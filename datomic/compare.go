package datomic

import (
	"bytes"
	"cmp"
	"math"
	"math/big"
	"strings"
	"time"
)

// CompareValues orders two values of the same value type the way an index
// does. Values of different Go types are ordered by a fixed rank of their
// types so that the order is total.
func CompareValues(a, b any) int {
	ra, rb := typeRank(a), typeRank(b)
	if ra != rb {
		return cmp.Compare(ra, rb)
	}
	switch x := a.(type) {
	case nil:
		return 0
	case int64:
		return cmp.Compare(x, b.(int64))
	case Keyword:
		return strings.Compare(string(x), string(b.(Keyword)))
	case Symbol:
		return strings.Compare(string(x), string(b.(Symbol)))
	case string:
		return strings.Compare(x, b.(string))
	case bool:
		y := b.(bool)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	case *big.Int:
		return x.Cmp(b.(*big.Int))
	case float32:
		return cmp.Compare(x, b.(float32))
	case float64:
		return cmp.Compare(x, b.(float64))
	case BigDec:
		return compareBigDec(x, b.(BigDec))
	case time.Time:
		return x.Compare(b.(time.Time))
	case UUID:
		y := b.(UUID)
		return bytes.Compare(x[:], y[:])
	case URI:
		return strings.Compare(string(x), string(b.(URI)))
	case []byte:
		return bytes.Compare(x, b.([]byte))
	case Tuple:
		y := b.(Tuple)
		for i := 0; i < len(x) && i < len(y); i++ {
			if c := CompareValues(x[i], y[i]); c != 0 {
				return c
			}
		}
		return cmp.Compare(len(x), len(y))
	case Fn:
		return strings.Compare(x.String(), b.(Fn).String())
	}
	return 0
}

// ValuesEqual reports whether a and b are the same value, including the
// scale of a BigDec and the bytes of a []byte.
func ValuesEqual(a, b any) bool {
	if da, ok := a.(BigDec); ok {
		db, ok := b.(BigDec)
		return ok && da.Equal(db)
	}
	return typeRank(a) == typeRank(b) && CompareValues(a, b) == 0
}

// compareBigDec orders two decimals by value, and equal values by scale.
// It works on the digits (O(digits) plus a number conversion), never on
// 10^scale, so any int32 scale is cheap.
func compareBigDec(a, b BigDec) int {
	ua, ub := a.Unscaled, b.Unscaled
	if ua == nil {
		ua = new(big.Int)
	}
	if ub == nil {
		ub = new(big.Int)
	}
	sa, sb := ua.Sign(), ub.Sign()
	if sa != sb {
		return cmp.Compare(sa, sb)
	}
	if sa == 0 || a.Scale == b.Scale {
		if c := ua.Cmp(ub); c != 0 {
			return c
		}
		return cmp.Compare(a.Scale, b.Scale)
	}
	// Same sign, not zero, different scales: compare the magnitudes by the
	// position of their first digit (digits - scale), then digit by digit.
	da, db := decimalDigits(ua), decimalDigits(ub)
	if ea, eb := da-int64(a.Scale), db-int64(b.Scale); ea != eb {
		return sa * cmp.Compare(ea, eb)
	}
	x, y := new(big.Int).Abs(ua), new(big.Int).Abs(ub)
	switch {
	case da < db:
		x.Mul(x, new(big.Int).Exp(big.NewInt(10), big.NewInt(db-da), nil))
	case db < da:
		y.Mul(y, new(big.Int).Exp(big.NewInt(10), big.NewInt(da-db), nil))
	}
	if c := x.Cmp(y); c != 0 {
		return sa * c
	}
	return cmp.Compare(a.Scale, b.Scale)
}

// decimalDigits returns the number of decimal digits of x (not zero).
func decimalDigits(x *big.Int) int64 {
	if x.IsInt64() {
		v := x.Int64()
		if v < 0 {
			if v == math.MinInt64 {
				return 19
			}
			v = -v
		}
		n := int64(1)
		for v >= 10 {
			v /= 10
			n++
		}
		return n
	}
	s := x.Text(10)
	if s[0] == '-' {
		return int64(len(s) - 1)
	}
	return int64(len(s))
}

func typeRank(v any) int {
	switch v.(type) {
	case nil:
		return 0
	case bool:
		return 1
	case int64:
		return 2
	case *big.Int:
		return 3
	case float32:
		return 4
	case float64:
		return 5
	case BigDec:
		return 6
	case string:
		return 7
	case Keyword:
		return 8
	case Symbol:
		return 9
	case time.Time:
		return 10
	case UUID:
		return 11
	case URI:
		return 12
	case []byte:
		return 13
	case Tuple:
		return 14
	case Fn:
		return 15
	}
	return 16
}
