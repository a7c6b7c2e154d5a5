package main

import (
	"context"
	"fmt"

	"github.com/dcbackup/dcbackup/datomic"
)

// writeDemo writes a small history into conn: a stock list whose items
// are added, counted again (each count retracts the previous one) and
// removed. It returns the number of transactions.
func writeDemo(ctx context.Context, conn datomic.Conn) (int, error) {
	ops := []datomic.Op{
		datomic.EntityMap{
			"db/ident":       datomic.Keyword("item/sku"),
			"db/valueType":   datomic.Keyword("db.type/string"),
			"db/cardinality": datomic.Keyword("db.cardinality/one"),
			"db/unique":      datomic.Keyword("db.unique/identity"),
		},
		datomic.EntityMap{
			"db/ident":       datomic.Keyword("item/stock"),
			"db/valueType":   datomic.Keyword("db.type/long"),
			"db/cardinality": datomic.Keyword("db.cardinality/one"),
		},
	}
	if _, err := conn.Transact(ctx, ops); err != nil {
		return 0, fmt.Errorf("install schema: %w", err)
	}
	txs := 1
	sku := func(i int) datomic.LookupRef {
		return datomic.LookupRef{A: datomic.Keyword("item/sku"), V: fmt.Sprintf("SKU-%04d", i)}
	}
	for i := range 2000 {
		switch {
		case i%3 == 0: // a new item
			ops = []datomic.Op{datomic.EntityMap{"item/sku": fmt.Sprintf("SKU-%04d", i), "item/stock": int64(i % 50)}}
		case i%15 == 14: // an item removed
			ops = []datomic.Op{datomic.RetractEntity{E: sku(i - 14)}}
		default: // a new count of the item added just before
			ops = []datomic.Op{datomic.Add{E: sku(i - i%3), A: datomic.Keyword("item/stock"), V: int64(i % 17)}}
		}
		if _, err := conn.Transact(ctx, ops); err != nil {
			return txs, fmt.Errorf("transaction %d: %w", txs+1, err)
		}
		txs++
	}
	return txs, nil
}
