package edn

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/datomic/mem"
)

// BenchmarkDecode reads every MusicBrainz file; b.SetBytes makes the
// result MB/s of EDN text.
func BenchmarkDecode(b *testing.B) {
	dir := sampleFile(b, "mbrainz")
	var data [][]byte
	var total int64
	for _, name := range MBrainzFiles() {
		d, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(b, err)
		data = append(data, d)
		total += int64(len(d))
	}
	b.SetBytes(total)
	b.ReportAllocs()
	for b.Loop() {
		for _, d := range data {
			dec := NewDecoder(bytes.NewReader(d))
			for _, err := range dec.All() {
				if err != nil {
					b.Fatal(err)
				}
			}
		}
	}
}

// BenchmarkConvert converts every batch of the sample without a schema.
func BenchmarkConvert(b *testing.B) {
	dir := sampleFile(b, "mbrainz")
	var batches []any
	for _, name := range MBrainzFiles() {
		for _, f := range decodeFile(b, filepath.Join(dir, name)) {
			data, _ := f.(Map).Keyword("data")
			batches = append(batches, data)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, data := range batches {
			if _, err := ConvertTx(data, ConvertOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkLoadMBrainz loads the whole sample into a new in-memory
// database per iteration and reports datoms/s.
func BenchmarkLoadMBrainz(b *testing.B) {
	dir := sampleFile(b, "mbrainz")
	for _, split := range []int{0, 1000, 100} {
		b.Run(map[int]string{0: "whole", 1000: "split1000", 100: "split100"}[split], func(b *testing.B) {
			var datoms int64
			var secs float64
			for b.Loop() {
				conn := mem.New(mem.Options{SharedCounter: true})
				st, err := LoadMBrainz(context.Background(), conn, dir, LoadOptions{SplitSize: split})
				if err != nil {
					b.Fatal(err)
				}
				datoms += st.Datoms
				secs += st.Duration.Seconds()
			}
			b.ReportMetric(float64(datoms)/secs, "datoms/s")
		})
	}
}
