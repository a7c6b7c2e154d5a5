package client

import (
	"context"

	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/internal/transit"
)

// stream sends a chunked read and passes every response to each, following
// :next-offset with :next requests (merged with reqCtx) until the last
// chunk or until each returns false. Only one chunk is held at a time.
func (c *Conn) stream(ctx context.Context, op string, req, reqCtx transit.Map, each func(transit.Map) (bool, error)) error {
	cur, name := op, op
	for {
		resp, err := c.call(ctx, cur, name, req)
		if err != nil {
			return err
		}
		more, err := each(resp)
		if err != nil || !more {
			return err
		}
		off, ok := resp.Get(kwNextOffset)
		if !ok || off == nil {
			return nil
		}
		tok, ok := resp.Get(kwNextToken)
		if !ok || tok == nil {
			return malformed(c.label(name), ":next-offset without :next-token")
		}
		chunk, _ := resp.Get(kwChunk)
		req = with(reqCtx, kv(kwOp, datomic.Keyword("next")), kv(kwNextToken, tok), kv(kwOffset, off), kv(kwChunk, chunk))
		cur, name = "next", op+" (next chunk)"
	}
}
