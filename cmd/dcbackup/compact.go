package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/dcbackup/dcbackup"
)

func compactCommand() command {
	return command{
		name:    "compact",
		summary: "merge a database's small segments into larger ones (changes the store)",
		usage:   "-store STORE -db NAME [-max-tx N] [-max-datoms N] [-identity FILE... -recipient KEY...] [-v] [-json]",
		detail: `Runs the library's Compact on database -db: along the chain a restore
follows, runs of consecutive small segments of one lineage are merged into
segments of at most -max-tx transactions and -max-datoms datoms, oldest
first, and overlapping segments inside a merged range are removed with
it. Each merged segment is written under a new name, read back and
compared with its inputs before any input is deleted, so an interruption
loses nothing (at worst it leaves overlapping segments, which readers pass
over). This is the one command that changes a store.

Segments that cannot be merged are left as they are: format version 1,
damaged (dcbackup verify says which), of another lineage, and encrypted
ones unless -identity opens them. Merged segments are encrypted to the
-recipient keys (and -recipients-file keys); with -identity, recipients
are required, since what is decrypted must not be written in clear: give
every recipient the backup encrypts to, the escrow key too.

Exit status: 0 done (also when there was nothing to merge), 1 the database
has no segments, 2 the store could not be read or written.`,
		run: runCompact,
	}
}

// compactOutput is the JSON document of compact.
type compactOutput struct {
	Store       string  `json:"store"`
	DB          string  `json:"db"`
	Before      int     `json:"segments_before"`
	After       int     `json:"segments_after"`
	BytesBefore int64   `json:"bytes_before"`
	BytesAfter  int64   `json:"bytes_after"`
	Merged      int     `json:"merged"`
	Removed     int     `json:"removed"`
	Skipped     int     `json:"skipped"`
	Seconds     float64 `json:"seconds"`
}

func runCompact(ctx context.Context, cl *cmdline, args []string) int {
	fs := flagSet(compactCommand())
	sf := addStoreFlags(fs, cl.getenv)
	maxTx := fs.Int("max-tx", 0, "merge into segments of at most `N` transactions (default: the library's, 10000)")
	maxDatoms := fs.Int("max-datoms", 0, "merge into segments of at most `N` datoms (default: the library's, 100000)")
	verbose := fs.Bool("v", false, "log each merged segment on stderr")
	asJSON := fs.Bool("json", false, "print one JSON document instead of text")
	df := addDecodeFlags(fs)
	ef := addEncodeFlags(fs)
	if code, done := cl.parse(fs, args); done {
		return code
	}
	if *maxTx < 0 || *maxDatoms < 0 {
		return cl.errorf("-max-tx and -max-datoms must be positive (0: the default)")
	}
	if sf.db == "" {
		return cl.errorf("no database: give -db NAME (or set %s)", envDB)
	}
	if err := dcbackup.ValidateDBName(sf.db); err != nil {
		return cl.fail(exitError, err)
	}
	decode, err := df.options()
	if err != nil {
		return cl.fail(exitError, err)
	}
	encode, err := ef.options()
	if err != nil {
		return cl.fail(exitError, err)
	}
	if len(df.identities) > 0 && !ef.given() {
		return cl.fail(exitError, errNoRecipients)
	}
	h, err := sf.open(ctx, cl.getenv)
	if err != nil {
		return cl.fail(exitError, err)
	}
	opts := &dcbackup.CompactOptions{MaxTxPerSegment: *maxTx, MaxDatomsPerSegment: *maxDatoms, Encode: encode, Decode: decode}
	if *verbose {
		opts.Logger = slog.New(slog.NewTextHandler(cl.stderr, nil))
	}
	text := cl.stdout
	if *asJSON {
		text = io.Discard
	}
	// The store itself: Compact deletes through its SegmentRemover.
	res, err := dcbackup.Compact(ctx, sf.db, h.BackupStore, opts)
	if errors.Is(err, dcbackup.ErrNoSegments) {
		return cl.fail(exitUnhealthy, noSegments(sf.db, h.where))
	}
	fmt.Fprintf(text, "compact database %s in %s\n", sf.db, h.where)
	if err != nil {
		// What is done stays done (every removed segment is covered by a
		// checked merged one), and is printed.
		if *asJSON {
			_ = writeJSON(cl.stdout, compactJSON(h.where, sf.db, res))
		} else if res.Merged+res.Removed > 0 {
			fmt.Fprintf(text, "%s: before the error, %s written, %d removed\n", sf.db, plural(int64(res.Merged), "merged segment"), res.Removed)
		}
		return cl.fail(exitCode(err), err)
	}
	if *asJSON {
		err = writeJSON(cl.stdout, compactJSON(h.where, sf.db, res))
	} else {
		_, err = fmt.Fprintln(text, compactSummary(sf.db, res))
	}
	if err != nil {
		return cl.fail(exitError, err)
	}
	return exitOK
}

// compactJSON is what -json prints of a compaction.
func compactJSON(where, db string, res dcbackup.CompactResult) compactOutput {
	return compactOutput{Store: where, DB: db, Before: res.Before, After: res.After,
		BytesBefore: res.BytesBefore, BytesAfter: res.BytesAfter, Merged: res.Merged, Removed: res.Removed,
		Skipped: res.Skipped, Seconds: res.Elapsed.Seconds()}
}

// compactSummary says what Compact did, in a line.
func compactSummary(db string, r dcbackup.CompactResult) string {
	line := fmt.Sprintf("%s: %s (%s, %d bytes) before", db, plural(int64(r.Before), "segment"), humanBytes(r.BytesBefore), r.BytesBefore)
	if r.Merged == 0 && r.Removed == 0 {
		line += ": nothing to merge"
	} else {
		line += fmt.Sprintf(", %d (%s, %d bytes) after: %s written, %d removed", r.After, humanBytes(r.BytesAfter), r.BytesAfter,
			plural(int64(r.Merged), "merged segment"), r.Removed)
	}
	if r.Skipped > 0 {
		line += fmt.Sprintf("; %s left as they are (format version 1, damaged, of another lineage, or encrypted and no -identity)",
			plural(int64(r.Skipped), "segment"))
	}
	return line + fmt.Sprintf("; %.1f s", r.Elapsed.Seconds())
}
