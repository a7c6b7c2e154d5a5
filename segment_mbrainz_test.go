package dcbackup_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/edn"
	"github.com/dcbackup/dcbackup/datomic/mem"
	"github.com/dcbackup/dcbackup/internal/sampledata"
)

// mbrainzDir returns the MusicBrainz sample's directory, or skips t
// without it (see internal/sampledata).
func mbrainzDir(t testing.TB) string {
	t.Helper()
	return sampledata.Path(t, "mbrainz")
}

// mbrainzSegments loads the MusicBrainz sample into an in-memory database
// and cuts its log into segments of at least perSegment datoms. It also
// returns the size of the sample's EDN text.
func mbrainzSegments(b *testing.B, perSegment int) ([]*dcbackup.Segment, int64) {
	b.Helper()
	dir := mbrainzDir(b)
	var ednBytes int64
	for _, name := range edn.MBrainzFiles() {
		fi, err := os.Stat(filepath.Join(dir, name))
		require.NoError(b, err)
		ednBytes += fi.Size()
	}
	ctx := context.Background()
	conn := mem.New(mem.Options{})
	_, err := edn.LoadMBrainz(ctx, conn, dir, edn.LoadOptions{})
	require.NoError(b, err)
	db, err := conn.DB(ctx)
	require.NoError(b, err)

	var segs []*dcbackup.Segment
	var cur *dcbackup.Segment
	n := 0
	for tx, err := range conn.TxRange(ctx, 0, 0) {
		require.NoError(b, err)
		if cur == nil {
			cur = &dcbackup.Segment{DB: "mbrainz", StartT: tx.T, Attrs: map[int64]datomic.Attribute{}}
			if len(segs) > 0 {
				cur.StartT = segs[len(segs)-1].EndT
			}
		}
		for _, d := range tx.Datoms {
			if _, ok := cur.Attrs[d.A]; !ok {
				a, ok, err := db.Attribute(ctx, d.A)
				require.NoError(b, err)
				require.True(b, ok, "attribute %d", d.A)
				cur.Attrs[d.A] = a
			}
		}
		cur.Txs = append(cur.Txs, tx)
		cur.EndT = tx.T + 1
		n += len(tx.Datoms)
		if n >= perSegment {
			segs, cur, n = append(segs, cur), nil, 0
		}
	}
	if cur != nil {
		segs = append(segs, cur)
	}
	return segs, ednBytes
}

// BenchmarkSegmentMBrainz encodes and decodes the whole MusicBrainz sample
// as segments of about 50,000 datoms, reporting throughput, bytes per datom
// and the size relative to the sample's EDN text.
func BenchmarkSegmentMBrainz(b *testing.B) {
	segs, ednBytes := mbrainzSegments(b, 50_000)
	datoms := 0
	for _, s := range segs {
		datoms += s.DatomCount()
	}
	encoded := make([][]byte, len(segs))
	b.Run("encode", func(b *testing.B) {
		enc, err := dcbackup.NewSegmentEncoder(dcbackup.EncodeOptions{})
		require.NoError(b, err)
		defer enc.Close()
		var size int
		for b.Loop() {
			size = 0
			for i, s := range segs {
				data, err := enc.Encode(s)
				if err != nil {
					b.Fatal(err)
				}
				encoded[i] = data
				size += len(data)
			}
		}
		b.ReportMetric(float64(datoms*b.N)/b.Elapsed().Seconds(), "datoms/s")
		b.ReportMetric(float64(size)/float64(datoms), "bytes/datom")
		b.ReportMetric(100*float64(size)/float64(ednBytes), "%edn")
		b.ReportMetric(float64(datoms), "datoms")
	})
	b.Run("decode", func(b *testing.B) {
		dec, err := dcbackup.NewSegmentDecoder(dcbackup.DecodeOptions{})
		require.NoError(b, err)
		defer dec.Close()
		for b.Loop() {
			for i, s := range segs {
				if _, err := dec.Decode(encoded[i], s.Info()); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(datoms*b.N)/b.Elapsed().Seconds(), "datoms/s")
	})
}
