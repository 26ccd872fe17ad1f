package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"pgo.dev/pgo/internal/pgoapi"
	"pgo.dev/pgo/internal/version"
)

// requestTimeout bounds one call to the apiserver.
const requestTimeout = 60 * time.Second

// maxResponseBytes bounds what pgo reads of an answer.
const maxResponseBytes = 16 << 20

// apiClient calls the apiserver: JSON bodies, HTTP Basic authentication,
// the apiserver's certificate checked against the given CA.
type apiClient struct {
	base   *url.URL
	http   *http.Client
	creds  credentials
	caFile string
	// serverVersion is the apiserver's version from its last answer.
	serverVersion string
}

func newAPIClient(conn connection) *apiClient {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.Proxy = nil
	if conn.roots != nil {
		transport.TLSClientConfig = &tls.Config{RootCAs: conn.roots, MinVersion: tls.VersionTLS12}
	}
	return &apiClient{
		base:   conn.baseURL,
		http:   &http.Client{Transport: transport, Timeout: requestTimeout},
		creds:  conn.creds,
		caFile: conn.caFile,
	}
}

func (c *apiClient) get(ctx context.Context, path string, query url.Values, out any) error {
	return c.do(ctx, http.MethodGet, path, query, nil, out)
}

func (c *apiClient) post(ctx context.Context, path string, in, out any) error {
	return c.do(ctx, http.MethodPost, path, nil, in, out)
}

func (c *apiClient) patch(ctx context.Context, path string, in, out any) error {
	return c.do(ctx, http.MethodPatch, path, nil, in, out)
}

func (c *apiClient) delete(ctx context.Context, path string, query url.Values, out any) error {
	return c.do(ctx, http.MethodDelete, path, query, nil, out)
}

// do sends one request; in (when not nil) is the JSON body, out (when not
// nil) receives the JSON answer.
func (c *apiClient) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	target := c.base.String() + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}

	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encoding the request: %w", err)
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return fmt.Errorf("building the request %s %s: %w", method, path, err)
	}
	if in != nil {
		req.Header.Set(pgoapi.HeaderContentType, pgoapi.ContentTypeJSON)
	}
	req.Header.Set("Accept", pgoapi.ContentTypeJSON)
	req.Header.Set(pgoapi.HeaderClientVersion, version.Version)
	req.SetBasicAuth(c.creds.username, c.creds.password)

	resp, err := c.http.Do(req)
	if err != nil {
		return c.transportError(err)
	}
	defer resp.Body.Close()
	if v := resp.Header.Get(pgoapi.HeaderServerVersion); v != "" {
		c.serverVersion = v
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return fmt.Errorf("reading the apiserver's answer to %s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		return c.statusError(resp.StatusCode, data)
	}
	if out == nil || len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decoding the apiserver's answer to %s %s: %w", method, path, err)
	}
	return nil
}

// transportError explains a failure to reach the apiserver.
func (c *apiClient) transportError(err error) error {
	var unknownAuthority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.As(err, &unknownAuthority):
		return fmt.Errorf("the apiserver at %s has a certificate that the CA in %s did not sign; set --pgo-ca-cert or %s to the apiserver's CA certificate (%w)", c.base.Host, c.caFile, pgoapi.EnvCACert, err)
	case errors.As(err, &hostname):
		return fmt.Errorf("the apiserver's certificate is not valid for %s; use the host name or address its certificate names in --apiserver-url (%w)", c.base.Host, err)
	case errors.As(err, &invalid):
		return fmt.Errorf("the apiserver's certificate is not valid (%w)", err)
	}
	return fmt.Errorf("calling the apiserver at %s: %w; check --apiserver-url or %s", c.base.Redacted(), err, pgoapi.EnvAPIServerURL)
}

// statusError turns an error answer into a *pgoapi.Error whose message
// tells the user what to change.
func (c *apiClient) statusError(status int, body []byte) error {
	e := &pgoapi.Error{Code: status}
	if err := json.Unmarshal(body, e); err != nil || e.Message == "" {
		e.Message = strings.TrimSpace(string(body))
	}
	e.Code = status
	switch {
	case status == http.StatusUnauthorized:
		e.Message = fmt.Sprintf("the apiserver refused the credentials of pgo user %q: check %s and %s, or ~/%s", c.creds.username, pgoapi.EnvUsername, pgoapi.EnvPassword, pgoapi.DefaultUserFile)
	case status == http.StatusForbidden && e.Message == "":
		e.Message = fmt.Sprintf("pgo user %q is not allowed to do this", c.creds.username)
	case e.Message == "":
		e.Message = fmt.Sprintf("the apiserver answered %d %s", status, http.StatusText(status))
	}
	for _, f := range e.Fields {
		e.Message += fmt.Sprintf("\n\t%s: %s", f.Field, f.Message)
	}
	return e
}
