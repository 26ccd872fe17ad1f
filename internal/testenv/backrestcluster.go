package testenv

import (
	"path/filepath"
	"time"

	"pgo.dev/pgo/internal/pgbackrest"
)

// BackRestCluster is one test cluster: PostgreSQL with its pgBackRest TLS
// server (the database pod), and the configuration of a repository host,
// whose own TLS server the test starts (StartRepoHost, or pgo's repository
// host manager).
type BackRestCluster struct {
	W  *World
	PG *Postgres
	// RepoConf and RepoInclude are the repository host's configuration
	// and include path (with the secret options in secret.conf).
	RepoConf, RepoInclude string
	// PGConf is the database pod's configuration.
	PGConf string
	// RepoPort and PGPort are the TLS servers' ports.
	RepoPort, PGPort int
	// PGServer is the database pod's TLS server.
	PGServer *pgbackrest.Server
	ID       Identity
}

// NewBackRestCluster sets up a cluster whose repository host holds repos,
// with the secret options in secrets; host, when not nil, changes the
// repository host's configuration. PostgreSQL and the database pod's TLS
// server run; the repository host's does not.
func NewBackRestCluster(w *World, name string, repos []pgbackrest.Repo, secrets pgbackrest.Secrets, host func(*pgbackrest.RepoHost)) *BackRestCluster {
	w.T.Helper()
	c := &BackRestCluster{W: w, RepoPort: FreePort(w.T), PGPort: FreePort(w.T)}
	c.ID = w.NewIdentity(name+"/tls", name+"-pgbackrest")
	indexes := make([]int, len(repos))
	for i, r := range repos {
		indexes[i] = r.Index
	}

	// The database pod.
	c.PGConf = w.Path(name, "pod", "pgbackrest.conf")
	c.RepoConf = w.Path(name, "repo", "pgbackrest.conf")
	c.RepoInclude = w.Mkdir(name, "repo", "conf.d")
	repoFiles := pgbackrest.Files{Config: c.RepoConf, IncludePath: c.RepoInclude}
	podFiles := pgbackrest.Files{Config: c.PGConf, IncludePath: w.Mkdir(name, "pod", "conf.d")}
	c.PG = w.Initdb(name, c.PGConf)
	w.Write(filepath.Join(name, "pod", "pgbackrest.conf"), []byte(pgbackrest.InstanceConfig(pgbackrest.Instance{
		Postgres:      pgbackrest.Postgres{Path: c.PG.Data, Port: c.PG.Port, SocketDir: c.PG.Socket},
		RepoHost:      "localhost",
		RepoHostPort:  c.RepoPort,
		RepoHostFiles: repoFiles,
		Repos:         indexes,
		SpoolPath:     w.Mkdir(name, "spool"),
		LockPath:      w.Mkdir(name, "pod-lock"),
		TLS:           c.ID.TLS,
		ClientName:    c.ID.Name,
	})))
	c.PG.Start()
	c.PGServer = w.Server(c.PGConf, c.PGPort)

	// The repository host.
	rh := pgbackrest.RepoHost{
		Postgres: []pgbackrest.Postgres{{Host: "localhost", HostPort: c.PGPort, Path: c.PG.Data, Port: c.PG.Port,
			SocketDir: c.PG.Socket, Files: podFiles}},
		Repos:      repos,
		LockPath:   w.Mkdir(name, "repo-lock"),
		TLS:        c.ID.TLS,
		ClientName: c.ID.Name,
	}
	if host != nil {
		host(&rh)
	}
	w.Write(filepath.Join(name, "repo", "pgbackrest.conf"), []byte(pgbackrest.RepoHostConfig(rh)))
	w.Write(filepath.Join(name, "repo", "conf.d", "secret.conf"), []byte(pgbackrest.SecretConfig(secrets)))
	return c
}

// StartRepoHost runs the repository host's TLS server until the test ends.
func (c *BackRestCluster) StartRepoHost() *pgbackrest.Server {
	return c.W.Server(c.RepoConf, c.RepoPort)
}

// RepoHostEnv is the environment of pgbackrest on the repository host.
func (c *BackRestCluster) RepoHostEnv() []string {
	return []string{pgbackrest.EnvConfig + "=" + c.RepoConf, pgbackrest.EnvConfigIncludePath + "=" + c.RepoInclude}
}

// Repo runs pgbackrest on the repository host.
func (c *BackRestCluster) Repo(args ...string) string {
	c.W.T.Helper()
	return c.W.Backrest(c.RepoConf, nil, append([]string{"--config-include-path=" + c.RepoInclude}, args...)...)
}

// Info is what the repository host's pgbackrest info says.
func (c *BackRestCluster) Info() pgbackrest.StanzaInfo {
	c.W.T.Helper()
	return c.W.Info(c.RepoConf, "--config-include-path="+c.RepoInclude)
}

// SwitchWAL writes rows, closes the WAL segment, and returns its name.
func (c *BackRestCluster) SwitchWAL() string {
	c.W.T.Helper()
	c.PG.Query("CREATE TABLE IF NOT EXISTS t (id serial PRIMARY KEY, v text)")
	c.PG.Query("INSERT INTO t (v) SELECT md5(i::text) FROM generate_series(1, 1000) i")
	seg := c.PG.Query("SELECT pg_walfile_name(pg_current_wal_lsn())")
	c.PG.Query("SELECT pg_switch_wal()")
	return seg
}

// WaitArchived waits until a repository's archive reaches a segment.
func (c *BackRestCluster) WaitArchived(repo int, segment string) {
	t := c.W.T
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		a, ok := c.Info().ArchiveIn(repo)
		if ok && a.Max >= segment {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("repo%d did not archive %s (archive %+v); PostgreSQL's log:\n%s", repo, segment, a, ReadFile(t, c.PG.LogFile))
		}
		time.Sleep(500 * time.Millisecond)
	}
}
