package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

// row is one line of the table.
type row struct {
	stage  string
	datoms int
	dur    time.Duration
	bytes  int64
	allocs uint64
	cpu    time.Duration // user+system CPU time of the process during the stage
	gc     time.Duration // CPU time the garbage collector took (estimate)
	rss    int64         // peak RSS in bytes, -1 when unknown
	note   string
	// minCPU is the least CPU time of the stage's runs (cpu is that of
	// the fastest run).
	minCPU time.Duration
}

// table collects rows and prints them.
type table struct {
	// repeat is how many times measure runs a stage; the fastest run is
	// kept (on a shared machine the others were disturbed).
	repeat int
	rows   []row
}

// stageFunc runs a stage once and returns the datoms and bytes it handled
// and an optional note.
type stageFunc func() (datoms int, bytes int64, note string, err error)

// measure runs f t.repeat times as one stage and keeps the fastest run.
func (t *table) measure(stage string, f stageFunc) error {
	return t.measureN(stage, max(t.repeat, 1), f)
}

// measureOnce runs f once, for stages that cannot be repeated.
func (t *table) measureOnce(stage string, f stageFunc) error {
	return t.measureN(stage, 1, f)
}

// measureN runs f n times: each run resets the peak RSS mark, counts the
// allocations and CPU time, and times f. The fastest run is kept.
func (t *table) measureN(stage string, n int, f stageFunc) error {
	var best row
	for i := range n {
		r, err := runStage(stage, f)
		if err != nil {
			return err
		}
		best = keepBest(best, r, i == 0)
	}
	t.add(best, n)
	return nil
}

// measurePair runs stages a and b t.repeat times each, alternating (a b,
// b a, a b, ...) so that a change in the machine's load affects both
// alike, and keeps the fastest run of each: for comparing two ways of
// doing the same work.
func (t *table) measurePair(stageA string, fa stageFunc, stageB string, fb stageFunc) error {
	n := max(t.repeat, 1)
	var bestA, bestB row
	for i := range n {
		order := []int{0, 1}
		if i%2 == 1 {
			order = []int{1, 0}
		}
		for _, which := range order {
			if which == 0 {
				r, err := runStage(stageA, fa)
				if err != nil {
					return err
				}
				bestA = keepBest(bestA, r, i == 0)
			} else {
				r, err := runStage(stageB, fb)
				if err != nil {
					return err
				}
				bestB = keepBest(bestB, r, i == 0)
			}
		}
	}
	t.add(bestA, n)
	t.add(bestB, n)
	return nil
}

// runStage runs f once and measures it.
func runStage(stage string, f stageFunc) (row, error) {
	runtime.GC()
	resetPeakRSS()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	cpu0, gc0 := cpuTime(), gcCPU()
	begin := time.Now()
	datoms, bytes, note, err := f()
	dur := time.Since(begin)
	cpu, gc := cpuTime()-cpu0, gcCPU()-gc0
	runtime.ReadMemStats(&after)
	if err != nil {
		return row{}, fmt.Errorf("%s: %w", stage, err)
	}
	return row{stage: stage, datoms: datoms, dur: dur, cpu: cpu, minCPU: cpu, gc: gc, bytes: bytes, allocs: after.Mallocs - before.Mallocs, rss: peakRSS(), note: note}, nil
}

// keepBest returns the faster of best and r (r when first), with the
// least CPU time of both.
func keepBest(best, r row, first bool) row {
	if first {
		return r
	}
	minCPU := min(best.minCPU, r.minCPU)
	if r.dur < best.dur {
		best = r
	}
	best.minCPU = minCPU
	return best
}

func (t *table) add(best row, n int) {
	t.rows = append(t.rows, best)
	fmt.Fprintf(os.Stderr, "  %-30s %10d datoms %8.3fs (best of %d)\n", best.stage, best.datoms, best.dur.Seconds(), n)
}

// find returns the row of stage.
func (t *table) find(stage string) (row, bool) {
	for _, r := range t.rows {
		if r.stage == stage {
			return r, true
		}
	}
	return row{}, false
}

func (t *table) print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', tabwriter.AlignRight|tabwriter.Debug)
	fmt.Fprintln(tw, "stage\tdatoms\tseconds\tdatoms/s\tCPU s\tGC CPU s\tdatoms/CPU s\tbytes\tbytes/datom\tallocs\tpeak RSS MiB\t")
	for _, r := range t.rows {
		rate, cpuRate, perDatom := "", "", ""
		if r.datoms > 0 && r.dur > 0 {
			rate = strconv.FormatFloat(float64(r.datoms)/r.dur.Seconds(), 'f', 0, 64)
		}
		if r.datoms > 0 && r.cpu > 0 {
			cpuRate = strconv.FormatFloat(float64(r.datoms)/r.cpu.Seconds(), 'f', 0, 64)
		}
		if r.datoms > 0 && r.bytes > 0 {
			perDatom = strconv.FormatFloat(float64(r.bytes)/float64(r.datoms), 'f', 2, 64)
		}
		bytes := ""
		if r.bytes > 0 {
			bytes = strconv.FormatInt(r.bytes, 10)
		}
		rss := "?"
		if r.rss >= 0 {
			rss = strconv.FormatInt(r.rss>>20, 10)
		}
		fmt.Fprintf(tw, "%s\t%d\t%.3f\t%s\t%.3f\t%.3f\t%s\t%s\t%s\t%d\t%s\t\n", r.stage, r.datoms, r.dur.Seconds(), rate, r.cpu.Seconds(), r.gc.Seconds(), cpuRate, bytes, perDatom, r.allocs, rss)
	}
	tw.Flush()
	for _, r := range t.rows {
		if r.note != "" {
			fmt.Fprintf(w, "%s: %s\n", r.stage, r.note)
		}
	}
}

// cpuTime returns the user and system CPU time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// gcCPU returns the runtime's estimate of the CPU time spent in garbage
// collection so far.
func gcCPU() time.Duration {
	s := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64 {
		return 0
	}
	return time.Duration(s[0].Value.Float64() * float64(time.Second))
}

// resetPeakRSS resets the kernel's peak resident set mark (Linux 4.0+);
// without it the peak is that of the whole process so far.
func resetPeakRSS() {
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// peakRSS reads VmHWM from /proc/self/status, in bytes; -1 if unknown.
func peakRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return -1
			}
			return kb << 10
		}
	}
	return -1
}
