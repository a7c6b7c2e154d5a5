package mem

import (
	"context"

	"github.com/dcbackup/dcbackup/datomic"
)

var _ datomic.BatchResolver = (*DB)(nil)

// ResolveLookupRefs returns, for each of values, the entity whose unique
// attribute attr has that value in d (0 when none); it implements
// datomic.BatchResolver.
func (d *DB) ResolveLookupRefs(ctx context.Context, attr any, values []any) ([]int64, error) {
	out := make([]int64, len(values))
	for i, v := range values {
		for dt, err := range d.Datoms(ctx, datomic.AVET, attr, v) {
			if err != nil {
				return nil, err
			}
			out[i] = dt.E
			break
		}
	}
	return out, nil
}
