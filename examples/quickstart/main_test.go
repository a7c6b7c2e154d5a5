package main

import (
	"bytes"
	"io"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/mem"
	"github.com/dcbackup/dcbackup/internal/sampledata"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestRunGenerated(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(t.Context(), &out, config{days: 4, logger: quiet}))
	for _, step := range []string{"generate", "backup", "restore", "verify"} {
		assert.Regexp(t, `(?m)^\s+`+step+`\s+\d+\s+\d+`, out.String())
	}
	assert.Regexp(t, `(?m)^verified: \d+ transactions, \d+ datoms identical modulo ids`, out.String())
}

func TestRunSample(t *testing.T) {
	dir := sampledata.Path(t, "mbrainz")
	var out bytes.Buffer
	require.NoError(t, run(t.Context(), &out, config{data: dir, split: 5000, logger: quiet}))
	assert.Regexp(t, `(?m)^\s+load sample\s+\d+\s+\d+`, out.String())
	assert.Regexp(t, `(?m)^\s+changes\s+4\s+`, out.String())
	assert.Contains(t, out.String(), "verified: ")
}

func TestRunMissingSample(t *testing.T) {
	err := run(t.Context(), io.Discard, config{data: t.TempDir() + "/none", logger: quiet})
	require.ErrorContains(t, err, "MusicBrainz sample")
}

// The generated history has what the README promises of it, and the same
// size gives the same history.
func TestGeneratedHistory(t *testing.T) {
	ctx := t.Context()
	conn := mem.New(mem.Options{SharedCounter: true})
	txs, datoms, err := generateShop(ctx, conn, 6)
	require.NoError(t, err)
	again := mem.New(mem.Options{SharedCounter: true})
	txs2, datoms2, err := generateShop(ctx, again, 6)
	require.NoError(t, err)
	assert.Equal(t, []int{txs, datoms}, []int{txs2, datoms2}, "reproducible")

	db, err := conn.DB(ctx)
	require.NoError(t, err)
	attrs := map[int64]datomic.Keyword{}
	ident := func(id int64) datomic.Keyword {
		if k, ok := attrs[id]; ok {
			return k
		}
		k, ok, err := db.Ident(ctx, id)
		require.NoError(t, err)
		require.True(t, ok, "attribute %d has an ident", id)
		attrs[id] = k
		return k
	}
	asserted, retracted := map[datomic.Keyword]int{}, map[datomic.Keyword]int{}
	n, logged, gaps := 0, 0, 0
	var last datomic.Tx
	for tx, err := range conn.TxRange(ctx, 0, 0) {
		require.NoError(t, err)
		if n > 0 && tx.T > last.T+1 {
			gaps++
		}
		n++
		logged += len(tx.Datoms)
		last = tx
		for _, d := range tx.Datoms {
			if d.Added {
				asserted[ident(d.A)]++
			} else {
				retracted[ident(d.A)]++
			}
		}
	}
	assert.Equal(t, txs, n)
	assert.Equal(t, datoms, logged)
	assert.Positive(t, gaps, "shared counter: gaps in t")

	// The rename: the attribute installed as product/price-cents is now
	// product/price.
	price, ok, err := db.Entid(ctx, "product/price-cents")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, datomic.Keyword("product/price"), ident(price))
	assert.Positive(t, retracted["db/ident"], "the old ident is retracted")
	assert.Positive(t, asserted["product/price"], "prices set before and after the rename")
	assert.Positive(t, asserted["customer/phone"], "an attribute added later")

	assert.Positive(t, retracted["order/status"], "status updates retract the old value")
	assert.Positive(t, retracted["customer/tags"], "explicit retractions of a cardinality-many value")
	assert.Positive(t, retracted["customer/email"], "accounts removed with retractEntity")
	assert.Positive(t, retracted["line/product"], "orders removed with their component lines")
	assert.Positive(t, asserted["order/customer+number"], "composite tuple maintained by the database")
	assert.Positive(t, asserted["customer/region"], "heterogeneous tuple")
	assert.Positive(t, asserted["product/size-mm"], "homogeneous tuple")
	assert.Positive(t, asserted["customer/referred-by"], "refs between customers")
	assert.Positive(t, asserted["tx/user"], "transaction annotations")
}
