package edn_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/edn"
	"github.com/dcbackup/dcbackup/datomic/mem"
)

func ExampleDecoder() {
	d := edn.NewDecoder(strings.NewReader(`
; two top-level forms
#:artist{:name "Adamo" :startYear 1943 :country :country/IT}
[#inst "1970" #uuid "d3132eab-36d1-476e-a736-cb6dbb08a4a2" 1.50M]`))
	for v, err := range d.All() {
		if err != nil {
			fmt.Println(err)
			return
		}
		text, _ := edn.Marshal(v)
		fmt.Println(string(text))
	}
	// Output:
	// {:artist/name "Adamo", :artist/startYear 1943, :artist/country :country/IT}
	// [#inst "1970-01-01T00:00:00.000000000Z" #uuid "d3132eab-36d1-476e-a736-cb6dbb08a4a2" 1.50M]
}

func ExampleConvertTx() {
	form, err := edn.Unmarshal([]byte(`[{:db/id "joe" :person/name "Joe" :person/friends #{[:person/name "Ann"]}}
	  [:db/add "joe" :person/age 42]
	  [:db/retractEntity [:person/name "Bob"]]]`))
	if err != nil {
		panic(err)
	}
	ops, err := edn.ConvertTx(form, edn.ConvertOptions{})
	if err != nil {
		panic(err)
	}
	for _, op := range ops {
		fmt.Printf("%T\n", op)
	}
	fmt.Println(ops[0].(datomic.EntityMap)["person/friends"])
	// Output:
	// datomic.EntityMap
	// datomic.Add
	// datomic.RetractEntity
	// [{:person/name Ann}]
}

func ExampleLoadBatches() {
	ctx := context.Background()
	conn := mem.New(mem.Options{})
	batches := `
{:batch-ident {:db/id "datomic.tx"} :data [#:db{:ident :artist/name :valueType :db.type/string :cardinality :db.cardinality/one}]}
{:batch-ident {:db/id "datomic.tx"} :data [#:artist{:name "Adamo"} #:artist{:name "Scorpions"} #:artist{:name "Jumbo"}]}`
	st, err := edn.LoadBatches(ctx, conn, strings.NewReader(batches), edn.LoadOptions{SplitSize: 2})
	if err != nil {
		panic(err)
	}
	fmt.Println(st.Batches, "batches,", st.Transactions, "transactions,", st.EntityMaps, "entity maps")
	// Output:
	// 2 batches, 3 transactions, 4 entity maps
}
