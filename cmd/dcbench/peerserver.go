package main

import (
	"bufio"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/pprof"
	"time"

	"github.com/dcbackup/dcbackup"
	"github.com/dcbackup/dcbackup/datomic"
	"github.com/dcbackup/dcbackup/datomic/mem"
	"github.com/dcbackup/dcbackup/datomic/peer"
	"github.com/dcbackup/dcbackup/datomic/peer/peertest"
	"github.com/dcbackup/dcbackup/internal/benchwork"
)

// Mode peer runs the fake peer-server in a child process (this program
// again, with peerServerEnv set), so that the CPU time of the process that
// measures is the client's alone: the library, the protocol's encoding
// and HTTPS. The child reports its own CPU time and request counts when
// its standard input closes.

// peerServerEnv, when set, makes the process a peer-server child; its value
// is the JSON of a serverSpec.
const peerServerEnv = "DCBENCH_PEER_SERVER"

// serverSpec says what the child serves.
type serverSpec struct {
	// Serve is "target" (an empty in-memory database to restore into) or
	// "source" (the generated log Workload describes, restored into an
	// in-memory database, to back up).
	Serve    string
	Workload benchwork.Config
	// Profile, when set, is the file of the child's CPU profile.
	Profile string
}

// serverHello is the child's first line: how to reach it.
type serverHello struct {
	Endpoint, AccessKey, Secret, DBName string
	// Cert is the server's certificate (DER), pinned by the client.
	Cert []byte
}

// serverBye is the child's last line: what serving cost it.
type serverBye struct {
	// CPU is the child's CPU time (user+system) from the hello on.
	CPU time.Duration
	// Requests counts the requests by operation.
	Requests map[string]int
}

// peerOps are the operations a server counts.
var peerOps = []string{"datomic.catalog/resolve-db", "status", "tx-range", "datoms", "index-range", "transact", "next"}

// peerServerMain runs the child when the environment asks for one; ok is
// false otherwise.
func peerServerMain() (code int, ok bool) {
	spec := os.Getenv(peerServerEnv)
	if spec == "" {
		return 0, false
	}
	if err := servePeer(context.Background(), spec, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "dcbench peer-server:", err)
		return 1, true
	}
	return 0, true
}

// servePeer serves the database specJSON describes until in ends.
func servePeer(ctx context.Context, specJSON string, in io.Reader, out io.Writer) error {
	var spec serverSpec
	if err := json.Unmarshal([]byte(specJSON), &spec); err != nil {
		return fmt.Errorf("%s: %w", peerServerEnv, err)
	}
	var conn datomic.Conn
	switch spec.Serve {
	case "target":
		conn = newMemTarget()
	case "source":
		m, err := generatedMem(ctx, spec.Workload)
		if err != nil {
			return err
		}
		conn = m
	default:
		return fmt.Errorf("%s: unknown Serve %q", peerServerEnv, spec.Serve)
	}
	srv := peertest.Start(conn, peertest.Options{})
	defer srv.Close()
	if spec.Profile != "" {
		stop, err := startProfile(spec.Profile)
		if err != nil {
			return err
		}
		defer stop()
	}
	cfg := srv.Config()
	cpu0 := cpuTime()
	enc := json.NewEncoder(out)
	if err := enc.Encode(serverHello{Endpoint: cfg.Endpoint, AccessKey: cfg.AccessKey, Secret: cfg.Secret, DBName: cfg.DBName, Cert: srv.Certificate().Raw}); err != nil {
		return err
	}
	if _, err := io.Copy(io.Discard, in); err != nil {
		return err
	}
	bye := serverBye{CPU: cpuTime() - cpu0, Requests: map[string]int{}}
	for _, op := range peerOps {
		bye.Requests[op] = srv.Requests(op)
	}
	return enc.Encode(bye)
}

// newMemTarget is the in-memory restore target of every restore stage.
func newMemTarget() *mem.Conn {
	return mem.New(mem.Options{BootstrapShift: 100, ExtraBuiltins: true})
}

// generatedMem returns an in-memory database holding the generated log w
// (the same in every process).
func generatedMem(ctx context.Context, w benchwork.Config) (*mem.Conn, error) {
	src, err := benchwork.NewSource(ctx, w)
	if err != nil {
		return nil, err
	}
	store := dcbackup.NewMemStore()
	if _, err := dcbackup.Backup(ctx, dbName, src, store, nil); err != nil {
		return nil, err
	}
	m := mem.New(mem.Options{})
	if _, err := dcbackup.Restore(ctx, dbName, store, m, nil); err != nil {
		return nil, err
	}
	return m, nil
}

// startProfile writes a CPU profile to path until the returned function
// is called.
func startProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// peerServer is a running child and a client connection to it.
type peerServer struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *json.Decoder
	conn  *peer.Conn
}

// startPeerServer starts a child serving spec and connects to it.
func startPeerServer(ctx context.Context, spec serverSpec) (*peerServer, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), peerServerEnv+"="+string(b))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &peerServer{cmd: cmd, stdin: stdin, out: json.NewDecoder(bufio.NewReader(stdout))}
	var hello serverHello
	if err := p.out.Decode(&hello); err != nil {
		stdin.Close()
		return nil, errors.Join(fmt.Errorf("peer-server child: %w", err), cmd.Wait())
	}
	cert, err := x509.ParseCertificate(hello.Cert)
	if err == nil {
		p.conn, err = peer.Connect(ctx, peer.Config{
			Endpoint: hello.Endpoint, AccessKey: hello.AccessKey, Secret: hello.Secret, DBName: hello.DBName,
			TLS: peer.TLSConfig{Fingerprints: []string{peer.Fingerprint(cert)}},
		})
	}
	if err != nil {
		_, serr := p.stop()
		return nil, errors.Join(err, serr)
	}
	return p, nil
}

// stop closes the connection, ends the child and returns its report.
func (p *peerServer) stop() (serverBye, error) {
	if p.conn != nil {
		p.conn.Close()
	}
	p.stdin.Close()
	var bye serverBye
	err := p.out.Decode(&bye)
	if err != nil {
		err = fmt.Errorf("peer-server child's report: %w", err)
	}
	return bye, errors.Join(err, p.cmd.Wait())
}
