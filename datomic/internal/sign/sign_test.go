package sign

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// qBody is the q request body of the protocol notes (§5), the input of the
// signing test vector.
const qBody = `["^ ","~:offset",0,"~:query",["~:find","~$?e","~:in","~$$","~:where",["^3","~:db/ident","~:db/txInstant"]],` +
	`"~:args",[["^ ","~:db-name","hello","~:database-id","datomic:dev://localhost:4334/hello","~:t",1000,"~:next-t",1001]],` +
	`"~:timeout",60000,"~:limit",1000,"~:chunk",1000,"~:op","~:q","^9","hello","^:","datomic:dev://localhost:4334/hello","~:t",1000,"^;",1001]`

var (
	vectorTime = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	vectorCred = Credentials{AccessKey: "myaccesskey", Secret: "mysecret"}
)

const vectorSignature = "5e72602da274b8bcc9f0496611d71448988777de2eb132be5d231e007eb10f39"

func TestVector(t *testing.T) {
	hash := PayloadHash([]byte(qBody))
	assert.True(t, strings.HasPrefix(hash, "44d08023"))
	assert.True(t, strings.HasSuffix(hash, "c03fb"))
	auth := Authorization(Request{
		Method: "POST", Path: "/", Host: "localhost",
		ContentType: "application/transit+json", PayloadHash: hash,
	}, vectorCred, PeerServer, vectorTime)
	assert.Equal(t, "AWS4-HMAC-SHA256 Credential=myaccesskey/20240102/none/peer-server/aws4_request, "+
		"SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-target, "+
		"Signature="+vectorSignature, auth)
}

func newRequest(t *testing.T, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "https://localhost:8998/", bytes.NewReader([]byte(body)))
	require.NoError(t, err)
	req.Host = "localhost"
	req.Header.Set("Content-Type", "application/transit+json")
	return req
}

func TestSignRequestMatchesVector(t *testing.T) {
	req := newRequest(t, qBody)
	Sign(req, []byte(qBody), vectorCred, PeerServer, vectorTime)
	assert.Equal(t, "20240102T030405Z", req.Header.Get("x-amz-date"))
	assert.Contains(t, req.Header.Get("authorization"), "Signature="+vectorSignature)
	assert.Equal(t, req.Header.Get("authorization"), req.Header.Get("x-cognitect-auth"))
	assert.Equal(t, "localhost", req.Header.Get("x-cognitect-host"))
}

func verifier() Verifier {
	return Verifier{
		Secret: func(k string) (string, bool) {
			if k == "myaccesskey" || k == "s3://bucket/key" {
				return "mysecret", true
			}
			return "", false
		},
		Scope:   PeerServer,
		MaxSkew: 15 * time.Minute,
		Now:     func() time.Time { return vectorTime.Add(time.Minute) },
	}
}

func TestVerify(t *testing.T) {
	v := verifier()
	sign := func(body string, cred Credentials) *http.Request {
		req := newRequest(t, body)
		Sign(req, []byte(body), cred, PeerServer, vectorTime)
		return req
	}
	require.NoError(t, v.Verify(sign(qBody, vectorCred), []byte(qBody)))

	// A key id with slashes travels escaped.
	slashed := Credentials{AccessKey: "s3://bucket/key", Secret: "mysecret"}
	req := sign(qBody, slashed)
	assert.Contains(t, req.Header.Get("authorization"), `Credential=s3:\\bucket\key/`)
	require.NoError(t, v.Verify(req, []byte(qBody)))

	cases := map[string]func() (*http.Request, []byte){
		"wrong secret": func() (*http.Request, []byte) {
			return sign(qBody, Credentials{AccessKey: "myaccesskey", Secret: "other"}), []byte(qBody)
		},
		"unknown key": func() (*http.Request, []byte) {
			return sign(qBody, Credentials{AccessKey: "nobody", Secret: "mysecret"}), []byte(qBody)
		},
		"body changed": func() (*http.Request, []byte) { return sign(qBody, vectorCred), []byte(qBody + " ") },
		"host changed": func() (*http.Request, []byte) {
			r := sign(qBody, vectorCred)
			r.Header.Set(HeaderCognitectHost, "elsewhere")
			return r, []byte(qBody)
		},
		"content type changed": func() (*http.Request, []byte) {
			r := sign(qBody, vectorCred)
			r.Header.Set("Content-Type", "application/transit+msgpack")
			return r, []byte(qBody)
		},
		"no authorization": func() (*http.Request, []byte) { return newRequest(t, qBody), []byte(qBody) },
		"stale date": func() (*http.Request, []byte) {
			r := newRequest(t, qBody)
			Sign(r, []byte(qBody), vectorCred, PeerServer, vectorTime.Add(-time.Hour))
			return r, []byte(qBody)
		},
	}
	for name, mk := range cases {
		t.Run(name, func(t *testing.T) {
			r, body := mk()
			assert.ErrorIs(t, v.Verify(r, body), ErrUnauthenticated)
		})
	}
}

func TestCanonicalURI(t *testing.T) {
	assert.Equal(t, "/", canonicalURI(""))
	assert.Equal(t, "/", canonicalURI("/"))
	assert.Equal(t, "/api", canonicalURI("/api"))
	assert.Equal(t, "/group/a%20b/", canonicalURI("/group/./x/../a%20b/"))
}

func TestCollapseSpace(t *testing.T) {
	assert.Equal(t, "a b c", collapseSpace("  a   b\tc "))
}
