package dcbackup_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"filippo.io/age"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic/mem"
)

// Check reads every segment and tells whether a restore would get every
// transaction; Repair heals what it finds from the source.
func ExampleCheck() {
	ctx := context.Background()
	source := exampleSource()
	store := dcbackup.NewMemStore()
	if _, err := dcbackup.Backup(ctx, "people", source, store, &dcbackup.BackupOptions{MaxTxPerSegment: 2}); err != nil {
		log.Fatal(err)
	}
	rep, err := dcbackup.Check(ctx, "people", store, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("ok: %v, %d segments, %d transactions\n", rep.OK(), rep.Segments, rep.Transactions)

	// A segment damaged in the store: one byte flipped.
	segs, _ := store.List(ctx, "people", 0)
	data, _ := store.Load(ctx, "people", segs[1])
	data[len(data)/2] ^= 1
	if err := store.Delete(ctx, "people", segs[1]); err != nil {
		log.Fatal(err)
	}
	if err := store.Save(ctx, "people", segs[1], data); err != nil {
		log.Fatal(err)
	}
	rep, err = dcbackup.Check(ctx, "people", store, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("ok: %v, gaps %v, problem: %s\n", rep.OK(), rep.Gaps, rep.Problems[0].Kind)

	res, err := dcbackup.Repair(ctx, "people", source, store, nil)
	if err != nil {
		log.Fatal(err)
	}
	rep, err = dcbackup.Check(ctx, "people", store, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("healed %d segment(s); ok: %v\n", res.Healed, rep.OK())
	// Output:
	// ok: true, 5 segments, 5 transactions
	// ok: false, gaps [[2, 3)], problem: damaged
	// healed 1 segment(s); ok: true
}

// A scheduler that calls BackupNext often leaves many small segments;
// Compact merges them so that a restore reads a few.
func ExampleCompact() {
	ctx := context.Background()
	source := exampleSource()
	store := dcbackup.NewMemStore()
	for {
		res, err := dcbackup.BackupNext(ctx, "people", source, store, &dcbackup.BackupOptions{MaxTxPerSegment: 1})
		if err != nil {
			log.Fatal(err)
		}
		if !res.More {
			break
		}
	}
	res, err := dcbackup.Compact(ctx, "people", store, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d segments before, %d after\n", res.Before, res.After)
	// Output:
	// 5 segments before, 1 after
}

// Segments encrypted to a public key: the backup host holds only the
// recipient; a restore needs the identity.
func ExampleEncodeOptions_encryption() {
	ctx := context.Background()
	identity, err := age.GenerateX25519Identity() // kept offline, or in a secret store
	if err != nil {
		log.Fatal(err)
	}
	source := exampleSource()
	store := dcbackup.NewMemStore()
	_, err = dcbackup.Backup(ctx, "people", source, store, &dcbackup.BackupOptions{
		Encode: dcbackup.EncodeOptions{Recipients: []age.Recipient{identity.Recipient()}},
	})
	if err != nil {
		log.Fatal(err)
	}

	_, err = dcbackup.Restore(ctx, "people", store, mem.New(mem.Options{}), nil)
	fmt.Println("without the identity:", errors.Is(err, dcbackup.ErrNoKey))

	res, err := dcbackup.Restore(ctx, "people", store, mem.New(mem.Options{}), &dcbackup.RestoreOptions{
		Decode: dcbackup.DecodeOptions{Identities: []age.Identity{identity}},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("with it, restored transactions:", res.Transactions)
	// Output:
	// without the identity: true
	// with it, restored transactions: 5
}
