package mem

import (
	"context"
	"math"
	"math/big"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/datomic"
)

// TestBigDecExtremeScales: decimals with any int32 scale are stored,
// compared in the AVET index and read back cheaply.
func TestBigDecExtremeScales(t *testing.T) {
	ctx := context.Background()
	c, _ := newTestConn(t, Options{})
	mustTx(t, c, attrMap("x/dec", "bigdec", "many"), attrMap("x/id", "bigdec", "one", "db/unique", kw("db.unique/identity")))
	vals := []datomic.BigDec{
		{Unscaled: big.NewInt(7), Scale: math.MaxInt32},  // 7e-2147483647, tiny
		{Unscaled: big.NewInt(-7), Scale: math.MinInt32}, // -7e+2147483648, hugely negative
		{Unscaled: big.NewInt(7), Scale: math.MinInt32},  // hugely positive
		{Unscaled: big.NewInt(15), Scale: -2},            // 1500
		{Unscaled: big.NewInt(16), Scale: 0},
	}
	ops := []datomic.Op{}
	for _, v := range vals {
		ops = append(ops, datomic.Add{E: datomic.TempID("e"), A: kw("x/dec"), V: v})
	}
	rep := mustTx(t, c, append(ops, datomic.Add{E: datomic.TempID("e"), A: kw("x/id"), V: vals[1]})...)
	e := rep.Tempids["e"]
	var got []any
	for d, err := range mustDB(t, c).IndexRange(ctx, kw("x/dec"), nil, nil) {
		require.NoError(t, err)
		got = append(got, d.V)
	}
	assert.Equal(t, []any{vals[1], vals[0], vals[4], vals[3], vals[2]}, got, "numeric order")
	// A lookup by the exact value, and an upsert through it.
	rep = mustTx(t, c, datomic.EntityMap{"x/id": datomic.BigDec{Unscaled: big.NewInt(-7), Scale: math.MinInt32}, "x/dec": vals[4]})
	assert.Len(t, userDatoms(rep.TxData), 0, "upserted into e, value already there")
	assert.Len(t, current(t, c, e, "x/dec"), 5)
	assert.Contains(t, datomic.FormatValue(vals[0]), "E-2147483647")
}
