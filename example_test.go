package dcbackup_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/mem"
)

// exampleSource returns a small database: one attribute and three people,
// one of whom is renamed.
func exampleSource() datomic.Conn {
	ctx := context.Background()
	conn := mem.New(mem.Options{})
	must := func(_ datomic.TxReport, err error) {
		if err != nil {
			log.Fatal(err)
		}
	}
	must(conn.Transact(ctx, []datomic.Op{datomic.EntityMap{
		"db/ident":       datomic.Keyword("person/name"),
		"db/valueType":   datomic.Keyword("db.type/string"),
		"db/cardinality": datomic.Keyword("db.cardinality/one"),
		"db/unique":      datomic.Keyword("db.unique/identity"),
	}}))
	for _, name := range []string{"Ada", "Grace", "Edsger"} {
		must(conn.Transact(ctx, []datomic.Op{datomic.EntityMap{"person/name": name}}))
	}
	must(conn.Transact(ctx, []datomic.Op{datomic.Add{
		E: datomic.LookupRef{A: datomic.Keyword("person/name"), V: "Ada"},
		A: datomic.Keyword("person/name"), V: "Ada Lovelace",
	}}))
	return conn
}

// Back up a database to a directory, restore it into a fresh database and
// check the copy.
func Example() {
	ctx := context.Background()
	source := exampleSource()

	dir, _ := os.MkdirTemp("", "dcbackup-example-")
	defer os.RemoveAll(dir)
	store, err := dcbackup.NewFSStore(dir)
	if err != nil {
		log.Fatal(err)
	}
	bk, err := dcbackup.Backup(ctx, "people", source, store, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("backed up transactions:", bk.Transactions)

	target := mem.New(mem.Options{})
	rs, err := dcbackup.Restore(ctx, "people", store, target, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("restored transactions:", rs.Transactions)

	rep, err := dcbackup.Verify(ctx, source, target, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("identical:", rep.OK())
	// Output:
	// backed up transactions: 5
	// restored transactions: 5
	// identical: true
}

// A scheduler calls BackupNext every minute; each call writes at most one
// segment of what is new.
func ExampleBackupNext() {
	ctx := context.Background()
	source := exampleSource()
	store := dcbackup.NewMemStore()
	for {
		res, err := dcbackup.BackupNext(ctx, "people", source, store, &dcbackup.BackupOptions{MaxTxPerSegment: 2})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("wrote %d segment(s), %d transactions, store covers t < %d\n", res.Segments, res.Transactions, res.EndT)
		if !res.More {
			break
		}
	}
	last, _, _ := dcbackup.LastSegmentInfo(ctx, "people", store)
	fmt.Println("next backup starts at t", last.EndT)
	// Output:
	// wrote 1 segment(s), 2 transactions, store covers t < 3
	// wrote 1 segment(s), 2 transactions, store covers t < 5
	// wrote 1 segment(s), 1 transactions, store covers t < 6
	// next backup starts at t 6
}

// RestoreSegment applies one segment per call: a standby that restores as
// segments arrive.
func ExampleRestoreSegment() {
	ctx := context.Background()
	source := exampleSource()
	store := dcbackup.NewMemStore()
	if _, err := dcbackup.Backup(ctx, "people", source, store, &dcbackup.BackupOptions{MaxTxPerSegment: 2, Concurrency: 1}); err != nil {
		log.Fatal(err)
	}
	target := mem.New(mem.Options{})
	for {
		res, err := dcbackup.RestoreSegment(ctx, "people", store, target, nil)
		if err != nil {
			log.Fatal(err)
		}
		if !res.Restored {
			break
		}
		fmt.Println("restored up to source t", res.LastT)
	}
	// Output:
	// restored up to source t 2
	// restored up to source t 4
	// restored up to source t 5
}

// The first backup of a database: everything up to its basis, several
// ranges at a time. A second call has nothing new to write.
func ExampleBackup() {
	ctx := context.Background()
	source := exampleSource()
	dir, err := os.MkdirTemp("", "dcbackup-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, err := dcbackup.NewFSStore(dir)
	if err != nil {
		log.Fatal(err)
	}
	opts := &dcbackup.BackupOptions{Concurrency: 2, MaxTxPerSegment: 2}
	res, err := dcbackup.Backup(ctx, "people", source, store, opts)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d segments, %d transactions, %d datoms; the store covers t < %d\n", res.Segments, res.Transactions, res.Datoms, res.EndT)
	files, _ := os.ReadDir(filepath.Join(dir, "people"))
	for _, f := range files {
		fmt.Println(f.Name())
	}
	res, err = dcbackup.Backup(ctx, "people", source, store, opts)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("again: %d segments\n", res.Segments)
	// Output:
	// 5 segments, 5 transactions, 15 datoms; the store covers t < 6
	// 0000000000000000000-0000000000000000002.seg
	// 0000000000000000002-0000000000000000003.seg
	// 0000000000000000003-0000000000000000004.seg
	// 0000000000000000004-0000000000000000005.seg
	// 0000000000000000005-0000000000000000006.seg
	// again: 0 segments
}

// A point-in-time restore, then the rest: each call continues where the
// last one stopped.
func ExampleRestore() {
	ctx := context.Background()
	source := exampleSource()
	store := dcbackup.NewMemStore()
	if _, err := dcbackup.Backup(ctx, "people", source, store, nil); err != nil {
		log.Fatal(err)
	}
	target := mem.New(mem.Options{})
	res, err := dcbackup.Restore(ctx, "people", store, target, &dcbackup.RestoreOptions{UntilT: 4})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("restored %d transactions, up to source t %d (stopped: %v)\n", res.Transactions, res.LastT, res.Stopped)
	res, err = dcbackup.Restore(ctx, "people", store, target, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("restored %d transactions, up to source t %d\n", res.Transactions, res.LastT)
	// Output:
	// restored 4 transactions, up to source t 4 (stopped: true)
	// restored 1 transactions, up to source t 5
}

// Verify finds a change made to a restored database behind the restore's
// back.
func ExampleVerify() {
	ctx := context.Background()
	source := exampleSource()
	store := dcbackup.NewMemStore()
	if _, err := dcbackup.Backup(ctx, "people", source, store, nil); err != nil {
		log.Fatal(err)
	}
	target := mem.New(mem.Options{})
	if _, err := dcbackup.Restore(ctx, "people", store, target, nil); err != nil {
		log.Fatal(err)
	}
	rep, err := dcbackup.Verify(ctx, source, target, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("identical: %v (%d transactions, %d datoms compared)\n", rep.OK(), rep.Transactions, rep.Datoms)

	if _, err := target.Transact(ctx, []datomic.Op{datomic.EntityMap{"person/name": "Barbara"}}); err != nil {
		log.Fatal(err)
	}
	rep, err = dcbackup.Verify(ctx, source, target, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("identical:", rep.OK())
	for _, d := range rep.Differences {
		fmt.Println(d)
	}
	// Output:
	// identical: true (5 transactions, 15 datoms compared)
	// identical: false
	// source t -1 / target t 7: target transaction was not written by a restore
}
