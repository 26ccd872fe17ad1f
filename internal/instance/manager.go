package instance

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/kubernetes"

	"pgo.dev/pgo/internal/dcs"
	"pgo.dev/pgo/internal/ha"
	"pgo.dev/pgo/internal/instanceapi"
	"pgo.dev/pgo/internal/naming"
	"pgo.dev/pgo/internal/pgbackrest"
	"pgo.dev/pgo/internal/pki"
	"pgo.dev/pgo/internal/postgres"
)

// Manager is one instance manager.
type Manager struct {
	opts Options
	log  logr.Logger
	dcs  *dcs.Kubernetes
	pg   *postgres.Instance
	// apiCert is the REST API's certificate; peers the clients of the
	// other members' APIs, by name.
	apiCert   *pki.KeyPairFiles
	peersMu   sync.Mutex
	peers     map[string]*http.Client
	clusterCA []byte
	apiPwd    string
	// clientCA is the file of the CAs whose client certificates
	// PostgreSQL accepts; verify the sslmode members connect to each
	// other with.
	clientCA, verify string
	appPwd           string

	// busy is set while a long action (bootstrap, clone, rewind) runs, so
	// that the liveness check does not kill the pod in the middle of it.
	busy atomic.Bool

	// requests are operations the REST API asks the loop to run.
	requests chan request

	mu sync.Mutex // guards the fields below, read by the REST API
	// state of the loop
	cluster      ha.Cluster
	dcsReachable bool
	// lastSeen is when each member was last seen in the cluster (the
	// HA loop's only).
	lastSeen     map[string]time.Time
	observed     ha.Postgres
	decision     ha.Decision
	loopAt       time.Time
	upstream     string
	ssn          []string
	syncSince    ha.LSN
	systemID     uint64
	promotions   int
	notStreaming time.Time
	hbaMethod    string // the password method pg_hba.conf was last written with
	tlsFiles     string // pki.Stamp of PostgreSQL's TLS files when last loaded
	published    dcs.MemberStatus
	publishedAt  time.Time
	// answeredRun is the start time of the postmaster run that last
	// answered a status query; failingSince is when the queries of that
	// run began to fail (zero while they answer).
	answeredRun, failingSince time.Time
	// problem is what keeps the member from going on, for its status.
	problem string
	// archiver is the primary's pg_stat_archiver, and archiveFailing
	// since when it fails (nil while it does not).
	archiver       *postgres.Archiver
	archiveFailing *time.Time
	// volumes are how full the data and WAL volumes are (percent).
	volumes map[string]int32
	// streamedTL is the latest timeline this standby received by
	// streaming: once its WAL receiver stops, pg_stat_wal_receiver no
	// longer says, and the checkpoint's timeline can be older.
	streamedTL int64
}

func (m *Manager) setProblem(p string) {
	m.mu.Lock()
	m.problem = p
	m.mu.Unlock()
}

type request struct {
	run  func(ctx context.Context) error
	done chan error
}

// New prepares a manager: it reads the passwords and writes the password
// file PostgreSQL's tools use.
func New(opts Options, client kubernetes.Interface, log logr.Logger, output io.Writer) (*Manager, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	superPwd, err := readSecret(opts.SuperuserPasswordFile, "superuser password")
	if err != nil {
		return nil, err
	}
	var apiPwd, appPwd string
	if opts.AppUser != "" {
		if appPwd, err = readSecret(opts.AppPasswordFile, "application user's password"); err != nil {
			return nil, err
		}
	}
	if opts.APIPasswordFile != "" {
		if apiPwd, err = readSecret(opts.APIPasswordFile, "REST API password"); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(opts.SocketDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the socket directory: %w", err)
	}
	passfile := filepath.Join(opts.SocketDir, ".pgpass")
	content := postgres.Passfile(map[string]string{postgres.SuperUser: superPwd})
	if err := os.WriteFile(passfile, []byte(content), 0o600); err != nil {
		return nil, fmt.Errorf("writing the password file: %w", err)
	}
	clientCA, verify, err := trust(opts)
	if err != nil {
		return nil, err
	}
	clusterCAPEM, err := os.ReadFile(opts.ClusterCAFile)
	if err != nil {
		return nil, fmt.Errorf("reading the cluster's CA: %w", err)
	}
	m := &Manager{
		opts: opts,
		log:  log,
		dcs:  &dcs.Kubernetes{Client: client, Namespace: opts.Namespace, Cluster: opts.Cluster, Member: opts.Name},
		pg: &postgres.Instance{
			BinDir: opts.BinDir, DataDir: opts.DataDir, WALDir: opts.WALDir, SocketDir: opts.SocketDir, Port: opts.Port,
			Passfile: passfile, SuperuserPassword: superPwd, Output: output,
		},
		apiCert:   &pki.KeyPairFiles{CertFile: opts.APICertFile, KeyFile: opts.APIKeyFile},
		peers:     map[string]*http.Client{},
		clusterCA: clusterCAPEM,
		apiPwd:    apiPwd,
		clientCA:  clientCA,
		verify:    verify,
		appPwd:    appPwd,
		requests:  make(chan request),
		cluster:   ha.Cluster{Config: ha.DefaultConfig()},
	}
	m.tlsFiles = m.tlsFileStamp()
	return m, nil
}

func (m *Manager) tags() ha.Tags {
	return ha.Tags{FailoverPriority: m.opts.FailoverPriority, NoSync: m.opts.NoSync}
}

// Run runs the manager until ctx ends, then shuts PostgreSQL down and, as
// leader, hands the lock over.
func (m *Manager) Run(ctx context.Context) error {
	if err := os.MkdirAll(m.opts.DataDir, 0o700); err != nil {
		return fmt.Errorf("creating the data directory: %w", err)
	}
	if err := m.pg.StopOrphan(ctx); err != nil {
		return err
	}
	api, err := m.serveAPI()
	if err != nil {
		return err
	}
	defer func() { _ = api.Close() }()

	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go m.dcs.Watch(watchCtx)
	go m.manageRoles(watchCtx)
	changes := m.dcs.Changes()

	m.log.Info("starting", "cluster", m.opts.Cluster, "member", m.opts.Name, "dataDir", m.opts.DataDir)
	for {
		next := m.runOnce(ctx)
		timer := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			timer.Stop()
			return m.shutdown()
		case <-timer.C:
		case <-changes:
			timer.Stop()
		case req := <-m.requests:
			timer.Stop()
			req.done <- m.runRequest(ctx, req)
		}
	}
}

// runRequest runs an operation the REST API asked for. A leader that the
// last run of the loop kept leading keeps its lock renewed meanwhile: a
// restart must not hand the cluster to a replica.
func (m *Manager) runRequest(ctx context.Context, req request) error {
	m.mu.Lock()
	d, cfg, observed := m.decision, m.cluster.Config, m.observed
	m.mu.Unlock()
	if m.dcs.Holder() == m.opts.Name && keepsLock(d) {
		defer m.keepLock(ctx, cfg, observed.WAL, observed.Timeline)()
	}
	return req.run(ctx)
}

// retry runs f until it succeeds or the retry timeout passes.
func (m *Manager) retry(ctx context.Context, timeout time.Duration, f func(ctx context.Context) error) error {
	deadline := time.Now().Add(timeout)
	for {
		attempt, cancel := context.WithTimeout(ctx, min(time.Until(deadline), 5*time.Second))
		err := f(attempt)
		cancel()
		if err == nil || errors.Is(err, dcs.ErrLockLost) || ctx.Err() != nil || time.Until(deadline) <= 0 {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(min(500*time.Millisecond, time.Until(deadline))):
		}
	}
}

// runOnce is one run of the HA loop; it returns when to run again.
func (m *Manager) runOnce(ctx context.Context) time.Time {
	m.mu.Lock()
	cfg := m.cluster.Config
	m.mu.Unlock()
	m.reloadCertificates(ctx)

	var cluster ha.Cluster
	err := m.retry(ctx, cfg.RetryTimeout, func(ctx context.Context) error {
		var err error
		cluster, err = m.dcs.Observe(ctx)
		return err
	})
	if ctx.Err() != nil {
		return time.Now()
	}
	reachable := err == nil
	m.mu.Lock()
	if reachable {
		m.cluster = cluster
	} else {
		m.log.Error(err, "the DCS is unreachable")
		cluster = m.cluster
	}
	m.dcsReachable = reachable
	cfg = cluster.Config
	m.mu.Unlock()

	o := ha.Observed{
		Now:          time.Now(),
		Name:         m.opts.Name,
		Tags:         m.tags(),
		DCSReachable: reachable,
		Cluster:      cluster,
		Postgres:     m.observePostgres(ctx),
	}
	if reachable {
		o.Departed = m.departed(cluster, o.Now)
	}
	m.setObserved(o.Postgres)
	if ha.NeedPeers(o) {
		o.Peers = m.fetchPeers(ctx, cluster.Members)
	}
	if ha.NeedLeaderHistory(o) {
		o.LeaderHistory = m.fetchHistory(ctx, cluster.Members[cluster.Lock.Holder])
	}
	d := ha.Decide(o)

	m.mu.Lock()
	if d.Message != m.decision.Message {
		m.log.Info(d.Message, "actions", fmt.Sprint(d.Actions))
	}
	m.decision, m.loopAt = d, time.Now()
	m.mu.Unlock()

	done, failed := m.carryOut(ctx, o, d)
	if errors.Is(failed, errLockNotRenewed) {
		// The lock could not be renewed within retry_timeout: decide at
		// once as without the DCS, which demotes a primary.
		reachable = false
		m.mu.Lock()
		m.dcsReachable = false
		m.mu.Unlock()
		o.DCSReachable, o.Postgres = false, m.observePostgres(ctx)
		d = ha.Decide(o)
		m.log.Error(failed, "could not renew the leader lock within retry_timeout", "decision", d.Message)
		if _, err := m.carryOut(ctx, o, d); err != nil {
			m.log.Error(err, "demoting")
		}
		m.dcs.ForgetRole()
	}
	if len(d.Actions) > 0 {
		m.setObserved(m.observePostgres(ctx))
	}
	m.observeArchiver(ctx)
	m.observeVolumes()
	if reachable {
		m.publish(ctx)
	}

	m.mu.Lock()
	starting := m.observed.Starting
	m.mu.Unlock()
	return ha.NextRun(time.Now(), o, done, failed != nil, starting)
}

// carryOut runs a decision's actions in order until one fails; it returns
// the actions done and the failure. A decision that keeps the lock has it
// renewed in the background from the moment it holds it.
func (m *Manager) carryOut(ctx context.Context, o ha.Observed, d ha.Decision) ([]ha.Action, error) {
	stopKeeping := func() {}
	defer func() { stopKeeping() }()
	for n, a := range d.Actions {
		if err := m.execute(ctx, o, a); err != nil {
			m.log.Error(err, "action failed", "action", a.String())
			return d.Actions[:n], err
		}
		if (a.Kind == ha.RenewLock || a.Kind == ha.AcquireLock) && keepsLock(d) {
			// The lock is ours: keep it while the next actions run.
			stopKeeping()
			stopKeeping = m.keepLock(ctx, o.Cluster.Config, o.Postgres.WAL, o.Postgres.Timeline)
		}
	}
	return d.Actions, nil
}

// observePostgres is what the member knows of its PostgreSQL now.
func (m *Manager) observePostgres(ctx context.Context) ha.Postgres {
	m.mu.Lock()
	upstream, syncSince, systemID := m.upstream, m.syncSince, m.systemID
	m.mu.Unlock()

	if !m.pg.HasData() {
		return ha.Postgres{DataDir: ha.DataEmpty}
	}
	p := ha.Postgres{DataDir: ha.DataValid, SystemID: systemID, Upstream: upstream}
	if systemID == 0 {
		if cd, err := m.pg.ControlData(ctx); err == nil {
			p.SystemID = cd.SystemID
			m.mu.Lock()
			m.systemID = cd.SystemID
			m.mu.Unlock()
		}
	}
	proc := m.pg.Process()
	if proc.Alive {
		qctx, cancel := context.WithTimeout(ctx, m.sqlTimeout())
		st, err := m.pg.Status(qctx, syncSince)
		cancel()
		if err != nil {
			m.mu.Lock()
			answered, last := m.answeredRun.Equal(proc.StartedAt), m.observed
			if answered && m.failingSince.IsZero() {
				m.failingSince = time.Now()
				m.log.Error(err, "PostgreSQL does not answer its status query")
			}
			since := m.failingSince
			m.mu.Unlock()
			if answered {
				// It ran and answered: a failing query is not a start.
				last.Running, last.Unresponsive, last.UnresponsiveSince = false, true, since
				last.Starting, last.Replicas = false, nil
				return last
			}
			p.Starting, p.StartedAt, p.InRecovery = true, proc.StartedAt, m.pg.IsStandby()
			if cd, err := m.pg.ControlData(ctx); err == nil {
				p.Timeline = max(cd.Timeline, cd.MinRecoveryTL)
			}
			return p
		}
		p.Running, p.InRecovery, p.Timeline, p.WAL, p.Replayed = true, st.InRecovery, st.Timeline, st.WAL, st.Replayed
		p.Streaming, p.SynchronousStandbyNames, p.Replicas = st.Streaming, st.SynchronousStandbyNames, st.Replicas
		m.mu.Lock()
		if !m.failingSince.IsZero() {
			m.log.Info("PostgreSQL answers again", "after", time.Since(m.failingSince).Round(time.Millisecond).String())
		}
		m.answeredRun, m.failingSince = proc.StartedAt, time.Time{}
		if p.InRecovery {
			if p.Streaming {
				m.streamedTL = max(m.streamedTL, p.Timeline)
			}
			p.Timeline = max(p.Timeline, m.streamedTL)
		}
		m.notStreaming = ha.NotStreamingSince(m.notStreaming, time.Now(), p)
		p.NotStreamingSince = m.notStreaming
		m.mu.Unlock()
		return p
	}
	p.InRecovery = m.pg.IsStandby()
	if cd, err := m.pg.ControlData(ctx); err == nil {
		p.Timeline, p.WAL = max(cd.Timeline, cd.MinRecoveryTL), max(cd.Checkpoint, cd.MinRecovery)
	}
	return p
}

// sqlTimeout bounds each SQL call of the loop: well below loop_wait, so
// that a server that does not answer never holds the loop (and the lock's
// renewal) up.
func (m *Manager) sqlTimeout() time.Duration {
	m.mu.Lock()
	loopWait := m.cluster.Config.LoopWait
	m.mu.Unlock()
	return min(max(loopWait/3, time.Second), 5*time.Second)
}

// fetchHistory asks the leader for its timeline history; nil when it does
// not answer.
func (m *Manager) fetchHistory(ctx context.Context, leader ha.Member) []ha.TimelineSwitch {
	if leader.APIURL == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(leader.APIURL, "/")+instanceapi.PathHistory, nil)
	if err != nil {
		return nil
	}
	resp, err := m.peer(leader.Name).Do(req)
	if err != nil {
		m.log.Info("the leader does not answer for its timeline history", "leader", leader.Name, "error", err.Error())
		return nil
	}
	defer resp.Body.Close()
	history := []ha.TimelineSwitch{}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&history) != nil {
		return nil
	}
	return history
}

// peer is the client of another member's REST API: TLS checked against
// the cluster's CA, under the member's name.
func (m *Manager) peer(name string) *http.Client {
	m.peersMu.Lock()
	defer m.peersMu.Unlock()
	if c, ok := m.peers[name]; ok {
		return c
	}
	c, err := instanceapi.Client(m.clusterCA, instanceapi.ServerName(name, m.opts.Cluster, m.opts.Namespace), 2*time.Second)
	if err != nil {
		// New checked the CA; a client that refuses every call is safe.
		c = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: x509.NewCertPool(), MinVersion: tls.VersionTLS12}}}
	}
	m.peers[name] = c
	return c
}

// fetchPeers asks the other members for their live status.
func (m *Manager) fetchPeers(ctx context.Context, members map[string]ha.Member) []ha.Peer {
	var wg sync.WaitGroup
	out := make(chan ha.Peer, len(members))
	for name, member := range members {
		if name == m.opts.Name || member.APIURL == "" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := fetchStatus(ctx, m.peer(name), member.APIURL)
			if err != nil {
				out <- ha.Peer{Name: name}
				return
			}
			out <- ha.Peer{Name: name, Reachable: true, Running: st.Running, Primary: st.Running && st.Role == ha.RolePrimary,
				WAL: ha.LSN(st.WAL), Timeline: st.Timeline, Tags: st.Tags}
		}()
	}
	wg.Wait()
	close(out)
	var peers []ha.Peer
	for p := range out {
		peers = append(peers, p)
	}
	return peers
}

// departed records when each member was last seen in the cluster, and
// answers those no longer in it, forgetting those gone for longer than
// member_slots_ttl.
func (m *Manager) departed(c ha.Cluster, now time.Time) map[string]time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lastSeen == nil {
		m.lastSeen = map[string]time.Time{}
	}
	for name := range c.Members {
		m.lastSeen[name] = now
	}
	gone := map[string]time.Time{}
	for name, seen := range m.lastSeen {
		switch {
		case now.Sub(seen) >= c.Config.MemberSlotsTTL:
			delete(m.lastSeen, name)
		case seen.Before(now):
			gone[name] = seen
		}
	}
	return gone
}

// publish writes this member's state to its pod.
// publish writes the member's state on its pod when it changed, and once
// per ttl otherwise, as a heartbeat: an idle cluster costs the API server
// its leader's renewals and these heartbeats only.
func (m *Manager) publish(ctx context.Context) {
	st := m.memberStatus()
	now := time.Now()
	m.mu.Lock()
	ttl, last, at := m.cluster.Config.TTL, m.published, m.publishedAt
	m.mu.Unlock()
	if !at.IsZero() && dcs.SameState(st, last) && now.Sub(at) < ttl {
		return
	}
	st.Heartbeat = now.UTC().Format(time.RFC3339)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := m.dcs.PublishMember(ctx, st); err != nil {
		m.log.Error(err, "publishing the member state")
		return
	}
	m.mu.Lock()
	m.published, m.publishedAt = st, now
	m.mu.Unlock()
}

// observeArchiver reads a running primary's pg_stat_archiver, when WAL is
// archived, and keeps since when archiving fails.
func (m *Manager) observeArchiver(ctx context.Context) {
	m.mu.Lock()
	p := m.observed
	m.mu.Unlock()
	if m.opts.Archive == "" || !p.Running || p.InRecovery || p.Unresponsive {
		m.mu.Lock()
		m.archiver, m.archiveFailing = nil, nil
		m.mu.Unlock()
		return
	}
	ctx, cancel := context.WithTimeout(ctx, m.sqlTimeout())
	defer cancel()
	a, err := m.pg.Archiver(ctx)
	if err != nil {
		m.log.Error(err, "reading the archiver's state")
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	was := m.archiveFailing
	m.archiver, m.archiveFailing = &a, postgres.FailingSince(m.archiveFailing, a, time.Now())
	if was == nil && m.archiveFailing != nil {
		m.log.Info("WAL archiving fails", "segment", a.LastFailed)
	} else if was != nil && m.archiveFailing == nil {
		m.log.Info("WAL archiving works again", "segment", a.LastArchived, "failedFor", time.Since(*was).Round(time.Second).String())
	}
}

// observeVolumes reads how full the data and WAL volumes are (statfs of
// the directories that hold the data directory and pg_wal).
func (m *Manager) observeVolumes() {
	dirs := map[string]string{"data": filepath.Dir(m.opts.DataDir)}
	if m.opts.WALDir != "" {
		dirs["wal"] = filepath.Dir(m.opts.WALDir)
	}
	out := map[string]int32{}
	for name, dir := range dirs {
		p, err := postgres.DiskUsage(dir)
		if err != nil {
			m.log.Error(err, "reading how full a volume is", "volume", name)
			continue
		}
		out[name] = p
	}
	m.mu.Lock()
	m.volumes = out
	m.mu.Unlock()
}

// archiveState is the archiver's state as the member publishes it.
func archiveState(a *postgres.Archiver, failing *time.Time) *dcs.ArchiveState {
	if a == nil {
		return nil
	}
	stamp := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	st := &dcs.ArchiveState{LastArchivedWAL: a.LastArchived, LastArchivedTime: stamp(a.LastArchivedTime),
		LastFailedWAL: a.LastFailed, LastFailedTime: stamp(a.LastFailedTime)}
	if failing != nil {
		st.FailingSince = stamp(*failing)
	}
	return st
}

func (m *Manager) memberStatus() dcs.MemberStatus {
	m.mu.Lock()
	p := m.observed
	m.mu.Unlock()
	return m.memberStatusOf(p)
}

func (m *Manager) memberStatusOf(p ha.Postgres) dcs.MemberStatus {
	st := dcs.MemberStatus{
		Running: p.Running, Timeline: p.Timeline, WAL: uint64(p.WAL),
		APIURL: instanceapi.URL(m.opts.APIAddress), ConnHost: m.opts.PodIP, ConnPort: m.opts.Port, Tags: m.tags(),
		KeptData: m.pg.Kept(), DataSource: m.pg.DataSource(),
	}
	m.mu.Lock()
	st.Problem = m.problem
	st.Archive = archiveState(m.archiver, m.archiveFailing)
	if len(m.volumes) > 0 {
		st.Volumes = maps.Clone(m.volumes)
	}
	m.mu.Unlock()
	switch {
	case p.DataDir == ha.DataEmpty:
		st.Role, st.State = ha.RoleUninitialized, "uninitialized"
	case p.Unresponsive && !p.InRecovery:
		st.Role, st.State = ha.RolePrimary, "unresponsive"
	case p.Unresponsive:
		st.Role, st.State = ha.RoleReplica, "unresponsive"
	case p.Running && !p.InRecovery:
		st.Role, st.State = ha.RolePrimary, "running"
	case p.Running:
		st.Role, st.State = ha.RoleReplica, "running"
		if p.Streaming {
			st.State = "streaming"
		}
	case p.Starting:
		st.Role, st.State = ha.RoleReplica, "starting"
	default:
		st.Role, st.State = ha.RoleStopped, "stopped"
	}
	return st
}

// settings renders PostgreSQL's configuration for a role.
func (m *Manager) writeConfig(standby bool, upstream string) error {
	dyn := m.dcs.Dynamic()
	m.mu.Lock()
	s := postgres.Settings{
		Member: m.opts.Name, ListenAddr: m.opts.PodIP, Port: m.opts.Port, SocketDir: m.opts.SocketDir,
		Standby: standby, PrimarySlot: postgres.SlotName(m.opts.Name),
		CertFile: m.opts.CertFile, KeyFile: m.opts.KeyFile, CAFile: m.clientCA,
		Parameters: dyn.PostgreSQL.Parameters,
	}
	if m.opts.Archive == instanceapi.ArchivePgBackRest {
		s.ArchiveCommand, s.RestoreCommand = postgres.PgBackRestArchiving(pgbackrest.Stanza)
	}
	if !standby {
		s.SynchronousStandbys = m.ssn
	}
	if upstream != "" {
		if u, ok := m.cluster.Members[upstream]; ok {
			s.PrimaryConnInfo = m.replicationConnInfo(u)
		}
	}
	m.hbaMethod = dyn.PostgreSQL.PasswordMethod
	m.mu.Unlock()
	return m.pg.WriteConfig(s, postgres.HBA(dyn.PostgreSQL.TLSOnly, dyn.PostgreSQL.PasswordMethod, dyn.PostgreSQL.PgHBA))
}

// connInfo is how this member connects to another as user: over TLS,
// checking the other's certificate against the CA that issued the
// PostgreSQL certificates, under its name in the cluster's pods domain
// (hostaddr skips the DNS lookup). The replication user logs in with the
// cluster's client certificate; the superuser (pg_rewind) with its
// password.
func (m *Manager) connInfo(member ha.Member, user, database string) string {
	params := map[string]string{
		"host": member.Name + "." + naming.PodsDomain(m.opts.Cluster, m.opts.Namespace), "hostaddr": member.ConnHost,
		"port": strconv.Itoa(member.ConnPort), "user": user, "dbname": database,
		"passfile": m.pg.Passfile, "application_name": m.opts.Name, "connect_timeout": "3",
		"sslmode": m.verify, "sslrootcert": m.opts.CAFile,
		"keepalives": "1", "keepalives_idle": "5", "keepalives_interval": "2", "keepalives_count": "3",
	}
	if user == postgres.ReplicationUser {
		params["sslcert"], params["sslkey"] = m.opts.ReplicationCertFile, m.opts.ReplicationKeyFile
	}
	return postgres.ConnInfo(params)
}

func (m *Manager) replicationConnInfo(member ha.Member) string {
	return m.connInfo(member, postgres.ReplicationUser, "")
}

// tlsFileStamp identifies the version of PostgreSQL's TLS files.
func (m *Manager) tlsFileStamp() string {
	return pki.Stamp(m.opts.CertFile, m.opts.KeyFile, m.opts.CAFile, m.opts.ClusterCAFile)
}

// reloadCertificates makes a running PostgreSQL read its certificate, key
// and CAs again once the operator renewed them: a reload, not a restart.
// (The REST API reads its own on the next handshake; libpq reads the
// replication certificate at each connection.)
func (m *Manager) reloadCertificates(ctx context.Context) {
	stamp := m.tlsFileStamp()
	m.mu.Lock()
	changed := stamp != m.tlsFiles
	m.mu.Unlock()
	if !changed {
		return
	}
	if _, _, err := trust(m.opts); err != nil {
		m.log.Error(err, "reading the renewed certificates")
		return
	}
	if m.pg.Process().Alive {
		qctx, cancel := context.WithTimeout(ctx, m.sqlTimeout())
		err := m.pg.Reload(qctx)
		cancel()
		if err != nil {
			m.log.Error(err, "reloading PostgreSQL for its renewed certificates")
			return
		}
		m.log.Info("PostgreSQL reloaded its renewed certificates")
	}
	m.mu.Lock()
	m.tlsFiles = stamp
	m.mu.Unlock()
}

// trust writes the file of the CAs PostgreSQL accepts client certificates
// from: the cluster's own CA (the replication user's certificate), and the
// user's CA when the user gave PostgreSQL's certificate. It also chooses
// how members check each other's server certificate: verify-full when the
// cluster's CA issued it (it names every member), verify-ca against the
// user's CA otherwise (the user's certificate need not name the members).
func trust(opts Options) (file, verify string, err error) {
	cluster, err := os.ReadFile(opts.ClusterCAFile)
	if err != nil {
		return "", "", fmt.Errorf("reading the cluster's CA: %w", err)
	}
	server, err := os.ReadFile(opts.CAFile)
	if err != nil {
		return "", "", fmt.Errorf("reading the CA of PostgreSQL's certificate: %w", err)
	}
	bundle, verify := cluster, "verify-full"
	if !bytes.Equal(bytes.TrimSpace(cluster), bytes.TrimSpace(server)) {
		bundle, verify = append(append(bytes.TrimSpace(cluster), '\n'), server...), "verify-ca"
	}
	file = filepath.Join(opts.SocketDir, "client-ca.crt")
	if err := os.WriteFile(file, bundle, 0o600); err != nil {
		return "", "", fmt.Errorf("writing the client CAs: %w", err)
	}
	return file, verify, nil
}

// member looks an upstream up in the last DCS read.
func (m *Manager) member(name string) (ha.Member, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.cluster.Members[name]
	if !ok || u.ConnHost == "" {
		return u, fmt.Errorf("member %s has not published how to reach it", name)
	}
	return u, nil
}

// shutdown stops PostgreSQL; as leader it releases the lock once a replica
// received the shutdown checkpoint, so that one takes over at once.
func (m *Manager) shutdown() error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	m.mu.Lock()
	leader := m.cluster.Lock.Holder == m.opts.Name
	cfg := m.cluster.Config
	m.mu.Unlock()
	m.log.Info("shutting down", "leader", leader)
	if err := m.pg.Stop(ctx, 30*time.Second); err != nil {
		m.log.Error(err, "stopping PostgreSQL")
	}
	m.observeStopped(ctx)
	if leader {
		checkpoint, timeline := m.finalPosition(ctx)
		m.waitForReplica(ctx, "", checkpoint, min(cfg.TTL/2, 10*time.Second))
		if err := m.retry(ctx, cfg.RetryTimeout, func(ctx context.Context) error {
			return m.dcs.Release(ctx, checkpoint, timeline)
		}); err != nil {
			m.log.Error(err, "releasing the leader lock")
		} else {
			m.log.Info("released the leader lock", "checkpoint", postgres.FormatLSN(checkpoint))
		}
	}
	m.publish(ctx)
	m.pg.Close()
	return nil
}

func (m *Manager) observeStopped(ctx context.Context) {
	p := m.observePostgres(ctx)
	m.mu.Lock()
	m.observed = p
	m.mu.Unlock()
}

// finalPosition is the shutdown checkpoint of the stopped server.
func (m *Manager) finalPosition(ctx context.Context) (ha.LSN, int64) {
	cd, err := m.pg.ControlData(ctx)
	if err != nil {
		m.log.Error(err, "reading the shutdown checkpoint")
		return 0, 0
	}
	return cd.Checkpoint, cd.Timeline
}

// waitForReplica waits until a replica (the named one, or any) reports WAL
// at least at lsn.
func (m *Manager) waitForReplica(ctx context.Context, name string, lsn ha.LSN, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		m.mu.Lock()
		members := m.cluster.Members
		if member, ok := members[name]; ok {
			members = map[string]ha.Member{name: member}
		}
		m.mu.Unlock()
		for _, p := range m.fetchPeers(ctx, members) {
			if p.Reachable && (name == "" || p.Name == name) && p.WAL >= lsn {
				return true
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	return false
}

func (m *Manager) setObserved(p ha.Postgres) {
	m.mu.Lock()
	m.observed = p
	m.mu.Unlock()
}
