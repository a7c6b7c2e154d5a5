// Command quickstart runs dcbackup end to end on the embedded default: it
// loads the public MusicBrainz sample into an in-memory Datomic, changes
// some of it, backs the transaction log up to a filesystem store in a
// temporary directory, restores it into a fresh in-memory Datomic whose
// bootstrap ids differ, verifies the copy, and prints what happened.
//
//	go run ./examples/quickstart [-data ../shared/data/mbrainz] [-keep]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/edn"
	"github.com/dcbackup/dcbackup/datomic/mem"
)

func main() {
	data := flag.String("data", "../shared/data/mbrainz", "directory of the MusicBrainz sample (EDN batches)")
	split := flag.Int("split", 1000, "entity maps per loaded transaction (0: one transaction per batch)")
	keep := flag.Bool("keep", false, "keep the backup directory instead of removing it")
	flag.Parse()
	if err := run(context.Background(), *data, *split, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, dataDir string, split int, keep bool) error {
	if _, err := os.Stat(dataDir); err != nil {
		return fmt.Errorf("sample data not found (%w); pass -data DIR", err)
	}
	out := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	defer out.Flush()
	fmt.Fprintln(out, "step\ttransactions\tdatoms\tsegments\tbytes\tseconds\tdatoms/s\t")
	row := func(step string, txs, datoms, segs int, bytes int64, d time.Duration) {
		fmt.Fprintf(out, "%s\t%d\t%d\t%d\t%d\t%.3f\t%.0f\t\n", step, txs, datoms, segs, bytes, d.Seconds(), float64(datoms)/max(d.Seconds(), 1e-9))
	}

	// 1. A source database with history.
	source := mem.New(mem.Options{SharedCounter: true})
	ld, err := edn.LoadMBrainz(ctx, source, dataDir, edn.LoadOptions{SplitSize: split})
	if err != nil {
		return fmt.Errorf("load sample: %w", err)
	}
	row("load sample", ld.Transactions, int(ld.Datoms), 0, 0, ld.Duration)
	begin := time.Now()
	changes, err := changeSome(ctx, source)
	if err != nil {
		return err
	}
	row("changes", changes.txs, changes.datoms, 0, 0, time.Since(begin))

	// 2. Back up to the filesystem.
	dir, err := os.MkdirTemp("", "dcbackup-quickstart-")
	if err != nil {
		return err
	}
	if keep {
		fmt.Println("backup directory:", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	store, err := dcbackup.NewFSStore(dir)
	if err != nil {
		return err
	}
	bk, err := dcbackup.Backup(ctx, "mbrainz", source, store, nil)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	row("backup", bk.Transactions, bk.Datoms, bk.Segments, bk.Bytes, bk.Elapsed)

	// 3. Restore into a fresh database with another bootstrap layout.
	target := mem.New(mem.Options{BootstrapShift: 1000, ExtraBuiltins: true})
	rs, err := dcbackup.Restore(ctx, "mbrainz", store, target, nil)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	row("restore", rs.Transactions, rs.Datoms, rs.Segments, 0, rs.Elapsed)

	// 4. Verify.
	begin = time.Now()
	rep, err := dcbackup.Verify(ctx, source, target, nil)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	row("verify", rep.Transactions, rep.Datoms, 0, 0, time.Since(begin))
	out.Flush()
	if !rep.OK() {
		for _, d := range rep.Differences {
			fmt.Println("DIFFERENCE", d)
		}
		return fmt.Errorf("verify found %d differences", len(rep.Differences))
	}
	fmt.Printf("\nverified: %d transactions, %d datoms identical modulo ids; %.1f bytes/datom stored; %d id lookup requests, %d new entities\n",
		rep.Transactions, rep.Datoms, float64(bk.Bytes)/float64(max(bk.Datoms, 1)), rs.Remap.Lookups, rs.Remap.NewEntities)
	return nil
}

type counts struct{ txs, datoms int }

// changeSome updates, retracts and removes a few entities, so that the log
// holds more than assertions.
func changeSome(ctx context.Context, conn datomic.Conn) (counts, error) {
	gid := func(s string) datomic.LookupRef {
		u, err := datomic.ParseUUID(s)
		if err != nil {
			panic(err)
		}
		return datomic.LookupRef{A: datomic.Keyword("artist/gid"), V: u}
	}
	scorpions := gid("c3cceeed-3332-4cf0-8c4c-bbde425147b6")
	adamo := gid("d3132eab-36d1-476e-a736-cb6dbb08a4a2")
	txs := [][]datomic.Op{
		{datomic.Add{E: scorpions, A: datomic.Keyword("artist/name"), V: "Scorpions (renamed)"}},
		{datomic.Retract{E: adamo, A: datomic.Keyword("artist/startYear"), V: int64(1943)}},
		{datomic.RetractEntity{E: gid("7d61cf3c-d371-4507-9811-c3243cdb9194")}},
		{datomic.Add{E: scorpions, A: datomic.Keyword("artist/name"), V: "Scorpions"},
			datomic.Add{E: datomic.TxTempID, A: datomic.Keyword("db/doc"), V: "name restored"}},
	}
	var c counts
	for i, ops := range txs {
		rep, err := conn.Transact(ctx, ops)
		if err != nil {
			return c, fmt.Errorf("change %d: %w", i, err)
		}
		c.txs++
		c.datoms += len(rep.TxData)
	}
	return c, nil
}
