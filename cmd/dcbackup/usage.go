package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

const usageHeader = `dcbackup inspects the backups of the dcbackup library, and compacts them
(every command but compact only reads).

Usage:

	dcbackup <command> [flags]

Commands:
`

const usageFooter = `
Every command takes -store DIR or -store s3://bucket/prefix, and -db NAME
(defaults: $DCBACKUP_STORE, $DCBACKUP_DB). S3 credentials, region and
endpoint come from the AWS SDK's standard environment and configuration
files (AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL_S3, ...); -s3-endpoint URL
and -s3-path-style override the endpoint and the addressing style.

Exit status: 0 success (verify: healthy), 1 unhealthy backup (or no segments),
2 usage or I/O error.

Run 'dcbackup help <command>' for a command's flags.
`

func printUsage(w io.Writer) {
	fmt.Fprint(w, usageHeader)
	for _, c := range commands() {
		fmt.Fprintf(w, "\t%-7s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\t%-7s %s\n", "help", "show this text, or a command's flags")
	fmt.Fprint(w, usageFooter)
}

// help prints the general usage, or one command's when named.
func help(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printUsage(stdout)
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			cl := &cmdline{stdout: stdout, stderr: stderr, getenv: func(string) string { return "" }, name: c.name}
			return c.run(context.Background(), cl, []string{"-h"})
		}
	}
	fmt.Fprintf(stderr, "dcbackup help: unknown command %q\n\n", args[0])
	printUsage(stderr)
	return exitError
}

// trimPrefix drops the library's "dcbackup: " prefixes from an error
// text (wrapped errors repeat it), since messages are already prefixed
// with the command.
func trimPrefix(s string) string {
	return strings.ReplaceAll(s, "dcbackup: ", "")
}

// flagSet returns a flag set for command c whose usage text names the
// command and explains it.
func flagSet(c command) *flag.FlagSet {
	fs := flag.NewFlagSet("dcbackup "+c.name, flag.ContinueOnError)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "usage: dcbackup %s %s\n\n%s\n\nFlags:\n", c.name, c.usage, strings.TrimSpace(c.detail))
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args with fs. done is true when the command must stop with
// code: after -h (usage on stdout, status 0) or a usage error (message
// and usage on stderr, status 2). Positional arguments are refused.
func (c *cmdline) parse(fs *flag.FlagSet, args []string) (code int, done bool) {
	usage := fs.Usage
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.Usage = usage
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(c.stdout)
		fs.Usage()
		return exitOK, true
	case err == nil && fs.NArg() > 0:
		err = fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err != nil {
		fmt.Fprintf(c.stderr, "dcbackup %s: %v\n", c.name, err)
		fs.SetOutput(c.stderr)
		fs.Usage()
		return exitError, true
	}
	return exitOK, false
}
