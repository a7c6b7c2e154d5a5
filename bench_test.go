package dcbackup_test

import (
	"context"
	"flag"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/edn"
	"github.com/dcbackup/dcbackup/datomic/mem"
	"github.com/dcbackup/dcbackup/datomic/peer"
	"github.com/dcbackup/dcbackup/datomic/peer/peertest"
	"github.com/dcbackup/dcbackup/internal/benchwork"
)

// The stage benchmarks run every stage of backup and restore on two
// workloads: a generated log (-dcbench.datoms datoms) and the MusicBrainz
// sample. Each reports datoms/s; the restore stages also report the remap
// cache hit rate and the original-id lookups.
//
//	go test -run '^$' -bench BenchmarkStages -benchtime 3x [-dcbench.datoms 1000000] [-dcbench.dir /dev/shm] .

// benchStageDatoms sizes the generated workload.
var benchStageDatoms = flag.Int("dcbench.datoms", 200_000, "datoms of the generated workload of BenchmarkStages")

// benchStoreDir, when set, holds the benchmarks' filesystem stores (for
// example /dev/shm, to leave the disk's fsync out).
var benchStoreDir = flag.String("dcbench.dir", "", "directory for the filesystem stores of BenchmarkStages (default: a test temporary directory)")

// benchDir returns a new directory for a store.
func benchDir(b *testing.B) string {
	if *benchStoreDir == "" {
		return b.TempDir()
	}
	d, err := os.MkdirTemp(*benchStoreDir, "dcbench-")
	require.NoError(b, err)
	b.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// benchWorkload is a source database with its backup.
type benchWorkload struct {
	name   string
	source datomic.Conn      // an in-memory database
	stream datomic.Conn      // the same log computed on the fly (generated only)
	store  *dcbackup.FSStore // the source's backup
	segs   []*dcbackup.Segment
	infos  []dcbackup.SegmentInfo
	datoms int
}

func BenchmarkStages(b *testing.B) {
	ctx := context.Background()
	b.Run("generated", func(b *testing.B) {
		src, err := benchwork.NewSource(ctx, benchwork.Config{Seed: 1, Datoms: *benchStageDatoms})
		require.NoError(b, err)
		// The in-memory source is the generated log restored into mem: a
		// real database with the same history.
		m := mem.New(mem.Options{})
		store := dcbackup.NewMemStore()
		_, err = dcbackup.Backup(ctx, "gen", src, store, nil)
		require.NoError(b, err)
		_, err = dcbackup.Restore(ctx, "gen", store, m, nil)
		require.NoError(b, err)
		w := prepareWorkload(b, "gen", m)
		w.stream = src
		runStages(b, w)
	})
	b.Run("mbrainz", func(b *testing.B) {
		dir := mbrainzDir(b)
		m := mem.New(mem.Options{SharedCounter: true})
		_, err := edn.LoadMBrainz(ctx, m, dir, edn.LoadOptions{SplitSize: 1000})
		require.NoError(b, err)
		runStages(b, prepareWorkload(b, "mbrainz", m))
	})
}

// prepareWorkload backs source up once into a filesystem store and decodes
// the segments for the encode and decode stages.
func prepareWorkload(b *testing.B, name string, source datomic.Conn) *benchWorkload {
	ctx := context.Background()
	store, err := dcbackup.NewFSStore(benchDir(b))
	require.NoError(b, err)
	res, err := dcbackup.Backup(ctx, name, source, store, nil)
	require.NoError(b, err)
	w := &benchWorkload{name: name, source: source, store: store, datoms: res.Datoms}
	infos, err := store.List(ctx, name, 0)
	require.NoError(b, err)
	for _, info := range infos {
		data, err := store.Load(ctx, name, info)
		require.NoError(b, err)
		seg, err := dcbackup.DecodeSegment(data, info, dcbackup.DecodeOptions{})
		require.NoError(b, err)
		if len(seg.Txs) > 0 {
			w.segs = append(w.segs, seg)
			w.infos = append(w.infos, info)
		}
	}
	return w
}

// cpuClock returns a function that reports the process CPU time (user and
// system) since cpuClock was called. On a shared machine, datoms per CPU
// second is steadier than datoms per second.
func cpuClock() func() time.Duration {
	now := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			return 0
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := now()
	return func() time.Duration { return now() - start }
}

func reportDatoms(b *testing.B, datoms int, cpu func() time.Duration) {
	b.ReportMetric(float64(datoms)/b.Elapsed().Seconds(), "datoms/s")
	if c := cpu(); c > 0 {
		b.ReportMetric(float64(datoms)/c.Seconds(), "datoms/cpu-s")
	}
}

func runStages(b *testing.B, w *benchWorkload) {
	ctx := context.Background()
	backup := func(src datomic.Conn, conc int) func(b *testing.B) {
		return func(b *testing.B) {
			dir := benchDir(b)
			total, bytes := 0, int64(0)
			b.ReportAllocs()
			cpu := cpuClock()
			for b.Loop() {
				sub, err := os.MkdirTemp(dir, "run")
				require.NoError(b, err)
				store, err := dcbackup.NewFSStore(sub)
				require.NoError(b, err)
				res, err := dcbackup.Backup(ctx, w.name, src, store, &dcbackup.BackupOptions{Concurrency: conc})
				require.NoError(b, err)
				total += res.Datoms
				bytes = res.Bytes
			}
			reportDatoms(b, total, cpu)
			b.ReportMetric(float64(bytes)/float64(w.datoms), "bytes/datom")
		}
	}
	b.Run("backup-serial", backup(w.source, 1))
	b.Run("backup-parallel", backup(w.source, 0))
	if w.stream != nil {
		b.Run("backup-stream-serial", backup(w.stream, 1))
		b.Run("backup-stream-parallel", backup(w.stream, 0))
	}
	b.Run("encode", func(b *testing.B) {
		enc, err := dcbackup.NewSegmentEncoder(dcbackup.EncodeOptions{})
		require.NoError(b, err)
		defer enc.Close()
		b.ReportAllocs()
		cpu := cpuClock()
		for b.Loop() {
			for _, s := range w.segs {
				if _, err := enc.Encode(s); err != nil {
					b.Fatal(err)
				}
			}
		}
		reportDatoms(b, w.datoms*b.N, cpu)
	})
	b.Run("decode", func(b *testing.B) {
		enc, err := dcbackup.NewSegmentEncoder(dcbackup.EncodeOptions{})
		require.NoError(b, err)
		defer enc.Close()
		data := make([][]byte, len(w.segs))
		for i, s := range w.segs {
			data[i], err = enc.Encode(s)
			require.NoError(b, err)
		}
		dec, err := dcbackup.NewSegmentDecoder(dcbackup.DecodeOptions{})
		require.NoError(b, err)
		defer dec.Close()
		b.ReportAllocs()
		cpu := cpuClock()
		for b.Loop() {
			for i, d := range data {
				if _, err := dec.Decode(d, w.infos[i]); err != nil {
					b.Fatal(err)
				}
			}
		}
		reportDatoms(b, w.datoms*b.N, cpu)
	})
	b.Run("check", func(b *testing.B) {
		b.ReportAllocs()
		cpu := cpuClock()
		for b.Loop() {
			rep, err := dcbackup.Check(ctx, w.name, w.store, nil)
			require.NoError(b, err)
			require.True(b, rep.OK())
		}
		reportDatoms(b, w.datoms*b.N, cpu)
	})
	restore := func(target func() datomic.Conn) func(b *testing.B) {
		return func(b *testing.B) {
			var st dcbackup.RemapStats
			total := 0
			b.ReportAllocs()
			cpu := cpuClock()
			for b.Loop() {
				res, err := dcbackup.Restore(ctx, w.name, w.store, target(), nil)
				require.NoError(b, err)
				total += res.Datoms
				st = res.Remap
			}
			reportDatoms(b, total, cpu)
			b.ReportMetric(100*float64(st.CacheHits)/float64(max(st.CacheHits+st.CacheMisses, 1)), "hit%")
			b.ReportMetric(float64(st.Lookups), "lookups")
			b.ReportMetric(float64(st.LookupRefs), "lookup-refs")
		}
	}
	b.Run("restore-overhead", restore(func() datomic.Conn { return benchwork.NewNopTarget() }))
	b.Run("restore-mem", restore(func() datomic.Conn { return mem.New(mem.Options{BootstrapShift: 100}) }))
}

// benchLatency is the delay BenchmarkLatencyRestore adds to every read.
var benchLatency = flag.Duration("dcbench.latency", 5*time.Millisecond, "delay added to every store read of BenchmarkLatencyRestore")

// BenchmarkLatencyRestore restores 400 one-transaction segments
// (BackupNext with MaxTxPerSegment 1) from a store that adds
// -dcbench.latency to every read, with the default options, then the same
// store after Compact. x-floor is the time over the serial floor (one
// latency per segment of the uncompacted store).
//
//	go test -run '^$' -bench BenchmarkLatencyRestore -benchtime 3x [-dcbench.latency 20ms] .
func BenchmarkLatencyRestore(b *testing.B) {
	ctx := context.Background()
	src, err := benchwork.NewSource(ctx, benchwork.Config{Seed: 1, Transactions: 400})
	require.NoError(b, err)
	inner := dcbackup.NewMemStore()
	bk, err := benchwork.BackupOneTxSegments(ctx, "gen", src, inner)
	require.NoError(b, err)
	store := benchwork.NewLatencyStore(inner, *benchLatency)
	floor := time.Duration(bk.Segments) * *benchLatency
	restore := func(b *testing.B) {
		segs, err := inner.List(ctx, "gen", 0)
		require.NoError(b, err)
		before := store.Requests()
		for b.Loop() {
			res, err := dcbackup.Restore(ctx, "gen", store, benchwork.NewNopTarget(), nil)
			require.NoError(b, err)
			require.Equal(b, bk.Transactions, res.Transactions)
		}
		perOp := b.Elapsed().Seconds() / float64(b.N)
		b.ReportMetric(float64(len(segs)), "segments")
		b.ReportMetric(float64(len(segs))/perOp, "segments/s")
		b.ReportMetric(perOp/floor.Seconds(), "x-floor")
		b.ReportMetric(float64(store.Requests().Sub(before).Total())/float64(b.N)/float64(len(segs)), "requests/segment")
	}
	b.Run("one-tx-segments", restore)
	_, err = dcbackup.Compact(ctx, "gen", store, nil)
	require.NoError(b, err)
	b.Run("compacted", restore)
}

// BenchmarkPeer restores and backs up the generated log of 500
// transactions (refs to random older entities) through the fake
// peer-server over loopback HTTPS, in this process (dcbench -mode peer
// runs the server in another process, to tell the client's CPU time from
// the server's). The restore uses an id cache of 1000 ids.
//
//	go test -run '^$' -bench BenchmarkPeer -benchtime 3x -cpuprofile cpu.out .
func BenchmarkPeer(b *testing.B) {
	ctx := context.Background()
	src, err := benchwork.NewSource(ctx, benchwork.Config{Seed: 1, Transactions: 500})
	require.NoError(b, err)
	store := dcbackup.NewMemStore()
	bk, err := dcbackup.Backup(ctx, "gen", src, store, nil)
	require.NoError(b, err)
	b.Run("restore", func(b *testing.B) {
		var st dcbackup.RemapStats
		transacts := 0
		b.ReportAllocs()
		var restoring time.Duration
		for b.Loop() {
			// A fresh server and target each time, started and stopped
			// outside the measured restore.
			srv := peertest.Start(mem.New(mem.Options{BootstrapShift: 100}), peertest.Options{})
			conn, err := peer.Connect(ctx, srv.Config())
			require.NoError(b, err)
			begin := time.Now()
			res, err := dcbackup.Restore(ctx, "gen", store, conn, &dcbackup.RestoreOptions{CacheSize: 1000})
			restoring += time.Since(begin)
			require.NoError(b, err)
			conn.Close()
			st = res.Remap
			transacts = srv.Requests("transact")
			srv.Close()
		}
		perTx := restoring.Seconds() / float64(b.N) / float64(bk.Transactions)
		b.ReportMetric(perTx*1e6, "µs/tx")
		b.ReportMetric(float64(st.Lookups)/float64(bk.Transactions), "lookups/tx")
		b.ReportMetric(float64(st.LookupRefs), "lookup-refs")
		b.ReportMetric(float64(transacts)/float64(bk.Transactions), "transacts/tx")
	})
	m := mem.New(mem.Options{})
	_, err = dcbackup.Restore(ctx, "gen", store, m, nil)
	require.NoError(b, err)
	srv := peertest.NewServer(b, m)
	conn, err := peer.Connect(ctx, srv.Config())
	require.NoError(b, err)
	defer conn.Close()
	b.Run("backup", func(b *testing.B) {
		datoms, txs := 0, 0
		b.ReportAllocs()
		for b.Loop() {
			res, err := dcbackup.Backup(ctx, "gen", conn, dcbackup.NewMemStore(), nil)
			require.NoError(b, err)
			datoms, txs = res.Datoms, res.Transactions
		}
		perOp := b.Elapsed().Seconds() / float64(b.N)
		b.ReportMetric(float64(datoms)/perOp, "datoms/s")
		b.ReportMetric(perOp/float64(txs)*1e6, "µs/tx")
	})
}
