// Package dns is the local environment's cluster DNS server. Over UDP and TCP
// it answers, from Services and Pods (informers' caches):
//
//   - <svc>.<ns>.svc.<domain>: the ClusterIP, or the ready pod IPs of a
//     headless Service (all of them with publishNotReadyAddresses), or a
//     CNAME for an ExternalName Service;
//   - <hostname>.<svc>.<ns>.svc.<domain>: a pod with spec.hostname and
//     spec.subdomain=<svc> under a headless Service, as StatefulSet pods are
//     (<dashed-ip>.<svc>.<ns>.svc.<domain> for endpoints without a hostname);
//   - _<port>._<proto>.<svc>.<ns>.svc.<domain>: SRV records of named ports;
//   - <dashed-ip>.<ns>.pod.<domain>: a pod of that namespace with that IP.
//
// Other names under the domain are NXDOMAIN (so that search paths move on),
// and names outside it are REFUSED: the server never forwards a question.
//
// It is built on golang.org/x/net/dns/dnsmessage, which pgo's module graph
// already has: the server loop is small, and a whole DNS library
// (github.com/miekg/dns) would add a dependency for no feature pgo needs.
package dns

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/dns/dnsmessage"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"pgo.dev/pgo/internal/local/watch"
)

// Defaults of Options.
const (
	DefaultDomain = "cluster.local"
	// DefaultTTL is short, as CoreDNS's: pod IPs behind headless Services
	// change at a failover.
	DefaultTTL = 5
)

const (
	// ednsUDPSize is the largest UDP answer sent to clients that announce
	// EDNS0, the size that avoids IP fragmentation.
	ednsUDPSize = 1232
	// plainUDPSize is the largest UDP answer without EDNS0 (RFC 1035).
	plainUDPSize = 512
	// tcpIdleTimeout closes idle TCP connections.
	tcpIdleTimeout = 10 * time.Second
)

// Options configure a Server.
type Options struct {
	// Addr is the loopback "ip:port" to serve on, UDP and TCP, for
	// example "127.96.0.10:53".
	Addr string
	// Domain is the cluster domain (DefaultDomain when empty).
	Domain string
	// TTL of the answers, in seconds (DefaultTTL when 0).
	TTL uint32
}

// Server is a cluster DNS server. Create it with New and run it with Start.
type Server struct {
	client kubernetes.Interface
	addr   string
	zone   zone
	// cluster is nil until the informers' caches are filled; until then
	// every question gets SERVFAIL.
	cluster atomic.Pointer[Cluster]
}

// New returns a Server for the API server cfg points to.
func New(cfg *rest.Config, opts Options) (*Server, error) {
	ap, err := netip.ParseAddrPort(opts.Addr)
	if err != nil || !ap.Addr().IsLoopback() {
		return nil, fmt.Errorf("the DNS server's address %q must be a loopback ip:port such as 127.96.0.10:53", opts.Addr)
	}
	domain := strings.ToLower(strings.Trim(opts.Domain, "."))
	if domain == "" {
		domain = DefaultDomain
	}
	if opts.TTL == 0 {
		opts.TTL = DefaultTTL
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating a Kubernetes client for the DNS server: %w", err)
	}
	return &Server{client: client, addr: ap.String(), zone: zone{domain: domain, ttl: opts.TTL}}, nil
}

// Start serves until ctx is done, then closes its sockets and returns. It
// returns an error when it cannot listen.
func (s *Server) Start(ctx context.Context) error {
	logger := log.FromContext(ctx).WithName("dns").WithValues("address", s.addr)
	var lc net.ListenConfig
	udp, err := lc.ListenPacket(ctx, "udp", s.addr)
	if err != nil {
		return fmt.Errorf("listening for DNS over UDP: %w", err)
	}
	tcp, err := lc.Listen(ctx, "tcp", s.addr)
	if err != nil {
		_ = udp.Close()
		return fmt.Errorf("listening for DNS over TCP: %w", err)
	}

	factory := watch.NewFactory(s.client)
	services := factory.Core().V1().Services()
	pods := factory.Core().V1().Pods()
	c := Cluster(listers{services: services.Lister(), pods: pods.Lister()})
	_, _ = services.Informer(), pods.Informer() // register before Start
	factory.Start(ctx.Done())
	defer factory.Shutdown()

	var wg sync.WaitGroup
	tcpConns := &connSet{conns: map[net.Conn]struct{}{}}
	wg.Go(func() { s.serveUDP(ctx, udp.(*net.UDPConn)) })
	wg.Go(func() { s.serveTCP(ctx, tcp, tcpConns, &wg) })
	wg.Go(func() {
		if synced(factory.WaitForCacheSync(ctx.Done())) {
			s.cluster.Store(&c)
			logger.Info("answering cluster DNS", "domain", s.zone.domain)
		}
	})

	<-ctx.Done()
	_ = udp.Close()
	_ = tcp.Close()
	tcpConns.closeAll()
	wg.Wait()
	return nil
}

func synced[T comparable](m map[T]bool) bool {
	for _, ok := range m {
		if !ok {
			return false
		}
	}
	return true
}

func (s *Server) serveUDP(ctx context.Context, conn *net.UDPConn) {
	buf := make([]byte, 65535)
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			log.FromContext(ctx).Error(err, "reading a DNS question")
			continue
		}
		if out := s.handle(buf[:n], true); out != nil {
			_, _ = conn.WriteToUDPAddrPort(out, from)
		}
	}
}

func (s *Server) serveTCP(ctx context.Context, ln net.Listener, conns *connSet, wg *sync.WaitGroup) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			log.FromContext(ctx).Error(err, "accepting a DNS connection")
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if !conns.add(conn) {
			_ = conn.Close()
			return
		}
		wg.Go(func() {
			defer conns.remove(conn)
			s.serveConn(conn)
		})
	}
}

// serveConn answers length-prefixed questions on a TCP connection until
// the client closes it or stays idle.
func (s *Server) serveConn(conn net.Conn) {
	var size [2]byte
	for {
		_ = conn.SetDeadline(time.Now().Add(tcpIdleTimeout))
		if _, err := io.ReadFull(conn, size[:]); err != nil {
			return
		}
		in := make([]byte, binary.BigEndian.Uint16(size[:]))
		if _, err := io.ReadFull(conn, in); err != nil {
			return
		}
		out := s.handle(in, false)
		if out == nil {
			return
		}
		// Length and message in one write, one segment: some clients
		// read a TCP answer with a single read.
		if _, err := conn.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(out))), out...)); err != nil {
			return
		}
	}
}

// handle answers one DNS message, or returns nil when it cannot be parsed
// enough to answer.
func (s *Server) handle(in []byte, udp bool) []byte {
	var req dnsmessage.Message
	if err := req.Unpack(in); err != nil {
		var p dnsmessage.Parser
		h, err := p.Start(in)
		if err != nil || h.Response {
			return nil
		}
		return pack(dnsmessage.Message{Header: dnsmessage.Header{ID: h.ID, Response: true, OpCode: h.OpCode, RCode: dnsmessage.RCodeFormatError}})
	}
	if req.Response {
		return nil
	}
	resp := dnsmessage.Message{
		Header:    dnsmessage.Header{ID: req.ID, Response: true, OpCode: req.OpCode, RecursionDesired: req.RecursionDesired},
		Questions: req.Questions,
	}
	limit := 65535
	var opt *dnsmessage.Resource
	for _, r := range req.Additionals {
		if r.Header.Type == dnsmessage.TypeOPT {
			var h dnsmessage.ResourceHeader
			_ = h.SetEDNS0(ednsUDPSize, dnsmessage.RCodeSuccess, false)
			opt = &dnsmessage.Resource{Header: h, Body: &dnsmessage.OPTResource{}}
			if udp {
				limit = max(plainUDPSize, min(int(r.Header.Class), ednsUDPSize))
			}
		}
	}
	if udp && opt == nil {
		limit = plainUDPSize
	}
	cluster := s.cluster.Load()
	switch {
	case req.OpCode != 0:
		resp.RCode = dnsmessage.RCodeNotImplemented
	case len(req.Questions) != 1:
		resp.RCode = dnsmessage.RCodeFormatError
	case cluster == nil:
		resp.RCode = dnsmessage.RCodeServerFailure
	default:
		a := s.zone.resolve(req.Questions[0], *cluster)
		resp.RCode = a.rcode
		resp.Authoritative = a.inZone
		resp.Answers = a.answers
		resp.Additionals = a.additionals
		if a.inZone && len(a.answers) == 0 {
			resp.Authorities = []dnsmessage.Resource{s.zone.soa()}
		}
	}
	if opt != nil {
		resp.Additionals = append(resp.Additionals, *opt)
	}
	out := pack(resp)
	if len(out) > limit {
		// Too large for UDP: the client asks again over TCP.
		resp.Truncated = true
		resp.Answers, resp.Authorities, resp.Additionals = nil, nil, nil
		if opt != nil {
			resp.Additionals = []dnsmessage.Resource{*opt}
		}
		out = pack(resp)
	}
	return out
}

func pack(m dnsmessage.Message) []byte {
	out, err := m.Pack()
	if err != nil {
		// Only names or records pgo built itself get here; answer
		// SERVFAIL rather than nothing.
		m = dnsmessage.Message{Header: m.Header, Questions: m.Questions}
		m.RCode = dnsmessage.RCodeServerFailure
		if out, err = m.Pack(); err != nil {
			return nil
		}
	}
	return out
}

// listers is Cluster over the informers' caches.
type listers struct {
	services corelisters.ServiceLister
	pods     corelisters.PodLister
}

func (l listers) Service(namespace, name string) *corev1.Service {
	svc, err := l.services.Services(namespace).Get(name)
	if err != nil {
		return nil
	}
	return svc
}

func (l listers) Pods(namespace string) []*corev1.Pod {
	pods, _ := l.pods.Pods(namespace).List(labels.Everything())
	return pods
}

// connSet tracks open TCP connections, to close them at shutdown.
type connSet struct {
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

func (c *connSet) add(conn net.Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.conns[conn] = struct{}{}
	return true
}

func (c *connSet) remove(conn net.Conn) {
	c.mu.Lock()
	delete(c.conns, conn)
	c.mu.Unlock()
	_ = conn.Close()
}

func (c *connSet) closeAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for conn := range c.conns {
		_ = conn.Close()
	}
}
