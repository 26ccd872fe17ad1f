package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"pgo.dev/pgo/internal/pgoapi"
)

var t0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// TestLoginPolicy: the decision of one key, from its state and the time.
func TestLoginPolicy(t *testing.T) {
	p := newLoginLimiter().user
	after := func(n int, at time.Time) loginState {
		var s loginState
		for range n {
			s = p.failed(s, at)
		}
		return s
	}
	for _, tc := range []struct {
		name  string
		state loginState
		now   time.Time
		wait  time.Duration
	}{
		{"no failure", loginState{}, t0, 0},
		{"four failures", after(4, t0), t0, 0},
		{"five failures: a second", after(5, t0), t0, time.Second},
		{"five failures, half a second later", after(5, t0), t0.Add(500 * time.Millisecond), 500 * time.Millisecond},
		{"five failures, a second later", after(5, t0), t0.Add(time.Second), 0},
		{"six: doubled", after(6, t0), t0, 2 * time.Second},
		{"seven: doubled again", after(7, t0), t0, 4 * time.Second},
		{"thirteen", after(13, t0), t0, 256 * time.Second},
		{"fourteen: at most five minutes", after(14, t0), t0, 5 * time.Minute},
		{"fifty", after(50, t0), t0, 5 * time.Minute},
		{"one more after a quiet quarter of an hour starts again", p.failed(after(7, t0), t0.Add(15*time.Minute)), t0.Add(15 * time.Minute), 0},
		{"one more just before counts", p.failed(after(7, t0), t0.Add(15*time.Minute-time.Second)), t0.Add(15*time.Minute - time.Second), 8 * time.Second},
	} {
		if got := p.wait(tc.state, tc.now); got != tc.wait {
			t.Errorf("%s: wait %v, want %v (state %+v)", tc.name, got, tc.wait, tc.state)
		}
	}
	if s := p.failed(after(7, t0), t0.Add(15*time.Minute)); s.Failures != 1 {
		t.Errorf("failures after a quiet period: %d, want 1", s.Failures)
	}
	if !p.forgotten(after(3, t0), t0.Add(15*time.Minute)) || p.forgotten(after(3, t0), t0.Add(14*time.Minute)) {
		t.Error("failures are forgotten after a quarter of an hour, not before")
	}
}

// TestLoginLimiter: keys per user and address, and per address; a success
// clears the first only.
func TestLoginLimiter(t *testing.T) {
	l := newLoginLimiter()
	for range 5 {
		if e := l.check("alice", "10.0.0.1", t0); e != nil {
			t.Fatalf("before five failures: %v", e)
		}
		l.failed("alice", "10.0.0.1", t0)
	}
	e := l.check("alice", "10.0.0.1", t0)
	if e == nil || e.code != http.StatusTooManyRequests || e.retryAfter != 1 ||
		e.message != "too many failed logins for pgo user alice from this address; try again in 1s" {
		t.Fatalf("after five failures: %+v", e)
	}
	if e := l.check("bob", "10.0.0.1", t0); e != nil {
		t.Errorf("another user from the address: %v", e)
	}
	if e := l.check("alice", "10.0.0.2", t0); e != nil {
		t.Errorf("the user from another address: %v", e)
	}
	if e := l.check("alice", "10.0.0.1", t0.Add(time.Second)); e != nil {
		t.Errorf("a second later: %v", e)
	}
	l.succeeded("alice", "10.0.0.1")
	l.failed("alice", "10.0.0.1", t0)
	if e := l.check("alice", "10.0.0.1", t0); e != nil {
		t.Errorf("one failure after a success: %v", e)
	}

	// Six failures from 10.0.0.1 so far; fourteen more, one per name.
	for i := range 14 {
		l.failed(fmt.Sprintf("name-%d", i), "10.0.0.1", t0)
	}
	e = l.check("carol", "10.0.0.1", t0)
	if e == nil || e.message != "too many failed logins from this address; try again in 1s" {
		t.Fatalf("after twenty failures from the address: %+v", e)
	}
	l.succeeded("carol", "10.0.0.1")
	if e := l.check("carol", "10.0.0.1", t0); e == nil {
		t.Error("a success cleared the address's failures")
	}
	if e := l.check("carol", "10.0.0.3", t0); e != nil {
		t.Errorf("another address: %v", e)
	}
}

// TestLoginLimiterIsBounded: at most max keys, the oldest failure dropped
// first, and forgiven keys dropped as time goes.
func TestLoginLimiterIsBounded(t *testing.T) {
	l := newLoginLimiter()
	l.max = 6
	for i := range 100 {
		l.failed("user", fmt.Sprintf("10.0.%d.%d", i/10, i%10), t0.Add(time.Duration(i)*time.Second))
		if len(l.entries) > l.max || l.order.Len() != len(l.entries) {
			t.Fatalf("after %d failures: %d keys, %d in order, at most %d", i+1, len(l.entries), l.order.Len(), l.max)
		}
	}
	if _, ok := l.entries[loginKey{"user", "10.0.0.0"}]; ok {
		t.Error("the oldest key is kept")
	}
	if _, ok := l.entries[loginKey{"user", "10.0.9.9"}]; !ok {
		t.Error("the newest key is dropped")
	}
	l.failed("user", "10.1.0.0", t0.Add(time.Hour))
	if len(l.entries) != 2 {
		t.Errorf("after a quiet hour: %d keys, want the 2 of the last failure", len(l.entries))
	}
}

func TestTooManyLogins(t *testing.T) {
	for _, tc := range []struct {
		user           string
		userWait, addr time.Duration
		secs           int
		message        string
	}{
		{"alice", 0, 0, 0, ""},
		{"alice", 1500 * time.Millisecond, 0, 2, "too many failed logins for pgo user alice from this address; try again in 2s"},
		{"alice", time.Second, 3 * time.Second, 3, "too many failed logins from this address; try again in 3s"},
		{"alice", 5 * time.Minute, time.Second, 300, "too many failed logins for pgo user alice from this address; try again in 300s"},
		{invalidName, time.Millisecond, 0, 1, "too many failed logins for pgo user (invalid) from this address; try again in 1s"},
	} {
		e := tooManyLogins(tc.user, tc.userWait, tc.addr)
		if tc.secs == 0 {
			if e != nil {
				t.Errorf("%+v: %v, want none", tc, e)
			}
			continue
		}
		if e == nil || e.code != http.StatusTooManyRequests || e.reason != pgoapi.ReasonTooManyRequests || e.retryAfter != tc.secs || e.message != tc.message {
			t.Errorf("%+v: %+v", tc, e)
		}
	}
}

func TestClientAddress(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:5432":       "127.0.0.1",
		"10.0.0.1":             "10.0.0.1",
		"[2001:db8::1]:443":    "2001:db8::/64",
		"[2001:db8::ff:1]:1":   "2001:db8::/64",
		"[2001:db8:0:1::1]:1":  "2001:db8:0:1::/64",
		"[::ffff:10.0.0.1]:80": "10.0.0.1",
		"[fe80::1%eth0]:80":    "fe80::/64",
		"not an address":       "not an address",
		"@":                    "@", // a Unix socket
	} {
		if got := clientAddress(in); got != want {
			t.Errorf("clientAddress(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAttemptedName(t *testing.T) {
	for in, want := range map[string]string{
		"admin":                        "admin",
		"Admin":                        invalidName,
		"a\nb":                         invalidName,
		`x" "user"="admin`:             invalidName,
		strings.Repeat("a", 63):        strings.Repeat("a", 63),
		strings.Repeat("b", 70):        strings.Repeat("b", 63),
		strings.Repeat("c", 62) + "-x": invalidName, // cut to end in "-"
	} {
		if got := attemptedName(in); got != want {
			t.Errorf("attemptedName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCheckTurns: one check at a time per address; others are not held.
func TestCheckTurns(t *testing.T) {
	var turns checkTurns
	ctx := context.Background()
	releaseA, err := turns.take(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := turns.take(cancelled, "a"); err == nil {
		t.Error("a second turn for an address while the first is held")
	}
	releaseB, err := turns.take(cancelled, "b")
	if err != nil {
		// A cancelled context may win the race with a free turn; try
		// again without.
		if releaseB, err = turns.take(ctx, "b"); err != nil {
			t.Fatal(err)
		}
	}
	got := make(chan struct{})
	go func() {
		release, err := turns.take(ctx, "a")
		if err == nil {
			release()
		}
		close(got)
	}()
	select {
	case <-got:
		t.Fatal("a waiting turn ran while the first was held")
	case <-time.After(50 * time.Millisecond):
	}
	releaseA()
	<-got
	releaseB()
	if len(turns.m) != 0 {
		t.Errorf("%d addresses kept after every turn ended", len(turns.m))
	}
}

// forgetAll forgets every failure, for tests that give wrong credentials
// on purpose more often than the limits allow.
func (l *loginLimiter) forgetAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = nil
	l.order.Init()
}
