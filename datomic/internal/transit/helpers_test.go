package transit

import (
	"math/big"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/dcbackup/dcbackup/datomic"
)

func itoa(i int) string { return strconv.Itoa(i) }

// assertSame compares decoded values, treating *big.Int and BigDec by value.
func assertSame(t *testing.T, want, got any) {
	t.Helper()
	assert.True(t, same(want, got), "want %#v\n got %#v", want, got)
}

func same(a, b any) bool {
	switch x := a.(type) {
	case *big.Int:
		y, ok := b.(*big.Int)
		return ok && x.Cmp(y) == 0
	case datomic.BigDec:
		y, ok := b.(datomic.BigDec)
		return ok && x.Equal(y)
	case []any:
		y, ok := b.([]any)
		return ok && sameSlice(x, y)
	case datomic.Tuple:
		y, ok := b.(datomic.Tuple)
		return ok && sameSlice(x, y)
	case List:
		y, ok := b.(List)
		return ok && sameSlice(x, y)
	case Set:
		y, ok := b.(Set)
		return ok && sameSlice(x, y)
	case Map:
		y, ok := b.(Map)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !same(x[i].Key, y[i].Key) || !same(x[i].Value, y[i].Value) {
				return false
			}
		}
		return true
	case datomic.Datom:
		y, ok := b.(datomic.Datom)
		return ok && x.E == y.E && x.A == y.A && x.Tx == y.Tx && x.Added == y.Added && same(x.V, y.V)
	case Tagged:
		y, ok := b.(Tagged)
		return ok && x.Tag == y.Tag && same(x.Rep, y.Rep)
	case []byte:
		y, ok := b.([]byte)
		return ok && string(x) == string(y)
	}
	return assert.ObjectsAreEqual(a, b)
}

func sameSlice(x, y []any) bool {
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if !same(x[i], y[i]) {
			return false
		}
	}
	return true
}
