// Package repohost is the repository host manager, `postgres-operator
// repohost`: the main process of a cluster's repository host pod. It keeps
// the pod's `pgbackrest server` running (pgbackrest.Server), through which
// the database pods archive WAL and restore, and serves the API of
// package repohostapi, through which the controller and the apiserver
// create the stanza, take and follow backups, read `pgbackrest info` and
// expire backups. pgBackRest runs here, with the repositories (a volume, S3
// buckets with their keys) and reaches PostgreSQL through the database
// pods' TLS servers.
package repohost

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/go-logr/logr"

	"pgo.dev/pgo/internal/pgbackrest"
	"pgo.dev/pgo/internal/pki"
	"pgo.dev/pgo/internal/repohostapi"
)

// Options configure a repository host manager.
type Options struct {
	// PodIP is where pgbackrest server and the API listen.
	PodIP string
	// APIAddress is where the API listens; PodIP:8009 when empty.
	APIAddress string
	// CertFile and KeyFile are the API's certificate (the cluster's
	// pgBackRest certificate), read again when they change; CAFile is the
	// CA that issued it. pgbackrest server reads the files its
	// configuration names, and is reloaded when any of them changes.
	CertFile, KeyFile, CAFile string
	// APIUser and the file holding its password (read at each request, so
	// that a new password needs no restart).
	APIUser, APIPasswordFile string
	// Config and IncludePath are pgBackRest's configuration (the
	// ConfigMap's file) and include path (the Secret's: S3 keys, cipher
	// passphrases).
	Config, IncludePath string
	// BackupTimeout limits a backup (24 h when 0); CommandTimeout every
	// other pgbackrest command (5 min when 0).
	BackupTimeout, CommandTimeout time.Duration
	// Exec runs pgbackrest; nil: as this process, output to stdout.
	Exec *pgbackrest.Exec
	// ServerPoll is how often pgbackrest server's files are compared; 5 s
	// when 0.
	ServerPoll time.Duration
}

// Validate checks the options and fills in defaults.
func (o *Options) Validate() error {
	var errs []error
	need := func(v, flag string) {
		if v == "" {
			errs = append(errs, fmt.Errorf("--%s is required", flag))
		}
	}
	if o.APIAddress == "" {
		need(o.PodIP, "pod-ip")
		o.APIAddress = net.JoinHostPort(o.PodIP, strconv.Itoa(repohostapi.Port))
	}
	need(o.CertFile, "tls-cert-file")
	need(o.KeyFile, "tls-key-file")
	need(o.APIUser, "api-user")
	need(o.APIPasswordFile, "api-password-file")
	need(o.Config, "config")
	if o.BackupTimeout <= 0 {
		o.BackupTimeout = 24 * time.Hour
	}
	if o.CommandTimeout <= 0 {
		o.CommandTimeout = 5 * time.Minute
	}
	if o.Exec == nil {
		o.Exec = &pgbackrest.Exec{}
	}
	return errors.Join(errs...)
}

// Manager is a repository host manager.
type Manager struct {
	opts   Options
	log    logr.Logger
	exec   *pgbackrest.Exec
	server *pgbackrest.Server
	cert   *pki.KeyPairFiles

	// base is the context of background backups: Run's.
	base context.Context
	wg   sync.WaitGroup

	// stanzaMu lets one stanza creation run at a time.
	stanzaMu sync.Mutex

	mu      sync.Mutex
	backups map[string]*repohostapi.BackupStatus
	order   []string // IDs, oldest first
	running string
}

// New prepares a manager.
func New(opts Options, log logr.Logger) (*Manager, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	// pgbackrest reads its configuration's place from the environment.
	exec := *opts.Exec
	exec.Env = append(append([]string(nil), exec.Env...),
		pgbackrest.EnvConfig+"="+opts.Config)
	if opts.IncludePath != "" {
		exec.Env = append(exec.Env, pgbackrest.EnvConfigIncludePath+"="+opts.IncludePath)
	}
	m := &Manager{
		opts: opts,
		log:  log,
		exec: &exec,
		cert: &pki.KeyPairFiles{CertFile: opts.CertFile, KeyFile: opts.KeyFile},
		server: &pgbackrest.Server{
			Exec: &exec, Address: opts.PodIP, Config: opts.Config, IncludePath: opts.IncludePath,
			Watch: []string{opts.CertFile, opts.KeyFile, opts.CAFile}, Poll: opts.ServerPoll,
			Log: log.WithName("server"),
		},
		backups: map[string]*repohostapi.BackupStatus{},
	}
	return m, nil
}

// Run serves the API and keeps pgbackrest server running until ctx ends;
// then it stops both, and a backup that runs.
func (m *Manager) Run(ctx context.Context) error {
	if _, err := m.cert.Current(); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", m.opts.APIAddress)
	if err != nil {
		return fmt.Errorf("listening on %s for the API: %w", m.opts.APIAddress, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	m.base = ctx

	// The write timeout leaves room for the slowest answer, a stanza
	// creation: a bucket check and creation per S3 repository, then
	// stanza-create.
	srv := &http.Server{Handler: m.routes(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 3*m.opts.CommandTimeout + time.Minute, IdleTimeout: time.Minute,
		TLSConfig: &tls.Config{GetCertificate: m.cert.GetCertificate, MinVersion: tls.VersionTLS12}}
	served := make(chan error, 1)
	go func() { served <- srv.ServeTLS(ln, "", "") }()

	serverDone := make(chan struct{})
	go func() {
		defer close(serverDone)
		_ = m.server.Run(ctx)
	}()
	m.log.Info("repository host manager started", "api", m.opts.APIAddress, "config", m.opts.Config)

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-served:
		runErr = fmt.Errorf("serving the API: %w", err)
		cancel()
	}
	shutdown, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	_ = srv.Shutdown(shutdown)
	<-serverDone
	m.wg.Wait()
	return runErr
}

// Running tells whether pgbackrest server runs.
func (m *Manager) Running() bool { return m.server.Running() }
