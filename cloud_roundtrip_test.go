package dcbackup_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"unicode/utf16"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/cloud"
	"github.com/dcbackup/dcbackup/datomic/mem"
	"github.com/dcbackup/dcbackup/datomic/peer/peertest"
	"github.com/dcbackup/dcbackup/internal/histgen"
	"github.com/dcbackup/dcbackup/internal/s3test"
)

// cloudDB is a database of a fake Datomic Cloud system (peertest, with its
// keyfiles in an in-memory S3) and a connection to it through the cloud
// client, so that every call the library makes goes over the protocol.
type cloudDB struct {
	local *mem.Conn
	srv   *peertest.Server
	conn  *cloud.Conn
	keys  *keyReads
}

// keyReads counts the keyfile reads of a cloud client.
type keyReads struct {
	cloud.S3API
	mu    sync.Mutex
	reads map[string]int // by object key
}

func (k *keyReads) GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	k.mu.Lock()
	k.reads[aws.ToString(in.Key)]++
	k.mu.Unlock()
	return k.S3API.GetObject(ctx, in, optFns...)
}

// keyReads returns how many times the client read the keyfile of a kind
// of key (cloud.KindDBRead, cloud.KindDBWrite) of the database.
func (c *cloudDB) keyReads(kind string) int {
	_, key := c.srv.Keyfile(kind, peertest.DefaultDBName)
	c.keys.mu.Lock()
	defer c.keys.mu.Unlock()
	return c.keys.reads[key]
}

// overCloud serves local, a Cloud-mode database, as a fake Cloud system's
// database and connects to it with a log read in chunks of chunk
// transactions (0: the client's default).
func overCloud(t testing.TB, local *mem.Conn, chunk int) *cloudDB {
	t.Helper()
	keys := s3test.NewMemory("keys")
	srv := peertest.NewCloudServer(t, local, peertest.Options{Cloud: peertest.CloudOptions{S3: keys, Bucket: "keys", Prefix: "system"}})
	cfg := srv.CloudConfig()
	cfg.TxRangeChunk = chunk
	reads := &keyReads{S3API: keys, reads: map[string]int{}}
	cfg.S3 = reads
	conn, err := cloud.Connect(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return &cloudDB{local: local, srv: srv, conn: conn, keys: reads}
}

// newCloudDB returns an empty Cloud-mode database behind a fake Cloud
// system.
func newCloudDB(t testing.TB) *cloudDB {
	t.Helper()
	return overCloud(t, mem.New(mem.Options{Cloud: true}), 0)
}

// newCloudSource returns a Cloud-mode database with a random Cloud history
// of n transactions (cfg sets the seed and options), behind a fake Cloud
// system whose log reads come in chunks of chunk transactions.
func newCloudSource(t testing.TB, cfg histgen.Config, chunk int) *cloudDB {
	t.Helper()
	local := mem.New(mem.Options{Cloud: true, Clock: newStepClock().Now})
	cfg.Cloud = true
	st, err := histgen.Generate(context.Background(), local, cfg)
	require.NoError(t, err)
	require.Greater(t, st.Committed, cfg.Txs/2, "most generated transactions must commit")
	return overCloud(t, local, chunk)
}

// cloudSeeds is the number of random histories per direction of the
// Cloud round trips (fewer with -short).
func cloudSeeds() uint64 {
	if testing.Short() {
		return 2
	}
	return 6
}

// userLogLen counts the transactions of conn's log after its database's
// own bootstrap transactions.
func userLogLen(t testing.TB, conn datomic.Conn, bootstrap int) int {
	t.Helper()
	txs, _ := logLen(t, conn)
	return txs - bootstrap
}

// requireVerifiedWith is requireVerified with options.
func requireVerifiedWith(t testing.TB, source, target datomic.Conn, opts *dcbackup.VerifyOptions) dcbackup.VerifyReport {
	t.Helper()
	rep, err := dcbackup.Verify(context.Background(), source, target, opts)
	require.NoError(t, err)
	require.True(t, rep.OK(), "differences: %v", rep.Differences)
	return rep
}

// requireNoBootstrapSegment checks that no segment of store's "db" holds a
// transaction at or below t 5, Datomic Cloud's bootstrap.
func requireNoBootstrapSegment(t testing.TB, store dcbackup.BackupStore) {
	t.Helper()
	ctx := context.Background()
	segs, err := store.List(ctx, "db", 0)
	require.NoError(t, err)
	require.NotEmpty(t, segs)
	for _, s := range segs {
		data, err := store.Load(ctx, "db", s)
		require.NoError(t, err)
		seg, err := dcbackup.DecodeSegment(data, s, dcbackup.DecodeOptions{})
		require.NoError(t, err)
		for _, tx := range seg.Txs {
			require.Greater(t, tx.T, int64(mem.CloudBootstrapTxs), "segment %v holds a bootstrap transaction", s)
		}
	}
}

// TestProToCloudRoundTrips restores random Datomic Pro histories (named
// partitions, :db/force-partition, bytes values, renames, composite
// backfills, gaps in t) into a Datomic Cloud database over the protocol.
// The bytes attribute is refused before anything is applied until it is
// elided; then the restore verifies with the same elision.
func TestProToCloudRoundTrips(t *testing.T) {
	for seed := range cloudSeeds() {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			ctx := testCtx(t)
			rnd := rand.New(rand.NewPCG(seed, 21))
			local := mem.New(mem.Options{Clock: newStepClock().Now, SharedCounter: seed%2 == 1})
			_, err := histgen.Generate(ctx, local, histgen.Config{Seed: 500 + seed, Txs: 60 + rnd.IntN(60),
				CompositeBackfill: seed%3 != 2, Renames: seed%3 != 1})
			require.NoError(t, err)
			require.NotEmpty(t, values(t, local, "h/raw"), "the history has bytes values")
			var src datomic.Conn = local
			if seed%2 == 0 {
				src = overPeer(t, local)
			}
			store := dcbackup.NewMemStore()
			opts := &dcbackup.BackupOptions{MaxTxPerSegment: 1 + rnd.IntN(15), Concurrency: 1 + rnd.IntN(3)}
			_, err = dcbackup.Backup(ctx, "db", src, store, opts)
			require.NoError(t, err)

			target := newCloudDB(t)
			before := basisT(t, target.conn)
			_, err = dcbackup.Restore(ctx, "db", store, target.conn, nil)
			require.ErrorIs(t, err, dcbackup.ErrCannotRestore)
			var cre *dcbackup.CannotRestoreError
			require.ErrorAs(t, err, &cre)
			assert.Equal(t, datomic.Keyword("db/valueType"), cre.Attr)
			assert.Positive(t, cre.T)
			assert.ErrorContains(t, err, ":db.type/bytes")
			assert.ErrorContains(t, err, "ElideAttributes")
			assert.Equal(t, before, basisT(t, target.conn), "nothing applied")

			elide := []datomic.Keyword{"h/raw"}
			res, err := dcbackup.Restore(ctx, "db", store, target.conn, &dcbackup.RestoreOptions{ElideAttributes: elide})
			require.NoError(t, err)
			srcTxs, _ := logLen(t, local)
			require.Equal(t, srcTxs, res.Transactions)
			vopts := &dcbackup.VerifyOptions{ElideAttributes: elide}
			rep := requireVerifiedWith(t, src, target.conn, vopts)
			require.Equal(t, srcTxs, rep.Transactions)
			requireVerifiedWith(t, local, target.local, vopts)
			assert.Empty(t, values(t, target.local, "h/raw"))
		})
	}
}

// TestCloudRoundTrips backs up random Datomic Cloud histories through the
// Cloud client (the bootstrap transactions t 1 to 5 are not backed up) and
// restores each into Datomic Pro, directly and behind the fake
// peer-server, and into another Cloud database, whose own t 1 to 5 do not
// make it non-empty. Every copy verifies against the source over the
// protocol and directly. Some histories hold strings of exactly Cloud's
// 4096 characters (UTF-16 units), some with characters outside the Basic
// Multilingual Plane.
func TestCloudRoundTrips(t *testing.T) {
	var mu sync.Mutex
	atLimit := 0
	t.Cleanup(func() {
		t.Logf("%d of %d histories hold a string at Cloud's limit", atLimit, cloudSeeds())
		assert.Positive(t, atLimit, "histories with a string at Cloud's limit")
	})
	for seed := range cloudSeeds() {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			ctx := testCtx(t)
			rnd := rand.New(rand.NewPCG(seed, 23))
			src := newCloudSource(t, histgen.Config{Seed: 700 + seed, Txs: 40 + rnd.IntN(50),
				CompositeBackfill: seed%3 != 2, Renames: seed%3 != 1}, 5+rnd.IntN(20))
			for _, v := range values(t, src.local, "h/text") {
				if mem.CloudStringLen(v.(string)) == mem.CloudMaxStringLen {
					mu.Lock()
					atLimit++
					mu.Unlock()
					break
				}
			}
			store := dcbackup.NewMemStore()
			opts := &dcbackup.BackupOptions{MaxTxPerSegment: 1 + rnd.IntN(15), Concurrency: 1 + rnd.IntN(3)}
			var bk dcbackup.BackupResult
			if seed%2 == 0 {
				var err error
				bk, err = dcbackup.Backup(ctx, "db", src.conn, store, opts)
				require.NoError(t, err)
			} else {
				backupNextAll(t, src.conn, store, opts)
			}
			userTxs := userLogLen(t, src.local, mem.CloudBootstrapTxs)
			if seed%2 == 0 {
				require.Equal(t, userTxs, bk.Transactions, "the bootstrap transactions are not backed up")
			}
			requireNoBootstrapSegment(t, store)
			gaps, err := dcbackup.Gaps(ctx, "db", store)
			require.NoError(t, err)
			require.Empty(t, gaps)

			t.Run("pro", func(t *testing.T) {
				target := newTarget()
				res, err := dcbackup.Restore(ctx, "db", store, target, nil)
				require.NoError(t, err)
				require.Equal(t, userTxs, res.Transactions)
				rep := requireVerified(t, src.conn, target)
				require.Equal(t, userTxs, rep.Transactions)
				requireVerified(t, src.local, target)
			})
			t.Run("pro-peer", func(t *testing.T) {
				local := newTarget()
				target := overPeer(t, local)
				res, err := dcbackup.Restore(ctx, "db", store, target, nil)
				require.NoError(t, err)
				require.Equal(t, userTxs, res.Transactions)
				requireVerified(t, src.conn, target)
				requireVerified(t, src.local, local)
			})
			t.Run("cloud", func(t *testing.T) {
				target := newCloudDB(t)
				res, err := dcbackup.Restore(ctx, "db", store, target.conn, nil)
				require.NoError(t, err, "a fresh Cloud database, bootstrap only, is empty")
				require.Equal(t, userTxs, res.Transactions)
				rep := requireVerified(t, src.conn, target.conn)
				require.Equal(t, userTxs, rep.Transactions)
				requireVerified(t, src.local, target.local)
				require.Equal(t, userTxs, userLogLen(t, target.local, mem.CloudBootstrapTxs)-1, "one restore schema transaction")

				again, err := dcbackup.Restore(ctx, "db", store, target.conn, nil)
				require.NoError(t, err)
				require.False(t, again.Restored, "nothing new")
			})
		})
	}
}

// cutUTF16 shortens s to at most n UTF-16 code units, never splitting a
// character.
func cutUTF16(s string, n int) string {
	units := 0
	for i, r := range s {
		w := utf16.RuneLen(r)
		if units+w > n {
			return s[:i]
		}
		units += w
	}
	return s
}

// A Pro backup whose only string over Cloud's 4096 characters lies in a
// later segment, and is over the limit only as Java counts characters
// (UTF-16 units: 2100 characters outside the Basic Multilingual Plane are
// 4200 units), is refused before anything is applied, naming the
// attribute and t. Strings of exactly 4096 units, of more than 4096 bytes
// or with characters outside the BMP, pass. With a Rewrite that shortens
// the string, the restore completes and verifies.
func TestProToCloudLongStringInLaterSegment(t *testing.T) {
	ctx := testCtx(t)
	src := mem.New(mem.Options{Clock: newStepClock().Now})
	tx := func(ops ...datomic.Op) int64 {
		t.Helper()
		rep, err := src.Transact(ctx, ops)
		require.NoError(t, err)
		return datomic.ToT(rep.TxID())
	}
	str := func(ident string) datomic.EntityMap {
		return datomic.EntityMap{"db/ident": datomic.Keyword(ident), "db/valueType": datomic.Keyword("db.type/string"),
			"db/cardinality": datomic.Keyword("db.cardinality/one")}
	}
	tx(str("doc/title"), str("doc/body"))
	atLimitBMP := strings.Repeat("é", 4096)              // 4096 units, 8192 bytes
	atLimitWide := "a" + strings.Repeat("😀", 2047) + "a" // 4096 units, 2049 characters, 8190 bytes
	overLimit := strings.Repeat("😀", 2100)               // 4200 units, 2100 characters
	require.Equal(t, 4096, mem.CloudStringLen(atLimitBMP))
	require.Equal(t, 4096, mem.CloudStringLen(atLimitWide))
	require.Equal(t, 4200, mem.CloudStringLen(overLimit))
	for i := range 6 {
		tx(datomic.EntityMap{"doc/title": fmt.Sprint("doc", i), "doc/body": atLimitBMP})
	}
	tx(datomic.EntityMap{"doc/title": "wide", "doc/body": atLimitWide})
	badT := tx(datomic.EntityMap{"doc/title": "long", "doc/body": overLimit})
	for i := range 4 {
		tx(datomic.EntityMap{"doc/title": fmt.Sprint("after", i), "doc/body": "short"})
	}

	store := dcbackup.NewMemStore()
	_, err := dcbackup.Backup(ctx, "db", src, store, &dcbackup.BackupOptions{MaxTxPerSegment: 2})
	require.NoError(t, err)
	segs, err := store.List(ctx, "db", 0)
	require.NoError(t, err)
	require.Greater(t, len(segs), 4)
	require.Greater(t, badT, segs[2].EndT, "the long string is in a later segment, not one of the first three")

	target := newCloudDB(t)
	before := basisT(t, target.conn)
	_, err = dcbackup.Restore(ctx, "db", store, target.conn, nil)
	require.ErrorIs(t, err, dcbackup.ErrCannotRestore)
	var cre *dcbackup.CannotRestoreError
	require.ErrorAs(t, err, &cre)
	assert.Equal(t, datomic.Keyword("doc/body"), cre.Attr)
	assert.Equal(t, badT, cre.T)
	assert.ErrorContains(t, err, "4200 characters")
	assert.ErrorContains(t, err, "4096")
	assert.Equal(t, before, basisT(t, target.conn), "nothing applied, not even the first segments")
	assert.Equal(t, mem.CloudBootstrapTxs, int(basisT(t, target.local)))

	shorten := map[datomic.Keyword]func(any) (any, error){
		"doc/body": func(v any) (any, error) { return cutUTF16(v.(string), 4096), nil },
	}
	res, err := dcbackup.Restore(ctx, "db", store, target.conn, &dcbackup.RestoreOptions{Rewrite: shorten})
	require.NoError(t, err)
	srcTxs, _ := logLen(t, src)
	require.Equal(t, srcTxs, res.Transactions)
	requireVerifiedWith(t, src, target.conn, &dcbackup.VerifyOptions{Rewrite: shorten})
	names := map[string]string{atLimitBMP: "é at the limit", atLimitWide: "wide at the limit", "short": "short",
		overLimit[:4*2048]: "long, cut to 4096 units"}
	bodies := map[string]int{}
	for _, v := range values(t, target.local, "doc/body") {
		name, ok := names[v.(string)]
		if !ok {
			name = fmt.Sprintf("another string of %d units", mem.CloudStringLen(v.(string)))
		}
		bodies[name]++
	}
	assert.Equal(t, map[string]int{"é at the limit": 6, "wide at the limit": 1, "long, cut to 4096 units": 1, "short": 4}, bodies,
		"strings at the limit unchanged; the long one cut to 2048 characters, 4096 units")
}

// A Datomic Cloud database spreads new entities over partitions that are
// numbers, not entities: a number may equal the id of an attribute the
// history installed, or of a built-in. Restored into Datomic Pro, such
// entities are placed by the target (in :db.part/user), never forced into
// the entity whose id their partition number happens to be; a Cloud
// source's partitions are not compared.
func TestCloudToProPartitionNumbersAreNotEntities(t *testing.T) {
	ctx := testCtx(t)
	local := mem.New(mem.Options{Cloud: true, Clock: newStepClock().Now})
	_, err := local.Transact(ctx, []datomic.Op{
		datomic.EntityMap{"db/ident": datomic.Keyword("p/name"), "db/valueType": datomic.Keyword("db.type/string"),
			"db/cardinality": datomic.Keyword("db.cardinality/one")},
		datomic.EntityMap{"db/ident": datomic.Keyword("p/n"), "db/valueType": datomic.Keyword("db.type/long"),
			"db/cardinality": datomic.Keyword("db.cardinality/one")},
	})
	require.NoError(t, err)
	db, err := local.DB(ctx)
	require.NoError(t, err)
	isAttr, isBuiltin := map[int64]bool{}, map[int64]bool{}
	for d, err := range db.Datoms(ctx, datomic.AEVT, datomic.Keyword("db/ident")) {
		require.NoError(t, err)
		if datomic.ToT(d.Tx) > mem.CloudBootstrapTxs {
			isAttr[d.E] = true
		} else {
			isBuiltin[d.E] = true
		}
	}
	// New entities until one is in a partition numbered as an attribute
	// of the history and one as a built-in.
	var onAttr, onBuiltin int64
	for i := 0; i < 5000 && (onAttr == 0 || onBuiltin == 0); i++ {
		rep, err := local.Transact(ctx, []datomic.Op{datomic.EntityMap{"db/id": datomic.TempID("e"), "p/name": fmt.Sprint("e", i), "p/n": int64(i)}})
		require.NoError(t, err)
		e := rep.Tempids["e"]
		switch p := datomic.Part(e); {
		case isAttr[p] && onAttr == 0:
			onAttr = e
		case isBuiltin[p] && onBuiltin == 0:
			onBuiltin = e
		}
	}
	require.NotZero(t, onAttr, "an entity in a partition numbered as an attribute")
	require.NotZero(t, onBuiltin, "an entity in a partition numbered as a built-in")
	src := overCloud(t, local, 0)

	store := dcbackup.NewMemStore()
	_, err = dcbackup.Backup(ctx, "db", src.conn, store, &dcbackup.BackupOptions{MaxTxPerSegment: 50})
	require.NoError(t, err)
	target := newTarget()
	_, err = dcbackup.Restore(ctx, "db", store, target, nil)
	require.NoError(t, err)
	requireVerified(t, src.conn, target)
	tdb, err := target.DB(ctx)
	require.NoError(t, err)
	for _, e := range []int64{onAttr, onBuiltin} {
		n := 0
		for d, err := range tdb.Datoms(ctx, datomic.AVET, datomic.Keyword(dcbackup.OriginalIDAttr), e) {
			require.NoError(t, err)
			assert.Equal(t, datomic.PartUser, datomic.Part(d.E), "the copy of %d", e)
			n++
		}
		assert.Equal(t, 1, n, "one copy of %d", e)
	}
}
