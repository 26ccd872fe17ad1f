package environment

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"pgo.dev/pgo/internal/controlplane"
	"pgo.dev/pgo/internal/naming"
	"pgo.dev/pgo/internal/pgoapi"
)

// PGOAccess is how a user on this machine reaches pgo's apiserver.
type PGOAccess struct {
	// URL is the apiserver's address on 127.0.0.1 (its certificate names
	// 127.0.0.1), forwarded to its Service.
	URL string
	// CAFile holds the CA that signed the apiserver's certificate.
	CAFile string
	// Username and Password are the bootstrap admin's.
	Username, Password string
	// UserFile is a pgouser file ("username:password").
	UserFile string
}

// ForwardAPIServer listens on 127.0.0.1:port (any free port when 0) and
// forwards each connection to pgo's apiserver Service, as `kubectl
// port-forward` would, until ctx ends. It returns the pgo user's access,
// with the admin's credentials and CA written into the state directory.
func (e *Env) ForwardAPIServer(ctx context.Context, port int) (*PGOAccess, error) {
	var svc corev1.Service
	key := types.NamespacedName{Namespace: OperatorNamespace, Name: pgoapi.ServiceName}
	var tlsSecret, admin corev1.Secret
	err := e.waitFor(ctx, 2*time.Minute, "pgo's apiserver Service, certificate and admin user", func(ctx context.Context) (bool, error) {
		if err := e.Client.Get(ctx, key, &svc); err != nil {
			return false, err
		}
		if err := e.Client.Get(ctx, types.NamespacedName{Namespace: OperatorNamespace, Name: pgoapi.TLSSecret}, &tlsSecret); err != nil {
			return false, err
		}
		if err := e.Client.Get(ctx, types.NamespacedName{Namespace: OperatorNamespace, Name: pgoapi.InitialAdminSecret}, &admin); err != nil {
			return false, err
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	backend := net.JoinHostPort(svc.Spec.ClusterIP, strconv.Itoa(pgoapi.DefaultPort))
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("listening for pgo's apiserver on 127.0.0.1:%d: %w", port, err)
	}
	e.run(ctx, "apiserver forward", func(ctx context.Context) error {
		go func() {
			<-ctx.Done()
			l.Close()
		}()
		for {
			conn, err := l.Accept()
			if err != nil {
				return nil
			}
			go forward(ctx, conn, backend)
		}
	})
	a := &PGOAccess{
		URL:      "https://" + l.Addr().String(),
		CAFile:   filepath.Join(e.opts.Dir, "pgo-ca.crt"),
		Username: string(admin.Data[pgoapi.KeyUsername]),
		Password: string(admin.Data[pgoapi.KeyPassword]),
		UserFile: filepath.Join(e.opts.Dir, "pgouser"),
	}
	if err := os.WriteFile(a.CAFile, tlsSecret.Data[naming.KeyCACert], 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(a.UserFile, []byte(a.Username+":"+a.Password+"\n"), 0o600); err != nil {
		return nil, err
	}
	return a, nil
}

func forward(ctx context.Context, conn net.Conn, backend string) {
	defer conn.Close()
	var d net.Dialer
	up, err := d.DialContext(ctx, "tcp", backend)
	if err != nil {
		return
	}
	defer up.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, conn); done <- struct{}{} }()
	go func() { _, _ = io.Copy(conn, up); done <- struct{}{} }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// WriteAccessFiles forwards pgo's apiserver to 127.0.0.1:8443, writes
// env.sh (KUBECONFIG, PATH, PGO_APISERVER_URL, PGO_CA_CERT, PGOUSER) into
// the state directory and returns the lines that tell a user how to reach
// the environment.
func (e *Env) WriteAccessFiles(ctx context.Context) (string, error) {
	assets, err := controlplane.AssetsDir()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(e.opts.RepoRoot, "bin")
	a, err := e.ForwardAPIServer(ctx, pgoapi.DefaultPort)
	if err != nil {
		return "", err
	}
	envFile := filepath.Join(e.opts.Dir, "env.sh")
	script := fmt.Sprintf(`# pgo's local environment: source this file.
export KUBECONFIG=%s
export PATH=%s:%s:$PATH
export %s=%s
export %s=%s
export %s=%s
export %s=pgouser1
`, e.Kubeconfig, bin, assets, pgoapi.EnvAPIServerURL, a.URL, pgoapi.EnvCACert, a.CAFile, pgoapi.EnvUserFile, a.UserFile, pgoapi.EnvNamespace)
	if err := os.WriteFile(envFile, []byte(script), 0o644); err != nil {
		return "", err
	}
	return fmt.Sprintf(`    source %s
    pgo create namespace pgouser1
    pgo create cluster hippo --replica-count=1 --wait
    pgo show cluster hippo
    kubectl get pods -A
`, envFile), nil
}
