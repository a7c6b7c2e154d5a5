package peertest

import (
	"context"
	"fmt"
	"iter"
	"net/http"
	"strconv"
	"time"

	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/internal/transit"
)

var (
	kwData       = datomic.Keyword("data")
	kwChunk      = datomic.Keyword("chunk")
	kwOffset     = datomic.Keyword("offset")
	kwLimit      = datomic.Keyword("limit")
	kwNextOffset = datomic.Keyword("next-offset")
	kwNextToken  = datomic.Keyword("next-token")
	kwStart      = datomic.Keyword("start")
	kwEnd        = datomic.Keyword("end")
	kwIndex      = datomic.Keyword("index")
	kwComponents = datomic.Keyword("components")
	kwAttrID     = datomic.Keyword("attrid")
)

const (
	defaultLimit = 1000 // the API's default when a request has no :limit
	defaultChunk = 1000
	maxChunk     = 10000
	// maxCursors bounds the open reads a client abandoned; the oldest is
	// closed first (a later :next for it is refused, as an expired one is).
	maxCursors = 64
)

// cursor is an open chunked read: a pull iterator over the result, the
// position of its next item, and what is left of the limit.
type cursor struct {
	next   func() (any, error, bool)
	stop   func()
	cancel context.CancelFunc
	offset int64
	left   int64 // -1: no limit
	chunk  int64
	seq    int // order of creation, for eviction
	peeked bool
	pv     any
	perr   error
	pok    bool
}

func (c *cursor) close() {
	c.stop()
	c.cancel()
}

// pull returns the next item.
func (c *cursor) pull() (any, error, bool) {
	if c.peeked {
		c.peeked = false
		return c.pv, c.perr, c.pok
	}
	return c.next()
}

func (c *cursor) more() bool {
	if c.left == 0 {
		return false
	}
	if !c.peeked {
		c.pv, c.perr, c.pok = c.next()
		c.peeked = true
	}
	return c.pok
}

func intParam(req transit.Map, k datomic.Keyword, def int64) int64 {
	if v, ok := req.Get(k); ok {
		if n, ok := v.(int64); ok {
			return n
		}
	}
	return def
}

// chunked opens a cursor for a tx-range, datoms or index-range request and
// serves its first chunk.
func (s *Server) chunked(ctx context.Context, db *database, op string, req transit.Map) (int, transit.Map) {
	// The cursor outlives this request, so it reads with its own context.
	cctx, cancel := context.WithCancel(context.Background())
	seq, err := s.sequence(ctx, cctx, db, op, req)
	if err != nil {
		cancel()
		return errorResponse(err)
	}
	next, stop := iter.Pull2(seq)
	chunk := intParam(req, kwChunk, defaultChunk)
	if chunk <= 0 || chunk > maxChunk {
		chunk = min(max(chunk, 1), maxChunk)
	}
	c := &cursor{next: next, stop: stop, cancel: cancel, left: intParam(req, kwLimit, defaultLimit), chunk: chunk}
	if c.left < 0 {
		c.left = -1
	}
	for range intParam(req, kwOffset, 0) {
		if _, err, ok := c.pull(); !ok || err != nil {
			break
		}
		c.offset++
	}
	return s.serveChunk(c)
}

// serveChunk answers with the cursor's next chunk, keeping the cursor under
// a token when more remains.
func (s *Server) serveChunk(c *cursor) (int, transit.Map) {
	data := []any{}
	for int64(len(data)) < c.chunk && c.more() {
		v, err, _ := c.pull()
		if err != nil {
			c.close()
			return errorResponse(err)
		}
		data = append(data, v)
		c.offset++
		if c.left > 0 {
			c.left--
		}
	}
	resp := transit.Map{{Key: kwData, Value: data}}
	if !c.more() {
		c.close()
		return http.StatusOK, resp
	}
	s.mu.Lock()
	s.tokenSeq++
	c.seq = s.tokenSeq
	tok := "cursor-" + strconv.Itoa(s.tokenSeq)
	s.cursors[tok] = c
	var evicted *cursor
	if len(s.cursors) > maxCursors {
		oldest := ""
		for k, o := range s.cursors {
			if oldest == "" || o.seq < s.cursors[oldest].seq {
				oldest = k
			}
		}
		evicted = s.cursors[oldest]
		delete(s.cursors, oldest)
	}
	s.mu.Unlock()
	if evicted != nil {
		evicted.close()
	}
	return http.StatusOK, append(resp,
		transit.KV{Key: kwChunk, Value: c.chunk},
		transit.KV{Key: kwNextOffset, Value: c.offset},
		transit.KV{Key: kwNextToken, Value: tok})
}

// next continues a cursor.
func (s *Server) next(_ context.Context, req transit.Map) (int, transit.Map) {
	tok, _ := req.Get(kwNextToken)
	key, _ := tok.(string)
	s.mu.Lock()
	c, ok := s.cursors[key]
	delete(s.cursors, key)
	s.mu.Unlock()
	if !ok {
		return incorrect("unknown or expired :next-token %v", tok)
	}
	if off := intParam(req, kwOffset, -1); off != c.offset {
		c.close()
		return incorrect(":next offset %d, expected %d", off, c.offset)
	}
	if ch := intParam(req, kwChunk, c.chunk); ch > 0 && ch <= maxChunk {
		c.chunk = ch
	}
	return s.serveChunk(c)
}

// sequence builds the result stream of a chunked request on database d.
// Request-scoped lookups use ctx; the stream itself reads with cctx.
func (s *Server) sequence(ctx, cctx context.Context, d *database, op string, req transit.Map) (iter.Seq2[any, error], error) {
	switch op {
	case "tx-range":
		start, end, err := txRangeBounds(ctx, d, req)
		if err != nil {
			return nil, err
		}
		if start < 0 {
			return func(func(any, error) bool) {}, nil
		}
		return func(yield func(any, error) bool) {
			for tx, err := range d.conn.TxRange(cctx, start, end) {
				if err != nil {
					yield(nil, err)
					return
				}
				ds := make([]any, len(tx.Datoms))
				for i, d := range tx.Datoms {
					ds[i] = d
				}
				if !yield(transit.Map{{Key: kwT, Value: tx.T}, {Key: kwData, Value: ds}}, nil) {
					return
				}
			}
		}, nil
	case "datoms":
		db, err := d.value(ctx, req)
		if err != nil {
			return nil, err
		}
		idx, comps, err := datomsParams(ctx, db, req)
		if err != nil {
			return nil, err
		}
		return datomSeq(db.Datoms(cctx, idx, comps...)), nil
	case "index-range":
		db, err := d.value(ctx, req)
		if err != nil {
			return nil, err
		}
		attr, _ := req.Get(kwAttrID)
		start, _ := req.Get(kwStart)
		end, _ := req.Get(kwEnd)
		return datomSeq(db.IndexRange(cctx, attr, start, end)), nil
	}
	return nil, fmt.Errorf("peertest: %s is not chunked", op)
}

func datomSeq(seq iter.Seq2[datomic.Datom, error]) iter.Seq2[any, error] {
	return func(yield func(any, error) bool) {
		for d, err := range seq {
			if !yield(d, err) || err != nil {
				return
			}
		}
	}
}

// txRangeBounds reads the :start and :end of a tx-range, each a t, a
// transaction id or an instant (the first transaction at or after it), as
// Datomic's log takes them. A start beyond the log gives start -1.
func txRangeBounds(ctx context.Context, d *database, req transit.Map) (start, end int64, err error) {
	var db datomic.DB
	bound := func(k datomic.Keyword) (int64, bool, error) {
		v, ok := req.Get(k)
		if !ok || v == nil {
			return 0, true, nil
		}
		switch x := v.(type) {
		case int64:
			return datomic.ToT(x), true, nil
		case time.Time:
			if db == nil {
				var err error
				if db, err = d.conn.DB(ctx); err != nil {
					return 0, false, err
				}
			}
			return firstTxAt(ctx, db, x)
		}
		return 0, false, &datomic.Error{Category: datomic.CatIncorrect, Op: -1,
			Message: fmt.Sprintf("peertest: tx-range %v %v (%T) is not a t, a transaction id or an instant", k, v, v)}
	}
	start, ok, err := bound(kwStart)
	if err != nil {
		return 0, 0, err
	}
	if !ok {
		return -1, 0, nil
	}
	end, ok, err = bound(kwEnd)
	if err != nil {
		return 0, 0, err
	}
	if !ok {
		end = 0 // no transaction at or after :end: no upper bound
	}
	return start, end, nil
}

// firstTxAt returns the t of the first transaction whose :db/txInstant is
// at or after inst, and false when there is none.
func firstTxAt(ctx context.Context, db datomic.DB, inst time.Time) (int64, bool, error) {
	for d, err := range db.IndexRange(ctx, datomic.Keyword("db/txInstant"), inst, nil) {
		if err != nil {
			return 0, false, err
		}
		return datomic.ToT(d.E), true, nil
	}
	return 0, false, nil
}

var indexOrder = map[datomic.Keyword][]datomic.Keyword{
	"eavt": {"e", "a", "v"},
	"aevt": {"a", "e", "v"},
	"avet": {"a", "v", "e"},
	"vaet": {"v", "a", "e"},
}

var indexes = map[datomic.Keyword]datomic.Index{
	"eavt": datomic.EAVT, "aevt": datomic.AEVT, "avet": datomic.AVET, "vaet": datomic.VAET,
}

// datomsParams reads the index and its components, given as :e/:a/:v keys
// (the official client) or as a :components vector. An entity position
// takes any entity identifier, a lookup ref [attr value] included, as
// does the value of a ref attribute.
func datomsParams(ctx context.Context, db datomic.DB, req transit.Map) (datomic.Index, []any, error) {
	k, _ := req.Get(kwIndex)
	kw, _ := k.(datomic.Keyword)
	idx, ok := indexes[kw]
	if !ok {
		return 0, nil, &datomic.Error{Category: datomic.CatIncorrect, Message: fmt.Sprintf("peertest: unknown index %v", k), Op: -1}
	}
	order := indexOrder[kw]
	var comps []any
	if v, ok := req.Get(kwComponents); ok {
		xs, _ := v.([]any)
		comps = append(comps, xs...)
	} else {
		for _, key := range order {
			v, ok := req.Get(key)
			if !ok {
				break
			}
			comps = append(comps, v)
		}
	}
	if len(comps) > len(order) {
		return 0, nil, &datomic.Error{Category: datomic.CatIncorrect, Op: -1,
			Message: fmt.Sprintf("peertest: %d components for index %v", len(comps), kw)}
	}
	var attr any
	for i, c := range comps {
		if order[i] == "a" {
			attr = c
		}
	}
	for i, c := range comps {
		switch order[i] {
		case "e":
			comps[i] = entityIdentifier(ctx, db, c)
		case "v":
			if kw == "vaet" {
				comps[i] = entityIdentifier(ctx, db, c)
			} else if a, ok := attributeOf(ctx, db, attr); ok && a.ValueType == datomic.TypeRef {
				comps[i] = entityIdentifier(ctx, db, c)
			}
		}
	}
	return idx, comps, nil
}

// entityIdentifier reads a wire entity identifier: a lookup ref arrives as
// a vector [attr value], whose value takes its attribute's type.
func entityIdentifier(ctx context.Context, db datomic.DB, v any) any {
	xs, ok := v.([]any)
	if !ok || len(xs) != 2 {
		return v
	}
	val := xs[1]
	if a, ok := attributeOf(ctx, db, xs[0]); ok {
		val = scalar(a.ValueType, val)
		if a.ValueType == datomic.TypeRef {
			val = entityIdentifier(ctx, db, val)
		}
	}
	return datomic.LookupRef{A: xs[0], V: val}
}

func attributeOf(ctx context.Context, db datomic.DB, a any) (datomic.Attribute, bool) {
	if a == nil {
		return datomic.Attribute{}, false
	}
	attr, ok, err := db.Attribute(ctx, a)
	return attr, ok && err == nil
}
