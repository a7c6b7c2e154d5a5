package main

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/dcbackup/dcbackup/datomic"
)

// app is the application whose database is backed up: an order system
// that places orders, moves them through their statuses (each update
// retracts the old status) and deletes some.
type app struct {
	conn   datomic.Conn
	rnd    *rand.Rand
	orders []order // orders not yet delivered or deleted
	next   int64   // next order number
}

type order struct {
	id     int64
	status int // index in statuses
}

var statuses = []datomic.Keyword{"order.status/placed", "order.status/paid", "order.status/shipped", "order.status/delivered"}

// newApp installs the application's schema.
func newApp(ctx context.Context, conn datomic.Conn, seed uint64) (*app, error) {
	attr := func(ident, valueType, cardinality string) datomic.EntityMap {
		return datomic.EntityMap{
			"db/ident":       datomic.Keyword(ident),
			"db/valueType":   datomic.Keyword("db.type/" + valueType),
			"db/cardinality": datomic.Keyword("db.cardinality/" + cardinality),
		}
	}
	number := attr("order/number", "long", "one")
	number["db/unique"] = datomic.Keyword("db.unique/identity")
	ops := []datomic.Op{
		number,
		attr("order/customer", "string", "one"),
		attr("order/status", "ref", "one"),
		attr("order/items", "string", "many"),
		attr("order/total-cents", "long", "one"),
	}
	for _, s := range statuses {
		ops = append(ops, datomic.EntityMap{"db/ident": s})
	}
	if _, err := conn.Transact(ctx, ops); err != nil {
		return nil, fmt.Errorf("install schema: %w", err)
	}
	return &app{conn: conn, rnd: rand.New(rand.NewPCG(seed, 1)), next: 1}, nil
}

// step runs one transaction of the application's usual work.
func (a *app) step(ctx context.Context) error {
	var ops []datomic.Op
	switch k := a.rnd.IntN(10); {
	case k < 5 || len(a.orders) == 0: // a new order
		items := []any{}
		for range 1 + a.rnd.IntN(4) {
			items = append(items, fmt.Sprintf("SKU-%03d", a.rnd.IntN(500)))
		}
		ops = []datomic.Op{datomic.EntityMap{
			"db/id":             datomic.TempID("order"),
			"order/number":      a.next,
			"order/customer":    fmt.Sprintf("customer%d@example.com", a.rnd.IntN(2000)),
			"order/status":      statuses[0],
			"order/items":       items,
			"order/total-cents": int64(500 + a.rnd.IntN(50000)),
		}}
		a.next++
	case k < 9: // the next status of an order (the old one is retracted)
		i := a.rnd.IntN(len(a.orders))
		o := &a.orders[i]
		o.status++
		ops = []datomic.Op{datomic.Add{E: o.id, A: datomic.Keyword("order/status"), V: statuses[o.status]}}
		if o.status == len(statuses)-1 {
			a.orders = append(a.orders[:i], a.orders[i+1:]...) // delivered
		}
	default: // an order deleted
		i := a.rnd.IntN(len(a.orders))
		ops = []datomic.Op{datomic.RetractEntity{E: a.orders[i].id}}
		a.orders = append(a.orders[:i], a.orders[i+1:]...)
	}
	rep, err := a.conn.Transact(ctx, ops)
	if err != nil {
		return err
	}
	if id, ok := rep.Tempids["order"]; ok {
		a.orders = append(a.orders, order{id: id})
	}
	return nil
}
