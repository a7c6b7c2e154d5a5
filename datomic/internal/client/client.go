// Package client implements the Datomic client protocol shared by the
// peer-server (datomic/peer) and Datomic Cloud (datomic/cloud) clients:
// signed HTTP POSTs of transit+json bodies, retries, chunked reads, and a
// datomic.Conn over them. The two products differ only in where requests
// go and how they are signed, which the caller gives as a Transport.
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/internal/sign"
	"github.com/dcbackup/dcbackup/datomic/internal/transit"
)

// ContentType is the body encoding the client sends and accepts.
const ContentType = "application/transit+json"

// Protocol header names.
const (
	HeaderOp     = "X-Nano-Op"
	HeaderTarget = "X-Nano-Target"
	HeaderNext   = "X-Nano-Next"
)

// CatalogNS is the namespace of catalog operations (resolve-db, list-dbs,
// create-db, delete-db); every other operation is a data operation of
// datomic.client.protocol.
const CatalogNS = "datomic.catalog/"

// ErrMalformed is wrapped by the error of a response that cannot be read:
// not transit, truncated, or missing what the operation needs.
var ErrMalformed = errors.New("malformed response")

// ErrUntrustedServer is wrapped by the TLS error of a server whose
// certificate is neither pinned nor signed by a trusted anchor.
var ErrUntrustedServer = errors.New("untrusted server certificate")

// Key is what a request is signed with.
type Key struct {
	Cred  sign.Credentials
	Scope sign.Scope
}

// Auth chooses the key that signs each request.
type Auth interface {
	// Key returns the key for op (e.g. "tx-range",
	// "datomic.catalog/list-dbs") on database db ("" for none).
	Key(ctx context.Context, op, db string) (Key, error)
	// Refresh is called when the server refused a request signed with old
	// (HTTP 403). It returns the key to retry with and true, or false when
	// there is no other key to try, and the refusal stands.
	Refresh(ctx context.Context, op, db string, old Key) (Key, bool, error)
}

// StaticAuth signs every request with one key.
type StaticAuth Key

// Key returns the key.
func (a StaticAuth) Key(context.Context, string, string) (Key, error) { return Key(a), nil }

// Refresh reports that there is no other key.
func (a StaticAuth) Refresh(context.Context, string, string, Key) (Key, bool, error) {
	return Key(a), false, nil
}

// RetryPolicy is the back-off of retried requests (see the products'
// RetryPolicy types, which convert to it).
type RetryPolicy struct {
	BusyDelays         []time.Duration
	UnavailableDelay   time.Duration
	UnavailableRetries int
}

// Transport sends signed requests to one server. Its fields are set once,
// before use; it is then safe for concurrent use.
type Transport struct {
	// Product starts every error message ("peer", "cloud").
	Product string
	// HTTP sends the requests.
	HTTP *http.Client
	// Owned, when set, is the transport of HTTP that Close releases.
	Owned *http.Transport
	// URL is where requests are POSTed; Host is the host header, which the
	// signature covers.
	URL, Host string
	Auth      Auth
	// Timeout bounds each operation, retries included.
	Timeout time.Duration
	Retry   RetryPolicy
	// MaxResponseBytes bounds one response body.
	MaxResponseBytes int64
	Logger           *slog.Logger
	// Now is the clock used to sign requests.
	Now func() time.Time
	// TxRangeChunk and DatomsChunk are the chunk sizes of log and index reads.
	TxRangeChunk, DatomsChunk int
}

// Close releases the idle connections of a transport the Transport owns.
func (t *Transport) Close() {
	if t.Owned != nil {
		t.Owned.CloseIdleConnections()
	}
}

// label names op in messages, e.g. "peer tx-range".
func (t *Transport) label(op string) string { return t.Product + " " + op }

// QualifiedOp is the x-nano-op header value of op.
func QualifiedOp(op string) string {
	if strings.HasPrefix(op, CatalogNS) {
		return op
	}
	return "datomic.client.protocol/" + op
}

// idempotent reports whether op may be sent twice: every read, not the
// operations that change a database or the catalog.
func idempotent(op string) bool {
	switch op {
	case "transact", CatalogNS + "create-db", CatalogNS + "delete-db":
		return false
	}
	return true
}

// Call sends req (which carries :op) for op on database db ("" for none)
// and returns the response map, retrying idempotent operations as the
// official client does, and any operation once with a new key after a 403
// when Auth has one. name is the operation named in errors.
func (t *Transport) Call(ctx context.Context, op, name, db string, req transit.Map) (transit.Map, error) {
	ctx, cancel := context.WithTimeout(ctx, t.Timeout)
	defer cancel()
	body, err := transit.Marshal(req)
	if err != nil {
		return nil, &datomic.Error{Category: datomic.CatIncorrect, Message: t.label(name) + ": cannot encode request", Op: -1, Err: err}
	}
	key, err := t.Auth.Key(ctx, op, db)
	if err != nil {
		return nil, err
	}
	busy, unavailable, refreshed := 0, 0, false
	for {
		resp, err := t.roundTrip(ctx, op, name, req, body, key)
		if err == nil {
			return resp, nil
		}
		var de *datomic.Error
		if !errors.As(err, &de) || ctx.Err() != nil {
			return nil, err
		}
		if de.Category == datomic.CatForbidden && de.Err == nil && !refreshed {
			// The server refused the key: a key rotated since it was read
			// is replaced once; an unchanged key is refused for good.
			refreshed = true
			next, changed, rerr := t.Auth.Refresh(ctx, op, db, key)
			if rerr != nil {
				return nil, errors.Join(err, rerr)
			}
			if !changed {
				return nil, err
			}
			t.Logger.LogAttrs(ctx, levelWarn, t.Product+" request refused, retrying with a new key", attrOp(name))
			key = next
			continue
		}
		if !idempotent(op) {
			return nil, err
		}
		var delay time.Duration
		switch de.Category {
		case datomic.CatBusy:
			if busy >= len(t.Retry.BusyDelays) {
				return nil, err
			}
			delay = t.Retry.BusyDelays[busy]
			busy++
		case datomic.CatUnavailable, datomic.CatInterrupted:
			if unavailable >= t.Retry.UnavailableRetries {
				return nil, err
			}
			delay = t.Retry.UnavailableDelay
			unavailable++
		default:
			return nil, err
		}
		t.Logger.LogAttrs(ctx, levelWarn, t.Product+" request failed, retrying",
			attrOp(name), attrErr(err), attrDelay(delay))
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, err
		case <-timer.C:
		}
	}
}

// roundTrip sends one request signed with key and reads its response.
func (t *Transport) roundTrip(ctx context.Context, op, name string, req transit.Map, body []byte, key Key) (transit.Map, error) {
	label := t.label(name)
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	hreq.Host = t.Host
	hreq.Header.Set("Content-Type", ContentType)
	hreq.Header.Set("Accept", ContentType)
	hreq.Header.Set(HeaderOp, QualifiedOp(op))
	if id, ok := getString(req, kwDatabaseID); ok {
		hreq.Header.Set(HeaderTarget, id)
	}
	if tok, ok := req.Get(kwNextToken); ok {
		hreq.Header.Set(HeaderNext, tokenString(tok))
	}
	sign.Sign(hreq, body, key.Cred, key.Scope, t.Now())

	start := time.Now()
	resp, err := t.HTTP.Do(hreq)
	if err != nil {
		cat := datomic.CatUnavailable
		if ctx.Err() != nil {
			cat = datomic.CatInterrupted
		}
		var certErr *tls.CertificateVerificationError
		if errors.As(err, &certErr) || errors.Is(err, ErrUntrustedServer) {
			cat = datomic.CatForbidden
		}
		return nil, &datomic.Error{Category: cat, Message: label + ": request failed", Op: -1, Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, t.MaxResponseBytes+1))
	t.Logger.LogAttrs(ctx, levelDebug, t.Product+" request", attrOp(name),
		attrStatus(resp.StatusCode), attrBytes(len(data)), attrDuration(time.Since(start)))
	if err != nil {
		cat := datomic.CatUnavailable
		if ctx.Err() != nil {
			cat = datomic.CatInterrupted
		}
		return nil, &datomic.Error{Category: cat, Message: label + ": response truncated", Op: -1,
			Err: fmt.Errorf("%w: %w", ErrMalformed, err)}
	}
	if int64(len(data)) > t.MaxResponseBytes {
		return nil, malformed(label, "response larger than %d bytes", t.MaxResponseBytes)
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt != ContentType {
		if resp.StatusCode >= 400 {
			return nil, statusError(label, resp.StatusCode, data)
		}
		return nil, malformed(label, "unexpected content type %q (HTTP %d)", resp.Header.Get("Content-Type"), resp.StatusCode)
	}
	v, err := transit.Unmarshal(data)
	if err != nil {
		if resp.StatusCode >= 400 {
			return nil, statusError(label, resp.StatusCode, data)
		}
		return nil, malformedErr(label, err)
	}
	m, isMap := v.(transit.Map)
	if isMap {
		if e, ok := anomalyError(label, m); ok {
			return nil, e
		}
	}
	if resp.StatusCode >= 400 {
		return nil, statusError(label, resp.StatusCode, data)
	}
	if !isMap {
		return nil, malformed(label, "response is %T, not a map", v)
	}
	return m, nil
}

func tokenString(tok any) string {
	switch x := tok.(type) {
	case string:
		return x
	case datomic.UUID:
		return x.String()
	}
	return fmt.Sprint(tok)
}
