package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic/mem"
	"github.com/dcbackup/dcbackup/internal/histgen"
)

// The tests run the real binary, built once per test process.
var build struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if build.dir != "" {
		_ = os.RemoveAll(build.dir)
	}
	os.Exit(code)
}

// binary returns the path of the dcbackup binary, building it on first use.
func binary(t *testing.T) string {
	t.Helper()
	build.once.Do(func() {
		build.dir, build.err = os.MkdirTemp("", "dcbackup-cmd-test-")
		if build.err != nil {
			return
		}
		build.path = filepath.Join(build.dir, "dcbackup")
		cmd := exec.Command("go", "build", "-o", build.path, ".")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			build.err = errors.New("go build: " + err.Error() + "\n" + out.String())
		}
	})
	require.NoError(t, build.err)
	return build.path
}

// result is the outcome of one run of the binary.
type result struct {
	code   int
	stdout string
	stderr string
}

// runCmd runs the binary with args and an environment reduced to what
// the command needs plus env (so that the developer's AWS settings do
// not leak in).
func runCmd(t *testing.T, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), args...)
	cmd.Env = append([]string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// stepClock moves a minute per reading, so that histories are
// deterministic and explicit instants are never in the future.
type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Minute)
	return c.t
}

// fixture is a backed-up random history.
type fixture struct {
	conn   *mem.Conn
	db     string
	result dcbackup.BackupResult
	txs    int // transactions in the source log
	datoms int // datoms in the source log
}

// backUp writes a random history of n transactions (seed) as database db
// into store, in segments of at most maxTx transactions.
func backUp(t *testing.T, store dcbackup.BackupStore, db string, seed uint64, n, maxTx int) fixture {
	t.Helper()
	ctx := t.Context()
	conn := mem.New(mem.Options{Clock: (&stepClock{t: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)}).Now, SharedCounter: true})
	_, err := histgen.Generate(ctx, conn, histgen.Config{Seed: seed, Txs: n})
	require.NoError(t, err)
	res, err := dcbackup.Backup(ctx, db, conn, store, &dcbackup.BackupOptions{MaxTxPerSegment: maxTx, Concurrency: 3})
	require.NoError(t, err)
	f := fixture{conn: conn, db: db, result: res}
	for tx, err := range conn.TxRange(ctx, 0, 0) {
		require.NoError(t, err)
		f.txs++
		f.datoms += len(tx.Datoms)
	}
	return f
}

// fsStore returns a filesystem store in a fresh directory.
func fsStore(t *testing.T) *dcbackup.FSStore {
	t.Helper()
	st, err := dcbackup.NewFSStore(t.TempDir())
	require.NoError(t, err)
	return st
}
