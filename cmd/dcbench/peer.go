package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/internal/benchwork"
)

// peerRun is one timed restore or backup, direct or through the
// peer-server protocol.
type peerRun struct {
	dur, cpu  time.Duration
	serverCPU time.Duration // the child's, through the protocol only
	txs       int
	datoms    int
	requests  map[string]int // through the protocol only
	remap     *dcbackup.RemapStats
}

func (r peerRun) totalRequests() int {
	n := 0
	for _, c := range r.requests {
		n += c
	}
	return n
}

// runPeer measures restore and backup through the peer-server protocol
// (the fake server of package peertest, in a child process, over loopback
// HTTPS) against the same work done directly on the in-memory engine: the
// generated log of -peer-txs transactions, whose refs point at random
// older entities, restored with the default id cache and with -peer-cache
// ids. Of -repeat runs, each stage keeps the one with the least client CPU
// time.
func runPeer(ctx context.Context, cfg config) error {
	if cfg.peerTxs < 1 {
		return fmt.Errorf("-peer-txs %d: want at least 1", cfg.peerTxs)
	}
	if cfg.profileDir != "" {
		if err := os.MkdirAll(cfg.profileDir, 0o755); err != nil {
			return err
		}
	}
	src, err := benchwork.NewSource(ctx, cfg.peerWorkload())
	if err != nil {
		return err
	}
	store := dcbackup.NewMemStore()
	bk, err := dcbackup.Backup(ctx, dbName, src, store, nil)
	if err != nil {
		return err
	}
	g := &grid{header: []string{"stage", "txs", "datoms", "seconds", "datoms/s", "µs/tx", "client CPU s", "client CPU µs/tx",
		"server CPU µs/tx", "requests/tx", "lookups", "lookups/tx", "lookup refs", "cache hit%"}}
	g.note("workload: the generated log, %d transactions (two of schema; each other creates %d entities, each with a ref to a random older one), %d datoms, %d segments",
		bk.Transactions, src.EntitiesPerTx(), bk.Datoms, bk.Segments)
	add := func(stage string, r peerRun) {
		txs := float64(r.txs)
		cells := []string{stage, itoa(int64(r.txs)), itoa(int64(r.datoms)), secs(r.dur), per(float64(r.datoms), r.dur.Seconds(), 0),
			per(float64(r.dur.Microseconds()), txs, 0), secs(r.cpu), per(float64(r.cpu.Microseconds()), txs, 0)}
		if r.requests != nil {
			cells = append(cells, per(float64(r.serverCPU.Microseconds()), txs, 0), per(float64(r.totalRequests()), txs, 3))
			g.note("%s: requests %s", stage, formatRequests(r.requests))
		} else {
			cells = append(cells, "", "")
		}
		if st := r.remap; st != nil {
			cells = append(cells, itoa(st.Lookups), per(float64(st.Lookups), txs, 4), itoa(st.LookupRefs),
				per(100*float64(st.CacheHits), float64(st.CacheHits+st.CacheMisses), 1))
		} else {
			cells = append(cells, "", "", "", "")
		}
		g.add(cells...)
		fmt.Fprintf(os.Stderr, "  %-40s %8.3fs, client CPU %.3fs\n", stage, r.dur.Seconds(), r.cpu.Seconds())
	}

	restoreDirect := func(target func() datomic.Conn, cache int) func(int) (peerRun, error) {
		return func(int) (peerRun, error) {
			return timed(func() (peerRun, error) {
				res, err := dcbackup.Restore(ctx, dbName, store, target(), &dcbackup.RestoreOptions{CacheSize: cache})
				return peerRun{txs: res.Transactions, datoms: res.Datoms, remap: &res.Remap}, err
			})
		}
	}
	// The first run of a stage named prof writes prof-client.pprof and
	// prof-server.pprof.
	profiles := func(run int, prof string, spec *serverSpec) (client string) {
		if run > 0 || prof == "" || cfg.profileDir == "" {
			return ""
		}
		spec.Profile = filepath.Join(cfg.profileDir, prof+"-server.pprof")
		return filepath.Join(cfg.profileDir, prof+"-client.pprof")
	}
	restorePeer := func(cache int, prof string) func(int) (peerRun, error) {
		return func(run int) (peerRun, error) {
			spec := serverSpec{Serve: "target"}
			client := profiles(run, prof, &spec)
			return viaPeer(ctx, spec, client, func(conn datomic.Conn) (peerRun, error) {
				res, err := dcbackup.Restore(ctx, dbName, store, conn, &dcbackup.RestoreOptions{CacheSize: cache})
				return peerRun{txs: res.Transactions, datoms: res.Datoms, remap: &res.Remap}, err
			})
		}
	}
	nop := func() datomic.Conn { return benchwork.NewNopTarget() }
	memTarget := func() datomic.Conn { return newMemTarget() }
	small := cfg.peerCache
	type stage struct {
		name string
		run  func(int) (peerRun, error)
	}
	stages := []stage{
		{"restore, nop target (library only)", restoreDirect(nop, 0)},
		{"restore into mem, direct", restoreDirect(memTarget, 0)},
		{"restore via peer", restorePeer(0, "peer-restore")},
		{fmt.Sprintf("restore into mem, direct, cache %d", small), restoreDirect(memTarget, small)},
		{fmt.Sprintf("restore via peer, cache %d", small), restorePeer(small, "")},
	}
	source, err := generatedMem(ctx, cfg.peerWorkload())
	if err != nil {
		return err
	}
	backupOpts := cfg.backupOptions(cfg.conc)
	stages = append(stages,
		stage{"backup mem, direct", func(int) (peerRun, error) {
			return timed(func() (peerRun, error) {
				res, err := dcbackup.Backup(ctx, dbName, source, dcbackup.NewMemStore(), backupOpts)
				return peerRun{txs: res.Transactions, datoms: res.Datoms}, err
			})
		}},
		stage{"backup via peer", func(run int) (peerRun, error) {
			spec := serverSpec{Serve: "source", Workload: cfg.peerWorkload()}
			client := profiles(run, "peer-backup", &spec)
			return viaPeer(ctx, spec, client, func(conn datomic.Conn) (peerRun, error) {
				res, err := dcbackup.Backup(ctx, dbName, conn, dcbackup.NewMemStore(), backupOpts)
				return peerRun{txs: res.Transactions, datoms: res.Datoms}, err
			})
		}},
	)
	results := map[string]peerRun{}
	for _, s := range stages {
		var best peerRun
		for i := range max(cfg.repeat, 1) {
			r, err := s.run(i)
			if err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
			if i == 0 || r.cpu < best.cpu {
				best = r
			}
		}
		results[s.name] = best
		add(s.name, best)
	}
	ratio := func(what, peerStage, directStage string) {
		p, d := results[peerStage], results[directStage]
		if d.dur > 0 && d.cpu > 0 && p.txs > 0 {
			g.note("%s: %.1f µs of client CPU per transaction through the protocol against %.1f directly (%.2fx CPU); wall time %.2fx, %.0f against %.0f datoms/s",
				what, float64(p.cpu.Microseconds())/float64(p.txs), float64(d.cpu.Microseconds())/float64(d.txs), p.cpu.Seconds()/d.cpu.Seconds(),
				p.dur.Seconds()/d.dur.Seconds(), float64(p.datoms)/p.dur.Seconds(), float64(d.datoms)/d.dur.Seconds())
		}
	}
	ratio("restore", "restore via peer", "restore into mem, direct")
	ratio("backup", "backup via peer", "backup mem, direct")
	if cfg.profileDir != "" {
		g.note("CPU profiles in %s: go tool pprof -top %s", cfg.profileDir, filepath.Join(cfg.profileDir, "peer-restore-client.pprof"))
	}
	g.print(os.Stdout)
	return nil
}

// timed runs f and measures its wall and CPU time.
func timed(f func() (peerRun, error)) (peerRun, error) {
	cpu0 := cpuTime()
	begin := time.Now()
	r, err := f()
	r.dur, r.cpu = time.Since(begin), cpuTime()-cpu0
	return r, err
}

// viaPeer starts a child serving spec, runs f on a connection to it
// (profiled into clientProfile when set), and adds what the child
// reports.
func viaPeer(ctx context.Context, spec serverSpec, clientProfile string, f func(datomic.Conn) (peerRun, error)) (peerRun, error) {
	srv, err := startPeerServer(ctx, spec)
	if err != nil {
		return peerRun{}, err
	}
	var stop func()
	if clientProfile != "" {
		if stop, err = startProfile(clientProfile); err != nil {
			_, serr := srv.stop()
			return peerRun{}, fmt.Errorf("%w (%v)", err, serr)
		}
	}
	r, err := timed(func() (peerRun, error) { return f(srv.conn) })
	if stop != nil {
		stop()
	}
	bye, serr := srv.stop()
	if err != nil {
		return r, err
	}
	if serr != nil {
		return r, serr
	}
	r.serverCPU, r.requests = bye.CPU, bye.Requests
	return r, nil
}

// formatRequests lists the non-zero request counts by operation.
func formatRequests(m map[string]int) string {
	var parts []string
	for op, n := range m {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", strings.TrimPrefix(op, "datomic.catalog/"), n))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}
