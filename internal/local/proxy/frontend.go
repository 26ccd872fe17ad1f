package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/log"
)

// frontend is the listener on one ClusterIP and port, and the connections it
// forwards.
type frontend struct {
	ln          net.Listener
	dialTimeout time.Duration
	next        atomic.Uint64 // round-robin position

	mu       sync.Mutex
	current  Route
	sessions map[*session]struct{}
	closed   bool
}

// session is one forwarded connection.
type session struct {
	client, backend net.Conn
	// addr is the backend's "ip:port".
	addr string
	once sync.Once
}

func (s *session) close() {
	s.once.Do(func() {
		_ = s.client.Close()
		_ = s.backend.Close()
	})
}

func listen(ctx context.Context, addr string, route Route, dialTimeout time.Duration, wg *sync.WaitGroup) (*frontend, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s for Service %s: %w", addr, route.Service, err)
	}
	f := &frontend{ln: ln, dialTimeout: dialTimeout, current: route, sessions: map[*session]struct{}{}}
	wg.Go(func() { f.serve(ctx, wg) })
	return f, nil
}

func (f *frontend) route() Route {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.current
}

// update replaces the route and closes the connections to backends that left
// it.
func (f *frontend) update(route Route) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.current = route
	for s := range f.sessions {
		if !slices.Contains(route.Backends, s.addr) {
			s.close()
			delete(f.sessions, s)
		}
	}
}

// close stops listening and closes every connection.
func (f *frontend) close() {
	_ = f.ln.Close()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	for s := range f.sessions {
		s.close()
		delete(f.sessions, s)
	}
}

func (f *frontend) serve(ctx context.Context, wg *sync.WaitGroup) {
	for {
		conn, err := f.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			log.FromContext(ctx).Error(err, "accepting a connection", "address", f.ln.Addr().String())
			time.Sleep(10 * time.Millisecond) // e.g. out of file descriptors
			continue
		}
		wg.Go(func() { f.forward(ctx, conn) })
	}
}

// forward connects the client to a backend, trying each in round-robin order
// once, and copies both ways until both sides are done. Without a backend
// that accepts, the client's connection is closed at once.
func (f *frontend) forward(ctx context.Context, client net.Conn) {
	s, err := f.connect(ctx, client)
	if err != nil {
		log.FromContext(ctx).V(1).Info("dropping a connection", "address", f.ln.Addr().String(), "reason", err.Error())
		_ = client.Close()
		return
	}
	defer f.forget(s)
	done := make(chan struct{}, 2)
	go pipe(s, s.backend, s.client, done)
	pipe(s, s.client, s.backend, done)
	<-done
	<-done
}

func (f *frontend) connect(ctx context.Context, client net.Conn) (*session, error) {
	route := f.route()
	n := len(route.Backends)
	if n == 0 {
		return nil, errNoBackend
	}
	start := int(f.next.Add(1) % uint64(n))
	var errs []error
	for i := range n {
		addr := route.Backends[(start+i)%n]
		d := net.Dialer{Timeout: f.dialTimeout}
		backend, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s := &session{client: client, backend: backend, addr: addr}
		// Register the session only if its backend is still in the route:
		// an update between choosing and connecting must not leave a
		// connection to a backend that left the Service.
		f.mu.Lock()
		if f.closed {
			f.mu.Unlock()
			_ = backend.Close()
			return nil, errors.New("the Service's listener is closed")
		}
		if !slices.Contains(f.current.Backends, addr) {
			f.mu.Unlock()
			_ = backend.Close()
			errs = append(errs, fmt.Errorf("%s left the Service while connecting", addr))
			continue
		}
		f.sessions[s] = struct{}{}
		f.mu.Unlock()
		return s, nil
	}
	return nil, errors.Join(errs...)
}

func (f *frontend) forget(s *session) {
	f.mu.Lock()
	delete(f.sessions, s)
	f.mu.Unlock()
	s.close()
}

// pipe copies src to dst. At the end of src it half-closes dst, so that the
// other direction goes on; on an error it closes the session.
func pipe(s *session, dst, src net.Conn, done chan<- struct{}) {
	defer func() { done <- struct{}{} }()
	if _, err := io.Copy(dst, src); err != nil {
		s.close()
		return
	}
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		if err := cw.CloseWrite(); err == nil {
			return
		}
	}
	s.close()
}
