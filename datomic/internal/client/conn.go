package client

import (
	"context"
	"iter"
	"sync"

	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/internal/transit"
)

// Conn is a connection to one database. It is safe for concurrent use.
type Conn struct {
	t          *Transport
	dbName     string
	databaseID string

	mu       sync.Mutex
	basisT   int64
	basisNxT int64

	types typeCache
	sys   identCache // idents of bootstrap entities, stable for the database
}

var (
	_ datomic.Conn = (*Conn)(nil)
	_ datomic.DB   = (*DB)(nil)
)

// Connect resolves dbName (resolve-db) and reads its basis (status).
func Connect(ctx context.Context, t *Transport, dbName string) (*Conn, error) {
	conn := &Conn{t: t, dbName: dbName}
	resolveOp := CatalogNS + "resolve-db"
	resolved, err := t.Call(ctx, resolveOp, resolveOp, dbName, transit.Map{kv(kwDBName, dbName), kv(kwOp, datomic.Keyword(resolveOp))})
	if err != nil {
		return nil, err
	}
	id, ok := getString(resolved, kwDatabaseID)
	if !ok {
		return nil, malformed(t.label(resolveOp), "no :database-id in %d-entry response", len(resolved))
	}
	conn.databaseID = id
	if _, err := conn.status(ctx); err != nil {
		return nil, err
	}
	t.Logger.LogAttrs(ctx, levelDebug, t.Product+" connected", attrOp("connect"))
	return conn, nil
}

// Transport is the connection's transport.
func (c *Conn) Transport() *Transport { return c.t }

// DatabaseID returns the server's :database-id of the database, as
// resolve-db answered it.
func (c *Conn) DatabaseID() string { return c.databaseID }

// DBName is the database name the connection was made with.
func (c *Conn) DBName() string { return c.dbName }

func (c *Conn) label(op string) string { return c.t.label(op) }

// call sends one request of the connection and moves its basis forward.
func (c *Conn) call(ctx context.Context, op, name string, req transit.Map) (transit.Map, error) {
	resp, err := c.t.Call(ctx, op, name, c.dbName, req)
	if err == nil {
		c.advance(resp)
	}
	return resp, err
}

// basis returns the latest known t and next-t.
func (c *Conn) basis() (int64, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.basisT, c.basisNxT
}

// advance moves the known basis forward from a response's :dbs or :db-after.
func (c *Conn) advance(resp transit.Map) {
	consider := func(v any) {
		m, ok := v.(transit.Map)
		if !ok {
			return
		}
		if id, ok := getString(m, kwDatabaseID); !ok || id != c.databaseID {
			return
		}
		t, ok := getInt(m, kwT)
		if !ok {
			return
		}
		nextT, _ := getInt(m, kwNextT)
		c.mu.Lock()
		if t > c.basisT {
			c.basisT, c.basisNxT = t, nextT
		}
		c.mu.Unlock()
	}
	if dbs, ok := resp.Get(kwDBs); ok {
		if xs, ok := dbs.([]any); ok {
			for _, x := range xs {
				consider(x)
			}
			return
		}
	}
	if after, ok := resp.Get(kwDBAfter); ok {
		consider(after)
	}
}

// context is the request context of the connection.
func (c *Conn) context() transit.Map {
	t, nextT := c.basis()
	return transit.Map{kv(kwDBName, c.dbName), kv(kwDatabaseID, c.databaseID), kv(kwT, t), kv(kwNextT, nextT)}
}

// status asks for the database's current basis.
func (c *Conn) status(ctx context.Context) (*DB, error) {
	req := transit.Map{kv(kwDatabaseID, c.databaseID), kv(kwDBName, c.dbName), kv(kwOp, datomic.Keyword("status"))}
	resp, err := c.call(ctx, "status", "status", req)
	if err != nil {
		return nil, err
	}
	t, ok := getInt(resp, kwT)
	if !ok {
		return nil, malformed(c.label("status"), "no :t in response")
	}
	nextT, _ := getInt(resp, kwNextT)
	c.mu.Lock()
	if t > c.basisT || c.basisT == 0 {
		c.basisT, c.basisNxT = t, nextT
	}
	c.mu.Unlock()
	return c.newDB(t, nextT), nil
}

// DB returns the database's latest value, asking the server for its basis.
func (c *Conn) DB(ctx context.Context) (datomic.DB, error) {
	return c.status(ctx)
}

func (c *Conn) timeoutMillis() int64 { return c.t.Timeout.Milliseconds() }

// TxRange streams the log's transactions with t in [start, end) (end <= 0:
// to the end), TxRangeChunk transactions per request.
func (c *Conn) TxRange(ctx context.Context, start, end int64) iter.Seq2[datomic.Tx, error] {
	return func(yield func(datomic.Tx, error) bool) {
		reqCtx := c.context()
		req := with(reqCtx, kv(kwOp, datomic.Keyword("tx-range")), kv(kwOffset, int64(0)), kv(kwLimit, int64(-1)),
			kv(kwChunk, int64(c.t.TxRangeChunk)), kv(kwTimeout, c.timeoutMillis()))
		if start > 0 {
			req = with(req, kv(kwStart, start))
		}
		if end > 0 {
			req = with(req, kv(kwEnd, end))
		}
		label := c.label("tx-range")
		var norm *normalizer
		stopped := false
		err := c.stream(ctx, "tx-range", req, reqCtx, func(resp transit.Map) (bool, error) {
			data, _ := resp.Get(kwData)
			items, ok := data.([]any)
			if !ok && data != nil {
				return false, malformed(label, ":data is %T, not a vector", data)
			}
			for _, it := range items {
				m, ok := it.(transit.Map)
				if !ok {
					return false, malformed(label, "transaction is %T, not a map", it)
				}
				t, ok := getInt(m, kwT)
				if !ok {
					return false, malformed(label, "transaction without :t")
				}
				ds, err := datomsOf(label, firstOf(m.Get(kwData)))
				if err != nil {
					return false, err
				}
				if norm == nil {
					norm = c.normalizerFor(nil)
				}
				if err := norm.datoms(ctx, "tx-range", ds); err != nil {
					return false, err
				}
				if !yield(datomic.Tx{T: t, Datoms: ds}, nil) {
					stopped = true
					return false, nil
				}
			}
			return true, nil
		})
		if err != nil && !stopped {
			yield(datomic.Tx{}, err)
		}
	}
}

func firstOf(v any, _ bool) any { return v }

// Transact runs ops as one transaction. It is never retried after a
// failure in transit (only after a refused key): a transact that fails in
// transit may or may not have been applied.
func (c *Conn) Transact(ctx context.Context, ops []datomic.Op) (datomic.TxReport, error) {
	data, err := txData(c.label("transact"), ops)
	if err != nil {
		return datomic.TxReport{}, err
	}
	req := with(c.context(), kv(kwOp, datomic.Keyword("transact")), kv(kwTxID, randomUUID()), kv(kwTxData, data))
	resp, err := c.call(ctx, "transact", "transact", req)
	if err != nil {
		return datomic.TxReport{}, err
	}
	label := c.label("transact")
	var rep datomic.TxReport
	before, ok1 := getMap(resp, kwDBBefore)
	after, ok2 := getMap(resp, kwDBAfter)
	if !ok1 || !ok2 {
		return rep, malformed(label, "no :db-before/:db-after in response")
	}
	rep.BasisBefore, ok1 = getInt(before, kwT)
	rep.BasisAfter, ok2 = getInt(after, kwT)
	if !ok1 || !ok2 {
		return rep, malformed(label, "db-before/db-after without :t")
	}
	if rep.TxData, err = datomsOf(label, firstOf(resp.Get(kwTxData))); err != nil {
		return rep, err
	}
	nextT, _ := getInt(after, kwNextT)
	if err := c.normalizerFor(c.newDB(rep.BasisAfter, nextT)).datoms(ctx, "transact", rep.TxData); err != nil {
		return rep, err
	}
	rep.Tempids = map[datomic.TempID]int64{}
	if tv, ok := resp.Get(kwTempids); ok && tv != nil {
		tm, ok := tv.(transit.Map)
		if !ok {
			return rep, malformed(label, ":tempids is %T, not a map", tv)
		}
		for _, e := range tm {
			id, ok := e.Value.(int64)
			if !ok {
				return rep, malformed(label, "tempid %v maps to %T", e.Key, e.Value)
			}
			if s, ok := e.Key.(string); ok {
				rep.Tempids[datomic.TempID(s)] = id
			}
		}
	}
	return rep, nil
}
