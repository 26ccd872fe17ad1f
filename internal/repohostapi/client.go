package repohostapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"pgo.dev/pgo/internal/pki"
)

// URL is the API's base URL on a host (a pod's IP or DNS name).
func URL(host string) string {
	return "https://" + net.JoinHostPort(host, strconv.Itoa(Port))
}

// Client is an HTTP client for a cluster's repository host: its
// certificate must be the cluster CA's (caPEM) and name serverName
// (ServerName). timeout limits each request: PathStanza waits for
// pgBackRest, give it minutes.
func Client(caPEM []byte, serverName string, timeout time.Duration) (*http.Client, error) {
	return pki.HTTPSClient(caPEM, serverName, timeout)
}

// API calls one repository host's API.
type API struct {
	HTTP *http.Client
	// URL is the base URL (URL(host)).
	URL string
	// User and Password authenticate (the Secret RepoHostAPISecret).
	User, Password string
}

// Error is an answer other than success.
type Error struct {
	// Code is the HTTP status code.
	Code int
	// Message is the server's Reply.Error.
	Message string
	// Backup is the backup that runs, with a 409.
	Backup string
}

func (e *Error) Error() string {
	return fmt.Sprintf("repository host: %d %s: %s", e.Code, http.StatusText(e.Code), e.Message)
}

// StatusCode is the HTTP status code of an Error, 0 for other errors
// (the repository host could not be reached).
func StatusCode(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

// Health asks whether the repository host's pgBackRest server runs.
func (a API) Health(ctx context.Context) error {
	return a.call(ctx, http.MethodGet, PathHealth, nil, nil, false)
}

// Stanza creates the stanza (and missing S3 buckets).
func (a API) Stanza(ctx context.Context, req StanzaRequest) (StanzaReply, error) {
	var out StanzaReply
	err := a.call(ctx, http.MethodPost, PathStanza, req, &out, true)
	return out, err
}

// StartBackup starts a backup; sent again with the same ID, it answers
// the status of the backup it started.
func (a API) StartBackup(ctx context.Context, req BackupRequest) (BackupStatus, error) {
	var out BackupStatus
	err := a.call(ctx, http.MethodPost, PathBackups, req, &out, true)
	return out, err
}

// Backup is the status of a backup.
func (a API) Backup(ctx context.Context, id string) (BackupStatus, error) {
	var out BackupStatus
	err := a.call(ctx, http.MethodGet, PathBackup+url.PathEscape(id), nil, &out, true)
	return out, err
}

// Info is `pgbackrest info --output=json` (pgbackrest.ParseInfo reads it).
func (a API) Info(ctx context.Context) ([]byte, error) {
	var out json.RawMessage
	err := a.call(ctx, http.MethodGet, PathInfo, nil, &out, true)
	return out, err
}

// Expire expires a backup set.
func (a API) Expire(ctx context.Context, req ExpireRequest) (Reply, error) {
	var out Reply
	err := a.call(ctx, http.MethodPost, PathExpire, req, &out, true)
	return out, err
}

// call sends a request (body as JSON when not nil) and reads the JSON
// answer into out when not nil.
func (a API) call(ctx context.Context, method, path string, body, out any, auth bool) error {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encoding the request to %s: %w", path, err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.URL+path, r)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth {
		req.SetBasicAuth(a.User, a.Password)
	}
	resp, err := a.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("calling the repository host (%s %s): %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("reading the repository host's answer to %s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		var reply Reply
		if json.Unmarshal(data, &reply) != nil || reply.Error == "" {
			reply.Error = string(bytes.TrimSpace(data))
		}
		return &Error{Code: resp.StatusCode, Message: reply.Error, Backup: reply.Backup}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("reading the repository host's answer to %s %s: %w", method, path, err)
	}
	return nil
}
