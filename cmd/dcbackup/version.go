package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strconv"

	"github.com/dcbackup/dcbackup"
)

func versionCommand() command {
	return command{
		name:    "version",
		summary: "the command's version: module version, VCS revision, Go version, segment format",
		usage:   "",
		detail: `Prints the module version and VCS revision the binary was built from
(from its build information: a tagged version for go install ...@vX.Y.Z, the
revision and time of the commit for a build in a clone), the Go version, and
the segment format version this build writes. 'dcbackup -version' prints the
same.`,
		run: func(_ context.Context, cl *cmdline, args []string) int {
			fs := flagSet(versionCommand())
			if code, done := cl.parse(fs, args); done {
				return code
			}
			bi, ok := debug.ReadBuildInfo()
			if !ok {
				bi = nil
			}
			printVersion(cl.stdout, bi)
			return exitOK
		},
	}
}

// printVersion writes what bi (nil: unknown) says about the build, one
// "name: value" line each.
func printVersion(w io.Writer, bi *debug.BuildInfo) {
	module, version := "github.com/dcbackup/dcbackup", "unknown"
	settings := map[string]string{}
	if bi != nil {
		if bi.Main.Path != "" {
			module = bi.Main.Path
		}
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			settings[s.Key] = s.Value
		}
	}
	revision := "unknown (built without VCS information)"
	if r := settings["vcs.revision"]; r != "" {
		revision = r
		if t := settings["vcs.time"]; t != "" {
			revision += " " + t
		}
		if modified, _ := strconv.ParseBool(settings["vcs.modified"]); modified {
			revision += " (modified)"
		}
	}
	fmt.Fprintf(w, "dcbackup %s\n", version)
	fmt.Fprintf(w, "module:         %s\n", module)
	fmt.Fprintf(w, "revision:       %s\n", revision)
	fmt.Fprintf(w, "go:             %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(w, "segment format: %d\n", dcbackup.SegmentFormatVersion)
}
