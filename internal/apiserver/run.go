package apiserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"pgo.dev/pgo/internal/pgoapi"
)

// Options are how the apiserver serves.
type Options struct {
	// Address to listen on, such as :8443 or 10.1.2.3:8443.
	Address string
	// CertFile and KeyFile are the certificate to serve; without them the
	// apiserver uses (and makes) the Secret pgoapi.TLSSecret.
	CertFile, KeyFile string
	// Hosts are more names and addresses for a made certificate, besides
	// the Service's names, localhost and the listening address.
	Hosts []string
}

// Run bootstraps the admin user when there is no pgo user, then serves
// HTTPS until ctx is done.
func (s *Server) Run(ctx context.Context, opts Options) error {
	if err := s.Bootstrap(ctx); err != nil {
		return err
	}
	host, _, err := net.SplitHostPort(opts.Address)
	if err != nil {
		return fmt.Errorf("the address %q is not host:port, such as :8443: %w", opts.Address, err)
	}
	getCert, err := s.servingCertificate(ctx, opts.CertFile, opts.KeyFile, append([]string{host}, opts.Hosts...))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", opts.Address)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", opts.Address, err)
	}
	srv := &http.Server{
		Handler:           s.Handler(),
		TLSConfig:         &tls.Config{GetCertificate: getCert, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      3 * time.Minute, // a switchover waits for the new leader
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    1 << 16,
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	s.Log.Info("serving", "address", ln.Addr().String(), "namespace", s.Namespace)
	err = srv.ServeTLS(ln, "", "")
	if errors.Is(err, http.ErrServerClosed) {
		<-done
		return nil
	}
	return err
}

// Bootstrap creates the admin pgo user (role pgoadmin, every permission,
// every namespace) with a generated password when no pgo user exists. The
// password goes in clear into the Secret pgoapi.InitialAdminSecret, for the
// installer to read once; it is never logged.
func (s *Server) Bootstrap(ctx context.Context) error {
	users, err := s.listPrefixed(ctx, pgoapi.PgouserSecretPrefix)
	if err != nil {
		return fmt.Errorf("looking for pgo users: %w", err)
	}
	if len(users) > 0 {
		return nil
	}
	role := pgoroleSecret(s.Namespace, pgoapi.AdminRole, []string{string(pgoapi.PermissionAll)})
	if err := s.Client.Create(ctx, role, fieldOwner); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating the pgo role %s: %w", pgoapi.AdminRole, err)
	}
	password, err := newPassword(DefaultPasswordLength)
	if err != nil {
		return err
	}
	initial := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: pgoapi.InitialAdminSecret, Namespace: s.Namespace},
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{pgoapi.KeyUsername: []byte(pgoapi.AdminUser), pgoapi.KeyPassword: []byte(password)},
	}
	// The clear password first: a crash between the two leaves no user
	// whose password nobody knows. When it exists (an earlier start that
	// crashed, or another apiserver starting now), its password is used.
	if err := s.Client.Create(ctx, initial, fieldOwner); apierrors.IsAlreadyExists(err) {
		if err := s.Client.Get(ctx, client.ObjectKeyFromObject(initial), initial); err != nil {
			return fmt.Errorf("reading Secret %s: %w", pgoapi.InitialAdminSecret, err)
		}
		if p := string(initial.Data[pgoapi.KeyPassword]); p != "" {
			password = p
		} else {
			initial.Data = map[string][]byte{pgoapi.KeyUsername: []byte(pgoapi.AdminUser), pgoapi.KeyPassword: []byte(password)}
			if err := s.Client.Update(ctx, initial, fieldOwner); err != nil {
				return fmt.Errorf("writing Secret %s: %w", pgoapi.InitialAdminSecret, err)
			}
		}
	} else if err != nil {
		return fmt.Errorf("writing Secret %s: %w", pgoapi.InitialAdminSecret, err)
	}
	hash, err := hashPassword(password)
	if err != nil {
		return err
	}
	admin := pgouserSecret(s.Namespace, pgoapi.AdminUser, hash, []string{pgoapi.AdminRole}, nil)
	if err := s.Client.Create(ctx, admin, fieldOwner); apierrors.IsAlreadyExists(err) {
		return nil // another apiserver bootstrapped at the same time
	} else if err != nil {
		return fmt.Errorf("creating the pgo user %s: %w", pgoapi.AdminUser, err)
	}
	s.Log.Info("created the bootstrap pgo user; its password is in a Secret", "user", pgoapi.AdminUser, "secret", pgoapi.InitialAdminSecret, "namespace", s.Namespace)
	return nil
}
