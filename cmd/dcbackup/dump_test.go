package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic"
)

// readSegment loads and decodes a stored segment for comparison.
func readSegment(t *testing.T, st dcbackup.BackupStore, db string, info dcbackup.SegmentInfo) *dcbackup.Segment {
	t.Helper()
	data, err := st.Load(t.Context(), db, info)
	require.NoError(t, err)
	seg, err := dcbackup.DecodeSegment(data, info, dcbackup.DecodeOptions{DB: db})
	require.NoError(t, err)
	return seg
}

// jsonLines decodes every line of out.
func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.UseNumber()
		require.NoError(t, dec.Decode(&m), sc.Text())
		lines = append(lines, m)
	}
	require.NoError(t, sc.Err())
	return lines
}

func TestDump(t *testing.T) {
	st := fsStore(t)
	backUp(t, st, "db", 8, 150, 50)
	segs, err := st.List(t.Context(), "db", 0)
	require.NoError(t, err)
	require.Greater(t, len(segs), 2)
	info := segs[1]
	seg := readSegment(t, st, "db", info)

	r := runCmd(t, nil, "dump", "-store", st.Dir(), "-db", "db", "-start", fmt.Sprint(info.StartT))
	require.Equal(t, exitOK, r.code, r.stderr)
	lines := jsonLines(t, r.stdout)
	require.Len(t, lines, seg.DatomCount())
	i := 0
	names := newNamer(seg)
	for _, tx := range seg.Txs {
		for _, d := range tx.Datoms {
			l := lines[i]
			i++
			assert.Equal(t, json.Number(fmt.Sprint(tx.T)), l["t"])
			assert.Equal(t, json.Number(fmt.Sprint(d.E)), l["e"])
			assert.Equal(t, seg.Attrs[d.A].Ident.String(), l["a"])
			assert.Equal(t, d.Added, l["added"])
			want, err := json.Marshal(jsonValue(d.V))
			require.NoError(t, err)
			got, err := json.Marshal(l["v"])
			require.NoError(t, err)
			assert.JSONEq(t, string(want), string(got))
			if seg.Attrs[d.A].ValueType == datomic.TypeRef {
				if id := names.ident(d.V.(int64)); id != "" {
					assert.Equal(t, id, l["v_ident"])
				}
			} else {
				assert.NotContains(t, l, "v_ident")
			}
		}
	}
	// Every transaction starts with or contains its instant, with idents.
	assert.Contains(t, r.stdout, fmt.Sprintf(`{"t":%d,"e":%d,"a":":db/txInstant","v":"20`, seg.Txs[0].T, seg.Txs[0].ID()))

	// -segment names the same segment; -start inside it finds it too.
	r2 := runCmd(t, nil, "dump", "-store", st.Dir(), "-db", "db", "-segment", fmt.Sprintf("%d-%d", info.StartT, info.EndT))
	require.Equal(t, exitOK, r2.code, r2.stderr)
	assert.Equal(t, r.stdout, r2.stdout)
	r2 = runCmd(t, []string{"DCBACKUP_STORE=" + st.Dir(), "DCBACKUP_DB=db"}, "dump", "-start", fmt.Sprint(info.EndT-1))
	require.Equal(t, exitOK, r2.code, r2.stderr)
	assert.Equal(t, r.stdout, r2.stdout)

	// No such segment.
	r2 = runCmd(t, nil, "dump", "-store", st.Dir(), "-db", "db", "-segment", fmt.Sprintf("%d-%d", info.StartT, info.EndT+1))
	assert.Equal(t, exitError, r2.code)
	assert.Contains(t, r2.stderr, "segment not found")
	r2 = runCmd(t, nil, "dump", "-store", st.Dir(), "-db", "db", "-start", fmt.Sprint(segs[len(segs)-1].EndT))
	assert.Equal(t, exitError, r2.code)
	assert.Contains(t, r2.stderr, fmt.Sprintf(`no segment of database "db" in %s contains t %d`, st.Dir(), segs[len(segs)-1].EndT))
}

func TestDumpFirstSegmentNamesSchema(t *testing.T) {
	st := fsStore(t)
	backUp(t, st, "db", 9, 20, 1000)
	r := runCmd(t, nil, "dump", "-store", st.Dir(), "-db", "db", "-start", "0")
	require.Equal(t, exitOK, r.code, r.stderr)
	// Schema datoms name the new attribute (e_ident) and the bootstrap
	// entities their values refer to (v_ident); enum values installed in
	// the same segment are named too.
	assert.Regexp(t, `"e_ident":":h/name","a":":db/valueType","v":\d+,"v_ident":":db.type/string","added":true}`, r.stdout)
	assert.Regexp(t, `"e_ident":":h/tags","a":":db/cardinality","v":\d+,"v_ident":":db.cardinality/many","added":true}`, r.stdout)
	assert.Regexp(t, `"a":":h/kind","v":\d+,"v_ident":":`, r.stdout)

	r = runCmd(t, nil, "dump", "-store", st.Dir(), "-db", "db", "-start", "0", "-attrs")
	require.Equal(t, exitOK, r.code, r.stderr)
	lines := jsonLines(t, r.stdout)
	byIdent := map[string]map[string]any{}
	for _, l := range lines {
		byIdent[l["ident"].(string)] = l
	}
	assert.Equal(t, ":db.type/string", byIdent[":h/name"]["valueType"])
	assert.Equal(t, ":db.cardinality/one", byIdent[":h/name"]["cardinality"])
	assert.Equal(t, ":db.unique/identity", byIdent[":h/key"]["unique"])
	assert.Equal(t, ":db.type/keyword", byIdent[":db/tupleAttrs"]["tupleType"])
	assert.Equal(t, ":db.type/instant", byIdent[":db/txInstant"]["valueType"])
	assert.Contains(t, byIdent, ":db.type/string", "bootstrap idents are listed")
	assert.NotContains(t, byIdent[":db.type/string"], "valueType")
}
