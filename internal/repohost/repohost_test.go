package repohost_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"pgo.dev/pgo/internal/pgbackrest"
	"pgo.dev/pgo/internal/repohostapi"
	"pgo.dev/pgo/internal/testenv"
)

// TestRepositoryHost: through its API, the repository host creates the
// stanza (twice: nothing changes), takes a full and an incremental backup
// (Running, then Succeeded with pgBackRest's label; both in GET /info with
// their annotation), refuses a second backup while one runs and takes a
// request sent again as the same backup, expires a set, remembers a backup
// after a restart through its annotation, and reports failed backups with
// pgBackRest's error. It lets nobody in without the credentials, nor over
// plain HTTP.
func TestRepositoryHost(t *testing.T) {
	w := testenv.NewWorld(t)
	c := testenv.NewBackRestCluster(w, "hippo", []pgbackrest.Repo{{Index: 1, Path: w.Mkdir("hippo", "repo1")}}, pgbackrest.Secrets{}, nil)
	h := startHost(t, c)
	ctx := context.Background()

	// Credentials, TLS.
	for name, api := range map[string]repohostapi.API{
		"a wrong password": {HTTP: h.api.HTTP, URL: h.api.URL, User: "pgo", Password: "guess"},
		"another user":     {HTTP: h.api.HTTP, URL: h.api.URL, User: "admin", Password: apiPassword},
		"no credentials":   {HTTP: h.api.HTTP, URL: h.api.URL},
	} {
		_, err := api.Info(ctx)
		wantStatus(t, name, err, http.StatusUnauthorized, "authentication required")
		_, err = api.StartBackup(ctx, repohostapi.BackupRequest{ID: "sneaky", Type: "full", Repo: 1})
		wantStatus(t, name, err, http.StatusUnauthorized, "authentication required")
	}
	resp, err := http.Get("http://" + h.address + repohostapi.PathInfo)
	if err == nil {
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || strings.Contains(string(body), "backup") {
			t.Errorf("plain HTTP: %s %s", resp.Status, body)
		}
	}

	// The stanza, twice; a repository the configuration lacks.
	for range 2 {
		if reply := h.stanza(repohostapi.StanzaRequest{Repos: []int{1}}); !slices.Equal(reply.Repos, []int{1}) || len(reply.BucketsCreated) != 0 {
			t.Errorf("stanza: %+v", reply)
		}
	}
	_, err = h.api.Stanza(ctx, repohostapi.StanzaRequest{Repos: []int{1, 3}})
	wantStatus(t, "a stanza in repo3, which the configuration lacks", err, http.StatusServiceUnavailable, "no repo3 yet")

	// A full backup; meanwhile another is refused, the same one sent again
	// is the same backup.
	h.startBackup("hippo-full-1", "full", 1, "--start-fast")
	_, err = h.api.StartBackup(ctx, repohostapi.BackupRequest{ID: "hippo-incr-0", Type: "incr", Repo: 1})
	wantStatus(t, "a second backup", err, http.StatusConflict, "backup hippo-full-1 is running")
	var apiErr *repohostapi.Error
	if errors.As(err, &apiErr) && apiErr.Backup != "hippo-full-1" {
		t.Errorf("the 409 names backup %q", apiErr.Backup)
	}
	again, err := h.api.StartBackup(ctx, repohostapi.BackupRequest{ID: "hippo-full-1", Type: "full", Repo: 1})
	if err != nil || again.ID != "hippo-full-1" {
		t.Errorf("the same backup sent again: %+v, %v", again, err)
	}
	_, err = h.api.StartBackup(ctx, repohostapi.BackupRequest{ID: "hippo-full-1", Type: "diff", Repo: 1})
	wantStatus(t, "another backup with the same id", err, http.StatusConflict, "is a full backup of repo1 already")
	_, err = h.api.Expire(ctx, repohostapi.ExpireRequest{Repo: 1, Set: "20261207-000000F"})
	wantStatus(t, "an expire while a backup runs", err, http.StatusConflict, "hippo-full-1 is running")
	full := h.wait("hippo-full-1")
	if full.Phase != repohostapi.PhaseSucceeded || !strings.HasSuffix(full.Label, "F") {
		t.Fatalf("full backup: %+v", full)
	}

	// An incremental backup; what info says while it runs.
	h.startBackup("hippo-incr-1", "incr", 1, "--start-fast")
	h.waitOutput("backup hippo-incr-1: ", "INFO: backup start archive = ")
	during := h.info()
	t.Logf("info while a backup runs: status %d %q, backup lock held %v, %d backups listed",
		during.Status.Code, during.Status.Message, during.Status.Lock != nil && during.Status.Lock.Backup.Held, len(during.Backups))
	if st, _ := h.api.Backup(ctx, "hippo-incr-1"); st.Phase == repohostapi.PhaseRunning &&
		(during.Status.Code != 0 || during.Status.Lock == nil || !during.Status.Lock.Backup.Held || len(during.Backups) != 1) {
		t.Errorf("info while a backup runs: %+v", during.Status)
	}
	incr := h.wait("hippo-incr-1")
	if incr.Phase != repohostapi.PhaseSucceeded || !strings.HasPrefix(incr.Label, full.Label+"_") || !strings.HasSuffix(incr.Label, "I") {
		t.Fatalf("incr backup: %+v (the full is %s)", incr, full.Label)
	}
	s := h.info()
	backups := s.InRepo(1)
	if len(backups) != 2 || backups[0].Label != full.Label || backups[1].Label != incr.Label {
		t.Fatalf("info has backups %+v, want %s and %s", backups, full.Label, incr.Label)
	}
	for i, id := range []string{"hippo-full-1", "hippo-incr-1"} {
		if got := backups[i].Annotation[repohostapi.AnnotationID]; got != id {
			t.Errorf("backup %s is annotated %q, want %q", backups[i].Label, got, id)
		}
	}

	// A second full backup; the first set (full and incr) expires.
	full2 := h.backup("hippo-full-2", "full", 1, "--start-fast")
	if _, err := h.api.Expire(ctx, repohostapi.ExpireRequest{Repo: 1, Set: full.Label}); err != nil {
		t.Fatalf("expiring %s: %v", full.Label, err)
	}
	if got := h.info().InRepo(1); len(got) != 1 || got[0].Label != full2.Label {
		t.Errorf("after expiring %s, info has %+v", full.Label, got)
	}
	_, err = h.api.Expire(ctx, repohostapi.ExpireRequest{Repo: 1, Set: full.Label})
	wantStatus(t, "an expire of a set that is gone", err, http.StatusNotFound, "repo1 has no backup set "+full.Label)
	_, err = h.api.Expire(ctx, repohostapi.ExpireRequest{Repo: 1, Set: "not a label"})
	wantStatus(t, "an expire of no label", err, http.StatusBadRequest, "is not a backup's label")

	// Requests it refuses.
	for _, c := range []struct {
		req  repohostapi.BackupRequest
		says string
	}{
		{repohostapi.BackupRequest{ID: "Bad_ID", Type: "full", Repo: 1}, "is not a Kubernetes object's name"},
		{repohostapi.BackupRequest{ID: "x", Type: "snapshot", Repo: 1}, "is not full, diff or incr"},
		{repohostapi.BackupRequest{ID: "x", Type: "full", Repo: 5}, "is not a repository number"},
		{repohostapi.BackupRequest{ID: "x", Type: "full", Repo: 1, Options: []string{"--repo1-path=/elsewhere"}}, "--repo1-path is set by pgo"},
		{repohostapi.BackupRequest{ID: "x", Type: "full", Repo: 1, Options: []string{"--cmd=/bin/sh"}}, "--cmd is set by pgo"},
		{repohostapi.BackupRequest{ID: "x", Type: "full", Repo: 1, Options: []string{"--exclude=base"}}, "is not an option pgo passes"},
	} {
		_, err := h.api.StartBackup(ctx, c.req)
		wantStatus(t, "backup "+c.req.ID, err, http.StatusBadRequest, c.says)
	}
	_, err = h.api.Backup(ctx, "unknown")
	wantStatus(t, "an unknown backup", err, http.StatusNotFound, "knows no backup unknown")

	// A restarted repository host finds its backups by their annotation.
	h.stop()
	h.start()
	got, err := h.api.Backup(ctx, "hippo-full-2")
	if err != nil || got.Phase != repohostapi.PhaseSucceeded || got.Label != full2.Label || got.Repo != 1 || got.Type != "full" || got.CompletionTime == nil {
		t.Errorf("after a restart, backup hippo-full-2: %+v, %v; want Succeeded with label %s", got, err, full2.Label)
	}
	_, err = h.api.Backup(ctx, "hippo-full-1")
	wantStatus(t, "an expired backup after a restart", err, http.StatusNotFound, "knows no backup")

	// Failures: a repository the configuration lacks; PostgreSQL stopped.
	h.startBackup("hippo-repo3", "full", 3)
	if st := h.wait("hippo-repo3"); st.Phase != repohostapi.PhaseFailed || !strings.Contains(st.Message, "[032]: key '3' is not valid for 'repo' option") {
		t.Errorf("a backup to repo3: %+v", st)
	} else {
		t.Logf("a backup to repo3: %s", st.Message)
	}
	c.PG.Stop()
	h.startBackup("hippo-stopped", "full", 1, "--start-fast")
	if st := h.wait("hippo-stopped"); st.Phase != repohostapi.PhaseFailed || !strings.Contains(st.Message, "[056]") {
		t.Errorf("a backup of a stopped PostgreSQL: %+v", st)
	} else {
		t.Logf("a backup of a stopped PostgreSQL: %s", st.Message)
	}

	// Its output names whose lines they are, and holds no password.
	out := h.out.String()
	for _, want := range []string{"backup hippo-full-1: ", "INFO: new backup label = " + full.Label, "stanza-create: ", "pgbackrest server: "} {
		if !strings.Contains(out, want) {
			t.Errorf("the output lacks %q", want)
		}
	}
	if strings.Contains(out, apiPassword) {
		t.Error("the output holds the API password")
	}
}

// TestRepositoryHostS3: the stanza request creates the missing bucket of an
// S3 repository (once: the second finds it), a backup goes to the
// encrypted S3 repository, and neither the repository host's output nor
// its answers hold the S3 keys or the cipher passphrase.
func TestRepositoryHostS3(t *testing.T) {
	w := testenv.NewWorld(t)
	s3repo, keys, s3 := w.S3Repo(2, "pgo-repohost")
	s3repo.Encrypted = true
	const passphrase = "the-cipher-passphrase-of-the-test"
	repos := []pgbackrest.Repo{{Index: 1, Path: w.Mkdir("hippo", "repo1")}, s3repo}
	c := testenv.NewBackRestCluster(w, "hippo", repos, pgbackrest.Secrets{
		S3Keys: map[int][2]string{2: keys}, CipherPasses: map[int]string{2: passphrase},
	}, nil)
	h := startHost(t, c)
	bucket := filepath.Join(s3.Dir, "pgo-repohost")
	if _, err := os.Stat(bucket); err == nil {
		t.Fatal("the bucket exists before the stanza request")
	}

	reply := h.stanza(repohostapi.StanzaRequest{Repos: []int{1, 2}})
	if !slices.Equal(reply.Repos, []int{1, 2}) || !slices.Equal(reply.BucketsCreated, []int{2}) {
		t.Errorf("the first stanza request: %+v", reply)
	}
	if _, err := os.Stat(bucket); err != nil {
		t.Errorf("the bucket was not created: %v", err)
	}
	if reply := h.stanza(repohostapi.StanzaRequest{}); len(reply.BucketsCreated) != 0 {
		t.Errorf("the second stanza request: %+v", reply)
	}

	st := h.backup("hippo-s3-full", "full", 2, "--start-fast")
	raw, err := h.api.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s := testenv.FindStanza(t, raw)
	if b := s.InRepo(2); len(b) != 1 || b[0].Label != st.Label || b[0].Annotation[repohostapi.AnnotationID] != "hippo-s3-full" {
		t.Errorf("repo2 has backups %+v, want %s", b, st.Label)
	}
	for _, r := range s.Repos {
		if r.Key == 2 && r.Cipher != pgbackrest.CipherType {
			t.Errorf("repo2 is not encrypted: %+v", r)
		}
	}

	answers := string(raw) + fmt.Sprintf("%+v %+v", reply, st)
	for name, secret := range map[string]string{"S3 key": keys[0], "S3 secret key": keys[1], "cipher passphrase": passphrase} {
		if strings.Contains(h.out.String(), secret) {
			t.Errorf("the repository host's output holds the %s", name)
		}
		if strings.Contains(answers, secret) {
			t.Errorf("an answer of the repository host holds the %s", name)
		}
	}
	if !strings.Contains(h.out.String(), "--repo2-s3-key=<redacted>") {
		t.Error("pgBackRest did not print its options as expected: the check for secrets may be looking at nothing")
	}
}

// TestStanzaOfAnotherCluster: a repository that holds the stanza of
// another PostgreSQL cluster (another system identifier) is refused with
// an error that says so.
func TestStanzaOfAnotherCluster(t *testing.T) {
	w := testenv.NewWorld(t)
	shared := []pgbackrest.Repo{{Index: 1, Path: w.Mkdir("shared-repo")}}
	other := testenv.NewBackRestCluster(w, "rhino", shared, pgbackrest.Secrets{}, nil)
	other.Repo("stanza-create")
	c := testenv.NewBackRestCluster(w, "hippo", shared, pgbackrest.Secrets{}, nil)
	h := startHost(t, c)
	_, err := h.api.Stanza(context.Background(), repohostapi.StanzaRequest{})
	wantStatus(t, "a stanza over another cluster's", err, http.StatusConflict, "holds stanza db of another PostgreSQL cluster")
	sysid := other.PG.Query("SELECT system_identifier FROM pg_control_system()")
	if err != nil && !strings.Contains(err.Error(), "system identifier "+sysid) {
		t.Errorf("the error does not name the other cluster's system identifier %s: %v", sysid, err)
	}
	t.Logf("%v", err)
}
