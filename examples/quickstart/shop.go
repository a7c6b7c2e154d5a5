package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/dcbackup/dcbackup/datomic"
)

// The generated database is a small web shop's: customers, products in
// categories, and orders whose lines are component entities. Its history
// has what a backup must carry: schema installed and changed over time
// (an attribute renamed, an attribute added), refs, cardinality many,
// enums, unique identities and values, a composite tuple that the database
// maintains, homogeneous and heterogeneous tuples, updates that retract
// the old value, explicit retractions, accounts removed with
// :db/retractEntity, transaction annotations and explicit instants.
//
// Everything comes from a seeded random generator, so a run with the same
// size gives the same database (instants included).

// kw is short for datomic.Keyword.
func kw(s string) datomic.Keyword { return datomic.Keyword(s) }

// attr returns the map that installs an attribute.
func attr(ident, valueType string, many bool, extra datomic.EntityMap) datomic.EntityMap {
	m := datomic.EntityMap{
		"db/ident":       kw(ident),
		"db/valueType":   kw("db.type/" + valueType),
		"db/cardinality": kw("db.cardinality/one"),
	}
	if many {
		m["db/cardinality"] = kw("db.cardinality/many")
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

var (
	identity = datomic.EntityMap{"db/unique": kw("db.unique/identity")}
	uniqueV  = datomic.EntityMap{"db/unique": kw("db.unique/value")}
	comp     = datomic.EntityMap{"db/isComponent": true}
)

// schema is the shop's first transaction.
func schema() []datomic.Op {
	return []datomic.Op{
		attr("category/name", "string", false, identity),
		attr("category/parent", "ref", false, nil),
		attr("product/sku", "string", false, identity),
		attr("product/name", "string", false, nil),
		attr("product/price-cents", "long", false, nil), // renamed to product/price later
		attr("product/categories", "ref", true, nil),
		attr("product/size-mm", "tuple", false, datomic.EntityMap{"db/tupleType": kw("db.type/long")}),
		attr("customer/email", "string", false, identity),
		attr("customer/name", "string", false, nil),
		attr("customer/tags", "keyword", true, nil),
		attr("customer/referred-by", "ref", false, nil),
		attr("customer/region", "tuple", false, datomic.EntityMap{
			"db/tupleTypes": datomic.Tuple{kw("db.type/keyword"), kw("db.type/string")}}),
		attr("order/number", "long", false, uniqueV),
		attr("order/customer", "ref", false, nil),
		attr("order/status", "ref", false, nil),
		attr("order/placed-at", "instant", false, nil),
		attr("order/lines", "ref", true, comp),
		attr("line/product", "ref", false, nil),
		attr("line/quantity", "long", false, nil),
		attr("line/price-cents", "long", false, nil),
		attr("tx/channel", "keyword", false, nil), // on transaction entities
		attr("tx/user", "string", false, nil),
	}
}

// Order statuses, in the order an order goes through them.
var statuses = []datomic.Keyword{"order.status/placed", "order.status/paid", "order.status/shipped", "order.status/delivered"}

const cancelled = datomic.Keyword("order.status/cancelled")

var (
	countries = []datomic.Keyword{"country/de", "country/fr", "country/it", "country/nl", "country/se"}
	cities    = []string{"Berlin", "Paris", "Milan", "Utrecht", "Malmö", "Lyon", "Hamburg"}
	tags      = []datomic.Keyword{"tag/newsletter", "tag/vip", "tag/wholesale", "tag/returns-often", "tag/gift-buyer"}
	channels  = []datomic.Keyword{"channel/web", "channel/app", "channel/phone"}
)

// shop writes the shop's history into a connection.
type shop struct {
	conn datomic.Conn
	rnd  *rand.Rand
	now  time.Time // the instant of the next transaction

	txs, datoms int // what the database accepted

	categories []int64
	products   []int64
	customers  []int64 // customers with an account
	signups    int
	open       []openOrder
	orders     int64 // order numbers handed out

	price datomic.Keyword // the price attribute's current ident
}

type openOrder struct {
	id     int64
	status int // index in statuses
}

// generateShop writes days of a shop's history into conn, one
// transaction per event: sign-ups, checkouts, payments, shipments,
// price changes, account deletions, and two schema changes on the way.
func generateShop(ctx context.Context, conn datomic.Conn, days int) (txs, datoms int, err error) {
	s := &shop{
		conn:  conn,
		rnd:   rand.New(rand.NewPCG(2026, 11)),
		now:   time.Date(2025, 3, 3, 7, 0, 0, 0, time.UTC),
		price: "product/price-cents",
	}
	if err := s.setUp(ctx); err != nil {
		return s.txs, s.datoms, err
	}
	for day := range days {
		if day == days/2 {
			// An attribute renamed: code written after this uses the new
			// name; the log keeps the old one for older transactions.
			if _, err := s.transact(ctx, "migration", datomic.Add{E: s.price, A: kw("db/ident"), V: kw("product/price")}); err != nil {
				return s.txs, s.datoms, err
			}
			s.price = "product/price"
		}
		if day == days/3 {
			if _, err := s.transact(ctx, "migration", attr("customer/phone", "string", false, nil)); err != nil {
				return s.txs, s.datoms, err
			}
		}
		if err := s.day(ctx, day >= days/3); err != nil {
			return s.txs, s.datoms, err
		}
	}
	return s.txs, s.datoms, nil
}

// transact runs ops as one transaction dated a little after the previous
// one and annotated with the user who made it (if not empty).
func (s *shop) transact(ctx context.Context, user string, ops ...datomic.Op) (datomic.TxReport, error) {
	s.now = s.now.Add(time.Duration(1+s.rnd.IntN(40)) * time.Second)
	ops = append(ops, datomic.Add{E: datomic.TxTempID, A: kw("db/txInstant"), V: s.now})
	if user != "" {
		ops = append(ops, datomic.Add{E: datomic.TxTempID, A: kw("tx/user"), V: user})
	}
	rep, err := s.conn.Transact(ctx, ops)
	if err != nil {
		return rep, fmt.Errorf("generate: transaction %d: %w", s.txs+1, err)
	}
	s.txs++
	s.datoms += len(rep.TxData)
	return rep, nil
}

// setUp installs the schema, the enums, the categories and the products.
func (s *shop) setUp(ctx context.Context) error {
	// The first transaction cannot use the annotation attribute it installs.
	if _, err := s.transact(ctx, "", schema()...); err != nil {
		return err
	}
	// A composite tuple names attributes installed before it.
	if _, err := s.transact(ctx, "migration", attr("order/customer+number", "tuple", false, datomic.EntityMap{
		"db/tupleAttrs": datomic.Tuple{kw("order/customer"), kw("order/number")},
		"db/unique":     kw("db.unique/identity"),
	})); err != nil {
		return err
	}
	var enums []datomic.Op
	for _, e := range append(append([]datomic.Keyword{cancelled}, statuses...), append(countries, tags...)...) {
		enums = append(enums, datomic.EntityMap{"db/ident": e})
	}
	if _, err := s.transact(ctx, "migration", enums...); err != nil {
		return err
	}

	var ops []datomic.Op
	for i := range 24 {
		m := datomic.EntityMap{"db/id": datomic.TempID(fmt.Sprint("c", i)), "category/name": fmt.Sprint("Category ", i)}
		if i >= 4 {
			m["category/parent"] = datomic.TempID(fmt.Sprint("c", i%4)) // four top-level categories
		}
		ops = append(ops, m)
	}
	rep, err := s.transact(ctx, "catalogue", ops...)
	if err != nil {
		return err
	}
	for i := range 24 {
		s.categories = append(s.categories, rep.Tempids[datomic.TempID(fmt.Sprint("c", i))])
	}

	for batch := range 12 {
		ops = ops[:0]
		for i := range 50 {
			n := batch*50 + i
			cats := []any{s.pick(s.categories)}
			if s.rnd.IntN(3) == 0 {
				cats = append(cats, s.pick(s.categories))
			}
			ops = append(ops, datomic.EntityMap{
				"db/id":              datomic.TempID(fmt.Sprint("p", n)),
				"product/sku":        fmt.Sprintf("SKU-%05d", n),
				"product/name":       fmt.Sprintf("Product %d", n),
				s.price:              int64(199 + s.rnd.IntN(20000)),
				"product/categories": cats,
				"product/size-mm":    datomic.Tuple{int64(10 + s.rnd.IntN(500)), int64(10 + s.rnd.IntN(500)), int64(5 + s.rnd.IntN(200))},
			})
		}
		rep, err := s.transact(ctx, "catalogue", ops...)
		if err != nil {
			return err
		}
		for i := range 50 {
			s.products = append(s.products, rep.Tempids[datomic.TempID(fmt.Sprint("p", batch*50+i))])
		}
	}
	return nil
}

// pick returns a random element of ids.
func (s *shop) pick(ids []int64) int64 { return ids[s.rnd.IntN(len(ids))] }

// day writes one day of events, in a random order.
func (s *shop) day(ctx context.Context, phones bool) error {
	events := make([]func(context.Context) error, 0, 512)
	for range 30 {
		events = append(events, func(ctx context.Context) error { return s.signUp(ctx, phones) })
	}
	for range 160 {
		events = append(events, s.checkout)
	}
	for range 6 {
		events = append(events, s.advanceOrders)
	}
	for range 8 {
		events = append(events, s.changePrice)
	}
	for range 4 {
		events = append(events, s.untag)
	}
	events = append(events, s.deleteAccount, s.cancelOrder, s.cancelOrder)
	s.rnd.Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })
	for _, ev := range events {
		if err := ev(ctx); err != nil {
			return err
		}
	}
	s.now = s.now.Add(10 * time.Hour) // the night
	return nil
}

func (s *shop) signUp(ctx context.Context, phone bool) error {
	s.signups++
	n := s.signups
	m := datomic.EntityMap{
		"db/id":           datomic.TempID("new"),
		"customer/email":  fmt.Sprintf("customer%d@example.com", n),
		"customer/name":   fmt.Sprintf("Customer %d", n),
		"customer/region": datomic.Tuple{countries[s.rnd.IntN(len(countries))], cities[s.rnd.IntN(len(cities))]},
	}
	if k := s.rnd.IntN(3); k > 0 {
		var ts []any
		for range k {
			ts = append(ts, tags[s.rnd.IntN(len(tags))])
		}
		m["customer/tags"] = ts
	}
	if len(s.customers) > 0 && s.rnd.IntN(4) == 0 {
		m["customer/referred-by"] = s.pick(s.customers)
	}
	if phone && s.rnd.IntN(2) == 0 {
		m["customer/phone"] = fmt.Sprintf("+49 30 %07d", s.rnd.IntN(10_000_000))
	}
	rep, err := s.transact(ctx, "signup", m)
	if err != nil {
		return err
	}
	s.customers = append(s.customers, rep.Tempids["new"])
	return nil
}

func (s *shop) checkout(ctx context.Context) error {
	if len(s.customers) == 0 {
		return nil
	}
	s.orders++
	var lines []any
	for range 1 + s.rnd.IntN(4) {
		lines = append(lines, datomic.EntityMap{
			"line/product":     s.pick(s.products),
			"line/quantity":    int64(1 + s.rnd.IntN(3)),
			"line/price-cents": int64(199 + s.rnd.IntN(20000)),
		})
	}
	rep, err := s.transact(ctx, "checkout",
		datomic.EntityMap{
			"db/id":           datomic.TempID("order"),
			"order/number":    s.orders,
			"order/customer":  s.pick(s.customers),
			"order/status":    statuses[0],
			"order/placed-at": s.now.Truncate(time.Minute),
			"order/lines":     lines,
		},
		datomic.Add{E: datomic.TxTempID, A: kw("tx/channel"), V: channels[s.rnd.IntN(len(channels))]})
	if err != nil {
		return err
	}
	s.open = append(s.open, openOrder{id: rep.Tempids["order"]})
	return nil
}

// advanceOrders moves a batch of open orders to their next status (the
// old status is retracted by the database), as a warehouse run would.
func (s *shop) advanceOrders(ctx context.Context) error {
	var ops []datomic.Op
	kept := s.open[:0]
	for _, o := range s.open {
		if len(ops) < 120 && s.rnd.IntN(2) == 0 {
			o.status++
			ops = append(ops, datomic.Add{E: o.id, A: kw("order/status"), V: statuses[o.status]})
		}
		if o.status < len(statuses)-1 {
			kept = append(kept, o)
		}
	}
	s.open = kept
	if len(ops) == 0 {
		return nil
	}
	_, err := s.transact(ctx, "warehouse", ops...)
	return err
}

func (s *shop) changePrice(ctx context.Context) error {
	_, err := s.transact(ctx, "pricing", datomic.Add{E: s.pick(s.products), A: s.price, V: int64(199 + s.rnd.IntN(20000))})
	return err
}

// untag retracts one of a customer's tags, if it has any.
func (s *shop) untag(ctx context.Context) error {
	if len(s.customers) == 0 {
		return nil
	}
	c := s.pick(s.customers)
	db, err := s.conn.DB(ctx)
	if err != nil {
		return err
	}
	for d, err := range db.Datoms(ctx, datomic.EAVT, c, kw("customer/tags")) {
		if err != nil {
			return err
		}
		_, err = s.transact(ctx, "support", datomic.Retract{E: c, A: kw("customer/tags"), V: d.V})
		return err
	}
	return nil
}

// deleteAccount removes a customer with :db/retractEntity, which also
// retracts the references to it (its orders keep their lines).
func (s *shop) deleteAccount(ctx context.Context) error {
	if len(s.customers) < 2 {
		return nil
	}
	i := s.rnd.IntN(len(s.customers))
	c := s.customers[i]
	s.customers = append(s.customers[:i], s.customers[i+1:]...)
	_, err := s.transact(ctx, "support", datomic.RetractEntity{E: c})
	return err
}

// cancelOrder cancels the newest order that has not shipped; cancelling
// an order not yet paid removes it with its lines (components).
func (s *shop) cancelOrder(ctx context.Context) error {
	for i := len(s.open) - 1; i >= 0; i-- {
		o := s.open[i]
		if o.status > 1 {
			continue
		}
		s.open = append(s.open[:i], s.open[i+1:]...)
		var op datomic.Op = datomic.Add{E: o.id, A: kw("order/status"), V: cancelled}
		if o.status == 0 {
			op = datomic.RetractEntity{E: o.id}
		}
		_, err := s.transact(ctx, "support", op)
		return err
	}
	return nil
}
