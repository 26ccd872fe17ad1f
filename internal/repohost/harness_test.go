package repohost_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"

	"pgo.dev/pgo/internal/pgbackrest"
	"pgo.dev/pgo/internal/repohost"
	"pgo.dev/pgo/internal/repohostapi"
	"pgo.dev/pgo/internal/testenv"
)

// The tests run the repository host manager in the test process, against
// a real PostgreSQL 15 with its database pod's pgBackRest TLS server, real
// pgBackRest 2.45 (as the postgres user when the tests run as root) and,
// for S3 repositories, the real S3 server; they call its API through the
// client, over HTTPS with the cluster's certificate and basic
// authentication.

// host is a running repository host manager.
type host struct {
	t       *testing.T
	c       *testenv.BackRestCluster
	api     repohostapi.API
	address string
	opts    repohost.Options
	// out is everything the manager wrote: pgBackRest's output and the
	// manager's logs.
	out  *syncBuffer
	stop func()
}

const apiPassword = "the-api-password-of-the-test"

// startHost runs a repository host manager for a cluster until the test
// ends (or stop).
func startHost(t *testing.T, c *testenv.BackRestCluster) *host {
	t.Helper()
	w := c.W
	name := filepath.Base(filepath.Dir(filepath.Dir(c.RepoConf)))
	out := &syncBuffer{}
	exec := w.Exec(fmt.Sprintf("PGBACKREST_TLS_SERVER_PORT=%d", c.RepoPort))
	exec.Lines = pgbackrest.NewLines(out)
	h := &host{t: t, c: c, out: out, address: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))}
	h.opts = repohost.Options{
		PodIP: "127.0.0.1", APIAddress: h.address,
		CertFile: c.ID.TLS.CertFile, KeyFile: c.ID.TLS.KeyFile, CAFile: c.ID.TLS.CAFile,
		APIUser: "pgo", APIPasswordFile: w.Write(filepath.Join(name, "api", "password"), []byte(apiPassword+"\n")),
		Config: c.RepoConf, IncludePath: c.RepoInclude,
		CommandTimeout: 2 * time.Minute, Exec: exec, ServerPoll: 200 * time.Millisecond,
	}
	client, err := repohostapi.Client([]byte(testenv.ReadFile(t, c.ID.TLS.CAFile)), "localhost", 3*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	h.api = repohostapi.API{HTTP: client, URL: "https://" + h.address, User: "pgo", Password: apiPassword}
	h.start()
	t.Cleanup(func() {
		h.stop()
		if t.Failed() {
			t.Logf("the repository host's output:\n%s", out.String())
		}
	})
	return h
}

// start runs a manager with the host's options.
func (h *host) start() {
	h.t.Helper()
	log := funcr.New(func(prefix, args string) { _, _ = h.out.Write([]byte("manager: " + prefix + " " + args + "\n")) }, funcr.Options{})
	m, err := repohost.New(h.opts, log)
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	h.stop = func() {
		cancel()
		if err := <-done; err != nil {
			h.t.Errorf("the repository host manager: %v", err)
		}
		h.stop = func() {}
	}
	deadline := time.Now().Add(20 * time.Second)
	for h.api.Health(context.Background()) != nil {
		if time.Now().After(deadline) {
			h.t.Fatalf("the repository host's health check does not pass: %v\n%s", h.api.Health(context.Background()), h.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := testenv.WaitListening(fmt.Sprintf("127.0.0.1:%d", h.c.RepoPort), 10*time.Second); err != nil {
		h.t.Fatal(err)
	}
}

func (h *host) stanza(req repohostapi.StanzaRequest) repohostapi.StanzaReply {
	h.t.Helper()
	reply, err := h.api.Stanza(context.Background(), req)
	if err != nil {
		h.t.Fatalf("creating the stanza: %v", err)
	}
	return reply
}

// startBackup starts a backup and checks the answer.
func (h *host) startBackup(id, typ string, repo int, options ...string) repohostapi.BackupStatus {
	h.t.Helper()
	st, err := h.api.StartBackup(context.Background(), repohostapi.BackupRequest{ID: id, Type: typ, Repo: repo, Options: options})
	if err != nil {
		h.t.Fatalf("starting backup %s: %v", id, err)
	}
	if st.ID != id || st.Phase != repohostapi.PhaseRunning || st.Type != typ || st.Repo != repo || st.StartTime.IsZero() {
		h.t.Fatalf("backup %s started as %+v", id, st)
	}
	return st
}

// wait waits until a backup ends, and returns its status.
func (h *host) wait(id string) repohostapi.BackupStatus {
	h.t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		st, err := h.api.Backup(context.Background(), id)
		if err != nil {
			h.t.Fatalf("backup %s: %v", id, err)
		}
		if st.Phase != repohostapi.PhaseRunning {
			return st
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("backup %s still runs: %+v", id, st)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// backup takes a backup and checks that it succeeded.
func (h *host) backup(id, typ string, repo int, options ...string) repohostapi.BackupStatus {
	h.t.Helper()
	h.startBackup(id, typ, repo, options...)
	st := h.wait(id)
	if st.Phase != repohostapi.PhaseSucceeded || st.Label == "" || st.CompletionTime == nil || st.Message != "" {
		h.t.Fatalf("backup %s: %+v", id, st)
	}
	return st
}

// waitOutput waits until the manager writes a line that holds every part.
func (h *host) waitOutput(parts ...string) {
	h.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		for _, line := range strings.Split(h.out.String(), "\n") {
			if !slices.ContainsFunc(parts, func(p string) bool { return !strings.Contains(line, p) }) {
				return
			}
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("the repository host wrote no line with %q", parts)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// info is GET /info, parsed.
func (h *host) info() pgbackrest.StanzaInfo {
	h.t.Helper()
	raw, err := h.api.Info(context.Background())
	if err != nil {
		h.t.Fatalf("info: %v", err)
	}
	return testenv.FindStanza(h.t, raw)
}

// wantStatus checks that err is an answer with a status code whose error
// says says.
func wantStatus(t *testing.T, what string, err error, code int, says string) {
	t.Helper()
	if got := repohostapi.StatusCode(err); got != code {
		t.Errorf("%s: %v (status %d), want status %d %s", what, err, got, code, http.StatusText(code))
		return
	}
	if !strings.Contains(err.Error(), says) {
		t.Errorf("%s: %v, want an error that says %q", what, err, says)
	}
}

// syncBuffer is a buffer many goroutines write.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
