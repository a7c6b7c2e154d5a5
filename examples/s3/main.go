// Command s3 shows dcbackup's S3 store with its client configured the way
// aws-sdk-go-v2 programs usually are: from the SDK's default chain
// (config.LoadDefaultConfig), so credentials, region, profile and
// endpoint come from the environment (AWS_REGION, AWS_PROFILE,
// AWS_ACCESS_KEY_ID, AWS_ENDPOINT_URL_S3, ...) and the shared AWS files,
// with two flags for an S3-compatible server: -s3-endpoint, and
// -s3-path-style (default: on when an endpoint is configured). The same
// rule as cmd/dcbackup's; the README's "S3" section describes it.
//
//	AWS_REGION=eu-west-1 AWS_PROFILE=backup \
//	  go run ./examples/s3 -store s3://my-backups/dcbackup -db shop list
//
// Against the local test server (versitygw):
//
//	eval "$(.ci/s3-server.sh)"          # start it
//	eval "$(.ci/s3-server.sh aws-env)"  # AWS_ENDPOINT_URL_S3, AWS_REGION, AWS_ACCESS_KEY_ID, ... for it
//	go run ./examples/s3 -store s3://demo/dcbackup -create-bucket demo
//
// Commands:
//
//	demo   write a small database into an in-memory Datomic, back its log
//	       up to the bucket, restore the bucket into a fresh in-memory
//	       Datomic and verify the copy (the database name must have no
//	       segments in the bucket yet: each run's source is new)
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
	"io"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic/mem"
)

// options are the command line's settings.
type options struct {
	store        string // s3://bucket/prefix
	db           string
	createBucket bool
	endpoint     string // -s3-endpoint; empty: the SDK's
	pathStyle    *bool  // -s3-path-style; nil: on when an endpoint is configured
}

func main() {
	var o options
	flag.StringVar(&o.store, "store", "", "the bucket and key prefix: s3://bucket/prefix")
	flag.StringVar(&o.db, "db", "shop", "database name in the store")
	flag.BoolVar(&o.createBucket, "create-bucket", false, "create the bucket if it does not exist")
	flag.StringVar(&o.endpoint, "s3-endpoint", "", "URL of an S3-compatible server, instead of the AWS SDK's endpoint")
	flag.BoolFunc("s3-path-style", "path-style addressing; default: on when an endpoint is configured", func(s string) error {
		v, err := strconv.ParseBool(s)
		o.pathStyle = &v
		return err
	})
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: %s -store s3://bucket/prefix [flags] demo|list|last\n", os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()
	if o.store == "" || flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, flag.Arg(0), o); err != nil {
		fmt.Fprintln(os.Stderr, "s3:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, w io.Writer, cmd string, o options) error {
	bucket, prefix, ok := strings.Cut(strings.TrimPrefix(o.store, "s3://"), "/")
	if !strings.HasPrefix(o.store, "s3://") || bucket == "" {
		return fmt.Errorf("-store %q: want s3://bucket/prefix", o.store)
	}
	if !ok {
		prefix = ""
	}
	client, err := newClient(ctx, o.endpoint, o.pathStyle)
	if err != nil {
		return err
	}
	if o.createBucket {
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
		return demo(ctx, w, store, o.db)
	case "list":
		return list(ctx, w, store, o.db)
	case "last":
		return last(ctx, w, store, o.db)
	default:
		return fmt.Errorf("unknown command %q (want demo, list or last)", cmd)
	}
}

// newClient builds an S3 client from the AWS SDK's default configuration
// chain (environment, shared config and credentials files, profiles, SSO,
// instance roles; the SDK itself reads AWS_ENDPOINT_URL_S3 and
// AWS_ENDPOINT_URL). endpoint, if not empty, replaces the configured
// endpoint. When an endpoint is configured either way, addressing is
// path-style unless pathStyle says otherwise, and the region defaults to
// us-east-1.
func newClient(ctx context.Context, endpoint string, pathStyle *bool) (*s3.Client, error) {
	if endpoint != "" {
		if u, err := url.Parse(endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("-s3-endpoint %q: want a URL such as https://s3.example.com", endpoint)
		}
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	var region string
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		// o.BaseEndpoint holds the SDK's configured endpoint, if any.
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		custom := o.BaseEndpoint != nil
		o.UsePathStyle = custom
		if pathStyle != nil {
			o.UsePathStyle = *pathStyle
		}
		if o.Region == "" && custom {
			o.Region = "us-east-1"
		}
		region = o.Region
	})
	if region == "" {
		return nil, errors.New("no AWS region: set AWS_REGION (or a region in the AWS config file)")
	}
	return client, nil
}

func ensureBucket(ctx context.Context, client *s3.Client, bucket string) error {
	_, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	var owned *types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		return fmt.Errorf("create bucket %s: %w", bucket, err)
	}
	return nil
}

func list(ctx context.Context, w io.Writer, store *dcbackup.S3Store, db string) error {
	segs, err := store.List(ctx, db, 0)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "start t\tend t\tbytes\t")
	var total int64
	for _, s := range segs {
		fmt.Fprintf(tw, "%d\t%d\t%d\t\n", s.StartT, s.EndT, s.Size)
		total += s.Size
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "%d segments, %d bytes in s3://%s/%s%s/\n", len(segs), total, store.Bucket(), store.Prefix(), db)
	return nil
}

func last(ctx context.Context, w io.Writer, store *dcbackup.S3Store, db string) error {
	seg, ok, err := store.Last(ctx, db)
	if err != nil {
		return err
	}
	if !ok {
		fmt.Fprintf(w, "no segments of %s in s3://%s/%s\n", db, store.Bucket(), store.Prefix())
		return nil
	}
	fmt.Fprintf(w, "last segment %s (%d bytes): s3://%s/%s\n", seg, seg.Size, store.Bucket(), store.Key(db, seg))
	return nil
}

// demo backs an in-memory Datomic up to store, restores it into another
// and verifies the copy.
func demo(ctx context.Context, w io.Writer, store *dcbackup.S3Store, db string) error {
	if seg, ok, err := store.Last(ctx, db); err != nil {
		return err
	} else if ok {
		return fmt.Errorf("s3://%s/%s%s/ already holds segments (the last is %s); the demo backs up a new in-memory database: choose another -db or prefix",
			store.Bucket(), store.Prefix(), db, seg)
	}
	source := mem.New(mem.Options{SharedCounter: true})
	txs, err := writeDemo(ctx, source)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "wrote %d transactions into the source\n", txs)

	// Backup writes the log in parallel segments; BackupNext would then
	// continue from the last one.
	bk, err := dcbackup.Backup(ctx, db, source, store, &dcbackup.BackupOptions{MaxTxPerSegment: 500})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "backup: %d segments written (%d bytes), %d already stored, %d transactions, %v\n",
		bk.Segments, bk.Bytes, bk.Existing, bk.Transactions, bk.Elapsed.Round(time.Millisecond))

	target := mem.New(mem.Options{BootstrapShift: 1000, ExtraBuiltins: true})
	rs, err := dcbackup.Restore(ctx, db, store, target, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "restore: %d segments, %d transactions, %d datoms, %v\n",
		rs.Segments, rs.Transactions, rs.Datoms, rs.Elapsed.Round(time.Millisecond))

	rep, err := dcbackup.Verify(ctx, source, target, nil)
	if err != nil {
		return err
	}
	if !rep.OK() {
		for _, d := range rep.Differences {
			fmt.Fprintln(w, "DIFFERENCE", d)
		}
		return fmt.Errorf("verify found %d differences", len(rep.Differences))
	}
	fmt.Fprintf(w, "verified: %d transactions, %d datoms identical modulo ids\n", rep.Transactions, rep.Datoms)
	return nil
}
