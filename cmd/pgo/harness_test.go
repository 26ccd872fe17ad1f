package main

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"pgo.dev/pgo/internal/pgoapi"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// Credentials the fake apiserver accepts.
const (
	testUser     = "admin"
	testPassword = "examplepassword"
	testNS       = "pgo"
)

// recorded is one request the fake apiserver received.
type recorded struct {
	method, path, query, user string
	body                      []byte
}

func (r recorded) String() string {
	s := r.method + " " + r.path
	if r.query != "" {
		s += "?" + r.query
	}
	if len(bytes.TrimSpace(r.body)) > 0 {
		var out bytes.Buffer
		if err := json.Indent(&out, r.body, "", "  "); err != nil {
			out.Reset()
			out.Write(r.body)
		}
		s += "\n" + out.String()
	}
	return s
}

// answer is a recorded pgoapi answer: a file of testdata/api and a status.
type answer struct {
	status int
	file   string
}

// fakeAPI is an HTTPS server that answers with recorded pgoapi responses,
// checks HTTP Basic credentials as the apiserver does, and records every
// request. It stands in for the apiserver in tests of the CLI's own logic:
// flags, validation, prompts and output.
type fakeAPI struct {
	t      *testing.T
	srv    *httptest.Server
	caFile string

	mu       sync.Mutex
	answers  map[string][]answer // "METHOD path" -> answers in turn, the last repeated
	requests []recorded
}

func newFakeAPI(t *testing.T) *fakeAPI {
	t.Helper()
	f := &fakeAPI{t: t, answers: map[string][]answer{}}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	f.caFile = writeCertPEM(t, f.srv)
	return f
}

// writeCertPEM writes the certificate of a test server to a file.
func writeCertPEM(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "ca.crt")
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// on makes the server answer method path with the given files in turn.
func (f *fakeAPI) on(method, path string, status int, files ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, file := range files {
		f.answers[method+" "+path] = append(f.answers[method+" "+path], answer{status: status, file: file})
	}
}

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	user, pass, ok := r.BasicAuth()
	f.mu.Lock()
	f.requests = append(f.requests, recorded{method: r.Method, path: r.URL.Path, query: r.URL.RawQuery, user: user, body: body})
	key := r.Method + " " + r.URL.Path
	answers := f.answers[key]
	var a answer
	if len(answers) > 0 {
		a = answers[0]
		if len(answers) > 1 {
			f.answers[key] = answers[1:]
		}
	}
	f.mu.Unlock()

	w.Header().Set(pgoapi.HeaderContentType, pgoapi.ContentTypeJSON)
	w.Header().Set(pgoapi.HeaderServerVersion, "v0.1.0")
	if !ok || user != testUser || pass != testPassword {
		w.Header().Set(pgoapi.HeaderAuthenticate, pgoapi.AuthenticateChallenge)
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(pgoapi.Error{Code: 401, Reason: pgoapi.ReasonUnauthorized, Message: "wrong user name or password"})
		return
	}
	if a.file == "" {
		w.WriteHeader(http.StatusNotFound)
		_ = json.NewEncoder(w).Encode(pgoapi.Error{Code: 404, Reason: pgoapi.ReasonNotFound, Message: "no recorded answer for " + key})
		return
	}
	data, err := os.ReadFile(filepath.Join("testdata", "api", a.file))
	if err != nil {
		f.t.Errorf("fake apiserver: %v", err)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.WriteHeader(a.status)
	_, _ = w.Write(data)
}

func (f *fakeAPI) received() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.requests...)
}

// env is the environment that points pgo at the fake apiserver.
func (f *fakeAPI) env() map[string]string {
	return map[string]string{
		"PGO_APISERVER_URL": f.srv.URL,
		"PGO_CA_CERT":       f.caFile,
		"PGO_NAMESPACE":     testNS,
		"PGOUSERNAME":       testUser,
		"PGOUSERPASS":       testPassword,
	}
}

// result of one run of pgo.
type result struct {
	stdout, stderr string
	err            error
}

// run runs pgo with args, the environment vars, HOME home and stdin.
func run(vars map[string]string, home, stdin string, args ...string) result {
	return runApp(newTestApp(vars, home), stdin, args...)
}

// newTestApp is pgo with the environment vars, HOME home, a fixed clock and
// a standard input that is not a terminal.
func newTestApp(vars map[string]string, home string) *app {
	a := newApp(testEnv(vars, home))
	a.pollInterval = time.Millisecond
	clock := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	a.now = func() time.Time { return clock }
	a.terminal = func(io.Reader, io.Writer) (prompter, bool) { return nil, false }
	return a
}

// runApp runs a with args and stdin.
func runApp(a *app, stdin string, args ...string) result {
	root := newRootCommand(a)
	var stdout, stderr bytes.Buffer
	root.SetArgs(args)
	root.SetIn(strings.NewReader(stdin))
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	err := root.Execute()
	return result{stdout: stdout.String(), stderr: stderr.String(), err: err}
}

// refused runs pgo with stdin and args against a fake apiserver, and checks
// that it refuses with an error holding wantErr before sending anything.
func refused(t *testing.T, stdin, wantErr string, args ...string) {
	t.Helper()
	api := newFakeAPI(t)
	res := run(api.env(), t.TempDir(), stdin, args...)
	if res.err == nil || !strings.Contains(res.err.Error(), wantErr) {
		t.Errorf("error = %v\nwant one containing %q", res.err, wantErr)
	}
	if reqs := api.received(); len(reqs) > 0 {
		t.Errorf("pgo sent %d requests, first %s", len(reqs), reqs[0])
	}
}

// transcript is what a golden file holds: the requests pgo sent, what it
// printed and how it exited.
func transcript(reqs []recorded, r result) string {
	var b strings.Builder
	for _, req := range reqs {
		fmt.Fprintf(&b, "> %s\n", req)
	}
	b.WriteString("--- stdout\n")
	b.WriteString(r.stdout)
	if r.stderr != "" {
		b.WriteString("--- stderr\n")
		b.WriteString(r.stderr)
	}
	if r.err != nil {
		fmt.Fprintf(&b, "--- error\n%v\n", r.err)
	}
	return b.String()
}

// golden compares got with testdata/name.golden, or rewrites it with
// -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	file := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/pgo -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test ./cmd/pgo -update rewrites it):\n--- got\n%s\n--- want\n%s", file, got, want)
	}
}
