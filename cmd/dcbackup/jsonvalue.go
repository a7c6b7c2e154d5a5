package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"time"

	"github.com/dcbackup/dcbackup/datomic"
)

// instantLayout is RFC 3339 with milliseconds, Datomic's instant precision.
const instantLayout = "2006-01-02T15:04:05.000Z07:00"

// jsonValue converts a datom value to a form encoding/json writes
// faithfully:
//
//	keyword          ":ns/name"
//	string, symbol,  the text
//	uri
//	long, ref        a number (exact: encoding/json writes int64 digits)
//	float, double    a number; NaN and ±Inf as the strings "NaN", "+Inf", "-Inf"
//	boolean          true / false
//	bigint, bigdec   the decimal text as a string ("1.50" keeps its scale)
//	instant          RFC 3339 in UTC with milliseconds
//	uuid             the canonical 8-4-4-4-12 text
//	bytes            standard base64
//	tuple            an array of its elements (a missing element is null)
func jsonValue(v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case datomic.Keyword:
		return x.String()
	case datomic.Symbol:
		return string(x)
	case datomic.URI:
		return string(x)
	case string, bool, int64:
		return x
	case float64:
		return jsonFloat(x, 64)
	case float32:
		return jsonFloat(float64(x), 32)
	case *big.Int:
		return x.String()
	case datomic.BigDec:
		return x.String()
	case time.Time:
		return x.UTC().Format(instantLayout)
	case datomic.UUID:
		return x.String()
	case []byte:
		return base64.StdEncoding.EncodeToString(x)
	case datomic.Tuple:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonValue(e)
		}
		return out
	}
	return fmt.Sprint(v)
}

// jsonFloat writes f with the shortest digits that read back as the same
// float of that size.
func jsonFloat(f float64, bits int) any {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	return json.Number(strconv.FormatFloat(f, 'g', -1, bits))
}
