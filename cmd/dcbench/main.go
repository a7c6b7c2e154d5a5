// Command dcbench measures backup and restore stage by stage on a generated
// workload or the MusicBrainz sample and prints one table: stage, datoms,
// seconds, datoms/s, bytes, bytes/datom, allocations and peak RSS.
//
//	go run ./cmd/dcbench -datoms 1000000
//	go run ./cmd/dcbench -mbrainz ../shared/data/mbrainz
//
// The peak RSS column is the process's high-water mark during the stage
// (reset before each stage through /proc/self/clear_refs), so it includes
// whatever the earlier stages left in memory, such as an in-memory source.
// To measure the library's own memory on a large log, run one mode per
// process:
//
//	go run ./cmd/dcbench -mode backup  -datoms 10000000 -dir /tmp/dcb
//	go run ./cmd/dcbench -mode restore -datoms 10000000 -dir /tmp/dcb
//
// Mode backup backs a generated log, computed on the fly, up to -dir; mode
// restore restores -dir into a target that only hands out ids. Neither
// holds the database in memory.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/internal/benchwork"
)

func main() {
	var cfg config
	flag.IntVar(&cfg.datoms, "datoms", 1_000_000, "size of the generated workload, in datoms")
	flag.StringVar(&cfg.mbrainz, "mbrainz", "", "use the MusicBrainz sample in this directory instead of a generated workload")
	flag.StringVar(&cfg.dir, "dir", "", "directory for the stores (default: a new temporary directory, removed at the end); use /dev/shm to leave the disk out")
	flag.IntVar(&cfg.conc, "conc", runtime.GOMAXPROCS(0), "workers of the parallel backup")
	flag.StringVar(&cfg.mode, "mode", "all", "all | backup | restore | latency | peer (backup and restore: one stage, for a clean peak RSS)")
	flag.StringVar(&cfg.target, "target", "nop", "restore mode's target: nop (ids only) or mem")
	flag.IntVar(&cfg.maxDatoms, "segment-datoms", 0, "MaxDatomsPerSegment of the backups (0: the default)")
	flag.IntVar(&cfg.cacheSize, "cache", 0, "RestoreOptions.CacheSize of the restores (0: the default, 1<<20 ids)")
	flag.IntVar(&cfg.repeat, "repeat", 1, "runs of each repeatable stage in mode all; the fastest is reported")
	flag.DurationVar(&cfg.latency, "latency", 20*time.Millisecond, "mode latency: delay added to every Load, LoadHead, List and Last of the store")
	flag.IntVar(&cfg.latencySegments, "latency-segments", 1000, "mode latency: number of one-transaction segments")
	flag.IntVar(&cfg.prefetch, "prefetch", 0, "mode latency: RestoreOptions.Prefetch of the restores (0: the default)")
	flag.IntVar(&cfg.peerTxs, "peer-txs", 2001, "mode peer: transactions of the generated log")
	flag.IntVar(&cfg.peerEntities, "peer-entities", 20, "mode peer: entities each generated transaction creates (about 9 datoms each)")
	flag.IntVar(&cfg.peerCache, "peer-cache", 1000, "mode peer: the small RestoreOptions.CacheSize compared with the default")
	flag.StringVar(&cfg.profileDir, "profile-dir", "", "mode peer: write CPU profiles of the client and the server of the protocol stages to this directory")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile to this file")
	if code, ok := peerServerMain(); ok {
		os.Exit(code)
	}
	flag.Parse()
	if *cpuprofile != "" && cfg.profileDir != "" {
		fatal(errors.New("-cpuprofile and -profile-dir exclude each other (one CPU profile at a time)"))
	}

	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	if err := run(context.Background(), cfg); err != nil {
		pprof.StopCPUProfile()
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "dcbench:", err)
	os.Exit(1)
}

type config struct {
	datoms    int
	mbrainz   string
	dir       string
	conc      int
	mode      string
	target    string
	maxDatoms int
	repeat    int
	cacheSize int
	// latency and latencySegments shape mode latency.
	latency         time.Duration
	latencySegments int
	prefetch        int
	// peerTxs, peerEntities, peerCache and profileDir shape mode peer.
	peerTxs      int
	peerEntities int
	peerCache    int
	profileDir   string
}

func (c config) backupOptions(conc int) *dcbackup.BackupOptions {
	return &dcbackup.BackupOptions{Concurrency: conc, MaxDatomsPerSegment: c.maxDatoms}
}

// peerWorkload is the generated log of mode peer.
func (c config) peerWorkload() benchwork.Config {
	return benchwork.Config{Seed: 1, Transactions: c.peerTxs, EntitiesPerTx: c.peerEntities}
}

func run(ctx context.Context, cfg config) error {
	fmt.Printf("dcbench: %s, GOMAXPROCS %d, NumCPU %d\n", runtime.Version(), runtime.GOMAXPROCS(0), runtime.NumCPU())
	switch cfg.mode {
	case "all":
		return runAll(ctx, cfg)
	case "backup":
		return runBackupOnly(ctx, cfg)
	case "restore":
		return runRestoreOnly(ctx, cfg)
	case "latency":
		return runLatency(ctx, cfg)
	case "peer":
		return runPeer(ctx, cfg)
	}
	return fmt.Errorf("unknown -mode %q", cfg.mode)
}
