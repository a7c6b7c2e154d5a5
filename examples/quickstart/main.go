// Command quickstart runs dcbackup end to end on the embedded in-memory
// Datomic: it writes a database with history (by default a generated web
// shop's, see shop.go; with -data the public MusicBrainz sample), backs
// its transaction log up to a filesystem store in a temporary directory,
// restores the store into a fresh in-memory Datomic whose bootstrap ids
// differ, verifies the copy datom by datom, and prints what happened.
//
//	go run ./examples/quickstart                         # the generated shop
//	go run ./examples/quickstart -data ../data/mbrainz   # the MusicBrainz sample
//	go run ./examples/quickstart -keep -v                # keep the store, log at Debug level
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"text/tabwriter"
	"time"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/edn"
	"github.com/dcbackup/dcbackup/datomic/mem"
)

func main() {
	data := flag.String("data", "", "load the MusicBrainz sample from this directory (EDN batches) instead of generating a database")
	days := flag.Int("days", 72, "days of shop history to generate")
	split := flag.Int("split", 1000, "with -data: entity maps per loaded transaction (0: one transaction per batch)")
	keep := flag.Bool("keep", false, "keep the backup directory instead of removing it")
	verbose := flag.Bool("v", false, "log at Debug level (the default, Info, logs every segment written and restored)")
	flag.Parse()

	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cfg := config{data: *data, days: *days, split: *split, keep: *keep, logger: logger}
	if err := run(ctx, os.Stdout, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

type config struct {
	data   string // MusicBrainz sample directory; empty: generate a shop
	days   int    // days of generated history
	split  int    // entity maps per transaction when loading the sample
	keep   bool   // keep the backup directory
	logger *slog.Logger
}

// run writes the source, backs it up, restores it, verifies the copy and
// prints a table of the steps on w.
func run(ctx context.Context, w io.Writer, cfg config) error {
	table := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(table, "step\ttransactions\tdatoms\tsegments\tbytes\tseconds\tdatoms/s\t")
	row := func(step string, txs, datoms, segs int, bytes int64, d time.Duration) {
		fmt.Fprintf(table, "%s\t%d\t%d\t%d\t%d\t%.3f\t%.0f\t\n", step, txs, datoms, segs, bytes, d.Seconds(), float64(datoms)/max(d.Seconds(), 1e-9))
	}

	// 1. A source database with history. SharedCounter numbers
	// transactions and entities from one counter, as Datomic Pro does, so
	// t has gaps.
	source := mem.New(mem.Options{SharedCounter: true})
	name := "shop"
	if cfg.data == "" {
		begin := time.Now()
		txs, datoms, err := generateShop(ctx, source, cfg.days)
		if err != nil {
			return err
		}
		row("generate", txs, datoms, 0, 0, time.Since(begin))
	} else {
		name = "mbrainz"
		if err := loadSample(ctx, source, cfg, row); err != nil {
			return err
		}
	}

	// 2. Back the log up to a filesystem store.
	dir, err := os.MkdirTemp("", "dcbackup-quickstart-")
	if err != nil {
		return err
	}
	if cfg.keep {
		defer fmt.Fprintln(w, "backup directory:", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	store, err := dcbackup.NewFSStore(dir)
	if err != nil {
		return err
	}
	bk, err := dcbackup.Backup(ctx, name, source, store, &dcbackup.BackupOptions{Logger: cfg.logger})
	if err != nil {
		return err
	}
	row("backup", bk.Transactions, bk.Datoms, bk.Segments, bk.Bytes, bk.Elapsed)

	// 3. Restore into a fresh database whose bootstrap entities (the
	// :db/* idents, value types) have other ids, as another Datomic
	// version's would.
	target := mem.New(mem.Options{BootstrapShift: 1000, ExtraBuiltins: true})
	rs, err := dcbackup.Restore(ctx, name, store, target, &dcbackup.RestoreOptions{Logger: cfg.logger})
	if err != nil {
		return err
	}
	row("restore", rs.Transactions, rs.Datoms, rs.Segments, 0, rs.Elapsed)

	// 4. Compare source and target transaction by transaction.
	begin := time.Now()
	rep, err := dcbackup.Verify(ctx, source, target, nil)
	if err != nil {
		return err
	}
	row("verify", rep.Transactions, rep.Datoms, 0, 0, time.Since(begin))
	if err := table.Flush(); err != nil {
		return err
	}
	if !rep.OK() {
		for _, d := range rep.Differences {
			fmt.Fprintln(w, "DIFFERENCE", d)
		}
		return fmt.Errorf("verify found %d differences", len(rep.Differences))
	}
	fmt.Fprintf(w, "\nverified: %d transactions, %d datoms identical modulo ids; %.1f bytes/datom stored; %d id lookup requests, %d new entities\n",
		rep.Transactions, rep.Datoms, float64(bk.Bytes)/float64(max(bk.Datoms, 1)), rs.Remap.Lookups, rs.Remap.NewEntities)
	return nil
}

// loadSample loads the MusicBrainz sample into conn and changes some of
// it, so that the log holds more than assertions.
func loadSample(ctx context.Context, conn datomic.Conn, cfg config, row func(string, int, int, int, int64, time.Duration)) error {
	if _, err := os.Stat(cfg.data); err != nil {
		return fmt.Errorf("MusicBrainz sample: %w", err)
	}
	ld, err := edn.LoadMBrainz(ctx, conn, cfg.data, edn.LoadOptions{SplitSize: cfg.split})
	if err != nil {
		return fmt.Errorf("load sample: %w", err)
	}
	row("load sample", ld.Transactions, int(ld.Datoms), 0, 0, ld.Duration)
	begin := time.Now()
	gid := func(s string) datomic.LookupRef {
		u, err := datomic.ParseUUID(s)
		if err != nil {
			panic(err) // the constants below are valid
		}
		return datomic.LookupRef{A: datomic.Keyword("artist/gid"), V: u}
	}
	scorpions := gid("c3cceeed-3332-4cf0-8c4c-bbde425147b6")
	adamo := gid("d3132eab-36d1-476e-a736-cb6dbb08a4a2")
	changes := [][]datomic.Op{
		{datomic.Add{E: scorpions, A: datomic.Keyword("artist/name"), V: "Scorpions (renamed)"}},
		{datomic.Retract{E: adamo, A: datomic.Keyword("artist/startYear"), V: int64(1943)}},
		{datomic.RetractEntity{E: gid("7d61cf3c-d371-4507-9811-c3243cdb9194")}},
		{datomic.Add{E: scorpions, A: datomic.Keyword("artist/name"), V: "Scorpions"},
			datomic.Add{E: datomic.TxTempID, A: datomic.Keyword("db/doc"), V: "name restored"}},
	}
	datoms := 0
	for i, ops := range changes {
		rep, err := conn.Transact(ctx, ops)
		if err != nil {
			return fmt.Errorf("change %d: %w", i, err)
		}
		datoms += len(rep.TxData)
	}
	row("changes", len(changes), datoms, 0, 0, time.Since(begin))
	return nil
}
