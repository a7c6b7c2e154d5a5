package datomic

import (
	"encoding/hex"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// Keyword is an EDN keyword without its leading colon, e.g. "db/ident" for
// :db/ident.
type Keyword string

// String returns the keyword as EDN, with its leading colon.
func (k Keyword) String() string { return ":" + string(k) }

// Namespace returns the part before the slash ("" when there is none).
func (k Keyword) Namespace() string {
	if i := strings.IndexByte(string(k), '/'); i >= 0 {
		return string(k[:i])
	}
	return ""
}

// Name returns the part after the slash (the whole keyword when there is none).
func (k Keyword) Name() string {
	if i := strings.IndexByte(string(k), '/'); i >= 0 {
		return string(k[i+1:])
	}
	return string(k)
}

// IsReverse reports whether k names a reverse reference, such as
// :artist/_country.
func (k Keyword) IsReverse() bool { return strings.HasPrefix(k.Name(), "_") }

// Reverse turns :ns/_name into :ns/name and back.
func (k Keyword) Reverse() Keyword {
	ns, name := k.Namespace(), k.Name()
	if strings.HasPrefix(name, "_") {
		name = name[1:]
	} else {
		name = "_" + name
	}
	if ns == "" {
		return Keyword(name)
	}
	return Keyword(ns + "/" + name)
}

// Symbol is an EDN symbol.
type Symbol string

// URI is a :db.type/uri value, kept as its text.
type URI string

// UUID is a :db.type/uuid value.
type UUID [16]byte

// String formats u in the canonical 8-4-4-4-12 form.
func (u UUID) String() string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

// ParseUUID parses the canonical 8-4-4-4-12 form.
func ParseUUID(s string) (UUID, error) {
	var u UUID
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, fmt.Errorf("datomic: invalid uuid %q", s)
	}
	h := s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:]
	if _, err := hex.Decode(u[:], []byte(h)); err != nil {
		return u, fmt.Errorf("datomic: invalid uuid %q: %w", s, err)
	}
	return u, nil
}

// BigDec is a :db.type/bigdec value: Unscaled × 10^-Scale, exactly as
// java.math.BigDecimal, so 1.50 and 1.5 stay distinct.
type BigDec struct {
	Unscaled *big.Int
	Scale    int32
}

// String formats d as java.math.BigDecimal.toString does: plain notation
// ("-12.340") when the scale is not negative and the number has at most six
// zeros after the decimal point before its first digit, exponent notation
// ("1.5E+3", "1E-10") otherwise. The text is O(digits) long whatever the
// scale, and ParseBigDec reads it back with the same scale.
func (d BigDec) String() string {
	u := d.Unscaled
	if u == nil {
		u = new(big.Int)
	}
	digits := new(big.Int).Abs(u).Text(10)
	var b strings.Builder
	b.Grow(len(digits) + 16)
	if u.Sign() < 0 {
		b.WriteByte('-')
	}
	scale := int64(d.Scale)
	n := int64(len(digits))
	adjusted := n - 1 - scale // the exponent of the first digit
	if scale >= 0 && adjusted >= -6 {
		switch {
		case scale == 0:
			b.WriteString(digits)
		case n > scale:
			b.WriteString(digits[:n-scale])
			b.WriteByte('.')
			b.WriteString(digits[n-scale:])
		default: // at most five zeros after the point
			b.WriteString("0.")
			for range scale - n {
				b.WriteByte('0')
			}
			b.WriteString(digits)
		}
		return b.String()
	}
	b.WriteByte(digits[0])
	if n > 1 {
		b.WriteByte('.')
		b.WriteString(digits[1:])
	}
	b.WriteByte('E')
	if adjusted >= 0 {
		b.WriteByte('+')
	}
	b.WriteString(strconv.FormatInt(adjusted, 10))
	return b.String()
}

// Equal reports whether d and o have the same unscaled value and scale.
func (d BigDec) Equal(o BigDec) bool {
	return d.Scale == o.Scale && bigEqual(d.Unscaled, o.Unscaled)
}

// ParseBigDec parses a decimal such as "-12.340", "1.5E+3" or "7e-2M"
// keeping its scale (the digits after the point, minus the exponent), as
// java.math.BigDecimal does. A scale outside int32 is an error, as in Java.
func ParseBigDec(s string) (BigDec, error) {
	bad := func() (BigDec, error) { return BigDec{}, fmt.Errorf("datomic: invalid bigdec %q", s) }
	t := strings.TrimSuffix(s, "M")
	exp := int64(0)
	if i := strings.IndexAny(t, "eE"); i >= 0 {
		var err error
		if exp, err = strconv.ParseInt(t[i+1:], 10, 64); err != nil {
			return bad()
		}
		t = t[:i]
	}
	scale := int64(0)
	if i := strings.IndexByte(t, '.'); i >= 0 {
		scale = int64(len(t) - i - 1)
		t = t[:i] + t[i+1:]
	}
	if t == "" || t == "+" || t == "-" {
		return bad()
	}
	u, ok := new(big.Int).SetString(t, 10)
	if !ok {
		return bad()
	}
	// scale is at most len(s); scale - exp overflows only for an exponent
	// near math.MinInt64.
	if exp < 0 && scale > math.MaxInt64+exp {
		return BigDec{}, fmt.Errorf("datomic: bigdec %q: scale out of range", s)
	}
	sc := scale - exp
	if sc < math.MinInt32 || sc > math.MaxInt32 {
		return BigDec{}, fmt.Errorf("datomic: bigdec %q: scale %d out of range (Java allows an int)", s, sc)
	}
	return BigDec{Unscaled: u, Scale: int32(sc)}, nil
}

// Tuple is a :db.type/tuple value. A nil element stands for a missing value
// in a composite tuple.
type Tuple []any

// Instant converts t to the precision Datomic keeps for :db.type/instant
// (milliseconds, UTC).
func Instant(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

func bigEqual(a, b *big.Int) bool {
	switch {
	case a == nil && b == nil:
		return true
	case a == nil:
		return b.Sign() == 0
	case b == nil:
		return a.Sign() == 0
	}
	return a.Cmp(b) == 0
}
