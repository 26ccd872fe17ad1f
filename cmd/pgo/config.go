package main

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"pgo.dev/pgo/internal/pgoapi"
)

// globalFlags are the flags every command takes.
type globalFlags struct {
	apiserverURL string
	namespace    string
	caCert       string
	// insecureHTTP allows an http:// apiserver, whose requests carry the
	// pgo user's password in clear.
	insecureHTTP bool
}

// environment is what pgo reads from the process: variables and the home
// directory. Tests give their own.
type environment struct {
	getenv  func(string) string
	homeDir func() (string, error)
	// stderr takes warnings; none are written when it is nil.
	stderr io.Writer
}

func osEnvironment() environment {
	return environment{getenv: os.Getenv, homeDir: os.UserHomeDir, stderr: os.Stderr}
}

// credentials are a pgo user's name and password.
type credentials struct {
	username, password string
}

// connection is everything needed to call the apiserver.
type connection struct {
	baseURL *url.URL
	// roots verify the apiserver's certificate; nil for plain HTTP.
	roots *x509.CertPool
	// caFile is where roots came from, for error messages.
	caFile string
	creds  credentials
}

// resolveConnection combines flags and environment into a connection: a flag
// wins over its environment variable.
func resolveConnection(flags globalFlags, env environment) (connection, error) {
	var conn connection

	raw := firstNonEmpty(flags.apiserverURL, env.getenv(pgoapi.EnvAPIServerURL))
	if raw == "" {
		return conn, fmt.Errorf("no apiserver address: give --apiserver-url or set %s, such as https://127.0.0.1:8443", pgoapi.EnvAPIServerURL)
	}
	u, err := parseAPIServerURL(raw)
	if err != nil {
		return conn, err
	}
	conn.baseURL = u
	if u.Scheme == "http" && !flags.insecureHTTP {
		return conn, fmt.Errorf("apiserver address %s is plain HTTP, which sends the pgo user's password in clear; use https:// (with --pgo-ca-cert), or give --insecure-http for an apiserver you reach only on a trusted network", raw)
	}

	if u.Scheme == "https" {
		conn.caFile = firstNonEmpty(flags.caCert, env.getenv(pgoapi.EnvCACert))
		if conn.caFile == "" {
			return conn, fmt.Errorf("no CA certificate to verify the apiserver with: give --pgo-ca-cert or set %s to the PEM file of the CA that signed the apiserver's certificate", pgoapi.EnvCACert)
		}
		if conn.roots, err = loadCACert(conn.caFile); err != nil {
			return conn, err
		}
	}

	if conn.creds, err = resolveCredentials(env); err != nil {
		return conn, err
	}
	return conn, nil
}

// parseAPIServerURL checks that raw is an http or https URL with a host.
func parseAPIServerURL(raw string) (*url.URL, error) {
	if !strings.HasPrefix(raw, "https://") && !strings.HasPrefix(raw, "http://") {
		return nil, fmt.Errorf("apiserver address %q must start with https:// (or http:// for an apiserver without TLS), such as https://127.0.0.1:8443", raw)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("apiserver address %q is not a URL (%w); give one such as https://127.0.0.1:8443", raw, err)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("apiserver address %q has no host; give one such as https://127.0.0.1:8443", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("apiserver address %q must not have a query or fragment; give only scheme, host and port", raw)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return u, nil
}

// loadCACert reads the PEM certificates in file into a pool.
func loadCACert(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading the apiserver's CA certificate (--pgo-ca-cert or %s): %w", pgoapi.EnvCACert, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("the apiserver's CA certificate file %s holds no PEM certificate; give the CA's certificate (-----BEGIN CERTIFICATE-----)", file)
	}
	return pool, nil
}

// resolveCredentials takes the pgo user from PGOUSERNAME and PGOUSERPASS,
// else from the file $PGOUSER or ~/.pgouser.
func resolveCredentials(env environment) (credentials, error) {
	user, pass := env.getenv(pgoapi.EnvUsername), env.getenv(pgoapi.EnvPassword)
	switch {
	case user != "" && pass != "":
		return credentials{username: user, password: pass}, nil
	case user != "" || pass != "":
		return credentials{}, fmt.Errorf("set both %s and %s, or neither to use ~/%s", pgoapi.EnvUsername, pgoapi.EnvPassword, pgoapi.DefaultUserFile)
	}

	file := env.getenv(pgoapi.EnvUserFile)
	if file == "" {
		home, err := env.homeDir()
		if err != nil {
			return credentials{}, fmt.Errorf("finding the home directory for ~/%s: %w; set %s and %s instead", pgoapi.DefaultUserFile, err, pgoapi.EnvUsername, pgoapi.EnvPassword)
		}
		file = filepath.Join(home, pgoapi.DefaultUserFile)
	}
	data, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return credentials{}, fmt.Errorf("no pgo user: set %s and %s, or write username:password into %s", pgoapi.EnvUsername, pgoapi.EnvPassword, file)
	}
	if err != nil {
		return credentials{}, fmt.Errorf("reading the pgo user from %s: %w", file, err)
	}
	creds, err := parseUserFile(string(data))
	if err != nil {
		return credentials{}, fmt.Errorf("%s: %w", file, err)
	}
	if info, err := os.Stat(file); err == nil && info.Mode().Perm()&0o077 != 0 && env.stderr != nil {
		fmt.Fprintf(env.stderr, "pgo: warning: %s holds a password and others may read it (mode %04o); run chmod 600 %s\n", file, info.Mode().Perm(), file)
	}
	return creds, nil
}

// parseUserFile reads "username:password" from the first line of a .pgouser
// file.
func parseUserFile(data string) (credentials, error) {
	line, _, _ := strings.Cut(data, "\n")
	line = strings.TrimSpace(line)
	user, pass, ok := strings.Cut(line, ":")
	if !ok || user == "" || pass == "" {
		return credentials{}, errors.New("the first line must be username:password")
	}
	return credentials{username: user, password: pass}, nil
}

// resolveNamespace is the namespace a command works in.
func resolveNamespace(flags globalFlags, env environment) (string, error) {
	ns := firstNonEmpty(flags.namespace, env.getenv(pgoapi.EnvNamespace))
	if ns == "" {
		return "", fmt.Errorf("no namespace: give -n NAMESPACE or set %s", pgoapi.EnvNamespace)
	}
	if err := validateNamespace(ns); err != nil {
		return "", err
	}
	return ns, nil
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
