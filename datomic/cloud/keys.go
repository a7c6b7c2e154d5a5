package cloud

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"golang.org/x/sync/singleflight"

	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/internal/client"
	"github.com/dcbackup/dcbackup/datomic/internal/sign"
	"github.com/dcbackup/dcbackup/datomic/internal/transit"
)

// Service is the signing service of Datomic Cloud requests.
const Service = "datomic"

// KeyfileName is the name of the keyfile in each access directory.
const KeyfileName = ".keys"

// maxKeyfileBytes bounds a keyfile read from S3.
const maxKeyfileBytes = 1 << 20

// Key kinds: which keyfile signs an operation.
const (
	KindAdmin       = "admin"        // create-db, delete-db
	KindCatalogRead = "catalog-read" // list-dbs
	KindDBRead      = "db-read"      // resolve-db, status, tx-range, next, datoms, index-range, ...
	KindDBWrite     = "db-write"     // transact
)

// KeyKind returns the kind of key that signs op (a short data op such as
// "tx-range", or a catalog op such as "datomic.catalog/list-dbs").
func KeyKind(op string) string {
	switch op {
	case client.CatalogNS + "create-db", client.CatalogNS + "delete-db", client.CatalogNS + "administer-system":
		return KindAdmin
	case client.CatalogNS + "list-dbs":
		return KindCatalogRead
	case "transact":
		return KindDBWrite
	}
	return KindDBRead
}

// AccessDir returns the directory, relative to the S3 auth path, of the
// keyfile of a kind of key for system (and database db for the db kinds):
// "<system>/datomic/access/" followed by "admin/", "dbs/catalog/read/",
// "dbs/db/<db>/read/" or "dbs/db/<db>/" (write keys).
func AccessDir(system, kind, db string) string {
	base := system + "/datomic/access/"
	switch kind {
	case KindAdmin:
		return base + "admin/"
	case KindCatalogRead:
		return base + "dbs/catalog/read/"
	case KindDBWrite:
		return base + "dbs/db/" + db + "/"
	}
	return base + "dbs/db/" + db + "/read/"
}

// keyring reads access keys from the system's keyfiles in S3 and caches
// them per keyfile. It implements client.Auth.
type keyring struct {
	s3       S3API
	authPath string // <bucket>[/<prefix>], as GET / answered it, without s3://
	system   string
	scope    sign.Scope

	mu    sync.Mutex
	cache map[string]client.Key // by access directory
	reads singleflight.Group
}

func newKeyring(s3c S3API, authPath, system, region string) *keyring {
	return &keyring{
		s3:       s3c,
		authPath: authPath,
		system:   system,
		scope:    sign.Scope{Region: region, Service: Service},
		cache:    make(map[string]client.Key),
	}
}

// dirOf returns the access directory of op on database db.
func (k *keyring) dirOf(op, db string) (string, error) {
	kind := KeyKind(op)
	if kind == KindDBRead || kind == KindDBWrite {
		if err := checkDBName(db); err != nil {
			return "", err
		}
	}
	return AccessDir(k.system, kind, db), nil
}

// checkDBName refuses a database name that cannot name a keyfile.
func checkDBName(db string) error {
	if db == "" || strings.ContainsAny(db, "/\\") || db == "." || db == ".." {
		return &datomic.Error{Category: datomic.CatIncorrect, Op: -1,
			Message: fmt.Sprintf("cloud: %q is not a database name", db)}
	}
	return nil
}

// Key returns the cached key of op's keyfile, reading it on first use.
func (k *keyring) Key(ctx context.Context, op, db string) (client.Key, error) {
	dir, err := k.dirOf(op, db)
	if err != nil {
		return client.Key{}, err
	}
	k.mu.Lock()
	key, ok := k.cache[dir]
	k.mu.Unlock()
	if ok {
		return key, nil
	}
	return k.load(ctx, dir, KeyKind(op), db)
}

// Refresh re-reads op's keyfile after the server refused old. It reports
// whether the keyfile now holds another key (or another request already
// found one).
func (k *keyring) Refresh(ctx context.Context, op, db string, old client.Key) (client.Key, bool, error) {
	dir, err := k.dirOf(op, db)
	if err != nil {
		return old, false, err
	}
	k.mu.Lock()
	cached, ok := k.cache[dir]
	k.mu.Unlock()
	if ok && cached != old {
		return cached, true, nil
	}
	// A read that started before the refusal may return the refused key:
	// read again.
	k.reads.Forget(dir)
	key, err := k.load(ctx, dir, KeyKind(op), db)
	if err != nil {
		return old, false, err
	}
	return key, key != old, nil
}

// load reads the keyfile of dir (one read at a time per keyfile) and caches
// its current key.
func (k *keyring) load(ctx context.Context, dir, kind, db string) (client.Key, error) {
	v, err, _ := k.reads.Do(dir, func() (any, error) {
		key, err := k.read(ctx, dir, kind, db)
		if err != nil {
			return nil, err
		}
		k.mu.Lock()
		k.cache[dir] = key
		k.mu.Unlock()
		return key, nil
	})
	if err != nil {
		return client.Key{}, err
	}
	return v.(client.Key), nil
}

// location returns the bucket and object key of dir's keyfile, and its
// s3:// URL for messages.
func (k *keyring) location(dir string) (bucket, key, url string) {
	bucket, prefix, _ := strings.Cut(k.authPath, "/")
	if prefix != "" {
		prefix = strings.TrimSuffix(prefix, "/") + "/"
	}
	key = prefix + dir + KeyfileName
	return bucket, key, "s3://" + bucket + "/" + key
}

var (
	kwCurrent = datomic.Keyword("current")
	kwKeyName = datomic.Keyword("key-name")
	kwSecret  = datomic.Keyword("secret")
)

// read fetches and decodes dir's keyfile.
func (k *keyring) read(ctx context.Context, dir, kind, db string) (client.Key, error) {
	bucket, objKey, url := k.location(dir)
	out, err := k.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(objKey)})
	if err != nil {
		return client.Key{}, keyfileError(ctx, err, url, kind, db, k.system)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(io.LimitReader(out.Body, maxKeyfileBytes+1))
	if err != nil {
		return client.Key{}, keyfileError(ctx, err, url, kind, db, k.system)
	}
	bad := func(what string) (client.Key, error) {
		return client.Key{}, &datomic.Error{Category: datomic.CatFault, Op: -1,
			Message: fmt.Sprintf("cloud: keyfile %s: %s", url, what), Err: ErrMalformed}
	}
	if len(data) > maxKeyfileBytes {
		return bad(fmt.Sprintf("larger than %d bytes", maxKeyfileBytes))
	}
	v, err := transit.Unmarshal(data)
	if err != nil {
		return bad("not transit+json: " + err.Error())
	}
	m, ok := v.(transit.Map)
	if !ok {
		return bad("not a map")
	}
	cur, ok := m.Get(kwCurrent)
	curMap, isMap := cur.(transit.Map)
	if !ok || !isMap {
		return bad("no :current key")
	}
	name, ok1 := curMap.Get(kwKeyName)
	secret, ok2 := curMap.Get(kwSecret)
	nameStr, ok3 := name.(string)
	secretStr, ok4 := secret.(string)
	if !ok1 || !ok2 || !ok3 || !ok4 || nameStr == "" || secretStr == "" {
		return bad(":current has no :key-name and :secret strings")
	}
	id := "s3://" + k.authPath + "/" + dir + nameStr
	return client.Key{Cred: sign.Credentials{AccessKey: id, Secret: secretStr}, Scope: k.scope}, nil
}

// keyfileError maps a failed keyfile read to a *datomic.Error: a missing
// keyfile of a database is that database not existing.
func keyfileError(ctx context.Context, err error, url, kind, db, system string) error {
	status := 0
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	code := ""
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	e := &datomic.Error{Category: datomic.CatUnavailable, Op: -1, Err: err,
		Message: fmt.Sprintf("cloud: cannot read keyfile %s", url)}
	switch {
	case ctx.Err() != nil:
		e.Category = datomic.CatInterrupted
	case code == "NoSuchKey" || code == "NotFound" || status == http.StatusNotFound:
		e.Category = datomic.CatNotFound
		if kind == KindDBRead || kind == KindDBWrite {
			e.Message = fmt.Sprintf("cloud: database %q not found in system %q (no keyfile %s)", db, system, url)
		} else {
			e.Message = fmt.Sprintf("cloud: no keyfile %s (is the system name %q right?)", url, system)
		}
	case code == "NoSuchBucket":
		e.Category = datomic.CatNotFound
		e.Message = fmt.Sprintf("cloud: no bucket for keyfile %s", url)
	case code == "AccessDenied" || status == http.StatusForbidden:
		e.Category = datomic.CatForbidden
		e.Message = fmt.Sprintf("cloud: reading keyfile %s is denied (the AWS credentials need s3:GetObject on it)", url)
	}
	return e
}
