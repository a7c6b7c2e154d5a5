// Package sign implements the request signing of the Datomic client protocol:
// Cognitect's fixed variant of AWS Signature Version 4 (cognitect.hmac-authn),
// and the matching verifier a server uses.
//
// The variant always names the same five signed headers, whether or not
// they are sent, and the server compares the whole Authorization string it
// recomputes with the one received. A stock SigV4 signer does not produce it.
package sign

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// Algorithm is the signing algorithm named in the Authorization header.
const Algorithm = "AWS4-HMAC-SHA256"

// SignedHeaders is the fixed list of signed headers.
const SignedHeaders = "content-type;host;x-amz-content-sha256;x-amz-date;x-amz-target"

// Header names set by Sign.
const (
	HeaderDate          = "X-Amz-Date"
	HeaderContentSHA256 = "X-Amz-Content-Sha256"
	HeaderAuthorization = "Authorization"
	// HeaderCognitectAuth and HeaderCognitectHost carry copies of the
	// Authorization and Host headers that survive proxies.
	HeaderCognitectAuth = "X-Cognitect-Auth"
	HeaderCognitectHost = "X-Cognitect-Host"
)

// DateFormat is the layout of the x-amz-date header.
const DateFormat = "20060102T150405Z"

// Credentials are an access key id and its secret.
type Credentials struct {
	AccessKey string
	Secret    string
}

// Scope is the region and service a signature is bound to.
type Scope struct {
	Region  string
	Service string
}

// PeerServer is the scope of a Datomic Pro peer-server.
var PeerServer = Scope{Region: "none", Service: "peer-server"}

// Request is what a signature covers.
type Request struct {
	Method string
	// Path is the URL path ("" means "/").
	Path string
	// Host is the host header value (for a peer-server: the host name only).
	Host string
	// ContentType is the content-type header value.
	ContentType string
	// Target is the x-amz-target header value; empty when not sent.
	Target string
	// PayloadHash is the lowercase hex SHA-256 of the body.
	PayloadHash string
}

// PayloadHash returns the lowercase hex SHA-256 of body.
func PayloadHash(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// Authorization returns the Authorization header value for r signed at now.
func Authorization(r Request, cred Credentials, scope Scope, now time.Time) string {
	now = now.UTC()
	amzDate := now.Format(DateFormat)
	day := now.Format("20060102")
	credScope := day + "/" + scope.Region + "/" + scope.Service + "/aws4_request"

	canonical := canonicalRequest(r, amzDate)
	sum := sha256.Sum256([]byte(canonical))
	toSign := Algorithm + "\n" + amzDate + "\n" + credScope + "\n" + hex.EncodeToString(sum[:])

	key := hmacSHA256([]byte("AWS4"+cred.Secret), day)
	key = hmacSHA256(key, scope.Region)
	key = hmacSHA256(key, scope.Service)
	key = hmacSHA256(key, "aws4_request")
	sig := hex.EncodeToString(hmacSHA256(key, toSign))

	keyID := strings.ReplaceAll(cred.AccessKey, "/", `\`)
	return Algorithm + " Credential=" + keyID + "/" + credScope +
		", SignedHeaders=" + SignedHeaders + ", Signature=" + sig
}

func canonicalRequest(r Request, amzDate string) string {
	headers := map[string]string{
		"content-type":         r.ContentType,
		"host":                 r.Host,
		"x-amz-content-sha256": r.PayloadHash,
		"x-amz-date":           amzDate,
		"x-amz-target":         r.Target,
	}
	names := make([]string, 0, len(headers))
	for k, v := range headers {
		if v != "" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	var sb strings.Builder
	sb.WriteString(strings.ToUpper(r.Method))
	sb.WriteByte('\n')
	sb.WriteString(canonicalURI(r.Path))
	sb.WriteString("\n\n") // empty query
	for _, k := range names {
		sb.WriteString(k)
		sb.WriteByte(':')
		sb.WriteString(collapseSpace(headers[k]))
		sb.WriteByte('\n')
	}
	sb.WriteByte('\n')
	sb.WriteString(SignedHeaders)
	sb.WriteByte('\n')
	sb.WriteString(r.PayloadHash)
	return sb.String()
}

// canonicalURI normalises and percent-encodes path.
func canonicalURI(path string) string {
	if path == "" {
		return "/"
	}
	segs := strings.Split(path, "/")
	var out []string
	for _, s := range segs {
		switch s {
		case "", ".":
			continue
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			continue
		}
		if u, err := url.PathUnescape(s); err == nil {
			s = u
		}
		out = append(out, escapeSegment(s))
	}
	p := "/" + strings.Join(out, "/")
	if strings.HasSuffix(path, "/") && len(out) > 0 {
		p += "/"
	}
	return p
}

func escapeSegment(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			sb.WriteByte(c)
		} else {
			sb.WriteByte('%')
			sb.WriteByte(hexDigits[c>>4])
			sb.WriteByte(hexDigits[c&0xf])
		}
	}
	return sb.String()
}

func collapseSpace(v string) string {
	return strings.Join(strings.Fields(v), " ")
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// Sign sets the signing headers of req for body, signed at now: x-amz-date,
// x-amz-content-sha256, Authorization, and their x-cognitect-* copies. The
// Host covered by the signature is req.Host, or req.URL's host name when
// req.Host is empty.
func Sign(req *http.Request, body []byte, cred Credentials, scope Scope, now time.Time) {
	host := req.Host
	if host == "" {
		host = req.URL.Hostname()
	}
	hash := PayloadHash(body)
	req.Header.Set(HeaderDate, now.UTC().Format(DateFormat))
	req.Header.Set(HeaderContentSHA256, hash)
	auth := Authorization(Request{
		Method:      req.Method,
		Path:        req.URL.EscapedPath(),
		Host:        host,
		ContentType: req.Header.Get("Content-Type"),
		Target:      req.Header.Get("X-Amz-Target"),
		PayloadHash: hash,
	}, cred, scope, now)
	req.Header.Set(HeaderAuthorization, auth)
	req.Header.Set(HeaderCognitectAuth, auth)
	req.Header.Set(HeaderCognitectHost, host)
}
