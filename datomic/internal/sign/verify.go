package sign

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// ErrUnauthenticated is wrapped by every verification failure.
var ErrUnauthenticated = errors.New("sign: request not authenticated")

// Verifier checks signatures made by Sign, by recomputing the whole
// Authorization string as the peer-server does.
type Verifier struct {
	// Secret returns the secret of an access key id.
	Secret func(accessKey string) (string, bool)
	// Scope is the expected region and service.
	Scope Scope
	// MaxSkew, when positive, rejects a request whose x-amz-date is further
	// than this from Now.
	MaxSkew time.Duration
	// Now returns the current time (time.Now when nil).
	Now func() time.Time
}

// Verify checks the signature of r, whose body was read into body.
func (v Verifier) Verify(r *http.Request, body []byte) error {
	auth := r.Header.Get(HeaderCognitectAuth)
	if auth == "" {
		auth = r.Header.Get(HeaderAuthorization)
	}
	host := r.Header.Get(HeaderCognitectHost)
	if host == "" {
		host = r.Host
	}
	if auth == "" {
		return fmt.Errorf("%w: no authorization header", ErrUnauthenticated)
	}
	keyID, ok := credentialKey(auth)
	if !ok {
		return fmt.Errorf("%w: malformed authorization header", ErrUnauthenticated)
	}
	keyID = strings.ReplaceAll(keyID, `\`, "/")
	secret, ok := v.Secret(keyID)
	if !ok {
		return fmt.Errorf("%w: unknown access key", ErrUnauthenticated)
	}
	date, err := time.Parse(DateFormat, r.Header.Get(HeaderDate))
	if err != nil {
		return fmt.Errorf("%w: bad %s header", ErrUnauthenticated, HeaderDate)
	}
	if v.MaxSkew > 0 {
		now := time.Now()
		if v.Now != nil {
			now = v.Now()
		}
		if d := now.Sub(date); d > v.MaxSkew || d < -v.MaxSkew {
			return fmt.Errorf("%w: request date %s too far from server time", ErrUnauthenticated, date.Format(DateFormat))
		}
	}
	hash := PayloadHash(body)
	if r.Header.Get(HeaderContentSHA256) != hash {
		return fmt.Errorf("%w: body hash mismatch", ErrUnauthenticated)
	}
	want := Authorization(Request{
		Method:      r.Method,
		Path:        r.URL.EscapedPath(),
		Host:        host,
		ContentType: r.Header.Get("Content-Type"),
		Target:      r.Header.Get("X-Amz-Target"),
		PayloadHash: hash,
	}, Credentials{AccessKey: keyID, Secret: secret}, v.Scope, date)
	if subtle.ConstantTimeCompare([]byte(want), []byte(auth)) != 1 {
		return fmt.Errorf("%w: signature mismatch", ErrUnauthenticated)
	}
	return nil
}

// credentialKey extracts the (escaped) access key id from an Authorization value.
func credentialKey(auth string) (string, bool) {
	rest, ok := strings.CutPrefix(auth, Algorithm+" Credential=")
	if !ok {
		return "", false
	}
	key, _, ok := strings.Cut(rest, "/")
	return key, ok && key != ""
}
