package main

import (
	"bytes"
	"fmt"
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/dcbackup/dcbackup"
)

func TestPrintVersion(t *testing.T) {
	var out bytes.Buffer
	printVersion(&out, &debug.BuildInfo{
		Main: debug.Module{Path: "github.com/dcbackup/dcbackup", Version: "v1.2.3"},
		Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "2929d19f38d620c0c8f2a56ee9d39fd7ea1b47f0"},
			{Key: "vcs.time", Value: "2026-11-25T16:59:39Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	})
	assert.Equal(t, fmt.Sprintf(`dcbackup v1.2.3
module:         github.com/dcbackup/dcbackup
revision:       2929d19f38d620c0c8f2a56ee9d39fd7ea1b47f0 2026-11-25T16:59:39Z (modified)
go:             %s %s/%s
segment format: %d
`, runtime.Version(), runtime.GOOS, runtime.GOARCH, dcbackup.SegmentFormatVersion), out.String())

	out.Reset()
	printVersion(&out, nil)
	assert.Contains(t, out.String(), "dcbackup unknown\n")
	assert.Contains(t, out.String(), "revision:       unknown (built without VCS information)\n")
}

func TestVersionCommand(t *testing.T) {
	r := runCmd(t, nil, "version")
	assert.Equal(t, exitOK, r.code, r.stderr)
	assert.Regexp(t, `^dcbackup \S+\nmodule:         github.com/dcbackup/dcbackup\nrevision:       .+\ngo:             go`, r.stdout)
	assert.Contains(t, r.stdout, fmt.Sprintf("segment format: %d\n", dcbackup.SegmentFormatVersion))
	assert.Empty(t, r.stderr)
	assert.Equal(t, r, runCmd(t, nil, "-version"))
	assert.Equal(t, r, runCmd(t, nil, "--version"))

	r = runCmd(t, nil, "help", "version")
	assert.Equal(t, exitOK, r.code)
	assert.Contains(t, r.stdout, "usage: dcbackup version")
	r = runCmd(t, nil, "version", "extra")
	assert.Equal(t, exitError, r.code)
	assert.Contains(t, r.stderr, `unexpected argument "extra"`)
}
