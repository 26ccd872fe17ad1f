package instance

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"pgo.dev/pgo/internal/ha"
	"pgo.dev/pgo/internal/instanceapi"
	"pgo.dev/pgo/internal/postgres"
)

// Status is what GET /status answers (the contract's type).
type Status = instanceapi.Status

// fetchStatus asks a member's REST API for its status.
func fetchStatus(ctx context.Context, client *http.Client, apiURL string) (Status, error) {
	var st Status
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(apiURL, "/")+instanceapi.PathStatus, nil)
	if err != nil {
		return st, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("GET %s/status: %s", apiURL, resp.Status)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// status is this member's state now: PostgreSQL is asked again (within a
// second), so that elections compare live WAL positions.
func (m *Manager) status(ctx context.Context) Status {
	return m.statusOf(ctx, true)
}

// probeStatus is what the health checks (Kubernetes' probes, load
// balancers) are answered from: the loop's last observation, and whether the
// postmaster still runs. It queries nothing, so that frequent checks cost
// PostgreSQL nothing and a slow server does not make them time out.
func (m *Manager) probeStatus() Status {
	return m.statusOf(context.Background(), false)
}

func (m *Manager) statusOf(ctx context.Context, live bool) Status {
	m.mu.Lock()
	p, c, d, loopAt, upstream, syncSince := m.observed, m.cluster, m.decision, m.loopAt, m.upstream, m.syncSince
	reachable := m.dcsReachable
	m.mu.Unlock()
	switch {
	case !m.pg.Process().Alive:
		p.Running = false
	case live:
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		st, err := m.pg.Status(ctx, syncSince)
		cancel()
		if err == nil {
			p.Running, p.InRecovery, p.Timeline, p.WAL, p.Streaming = true, st.InRecovery, st.Timeline, st.WAL, st.Streaming
		} else {
			p.Running = false
		}
	}
	ms := m.memberStatusOf(p)
	now := time.Now()
	// The lock as last written or watched, which an acquisition makes newer
	// than the loop's last reading.
	c.Lock = m.dcs.Lock()
	return Status{
		Name: m.opts.Name, Role: ms.Role, State: ms.State, Running: p.Running, Timeline: p.Timeline,
		WAL: uint64(p.WAL), WALLSN: postgres.FormatLSN(p.WAL), Streaming: p.Streaming, Upstream: upstream,
		Leader: holderAt(c.Lock, now), IsLeader: holderAt(c.Lock, now) == m.opts.Name, Tags: m.tags(),
		PendingRestart: ms.PendingRestart, KeptData: ms.KeptData, Problem: ms.Problem, Paused: c.Config.Paused, DCSReachable: reachable, Message: d.Message,
		LoopAt: loopAt.UTC().Format(time.RFC3339Nano),
	}
}

func holderAt(l ha.Lock, now time.Time) string {
	if l.HeldAt(now) {
		return l.Holder
	}
	return ""
}

// serveAPI starts the REST API, with Patroni's paths and status codes.
func (m *Manager) serveAPI() (*http.Server, error) {
	mux := http.NewServeMux()
	get := func(path string, h http.HandlerFunc) { mux.HandleFunc("GET "+path, h) }
	handleHealth(mux, m.health)
	get(instanceapi.PathHistory, m.history)
	get(instanceapi.PathStatus, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, m.status(r.Context())) })
	get(instanceapi.PathPatroni, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, m.status(r.Context())) })

	registry := prometheus.NewRegistry()
	registry.MustRegister(&collector{m: m})
	mux.Handle("GET "+instanceapi.PathMetrics, promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))

	post := func(path string, h http.HandlerFunc) { mux.HandleFunc("POST "+path, m.authorized(h)) }
	post(instanceapi.PathSwitchover, m.postSwitchover)
	post(instanceapi.PathFailover, m.postFailover)
	post(instanceapi.PathRestart, m.postRestart)
	post(instanceapi.PathReinitialize, m.postReinitialize)
	post(instanceapi.PathReload, m.postReload)

	ln, err := net.Listen("tcp", m.opts.APIAddress)
	if err != nil {
		return nil, fmt.Errorf("listening on %s for the REST API: %w", m.opts.APIAddress, err)
	}
	// The write timeout leaves room for the slowest POST: a restart (a
	// fast then immediate shutdown, up to 40 s, and a start, up to 60 s)
	// and a switchover (90 s).
	// Over TLS, with the cluster's server certificate, read again when the
	// operator renews it.
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 2 * time.Minute, IdleTimeout: time.Minute,
		TLSConfig: &tls.Config{GetCertificate: m.apiCert.GetCertificate, MinVersion: tls.VersionTLS12}}
	if _, err := m.apiCert.Current(); err != nil {
		_ = ln.Close()
		return nil, err
	}
	go func() {
		if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.log.Error(err, "the REST API stopped")
		}
	}()
	return srv, nil
}

// health is this member's state as the health checks see it, from the HA
// loop's last observation: the checks query nothing.
func (m *Manager) health() (instanceapi.Health, Status) {
	st := m.probeStatus()
	m.mu.Lock()
	c, replayed, known, loopAt := m.cluster, m.observed.Replayed, m.dcsReachable, m.loopAt
	m.mu.Unlock()
	busy := m.busy.Load()
	tags := map[string]string{"nofailover": strconv.FormatBool(st.Tags.NoFailover()), "nosync": strconv.FormatBool(st.Tags.NoSync)}
	for k, v := range m.opts.Tags {
		tags[k] = v
	}
	role := st.Role
	if !st.Running && m.pg.Process().Alive {
		// Starting or not answering: the role it last had.
		role = ha.RolePrimary
		if m.pg.IsStandby() {
			role = ha.RoleReplica
		}
	}
	return instanceapi.Health{
		Leader: st.IsLeader, Role: role, Running: st.Running, Streaming: st.Streaming,
		ClusterKnown: known, Paused: c.Config.Paused,
		SyncStandby:  c.Config.SynchronousMode && c.Sync.Has(m.opts.Name),
		LeaderOptime: uint64(c.Lock.Optime), Replayed: uint64(replayed), Tags: tags,
		// The loop ran recently, so the manager is not stuck.
		Live: c.Config.Paused || busy || time.Since(loopAt) <= max(c.Config.TTL, 3*c.Config.LoopWait)+c.Config.RetryTimeout,
	}, st
}

// handleHealth routes the health checks to healthHandler. They answer
// GET, HEAD and OPTIONS (HAProxy's `option httpchk` sends OPTIONS), as
// Patroni's do.
func handleHealth(mux *http.ServeMux, state func() (instanceapi.Health, Status)) {
	health := healthHandler(state)
	for _, path := range append(instanceapi.RoleChecks, instanceapi.PathReadiness, instanceapi.PathLiveness) {
		if path == instanceapi.PathRoot {
			path = "/{$}"
		}
		mux.Handle(path, health)
	}
}

// newHealthMux serves the health checks alone.
func newHealthMux(state func() (instanceapi.Health, Status)) *http.ServeMux {
	mux := http.NewServeMux()
	handleHealth(mux, state)
	return mux
}

// healthHandler answers the health checks from state: to GET with the
// member's status, to HEAD and OPTIONS with the code only.
func healthHandler(state func() (instanceapi.Health, Status)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			w.Header().Set("Allow", "GET, HEAD, OPTIONS")
			writeError(w, http.StatusMethodNotAllowed, r.Method+" "+r.URL.Path+": a health check answers GET, HEAD and OPTIONS")
			return
		}
		h, st := state()
		code, known := instanceapi.HealthCode(r.URL.Path, r.URL.Query(), h)
		if !known {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet {
			w.Header().Set("Content-Length", "0")
			w.WriteHeader(code)
			return
		}
		writeJSON(w, code, st)
	})
}

// history answers the timeline history of this member's current timeline,
// which replicas compare their position with to know whether they diverged.
func (m *Manager) history(w http.ResponseWriter, _ *http.Request) {
	m.mu.Lock()
	tl := m.observed.Timeline
	m.mu.Unlock()
	h, err := m.pg.History(tl)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, h)
}

// authorized lets a POST through with the REST API's credentials only.
func (m *Manager) authorized(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if m.apiPwd == "" {
			writeError(w, http.StatusForbidden, "changes through the REST API are off: the manager has no --api-password-file")
			return
		}
		user, pwd, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(user), []byte(m.opts.APIUser)) != 1 ||
			subtle.ConstantTimeCompare([]byte(pwd), []byte(m.apiPwd)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="pgo instance manager"`)
			writeError(w, http.StatusUnauthorized, "authentication required")
			return
		}
		h(w, r)
	}
}

func (m *Manager) postSwitchover(w http.ResponseWriter, r *http.Request) {
	m.requestFailover(w, r, true)
}

func (m *Manager) postFailover(w http.ResponseWriter, r *http.Request) {
	m.requestFailover(w, r, false)
}

// requestFailover validates a switchover or failover, records it in the DCS
// and waits (unless scheduled) for the leader lock to move.
func (m *Manager) requestFailover(w http.ResponseWriter, r *http.Request, switchover bool) {
	var body instanceapi.FailoverRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, "the body is not JSON like {\"leader\": ..., \"candidate\": ...}: "+err.Error())
		return
	}
	m.mu.Lock()
	c := m.cluster
	m.mu.Unlock()
	leader := m.dcs.Holder()
	req := ha.FailoverRequest{Present: true, Leader: body.Leader, Candidate: body.Candidate, Force: body.Force}
	switch {
	case switchover && body.Leader == "":
		writeError(w, http.StatusBadRequest, "a switchover needs the current leader in \"leader\"")
		return
	case switchover && body.Leader != leader:
		writeError(w, http.StatusPreconditionFailed, fmt.Sprintf("leader %q does not hold the lock (%q does)", body.Leader, leader))
		return
	case !switchover && body.Candidate == "":
		writeError(w, http.StatusBadRequest, "a failover needs a \"candidate\"")
		return
	case body.Candidate != "" && body.Candidate == leader:
		writeError(w, http.StatusPreconditionFailed, fmt.Sprintf("%s is already the leader", body.Candidate))
		return
	}
	if _, ok := c.Members[body.Candidate]; body.Candidate != "" && !ok {
		// The last loop's read may predate a member that just started: read
		// again before refusing it.
		fresh, err := m.dcs.Observe(r.Context())
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, err.Error())
			return
		}
		if _, ok := fresh.Members[body.Candidate]; !ok {
			writeError(w, http.StatusPreconditionFailed, fmt.Sprintf("candidate %q is not a member of the cluster: it has not published its state (is it running?)", body.Candidate))
			return
		}
	}
	if c.Config.SynchronousMode && body.Candidate != "" && !c.Sync.Has(body.Candidate) {
		writeError(w, http.StatusPreconditionFailed, fmt.Sprintf("candidate %q is not a synchronous standby", body.Candidate))
		return
	}
	if body.ScheduledAt != "" {
		if !switchover {
			writeError(w, http.StatusBadRequest, "a failover happens at once; only a switchover can be scheduled")
			return
		}
		at, err := time.Parse(time.RFC3339, body.ScheduledAt)
		if err != nil || !at.After(time.Now()) {
			writeError(w, http.StatusUnprocessableEntity, "scheduled_at must be a time in the future, such as 2026-12-01T03:00:00Z")
			return
		}
		req.ScheduledAt = at
	}
	if err := m.dcs.RequestFailover(r.Context(), req); err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	if !req.ScheduledAt.IsZero() {
		writeJSON(w, http.StatusAccepted, instanceapi.Reply{Message: "switchover scheduled at " + req.ScheduledAt.UTC().Format(time.RFC3339)})
		return
	}
	// Room for a slow hand-over: a fast shutdown (up to 30 s), then an
	// immediate one (10 s), the wait for the candidate, and a start.
	const wait = 90 * time.Second
	deadline := time.Now().Add(wait)
	for n := 0; time.Now().Before(deadline); n++ {
		if h := m.dcs.Holder(); h != "" && h != leader && (body.Candidate == "" || h == body.Candidate) {
			writeJSON(w, http.StatusOK, instanceapi.Reply{Message: "switched over to " + h, Leader: h})
			return
		}
		// The leader clears a request it refuses, and says why (read
		// every half second).
		if n%10 == 9 {
			if c, err := m.dcs.Observe(r.Context()); err == nil && !c.Failover.Present && c.Failover.Refused != "" && m.dcs.Holder() == leader {
				writeError(w, http.StatusPreconditionFailed, c.Failover.Refused)
				return
			}
		}
		select {
		case <-r.Context().Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
	writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("the leader did not change within %s; see the members' /status", wait))
}

// inLoop runs an operation in the HA loop, so that it does not race it.
func (m *Manager) inLoop(ctx context.Context, run func(ctx context.Context) error) error {
	req := request{run: run, done: make(chan error, 1)}
	select {
	case m.requests <- req:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (m *Manager) postRestart(w http.ResponseWriter, r *http.Request) {
	err := m.inLoop(r.Context(), func(ctx context.Context) error {
		m.mu.Lock()
		standby, upstream := m.observed.InRecovery, m.upstream
		m.mu.Unlock()
		if err := m.pg.Stop(ctx, 30*time.Second); err != nil {
			return err
		}
		if err := m.setRole(standby, upstream); err != nil {
			return err
		}
		if err := m.pg.Start(); err != nil {
			return err
		}
		return m.pg.WaitReady(ctx, startTimeout)
	})
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "restart failed: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, instanceapi.Reply{Message: "restarted"})
}

func (m *Manager) postReinitialize(w http.ResponseWriter, r *http.Request) {
	leader := m.dcs.Holder()
	if leader == "" || leader == m.opts.Name {
		writeError(w, http.StatusServiceUnavailable, "only a replica of a running leader can be reinitialized")
		return
	}
	if err := m.inLoop(r.Context(), func(ctx context.Context) error { return m.clone(ctx, leader) }); err != nil {
		writeError(w, http.StatusServiceUnavailable, "reinitialize failed: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, instanceapi.Reply{Message: "reinitialized from " + leader})
}

func (m *Manager) postReload(w http.ResponseWriter, r *http.Request) {
	err := m.inLoop(r.Context(), func(ctx context.Context) error {
		if _, err := m.dcs.Observe(ctx); err != nil {
			return err
		}
		m.mu.Lock()
		standby, upstream := m.observed.InRecovery, m.upstream
		m.mu.Unlock()
		if err := m.setRole(standby, upstream); err != nil {
			return err
		}
		return m.pg.Reload(ctx)
	})
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "reload failed: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, instanceapi.Reply{Message: "reloaded"})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, instanceapi.Reply{Error: msg})
}
