package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/edn"
	"github.com/dcbackup/dcbackup/datomic/mem"
	"github.com/dcbackup/dcbackup/internal/benchwork"
)

const dbName = "bench"

// baseDir returns the directory for the stores and a function that removes
// it when it was created here.
func baseDir(cfg config) (string, func(), error) {
	if cfg.dir != "" {
		if err := os.MkdirAll(cfg.dir, 0o755); err != nil {
			return "", nil, err
		}
		d, err := os.MkdirTemp(cfg.dir, "dcbench-")
		if err != nil {
			return "", nil, err
		}
		return d, func() { os.RemoveAll(d) }, nil
	}
	d, err := os.MkdirTemp("", "dcbench-")
	if err != nil {
		return "", nil, err
	}
	return d, func() { os.RemoveAll(d) }, nil
}

func newStore(base, name string) (*dcbackup.FSStore, error) {
	return dcbackup.NewFSStore(filepath.Join(base, name))
}

// backupStage backs src up into a new store under base (one per run) and
// returns the last one.
func backupStage(ctx context.Context, t *table, stage, base string, src datomic.Conn, opts *dcbackup.BackupOptions) (*dcbackup.FSStore, error) {
	var store *dcbackup.FSStore
	err := t.measure(stage, backupFunc(ctx, stage, base, src, opts, &store))
	return store, err
}

// backupFunc backs src up into a new store under base each run, and sets
// *store to it.
func backupFunc(ctx context.Context, stage, base string, src datomic.Conn, opts *dcbackup.BackupOptions, store **dcbackup.FSStore) stageFunc {
	run := 0
	return func() (int, int64, string, error) {
		run++
		var err error
		if *store, err = newStore(base, fmt.Sprintf("%s-%d", stage, run)); err != nil {
			return 0, 0, "", err
		}
		res, err := dcbackup.Backup(ctx, dbName, src, *store, opts)
		return res.Datoms, res.Bytes, fmt.Sprintf("%d segments, %d transactions", res.Segments, res.Transactions), err
	}
}

func restoreFunc(ctx context.Context, store dcbackup.BackupStore, target func() datomic.Conn, cacheSize int, dec dcbackup.DecodeOptions) stageFunc {
	return func() (int, int64, string, error) {
		res, err := dcbackup.Restore(ctx, dbName, store, target(), &dcbackup.RestoreOptions{CacheSize: cacheSize, Decode: dec})
		st := res.Remap
		hits := 100 * float64(st.CacheHits) / float64(max(st.CacheHits+st.CacheMisses, 1))
		note := fmt.Sprintf("%d transactions; remap: cache hit rate %.1f%% (%d hits, %d misses), %d lookup requests, %d lookup refs, %d new entities, %d-byte id set",
			res.Transactions, hits, st.CacheHits, st.CacheMisses, st.Lookups, st.LookupRefs, st.NewEntities, st.IDSetBytes)
		return res.Datoms, 0, note, err
	}
}

func runAll(ctx context.Context, cfg config) error {
	base, cleanup, err := baseDir(cfg)
	if err != nil {
		return err
	}
	defer cleanup()
	t := &table{repeat: cfg.repeat}
	var source datomic.Conn
	var ednBytes int64
	var stream *dcbackup.FSStore
	if cfg.mbrainz != "" {
		m := mem.New(mem.Options{SharedCounter: true})
		for _, name := range edn.MBrainzFiles() {
			fi, err := os.Stat(filepath.Join(cfg.mbrainz, name))
			if err != nil {
				return err
			}
			ednBytes += fi.Size()
		}
		if err := t.measureOnce("load EDN into mem", func() (int, int64, string, error) {
			st, err := edn.LoadMBrainz(ctx, m, cfg.mbrainz, edn.LoadOptions{SplitSize: 1000})
			return int(st.Datoms), ednBytes, fmt.Sprintf("%d transactions from %d bytes of EDN", st.Transactions, ednBytes), err
		}); err != nil {
			return err
		}
		source = m
	} else {
		gen, err := benchwork.NewSource(ctx, benchwork.Config{Seed: 1, Datoms: cfg.datoms})
		if err != nil {
			return err
		}
		if stream, err = backupStage(ctx, t, "backup generated, serial", base, gen, cfg.backupOptions(1)); err != nil {
			return err
		}
		if _, err = backupStage(ctx, t, "backup generated, parallel", base, gen, cfg.backupOptions(cfg.conc)); err != nil {
			return err
		}
		m := mem.New(mem.Options{})
		if err := t.measureOnce("restore into mem (load)", restoreFunc(ctx, stream, func() datomic.Conn { return m }, cfg.cacheSize, dcbackup.DecodeOptions{})); err != nil {
			return err
		}
		source = m
	}
	key, err := age.GenerateX25519Identity()
	if err != nil {
		return err
	}
	sealed := dcbackup.EncodeOptions{Recipients: []age.Recipient{key.Recipient()}}
	opener := dcbackup.DecodeOptions{Identities: []age.Identity{key}}
	encOpts := cfg.backupOptions(1)
	encOpts.Encode = sealed
	var store, sealedStore *dcbackup.FSStore
	if err := t.measurePair(
		"backup mem, serial", backupFunc(ctx, "backup mem, serial", base, source, cfg.backupOptions(1), &store),
		"backup mem, serial, encrypted", backupFunc(ctx, "backup mem, serial, encrypted", base, source, encOpts, &sealedStore),
	); err != nil {
		return err
	}
	if _, err := backupStage(ctx, t, "backup mem, parallel", base, source, cfg.backupOptions(cfg.conc)); err != nil {
		return err
	}
	if err := codecStages(ctx, t, store, sealed, opener); err != nil {
		return err
	}
	if err := jsonStages(ctx, t, source); err != nil {
		return err
	}
	nop := func() datomic.Conn { return benchwork.NewNopTarget() }
	if err := t.measurePair(
		"restore overhead (nop target)", restoreFunc(ctx, store, nop, cfg.cacheSize, dcbackup.DecodeOptions{}),
		"restore overhead, encrypted", restoreFunc(ctx, sealedStore, nop, cfg.cacheSize, opener),
	); err != nil {
		return err
	}
	memTarget := func() datomic.Conn { return mem.New(mem.Options{BootstrapShift: 100, ExtraBuiltins: true}) }
	if err := t.measurePair(
		"restore into mem", restoreFunc(ctx, store, memTarget, cfg.cacheSize, dcbackup.DecodeOptions{}),
		"restore into mem, encrypted", restoreFunc(ctx, sealedStore, memTarget, cfg.cacheSize, opener),
	); err != nil {
		return err
	}
	t.print(os.Stdout)
	summary(t, ednBytes)
	return nil
}

// codecStages decodes every segment of store (after reading the files)
// and encodes them again, each with one reused decoder or encoder; then
// the same encrypted with sealed and decrypted with opener.
func codecStages(ctx context.Context, t *table, store *dcbackup.FSStore, sealed dcbackup.EncodeOptions, opener dcbackup.DecodeOptions) error {
	infos, err := store.List(ctx, dbName, 0)
	if err != nil {
		return err
	}
	data := make([][]byte, len(infos))
	for i, info := range infos {
		if data[i], err = store.Load(ctx, dbName, info); err != nil {
			return err
		}
	}
	segs := make([]*dcbackup.Segment, len(infos))
	decode := func(data [][]byte, opts dcbackup.DecodeOptions) stageFunc {
		return func() (int, int64, string, error) {
			dec, err := dcbackup.NewSegmentDecoder(opts)
			if err != nil {
				return 0, 0, "", err
			}
			defer dec.Close()
			n, size := 0, int64(0)
			for i, info := range infos {
				if segs[i], err = dec.Decode(data[i], info); err != nil {
					return 0, 0, "", err
				}
				n += segs[i].DatomCount()
				size += int64(len(data[i]))
			}
			return n, size, "", nil
		}
	}
	encode := func(out [][]byte, opts dcbackup.EncodeOptions) stageFunc {
		return func() (int, int64, string, error) {
			enc, err := dcbackup.NewSegmentEncoder(opts)
			if err != nil {
				return 0, 0, "", err
			}
			defer enc.Close()
			n, size := 0, int64(0)
			for i, s := range segs {
				if out[i], err = enc.Encode(s); err != nil {
					return 0, 0, "", err
				}
				n += s.DatomCount()
				size += int64(len(out[i]))
			}
			return n, size, "", nil
		}
	}
	if err := t.measure("decode (verify+zstd+cbor)", decode(data, dcbackup.DecodeOptions{})); err != nil {
		return err
	}
	sealedData := make([][]byte, len(segs))
	if err := t.measurePair("encode (cbor+zstd+crc)", encode(make([][]byte, len(segs)), dcbackup.EncodeOptions{}),
		"encode+encrypt", encode(sealedData, sealed)); err != nil {
		return err
	}
	return t.measurePair("decode (verify+zstd+cbor), again", decode(data, dcbackup.DecodeOptions{}),
		"decode+decrypt", decode(sealedData, opener))
}

// jsonStages writes the source's log as JSON lines, one transaction each
// (the naive baseline), and compresses it with gzip and zstd.
func jsonStages(ctx context.Context, t *table, source datomic.Conn) error {
	var buf bytes.Buffer
	datoms := 0
	err := t.measure("baseline: encoding/json", func() (int, int64, string, error) {
		buf.Reset()
		datoms = 0
		enc := json.NewEncoder(&buf)
		for tx, err := range source.TxRange(ctx, 0, 0) {
			if err != nil {
				return 0, 0, "", err
			}
			if err := enc.Encode(tx); err != nil {
				return 0, 0, "", err
			}
			datoms += len(tx.Datoms)
		}
		return datoms, int64(buf.Len()), "", nil
	})
	if err != nil {
		return err
	}
	err = t.measure("baseline: json+gzip", func() (int, int64, string, error) {
		var out bytes.Buffer
		zw := gzip.NewWriter(&out)
		if _, err := zw.Write(buf.Bytes()); err != nil {
			return 0, 0, "", err
		}
		err := zw.Close()
		return datoms, int64(out.Len()), "", err
	})
	if err != nil {
		return err
	}
	return t.measure("baseline: json+zstd", func() (int, int64, string, error) {
		zw, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
		if err != nil {
			return 0, 0, "", err
		}
		defer zw.Close()
		out := zw.EncodeAll(buf.Bytes(), nil)
		return datoms, int64(len(out)), "", nil
	})
}

// summary prints the ratios the goals are stated in.
func summary(t *table, ednBytes int64) {
	fmt.Println()
	speedup := func(serial, parallel string) {
		s, ok1 := t.find(serial)
		p, ok2 := t.find(parallel)
		if ok1 && ok2 && p.dur > 0 {
			fmt.Printf("parallel/serial speedup (%s): %.2fx\n", parallel, s.dur.Seconds()/p.dur.Seconds())
		}
	}
	speedup("backup generated, serial", "backup generated, parallel")
	speedup("backup mem, serial", "backup mem, parallel")
	for _, p := range [][2]string{
		{"encode (cbor+zstd+crc)", "encode+encrypt"},
		{"decode (verify+zstd+cbor), again", "decode+decrypt"},
		{"backup mem, serial", "backup mem, serial, encrypted"},
		{"restore overhead (nop target)", "restore overhead, encrypted"},
		{"restore into mem", "restore into mem, encrypted"},
	} {
		plain, ok1 := t.find(p[0])
		sealed, ok2 := t.find(p[1])
		if ok1 && ok2 && plain.dur > 0 && plain.minCPU > 0 {
			fmt.Printf("encryption cost, %s: %+.1f%% wall (fastest runs), %+.1f%% CPU (least CPU time)\n", p[1],
				100*(sealed.dur.Seconds()/plain.dur.Seconds()-1), 100*(sealed.minCPU.Seconds()/plain.minCPU.Seconds()-1))
		}
	}
	seg, ok := t.find("backup mem, serial")
	if !ok {
		return
	}
	for _, b := range []string{"baseline: encoding/json", "baseline: json+gzip", "baseline: json+zstd"} {
		if r, ok := t.find(b); ok && r.bytes > 0 {
			fmt.Printf("segment bytes / %s bytes: %.1f%%\n", b[len("baseline: "):], 100*float64(seg.bytes)/float64(r.bytes))
		}
	}
	if ednBytes > 0 {
		fmt.Printf("segment bytes / EDN text bytes: %.1f%% (%d / %d)\n", 100*float64(seg.bytes)/float64(ednBytes), seg.bytes, ednBytes)
	}
}

// runBackupOnly backs a generated log, computed on the fly, up to the
// store in -dir (which it keeps).
func runBackupOnly(ctx context.Context, cfg config) error {
	if cfg.dir == "" {
		return fmt.Errorf("-mode backup needs -dir")
	}
	gen, err := benchwork.NewSource(ctx, benchwork.Config{Seed: 1, Datoms: cfg.datoms})
	if err != nil {
		return err
	}
	t := &table{repeat: cfg.repeat}
	store, err := newStore(cfg.dir, "store")
	if err != nil {
		return err
	}
	begin := time.Now()
	err = t.measureOnce(fmt.Sprintf("backup generated, %d workers", cfg.conc), func() (int, int64, string, error) {
		res, err := dcbackup.Backup(ctx, dbName, gen, store, cfg.backupOptions(cfg.conc))
		return res.Datoms, res.Bytes, fmt.Sprintf("%d segments, %d transactions", res.Segments, res.Transactions), err
	})
	if err != nil {
		return err
	}
	t.print(os.Stdout)
	fmt.Printf("whole process: %.1fs, peak RSS %d MiB\n", time.Since(begin).Seconds(), peakRSS()>>20)
	return nil
}

// runRestoreOnly restores the store in -dir into a new target.
func runRestoreOnly(ctx context.Context, cfg config) error {
	if cfg.dir == "" {
		return fmt.Errorf("-mode restore needs -dir")
	}
	store, err := newStore(cfg.dir, "store")
	if err != nil {
		return err
	}
	var target datomic.Conn = benchwork.NewNopTarget()
	if cfg.target == "mem" {
		target = mem.New(mem.Options{})
	}
	t := &table{repeat: cfg.repeat}
	if err := t.measureOnce("restore into "+cfg.target, restoreFunc(ctx, store, func() datomic.Conn { return target }, cfg.cacheSize, dcbackup.DecodeOptions{})); err != nil {
		return err
	}
	t.print(os.Stdout)
	return nil
}
