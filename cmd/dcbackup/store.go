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
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/dcbackup/dcbackup"
)

// Environment variables the command reads (besides the AWS SDK's own).
const (
	envStore = "DCBACKUP_STORE"
	envDB    = "DCBACKUP_DB"
)

// storeFlags are the flags that select a store and a database.
type storeFlags struct {
	store string
	db    string
	s3    s3Flags
}

func addStoreFlags(fs *flag.FlagSet, getenv env) *storeFlags {
	var f storeFlags
	fs.StringVar(&f.store, "store", getenv(envStore), "the store: a directory, or s3://bucket/prefix (env "+envStore+")")
	fs.StringVar(&f.db, "db", getenv(envDB), "database name in the store (env "+envDB+")")
	f.s3.add(fs)
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
		return f.openS3(ctx)
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

func (f *storeFlags) openS3(ctx context.Context) (*storeHandle, error) {
	bucket, prefix, err := parseS3URL(f.store)
	if err != nil {
		return nil, err
	}
	client, err := f.s3.client(ctx)
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
