package main

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/dcbackup/dcbackup"
)

// failingS3 is an S3 endpoint on loopback that serves the segments of an
// FSStore, as if they were in bucket "bucket" under prefix "backups", and
// answers 500 to every GetObject of one key: a store that cannot be read,
// whoever runs the test (root reads files whatever their mode).
type failingS3 struct {
	srv     *httptest.Server
	store   *dcbackup.FSStore
	failKey string
	fails   atomic.Int32 // GetObject requests answered 500
}

const fakeBucket, fakePrefix = "bucket", "backups"

// newFailingS3 serves store and fails GetObject of segment bad of db.
func newFailingS3(t *testing.T, store *dcbackup.FSStore, db string, bad dcbackup.SegmentInfo) *failingS3 {
	t.Helper()
	f := &failingS3{store: store, failKey: fakePrefix + "/" + db + "/" + dcbackup.SegmentFileName(bad)}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// env configures the command's AWS SDK for the server, with one attempt
// per request (the SDK would otherwise retry a 500 with backoff).
func (f *failingS3) env() []string {
	return []string{"AWS_ENDPOINT_URL_S3=" + f.srv.URL, "AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=test",
		"AWS_SECRET_ACCESS_KEY=test", "AWS_MAX_ATTEMPTS=1", "AWS_EC2_METADATA_DISABLED=true"}
}

// where is the store's -store argument.
func (f *failingS3) where() string { return "s3://" + fakeBucket + "/" + fakePrefix }

type listResult struct {
	XMLName     xml.Name    `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListBucketResult"`
	Name        string      `xml:"Name"`
	Prefix      string      `xml:"Prefix"`
	KeyCount    int         `xml:"KeyCount"`
	MaxKeys     int         `xml:"MaxKeys"`
	IsTruncated bool        `xml:"IsTruncated"`
	Contents    []listEntry `xml:"Contents"`
}

type listEntry struct {
	Key          string `xml:"Key"`
	Size         int64  `xml:"Size"`
	LastModified string `xml:"LastModified"`
	ETag         string `xml:"ETag"`
}

func (f *failingS3) serve(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/")
	bucket, key, _ := strings.Cut(path, "/")
	if r.Method != http.MethodGet || bucket != fakeBucket {
		s3Error(w, http.StatusNotImplemented, "NotImplemented", r.Method+" "+r.URL.Path)
		return
	}
	if key == "" { // ListObjectsV2
		prefix := r.URL.Query().Get("prefix")
		db, ok := strings.CutPrefix(prefix, fakePrefix+"/")
		db = strings.TrimSuffix(db, "/")
		res := listResult{Name: fakeBucket, Prefix: prefix, MaxKeys: 1000}
		if ok && dcbackup.ValidateDBName(db) == nil {
			segs, err := f.store.List(r.Context(), db, 0)
			if err != nil {
				s3Error(w, http.StatusInternalServerError, "InternalError", err.Error())
				return
			}
			for _, s := range segs {
				res.Contents = append(res.Contents, listEntry{Key: prefix + dcbackup.SegmentFileName(s), Size: s.Size,
					LastModified: "2026-01-01T00:00:00.000Z", ETag: `"0"`})
			}
		}
		res.KeyCount = len(res.Contents)
		w.Header().Set("Content-Type", "application/xml")
		_ = xml.NewEncoder(w).Encode(res)
		return
	}
	if key == f.failKey {
		f.fails.Add(1)
		s3Error(w, http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.")
		return
	}
	rest, ok := strings.CutPrefix(key, fakePrefix+"/")
	db, name, _ := strings.Cut(rest, "/")
	seg, segOK := dcbackup.ParseSegmentFileName(name)
	if !ok || !segOK || dcbackup.ValidateDBName(db) != nil {
		s3Error(w, http.StatusNotFound, "NoSuchKey", key)
		return
	}
	data, err := os.ReadFile(f.store.Path(db, seg))
	if err != nil {
		s3Error(w, http.StatusNotFound, "NoSuchKey", key)
		return
	}
	if rg := r.Header.Get("Range"); rg != "" {
		var from, to int
		if _, err := fmt.Sscanf(rg, "bytes=%d-%d", &from, &to); err != nil || from != 0 {
			s3Error(w, http.StatusNotImplemented, "NotImplemented", "range "+rg)
			return
		}
		w.Header().Set("Content-Range", fmt.Sprintf("bytes 0-%d/%d", min(to, len(data)-1), len(data)))
		data = data[:min(to+1, len(data))]
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		w.WriteHeader(http.StatusPartialContent)
		_, _ = w.Write(data)
		return
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(data)))
	_, _ = w.Write(data)
}

func s3Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message></Error>`, code, msg)
}
