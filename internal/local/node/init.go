package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// initArg is the first argument with which a node re-executes its own binary
// as a container's init: PID 1 of the container's PID namespace, in the
// container's mount namespace.
const initArg = "__pgo-local-container-init"

// MaybeRunInit runs a container's init and exits when this process was
// started as one; otherwise it returns at once. Every binary that runs local
// nodes (pgo-local, and test binaries through TestMain) calls it first thing
// in main.
func MaybeRunInit() {
	if len(os.Args) < 3 || os.Args[1] != initArg {
		return
	}
	code, err := runInit(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgo-local container init:", err)
		os.Exit(127)
	}
	os.Exit(code)
}

// initSpec is what a container's init needs to set up its root and start the
// container's command. The node writes it as JSON next to the container's
// logs.
type initSpec struct {
	// Scratch is an empty directory for the tmpfs that holds the root's
	// writable layer; Root an empty directory where the root is assembled.
	Scratch string `json:"scratch"`
	Root    string `json:"root"`
	// ReadOnlyRoot mounts the root read-only (volumes stay as mounted).
	ReadOnlyRoot bool `json:"readOnlyRoot,omitempty"`

	Mounts []mount `json:"mounts,omitempty"`
	// Files are written into the root before the command starts:
	// /etc/hosts, /etc/resolv.conf, /etc/hostname, passwd additions.
	Files map[string]string `json:"files,omitempty"`
	// AppendFiles are appended to files of the root (/etc/passwd).
	AppendFiles map[string]string `json:"appendFiles,omitempty"`

	Hostname   string   `json:"hostname"`
	Argv       []string `json:"argv"`
	Env        []string `json:"env"`
	WorkingDir string   `json:"workingDir,omitempty"`
	UID        uint32   `json:"uid"`
	GID        uint32   `json:"gid"`
	Groups     []uint32 `json:"groups,omitempty"`
}

// mount is a bind mount of a host path into the container.
type mount struct {
	Source   string `json:"source"`
	Target   string `json:"target"`
	ReadOnly bool   `json:"readOnly,omitempty"`
}

// runInit sets up the container's root, starts its command as a child,
// passes signals on, reaps every orphan of the PID namespace and returns the
// command's exit code. When it returns, the kernel kills whatever else still
// runs in the namespace.
func runInit(specPath string) (int, error) {
	data, err := os.ReadFile(specPath)
	if err != nil {
		return 0, err
	}
	var spec initSpec
	if err := json.Unmarshal(data, &spec); err != nil {
		return 0, fmt.Errorf("reading %s: %w", specPath, err)
	}
	if err := setupRoot(&spec); err != nil {
		return 0, err
	}
	if spec.Hostname != "" {
		// The UTS namespace is the container's own.
		_ = unix.Sethostname([]byte(spec.Hostname))
	}
	if err := unix.Chroot(spec.Root); err != nil {
		return 0, fmt.Errorf("chroot %s: %w", spec.Root, err)
	}
	wd := spec.WorkingDir
	if wd == "" {
		wd = "/"
	}
	if err := os.Chdir(wd); err != nil {
		return 0, fmt.Errorf("working directory %s: %w", wd, err)
	}
	path, err := lookPath(spec.Argv[0], spec.Env)
	if err != nil {
		return 0, err
	}

	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)

	proc, err := os.StartProcess(path, spec.Argv, &os.ProcAttr{
		Dir:   wd,
		Env:   spec.Env,
		Files: []*os.File{os.Stdin, os.Stdout, os.Stderr},
		Sys: &syscall.SysProcAttr{
			Credential: &syscall.Credential{Uid: spec.UID, Gid: spec.GID, Groups: spec.Groups},
			Setsid:     true,
		},
	})
	if err != nil {
		return 0, fmt.Errorf("starting %s: %w", spec.Argv[0], err)
	}
	go func() {
		for s := range signals {
			_ = proc.Signal(s)
		}
	}()
	// Reap every child; the command's own exit ends the container.
	for {
		var status unix.WaitStatus
		pid, err := unix.Wait4(-1, &status, 0, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("waiting for %s: %w", spec.Argv[0], err)
		}
		if pid != proc.Pid {
			continue
		}
		if status.Signaled() {
			return 128 + int(status.Signal()), nil
		}
		return status.ExitStatus(), nil
	}
}

// setupRoot assembles the container's root: an overlay whose lower layer is
// the host's root filesystem and whose upper layer is a tmpfs private to the
// container, so that nothing the container writes outside its volumes
// reaches the host; then /proc of the container's PID namespace, /dev with a
// private /dev/shm, the volumes and the files.
func setupRoot(spec *initSpec) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts private: %w", err)
	}
	if err := unix.Mount("tmpfs", spec.Scratch, "tmpfs", 0, "mode=0700"); err != nil {
		return fmt.Errorf("mounting the root's tmpfs: %w", err)
	}
	upper, work := filepath.Join(spec.Scratch, "upper"), filepath.Join(spec.Scratch, "work")
	for _, d := range []string{upper, work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
	}
	opts := "lowerdir=/,upperdir=" + upper + ",workdir=" + work
	if err := unix.Mount("overlay", spec.Root, "overlay", 0, opts); err != nil {
		return fmt.Errorf("mounting the root overlay: %w", err)
	}
	root := spec.Root
	if err := unix.Mount("proc", filepath.Join(root, "proc"), "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mounting /proc: %w", err)
	}
	for _, d := range []string{"/dev", "/sys"} {
		if err := unix.Mount(d, filepath.Join(root, d), "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("mounting %s: %w", d, err)
		}
	}
	shm := filepath.Join(root, "dev", "shm")
	if err := unix.Mount("shm", shm, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777"); err != nil {
		return fmt.Errorf("mounting /dev/shm: %w", err)
	}
	for _, m := range spec.Mounts {
		if err := bindMount(root, m); err != nil {
			return err
		}
	}
	for name, content := range spec.Files {
		if err := writeInRoot(root, name, content, false); err != nil {
			return err
		}
	}
	for name, content := range spec.AppendFiles {
		if err := writeInRoot(root, name, content, true); err != nil {
			return err
		}
	}
	if spec.ReadOnlyRoot {
		if err := unix.Mount("", root, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""); err != nil {
			return fmt.Errorf("making the root read-only: %w", err)
		}
	}
	return nil
}

// bindMount mounts a host path at its target in the root, creating the
// target (a directory, or an empty file for a file) in the root's writable
// layer.
func bindMount(root string, m mount) error {
	target, err := resolveInRoot(root, m.Target)
	if err != nil {
		return err
	}
	info, err := os.Stat(m.Source)
	if err != nil {
		return fmt.Errorf("volume source for %s: %w", m.Target, err)
	}
	if info.IsDir() {
		if err := os.MkdirAll(target, 0o755); err != nil {
			return fmt.Errorf("creating mount point %s: %w", m.Target, err)
		}
	} else {
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return fmt.Errorf("creating mount point %s: %w", m.Target, err)
		}
		f.Close()
	}
	if err := unix.Mount(m.Source, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("mounting %s: %w", m.Target, err)
	}
	if m.ReadOnly {
		if err := unix.Mount("", target, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("making %s read-only: %w", m.Target, err)
		}
	}
	return nil
}

// writeInRoot writes or appends a file in the root's writable layer.
func writeInRoot(root, name, content string, appendTo bool) error {
	path, err := resolveInRoot(root, name)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if appendTo {
		flags = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return f.Close()
}

// resolveInRoot turns a path as the container sees it into a host path under
// root, following symbolic links as they resolve inside the root (/var/run
// → /run is root/run, not the host's /run).
func resolveInRoot(root, name string) (string, error) {
	parts := strings.Split(filepath.Clean("/"+name), "/")
	resolved := "/"
	for hops := 0; len(parts) > 0; {
		part := parts[0]
		parts = parts[1:]
		if part == "" || part == "." {
			continue
		}
		if part == ".." {
			resolved = filepath.Dir(resolved)
			continue
		}
		next := filepath.Join(resolved, part)
		fi, err := os.Lstat(filepath.Join(root, next))
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			resolved = next
			continue
		}
		if hops++; hops > 40 {
			return "", fmt.Errorf("too many symbolic links in %s", name)
		}
		link, err := os.Readlink(filepath.Join(root, next))
		if err != nil {
			return "", err
		}
		if !filepath.IsAbs(link) {
			link = filepath.Join(resolved, link)
		}
		parts = append(strings.Split(filepath.Clean(link), "/"), parts...)
		resolved = "/"
	}
	return filepath.Join(root, resolved), nil
}

// defaultPath is a container's PATH unless its spec sets one, as a
// container runtime's default.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// lookPath finds a command in the container's PATH, inside its root (the
// process has already changed its root).
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	path := defaultPath
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range filepath.SplitList(path) {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: executable file not found in the container's PATH %s", name, path)
}
