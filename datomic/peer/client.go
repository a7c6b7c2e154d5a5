package peer

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/peer/internal/sign"
	"github.com/dcbackup/dcbackup/datomic/peer/internal/transit"
)

// ContentType is the body encoding the client sends and accepts.
const ContentType = "application/transit+json"

// Protocol header names.
const (
	HeaderOp     = "X-Nano-Op"
	HeaderTarget = "X-Nano-Target"
	HeaderNext   = "X-Nano-Next"
)

const catalogNS = "datomic.catalog/"

// client sends signed requests to one peer-server.
type client struct {
	cfg       Config
	http      *http.Client
	transport *http.Transport // ours, closed by Close; nil for a caller's client
	url       string
	host      string
	cred      sign.Credentials
	// onResponse sees every successful response (to advance the basis).
	onResponse func(transit.Map)
}

func newClient(cfg Config) (*client, error) {
	u, err := parseEndpoint(cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	c := &client{
		cfg:  cfg,
		url:  u.String(),
		host: u.Hostname(),
		cred: sign.Credentials{AccessKey: cfg.AccessKey, Secret: cfg.Secret},
	}
	if cfg.HTTPClient != nil {
		c.http = cfg.HTTPClient
		return c, nil
	}
	tlsCfg, err := tlsClientConfig(cfg.TLS, c.host)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsCfg
	tr.Proxy = nil
	c.transport = tr
	c.http = &http.Client{Transport: tr}
	return c, nil
}

// parseEndpoint accepts "host:port" or "https://host:port[/path]".
func parseEndpoint(ep string) (*url.URL, error) {
	if ep == "" {
		return nil, errors.New("peer: Config.Endpoint is empty")
	}
	if !strings.Contains(ep, "://") {
		ep = "https://" + ep
	}
	u, err := url.Parse(ep)
	if err != nil {
		return nil, fmt.Errorf("peer: endpoint %q: %w", ep, err)
	}
	if u.Scheme != "https" {
		return nil, fmt.Errorf("peer: endpoint %q: a peer-server speaks https only", ep)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("peer: endpoint %q has no host", ep)
	}
	if u.Path == "" {
		u.Path = "/"
	}
	u.RawQuery, u.Fragment = "", ""
	return u, nil
}

func (c *client) close() {
	if c.transport != nil {
		c.transport.CloseIdleConnections()
	}
}

// opKeyword is the :op of a request for op, and qualifiedOp its x-nano-op.
func opKeyword(op string) datomic.Keyword { return datomic.Keyword(op) }

func qualifiedOp(op string) string {
	if strings.HasPrefix(op, catalogNS) {
		return op
	}
	return "datomic.client.protocol/" + op
}

// idempotent reports whether op may be sent twice.
func idempotent(op string) bool { return op != "transact" }

// call sends req (which carries :op) and returns the response map, retrying
// idempotent operations. name is the operation named in errors.
func (c *client) call(ctx context.Context, op, name string, req transit.Map) (transit.Map, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	body, err := transit.Marshal(req)
	if err != nil {
		return nil, &datomic.Error{Category: datomic.CatIncorrect, Message: fmt.Sprintf("peer %s: cannot encode request", name), Op: -1, Err: err}
	}
	busy, unavailable := 0, 0
	for {
		resp, err := c.roundTrip(ctx, op, name, req, body)
		if err == nil {
			if c.onResponse != nil {
				c.onResponse(resp)
			}
			return resp, nil
		}
		var de *datomic.Error
		if !errors.As(err, &de) || !idempotent(op) || ctx.Err() != nil {
			return nil, err
		}
		var delay time.Duration
		switch de.Category {
		case datomic.CatBusy:
			if busy >= len(c.cfg.Retry.BusyDelays) {
				return nil, err
			}
			delay = c.cfg.Retry.BusyDelays[busy]
			busy++
		case datomic.CatUnavailable, datomic.CatInterrupted:
			if unavailable >= c.cfg.Retry.UnavailableRetries {
				return nil, err
			}
			delay = c.cfg.Retry.UnavailableDelay
			unavailable++
		default:
			return nil, err
		}
		c.cfg.Logger.LogAttrs(ctx, levelWarn, "peer request failed, retrying",
			attrOp(name), attrErr(err), attrDelay(delay))
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
	}
}

// roundTrip sends one request and reads its response.
func (c *client) roundTrip(ctx context.Context, op, name string, req transit.Map, body []byte) (transit.Map, error) {
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("peer %s: %w", name, err)
	}
	hreq.Host = c.host
	hreq.Header.Set("Content-Type", ContentType)
	hreq.Header.Set("Accept", ContentType)
	hreq.Header.Set(HeaderOp, qualifiedOp(op))
	if id, ok := getString(req, kwDatabaseID); ok {
		hreq.Header.Set(HeaderTarget, id)
	}
	if tok, ok := req.Get(kwNextToken); ok {
		hreq.Header.Set(HeaderNext, tokenString(tok))
	}
	sign.Sign(hreq, body, c.cred, sign.PeerServer, c.cfg.Now())

	start := time.Now()
	resp, err := c.http.Do(hreq)
	if err != nil {
		cat := datomic.CatUnavailable
		if ctx.Err() != nil {
			cat = datomic.CatInterrupted
		}
		var certErr *tls.CertificateVerificationError
		if errors.As(err, &certErr) || errors.Is(err, ErrUntrustedServer) {
			cat = datomic.CatForbidden
		}
		return nil, &datomic.Error{Category: cat, Message: fmt.Sprintf("peer %s: request failed", name), Op: -1, Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxResponseBytes+1))
	c.cfg.Logger.LogAttrs(ctx, levelDebug, "peer request", attrOp(name),
		attrStatus(resp.StatusCode), attrBytes(len(data)), attrDuration(time.Since(start)))
	if err != nil {
		cat := datomic.CatUnavailable
		if ctx.Err() != nil {
			cat = datomic.CatInterrupted
		}
		return nil, &datomic.Error{Category: cat, Message: fmt.Sprintf("peer %s: response truncated", name), Op: -1,
			Err: fmt.Errorf("%w: %w", ErrMalformed, err)}
	}
	if int64(len(data)) > c.cfg.MaxResponseBytes {
		return nil, malformed(name, "response larger than %d bytes", c.cfg.MaxResponseBytes)
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt != ContentType {
		if resp.StatusCode >= 400 {
			return nil, statusError(name, resp.StatusCode, data)
		}
		return nil, malformed(name, "unexpected content type %q (HTTP %d)", resp.Header.Get("Content-Type"), resp.StatusCode)
	}
	v, err := transit.Unmarshal(data)
	if err != nil {
		if resp.StatusCode >= 400 {
			return nil, statusError(name, resp.StatusCode, data)
		}
		return nil, malformedErr(name, err)
	}
	m, isMap := v.(transit.Map)
	if isMap {
		if e, ok := anomalyError(name, m); ok {
			return nil, e
		}
	}
	if resp.StatusCode >= 400 {
		return nil, statusError(name, resp.StatusCode, data)
	}
	if !isMap {
		return nil, malformed(name, "response is %T, not a map", v)
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
