package mem_test

import (
	"context"
	"fmt"
	"time"

	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/mem"
)

func Example() {
	ctx := context.Background()
	clock := func() time.Time { return time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC) }
	conn := mem.New(mem.Options{Clock: clock})

	// Schema is data: an attribute is an entity with an ident, a type and
	// a cardinality.
	_, err := conn.Transact(ctx, []datomic.Op{datomic.EntityMap{
		"db/ident":       datomic.Keyword("artist/name"),
		"db/valueType":   datomic.Keyword("db.type/string"),
		"db/cardinality": datomic.Keyword("db.cardinality/one"),
		"db/unique":      datomic.Keyword("db.unique/identity"),
	}})
	if err != nil {
		panic(err)
	}
	rep, err := conn.Transact(ctx, []datomic.Op{
		datomic.EntityMap{"db/id": datomic.TempID("a"), "artist/name": "Nina Simone"},
		datomic.EntityMap{"db/id": datomic.TxTempID, "db/doc": "first artist"},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("t:", rep.BasisAfter, "artist:", rep.Tempids["a"])

	// The log has both transactions, each with its :db/txInstant.
	for tx, err := range conn.TxRange(ctx, 0, 0) {
		if err != nil {
			panic(err)
		}
		fmt.Println("t", tx.T, "datoms", len(tx.Datoms))
	}

	db, _ := conn.DB(ctx)
	for d, err := range db.Datoms(ctx, datomic.AVET, datomic.Keyword("artist/name"), "Nina Simone") {
		if err != nil {
			panic(err)
		}
		fmt.Println(d.E == rep.Tempids["a"], d.V)
	}
	// Output:
	// t: 2 artist: 17592186044417
	// t 1 datoms 6
	// t 2 datoms 3
	// true Nina Simone
}
