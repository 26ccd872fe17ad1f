package node

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	"github.com/virtual-kubelet/virtual-kubelet/node/api"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	statsv1alpha1 "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// provider is the node's side of the virtual-kubelet pod controller.
type provider struct{ n *Node }

func (p *provider) CreatePod(ctx context.Context, pod *corev1.Pod) error {
	n := p.n
	key := podKey(pod.Namespace, pod.Name)
	n.mu.Lock()
	if n.stopped {
		n.mu.Unlock()
		return fmt.Errorf("node %s is stopping", n.cfg.Name)
	}
	if _, ok := n.pods[pod.UID]; ok {
		n.mu.Unlock()
		return nil
	}
	prev := n.byName[key]
	n.mu.Unlock()
	// A pod that replaces one of the same name (a StatefulSet's) starts
	// only when the old one's processes are gone: they share volumes.
	if prev != nil {
		select {
		case <-prev.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	ip, err := n.cfg.IPs.Allocate(key, string(pod.UID))
	if err != nil {
		return err
	}
	rt := n.newPodRuntime(pod, ip)
	n.mu.Lock()
	if n.stopped {
		n.mu.Unlock()
		n.cfg.IPs.Release(ip, string(pod.UID))
		return fmt.Errorf("node %s is stopping", n.cfg.Name)
	}
	n.pods[pod.UID] = rt
	n.byName[key] = rt
	n.mu.Unlock()
	n.logf("starting pod %s with IP %s", key, ip)
	go rt.run()
	rt.notify()
	return nil
}

func (p *provider) UpdatePod(_ context.Context, pod *corev1.Pod) error {
	rt := p.n.runtime(pod.Namespace, pod.Name)
	if rt == nil || rt.pod.UID != pod.UID {
		return errdefs.NotFoundf("pod %s/%s is not running on this node", pod.Namespace, pod.Name)
	}
	// A change of metadata (a member's state, its role label) changes
	// nothing the pod's status says: no status write, as a kubelet's
	// status manager writes on a change only.
	rt.update(pod)
	return nil
}

func (p *provider) DeletePod(_ context.Context, pod *corev1.Pod) error {
	n := p.n
	n.mu.Lock()
	rt := n.pods[pod.UID]
	fn := n.notifyFn
	n.mu.Unlock()
	if rt == nil {
		return errdefs.NotFoundf("pod %s/%s is not running on this node", pod.Namespace, pod.Name)
	}
	grace := rt.grace
	if pod.DeletionGracePeriodSeconds != nil {
		grace = time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second
	}
	rt.update(pod)
	n.logf("stopping pod %s/%s (grace %s)", pod.Namespace, pod.Name, grace)
	rt.stop(grace)
	go func() {
		<-rt.done
		// The pod's last status goes after every earlier one.
		<-rt.statusSent
		final := rt.snapshot()
		n.mu.Lock()
		if n.pods[pod.UID] == rt {
			delete(n.pods, pod.UID)
		}
		key := podKey(pod.Namespace, pod.Name)
		if n.byName[key] == rt {
			delete(n.byName, key)
		}
		n.mu.Unlock()
		n.cfg.IPs.Release(rt.ip, string(pod.UID))
		if err := os.RemoveAll(rt.dir); err != nil {
			n.logf("removing pod %s: %v", key, err)
		}
		n.logf("pod %s stopped", key)
		if fn != nil {
			fn(final)
		}
		// As a kubelet does once a pod's containers have stopped: remove
		// it from the API at once rather than at the end of its grace
		// period, so that its replacement (a StatefulSet's) can start.
		zero := int64(0)
		uid := pod.UID
		err := n.client.CoreV1().Pods(pod.Namespace).Delete(context.Background(), pod.Name,
			metav1.DeleteOptions{GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &uid}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			n.logf("removing the stopped pod %s: %v", key, err)
		}
	}()
	return nil
}

func (n *Node) runtime(namespace, name string) *podRuntime {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.byName[podKey(namespace, name)]
}

func (p *provider) GetPod(_ context.Context, namespace, name string) (*corev1.Pod, error) {
	rt := p.n.runtime(namespace, name)
	if rt == nil {
		return nil, errdefs.NotFoundf("pod %s/%s is not on this node", namespace, name)
	}
	return rt.snapshot(), nil
}

func (p *provider) GetPodStatus(ctx context.Context, namespace, name string) (*corev1.PodStatus, error) {
	pod, err := p.GetPod(ctx, namespace, name)
	if err != nil {
		return nil, err
	}
	return &pod.Status, nil
}

func (p *provider) GetPods(context.Context) ([]*corev1.Pod, error) {
	rts := p.n.running()
	pods := make([]*corev1.Pod, 0, len(rts))
	for _, rt := range rts {
		pods = append(pods, rt.snapshot())
	}
	return pods, nil
}

// running is the pods the node runs now.
func (n *Node) running() []*podRuntime {
	n.mu.Lock()
	defer n.mu.Unlock()
	rts := make([]*podRuntime, 0, len(n.pods))
	for _, rt := range n.pods {
		rts = append(rts, rt)
	}
	return rts
}

func (p *provider) NotifyPods(_ context.Context, fn func(*corev1.Pod)) {
	p.n.mu.Lock()
	p.n.notifyFn = fn
	p.n.mu.Unlock()
}

// container finds a container of a pod on this node.
func (n *Node) container(namespace, pod, name string) (*podRuntime, *containerRuntime, error) {
	rt := n.runtime(namespace, pod)
	if rt == nil {
		return nil, nil, errdefs.NotFoundf("pod %s/%s is not on this node", namespace, pod)
	}
	for _, c := range append(append([]*containerRuntime{}, rt.containers...), rt.inits...) {
		if c.spec.Name == name || (name == "" && !c.isInit) {
			return rt, c, nil
		}
	}
	return nil, nil, errdefs.NotFoundf("pod %s/%s has no container %s", namespace, pod, name)
}

// GetContainerLogs serves `kubectl logs`: the container's current or
// previous output, tail and limit applied, followed while it runs.
func (p *provider) GetContainerLogs(ctx context.Context, namespace, podName, containerName string, opts api.ContainerLogOpts) (io.ReadCloser, error) {
	rt, c, err := p.n.container(namespace, podName, containerName)
	if err != nil {
		return nil, err
	}
	rt.mu.Lock()
	restarts := c.restarts
	running := c.proc
	rt.mu.Unlock()
	if opts.Previous {
		if restarts == 0 {
			return nil, errdefs.NotFoundf("container %s has not restarted: it has no previous logs", containerName)
		}
		restarts--
		running = nil
	}
	path := rt.logPath(c.spec.Name, restarts)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, errdefs.NotFoundf("no logs for container %s yet", containerName)
	}
	offset := int64(len(data))
	if opts.Tail > 0 {
		data = tailLines(data, opts.Tail)
	}
	if opts.LimitBytes > 0 && len(data) > opts.LimitBytes {
		data = data[:opts.LimitBytes]
	}
	if !opts.Follow || running == nil {
		return io.NopCloser(bytes.NewReader(data)), nil
	}
	pr, pw := io.Pipe()
	go func() {
		if _, err := pw.Write(data); err != nil {
			return
		}
		f, err := os.Open(path)
		if err != nil {
			pw.CloseWithError(err)
			return
		}
		defer f.Close()
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			pw.CloseWithError(err)
			return
		}
		for {
			if _, err := io.Copy(pw, f); err != nil {
				return
			}
			select {
			case <-ctx.Done():
				pw.Close()
				return
			case <-running.done:
				_, _ = io.Copy(pw, f)
				pw.Close()
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	return pr, nil
}

func tailLines(data []byte, n int) []byte {
	var lines [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() {
		lines = append(lines, append(append([]byte{}, sc.Bytes()...), '\n'))
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return bytes.Join(lines, nil)
}

// RunInContainer serves `kubectl exec` (without a TTY): the command runs in
// the container's namespaces and root, as its user, with its environment.
func (p *provider) RunInContainer(ctx context.Context, namespace, podName, containerName string, cmd []string, attach api.AttachIO) error {
	rt, c, err := p.n.container(namespace, podName, containerName)
	if err != nil {
		return err
	}
	rt.mu.Lock()
	proc, cr, env := c.proc, c.cred, c.env
	rt.mu.Unlock()
	if proc == nil {
		return fmt.Errorf("container %s is not running", containerName)
	}
	line := nsenter(proc.pid(), cr, env, cmd)
	x := exec.CommandContext(ctx, line[0], line[1:]...)
	x.Stdin = attach.Stdin()
	if out := attach.Stdout(); out != nil {
		x.Stdout = out
		defer out.Close()
	}
	if e := attach.Stderr(); e != nil {
		x.Stderr = e
		defer e.Close()
	}
	return x.Run()
}

func (p *provider) AttachToContainer(context.Context, string, string, string, api.AttachIO) error {
	return errdefs.InvalidInput("a local node cannot attach to a container: use kubectl logs -f or kubectl exec")
}

func (p *provider) GetStatsSummary(context.Context) (*statsv1alpha1.Summary, error) {
	return nil, errdefs.InvalidInput("a local node keeps no statistics")
}

func (p *provider) GetMetricsResource(context.Context) ([]*dto.MetricFamily, error) {
	return nil, nil
}

// PortForward serves `kubectl port-forward`: a connection to the pod's
// address and port.
func (p *provider) PortForward(ctx context.Context, namespace, podName string, port int32, stream io.ReadWriteCloser) error {
	rt := p.n.runtime(namespace, podName)
	if rt == nil {
		return errdefs.NotFoundf("pod %s/%s is not on this node", namespace, podName)
	}
	defer stream.Close()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(rt.ip, strconv.Itoa(int(port))))
	if err != nil {
		return err
	}
	defer conn.Close()
	errs := make(chan error, 2)
	go func() { _, err := io.Copy(conn, stream); errs <- err }()
	go func() { _, err := io.Copy(stream, conn); errs <- err }()
	select {
	case err = <-errs:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}
