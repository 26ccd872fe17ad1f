package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// entrypointDir is where a node mounts the host executables it maps
// commands and images to, inside a container's root.
const entrypointDir = "/.pgo-local/bin"

// nonRootUser runs containers that must not run as root and name no user:
// an image's USER, which a local node has no image to read, would.
const nonRootUser = 65534

// credentials are a container's user and groups from its security context
// and its pod's.
type credentials struct {
	uid, gid uint32
	groups   []uint32
}

func containerCredentials(pod *corev1.Pod, c *corev1.Container) (credentials, error) {
	var cr credentials
	var uid, gid *int64
	nonRoot := false
	if psc := pod.Spec.SecurityContext; psc != nil {
		uid, gid = psc.RunAsUser, psc.RunAsGroup
		if psc.RunAsNonRoot != nil {
			nonRoot = *psc.RunAsNonRoot
		}
		if psc.FSGroup != nil {
			cr.groups = append(cr.groups, uint32(*psc.FSGroup))
		}
		for _, g := range psc.SupplementalGroups {
			cr.groups = append(cr.groups, uint32(g))
		}
	}
	if sc := c.SecurityContext; sc != nil {
		if sc.RunAsUser != nil {
			uid = sc.RunAsUser
		}
		if sc.RunAsGroup != nil {
			gid = sc.RunAsGroup
		}
		if sc.RunAsNonRoot != nil {
			nonRoot = *sc.RunAsNonRoot
		}
	}
	switch {
	case uid != nil:
		cr.uid = uint32(*uid)
	case nonRoot:
		cr.uid = nonRootUser
	}
	if nonRoot && cr.uid == 0 {
		return cr, errors.New("container has runAsNonRoot and runAsUser 0: it would run as root")
	}
	switch {
	case gid != nil:
		cr.gid = uint32(*gid)
	default:
		cr.gid = cr.uid
	}
	return cr, nil
}

// argv is a container's command line: command and args, with $(VAR)
// expanded, and the image's entrypoint when there is no command.
func (n *Node) argv(c *corev1.Container, env []string) ([]string, error) {
	vars := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	var argv []string
	if len(c.Command) == 0 {
		image := imageName(c.Image)
		if _, ok := n.cfg.Executables[image]; !ok {
			return nil, fmt.Errorf("image %s has no entrypoint on this local node: give the container a command, or map the image to an executable", c.Image)
		}
		argv = append(argv, image)
	}
	for _, a := range c.Command {
		argv = append(argv, expand(a, vars))
	}
	for _, a := range c.Args {
		argv = append(argv, expand(a, vars))
	}
	return argv, nil
}

// imageName is an image reference without its tag or digest.
func imageName(ref string) string {
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		ref = ref[:i]
	}
	return ref
}

// process is a running container: its init, PID 1 of its namespaces.
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
	exit int
}

// startContainer writes the container's init spec and starts the init in
// new mount, PID, UTS and IPC namespaces. The container's output goes to
// logPath.
func (n *Node) startContainer(dir string, spec *initSpec, logPath string) (*process, error) {
	if err := os.MkdirAll(spec.Scratch, 0o700); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(spec.Root, 0o755); err != nil {
		return nil, err
	}
	data, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	specPath := filepath.Join(dir, "init.json")
	if err := os.WriteFile(specPath, data, 0o600); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return nil, err
	}
	logs, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(n.self, initArg, specPath)
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC,
		Pdeathsig:  syscall.SIGKILL,
	}
	if err := cmd.Start(); err != nil {
		logs.Close()
		return nil, fmt.Errorf("starting the container: %w", err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			p.exit = ee.ExitCode()
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				p.exit = 128 + int(ws.Signal())
			}
		} else if err != nil {
			p.exit = 128
		}
		logs.Close()
		close(p.done)
	}()
	return p, nil
}

// stop sends SIGTERM to the container's command and SIGKILL to its whole
// PID namespace after grace.
func (p *process) stop(grace time.Duration) {
	if p == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	if grace > 0 {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
			return
		case <-time.After(grace):
		}
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// pid is the host PID of the container's init.
func (p *process) pid() int { return p.cmd.Process.Pid }

// nsenter is a command line that runs argv inside a running container, as
// the container's user, with its environment.
func nsenter(pid int, cr credentials, env []string, argv []string) []string {
	groups := make([]string, 0, len(cr.groups)+1)
	for _, g := range append([]uint32{cr.gid}, cr.groups...) {
		groups = append(groups, strconv.Itoa(int(g)))
	}
	// nsenter cannot set supplementary groups (fsGroup); setpriv, from
	// the same util-linux, can.
	cmd := []string{"nsenter", "-t", strconv.Itoa(pid), "-m", "-p", "-u", "-i", "-r", "-w", "--",
		"setpriv", "--reuid=" + strconv.Itoa(int(cr.uid)), "--regid=" + strconv.Itoa(int(cr.gid)),
		"--groups=" + strings.Join(groups, ","), "--", "/usr/bin/env", "-i"}
	cmd = append(cmd, env...)
	return append(cmd, argv...)
}

// userFiles are /etc/passwd and /etc/group lines for a container's user and
// groups that the host does not name, so that programs that look their user
// up (initdb does) find it.
func userFiles(cr credentials) map[string]string {
	out := map[string]string{}
	passwd, _ := os.ReadFile("/etc/passwd")
	group, _ := os.ReadFile("/etc/group")
	if !hasID(passwd, cr.uid) {
		out["/etc/passwd"] = fmt.Sprintf("u%d:x:%d:%d:container user:/tmp:/bin/sh\n", cr.uid, cr.uid, cr.gid)
	}
	var g strings.Builder
	for _, id := range append([]uint32{cr.gid}, cr.groups...) {
		if !hasID(group, id) && !strings.Contains(g.String(), fmt.Sprintf(":%d:", id)) {
			fmt.Fprintf(&g, "g%d:x:%d:\n", id, id)
		}
	}
	if g.Len() > 0 {
		out["/etc/group"] = g.String()
	}
	return out
}

// hasID reports whether a passwd or group file has an entry with id in its
// third field.
func hasID(file []byte, id uint32) bool {
	want := strconv.Itoa(int(id))
	for _, line := range strings.Split(string(file), "\n") {
		f := strings.Split(line, ":")
		if len(f) > 2 && f[2] == want {
			return true
		}
	}
	return false
}
