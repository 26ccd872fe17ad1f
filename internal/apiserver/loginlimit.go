package apiserver

import (
	"container/list"
	"context"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"pgo.dev/pgo/internal/pgoapi"
)

// Failed logins are counted per pgo user name and client address, and per
// client address: after a few, further attempts of that key are refused
// (429 with Retry-After) before the user's Secret is read or any password
// hashed, so that a burst of wrong passwords costs no CPU. Counting per
// user and address rather than per user alone keeps an attacker from
// locking a user out everywhere; the count per address stops one address
// from trying many names.

// loginPolicy is how one key's failed logins are answered: from the
// Threshold-th failure on, attempts are refused for Base, twice as long
// after each further failure, at most Max. Failures are forgotten after
// Quiet without one.
type loginPolicy struct {
	Threshold int
	Base, Max time.Duration
	Quiet     time.Duration
}

// loginState is what is known of one key's failed logins.
type loginState struct {
	Failures int
	// Last is the time of the last failure.
	Last time.Time
	// Until is when attempts may be checked again.
	Until time.Time
}

// wait is how long an attempt at now is refused: 0 when it may be checked.
func (p loginPolicy) wait(s loginState, now time.Time) time.Duration {
	return max(s.Until.Sub(now), 0)
}

// forgotten reports whether the failures of s are forgiven at now.
func (p loginPolicy) forgotten(s loginState, now time.Time) bool {
	return !now.Before(s.Until) && now.Sub(s.Last) >= p.Quiet
}

// failed is the state after a failure at now.
func (p loginPolicy) failed(s loginState, now time.Time) loginState {
	if p.forgotten(s, now) {
		s = loginState{}
	}
	s.Failures++
	s.Last = now
	if over := s.Failures - p.Threshold; over >= 0 {
		s.Until = now.Add(p.refusal(over))
	}
	return s
}

// refusal is how long attempts are refused after the threshold and over
// failures more.
func (p loginPolicy) refusal(over int) time.Duration {
	d := p.Base
	for ; over > 0 && d < p.Max; over-- {
		d *= 2
	}
	return min(d, p.Max)
}

// loginKey is a client address, and a user name or "" for the address as
// a whole.
type loginKey struct{ user, addr string }

// loginLimiter keeps the state of at most max keys; when full, the one
// whose last failure is oldest is dropped. It takes the time from its
// caller.
type loginLimiter struct {
	user, addr loginPolicy
	max        int

	mu      sync.Mutex
	entries map[loginKey]*list.Element
	// order holds *loginEntry, least recent failure first.
	order list.List
}

type loginEntry struct {
	key   loginKey
	state loginState
}

// Login limits: five wrong passwords for one user from one address, or
// twenty for any users from one address, then a refusal of a second that
// doubles with each further failure up to five minutes; forgotten after a
// quarter of an hour without failure. Up to 10,000 keys (about 2 MB).
func newLoginLimiter() *loginLimiter {
	base, top, quiet := time.Second, 5*time.Minute, 15*time.Minute
	return &loginLimiter{
		user: loginPolicy{Threshold: 5, Base: base, Max: top, Quiet: quiet},
		addr: loginPolicy{Threshold: 20, Base: base, Max: top, Quiet: quiet},
		max:  10_000,
	}
}

func (l *loginLimiter) policy(k loginKey) loginPolicy {
	if k.user == "" {
		return l.addr
	}
	return l.user
}

func (l *loginLimiter) state(k loginKey) loginState {
	if e, ok := l.entries[k]; ok {
		return e.Value.(*loginEntry).state
	}
	return loginState{}
}

// check is the refusal of an attempt of user from addr at now, or nil.
func (l *loginLimiter) check(user, addr string, now time.Time) *apiError {
	l.mu.Lock()
	defer l.mu.Unlock()
	pair, all := loginKey{user, addr}, loginKey{"", addr}
	return tooManyLogins(user, l.user.wait(l.state(pair), now), l.addr.wait(l.state(all), now))
}

// failed counts a failed login of user from addr at now.
func (l *loginLimiter) failed(user, addr string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.entries == nil {
		l.entries = map[loginKey]*list.Element{}
	}
	l.forgetOld(now)
	for _, k := range []loginKey{{user, addr}, {"", addr}} {
		s := l.policy(k).failed(l.state(k), now)
		if e, ok := l.entries[k]; ok {
			e.Value.(*loginEntry).state = s
			l.order.MoveToBack(e)
			continue
		}
		if len(l.entries) >= l.max {
			l.drop(l.order.Front())
		}
		l.entries[k] = l.order.PushBack(&loginEntry{key: k, state: s})
	}
}

// succeeded forgets the failures of user from addr; those of the address
// stay, or one account of its own would let an attacker clear them.
func (l *loginLimiter) succeeded(user, addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.entries[loginKey{user, addr}]; ok {
		l.drop(e)
	}
}

// forgetOld drops the keys whose failures are forgiven, oldest first.
func (l *loginLimiter) forgetOld(now time.Time) {
	for e := l.order.Front(); e != nil; e = l.order.Front() {
		le := e.Value.(*loginEntry)
		if !l.policy(le.key).forgotten(le.state, now) {
			return
		}
		l.drop(e)
	}
}

func (l *loginLimiter) drop(e *list.Element) {
	delete(l.entries, e.Value.(*loginEntry).key)
	l.order.Remove(e)
}

// tooManyLogins is the refusal of a login attempt for user (as
// attemptedName shows it) while its key waits userWait and its address
// addrWait; nil when neither waits. It reads the same whether the user
// exists.
func tooManyLogins(user string, userWait, addrWait time.Duration) *apiError {
	wait, whose := userWait, "for pgo user "+user+" "
	if addrWait >= userWait {
		wait, whose = addrWait, ""
	}
	if wait <= 0 {
		return nil
	}
	secs := int((wait + time.Second - 1) / time.Second)
	e := newError(http.StatusTooManyRequests, pgoapi.ReasonTooManyRequests,
		"too many failed logins %sfrom this address; try again in %ds", whose, secs)
	e.retryAfter = secs
	return e
}

// clientAddress is the address failed logins are counted by: the host of
// an http.Request's RemoteAddr, an IPv6 address cut to its /64 (one
// client may hold all of it).
func clientAddress(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// checkTurns lets one password check at a time run per client address, so
// that one address holds at most one of the hashSlots and others' logins
// do not queue behind its burst.
type checkTurns struct {
	mu sync.Mutex
	m  map[string]*checkTurn
}

type checkTurn struct {
	token chan struct{}
	// users counts those holding or awaiting the turn; at 0 it is dropped,
	// so the map holds only addresses with logins under way.
	users int
}

// take waits for addr's turn; release gives it back.
func (t *checkTurns) take(ctx context.Context, addr string) (release func(), err error) {
	t.mu.Lock()
	if t.m == nil {
		t.m = map[string]*checkTurn{}
	}
	turn := t.m[addr]
	if turn == nil {
		turn = &checkTurn{token: make(chan struct{}, 1)}
		t.m[addr] = turn
	}
	turn.users++
	t.mu.Unlock()

	leave := func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		if turn.users--; turn.users == 0 {
			delete(t.m, addr)
		}
	}
	select {
	case turn.token <- struct{}{}:
		return func() { <-turn.token; leave() }, nil
	case <-ctx.Done():
		leave()
		return nil, ctx.Err()
	}
}
