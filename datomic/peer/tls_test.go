package peer

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/datomic"
)

// oldCert makes a certificate like Datomic's: RSA 1024, SHA-1 signature,
// expired, names "Unknown", signed by parent (self-signed when nil).
func oldCert(t *testing.T, serial int64, parent *x509.Certificate, parentKey *rsa.PrivateKey, isCA bool) (*x509.Certificate, *rsa.PrivateKey) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	tpl := &x509.Certificate{
		SerialNumber:       big.NewInt(serial),
		Subject:            pkix.Name{CommonName: "Unknown", Organization: []string{"Unknown"}},
		NotBefore:          time.Date(2012, 1, 29, 0, 0, 0, 0, time.UTC),
		NotAfter:           time.Date(2022, 1, 26, 0, 0, 0, 0, time.UTC),
		SignatureAlgorithm: x509.SHA1WithRSA,
		KeyUsage:           x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageCertSign,
		ExtKeyUsage:        []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if isCA {
		tpl.BasicConstraintsValid, tpl.IsCA = true, true
	}
	signer, signerKey := tpl, key
	if parent != nil {
		signer, signerKey = parent, parentKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, signer, &key.PublicKey, signerKey)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	require.Equal(t, x509.SHA1WithRSA, cert.SignatureAlgorithm)
	return cert, key
}

func TestVerifyPinned(t *testing.T) {
	anchor, anchorKey := oldCert(t, 1, nil, nil, true)
	leaf, _ := oldCert(t, 2, anchor, anchorKey, false)
	other, _ := oldCert(t, 3, nil, nil, true)
	pin := func(cs ...*x509.Certificate) map[string]bool {
		m := map[string]bool{}
		for _, c := range cs {
			m[Fingerprint(c)] = true
		}
		return m
	}
	assert.NoError(t, verifyPinned([]*x509.Certificate{anchor}, pin(anchor), nil), "self-signed pinned leaf")
	assert.NoError(t, verifyPinned([]*x509.Certificate{leaf, anchor}, pin(anchor), nil), "chain up to a pinned anchor")
	assert.NoError(t, verifyPinned([]*x509.Certificate{leaf}, pin(leaf), nil), "pinned leaf")
	assert.NoError(t, verifyPinned([]*x509.Certificate{leaf}, nil, []*x509.Certificate{anchor}), "leaf signed by an anchor")
	assert.NoError(t, verifyPinned([]*x509.Certificate{anchor}, nil, []*x509.Certificate{anchor}), "the anchor itself")

	assert.ErrorIs(t, verifyPinned([]*x509.Certificate{leaf}, pin(anchor), nil), ErrUntrustedServer, "anchor not presented")
	assert.ErrorIs(t, verifyPinned([]*x509.Certificate{leaf, other}, pin(other), nil), ErrUntrustedServer, "broken chain")
	assert.ErrorIs(t, verifyPinned([]*x509.Certificate{leaf}, nil, []*x509.Certificate{other}), ErrUntrustedServer, "other anchor")
	assert.ErrorIs(t, verifyPinned(nil, pin(anchor), nil), ErrUntrustedServer)
}

// TestHandshakeWithDatomicLikeCertificate runs a TLS handshake against a
// server presenting an expired, SHA-1 signed, RSA-1024 certificate, as a
// peer-server does, and checks that pinning it works where standard
// verification fails.
func TestHandshakeWithDatomicLikeCertificate(t *testing.T) {
	cert, key := oldCert(t, 7, nil, nil, false)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", ContentType)
		_, _ = w.Write([]byte(`["^ ","~:database-id","x"]`))
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // rejected handshakes are expected
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}}}
	srv.StartTLS()
	defer srv.Close()

	call := func(tc TLSConfig) error {
		cfg := Config{Endpoint: srv.URL, DBName: "x", TLS: tc, Retry: RetryPolicy{UnavailableRetries: -1}}.withDefaults()
		tr, err := newTransport(cfg)
		require.NoError(t, err)
		defer tr.Close()
		_, err = tr.Call(context.Background(), "datomic.catalog/resolve-db", "resolve-db", "x", nil)
		return err
	}
	require.NoError(t, call(TLSConfig{Fingerprints: []string{Fingerprint(cert)}}))
	require.NoError(t, call(TLSConfig{Anchors: []*x509.Certificate{cert}}))

	pool := x509.NewCertPool()
	pool.AddCert(cert)
	err := call(TLSConfig{RootCAs: pool})
	require.Error(t, err, "standard verification rejects the expired SHA-1 certificate")
	assert.ErrorIs(t, err, datomic.ErrForbidden)
	assert.ErrorIs(t, call(TLSConfig{}), ErrUntrustedServer)
}
