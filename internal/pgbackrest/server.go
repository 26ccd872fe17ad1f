package pgbackrest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"
)

// Environment variables pgBackRest reads its configuration's place from.
const (
	EnvConfig            = "PGBACKREST_CONFIG"
	EnvConfigIncludePath = "PGBACKREST_CONFIG_INCLUDE_PATH"
)

// Server keeps `pgbackrest server` (the TLS server every pod of a cluster
// runs) running: it restarts it, with back-off, when it exits, and sends
// it SIGHUP, on which pgBackRest 2.45 reads its configuration and its
// certificate again, when a file it reads changes. Files are compared by
// content, polled: Kubernetes updates a mounted Secret or ConfigMap by
// swapping symbolic links, which neither a modification time nor an inotify
// watch on the file itself reliably shows.
type Server struct {
	// Exec runs pgbackrest; its output goes to Exec.Lines after
	// "pgbackrest server: ".
	Exec *Exec
	// Address is --tls-server-address: the pod's IP.
	Address string
	// Config and IncludePath are the server's configuration, given to it
	// as PGBACKREST_CONFIG and PGBACKREST_CONFIG_INCLUDE_PATH (pgBackRest's
	// defaults when empty), and watched. So are the certificate, key and
	// CA the configuration names.
	Config, IncludePath string
	// Watch are more files whose change reloads the server.
	Watch []string
	// Poll is how often the files are compared; 5 s when 0.
	Poll time.Duration
	// MinBackoff and MaxBackoff bound the wait before a restart, which
	// doubles while the server keeps exiting; 1 s and 30 s when 0.
	MinBackoff, MaxBackoff time.Duration
	Log                    logr.Logger

	mu  sync.Mutex
	pid int
}

// ServerPrefix starts the lines of the server's output.
const ServerPrefix = "pgbackrest server: "

// PID is the server's process, 0 while none runs.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pid
}

// Running tells whether the server runs.
func (s *Server) Running() bool { return s.PID() != 0 }

func (s *Server) setPID(pid int) {
	s.mu.Lock()
	s.pid = pid
	s.mu.Unlock()
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Run runs the server until ctx ends, then stops it (SIGTERM, and SIGKILL
// after the Exec's grace) and returns.
func (s *Server) Run(ctx context.Context) error {
	minWait, maxWait := orDefault(s.MinBackoff, time.Second), orDefault(s.MaxBackoff, 30*time.Second)
	wait := minWait
	for {
		started := time.Now()
		s.runOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		// A server that ran a while failed for a new reason: start again
		// soon.
		if time.Since(started) > maxWait {
			wait = minWait
		}
		s.Log.Info("pgbackrest server exited; starting it again", "after", wait.String())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, maxWait)
	}
}

// runOnce runs the server until it exits or ctx ends, and reloads it when
// its files change.
func (s *Server) runOnce(ctx context.Context) {
	files := s.fingerprint()
	args := []string{"server"}
	if s.Address != "" {
		args = append(args, "--tls-server-address="+s.Address)
	}
	cmd := s.Exec.command(args)
	if s.Config != "" {
		cmd.Env = append(cmd.Env, EnvConfig+"="+s.Config)
	}
	if s.IncludePath != "" {
		cmd.Env = append(cmd.Env, EnvConfigIncludePath+"="+s.IncludePath)
	}
	lines := s.Exec.lines()
	out := lineWriter(func(line string) { lines.Line(ServerPrefix, line) })
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = s.Exec.grace()
	if err := cmd.Start(); err != nil {
		s.Log.Error(err, "starting pgbackrest server")
		return
	}
	pid := cmd.Process.Pid
	s.setPID(pid)
	defer s.setPID(0)
	s.Log.Info("pgbackrest server started", "pid", pid, "address", s.Address)
	exited := make(chan error, 1)
	go func() {
		err := cmd.Wait()
		out.Flush()
		exited <- err
	}()
	poll := time.NewTicker(orDefault(s.Poll, 5*time.Second))
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			stopped := make(chan struct{})
			go func() {
				stopGroup(pid, s.Exec.grace(), stopped)
			}()
			err := <-exited
			close(stopped)
			s.Log.Info("pgbackrest server stopped", "pid", pid, "status", exitStatus(err))
			return
		case err := <-exited:
			s.Log.Info("pgbackrest server exited", "pid", pid, "status", exitStatus(err))
			return
		case <-poll.C:
			now := s.fingerprint()
			if changed := changedFiles(files, now); len(changed) > 0 {
				files = now
				s.Log.Info("files of pgbackrest server changed; reloading it (SIGHUP)", "pid", pid, "files", changed)
				if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
					s.Log.Error(err, "reloading pgbackrest server", "pid", pid)
				}
			}
		}
	}
}

func exitStatus(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// fingerprint is a hash of the content of each file the server reads (or
// of the error reading it): the configuration, its include path's files,
// the TLS files it names, and Watch.
func (s *Server) fingerprint() map[string]string {
	out := map[string]string{}
	paths := slices.Clone(s.Watch)
	if s.Config != "" {
		paths = append(paths, s.Config)
	}
	if s.IncludePath != "" {
		names, err := IncludeFiles(s.IncludePath)
		out[s.IncludePath] = strings.Join(names, "\n")
		if err != nil {
			out[s.IncludePath] = "error: " + err.Error()
		}
		paths = append(paths, names...)
	}
	if c, err := ReadConfig(s.Config, s.IncludePath); err == nil {
		tls := c.ServerTLS()
		paths = append(paths, tls.CertFile, tls.KeyFile, tls.CAFile)
	}
	for _, p := range paths {
		if p == "" {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			out[p] = "error: " + err.Error()
			continue
		}
		sum := sha256.Sum256(data)
		out[p] = hex.EncodeToString(sum[:])
	}
	return out
}

// changedFiles are the paths whose hash differs, sorted.
func changedFiles(before, after map[string]string) []string {
	var out []string
	for p, h := range after {
		if before[p] != h {
			out = append(out, p)
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}
