package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stream is `go test -json` output of three packages: one that passes
// (with a skipped test and a skipped subtest), one with a failing test,
// one that does not build; and a line of the go command's own.
const stream = `{"Action":"start","Package":"example.com/a"}
{"Action":"run","Package":"example.com/a","Test":"TestOK"}
{"Action":"output","Package":"example.com/a","Test":"TestOK","Output":"=== RUN   TestOK\n"}
{"Action":"output","Package":"example.com/a","Test":"TestOK","Output":"    a_test.go:9: logged\n"}
{"Action":"output","Package":"example.com/a","Test":"TestOK","Output":"--- PASS: TestOK (0.00s)\n"}
{"Action":"pass","Package":"example.com/a","Test":"TestOK"}
{"Action":"run","Package":"example.com/a","Test":"TestS3"}
{"Action":"output","Package":"example.com/a","Test":"TestS3","Output":"=== RUN   TestS3\n"}
{"Action":"output","Package":"example.com/a","Test":"TestS3","Output":"    s3_test.go:20: no S3 test server: start one\n"}
{"Action":"output","Package":"example.com/a","Test":"TestS3","Output":"--- SKIP: TestS3 (0.00s)\n"}
{"Action":"skip","Package":"example.com/a","Test":"TestS3"}
{"Action":"run","Package":"example.com/a","Test":"TestT/sub"}
{"Action":"output","Package":"example.com/a","Test":"TestT/sub","Output":"    t_test.go:5: no S3 test server: start one\n"}
{"Action":"output","Package":"example.com/a","Test":"TestT/sub","Output":"    --- SKIP: TestT/sub (0.00s)\n"}
{"Action":"skip","Package":"example.com/a","Test":"TestT/sub"}
{"Action":"run","Package":"example.com/a","Test":"TestBare"}
{"Action":"skip","Package":"example.com/a","Test":"TestBare"}
{"Action":"output","Package":"example.com/a","Output":"PASS\n"}
{"Action":"output","Package":"example.com/a","Output":"ok  \texample.com/a\t0.01s\n"}
{"Action":"pass","Package":"example.com/a"}
{"Action":"run","Package":"example.com/b","Test":"TestBad"}
{"Action":"output","Package":"example.com/b","Test":"TestBad","Output":"=== RUN   TestBad\n"}
{"Action":"output","Package":"example.com/b","Test":"TestBad","Output":"    b_test.go:7: want 1, got 2\n"}
{"Action":"output","Package":"example.com/b","Test":"TestBad","Output":"--- FAIL: TestBad (0.00s)\n"}
{"Action":"fail","Package":"example.com/b","Test":"TestBad"}
{"Action":"output","Package":"example.com/b","Output":"FAIL\n"}
{"Action":"output","Package":"example.com/b","Output":"FAIL\texample.com/b\t0.01s\n"}
{"Action":"fail","Package":"example.com/b"}
{"ImportPath":"example.com/c","Action":"build-output","Output":"c/c.go:3:1: syntax error\n"}
{"ImportPath":"example.com/c","Action":"build-fail"}
{"Action":"output","Package":"example.com/c","Output":"FAIL\texample.com/c [build failed]\n"}
{"Action":"fail","Package":"example.com/c"}
go: warning: a line of the go command
`

func TestRender(t *testing.T) {
	var out strings.Builder
	require.NoError(t, render(strings.NewReader(stream), &out))
	assert.Equal(t, `ok  	example.com/a	0.01s
    b_test.go:7: want 1, got 2
--- FAIL: TestBad (0.00s)
FAIL
FAIL	example.com/b	0.01s
c/c.go:3:1: syntax error
FAIL	example.com/c [build failed]
go: warning: a line of the go command
`, out.String())
}

func TestRenderUnfinished(t *testing.T) {
	var out strings.Builder
	cut := stream[:strings.Index(stream, `{"Action":"fail","Package":"example.com/b","Test":"TestBad"}`)]
	require.NoError(t, render(strings.NewReader(cut), &out))
	assert.True(t, strings.HasSuffix(out.String(), "--- unfinished: example.com/b TestBad\n    b_test.go:7: want 1, got 2\n--- FAIL: TestBad (0.00s)\n"), out.String())
}

func TestSummarize(t *testing.T) {
	var out strings.Builder
	require.NoError(t, summarize(strings.NewReader(stream), &out))
	assert.Equal(t, `tests: 1 passed, 1 failed, 3 skipped
skipped tests, by skip message:

2 × no S3 test server: start one
    example.com/a TestS3 (s3_test.go:20)
    example.com/a TestT/sub (t_test.go:5)

1 × (no message)
    example.com/a TestBare
`, out.String())

	out.Reset()
	require.NoError(t, summarize(strings.NewReader(`{"Action":"pass","Package":"p","Test":"T"}`+"\n"), &out))
	assert.Equal(t, "tests: 1 passed, 0 failed, 0 skipped\n", out.String())
}
