package node

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/reference"
)

// Restart back-off: a local node restarts faster than a kubelet (10 s to
// 5 min), since its failures are a developer's, not a fleet's.
const (
	backoffFirst = 2 * time.Second
	backoffMax   = time.Minute
	// backoffReset is how long a container must run for its back-off to
	// start again from backoffFirst.
	backoffReset = 5 * time.Minute
	// volumeRefresh is how often secret, configMap, downwardAPI and
	// projected volumes are rewritten from the API.
	volumeRefresh = 15 * time.Second
)

// podRuntime runs one pod: its volumes, init containers, containers,
// probes and restarts, and reports its status.
type podRuntime struct {
	node *Node
	dir  string
	ip   string

	ctx    context.Context
	cancel context.CancelFunc
	// done is closed when every process of the pod has stopped.
	done chan struct{}

	mu         sync.Mutex
	pod        *corev1.Pod
	volumes    []*volume
	inits      []*containerRuntime
	containers []*containerRuntime
	// waitingReason is why the pod is not running yet.
	waitingReason, waitingMessage string
	initialized                   bool
	failed                        bool
	startTime                     metav1.Time
	stopping                      bool
	// grace is how long stopping processes get after SIGTERM.
	grace time.Duration
	// conditions are the pod conditions last reported, so that a
	// condition's LastTransitionTime moves only when its status does.
	conditions map[corev1.PodConditionType]corev1.PodCondition

	// changed wakes the status sender (see sendStatus); statusSent is
	// closed when it has stopped.
	changed    chan struct{}
	statusSent chan struct{}
	// sending is held while a status is taken and handed over, so that
	// statuses leave in the order they were taken.
	sending sync.Mutex
}

// containerRuntime is one container of a running pod.
type containerRuntime struct {
	spec     corev1.Container
	isInit   bool
	restarts int32
	state    corev1.ContainerState
	last     corev1.ContainerState
	ready    bool
	started  bool
	proc     *process
	cred     credentials
	env      []string
	// kill asks the supervisor to restart the container (failed liveness).
	kill chan struct{}
}

func (n *Node) newPodRuntime(pod *corev1.Pod, ip string) *podRuntime {
	ctx, cancel := context.WithCancel(context.Background())
	p := &podRuntime{
		node:      n,
		dir:       filepath.Join(n.cfg.StateDir, "pods", string(pod.UID)),
		ip:        ip,
		ctx:       ctx,
		cancel:    cancel,
		done:      make(chan struct{}),
		pod:       pod.DeepCopy(),
		startTime: metav1.Now(),
		grace:     30 * time.Second,

		conditions: map[corev1.PodConditionType]corev1.PodCondition{},
		changed:    make(chan struct{}, 1),
		statusSent: make(chan struct{}),
	}
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		p.grace = time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
	}
	for _, c := range pod.Spec.InitContainers {
		p.inits = append(p.inits, &containerRuntime{spec: c, isInit: true, kill: make(chan struct{}, 1),
			state: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "PodInitializing"}}})
	}
	for _, c := range pod.Spec.Containers {
		p.containers = append(p.containers, &containerRuntime{spec: c, kill: make(chan struct{}, 1),
			state: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}})
	}
	go p.sendStatus()
	return p
}

func (p *podRuntime) log(format string, args ...any) {
	p.node.logf("pod %s/%s: %s", p.pod.Namespace, p.pod.Name, fmt.Sprintf(format, args...))
}

// run brings the pod up and keeps it running until it is stopped.
func (p *podRuntime) run() {
	defer close(p.done)
	defer p.stopAll()
	// A pod that this node ran before it stopped (a node loss) starts as
	// after a reboot: its emptyDirs are gone, stale sockets and lock files
	// with them.
	if err := os.RemoveAll(p.dir); err != nil {
		p.setWaiting("CreateContainerConfigError", err.Error())
		return
	}
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		p.setWaiting("CreateContainerConfigError", err.Error())
		return
	}
	if !p.prepareVolumes() {
		return
	}
	go p.refreshVolumes()
	for _, c := range p.inits {
		if !p.runInit(c) {
			return
		}
	}
	p.mu.Lock()
	p.initialized = true
	p.mu.Unlock()
	p.notify()
	var wg sync.WaitGroup
	for _, c := range p.containers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.supervise(c)
		}()
	}
	wg.Wait()
}

// prepareVolumes retries until every volume is ready (claims bound, secrets
// there) or the pod is stopped.
func (p *podRuntime) prepareVolumes() bool {
	for {
		var vols []*volume
		var err error
		src := p.volumeSource()
		for _, v := range p.pod.Spec.Volumes {
			var vol *volume
			vol, err = src.prepareVolume(p.ctx, p.pod, v, p.dir)
			if err != nil {
				break
			}
			vols = append(vols, vol)
		}
		if err == nil {
			p.mu.Lock()
			p.volumes = vols
			p.waitingReason, p.waitingMessage = "", ""
			p.mu.Unlock()
			return true
		}
		p.setWaiting("ContainerCreating", err.Error())
		select {
		case <-p.ctx.Done():
			return false
		case <-time.After(time.Second):
		}
	}
}

func (p *podRuntime) volumeSource() *volumeSource {
	return &volumeSource{lookups: p.node, client: p.node.client, podIP: p.ip, hostIP: p.node.cfg.Address}
}

// refreshVolumes rewrites secret, configMap, downwardAPI and projected
// volumes while the pod runs, as a kubelet does.
func (p *podRuntime) refreshVolumes() {
	t := time.NewTicker(volumeRefresh)
	defer t.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-t.C:
		}
		p.mu.Lock()
		pod := p.pod.DeepCopy()
		vols := p.volumes
		p.mu.Unlock()
		src := p.volumeSource()
		for _, v := range pod.Spec.Volumes {
			for _, vol := range vols {
				if vol.name == v.Name && vol.kind == volumeFiles {
					if err := src.refresh(p.ctx, pod, v, vol); err != nil {
						p.log("refreshing volume %s: %v", v.Name, err)
					}
				}
			}
		}
	}
}

func (p *podRuntime) setWaiting(reason, message string) {
	p.mu.Lock()
	p.waitingReason, p.waitingMessage = reason, message
	p.mu.Unlock()
	p.notify()
}

// runInit runs an init container until it succeeds; false when the pod
// failed or was stopped.
func (p *podRuntime) runInit(c *containerRuntime) bool {
	backoff := backoffFirst
	for {
		code, err := p.runOnce(c)
		if err != nil {
			p.setContainerWaiting(c, "CreateContainerError", err.Error())
		}
		if p.ctx.Err() != nil {
			return false
		}
		if err == nil && code == 0 {
			return true
		}
		if p.pod.Spec.RestartPolicy == corev1.RestartPolicyNever {
			p.mu.Lock()
			p.failed = true
			p.mu.Unlock()
			p.notify()
			return false
		}
		if !sleepCtx(p.ctx, backoff) {
			return false
		}
		backoff = min(backoff*2, backoffMax)
	}
}

// supervise runs a container and restarts it as the pod's restart policy
// says.
func (p *podRuntime) supervise(c *containerRuntime) {
	backoff := backoffFirst
	for {
		started := time.Now()
		code, err := p.runOnce(c)
		if err != nil {
			p.log("container %s: %v", c.spec.Name, err)
			p.setContainerWaiting(c, "CreateContainerError", err.Error())
		}
		if p.ctx.Err() != nil {
			return
		}
		switch p.pod.Spec.RestartPolicy {
		case corev1.RestartPolicyNever:
			if err == nil {
				return
			}
		case corev1.RestartPolicyOnFailure:
			if err == nil && code == 0 {
				return
			}
		}
		if time.Since(started) > backoffReset {
			backoff = backoffFirst
		}
		p.mu.Lock()
		if c.state.Terminated != nil {
			c.last = c.state
			c.state = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff",
				Message: fmt.Sprintf("back-off %s restarting failed container %s", backoff, c.spec.Name)}}
		}
		p.mu.Unlock()
		p.notify()
		p.event(c, corev1.EventTypeWarning, "BackOff", "Back-off restarting failed container %s", c.spec.Name)
		if !sleepCtx(p.ctx, backoff) {
			return
		}
		backoff = min(backoff*2, backoffMax)
		p.mu.Lock()
		c.restarts++
		p.mu.Unlock()
	}
}

func (p *podRuntime) setContainerWaiting(c *containerRuntime, reason, message string) {
	p.mu.Lock()
	c.state = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: message}}
	p.mu.Unlock()
	p.notify()
}

// runOnce starts a container, runs its probes and waits for it to exit. It
// returns the exit code.
func (p *podRuntime) runOnce(c *containerRuntime) (int, error) {
	spec, cr, env, err := p.containerSpec(c)
	if err != nil {
		return 0, err
	}
	dir := filepath.Join(p.dir, "containers", c.spec.Name)
	spec.Scratch = filepath.Join(dir, "scratch")
	spec.Root = filepath.Join(dir, "root")
	proc, err := p.node.startContainer(dir, spec, p.logPath(c.spec.Name, c.restarts))
	if err != nil {
		return 0, err
	}
	p.mu.Lock()
	if p.stopping {
		p.mu.Unlock()
		proc.stop(0)
		return 0, nil
	}
	c.proc, c.cred, c.env = proc, cr, env
	c.state = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}
	c.ready = false
	c.started = c.spec.StartupProbe == nil
	p.mu.Unlock()
	p.notify()

	probeCtx, stopProbes := context.WithCancel(p.ctx)
	if !c.isInit {
		go p.probe(probeCtx, c, proc)
	}
	select {
	case <-proc.done:
	case <-c.kill:
		proc.stop(p.stopGrace())
	case <-p.ctx.Done():
		proc.stop(p.stopGrace())
	}
	stopProbes()
	p.mu.Lock()
	started := c.state.Running
	term := &corev1.ContainerStateTerminated{ExitCode: int32(proc.exit), FinishedAt: metav1.Now(), Reason: "Completed",
		ContainerID: containerID(p.pod, c)}
	if started != nil {
		term.StartedAt = started.StartedAt
	}
	if proc.exit != 0 {
		term.Reason = "Error"
	}
	c.state = corev1.ContainerState{Terminated: term}
	c.ready, c.proc = false, nil
	p.mu.Unlock()
	p.notify()
	return proc.exit, nil
}

// logPath is where a container's output goes. As a kubelet's
// /var/log/pods, logs live outside the pod's directory, so that they outlive
// the pod: after a pod is deleted or its node lost, they still tell what
// happened (see pruneLogs).
func (p *podRuntime) logPath(container string, restarts int32) string {
	return ContainerLogPath(p.node.cfg.StateDir, p.pod, container, restarts)
}

// ContainerLogPath is where a node with this state directory keeps the
// output of a container of pod, in its run after restarts restarts.
func ContainerLogPath(stateDir string, pod *corev1.Pod, container string, restarts int32) string {
	return filepath.Join(stateDir, "logs", fmt.Sprintf("%s_%s_%s", pod.Namespace, pod.Name, pod.UID),
		container, fmt.Sprintf("%d.log", restarts))
}

func containerID(pod *corev1.Pod, c *containerRuntime) string {
	return fmt.Sprintf("pgo-local://%s/%s/%d", pod.UID, c.spec.Name, c.restarts)
}

// containerSpec is what the init of a container needs: its root's mounts
// and files, its user, command line and environment.
func (p *podRuntime) containerSpec(c *containerRuntime) (*initSpec, credentials, []string, error) {
	p.mu.Lock()
	pod := p.pod.DeepCopy()
	vols := map[string]*volume{}
	for _, v := range p.volumes {
		vols[v.name] = v
	}
	p.mu.Unlock()
	cr, err := containerCredentials(pod, &c.spec)
	if err != nil {
		return nil, cr, nil, err
	}
	env, err := containerEnv(pod, &c.spec, p.ip, p.node.cfg.Address, p.node.cfg.APIServerHost, p.node.cfg.APIServerPort, p.node)
	if err != nil {
		return nil, cr, nil, err
	}
	argv, err := p.node.argv(&c.spec, env)
	if err != nil {
		return nil, cr, nil, err
	}
	spec := &initSpec{
		Hostname:   podHostname(pod),
		Env:        env,
		WorkingDir: c.spec.WorkingDir,
		UID:        cr.uid, GID: cr.gid, Groups: cr.groups,
		Files: map[string]string{
			"/etc/hosts":    p.hostsFile(pod),
			"/etc/hostname": podHostname(pod) + "\n",
		},
		AppendFiles: userFiles(cr),
	}
	if p.node.cfg.DNSServer != "" {
		spec.Files["/etc/resolv.conf"] = resolvConf(pod.Namespace, p.node.cfg.DNSServer)
	}
	if sc := c.spec.SecurityContext; sc != nil && sc.ReadOnlyRootFilesystem != nil {
		spec.ReadOnlyRoot = *sc.ReadOnlyRootFilesystem
	}
	// A command the node maps to a host executable runs that executable.
	if host, ok := p.node.cfg.Executables[argv[0]]; ok && !strings.Contains(argv[0], "/") {
		target := filepath.Join(entrypointDir, argv[0])
		spec.Mounts = append(spec.Mounts, mount{Source: host, Target: target, ReadOnly: true})
		argv[0] = target
	}
	spec.Argv = argv
	for _, vm := range c.spec.VolumeMounts {
		v, ok := vols[vm.Name]
		if !ok {
			return nil, cr, nil, fmt.Errorf("volumeMount %s names no volume of the pod", vm.Name)
		}
		src := v.path
		if vm.SubPath != "" {
			src = filepath.Join(src, filepath.Clean("/"+vm.SubPath))
			if v.kind == volumeDir {
				if err := os.MkdirAll(src, 0o755); err != nil {
					return nil, cr, nil, err
				}
			}
		}
		spec.Mounts = append(spec.Mounts, mount{Source: src, Target: vm.MountPath, ReadOnly: vm.ReadOnly || v.kind == volumeFiles})
	}
	return spec, cr, env, nil
}

// hostsFile is the pod's /etc/hosts, as a kubelet writes it.
func (p *podRuntime) hostsFile(pod *corev1.Pod) string {
	var b strings.Builder
	b.WriteString("# Kubernetes-managed hosts file (pgo-local).\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	host := podHostname(pod)
	if pod.Spec.Subdomain != "" {
		fmt.Fprintf(&b, "%s\t%s.%s.%s.svc.%s\t%s\n", p.ip, host, pod.Spec.Subdomain, pod.Namespace, p.node.clusterDomain(), host)
	} else {
		fmt.Fprintf(&b, "%s\t%s\n", p.ip, host)
	}
	for _, a := range pod.Spec.HostAliases {
		fmt.Fprintf(&b, "%s\t%s\n", a.IP, strings.Join(a.Hostnames, "\t"))
	}
	return b.String()
}

func resolvConf(namespace, server string) string {
	return fmt.Sprintf("nameserver %s\nsearch %s.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n", server, namespace)
}

// probe runs a container's startup, readiness and liveness probes until
// ctx ends.
func (p *podRuntime) probe(ctx context.Context, c *containerRuntime, proc *process) {
	pr := &prober{podIP: p.ip, container: &c.spec, exec: func(ctx context.Context, argv []string) error {
		return execIn(ctx, proc.pid(), c.cred, c.env, argv)
	}}
	if sp := c.spec.StartupProbe; sp != nil {
		if !sleepCtx(ctx, time.Duration(sp.InitialDelaySeconds)*time.Second) {
			return
		}
		var st probeState
		for {
			err := pr.probe(ctx, sp)
			if err != nil && ctx.Err() == nil {
				p.event(c, corev1.EventTypeWarning, "Unhealthy", "Startup probe failed: %v", err)
			}
			switch st.observe(sp, err == nil) {
			case 1:
				p.mu.Lock()
				c.started = true
				p.mu.Unlock()
				p.notify()
			case -1:
				p.log("container %s failed its startup probe; restarting it", c.spec.Name)
				p.event(c, corev1.EventTypeNormal, "Killing", "Container %s failed startup probe, will be restarted", c.spec.Name)
				p.restart(c)
				return
			}
			if c.started || !sleepCtx(ctx, probePeriod(sp)) {
				break
			}
		}
		if ctx.Err() != nil {
			return
		}
	}
	if rp := c.spec.ReadinessProbe; rp != nil {
		go func() {
			if !sleepCtx(ctx, time.Duration(rp.InitialDelaySeconds)*time.Second) {
				return
			}
			var st probeState
			for {
				err := pr.probe(ctx, rp)
				if ctx.Err() != nil {
					return
				}
				if err != nil {
					p.event(c, corev1.EventTypeWarning, "Unhealthy", "Readiness probe failed: %v", err)
				}
				if v := st.observe(rp, err == nil); v != 0 {
					if v < 0 && st.failures == max(rp.FailureThreshold, 1) {
						p.log("container %s is not ready: %v", c.spec.Name, err)
					}
					p.setReady(c, v > 0)
				}
				if !sleepCtx(ctx, probePeriod(rp)) {
					return
				}
			}
		}()
	} else {
		p.setReady(c, true)
	}
	if lp := c.spec.LivenessProbe; lp != nil {
		if !sleepCtx(ctx, time.Duration(lp.InitialDelaySeconds)*time.Second) {
			return
		}
		var st probeState
		for {
			err := pr.probe(ctx, lp)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				p.event(c, corev1.EventTypeWarning, "Unhealthy", "Liveness probe failed: %v", err)
			}
			if st.observe(lp, err == nil) < 0 {
				p.log("container %s failed its liveness probe (%v); restarting it", c.spec.Name, err)
				p.event(c, corev1.EventTypeNormal, "Killing", "Container %s failed liveness probe, will be restarted", c.spec.Name)
				p.restart(c)
				return
			}
			if !sleepCtx(ctx, probePeriod(lp)) {
				return
			}
		}
	}
}

// event records a Kubernetes Event about container c, as a kubelet does.
func (p *podRuntime) event(c *containerRuntime, eventType, reason, format string, args ...any) {
	p.node.mu.Lock()
	rec := p.node.events
	p.node.mu.Unlock()
	p.mu.Lock()
	ref, err := reference.GetReference(scheme.Scheme, p.pod)
	p.mu.Unlock()
	if rec == nil || err != nil {
		return
	}
	ref.FieldPath = fmt.Sprintf("spec.containers{%s}", c.spec.Name)
	rec.Eventf(ref, eventType, reason, format, args...)
}

// sleepCtx waits for d, or less when ctx ends; it reports whether ctx is
// still live.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

func (p *podRuntime) setReady(c *containerRuntime, ready bool) {
	p.mu.Lock()
	changed := c.ready != ready && c.state.Running != nil
	if c.state.Running != nil {
		c.ready = ready
	}
	p.mu.Unlock()
	if changed {
		p.notify()
	}
}

func (p *podRuntime) restart(c *containerRuntime) {
	select {
	case c.kill <- struct{}{}:
	default:
	}
}

// update takes a new version of the pod from the API: its metadata (labels
// the proxy and the HA loop read) and, for a kubelet's in-place changes,
// nothing else.
func (p *podRuntime) update(pod *corev1.Pod) {
	p.mu.Lock()
	p.pod.ObjectMeta = *pod.ObjectMeta.DeepCopy()
	if pod.Spec.ActiveDeadlineSeconds != nil {
		p.pod.Spec.ActiveDeadlineSeconds = pod.Spec.ActiveDeadlineSeconds
	}
	p.mu.Unlock()
}

// stop ends the pod: SIGTERM to every container, SIGKILL after grace (zero
// kills at once, as a node loss does). It returns at once; done closes when
// every process has gone.
func (p *podRuntime) stop(grace time.Duration) {
	p.mu.Lock()
	p.stopping = true
	if grace < p.grace {
		p.grace = grace
	}
	p.mu.Unlock()
	p.cancel()
}

func (p *podRuntime) stopGrace() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.grace
}

// stopAll stops whatever container still runs, in parallel.
func (p *podRuntime) stopAll() {
	p.mu.Lock()
	var procs []*process
	for _, c := range append(append([]*containerRuntime{}, p.inits...), p.containers...) {
		if c.proc != nil {
			procs = append(procs, c.proc)
		}
	}
	grace := p.grace
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, proc := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			proc.stop(grace)
		}()
	}
	wg.Wait()
}

// notify tells the status sender that the pod's status changed. It never
// blocks: changes that come while a status is on its way are sent
// together, in the next one.
func (p *podRuntime) notify() {
	select {
	case p.changed <- struct{}{}:
	default:
	}
}

// sendStatus hands the pod's status to the pod controller, which writes it
// to the API, until the pod has stopped (the pod's last status is sent by
// DeletePod). It is the only sender of the pod's statuses, and it takes each
// status when it sends it: several goroutines that each took a snapshot and
// then sent it could deliver an older snapshot after a newer one, and the
// API would keep the older status for good (a container that turned ready
// at the same moment as another stayed not ready).
func (p *podRuntime) sendStatus() {
	defer close(p.statusSent)
	for {
		select {
		case <-p.changed:
		case <-p.done:
			return
		}
		p.sending.Lock()
		p.node.notify(p, p.snapshot())
		p.sending.Unlock()
	}
}

// snapshot is the pod as the API should see it now.
func (p *podRuntime) snapshot() *corev1.Pod {
	p.mu.Lock()
	defer p.mu.Unlock()
	pod := p.pod.DeepCopy()
	pod.Status = p.statusLocked()
	return pod
}

func (p *podRuntime) statusLocked() corev1.PodStatus {
	old := p.pod.Status
	st := corev1.PodStatus{
		Phase:     corev1.PodPending,
		HostIP:    p.node.cfg.Address,
		HostIPs:   []corev1.HostIP{{IP: p.node.cfg.Address}},
		PodIP:     p.ip,
		PodIPs:    []corev1.PodIP{{IP: p.ip}},
		StartTime: &p.startTime,
		QOSClass:  old.QOSClass,
	}
	cond := func(t corev1.PodConditionType, ok bool, reason string) {
		s := corev1.ConditionFalse
		if ok {
			s, reason = corev1.ConditionTrue, ""
		}
		c := corev1.PodCondition{Type: t, Status: s, Reason: reason, LastTransitionTime: transitionTime()}
		if o, seen := p.conditions[t]; seen && o.Status == s {
			c.LastTransitionTime = o.LastTransitionTime
		}
		p.conditions[t] = c
		st.Conditions = append(st.Conditions, c)
	}
	allReady, running, terminated := true, 0, 0
	for _, c := range p.containers {
		cs := p.containerStatus(c)
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
		allReady = allReady && cs.Ready
		if c.state.Running != nil {
			running++
		}
		if c.state.Terminated != nil {
			terminated++
		}
	}
	for _, c := range p.inits {
		st.InitContainerStatuses = append(st.InitContainerStatuses, p.containerStatus(c))
	}
	sort.Slice(st.ContainerStatuses, func(i, j int) bool { return st.ContainerStatuses[i].Name < st.ContainerStatuses[j].Name })
	switch {
	case p.failed:
		st.Phase = corev1.PodFailed
	case p.initialized && terminated == len(p.containers) && p.pod.Spec.RestartPolicy != corev1.RestartPolicyAlways:
		st.Phase = corev1.PodSucceeded
		for _, c := range p.containers {
			if c.state.Terminated.ExitCode != 0 {
				st.Phase = corev1.PodFailed
			}
		}
	case p.initialized && (running > 0 || terminated > 0):
		st.Phase = corev1.PodRunning
	}
	if p.waitingReason != "" {
		st.Reason, st.Message = "", p.waitingMessage
	}
	ready := allReady && st.Phase == corev1.PodRunning && !p.stopping
	cond(corev1.PodReadyToStartContainers, true, "")
	cond(corev1.PodInitialized, p.initialized, "ContainersNotInitialized")
	cond(corev1.ContainersReady, ready, "ContainersNotReady")
	cond(corev1.PodReady, ready, "ContainersNotReady")
	cond(corev1.PodScheduled, true, "")
	return st
}

// transitionTime is now, to the second, as the API keeps it.
func transitionTime() metav1.Time { return metav1.NewTime(time.Now().Truncate(time.Second)) }

func (p *podRuntime) containerStatus(c *containerRuntime) corev1.ContainerStatus {
	started := c.started && c.state.Running != nil
	state := c.state
	if state.Waiting != nil && p.waitingReason != "" && !p.initialized {
		state = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: p.waitingReason, Message: p.waitingMessage}}
	}
	cs := corev1.ContainerStatus{
		Name:                 c.spec.Name,
		State:                state,
		LastTerminationState: c.last,
		Ready:                c.ready && c.state.Running != nil,
		RestartCount:         c.restarts,
		Image:                c.spec.Image,
		ImageID:              "pgo-local://" + c.spec.Image,
		Started:              &started,
	}
	if c.state.Running != nil || c.state.Terminated != nil {
		cs.ContainerID = containerID(p.pod, c)
	}
	return cs
}
