package apiserver

// Login hardening, against a real kube-apiserver (internal/testenv): every
// failed login costs one password hash, wrong passwords are limited per pgo
// user and client address before any hash is computed, the audit line
// names the attempted user, and Kubernetes errors stay in the log.

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"pgo.dev/pgo/internal/pgoapi"
)

// fakeClock is a clock that moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// unwatched is a client that does not watch, for interceptor.NewClient.
type unwatched struct{ client.Client }

func (unwatched) Watch(context.Context, client.ObjectList, ...client.ListOption) (watch.Interface, error) {
	return nil, errors.New("this client does not watch")
}

// TestFailedLoginsCostAHash: a login that fails because the user does not
// exist, its name is invalid or its record holds no password waits for a
// hash slot and hashes, as a wrong password for a known user does, so that
// the time of the answer does not tell which users exist.
func TestFailedLoginsCostAHash(t *testing.T) {
	h := newHarness(t)
	hash, err := hashPassword("known-password")
	if err != nil {
		t.Fatal(err)
	}
	h.create(pgouserSecret(operatorNS, "known", hash, nil, nil))
	h.create(pgouserSecret(operatorNS, "nopassword", "", nil, nil))
	h.create(pgouserSecret(operatorNS, "clear", "clear-password", nil, nil))

	for _, tc := range []struct{ what, user string }{
		{"a wrong password for a known user", "known"},
		{"an unknown user", "nobody"},
		{"a user whose record has no password", "nopassword"},
		{"a user whose password is stored in clear", "clear"},
		{"an invalid user name", "Admin"},
		{"a user name too long", strings.Repeat("a", 64)},
	} {
		// Hold every hash slot: a login that hashes must wait for one.
		hashSlots <- struct{}{}
		hashSlots <- struct{}{}
		done := make(chan int, 1)
		go func() {
			req, _ := http.NewRequest("GET", h.url+pgoapi.PathVersion, nil)
			req.SetBasicAuth(tc.user, "wrong-password")
			resp, err := h.client.Do(req)
			if err != nil {
				done <- 0
				return
			}
			resp.Body.Close()
			done <- resp.StatusCode
		}()
		code := -1
		select {
		case code = <-done:
			t.Errorf("%s: answered %d while every hash slot was taken: no password was hashed", tc.what, code)
		case <-time.After(300 * time.Millisecond):
		}
		<-hashSlots
		<-hashSlots
		if code == -1 {
			code = <-done
		}
		if code != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", tc.what, code)
		}
	}
}

// TestFailedLoginsAreLimited: during a burst of wrong passwords for one pgo
// user from one address, the first five are checked (401) and the rest are
// refused unchecked (429 with Retry-After), the refusal doubling with each
// further failure; other users from that address, and the same user from
// another, log in meanwhile. An unknown user is refused alike, a success
// clears the user's failures, and twenty failures from one address refuse
// it for every user.
func TestFailedLoginsAreLimited(t *testing.T) {
	clock := &fakeClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	h := newHarnessWith(t, func(s *Server) { s.Now = clock.Now })
	h.pgouser("victim", "victim-password", []string{"*"}, nil)
	h.pgouser("bystander", "bystander-password", []string{"*"}, nil)
	attacker := h.clientFrom("127.0.0.2")
	version := func(c *http.Client, user, password string) answer {
		t.Helper()
		return h.callWith(c, "GET", pgoapi.PathVersion, user, password, nil)
	}
	refused := func(a answer, what, user string, retry int) string {
		t.Helper()
		if a.code != http.StatusTooManyRequests {
			t.Fatalf("%s: %d %s, want 429", what, a.code, a.body)
		}
		if got := a.header.Get("Retry-After"); got != strconv.Itoa(retry) {
			t.Errorf("%s: Retry-After %q, want %d", what, got, retry)
		}
		msg := a.apiError(t).Message
		want := "too many failed logins for pgo user " + user + " from this address; try again in " + strconv.Itoa(retry) + "s"
		if user == "" {
			want = "too many failed logins from this address; try again in " + strconv.Itoa(retry) + "s"
		}
		if !strings.Contains(msg, want) {
			t.Errorf("%s: message %q, want %q", what, msg, want)
		}
		return msg
	}

	var victimMsg string
	for i := 1; i <= 8; i++ {
		a := version(attacker, "victim", "guess-"+strconv.Itoa(i))
		if i <= 5 && a.code != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d %s, want 401", i, a.code, a.body)
		}
		if i > 5 {
			victimMsg = refused(a, "wrong password "+strconv.Itoa(i), "victim", 1)
		}
		if a := version(attacker, "bystander", "bystander-password"); a.code != http.StatusOK {
			t.Errorf("another user from the attacker's address during the burst: %d %s", a.code, a.body)
		}
		if a := version(h.client, "victim", "victim-password"); a.code != http.StatusOK {
			t.Errorf("the attacked user from another address during the burst: %d %s", a.code, a.body)
		}
	}
	// While refused, the right password is not even checked.
	refused(version(attacker, "victim", "victim-password"), "the right password while refused", "victim", 1)

	// An unknown user is refused alike: the answer does not tell.
	for i := 1; i <= 5; i++ {
		if a := version(attacker, "ghost", "guess"); a.code != http.StatusUnauthorized {
			t.Fatalf("unknown user, wrong password %d: %d %s", i, a.code, a.body)
		}
	}
	ghostMsg := refused(version(attacker, "ghost", "guess"), "unknown user after five", "ghost", 1)
	if strings.ReplaceAll(ghostMsg, "ghost", "victim") != victimMsg {
		t.Errorf("an unknown user is refused with %q, a known one with %q", ghostMsg, victimMsg)
	}

	// Once the refusal is over, one more failure refuses for twice as long.
	clock.advance(time.Second)
	if a := version(attacker, "victim", "guess-9"); a.code != http.StatusUnauthorized {
		t.Fatalf("after the refusal: %d %s, want 401", a.code, a.body)
	}
	refused(version(attacker, "victim", "guess-10"), "after a sixth failure", "victim", 2)

	// A success clears the user's failures: five more are checked.
	clock.advance(2 * time.Second)
	if a := version(attacker, "victim", "victim-password"); a.code != http.StatusOK {
		t.Fatalf("the right password after the refusal: %d %s", a.code, a.body)
	}
	for i := 1; i <= 5; i++ {
		if a := version(attacker, "victim", "guess"); a.code != http.StatusUnauthorized {
			t.Fatalf("wrong password %d after a success: %d %s, want 401", i, a.code, a.body)
		}
	}

	// Sixteen failures from the attacker's address so far; four more,
	// each for another name, and the address is refused for every user.
	for i := 1; i <= 4; i++ {
		if a := version(attacker, "spray-"+strconv.Itoa(i), "guess"); a.code != http.StatusUnauthorized {
			t.Fatalf("spraying name %d: %d %s, want 401", i, a.code, a.body)
		}
	}
	refused(version(attacker, "bystander", "bystander-password"), "a good user from an address with twenty failures", "", 1)
	if a := version(h.client, "bystander", "bystander-password"); a.code != http.StatusOK {
		t.Errorf("a good user from another address: %d %s", a.code, a.body)
	}
}

// TestAuditNamesTheAttemptedUser: a failed login's audit line names the
// user it tried, when that is a valid name (cut at 63 characters), and a
// placeholder otherwise; never the password.
func TestAuditNamesTheAttemptedUser(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct{ user, want string }{
		{pgoapi.AdminUser, `"attemptedUser"="admin"`},
		{"nobody", `"attemptedUser"="nobody"`},
		{`x" "user"="admin`, `"attemptedUser"="(invalid)"`},
		{"Admin\nFAKE audit line", `"attemptedUser"="(invalid)"`},
		{strings.Repeat("a", 100), `"attemptedUser"="` + strings.Repeat("a", 63) + `"`},
	} {
		if a := h.call("GET", pgoapi.PathVersion, tc.user, "Wrong-Password-7", nil); a.code != http.StatusUnauthorized {
			t.Errorf("%q: %d %s", tc.user, a.code, a.body)
		}
		lines := h.auditLines()
		last := lines[len(lines)-1]
		if !strings.Contains(last, `"user"="-"`) || !strings.Contains(last, tc.want) || strings.Contains(last, "FAKE") {
			t.Errorf("audit line for %q: %s, want %s", tc.user, last, tc.want)
		}
	}
	h.admin("GET", pgoapi.PathVersion, nil)
	lines := h.auditLines()
	if last := lines[len(lines)-1]; !strings.Contains(last, `"user"="admin"`) || strings.Contains(last, "attemptedUser") {
		t.Errorf("audit line of a success: %s", last)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, l := range h.logs {
		if strings.Contains(l, "Wrong-Password-7") || strings.Contains(l, h.adminPassword) {
			t.Errorf("a log line holds a password: %q", l)
		}
	}
}

// TestKubernetesErrorsAreNotShownToCallers: when the pgouser Secret cannot
// be read, the caller, not yet authenticated, gets a 503 that does not
// repeat the Kubernetes error; the log has it.
func TestKubernetesErrorsAreNotShownToCallers(t *testing.T) {
	const detail = "etcdserver: leader changed (internal detail 7f3a)"
	var failing atomic.Bool
	h := newHarnessWith(t, func(s *Server) {
		s.Client = interceptor.NewClient(unwatched{s.Client}, interceptor.Funcs{
			Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
				if _, secret := obj.(*corev1.Secret); secret && failing.Load() {
					return errors.New(detail)
				}
				return c.Get(ctx, key, obj, opts...)
			},
		})
	})
	failing.Store(true)
	a := h.admin("GET", pgoapi.PathVersion, nil)
	if a.code != http.StatusServiceUnavailable {
		t.Fatalf("%d %s, want 503", a.code, a.body)
	}
	if strings.Contains(string(a.body), "7f3a") || strings.Contains(string(a.body), "etcdserver") {
		t.Errorf("the answer shows the Kubernetes error: %s", a.body)
	}
	if a.header.Get(pgoapi.HeaderAuthenticate) != "" {
		t.Errorf("a 503 with a challenge")
	}
	h.mu.Lock()
	logged := strings.Contains(strings.Join(h.logs, "\n"), "7f3a")
	h.mu.Unlock()
	if !logged {
		t.Errorf("the Kubernetes error is not in the log")
	}
	failing.Store(false)
	if a := h.admin("GET", pgoapi.PathVersion, nil); a.code != http.StatusOK {
		t.Errorf("after Kubernetes recovered: %d %s", a.code, a.body)
	}
}
