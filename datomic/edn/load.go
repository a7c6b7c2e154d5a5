package edn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/dcbackup/dcbackup/datomic"
)

// BatchIDAttr is the attribute with which the MusicBrainz importer marks
// each transaction with the id of its batch (string, unique value).
const BatchIDAttr datomic.Keyword = "mbrainz.initial-import/batch-id"

// LoadOptions tune [LoadBatches] and [LoadMBrainz]. The zero value loads
// each batch as one transaction.
type LoadOptions struct {
	// SplitSize, when positive, splits the :data of a batch into
	// transactions of at most SplitSize entity maps. Each carries the
	// batch's :batch-ident annotation on "datomic.tx"; because
	// :mbrainz.initial-import/batch-id is unique, its string value gets the
	// suffix ".1", ".2", ... when a batch is split into more than one
	// transaction.
	SplitSize int
	// SkipLoaded skips a transaction whose batch id (BatchIDAttr) is
	// already in the database, as the importer does, so that a load that
	// stopped half-way can be run again. Splitting differently between
	// runs defeats this.
	SkipLoaded bool
	// Logger, if not nil, receives one debug record per transaction.
	Logger *slog.Logger
}

// LoadStats describe a load.
type LoadStats struct {
	// Batches is the number of batches read.
	Batches int
	// Transactions is the number of transactions committed.
	Transactions int
	// Skipped is the number of transactions skipped (SkipLoaded).
	Skipped int
	// EntityMaps is the number of top-level entity maps transacted (the
	// batch annotations not included).
	EntityMaps int
	// Datoms is the number of datoms the transactions produced, as their
	// reports count them (transaction datoms included).
	Datoms int64
	// Duration is the wall time of the load.
	Duration time.Duration
}

// DatomsPerSecond is Datoms divided by Duration.
func (s LoadStats) DatomsPerSecond() float64 {
	if s.Duration <= 0 {
		return 0
	}
	return float64(s.Datoms) / s.Duration.Seconds()
}

func (s *LoadStats) add(o LoadStats) {
	s.Batches += o.Batches
	s.Transactions += o.Transactions
	s.Skipped += o.Skipped
	s.EntityMaps += o.EntityMaps
	s.Datoms += o.Datoms
}

// LoadBatches reads MusicBrainz-style batches from r, each a map
// {:batch-ident {:db/id "datomic.tx" ...} :data [entity maps]}, and
// transacts them in order. Values are converted with the schema of the
// database as it stands before each transaction (see [ConvertTx]). It stops
// at the first error, returning the figures up to then; transactions
// already committed stay committed.
func LoadBatches(ctx context.Context, conn datomic.Conn, r io.Reader, opts LoadOptions) (LoadStats, error) {
	start := time.Now()
	l := loader{conn: conn, opts: opts}
	err := l.run(ctx, r, l.batch)
	l.stats.Duration = time.Since(start)
	return l.stats, err
}

// LoadTransactions reads transactions from r, each a top-level vector of
// entity maps and list forms such as the Day of Datomic files hold, and
// transacts them in order, converting values with the schema of the
// database as it stands before each transaction (see [ConvertTx]).
// Batches counts the forms read; SplitSize and SkipLoaded do not apply.
func LoadTransactions(ctx context.Context, conn datomic.Conn, r io.Reader, opts LoadOptions) (LoadStats, error) {
	start := time.Now()
	l := loader{conn: conn, opts: opts}
	err := l.run(ctx, r, l.tx)
	l.stats.Duration = time.Since(start)
	return l.stats, err
}

func (l *loader) tx(ctx context.Context, form any) error {
	l.stats.Batches++
	l.schema.reset(ctx, l.conn)
	ops, err := ConvertTx(form, ConvertOptions{Schema: l.schema.lookup})
	if err != nil {
		return err
	}
	if err := l.schema.err; err != nil {
		return fmt.Errorf("reading the schema: %w", err)
	}
	rep, err := l.conn.Transact(ctx, ops)
	if err != nil {
		return err
	}
	l.stats.Transactions++
	for _, op := range ops {
		if _, ok := op.(datomic.EntityMap); ok {
			l.stats.EntityMaps++
		}
	}
	l.stats.Datoms += int64(len(rep.TxData))
	if l.opts.Logger != nil {
		l.opts.Logger.DebugContext(ctx, "transacted", "form", l.stats.Batches, "t", rep.BasisAfter, "datoms", len(rep.TxData))
	}
	return nil
}

type decoded struct {
	form any
	err  error
}

// run decodes the next batch in a goroutine while the current one is
// converted and transacted, so at most three batches are in memory.
func (l *loader) run(ctx context.Context, r io.Reader, handle func(context.Context, any) error) error {
	ctx, cancel := context.WithCancel(ctx)
	forms := make(chan decoded, 1)
	go func() {
		defer close(forms)
		dec := NewDecoder(r)
		for {
			v, err := dec.Decode()
			if err == io.EOF {
				return
			}
			select {
			case forms <- decoded{v, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	defer func() {
		// Stop the decoder and wait for it: r is not used after return.
		cancel()
		for range forms {
		}
	}()
	for f := range forms {
		if f.err != nil {
			return f.err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := handle(ctx, f.form); err != nil {
			return fmt.Errorf("form %d: %w", l.stats.Batches, err)
		}
	}
	return ctx.Err()
}

type loader struct {
	conn   datomic.Conn
	opts   LoadOptions
	stats  LoadStats
	schema schemaCache
}

func (l *loader) batch(ctx context.Context, form any) error {
	l.stats.Batches++
	m, ok := form.(Map)
	if !ok {
		return fmt.Errorf("%w: batch must be a map, got %s", ErrTxData, typeName(form))
	}
	identForm, ok := m.Keyword("batch-ident")
	if !ok {
		return fmt.Errorf("%w: batch has no :batch-ident", ErrTxData)
	}
	dataForm, ok := m.Keyword("data")
	if !ok {
		return fmt.Errorf("%w: batch has no :data", ErrTxData)
	}
	identMap, ok := identForm.(Map)
	if !ok {
		return fmt.Errorf("%w: :batch-ident must be a map", ErrTxData)
	}
	data, ok := seqOf(dataForm)
	if !ok {
		return fmt.Errorf("%w: :data must be a vector", ErrTxData)
	}
	size := l.opts.SplitSize
	if size <= 0 || size > len(data) {
		size = max(len(data), 1)
	}
	pieces := (len(data) + size - 1) / size
	for p := range max(pieces, 1) {
		chunk := data[min(p*size, len(data)):min((p+1)*size, len(data))]
		if err := l.transact(ctx, identMap, chunk, p, pieces); err != nil {
			return err
		}
	}
	return nil
}

// transact converts and commits one piece of a batch.
func (l *loader) transact(ctx context.Context, identMap Map, chunk []any, piece, pieces int) error {
	l.schema.reset(ctx, l.conn)
	c := converter{schema: l.schema.lookup}
	ident, err := c.entityMap(identMap)
	if err != nil {
		return fmt.Errorf(":batch-ident: %w", err)
	}
	if id, ok := ident[BatchIDAttr].(string); ok && pieces > 1 {
		ident[BatchIDAttr] = fmt.Sprintf("%s.%d", id, piece+1)
	}
	if l.opts.SkipLoaded {
		loaded, err := l.loaded(ctx, ident)
		if err != nil {
			return err
		}
		if loaded {
			l.stats.Skipped++
			return nil
		}
	}
	ops := make([]datomic.Op, 0, len(chunk)+1)
	ops = append(ops, ident)
	for i, item := range chunk {
		op, err := c.op(item)
		if err != nil {
			if e, ok := err.(*TxDataError); ok {
				e.Op = piece*max(l.opts.SplitSize, 0) + i
			}
			return fmt.Errorf(":data: %w", err)
		}
		ops = append(ops, op)
	}
	if err := l.schema.err; err != nil {
		return fmt.Errorf("reading the schema: %w", err)
	}
	rep, err := l.conn.Transact(ctx, ops)
	if err != nil {
		return err
	}
	l.stats.Transactions++
	l.stats.EntityMaps += len(chunk)
	l.stats.Datoms += int64(len(rep.TxData))
	if l.opts.Logger != nil {
		l.opts.Logger.DebugContext(ctx, "transacted batch", "batch", l.stats.Batches, "piece", piece+1,
			"pieces", pieces, "t", rep.BasisAfter, "datoms", len(rep.TxData))
	}
	return nil
}

// loaded reports whether the batch id of ident is already in the database.
func (l *loader) loaded(ctx context.Context, ident datomic.EntityMap) (bool, error) {
	id, ok := ident[BatchIDAttr].(string)
	if !ok {
		return false, nil
	}
	db, err := l.schema.database()
	if err != nil {
		return false, err
	}
	if _, ok, err := db.Attribute(ctx, BatchIDAttr); err != nil || !ok {
		return false, err
	}
	for _, err := range db.Datoms(ctx, datomic.AVET, BatchIDAttr, id) {
		return err == nil, err
	}
	return false, nil
}

// schemaCache answers the converter's schema questions from the latest
// database value, fetched at most once per transaction.
type schemaCache struct {
	ctx   context.Context
	conn  datomic.Conn
	db    datomic.DB
	attrs map[datomic.Keyword]attrEntry
	err   error
}

type attrEntry struct {
	a  datomic.Attribute
	ok bool
}

func (s *schemaCache) reset(ctx context.Context, conn datomic.Conn) {
	s.ctx, s.conn, s.db, s.err = ctx, conn, nil, nil
	clear(s.attrs)
}

func (s *schemaCache) database() (datomic.DB, error) {
	if s.db == nil {
		db, err := s.conn.DB(s.ctx)
		if err != nil {
			return nil, err
		}
		s.db = db
	}
	return s.db, nil
}

func (s *schemaCache) lookup(k datomic.Keyword) (datomic.Attribute, bool) {
	if e, ok := s.attrs[k]; ok {
		return e.a, e.ok
	}
	if s.err != nil {
		return datomic.Attribute{}, false
	}
	db, err := s.database()
	if err != nil {
		s.err = err
		return datomic.Attribute{}, false
	}
	a, ok, err := db.Attribute(s.ctx, k)
	if err != nil {
		s.err = err
		return datomic.Attribute{}, false
	}
	if s.attrs == nil {
		s.attrs = make(map[datomic.Keyword]attrEntry)
	}
	s.attrs[k] = attrEntry{a, ok}
	return a, ok
}

// MBrainzFiles returns the files of the MusicBrainz sample in the order
// they must be loaded.
func MBrainzFiles() []string {
	return []string{"schema.edn", "enums.edn", "super-enums.edn", "artists.edn", "areleases.edn",
		"areleases-artists.edn", "labels.edn", "releases.edn", "releases-artists.edn"}
}

// LoadMBrainz loads the MusicBrainz sample in dir: it installs
// BatchIDAttr (unless present), as the importer does, then loads the files
// of [MBrainzFiles] in order with [LoadBatches].
func LoadMBrainz(ctx context.Context, conn datomic.Conn, dir string, opts LoadOptions) (LoadStats, error) {
	start := time.Now()
	var total LoadStats
	done := func(err error) (LoadStats, error) {
		total.Duration = time.Since(start)
		return total, err
	}
	db, err := conn.DB(ctx)
	if err != nil {
		return done(err)
	}
	if _, ok, err := db.Attribute(ctx, BatchIDAttr); err != nil {
		return done(err)
	} else if !ok {
		rep, err := conn.Transact(ctx, []datomic.Op{datomic.EntityMap{
			"db/ident":       BatchIDAttr,
			"db/valueType":   datomic.Keyword("db.type/string"),
			"db/cardinality": datomic.Keyword("db.cardinality/one"),
			"db/unique":      datomic.Keyword("db.unique/value"),
			"db/doc":         "The id of the import batch that a transaction loaded",
		}})
		if err != nil {
			return done(fmt.Errorf("installing %s: %w", BatchIDAttr, err))
		}
		total.Transactions++
		total.Datoms += int64(len(rep.TxData))
	}
	for _, name := range MBrainzFiles() {
		st, err := loadFile(ctx, conn, filepath.Join(dir, name), opts)
		total.add(st)
		if err != nil {
			return done(fmt.Errorf("%s: %w", name, err))
		}
	}
	return done(nil)
}

func loadFile(ctx context.Context, conn datomic.Conn, path string, opts LoadOptions) (LoadStats, error) {
	f, err := os.Open(path)
	if err != nil {
		return LoadStats{}, err
	}
	st, err := LoadBatches(ctx, conn, f, opts)
	return st, errors.Join(err, f.Close())
}
