package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/dcbackup/dcbackup"
)

// Environment variables the command reads (besides the AWS SDK's own).
const (
	envStore     = "DCBACKUP_STORE"
	envDB        = "DCBACKUP_DB"
	envEndpoint  = "DCBACKUP_S3_ENDPOINT"
	envAccessKey = "DCBACKUP_S3_ACCESS_KEY"
	envSecretKey = "DCBACKUP_S3_SECRET_KEY"
	envRegion    = "DCBACKUP_S3_REGION"
	envPathStyle = "DCBACKUP_S3_PATH_STYLE"
)

// storeFlags are the flags that select a store and a database.
type storeFlags struct {
	store    string
	db       string
	endpoint string
}

func addStoreFlags(fs *flag.FlagSet, getenv env) *storeFlags {
	var f storeFlags
	fs.StringVar(&f.store, "store", getenv(envStore), "the store: a directory, or s3://bucket/prefix (env "+envStore+")")
	fs.StringVar(&f.db, "db", getenv(envDB), "database name in the store (env "+envDB+")")
	fs.StringVar(&f.endpoint, "s3-endpoint", getenv(envEndpoint), "URL of an S3-compatible server, path-style (env "+envEndpoint+")")
	return &f
}

// storeHandle is an opened store with what the command needs besides the
// BackupStore interface.
type storeHandle struct {
	dcbackup.BackupStore
	// where names the store for people: a directory or s3://bucket/prefix.
	where string
	// databases lists the names of the databases that have a directory
	// (or key prefix) in the store, sorted.
	databases func(ctx context.Context) ([]string, error)
}

// errNoStore is the usage error of a missing -store.
var errNoStore = errors.New("no store: give -store DIR or -store s3://bucket/prefix (or set " + envStore + ")")

// open opens the store selected by f. It never creates anything: a
// directory that does not exist is an error.
func (f *storeFlags) open(ctx context.Context, getenv env) (*storeHandle, error) {
	switch {
	case f.store == "":
		return nil, errNoStore
	case strings.HasPrefix(f.store, "s3://"):
		return f.openS3(ctx, getenv)
	case strings.Contains(f.store, "://"):
		return nil, fmt.Errorf("store %q: only directories and s3:// URLs are supported", f.store)
	}
	return openFS(f.store)
}

func openFS(dir string) (*storeHandle, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("store %s: not a directory", dir)
	}
	st, err := dcbackup.NewFSStore(dir)
	if err != nil {
		return nil, err
	}
	return &storeHandle{
		BackupStore: st,
		where:       st.Dir(),
		databases: func(context.Context) ([]string, error) {
			entries, err := os.ReadDir(st.Dir())
			if err != nil {
				return nil, fmt.Errorf("list databases in %s: %w", st.Dir(), err)
			}
			var dbs []string
			for _, e := range entries {
				if isDir(st.Dir(), e) && dcbackup.ValidateDBName(e.Name()) == nil {
					dbs = append(dbs, e.Name())
				}
			}
			return dbs, nil
		},
	}, nil
}

// isDir reports whether e (in dir) is a directory, following a symbolic
// link.
func isDir(dir string, e fs.DirEntry) bool {
	if e.IsDir() {
		return true
	}
	if e.Type()&fs.ModeSymlink == 0 {
		return false
	}
	fi, err := os.Stat(filepath.Join(dir, e.Name()))
	return err == nil && fi.IsDir()
}

// parseS3URL splits s3://bucket/prefix.
func parseS3URL(u string) (bucket, prefix string, err error) {
	rest := strings.TrimPrefix(u, "s3://")
	bucket, prefix, _ = strings.Cut(rest, "/")
	if bucket == "" {
		return "", "", fmt.Errorf("store %q: no bucket (want s3://bucket/prefix)", u)
	}
	return bucket, strings.Trim(prefix, "/"), nil
}

func (f *storeFlags) openS3(ctx context.Context, getenv env) (*storeHandle, error) {
	bucket, prefix, err := parseS3URL(f.store)
	if err != nil {
		return nil, err
	}
	client, err := newS3Client(ctx, f.endpoint, getenv)
	if err != nil {
		return nil, err
	}
	st, err := dcbackup.NewS3Store(client, bucket, prefix, dcbackup.S3Options{})
	if err != nil {
		return nil, err
	}
	where := "s3://" + bucket + "/" + strings.TrimSuffix(st.Prefix(), "/")
	return &storeHandle{
		BackupStore: st,
		where:       strings.TrimSuffix(where, "/"),
		databases: func(ctx context.Context) ([]string, error) {
			return s3Databases(ctx, client, bucket, st.Prefix())
		},
	}, nil
}

// newS3Client builds a client from the AWS default configuration chain,
// adjusted by the DCBACKUP_S3_* variables and the endpoint.
func newS3Client(ctx context.Context, endpoint string, getenv env) (*s3.Client, error) {
	var opts []func(*config.LoadOptions) error
	if r := getenv(envRegion); r != "" {
		opts = append(opts, config.WithRegion(r))
	}
	ak, sk := getenv(envAccessKey), getenv(envSecretKey)
	switch {
	case ak != "" && sk != "":
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(ak, sk, "")))
	case ak != "" || sk != "":
		return nil, fmt.Errorf("set both %s and %s, or neither", envAccessKey, envSecretKey)
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	pathStyle := endpoint != ""
	if v := getenv(envPathStyle); v != "" {
		if pathStyle, err = strconv.ParseBool(v); err != nil {
			return nil, fmt.Errorf("%s: %w", envPathStyle, err)
		}
	}
	if cfg.Region == "" {
		if endpoint == "" && cfg.BaseEndpoint == nil {
			return nil, errors.New("no AWS region: set AWS_REGION (or a region in the AWS config file)")
		}
		cfg.Region = "us-east-1" // what S3-compatible servers usually expect
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		o.UsePathStyle = pathStyle
	}), nil
}

// s3Databases lists the database names directly under prefix.
func s3Databases(ctx context.Context, client *s3.Client, bucket, prefix string) ([]string, error) {
	p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{
		Bucket:    aws.String(bucket),
		Prefix:    aws.String(prefix),
		Delimiter: aws.String("/"),
	})
	var dbs []string
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list databases in s3://%s/%s: %w", bucket, prefix, err)
		}
		for _, cp := range page.CommonPrefixes {
			name := strings.TrimSuffix(strings.TrimPrefix(aws.ToString(cp.Prefix), prefix), "/")
			if dcbackup.ValidateDBName(name) == nil {
				dbs = append(dbs, name)
			}
		}
	}
	slices.Sort(dbs)
	return dbs, nil
}

// selectDBs returns the database named by -db, or every database of the
// store when -db is empty.
func (h *storeHandle) selectDBs(ctx context.Context, db string) ([]string, error) {
	if db != "" {
		if err := dcbackup.ValidateDBName(db); err != nil {
			return nil, err
		}
		return []string{db}, nil
	}
	return h.databases(ctx)
}
