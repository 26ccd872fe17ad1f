package node

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// prober runs one container's probes.
type prober struct {
	podIP     string
	container *corev1.Container
	// exec runs a command in the container and reports its exit code.
	exec func(ctx context.Context, argv []string) error
}

// probe runs a probe once: nil is success.
func (p *prober) probe(ctx context.Context, pr *corev1.Probe) error {
	timeout := time.Duration(pr.TimeoutSeconds) * time.Second
	if timeout <= 0 {
		timeout = time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch {
	case pr.HTTPGet != nil:
		return p.httpGet(ctx, pr.HTTPGet)
	case pr.TCPSocket != nil:
		host := pr.TCPSocket.Host
		if host == "" {
			host = p.podIP
		}
		port, err := p.port(pr.TCPSocket.Port)
		if err != nil {
			return err
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return err
		}
		return conn.Close()
	case pr.Exec != nil:
		return p.exec(ctx, pr.Exec.Command)
	}
	return fmt.Errorf("this local node runs httpGet, tcpSocket and exec probes only")
}

func (p *prober) httpGet(ctx context.Context, g *corev1.HTTPGetAction) error {
	host := g.Host
	if host == "" {
		host = p.podIP
	}
	port, err := p.port(g.Port)
	if err != nil {
		return err
	}
	scheme := "http"
	if g.Scheme == corev1.URISchemeHTTPS {
		scheme = "https"
	}
	url := scheme + "://" + net.JoinHostPort(host, strconv.Itoa(port)) + g.Path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "kube-probe/pgo-local")
	for _, h := range g.HTTPHeaders {
		req.Header.Set(h.Name, h.Value)
	}
	resp, err := probeClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return fmt.Errorf("HTTP probe failed with status code %d", resp.StatusCode)
	}
	return nil
}

// probeClient is the client of HTTP probes: like a kubelet's, it does not
// check certificates and keeps no connections.
var probeClient = &http.Client{
	Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // a kubelet does not verify probe targets either
		DisableKeepAlives: true,
	},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// port resolves a probe's port: a number or a container port's name.
func (p *prober) port(port intstr.IntOrString) (int, error) {
	if port.Type == intstr.Int {
		return port.IntValue(), nil
	}
	for _, cp := range p.container.Ports {
		if cp.Name == port.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	return 0, fmt.Errorf("container %s has no port named %s", p.container.Name, port.StrVal)
}

// execIn runs argv in a running container with nsenter and returns an error
// when it exits non-zero.
func execIn(ctx context.Context, pid int, cr credentials, env, argv []string) error {
	line := nsenter(pid, cr, env, argv)
	out, err := exec.CommandContext(ctx, line[0], line[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(truncate(out, 256)))
	}
	return nil
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	return string(b)
}

// probeState counts consecutive results against a probe's thresholds.
type probeState struct {
	successes, failures int32
}

// observe records a result and returns the probe's verdict when a
// threshold is reached: +1 success, -1 failure, 0 undecided.
func (s *probeState) observe(pr *corev1.Probe, ok bool) int {
	success, failure := pr.SuccessThreshold, pr.FailureThreshold
	if success <= 0 {
		success = 1
	}
	if failure <= 0 {
		failure = 3
	}
	if ok {
		s.failures = 0
		s.successes++
		if s.successes >= success {
			return 1
		}
		return 0
	}
	s.successes = 0
	s.failures++
	if s.failures >= failure {
		return -1
	}
	return 0
}

func probePeriod(pr *corev1.Probe) time.Duration {
	if pr.PeriodSeconds <= 0 {
		return 10 * time.Second
	}
	return time.Duration(pr.PeriodSeconds) * time.Second
}
