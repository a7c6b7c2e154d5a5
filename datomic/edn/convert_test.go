package edn

import (
	"errors"
	"math/big"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup/datomic"
)

func convert(t *testing.T, src string, opts ConvertOptions) []datomic.Op {
	t.Helper()
	ops, err := ConvertTx(mustRead(t, src), opts)
	require.NoError(t, err, src)
	return ops
}

func testSchema() func(datomic.Keyword) (datomic.Attribute, bool) {
	attrs := map[datomic.Keyword]datomic.Attribute{
		"person/name":    {Ident: "person/name", ValueType: datomic.TypeString, Cardinality: datomic.CardinalityOne, Unique: datomic.UniqueIdentity},
		"person/nick":    {Ident: "person/nick", ValueType: datomic.TypeString, Cardinality: datomic.CardinalityOne},
		"person/tags":    {Ident: "person/tags", ValueType: datomic.TypeKeyword, Cardinality: datomic.CardinalityMany},
		"person/friend":  {Ident: "person/friend", ValueType: datomic.TypeRef, Cardinality: datomic.CardinalityOne},
		"person/friends": {Ident: "person/friends", ValueType: datomic.TypeRef, Cardinality: datomic.CardinalityMany},
		"person/height":  {Ident: "person/height", ValueType: datomic.TypeFloat, Cardinality: datomic.CardinalityOne},
		"person/weight":  {Ident: "person/weight", ValueType: datomic.TypeDouble, Cardinality: datomic.CardinalityOne},
		"person/big":     {Ident: "person/big", ValueType: datomic.TypeBigInt, Cardinality: datomic.CardinalityOne},
		"person/dec":     {Ident: "person/dec", ValueType: datomic.TypeBigDec, Cardinality: datomic.CardinalityOne},
		"person/age":     {Ident: "person/age", ValueType: datomic.TypeLong, Cardinality: datomic.CardinalityOne},
		"person/born":    {Ident: "person/born", ValueType: datomic.TypeInstant, Cardinality: datomic.CardinalityOne},
		"person/point":   {Ident: "person/point", ValueType: datomic.TypeTuple, Cardinality: datomic.CardinalityOne, TupleType: datomic.TypeDouble},
		"person/pair":    {Ident: "person/pair", ValueType: datomic.TypeTuple, Cardinality: datomic.CardinalityOne, TupleTypes: []datomic.ValueType{datomic.TypeRef, datomic.TypeLong}},
		"person/points":  {Ident: "person/points", ValueType: datomic.TypeTuple, Cardinality: datomic.CardinalityMany, TupleType: datomic.TypeLong},
		"person/name+age": {Ident: "person/name+age", ValueType: datomic.TypeTuple, Cardinality: datomic.CardinalityOne,
			TupleAttrs: []datomic.Keyword{"person/name", "person/age"}},
	}
	return func(k datomic.Keyword) (datomic.Attribute, bool) {
		a, ok := attrs[k]
		return a, ok
	}
}

func TestConvertMBrainzEntityMaps(t *testing.T) {
	ops := convert(t, `[#:artist{:name "Adamo", :sortName "Adamo", :type :artist.type/person,
	 :gid #uuid "d3132eab-36d1-476e-a736-cb6dbb08a4a2", :startYear 1943, :country :country/IT}
	#:release{:gid #uuid "ad32533d-b9e2-404b-97d4-d870f8d6cfc9", :artists #:artist{:gid #uuid "0005682c-3083-415e-ae4c-debd7be3e47e"}}
	{:db/id "datomic.tx", :mbrainz.initial-import/batch-id "artists-1"}]`, ConvertOptions{})
	require.Len(t, ops, 3)
	assert.Equal(t, datomic.EntityMap{
		"artist/name": "Adamo", "artist/sortName": "Adamo", "artist/type": datomic.Keyword("artist.type/person"),
		"artist/gid":       mustUUID("d3132eab-36d1-476e-a736-cb6dbb08a4a2"),
		"artist/startYear": int64(1943), "artist/country": datomic.Keyword("country/IT"),
	}, ops[0])
	assert.Equal(t, datomic.EntityMap{
		"release/gid":     mustUUID("ad32533d-b9e2-404b-97d4-d870f8d6cfc9"),
		"release/artists": datomic.EntityMap{"artist/gid": mustUUID("0005682c-3083-415e-ae4c-debd7be3e47e")},
	}, ops[1])
	assert.Equal(t, datomic.EntityMap{"db/id": datomic.TxTempID, "mbrainz.initial-import/batch-id": "artists-1"}, ops[2])
}

func TestConvertEntityPositions(t *testing.T) {
	ops := convert(t, `[{:db/id 17 :a/b 1} {:db/id -5 :a/b 1} {:db/id "t1" :a/b 1} {:db/id :my/ident :a/b 1}
	 {:db/id [:person/name "Joe"] :a/b 1} {:db/id #db/id [:db.part/user -1] :a/b 1}]`, ConvertOptions{})
	ids := make([]any, len(ops))
	for i, op := range ops {
		ids[i] = op.(datomic.EntityMap)[datomic.DBID]
	}
	assert.Equal(t, []any{int64(17), datomic.TempID("-5"), datomic.TempID("t1"), datomic.Keyword("my/ident"),
		datomic.LookupRef{A: datomic.Keyword("person/name"), V: "Joe"}, datomic.TempID("#db/id[:db.part/user -1]")}, ids)

	for _, bad := range []string{`[{:db/id 1.5}]`, `[{:db/id [1 2]}]`, `[{:db/id [:a/b [1]]}]`, `[{:db/id {:a 1}}]`} {
		_, err := ConvertTx(mustRead(t, bad), ConvertOptions{})
		assert.ErrorIs(t, err, ErrTxData, bad)
	}
}

func TestConvertListForms(t *testing.T) {
	ops := convert(t, `[[:db/add "e" :person/name "Joe"]
	 [:db/retract 42 :person/age 7]
	 [:db/cas [:person/name "Joe"] :person/age nil 8]
	 [:db.fn/cas 42 :person/age 7 8]
	 [:db/retractEntity [:person/name "Ann"]]
	 [:db.fn/retractEntity 42]
	 [:db/add "e" 10 :x]
	 [:db/add "e" :person/friend [:person/name "Ann"]]
	 (:db/add "e" :person/born #inst "2020-01-02T03:04:05.123456Z")]`, ConvertOptions{})
	joe := datomic.LookupRef{A: datomic.Keyword("person/name"), V: "Joe"}
	ann := datomic.LookupRef{A: datomic.Keyword("person/name"), V: "Ann"}
	assert.Equal(t, []datomic.Op{
		datomic.Add{E: datomic.TempID("e"), A: datomic.Keyword("person/name"), V: "Joe"},
		datomic.Retract{E: int64(42), A: datomic.Keyword("person/age"), V: int64(7)},
		datomic.CAS{E: joe, A: datomic.Keyword("person/age"), Old: nil, New: int64(8)},
		datomic.CAS{E: int64(42), A: datomic.Keyword("person/age"), Old: int64(7), New: int64(8)},
		datomic.RetractEntity{E: ann},
		datomic.RetractEntity{E: int64(42)},
		datomic.Add{E: datomic.TempID("e"), A: int64(10), V: datomic.Keyword("x")},
		datomic.Add{E: datomic.TempID("e"), A: datomic.Keyword("person/friend"), V: ann},
		datomic.Add{E: datomic.TempID("e"), A: datomic.Keyword("person/born"), V: time.Date(2020, 1, 2, 3, 4, 5, 123_000_000, time.UTC)},
	}, ops)
}

func TestConvertReverseRefsAndSets(t *testing.T) {
	forms := decodeFile(t, sampleFile(t, "day-of-datomic-cloud", "graph.edn"))
	require.Len(t, forms, 3)
	ops, err := ConvertTx(forms[2], ConvertOptions{})
	require.NoError(t, err)
	first := ops[0].(datomic.EntityMap)
	assert.Equal(t, datomic.EntityMap{
		"db/id":            datomic.LookupRef{A: datomic.Keyword("roleInGroup/name"), V: "U2G2R34"},
		"_hasRoleInGroups": datomic.LookupRef{A: datomic.Keyword("user/name"), V: "User2"},
		"hasGroups":        []any{datomic.LookupRef{A: datomic.Keyword("group/name"), V: "Group2"}},
		"hasRoles": []any{datomic.LookupRef{A: datomic.Keyword("role/name"), V: "Role3"},
			datomic.LookupRef{A: datomic.Keyword("role/name"), V: "Role4"}},
	}, first)
}

func TestConvertStreetsTxInstants(t *testing.T) {
	forms := decodeFile(t, sampleFile(t, "day-of-datomic", "streets.edn"))
	ops, err := ConvertTx(forms[2], ConvertOptions{})
	require.NoError(t, err)
	require.Len(t, ops, 3)
	assert.Equal(t, datomic.EntityMap{"db/id": datomic.TxTempID, "db/txInstant": time.Date(1983, 1, 1, 0, 0, 0, 0, time.UTC)}, ops[2])
	assert.Equal(t, datomic.LookupRef{A: datomic.Keyword("person/name"), V: "Mary"}, ops[0].(datomic.EntityMap)[datomic.DBID])

	// Schema transactions with #db/id and :db.install/_attribute.
	ops, err = ConvertTx(forms[0], ConvertOptions{})
	require.NoError(t, err)
	attr := ops[0].(datomic.EntityMap)
	part, ok := TempIDPartition(attr[datomic.DBID].(datomic.TempID))
	require.True(t, ok)
	assert.Equal(t, datomic.Keyword("db.part/db"), part)
	assert.Equal(t, datomic.Keyword("db.part/db"), attr["db.install/_attribute"])
	assert.Equal(t, datomic.Keyword("db.type/string"), attr["db/valueType"])
}

func TestConvertAllDayOfDatomic(t *testing.T) {
	for _, dir := range []string{"day-of-datomic", "day-of-datomic-cloud"} {
		paths, err := filepath.Glob(filepath.Join(sampleFile(t, dir), "*.edn"))
		require.NoError(t, err)
		for _, p := range paths {
			for i, form := range decodeFile(t, p) {
				_, err := ConvertTx(form, ConvertOptions{})
				switch filepath.Base(p) {
				case "schema.edn": // a map of named transactions, not a transaction
					assert.ErrorIs(t, err, ErrTxData)
				default:
					assert.NoError(t, err, "%s form %d", p, i)
				}
			}
		}
	}
}

func TestConvertWithSchema(t *testing.T) {
	opts := ConvertOptions{Schema: testSchema()}
	ops := convert(t, `[{:person/name "Joe"
	  :person/tags [:a :b]
	  :person/friend [:person/name "Ann"]
	  :person/friends [[:person/name "Ann"] "tmp" {:person/name "Bob"} :some/ident 42]
	  :person/height 180
	  :person/weight 80
	  :person/big 5
	  :person/dec 6
	  :person/age 7N
	  :person/born #inst "2001-02-03T04:05:06.789999Z"
	  :person/point [1 2.5]
	  :person/pair [[:person/name "Ann"] 3]
	  :person/points [[1 2] [3 4]]
	  :person/_friend [:person/name "Zed"]}]`, opts)
	assert.Equal(t, datomic.EntityMap{
		"person/name":   "Joe",
		"person/tags":   []any{datomic.Keyword("a"), datomic.Keyword("b")},
		"person/friend": datomic.LookupRef{A: datomic.Keyword("person/name"), V: "Ann"},
		"person/friends": []any{datomic.LookupRef{A: datomic.Keyword("person/name"), V: "Ann"}, datomic.TempID("tmp"),
			datomic.EntityMap{"person/name": "Bob"}, datomic.Keyword("some/ident"), int64(42)},
		"person/height":  float32(180),
		"person/weight":  float64(80),
		"person/big":     big.NewInt(5),
		"person/dec":     datomic.BigDec{Unscaled: big.NewInt(6)},
		"person/age":     int64(7),
		"person/born":    time.Date(2001, 2, 3, 4, 5, 6, 789_000_000, time.UTC),
		"person/point":   datomic.Tuple{float64(1), 2.5},
		"person/pair":    datomic.Tuple{datomic.LookupRef{A: datomic.Keyword("person/name"), V: "Ann"}, int64(3)},
		"person/points":  []any{datomic.Tuple{int64(1), int64(2)}, datomic.Tuple{int64(3), int64(4)}},
		"person/_friend": datomic.LookupRef{A: datomic.Keyword("person/name"), V: "Zed"},
	}, ops[0])

	// Without the schema the same keyword pair is two values, and the
	// lookup ref of a non-unique attribute is not a lookup ref.
	ops = convert(t, `[{:person/tags [:a :b]} [:db/add 1 :person/point [1 2]] {:person/friends [:person/nick "x"]}]`, ConvertOptions{})
	assert.Equal(t, []any{datomic.Keyword("a"), datomic.Keyword("b")}, ops[0].(datomic.EntityMap)["person/tags"])
	assert.Equal(t, datomic.Tuple{int64(1), int64(2)}, ops[1].(datomic.Add).V, "one value: a tuple")
	assert.Equal(t, datomic.LookupRef{A: datomic.Keyword("person/nick"), V: "x"}, ops[2].(datomic.EntityMap)["person/friends"])
	// With it, :person/nick is not unique, so the pair is two values: an
	// ident and a tempid.
	ops = convert(t, `[{:person/friends [:person/nick "x"]}]`, opts)
	assert.Equal(t, []any{datomic.Keyword("person/nick"), datomic.TempID("x")}, ops[0].(datomic.EntityMap)["person/friends"])

	ops = convert(t, `[[:db/add 1 :person/point [1 2]] [:db/cas 1 :person/height 1 2.5]]`, opts)
	assert.Equal(t, datomic.Add{E: int64(1), A: datomic.Keyword("person/point"), V: datomic.Tuple{float64(1), float64(2)}}, ops[0])
	assert.Equal(t, datomic.CAS{E: int64(1), A: datomic.Keyword("person/height"), Old: float32(1), New: float32(2.5)}, ops[1])
}

func TestConvertErrors(t *testing.T) {
	opts := ConvertOptions{Schema: testSchema()}
	cases := []struct {
		src  string
		want error
		msg  string
	}{
		{`{:a 1}`, ErrTxData, "must be a vector"},
		{`[{:a/b nil}]`, ErrTxData, ":a/b: nil is not a value"},
		{`[{"k" 1}]`, ErrTxData, `key "k" is not a keyword`},
		{`[{:a/b #my/fn {:lang "clojure"}}]`, ErrUnsupported, "#my/fn"},
		{`[{:a/b \x}]`, ErrUnsupported, "character"},
		{`[[:my/fn 1 2]]`, ErrUnsupported, "transaction function :my/fn"},
		{`[[:db/add 1 :a/b]]`, ErrTxData, "takes 3 arguments"},
		{`[[]]`, ErrTxData, "empty list form"},
		{`[["db/add" 1 :a/b 2]]`, ErrTxData, "must start with a keyword"},
		{`[[:db/add 1 "attr" 2]]`, ErrTxData, "neither an ident nor an id"},
		{`[[:db/add 1 :a/_b 2]]`, ErrTxData, "reverse attribute"},
		{`[[:db/add 1 :a/b {:c 1}]]`, ErrTxData, "map is not a value"},
		{`[[:db/add 1 :a/b #{1}]]`, ErrTxData, "set is not a value"},
		{`[[:db/add 1 :person/age [1 2 3]]]`, ErrTxData, "neither a lookup ref nor a tuple"},
		{`[5]`, ErrTxData, "must be a map or a vector"},
		{`[{:a/b [[1 2]]}]`, ErrTxData, "neither a lookup ref nor a tuple"},
		{`[{:a/b #{#{1}}}]`, ErrTxData, "a set inside"},
		{`[{:person/name {:x 1}}]`, ErrTxData, "nested map for :db.type/string"},
		{`[{:person/age [1 2]}]`, ErrTxData, "2 values for cardinality-one"},
		{`[{:person/point [1 "x" ]} {:person/point [1 #my/fn {}]}]`, ErrUnsupported, "tuple element 1: #my/fn"},
		{`[{:a/b 1} {:c/d {:e/f nil}}]`, ErrTxData, "op 1: :c/d :e/f: nil is not a value"},
	}
	for _, c := range cases {
		_, err := ConvertTx(mustRead(t, c.src), opts)
		require.Error(t, err, c.src)
		assert.ErrorIs(t, err, c.want, c.src)
		assert.Contains(t, err.Error(), c.msg, c.src)
		var te *TxDataError
		assert.True(t, errors.As(err, &te), c.src)
	}

	var te *TxDataError
	_, err := ConvertTx(mustRead(t, `[{:a/b 1} {:a/b 2} [:db/add 1 :a/b nil]]`), opts)
	require.ErrorAs(t, err, &te)
	assert.Equal(t, 2, te.Op)
}

func TestConvertOp(t *testing.T) {
	op, err := ConvertOp(mustRead(t, `{:db/ident :x/y}`), ConvertOptions{})
	require.NoError(t, err)
	assert.Equal(t, datomic.EntityMap{"db/ident": datomic.Keyword("x/y")}, op)
}
