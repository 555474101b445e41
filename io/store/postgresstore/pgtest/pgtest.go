// Package pgtest gives tests a real PostgreSQL server: the one named by the environment variable
// BEAMLINE_TEST_POSTGRES (a URL), or else a throwaway one that it starts from the installed
// PostgreSQL binaries in a temporary directory, on a free port of 127.0.0.1.
//
// # Usage
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		pgtest.StopShared()
//		os.Exit(code)
//	}
//
//	func TestSomething(t *testing.T) {
//		url := pgtest.Shared(t).FreshURL(t) // a URL with a new, empty ?schema=
//	}
//
// The binaries are found through `pg_config --bindir`, then /usr/lib/postgresql/*/bin (newest
// first), then PATH. If there are none, the test fails and says how to install them: a test
// that needs PostgreSQL never passes without one. PostgreSQL refuses to run as root, so as root
// the server runs as the user nobody.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL is the environment variable that names an existing server to use instead of starting one.
const EnvURL = "BEAMLINE_TEST_POSTGRES"

// startTimeout bounds initdb plus server start.
const startTimeout = 2 * time.Minute

// ErrNoBinaries is returned by Start when no PostgreSQL server binaries are installed.
var ErrNoBinaries = errors.New("no PostgreSQL server binaries (initdb, postgres) found via pg_config --bindir, " +
	"/usr/lib/postgresql/*/bin or PATH; install them (Debian: apt-get install postgresql) or set " +
	EnvURL + "=postgres://user@host:port/db to use a running server")

// Server is a PostgreSQL server for tests.
type Server struct {
	// URL connects to the server's database as a superuser.
	URL string

	dir  string    // temporary directory of a server Start started; empty for EnvURL
	cmd  *exec.Cmd // the postmaster Start started
	done chan error
}

// Start returns the server named by BEAMLINE_TEST_POSTGRES or, if that is unset, starts one.
// The caller stops it with Stop.
func Start(ctx context.Context) (*Server, error) {
	if u := os.Getenv(EnvURL); u != "" {
		return &Server{URL: u}, ping(ctx, u)
	}
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	s, err := launch(ctx, bin)
	if err != nil {
		return nil, fmt.Errorf("pgtest: start postgres from %s: %w", bin, err)
	}
	return s, nil
}

// Stop stops a server that Start started and removes its files; for a server named by
// BEAMLINE_TEST_POSTGRES it does nothing.
func (s *Server) Stop() error {
	if s.cmd == nil {
		return nil
	}
	s.cmd.Process.Signal(syscall.SIGINT) // fast shutdown
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd = nil
	return os.RemoveAll(s.dir)
}

var schemas atomic.Int64

// FreshURL returns a URL of the server with a schema (?schema=) that no one has used, and
// drops that schema when t ends.
func (s *Server) FreshURL(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("t%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9, schemas.Add(1))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := exec1(ctx, s.URL, "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("pgtest: drop schema %s: %v", name, err)
		}
	})
	return withQuery(s.URL, "schema", name)
}

func withQuery(rawURL, name, value string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		panic(fmt.Sprintf("pgtest: bad server url: %v", err))
	}
	q := u.Query()
	q.Set(name, value)
	u.RawQuery = q.Encode()
	return u.String()
}

var shared struct {
	once sync.Once
	srv  *Server
	err  error
}

// Shared returns a server shared by the tests of the process, starting it on first use; it
// fails t if there is none. TestMain stops it with StopShared.
func Shared(t testing.TB) *Server {
	t.Helper()
	shared.once.Do(func() {
		shared.srv, shared.err = Start(context.Background())
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.srv
}

// StopShared stops the shared server, if Shared started one.
func StopShared() {
	if shared.srv != nil {
		shared.srv.Stop()
	}
}

// binDir returns the directory of the newest installed initdb and postgres.
func binDir() (string, error) {
	var dirs []string
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dirs = append(dirs, strings.TrimSpace(string(out)))
	}
	versioned, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(versioned, func(i, j int) bool { return version(versioned[i]) > version(versioned[j]) })
	dirs = append(dirs, versioned...)
	if p, err := exec.LookPath("initdb"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", ErrNoBinaries
}

// version returns the major version in /usr/lib/postgresql/N/bin.
func version(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

func isExec(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// launch runs initdb in a new temporary directory and starts postgres on a free port.
func launch(ctx context.Context, bin string) (*Server, error) {
	cred, err := credential()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "beamline-pg-")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir}
	if err := s.initdb(ctx, bin, cred); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := s.start(ctx, bin, cred); err != nil {
		return nil, errors.Join(err, s.Stop(), os.RemoveAll(dir))
	}
	return s, nil
}

// credential returns the user to run PostgreSQL as: nil (this process's user) unless root,
// which PostgreSQL refuses; then nobody.
func credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		return nil, fmt.Errorf("running as root, and no user nobody to run postgres as: %w", err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func (s *Server) initdb(ctx context.Context, bin string, cred *syscall.Credential) error {
	if cred != nil {
		if err := os.Chown(s.dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return err
		}
	}
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", filepath.Join(s.dir, "data"),
		"-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %w\n%s", err, out)
	}
	return nil
}

// start starts the postmaster (killed if this process dies) and waits until it accepts
// connections.
func (s *Server) start(ctx context.Context, bin string, cred *syscall.Credential) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	logf, err := os.Create(filepath.Join(s.dir, "postgres.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", filepath.Join(s.dir, "data"),
		"-h", "127.0.0.1", "-p", strconv.Itoa(port), "-k", s.dir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=200")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	s.cmd = cmd
	s.done = make(chan error, 1)
	go func() { s.done <- s.cmd.Wait() }()
	s.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	return s.awaitReady(ctx)
}

// awaitReady polls until the server accepts a connection, exits, or ctx ends.
func (s *Server) awaitReady(ctx context.Context) error {
	for {
		err := ping(ctx, s.URL)
		if err == nil {
			return nil
		}
		select {
		case werr := <-s.done:
			s.done <- werr
			log, _ := os.ReadFile(filepath.Join(s.dir, "postgres.log"))
			return fmt.Errorf("postgres exited (%v):\n%s", werr, log)
		case <-ctx.Done():
			return fmt.Errorf("postgres not ready: %w (last error: %v)", ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func ping(ctx context.Context, rawURL string) error {
	return exec1(ctx, rawURL, "SELECT 1")
}

// exec1 runs one statement on a new connection.
func exec1(ctx context.Context, rawURL, sql string) error {
	conn, err := pgx.Connect(ctx, rawURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}
