// Command dcbackup inspects the backups that the dcbackup library writes:
// it lists a database's segments, checks that a backup is complete and
// readable, dumps a segment's datoms as JSON lines and sums up what a
// backup holds; and it compacts a backup. Every command but compact only
// reads a store.
//
// Usage:
//
//	dcbackup <command> [flags]
//
// Commands:
//
//	ls      segments of a database (ranges, sizes, gaps), or the databases of a store
//	verify  the library's Check: every segment readable, of one lineage, each
//	        continuing the one before, t covered from 0 without a gap
//	dump    one segment as JSON lines, one datom per line, with attribute idents
//	stats   totals per database: segments, transactions, datoms, bytes, t and
//	        instant range, datoms per attribute
//	compact the library's Compact: merge small segments into larger ones
//	version module version, VCS revision, Go version, segment format
//	        (also dcbackup -version)
//	help    this text, or `dcbackup help <command>` for a command's flags
//
// # Selecting a store
//
// Every command takes -store and -db (defaults from the environment
// variables DCBACKUP_STORE and DCBACKUP_DB):
//
//	-store /var/backups/datomic      a filesystem store (a directory)
//	-store s3://bucket/prefix        an S3 store (the prefix may be empty)
//	-db mbrainz                      the database name in the store
//
// Without -db, ls lists the store's databases, and verify and stats cover
// every database of the store. A database without segments, or a store
// without databases, is status 1 for every command, with the same hint.
//
// S3 is configured the way every aws-sdk-go-v2 program is: the default
// configuration chain (AWS_REGION, AWS_PROFILE, AWS_ACCESS_KEY_ID /
// AWS_SECRET_ACCESS_KEY, shared config and credentials files, SSO,
// instance roles, AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL). Two flags
// adjust it for an S3-compatible server (versitygw, MinIO, Ceph, ...):
// -s3-endpoint URL replaces the configured endpoint, and -s3-path-style
// (default: on when an endpoint is configured, by the flag or the SDK)
// chooses path-style addressing; with an endpoint and no region, the
// region is us-east-1.
//
// # Output
//
// ls, verify, stats and compact print text for people, or with -json one
// JSON document for programs. verify prints a line per problem,
//
//	PROBLEM corrupt [3000, 4000): checksum mismatch ...: the segment is damaged or truncated
//	PROBLEM gap [3000, 4000): no sound segment covers t in [3000, 4000): ...
//
// (kinds: corrupt, wrong-database, unsupported-version, too-large, no-key,
// not-encrypted (a damaged segment), another-lineage, broken-chain, gap,
// no-segments) and a summary line per database that says "healthy" or
// "UNHEALTHY". verify and stats count the transactions a restore applies:
// what overlapping segments share is counted once.
//
// # Encrypted stores
//
// ls, and verify without -identity, need no key: verify checks an
// encrypted segment's checksums and cleartext header and says that its
// payload was not checked. dump, stats, verify's payload check and compact
// take -identity FILE, an age identity file as age-keygen writes it
// (repeat the flag for several); compact with -identity also needs the
// recipients to encrypt merged segments to (-recipient age1...,
// -recipients-file FILE). -max-decoded BYTES bounds the memory a segment's
// payload may take (default 256 MiB).
//
// dump prints one JSON object per datom, in log order:
//
//	{"t":1001,"e":116,"e_ident":":release/month","a":":db/ident","v":":release/month","added":true}
//	{"t":2063,"e":17592186046986,"e_ident":":language/ort","a":":language/code","v":"ort","added":true}
//
// with the attribute's ident as "a", entity ids and refs as numbers (and
// their idents as "e_ident" / "v_ident" when the segment knows them),
// keywords as ":ns/name", instants as RFC 3339 with milliseconds in UTC,
// UUIDs as text, bigints and bigdecs as decimal strings, bytes as base64
// and tuples as arrays.
//
// # Exit status
//
//	0  success; for verify, the backup is healthy
//	1  the backup is unhealthy: verify found a problem, dump or stats met
//	   a segment that does not decode, or the database has no segments
//	2  usage, configuration or I/O error (nothing could be concluded)
//
// # Examples
//
//	dcbackup ls -store /var/backups/datomic -db mbrainz
//	dcbackup ls -store s3://acme-backups/datomic -db mbrainz -json | jq .summary
//	dcbackup verify -store s3://acme-backups/datomic -j 8
//	dcbackup dump -store /var/backups/datomic -db mbrainz -start 1000 | jq 'select(.a == ":artist/name")'
//	dcbackup stats -store /var/backups/datomic -db mbrainz -top 10
//	dcbackup compact -store /var/backups/datomic -db mbrainz -max-tx 5000
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit statuses.
const (
	exitOK        = 0
	exitUnhealthy = 1
	exitError     = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// env looks up an environment variable; os.Getenv in production.
type env func(string) string

// command is one subcommand.
type command struct {
	name    string
	summary string
	usage   string // argument synopsis after the command name
	detail  string // paragraph shown by `help <command>`
	run     func(ctx context.Context, cl *cmdline, args []string) int
}

func commands() []command {
	return []command{lsCommand(), verifyCommand(), dumpCommand(), statsCommand(), compactCommand(), versionCommand()}
}

// cmdline carries what every command needs: output streams and the
// environment.
type cmdline struct {
	stdout io.Writer
	stderr io.Writer
	getenv env
	name   string // the command being run, for messages
}

// errorf reports an error on stderr and returns exitError.
func (c *cmdline) errorf(format string, args ...any) int {
	fmt.Fprintf(c.stderr, "dcbackup %s: %s\n", c.name, trimPrefix(fmt.Sprintf(format, args...)))
	return exitError
}

// fail reports err on stderr and returns code.
func (c *cmdline) fail(code int, err error) int {
	fmt.Fprintf(c.stderr, "dcbackup %s: %s\n", c.name, trimPrefix(err.Error()))
	return code
}

// run executes the command line args (without the program name) and
// returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv env) int {
	if len(args) == 0 {
		printUsage(stderr)
		return exitError
	}
	name := args[0]
	switch name {
	case "help", "-h", "-help", "--help":
		return help(args[1:], stdout, stderr)
	case "-version", "--version":
		name, args = "version", append([]string{"version"}, args[1:]...)
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(ctx, &cmdline{stdout: stdout, stderr: stderr, getenv: getenv, name: name}, args[1:])
		}
	}
	fmt.Fprintf(stderr, "dcbackup: unknown command %q\n\n", name)
	printUsage(stderr)
	return exitError
}
