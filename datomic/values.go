package datomic

import (
	"encoding/hex"
	"fmt"
	"math/big"
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

// String formats d as a plain decimal number.
func (d BigDec) String() string {
	u := d.Unscaled
	if u == nil {
		u = new(big.Int)
	}
	s := new(big.Int).Abs(u).String()
	sign := ""
	if u.Sign() < 0 {
		sign = "-"
	}
	switch {
	case d.Scale <= 0:
		return sign + s + strings.Repeat("0", int(-d.Scale))
	case int(d.Scale) >= len(s):
		return sign + "0." + strings.Repeat("0", int(d.Scale)-len(s)) + s
	default:
		i := len(s) - int(d.Scale)
		return sign + s[:i] + "." + s[i:]
	}
}

// Equal reports whether d and o have the same unscaled value and scale.
func (d BigDec) Equal(o BigDec) bool {
	return d.Scale == o.Scale && bigEqual(d.Unscaled, o.Unscaled)
}

// ParseBigDec parses a decimal such as "-12.340" keeping its scale.
func ParseBigDec(s string) (BigDec, error) {
	t := strings.TrimSuffix(s, "M")
	exp := int64(0)
	if i := strings.IndexAny(t, "eE"); i >= 0 {
		var err error
		if _, err = fmt.Sscan(t[i+1:], &exp); err != nil {
			return BigDec{}, fmt.Errorf("datomic: invalid bigdec %q", s)
		}
		t = t[:i]
	}
	scale := int64(0)
	if i := strings.IndexByte(t, '.'); i >= 0 {
		scale = int64(len(t) - i - 1)
		t = t[:i] + t[i+1:]
	}
	u, ok := new(big.Int).SetString(t, 10)
	if !ok {
		return BigDec{}, fmt.Errorf("datomic: invalid bigdec %q", s)
	}
	return BigDec{Unscaled: u, Scale: int32(scale - exp)}, nil
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
