package cloud

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestParseEndpoint: the host header carries the port only when it is not
// the scheme's default, and the path is dropped.
func TestParseEndpoint(t *testing.T) {
	for ep, want := range map[string][2]string{
		"https://abc.execute-api.us-east-1.amazonaws.com": {"https://abc.execute-api.us-east-1.amazonaws.com", "abc.execute-api.us-east-1.amazonaws.com"},
		"https://abc.example.com:443/stage":               {"https://abc.example.com:443", "abc.example.com"},
		"https://abc.example.com:8443/":                   {"https://abc.example.com:8443", "abc.example.com:8443"},
		"http://entry.sys.us-east-1.datomic.net:8182/":    {"http://entry.sys.us-east-1.datomic.net:8182", "entry.sys.us-east-1.datomic.net:8182"},
		"http://127.0.0.1:80":                             {"http://127.0.0.1:80", "127.0.0.1"},
		"https://[::1]:9443?x=1#f":                        {"https://[::1]:9443", "[::1]:9443"},
		"https://[::1]":                                   {"https://[::1]", "[::1]"},
	} {
		u, host, err := parseEndpoint(ep)
		require.NoError(t, err, ep)
		assert.Equal(t, want[0], u.String(), ep)
		assert.Equal(t, want[1], host, ep)
		assert.Equal(t, want[0]+"/api", u.JoinPath("/api").String(), ep)
	}
}
