package client

import (
	"context"

	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/internal/transit"
)

var kwResult = datomic.Keyword("result")

// ListDBs returns the names of the databases the server serves
// (datomic.catalog/list-dbs).
func ListDBs(ctx context.Context, t *Transport) ([]string, error) {
	op := CatalogNS + "list-dbs"
	resp, err := t.Call(ctx, op, op, "", transit.Map{kv(kwOp, datomic.Keyword(op))})
	if err != nil {
		return nil, err
	}
	v, _ := resp.Get(kwResult)
	xs, ok := v.([]any)
	if !ok && v != nil {
		return nil, malformed(t.label(op), ":result is %T, not a vector", v)
	}
	names := make([]string, 0, len(xs))
	for _, x := range xs {
		s, ok := x.(string)
		if !ok {
			return nil, malformed(t.label(op), "database name %v is %T, not a string", x, x)
		}
		names = append(names, s)
	}
	return names, nil
}

// CreateDB creates database name (datomic.catalog/create-db, Cloud only).
func CreateDB(ctx context.Context, t *Transport, name string) error {
	return catalogOp(ctx, t, "create-db", name)
}

// DeleteDB deletes database name (datomic.catalog/delete-db, Cloud only).
func DeleteDB(ctx context.Context, t *Transport, name string) error {
	return catalogOp(ctx, t, "delete-db", name)
}

func catalogOp(ctx context.Context, t *Transport, short, name string) error {
	op := CatalogNS + short
	_, err := t.Call(ctx, op, op, name, transit.Map{kv(kwDBName, name), kv(kwOp, datomic.Keyword(op))})
	return err
}
