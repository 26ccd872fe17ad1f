package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"pgo.dev/pgo/internal/pgoapi"
)

// secretCommand is a command that takes a secret, the request it sends and
// the field of that request that carries the secret.
type secretCommand struct {
	name  string
	args  []string
	flag  string // the value flag; the stdin flag is flag+"-stdin"
	route route
	field string
	// echoed is the password the fake apiserver answers with: the one
	// given, which pgo must not print back.
	echoed string
}

func secretCommands() []secretCommand {
	const ns = testNS
	s3 := []string{"--pgbackrest-storage-type=s3", "--pgbackrest-s3-bucket=backups", "--pgbackrest-s3-endpoint=s3.example.com", "--pgbackrest-s3-region=us-east-1", "--pgbackrest-s3-key=AKIAEXAMPLE"}
	return []secretCommand{
		{"create pgouser", []string{"create", "pgouser", "alice", "--pgouser-roles=readonly", "--pgouser-namespaces=app1"}, "pgouser-password", post(pgoapi.PathPgousers, http.StatusCreated, "pgouser.json"), "password", ""},
		{"update pgouser", []string{"update", "pgouser", "alice"}, "pgouser-password", patch(pgoapi.PgouserPath("alice"), "pgouser.json"), "password", ""},
		{"create user", []string{"create", "user", "hacluster", "--username=orion"}, "password", post(pgoapi.ClusterUsersPath(ns, "hacluster"), http.StatusCreated, "create_user.json"), "password", "Zk8pW2qR5tY7uI9oP3aS6dF1"},
		{"update user", []string{"update", "user", "hacluster", "--username=orion"}, "password", patch(pgoapi.ClusterUserPath(ns, "hacluster", "orion"), "create_user.json"), "password", "Zk8pW2qR5tY7uI9oP3aS6dF1"},
		{"create cluster", []string{"create", "cluster", "hacluster"}, "password", post(pgoapi.ClustersPath(ns), http.StatusCreated, "create_cluster.json"), "password", "Vq3xL9tR2mK8pZ4wN7cB5hJd"},
		{"create cluster s3", append([]string{"create", "cluster", "hacluster"}, s3...), "pgbackrest-s3-key-secret", post(pgoapi.ClustersPath(ns), http.StatusCreated, "create_cluster.json"), "pgBackRestS3KeySecret", ""},
	}
}

// sentSecret is the field of the one request pgo sent.
func sentSecret(t *testing.T, api *fakeAPI, c secretCommand) string {
	t.Helper()
	reqs := api.received()
	if len(reqs) != 1 || reqs[0].method != c.route.method || reqs[0].path != c.route.path {
		t.Fatalf("requests %v, want one %s %s", reqs, c.route.method, c.route.path)
	}
	var body map[string]any
	if err := json.Unmarshal(reqs[0].body, &body); err != nil {
		t.Fatalf("request body %q: %v", reqs[0].body, err)
	}
	s, _ := body[c.field].(string)
	return s
}

// TestSecretFromStdin: --X-stdin sends exactly what standard input holds,
// less one trailing line break, warns of nothing and prints no secret.
func TestSecretFromStdin(t *testing.T) {
	for _, c := range secretCommands() {
		t.Run(c.name, func(t *testing.T) {
			for _, in := range []struct{ stdin, want string }{
				{"Tr0ub4dor&3 horse\n", "Tr0ub4dor&3 horse"},
				{"Tr0ub4dor&3 horse\r\n", "Tr0ub4dor&3 horse"},
				{"Tr0ub4dor&3 horse", "Tr0ub4dor&3 horse"},
				{" spaced  password ", " spaced  password "},
			} {
				api := newFakeAPI(t)
				api.on(c.route.method, c.route.path, c.route.status, c.route.files...)
				res := run(api.env(), t.TempDir(), in.stdin, append(c.args, "--"+c.flag+"-stdin")...)
				if res.err != nil {
					t.Fatalf("stdin %q: %v", in.stdin, res.err)
				}
				if got := sentSecret(t, api, c); got != in.want {
					t.Errorf("stdin %q: sent %s %q, want %q", in.stdin, c.field, got, in.want)
				}
				if res.stderr != "" {
					t.Errorf("stdin %q: stderr %q, want nothing", in.stdin, res.stderr)
				}
				if c.echoed != "" && strings.Contains(res.stdout, c.echoed) {
					t.Errorf("stdin %q: stdout shows the password given:\n%s", in.stdin, res.stdout)
				}
			}
		})
	}
}

// TestSecretFlagWarns: the value flag still works, and says on stderr that
// others can see it and what to use instead.
func TestSecretFlagWarns(t *testing.T) {
	for _, c := range secretCommands() {
		t.Run(c.name, func(t *testing.T) {
			api := newFakeAPI(t)
			api.on(c.route.method, c.route.path, c.route.status, c.route.files...)
			res := run(api.env(), t.TempDir(), "", append(c.args, "--"+c.flag+"=Tr0ub4dor&3")...)
			if res.err != nil {
				t.Fatal(res.err)
			}
			if got := sentSecret(t, api, c); got != "Tr0ub4dor&3" {
				t.Errorf("sent %s %q, want %q", c.field, got, "Tr0ub4dor&3")
			}
			for _, want := range []string{"warning: --" + c.flag + " ", "other users of this machine", "process list", "shell history", "--" + c.flag + "-stdin"} {
				if !strings.Contains(res.stderr, want) {
					t.Errorf("stderr %q, want it to hold %q", res.stderr, want)
				}
			}
		})
	}
}

// TestSecretInputRefused: a secret given twice, or empty, is refused before
// any request is sent.
func TestSecretInputRefused(t *testing.T) {
	type refusal struct {
		name, stdin, wantErr string
		args                 []string
	}
	var tests []refusal
	for _, c := range secretCommands() {
		value, stdin := "--"+c.flag, "--"+c.flag+"-stdin"
		tests = append(tests,
			refusal{c.name + " both flags", "Tr0ub4dor&3\n", "give " + value + " or " + stdin + ", not both", append(c.args, value+"=Tr0ub4dor&3", stdin)},
			refusal{c.name + " empty stdin", "", stdin + ": standard input is empty", append(c.args, stdin)},
			refusal{c.name + " only a line break", "\n", stdin + ": standard input is empty", append(c.args, stdin)},
		)
	}
	tests = append(tests,
		refusal{"create pgouser without password", "", "a pgo user needs a password: give it on standard input with --pgouser-password-stdin", []string{"create", "pgouser", "alice", "--pgouser-roles=readonly", "--all-namespaces"}},
		refusal{"create pgouser short password", "short\n", "--pgouser-password-stdin: the password is shorter than 8 characters", []string{"create", "pgouser", "alice", "--pgouser-roles=readonly", "--all-namespaces", "--pgouser-password-stdin"}},
		refusal{"create user short password", "short\n", "--password-stdin: the password is shorter than 8 characters", []string{"create", "user", "hacluster", "--username=orion", "--password-stdin"}},
		refusal{"create user line break", "line\nbreak-password\n", "--password-stdin: the password holds control characters", []string{"create", "user", "hacluster", "--username=orion", "--password-stdin"}},
		refusal{"create user stdin and length", "Tr0ub4dor&3\n", "give --password-stdin or --password-length, not both", []string{"create", "user", "hacluster", "--username=orion", "--password-stdin", "--password-length=30"}},
		refusal{"update user stdin and rotate", "Tr0ub4dor&3\n", "give --password-stdin or --rotate-password, not both", []string{"update", "user", "hacluster", "--username=orion", "--password-stdin", "--rotate-password"}},
		refusal{"create cluster two secrets on stdin", "Tr0ub4dor&3\n", "give --password-stdin or --pgbackrest-s3-key-secret-stdin, not both", []string{"create", "cluster", "hacluster", "--pgbackrest-storage-type=s3", "--pgbackrest-s3-bucket=backups", "--pgbackrest-s3-endpoint=s3.example.com", "--pgbackrest-s3-region=us-east-1", "--pgbackrest-s3-key=k", "--password-stdin", "--pgbackrest-s3-key-secret-stdin"}},
		refusal{"create cluster s3 secret without s3", "Tr0ub4dor&3\n", "--pgbackrest-s3-key-secret-stdin needs --pgbackrest-storage-type=s3 or posix,s3", []string{"create", "cluster", "hacluster", "--pgbackrest-s3-key-secret-stdin"}},
	)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { refused(t, tt.stdin, tt.wantErr, tt.args...) })
	}
}

// fakeTerminal is a terminal on which the user types answers in turn. It
// writes each prompt to pgo's stderr and records it.
type fakeTerminal struct {
	answers []string
	prompts []string
}

func (f *fakeTerminal) open(_ io.Reader, out io.Writer) (prompter, bool) {
	return func(prompt string) (string, error) {
		f.prompts = append(f.prompts, prompt)
		fmt.Fprintln(out, prompt)
		if len(f.answers) == 0 {
			return "", io.EOF
		}
		answer := f.answers[0]
		f.answers = f.answers[1:]
		return answer, nil
	}, true
}

func TestReadSecret(t *testing.T) {
	tests := []struct {
		name     string
		stdin    string
		terminal bool
		answers  []string
		repeat   bool
		want     string
		wantErr  string
		prompts  int
	}{
		{name: "line", stdin: "secret\n", want: "secret"},
		{name: "CRLF", stdin: "secret\r\n", want: "secret"},
		{name: "no line break", stdin: "secret", want: "secret"},
		{name: "one line break trimmed", stdin: "secret\n\n", want: "secret\n"},
		{name: "spaces kept", stdin: " secret \n", want: " secret "},
		{name: "empty", stdin: "", wantErr: "standard input is empty"},
		{name: "line break alone", stdin: "\n", wantErr: "standard input is empty"},
		{name: "CRLF alone", stdin: "\r\n", wantErr: "standard input is empty"},
		{name: "too long", stdin: strings.Repeat("x", maxSecretBytes+1), wantErr: "standard input is longer than 4096 bytes"},
		{name: "longest", stdin: strings.Repeat("x", maxSecretBytes), want: strings.Repeat("x", maxSecretBytes)},
		{name: "typed once", terminal: true, answers: []string{"secret"}, want: "secret", prompts: 1},
		{name: "typed twice", terminal: true, answers: []string{"secret", "secret"}, repeat: true, want: "secret", prompts: 2},
		{name: "typed twice differently", terminal: true, answers: []string{"secret", "secreT"}, repeat: true, wantErr: "the two entries differ", prompts: 2},
		{name: "typed nothing", terminal: true, answers: []string{""}, repeat: true, wantErr: "nothing was typed", prompts: 1},
		{name: "end of input at the prompt", terminal: true, wantErr: "reading the answer: EOF", prompts: 1},
		{name: "end of input at the repeat", terminal: true, answers: []string{"secret"}, repeat: true, wantErr: "reading the answer: EOF", prompts: 2},
		{name: "terminal ignores the reader", stdin: "other\n", terminal: true, answers: []string{"secret"}, want: "secret", prompts: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			term := &fakeTerminal{answers: tt.answers}
			ask, _ := term.open(nil, io.Discard)
			got, err := readSecret(strings.NewReader(tt.stdin), tt.terminal, ask, "Password: ", tt.repeat)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error = %v, want one containing %q", err, tt.wantErr)
				}
			} else if err != nil || got != tt.want {
				t.Errorf("readSecret = %q, %v; want %q", got, err, tt.want)
			}
			if len(term.prompts) != tt.prompts {
				t.Errorf("prompts %q, want %d", term.prompts, tt.prompts)
			}
		})
	}
}

// TestSecretPrompt: on a terminal, pgo asks for a secret the command needs,
// or that --X-stdin names, without echo, twice for a new password, and
// refuses two different answers.
func TestSecretPrompt(t *testing.T) {
	const (
		ns = testNS
		pw = "Tr0ub4dor&3"
	)
	s3 := []string{"--pgbackrest-storage-type=s3", "--pgbackrest-s3-bucket=backups", "--pgbackrest-s3-endpoint=s3.example.com", "--pgbackrest-s3-region=us-east-1", "--pgbackrest-s3-key=AKIAEXAMPLE"}
	createPgouser := []string{"create", "pgouser", "alice", "--pgouser-roles=readonly", "--pgouser-namespaces=app1"}
	pgouserPrompts := []string{"Password for pgo user alice: ", "Repeat: "}
	userPrompts := []string{"Password for user orion of cluster hacluster: ", "Repeat: "}
	tests := []struct {
		name    string
		args    []string
		answers []string
		route   route
		sent    map[string]string // request fields; "" for none
		prompts []string
		wantErr string
	}{
		{
			name: "create pgouser asks", args: createPgouser, answers: []string{pw, pw},
			route: post(pgoapi.PathPgousers, http.StatusCreated, "pgouser.json"), sent: map[string]string{"password": pw}, prompts: pgouserPrompts,
		},
		{
			name: "create pgouser answers differ", args: createPgouser, answers: []string{pw, pw + "x"},
			prompts: pgouserPrompts, wantErr: "the two entries differ; nothing was changed",
		},
		{
			name: "create pgouser nothing typed", args: createPgouser, answers: []string{""},
			prompts: pgouserPrompts[:1], wantErr: "nothing was typed",
		},
		{
			name: "create pgouser bad flags before asking", args: []string{"create", "pgouser", "alice", "--pgouser-namespaces=app1"},
			wantErr: "--pgouser-roles is required",
		},
		{
			name: "create pgouser value flag", args: append(createPgouser, "--pgouser-password="+pw),
			route: post(pgoapi.PathPgousers, http.StatusCreated, "pgouser.json"), sent: map[string]string{"password": pw},
		},
		{
			name: "update pgouser asks with the stdin flag", args: []string{"update", "pgouser", "alice", "--pgouser-password-stdin"}, answers: []string{pw, pw},
			route: patch(pgoapi.PgouserPath("alice"), "pgouser.json"), sent: map[string]string{"password": pw}, prompts: pgouserPrompts,
		},
		{
			name: "update pgouser does not ask otherwise", args: []string{"update", "pgouser", "alice", "--all-namespaces"},
			route: patch(pgoapi.PgouserPath("alice"), "pgouser.json"), sent: map[string]string{"password": ""},
		},
		{
			name: "create user generates without asking", args: []string{"create", "user", "hacluster", "--username=orion"},
			route: post(pgoapi.ClusterUsersPath(ns, "hacluster"), http.StatusCreated, "create_user.json"), sent: map[string]string{"password": ""},
		},
		{
			name: "create user asks with the stdin flag", args: []string{"create", "user", "hacluster", "--username=orion", "--password-stdin"}, answers: []string{pw, pw},
			route: post(pgoapi.ClusterUsersPath(ns, "hacluster"), http.StatusCreated, "create_user.json"), sent: map[string]string{"password": pw}, prompts: userPrompts,
		},
		{
			name: "update user answers differ", args: []string{"update", "user", "hacluster", "--username=orion", "--password-stdin"}, answers: []string{pw, "Tr0ub4dor&4"},
			prompts: userPrompts, wantErr: "--password-stdin: the two entries differ",
		},
		{
			name: "create cluster asks for the S3 secret key", args: append([]string{"create", "cluster", "hacluster"}, s3...), answers: []string{"s3-secret"},
			route: post(pgoapi.ClustersPath(ns), http.StatusCreated, "create_cluster.json"), sent: map[string]string{"pgBackRestS3KeySecret": "s3-secret", "password": ""},
			prompts: []string{"S3 secret key for bucket backups: "},
		},
		{
			name: "create cluster asks for both", args: append([]string{"create", "cluster", "hacluster", "--username=app", "--password-stdin", "--pgbackrest-s3-key-secret-stdin"}, s3...), answers: []string{pw, pw, "s3-secret"},
			route: post(pgoapi.ClustersPath(ns), http.StatusCreated, "create_cluster.json"), sent: map[string]string{"pgBackRestS3KeySecret": "s3-secret", "password": pw},
			prompts: []string{"Password for user app of cluster hacluster: ", "Repeat: ", "S3 secret key for bucket backups: "},
		},
		{
			name: "create cluster without S3 does not ask", args: []string{"create", "cluster", "hacluster"},
			route: post(pgoapi.ClustersPath(ns), http.StatusCreated, "create_cluster.json"), sent: map[string]string{"pgBackRestS3KeySecret": "", "password": ""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t)
			if tt.route.method != "" {
				api.on(tt.route.method, tt.route.path, tt.route.status, tt.route.files...)
			}
			term := &fakeTerminal{answers: tt.answers}
			a := newTestApp(api.env(), t.TempDir())
			a.terminal = term.open
			res := runApp(a, "", tt.args...)
			if !slices.Equal(term.prompts, tt.prompts) {
				t.Errorf("prompts %q, want %q", term.prompts, tt.prompts)
			}
			if tt.wantErr != "" {
				if res.err == nil || !strings.Contains(res.err.Error(), tt.wantErr) {
					t.Errorf("error = %v, want one containing %q", res.err, tt.wantErr)
				}
				if reqs := api.received(); len(reqs) > 0 {
					t.Errorf("pgo sent %s", reqs[0])
				}
				return
			}
			if res.err != nil {
				t.Fatal(res.err)
			}
			for field, want := range tt.sent {
				if got := sentSecret(t, api, secretCommand{route: tt.route, field: field}); got != want {
					t.Errorf("sent %s %q, want %q", field, got, want)
				}
			}
			if strings.Contains(res.stdout, pw) {
				t.Errorf("stdout shows the password:\n%s", res.stdout)
			}
		})
	}
}
