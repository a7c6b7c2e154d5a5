// Command s3 shows dcbackup's S3 store configured the way aws-sdk-go-v2
// programs usually are: from the environment and the shared AWS config
// files (config.LoadDefaultConfig), so credentials, region, profile and
// endpoint come from where the SDK normally finds them.
//
//	AWS_REGION=eu-west-1 AWS_PROFILE=backup \
//	  go run ./examples/s3 -bucket my-backups -prefix dcbackup -db mbrainz list
//
// Against an S3-compatible server (versitygw, MinIO, ...), point the SDK at
// it with its standard AWS_ENDPOINT_URL_S3 (or AWS_ENDPOINT_URL) variable
// and ask for path-style addressing, which such servers usually need:
//
//	eval "$(.ci/s3-server.sh)"   # a local versitygw for trying it out
//	AWS_ENDPOINT_URL_S3=$DCBACKUP_S3_ENDPOINT AWS_REGION=us-east-1 \
//	AWS_ACCESS_KEY_ID=$DCBACKUP_S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$DCBACKUP_S3_SECRET_KEY \
//	DCBACKUP_S3_PATH_STYLE=1 go run ./examples/s3 -bucket demo -create-bucket demo
//
// Commands:
//
//	demo   load the MusicBrainz sample into an in-memory Datomic, back its
//	       log up to the bucket, restore the bucket into a fresh in-memory
//	       Datomic and verify the copy (needs a database name that has no
//	       segments in the bucket yet: the sample's transaction instants
//	       differ from run to run)
//	list   the database's segments, oldest first
//	last   the newest segment (a handful of requests, however many there are)
//
// A service backing up a real Datomic does the same with its own
// datomic.Conn: dcbackup.BackupNext(ctx, db, conn, store, nil) from its
// scheduler, dcbackup.Restore(ctx, db, store, target, nil) to restore.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic/edn"
	"github.com/dcbackup/dcbackup/datomic/mem"
)

func main() {
	bucket := flag.String("bucket", os.Getenv("DCBACKUP_BUCKET"), "bucket holding the backups (env DCBACKUP_BUCKET)")
	prefix := flag.String("prefix", envOr("DCBACKUP_PREFIX", "dcbackup"), "key prefix inside the bucket (env DCBACKUP_PREFIX)")
	db := flag.String("db", envOr("DCBACKUP_DB", "mbrainz"), "database name in the store (env DCBACKUP_DB)")
	createBucket := flag.Bool("create-bucket", false, "create the bucket if it does not exist")
	data := flag.String("data", "../shared/data/mbrainz", "MusicBrainz sample directory (demo)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: %s [flags] demo|list|last\n", os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()
	if *bucket == "" || flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, flag.Arg(0), *bucket, *prefix, *db, *createBucket, *data); err != nil {
		fmt.Fprintln(os.Stderr, "s3:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cmd, bucket, prefix, db string, createBucket bool, data string) error {
	client, err := newClient(ctx)
	if err != nil {
		return err
	}
	if createBucket {
		if err := ensureBucket(ctx, client, bucket); err != nil {
			return err
		}
	}
	store, err := dcbackup.NewS3Store(client, bucket, prefix, dcbackup.S3Options{})
	if err != nil {
		return err
	}
	switch cmd {
	case "demo":
		return demo(ctx, store, db, data)
	case "list":
		return list(ctx, store, db)
	case "last":
		return last(ctx, store, db)
	default:
		return fmt.Errorf("unknown command %q (want demo, list or last)", cmd)
	}
}

// newClient builds an S3 client from the default AWS configuration chain
// (environment, shared config and credentials files, SSO, instance roles).
// The SDK itself honours AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL; path-style
// addressing is switched on by DCBACKUP_S3_PATH_STYLE.
func newClient(ctx context.Context) (*s3.Client, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	pathStyle := false
	if v := os.Getenv("DCBACKUP_S3_PATH_STYLE"); v != "" {
		if pathStyle, err = strconv.ParseBool(v); err != nil {
			return nil, fmt.Errorf("DCBACKUP_S3_PATH_STYLE: %w", err)
		}
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.UsePathStyle = pathStyle
	}), nil
}

func ensureBucket(ctx context.Context, client *s3.Client, bucket string) error {
	_, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	var owned *types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		return fmt.Errorf("create bucket %s: %w", bucket, err)
	}
	return nil
}

func list(ctx context.Context, store *dcbackup.S3Store, db string) error {
	segs, err := store.List(ctx, db, 0)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "start t\tend t\tbytes\t")
	var total int64
	for _, s := range segs {
		fmt.Fprintf(w, "%d\t%d\t%d\t\n", s.StartT, s.EndT, s.Size)
		total += s.Size
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Printf("%d segments, %d bytes in s3://%s/%s%s/\n", len(segs), total, store.Bucket(), store.Prefix(), db)
	return nil
}

func last(ctx context.Context, store *dcbackup.S3Store, db string) error {
	seg, ok, err := store.Last(ctx, db)
	if err != nil {
		return err
	}
	if !ok {
		fmt.Printf("no segments of %s in s3://%s/%s\n", db, store.Bucket(), store.Prefix())
		return nil
	}
	fmt.Printf("last segment %s (%d bytes): s3://%s/%s\n", seg, seg.Size, store.Bucket(), store.Key(db, seg))
	return nil
}

// demo backs an in-memory Datomic loaded with the sample up to store,
// restores it into another and verifies the copy.
func demo(ctx context.Context, store *dcbackup.S3Store, db, data string) error {
	if _, err := os.Stat(data); err != nil {
		return fmt.Errorf("sample data not found (%w); pass -data DIR", err)
	}
	if seg, ok, err := store.Last(ctx, db); err != nil {
		return err
	} else if ok {
		return fmt.Errorf("s3://%s/%s%s/ already holds segments (the last is %s); the demo backs up a new in-memory database: choose another -db or -prefix",
			store.Bucket(), store.Prefix(), db, seg)
	}
	source := mem.New(mem.Options{SharedCounter: true})
	ld, err := edn.LoadMBrainz(ctx, source, data, edn.LoadOptions{SplitSize: 1000})
	if err != nil {
		return fmt.Errorf("load sample: %w", err)
	}
	fmt.Printf("loaded %d transactions, %d datoms into the source\n", ld.Transactions, ld.Datoms)

	// Backup writes the log in parallel segments; BackupNext would then
	// continue from the last one.
	bk, err := dcbackup.Backup(ctx, db, source, store, nil)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	fmt.Printf("backup: %d segments written (%d bytes), %d already stored, %d transactions, %v\n",
		bk.Segments, bk.Bytes, bk.Existing, bk.Transactions, bk.Elapsed.Round(time.Millisecond))

	target := mem.New(mem.Options{BootstrapShift: 1000, ExtraBuiltins: true})
	rs, err := dcbackup.Restore(ctx, db, store, target, nil)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	fmt.Printf("restore: %d segments, %d transactions, %d datoms, %v\n",
		rs.Segments, rs.Transactions, rs.Datoms, rs.Elapsed.Round(time.Millisecond))

	rep, err := dcbackup.Verify(ctx, source, target, nil)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	if !rep.OK() {
		for _, d := range rep.Differences {
			fmt.Println("DIFFERENCE", d)
		}
		return fmt.Errorf("verify found %d differences", len(rep.Differences))
	}
	fmt.Printf("verified: %d transactions, %d datoms identical modulo ids\n", rep.Transactions, rep.Datoms)
	return nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
