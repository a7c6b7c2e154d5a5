package edn

import (
	"errors"
	"fmt"
	"math/big"
	"strconv"

	"github.com/dcbackup/dcbackup/datomic"
)

// maxExpDigits bounds the digits of a number's exponent: enough for every
// scale Java allows (a BigDec with scale -2^31 prints an exponent of 10
// digits, more with a long unscaled value); datomic.ParseBigDec refuses
// scales beyond int32.
const maxExpDigits = 11

// parseNumber interprets a token that starts with a digit or with a sign
// followed by a digit: int64 (or *big.Int when it overflows or has the N
// suffix), float64, or datomic.BigDec with the M suffix.
func parseNumber(tok []byte) (any, error) {
	i := 0
	if tok[0] == '+' || tok[0] == '-' {
		i++
	}
	intStart := i
	for i < len(tok) && isDigit(tok[i]) {
		i++
	}
	intDigits := i - intStart
	isFloat := false
	if i < len(tok) && tok[i] == '.' {
		isFloat = true
		i++
		for i < len(tok) && isDigit(tok[i]) {
			i++
		}
	}
	if i < len(tok) && (tok[i] == 'e' || tok[i] == 'E') {
		isFloat = true
		i++
		if i < len(tok) && (tok[i] == '+' || tok[i] == '-') {
			i++
		}
		expStart := i
		for i < len(tok) && isDigit(tok[i]) {
			i++
		}
		switch n := i - expStart; {
		case n == 0:
			return nil, fmt.Errorf("invalid number %q", tok)
		case n > maxExpDigits:
			return nil, fmt.Errorf("exponent of %q out of range", tok)
		}
	}
	suffix := byte(0)
	if i == len(tok)-1 && (tok[i] == 'N' || tok[i] == 'M') {
		suffix = tok[i]
		i++
	}
	if i != len(tok) || intDigits == 0 {
		return nil, fmt.Errorf("invalid number %q", tok)
	}
	body := string(tok[:len(tok)-btoi(suffix != 0)])
	switch {
	case suffix == 'M':
		d, err := datomic.ParseBigDec(body)
		if err != nil {
			return nil, fmt.Errorf("invalid number %q", tok)
		}
		return d, nil
	case isFloat && suffix == 'N':
		return nil, fmt.Errorf("invalid number %q", tok)
	case isFloat:
		f, err := strconv.ParseFloat(body, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return nil, fmt.Errorf("invalid number %q", tok)
		}
		return f, nil
	}
	if intDigits > 1 && tok[intStart] == '0' {
		return nil, fmt.Errorf("invalid number %q: leading zero", tok)
	}
	if suffix == 0 {
		n, err := strconv.ParseInt(body, 10, 64)
		if err == nil {
			return n, nil
		}
	}
	b, ok := new(big.Int).SetString(body, 10)
	if !ok {
		return nil, fmt.Errorf("invalid number %q", tok)
	}
	return b, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
