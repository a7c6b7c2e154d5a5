package peertest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/cloud"
	"github.com/dcbackup/dcbackup/datomic/internal/sign"
	"github.com/dcbackup/dcbackup/datomic/internal/transit"
	"github.com/dcbackup/dcbackup/datomic/mem"
)

// Defaults of a Cloud server.
const (
	DefaultSystem = "test-system"
	DefaultRegion = "us-east-1"
)

// S3 is the part of an S3 client a Cloud server uses for its keyfiles; an
// *s3.Client is one.
type S3 interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, optFns ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
}

// CloudOptions configure a fake Datomic Cloud system.
type CloudOptions struct {
	// S3 holds the keyfiles, in Bucket (which must exist) under Prefix.
	S3     S3
	Bucket string
	Prefix string
	// System and Region name the system (defaults DefaultSystem and
	// DefaultRegion); signatures must name Region and service "datomic".
	System, Region string
	// NewDB makes the database of a create-db (default: an in-memory
	// database in Cloud mode).
	NewDB func() datomic.Conn
}

// cloudState is what a Cloud server adds to a peer-server.
type cloudState struct {
	opts     CloudOptions
	authPath string // <bucket>[/<prefix>]
}

// NewCloudServer starts a fake Datomic Cloud system serving conn as
// opts.DBName (conn may be nil for a system without databases), writes the
// keyfiles of its admin, catalog and database keys to S3, and stops it
// when the test ends. opts.Cloud.S3 and opts.Cloud.Bucket are required.
func NewCloudServer(t testing.TB, conn datomic.Conn, opts Options) *Server {
	t.Helper()
	co := &opts.Cloud
	if co.S3 == nil || co.Bucket == "" {
		t.Fatal("peertest: a Cloud server needs Options.Cloud.S3 and Options.Cloud.Bucket")
	}
	if co.System == "" {
		co.System = DefaultSystem
	}
	if co.Region == "" {
		co.Region = DefaultRegion
	}
	if co.NewDB == nil {
		co.NewDB = func() datomic.Conn { return mem.New(mem.Options{Cloud: true}) }
	}
	s := newServer(opts)
	s.cloud = &cloudState{opts: *co, authPath: co.Bucket}
	if p := strings.Trim(co.Prefix, "/"); p != "" {
		s.cloud.authPath += "/" + p
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, kind := range []string{cloud.KindAdmin, cloud.KindCatalogRead} {
		if err := s.RotateKey(ctx, kind, ""); err != nil {
			t.Fatalf("peertest: write keyfile: %v", err)
		}
	}
	if conn != nil {
		s.addDatabase(s.opts.DBName, s.opts.DatabaseID, conn)
		if err := s.writeDBKeys(ctx, s.opts.DBName); err != nil {
			t.Fatalf("peertest: write keyfile: %v", err)
		}
	}
	s.start(t)
	return s
}

// CloudConfig returns a cloud.Config that reaches this Cloud system and
// its database: its endpoint, system, region and database name, the
// server's S3 client for the keyfiles, an HTTP client that trusts the
// server's certificate, and retry delays short enough for tests.
func (s *Server) CloudConfig() cloud.Config {
	cfg := cloud.Config{
		Endpoint:   s.srv.URL,
		HTTPClient: s.srv.Client(),
		DBName:     s.opts.DBName,
		Timeout:    30 * time.Second,
		Retry: cloud.RetryPolicy{
			BusyDelays:       []time.Duration{time.Millisecond, 2 * time.Millisecond, 4 * time.Millisecond},
			UnavailableDelay: 5 * time.Millisecond,
		},
	}
	if s.cloud != nil {
		cfg.System = s.cloud.opts.System
		cfg.Region = s.cloud.opts.Region
		cfg.S3 = s.cloud.opts.S3
	}
	return cfg
}

// AuthPath is the S3 location GET / names, "<bucket>[/<prefix>]".
func (s *Server) AuthPath() string { return s.cloud.authPath }

// Keyfile returns the bucket and object key of the keyfile of a kind of
// key (cloud.KindAdmin, KindCatalogRead, KindDBRead, KindDBWrite) for
// database db.
func (s *Server) Keyfile(kind, db string) (bucket, key string) {
	bucket, prefix, _ := strings.Cut(s.cloud.authPath, "/")
	if prefix != "" {
		prefix += "/"
	}
	return bucket, prefix + cloud.AccessDir(s.cloud.opts.System, kind, db) + cloud.KeyfileName
}

// RotateKey writes a new current key into the keyfile of a kind of key for
// database db ("" for the admin and catalog kinds). Requests signed with
// the previous key are refused from then on (403).
func (s *Server) RotateKey(ctx context.Context, kind, db string) error {
	var name, secret [12]byte
	_, _ = rand.Read(name[:])
	_, _ = rand.Read(secret[:])
	body, err := transit.Marshal(transit.Map{{Key: kwCurrent, Value: transit.Map{
		{Key: kwKeyName, Value: hex.EncodeToString(name[:])},
		{Key: kwSecret, Value: hex.EncodeToString(secret[:])},
	}}})
	if err != nil {
		return err
	}
	bucket, key := s.Keyfile(kind, db)
	_, err = s.cloud.opts.S3.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body),
		ContentType: aws.String(peerContentType),
	})
	return err
}

const peerContentType = "application/transit+json"

func (s *Server) writeDBKeys(ctx context.Context, db string) error {
	for _, kind := range []string{cloud.KindDBRead, cloud.KindDBWrite} {
		if err := s.RotateKey(ctx, kind, db); err != nil {
			return err
		}
	}
	return nil
}

var (
	kwCurrent = datomic.Keyword("current")
	kwKeyName = datomic.Keyword("key-name")
	kwSecret  = datomic.Keyword("secret")
)

// serveAuthPath answers the unsigned GET /.
func (s *Server) serveAuthPath(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/edn")
	fmt.Fprintf(w, "{:s3-auth-path %q}", s.cloud.authPath)
}

// cloudVerifier checks a request to /api: its key must be the current key
// of the keyfile that its operation needs, read from S3 now.
func (s *Server) cloudVerifier(ctx context.Context, op string, body []byte) sign.Verifier {
	return sign.Verifier{
		Scope:   sign.Scope{Region: s.cloud.opts.Region, Service: cloud.Service},
		MaxSkew: 15 * time.Minute,
		Secret: func(keyID string) (string, bool) {
			db := s.requestDB(op, body)
			kind := cloud.KeyKind(op)
			if (kind == cloud.KindDBRead || kind == cloud.KindDBWrite) && db == "" {
				return "", false
			}
			dir := cloud.AccessDir(s.cloud.opts.System, kind, db)
			name, ok := strings.CutPrefix(keyID, "s3://"+s.cloud.authPath+"/"+dir)
			if !ok || name == "" || strings.Contains(name, "/") {
				return "", false // a key of another keyfile
			}
			cur, secret, err := s.currentKey(ctx, kind, db)
			if err != nil {
				s.log.Info("peertest: cannot read keyfile", "op", op, "err", err)
				return "", false
			}
			return secret, name == cur
		},
	}
}

// requestDB is the database a request names: :db-name, or the database
// with its :database-id.
func (s *Server) requestDB(op string, body []byte) string {
	v, err := transit.Unmarshal(body)
	if err != nil {
		return ""
	}
	req, _ := v.(transit.Map)
	if name, ok := req.Get(kwDBName); ok {
		n, _ := name.(string)
		return n
	}
	if id, ok := req.Get(kwDatabaseID); ok {
		idStr, _ := id.(string)
		if db, ok := s.database("", idStr); ok {
			return db.name
		}
	}
	return ""
}

// currentKey reads the current key of a keyfile from S3.
func (s *Server) currentKey(ctx context.Context, kind, db string) (name, secret string, err error) {
	bucket, key := s.Keyfile(kind, db)
	out, err := s.cloud.opts.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return "", "", err
	}
	defer out.Body.Close()
	data, err := io.ReadAll(io.LimitReader(out.Body, 1<<20))
	if err != nil {
		return "", "", err
	}
	v, err := transit.Unmarshal(data)
	if err != nil {
		return "", "", err
	}
	m, _ := v.(transit.Map)
	cur, _ := m.Get(kwCurrent)
	cm, _ := cur.(transit.Map)
	n, _ := cm.Get(kwKeyName)
	sec, _ := cm.Get(kwSecret)
	name, _ = n.(string)
	secret, _ = sec.(string)
	if name == "" || secret == "" {
		return "", "", fmt.Errorf("keyfile s3://%s/%s has no current key", bucket, key)
	}
	return name, secret, nil
}

// cloudCatalog runs create-db and delete-db: a new database gets its read
// and write keyfiles, a deleted one loses them.
func (s *Server) cloudCatalog(ctx context.Context, op string, req transit.Map) (int, transit.Map) {
	v, _ := req.Get(kwDBName)
	name, _ := v.(string)
	if name == "" || strings.ContainsAny(name, "/\\") {
		return incorrect("%v is not a database name", v)
	}
	switch op {
	case "datomic.catalog/create-db":
		if _, ok := s.database(name, ""); ok {
			return http.StatusConflict, anomaly(datomic.CatConflict, "", fmt.Sprintf("database %s already exists", name))
		}
		s.addDatabase(name, "", s.cloud.opts.NewDB())
		if err := s.writeDBKeys(ctx, name); err != nil {
			return errorResponse(err)
		}
	default:
		s.mu.Lock()
		_, ok := s.dbs[name]
		delete(s.dbs, name)
		s.mu.Unlock()
		if !ok {
			return http.StatusNotFound, anomaly(datomic.CatNotFound, "", fmt.Sprintf("no database named %s", name))
		}
		for _, kind := range []string{cloud.KindDBRead, cloud.KindDBWrite} {
			bucket, key := s.Keyfile(kind, name)
			if _, err := s.cloud.opts.S3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); err != nil {
				return errorResponse(err)
			}
		}
	}
	return http.StatusOK, transit.Map{{Key: kwResult, Value: datomic.Keyword("ok")}}
}
