package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestHelpAndUsageErrors(t *testing.T) {
	r := runCmd(t, nil, "help")
	assert.Equal(t, exitOK, r.code)
	for _, c := range []string{"ls", "verify", "dump", "stats", "compact", "version", "help"} {
		assert.Contains(t, r.stdout, "\t"+c+" ", "help lists %s", c)
	}
	assert.Empty(t, r.stderr)

	for _, c := range []string{"ls", "verify", "dump", "stats", "compact"} {
		r = runCmd(t, nil, "help", c)
		assert.Equal(t, exitOK, r.code, c)
		assert.Contains(t, r.stdout, "usage: dcbackup "+c)
		assert.Contains(t, r.stdout, "-store")
		assert.Equal(t, r, runCmd(t, nil, c, "-h"), "help %s is %s -h", c, c)
	}

	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{nil, "Usage:"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"help", "frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"ls", "-bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"ls", "-store", ".", "extra"}, `unexpected argument "extra"`},
		{[]string{"ls"}, "no store: give -store"},
		{[]string{"ls", "-store", "ftp://host/x"}, "only directories and s3:// URLs"},
		{[]string{"ls", "-store", "s3:///prefix"}, "no bucket"},
		{[]string{"ls", "-store", "/nonexistent/dcbackup-store", "-db", "x"}, "no such file or directory"},
		{[]string{"ls", "-store", ".", "-db", "../etc"}, "invalid database name"},
		{[]string{"dump", "-store", ".", "-db", "x"}, "give exactly one of -start T and -segment START-END"},
		{[]string{"dump", "-store", ".", "-start", "1"}, "no database: give -db"},
		{[]string{"dump", "-store", ".", "-db", "x", "-segment", "9-3"}, "invalid segment range"},
		{[]string{"verify", "-store", ".", "-j", "0"}, "-j must be at least 1"},
		{[]string{"dump", "-store", ".", "-db", "x", "-start", "-5"}, "want a t (an integer >= 0)"},
		{[]string{"dump", "-store", ".", "-db", "x", "-start", "1", "-segment", "1-2"}, "give exactly one of"},
	} {
		r := runCmd(t, nil, tc.args...)
		assert.Equal(t, exitError, r.code, "%v", tc.args)
		assert.Contains(t, r.stderr, tc.msg, "%v", tc.args)
		assert.Empty(t, r.stdout, "%v: errors go to stderr", tc.args)
	}
}
