// Command gotestjson reads the output of `go test -json` on its standard
// input. By default it prints what go test prints without -json: build
// errors, the output of failed tests and one result line per package.
// With -skips it prints instead the totals and every skipped test with its
// skip message, grouped by message, so that no test skips unnoticed.
//
//	go test -json ./... | tee test.json | go run ./internal/cmd/gotestjson
//	go run ./internal/cmd/gotestjson -skips < test.json
//
// .ci/run uses it.
package main

import (
	"bufio"
	"cmp"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
)

func main() {
	skips := flag.Bool("skips", false, "print the totals and the skipped tests instead of the test output")
	flag.Parse()
	var err error
	if *skips {
		err = summarize(os.Stdin, os.Stdout)
	} else {
		err = render(os.Stdin, os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gotestjson:", err)
		os.Exit(1)
	}
}

// event is one line of `go test -json` (see `go doc test2json`).
type event struct {
	Action     string
	Package    string
	Test       string
	Output     string
	ImportPath string // of build-output events
}

// maxLine bounds one line of input (a test's output line can be long).
const maxLine = 16 << 20

// events calls fn for every event of r; a line that is not a JSON event
// (go's own error messages) is passed as the Output of an event with
// Action "text".
func events(r io.Reader, fn func(event) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	for sc.Scan() {
		line := sc.Bytes()
		var ev event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &ev) != nil || ev.Action == "" {
			ev = event{Action: "text", Output: string(line) + "\n"}
		}
		if err := fn(ev); err != nil {
			return err
		}
	}
	return sc.Err()
}

// framing reports whether a test output line only marks where a test
// runs (=== RUN, PAUSE, CONT, NAME), which go test prints only with -v.
func framing(line string) bool {
	for _, p := range []string{"=== RUN", "=== PAUSE", "=== CONT", "=== NAME"} {
		if strings.HasPrefix(line, p) {
			return true
		}
	}
	return false
}

// render writes what `go test` without -json would have written.
func render(r io.Reader, w io.Writer) error {
	pending := map[[2]string][]string{} // output of running tests
	var out []string
	err := events(r, func(ev event) error {
		key := [2]string{ev.Package, ev.Test}
		switch {
		case ev.Action == "text" || ev.Action == "build-output":
			out = append(out, ev.Output)
		case ev.Action == "output" && ev.Test == "":
			if ev.Output != "PASS\n" { // printed only with -v
				out = append(out, ev.Output)
			}
		case ev.Action == "output":
			if !framing(ev.Output) {
				pending[key] = append(pending[key], ev.Output)
			}
		case ev.Test != "" && ev.Action == "fail":
			out = append(out, pending[key]...)
			delete(pending, key)
		case ev.Test != "" && (ev.Action == "pass" || ev.Action == "skip"):
			delete(pending, key)
		}
		for _, s := range out {
			if _, err := io.WriteString(w, s); err != nil {
				return err
			}
		}
		out = out[:0]
		return nil
	})
	if err != nil {
		return err
	}
	// Tests that never ended (the stream was cut short).
	keys := slices.SortedFunc(func(yield func([2]string) bool) {
		for k := range pending {
			if !yield(k) {
				return
			}
		}
	}, func(a, b [2]string) int { return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1])) })
	for _, k := range keys {
		fmt.Fprintf(w, "--- unfinished: %s %s\n%s", k[0], k[1], strings.Join(pending[k], ""))
	}
	return nil
}

// skipped is a skipped test.
type skipped struct {
	pkg, test string
	where     string // file:line of the skip call
	message   string
}

// location matches the "file.go:12: " that testing puts before a message.
var location = regexp.MustCompile(`^([\w.-]+\.go:\d+): `)

// summarize writes the totals and the skipped tests, grouped by message.
func summarize(r io.Reader, w io.Writer) error {
	output := map[[2]string][]string{}
	var skips []skipped
	var passed, failed int
	err := events(r, func(ev event) error {
		if ev.Test == "" {
			return nil
		}
		key := [2]string{ev.Package, ev.Test}
		switch ev.Action {
		case "output":
			if !framing(ev.Output) && !strings.HasPrefix(strings.TrimSpace(ev.Output), "--- ") {
				output[key] = append(output[key], ev.Output)
			}
		case "pass":
			passed++
		case "fail":
			failed++
		case "skip":
			skips = append(skips, skipMessage(ev.Package, ev.Test, output[key]))
		}
		if ev.Action == "pass" || ev.Action == "fail" || ev.Action == "skip" {
			delete(output, key)
		}
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "tests: %d passed, %d failed, %d skipped\n", passed, failed, len(skips))
	if len(skips) == 0 {
		return nil
	}
	groups := map[string][]skipped{}
	for _, s := range skips {
		groups[s.message] = append(groups[s.message], s)
	}
	messages := slices.Sorted(func(yield func(string) bool) {
		for m := range groups {
			if !yield(m) {
				return
			}
		}
	})
	// Most frequent first.
	slices.SortStableFunc(messages, func(a, b string) int { return cmp.Compare(len(groups[b]), len(groups[a])) })
	fmt.Fprintf(w, "skipped tests, by skip message:\n")
	for _, m := range messages {
		g := groups[m]
		slices.SortFunc(g, func(a, b skipped) int { return cmp.Or(cmp.Compare(a.pkg, b.pkg), cmp.Compare(a.test, b.test)) })
		fmt.Fprintf(w, "\n%d × %s\n", len(g), m)
		for _, s := range g {
			fmt.Fprintf(w, "    %s %s", s.pkg, s.test)
			if s.where != "" {
				fmt.Fprintf(w, " (%s)", s.where)
			}
			fmt.Fprintln(w)
		}
	}
	return nil
}

// skipMessage makes the skip record of a test from its output lines.
func skipMessage(pkg, test string, lines []string) skipped {
	s := skipped{pkg: pkg, test: test}
	var parts []string
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if m := location.FindStringSubmatch(l); m != nil {
			if s.where == "" {
				s.where = m[1]
			}
			l = l[len(m[0]):]
		}
		parts = append(parts, l)
	}
	s.message = strings.Join(parts, " ")
	if s.message == "" {
		s.message = "(no message)"
	}
	return s
}
