package transit

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/datomic"
)

// benchChunk is a tx-range chunk as a server sends it: 100 transactions of
// 186 datoms (strings, uuids, longs, doubles, refs, keywords).
func benchChunk(b *testing.B) []byte {
	var txs []any
	for i := range 100 {
		tx := int64(13194139534312 + i)
		var ds []any
		for j := range 186 {
			e := int64(17592186045418 + i*200 + j/9)
			var v any
			switch j % 6 {
			case 0:
				v = "Greatest Hits " + itoa(j)
			case 1:
				v = datomic.UUID{byte(i), byte(j), 3, 4, 5, 6, 0x40, 8, 0x80, 10, 11, 12, 13, 14, 15, 16}
			case 2:
				v = int64(1900 + j)
			case 3:
				v = float64(j) / 7
			case 4:
				v = e - 40
			default:
				v = datomic.Keyword("tag/t" + itoa(j%64))
			}
			ds = append(ds, datomic.Datom{E: e, A: int64(72 + j%8), V: v, Tx: tx, Added: j%17 != 0})
		}
		txs = append(txs, Map{{Key: datomic.Keyword("t"), Value: int64(1000 + i)}, {Key: datomic.Keyword("data"), Value: ds}})
	}
	data, err := Marshal(Map{{Key: datomic.Keyword("data"), Value: txs}, {Key: datomic.Keyword("next-token"), Value: time.Unix(0, 0).String()}})
	require.NoError(b, err)
	return data
}

// BenchmarkUnmarshalChunk decodes a tx-range chunk of 18,600 datoms: the
// bulk of a backup's CPU time through the peer-server protocol.
func BenchmarkUnmarshalChunk(b *testing.B) {
	data := benchChunk(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Unmarshal(data); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*18600/b.Elapsed().Seconds(), "datoms/s")
}

// BenchmarkMarshalChunk encodes the same chunk.
func BenchmarkMarshalChunk(b *testing.B) {
	data := benchChunk(b)
	v, err := Unmarshal(data)
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Marshal(v); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*18600/b.Elapsed().Seconds(), "datoms/s")
}
