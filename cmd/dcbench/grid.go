package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// grid is a table of text cells, printed right-aligned like the main table.
type grid struct {
	header []string
	rows   [][]string
	notes  []string
}

func (g *grid) add(cells ...string) { g.rows = append(g.rows, cells) }

func (g *grid) note(format string, args ...any) {
	g.notes = append(g.notes, fmt.Sprintf(format, args...))
}

func (g *grid) print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', tabwriter.AlignRight|tabwriter.Debug)
	fmt.Fprintln(tw, strings.Join(g.header, "\t")+"\t")
	for _, r := range g.rows {
		fmt.Fprintln(tw, strings.Join(r, "\t")+"\t")
	}
	tw.Flush()
	for _, n := range g.notes {
		fmt.Fprintln(w, n)
	}
}

// Cell formatting.
func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func fixed(f float64, prec int) string { return strconv.FormatFloat(f, 'f', prec, 64) }

func secs(d time.Duration) string { return fixed(d.Seconds(), 3) }

// per returns a/b with prec decimals, or "" when b is 0.
func per(a, b float64, prec int) string {
	if b == 0 {
		return ""
	}
	return fixed(a/b, prec)
}
