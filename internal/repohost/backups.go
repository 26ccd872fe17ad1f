package repohost

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"pgo.dev/pgo/internal/pgbackrest"
	"pgo.dev/pgo/internal/repohostapi"
	"pgo.dev/pgo/internal/rules"
)

var (
	backupID = regexp.MustCompile(repohostapi.IDPattern)
	// backupSet is a backup's label: a full backup's, or a diff's or
	// incr's (the full's, then its own).
	backupSet    = regexp.MustCompile(`^[0-9]{8}-[0-9]{6}F(_[0-9]{8}-[0-9]{6}[DI])?$`)
	backupTypes  = []string{"full", "diff", "incr"}
	errNotFound  = errors.New("not found")
	repoNumber   = func(n int) bool { return n >= 1 && n <= rules.MaxRepos }
	backupPrefix = func(id string) string { return "backup " + id + ": " }
)

// checkBackup checks a backup request.
func checkBackup(req repohostapi.BackupRequest) error {
	switch {
	case !backupID.MatchString(req.ID):
		return errRequest{fmt.Sprintf("id %q is not a Kubernetes object's name (lowercase letters, digits, '-' and '.')", req.ID)}
	case !slices.Contains(backupTypes, req.Type):
		return errRequest{fmt.Sprintf("type %q is not full, diff or incr", req.Type)}
	case !repoNumber(req.Repo):
		return errRequest{fmt.Sprintf("repo %d is not a repository number from 1 to %d", req.Repo, rules.MaxRepos)}
	}
	for _, o := range req.Options {
		if why := rules.BackupOption(o); why != "" {
			return errRequest{"options: " + why}
		}
	}
	return nil
}

func (m *Manager) postBackup(w http.ResponseWriter, r *http.Request) {
	var req repohostapi.BackupRequest
	if !decode(w, r, &req) {
		return
	}
	st, started, err := m.startBackup(req)
	switch {
	case err != nil:
		m.fail(w, "starting a backup", err)
	case started:
		writeJSON(w, http.StatusAccepted, st)
	default:
		writeJSON(w, http.StatusOK, st)
	}
}

// startBackup starts a backup in the background, unless one runs. A
// request with a known ID answers that backup's status (started false).
func (m *Manager) startBackup(req repohostapi.BackupRequest) (repohostapi.BackupStatus, bool, error) {
	if err := checkBackup(req); err != nil {
		return repohostapi.BackupStatus{}, false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if st, ok := m.backups[req.ID]; ok {
		if st.Type != req.Type || st.Repo != req.Repo {
			return repohostapi.BackupStatus{}, false, errStatus{code: http.StatusConflict,
				err: fmt.Errorf("backup %s is a %s backup of repo%d already; give another id", st.ID, st.Type, st.Repo)}
		}
		return *st, false, nil
	}
	if m.running != "" {
		return repohostapi.BackupStatus{}, false, errStatus{code: http.StatusConflict, backup: m.running,
			err: fmt.Errorf("backup %s is running; one backup runs at a time", m.running)}
	}
	st := &repohostapi.BackupStatus{ID: req.ID, Type: req.Type, Repo: req.Repo, Phase: repohostapi.PhaseRunning, StartTime: time.Now().UTC()}
	m.keep(st)
	m.running = req.ID
	m.wg.Add(1)
	go m.runBackup(st, req)
	return *st, true, nil
}

// keep remembers a status, and forgets the oldest finished ones beyond
// repohostapi.KeptBackups. Called with mu held.
func (m *Manager) keep(st *repohostapi.BackupStatus) {
	m.backups[st.ID] = st
	m.order = append(m.order, st.ID)
	for i := 0; len(m.order) > repohostapi.KeptBackups && i < len(m.order); {
		if id := m.order[i]; id != m.running && id != st.ID {
			delete(m.backups, id)
			m.order = slices.Delete(m.order, i, i+1)
			continue
		}
		i++
	}
}

// runBackup runs pgbackrest backup, and records its label and its end.
func (m *Manager) runBackup(st *repohostapi.BackupStatus, req repohostapi.BackupRequest) {
	defer m.wg.Done()
	args := append([]string{"backup", "--stanza=" + pgbackrest.Stanza, "--type=" + req.Type, "--repo=" + strconv.Itoa(req.Repo),
		"--annotation=" + repohostapi.AnnotationID + "=" + req.ID}, req.Options...)
	log := m.log.WithValues("backup", req.ID, "type", req.Type, "repo", req.Repo)
	log.Info("backup started", "options", req.Options)
	err := m.exec.Run(m.base, m.opts.BackupTimeout, backupPrefix(req.ID), args, func(line string) {
		if label, ok := pgbackrest.BackupLabel(line); ok {
			m.mu.Lock()
			st.Label = label
			m.mu.Unlock()
		}
	})
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now().UTC()
	st.CompletionTime = &now
	m.running = ""
	if err != nil {
		st.Phase = repohostapi.PhaseFailed
		st.Message = message(err)
		log.Info("backup failed", "label", st.Label, "error", st.Message)
		return
	}
	st.Phase = repohostapi.PhaseSucceeded
	log.Info("backup succeeded", "label", st.Label, "took", now.Sub(st.StartTime).Round(time.Second).String())
}

// message is what a failed command said.
func message(err error) string {
	var e *pgbackrest.Error
	if errors.As(err, &e) && !e.TimedOut {
		return e.Message()
	}
	return err.Error()
}

func (m *Manager) getBackup(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !backupID.MatchString(id) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("%q is not a backup's id", id))
		return
	}
	st, err := m.backup(r.Context(), id)
	switch {
	case errors.Is(err, errNotFound):
		writeError(w, http.StatusNotFound, "the repository host knows no backup "+id)
	case err != nil:
		m.fail(w, "reading a backup's status", err)
	default:
		writeJSON(w, http.StatusOK, st)
	}
}

// backup is a backup's status: remembered, or found in the repositories
// by its annotation.
func (m *Manager) backup(ctx context.Context, id string) (repohostapi.BackupStatus, error) {
	m.mu.Lock()
	st, ok := m.backups[id]
	var out repohostapi.BackupStatus
	if ok {
		out = *st
	}
	m.mu.Unlock()
	if ok {
		return out, nil
	}
	info, err := m.info(ctx)
	if err != nil {
		return out, err
	}
	stanzas, err := pgbackrest.ParseInfo(info)
	if err != nil {
		return out, err
	}
	s, _ := pgbackrest.Find(stanzas, pgbackrest.Stanza)
	for _, b := range s.Backups {
		if b.Annotation[repohostapi.AnnotationID] != id {
			continue
		}
		done := b.Stopped()
		out = repohostapi.BackupStatus{ID: id, Type: b.Type, Repo: b.Database.RepoKey, Phase: repohostapi.PhaseSucceeded,
			StartTime: b.Started(), CompletionTime: &done, Label: b.Label}
		if b.Error {
			out.Message = "pgBackRest found errors in the backup's files (page checksums); see pgbackrest info"
		}
		return out, nil
	}
	return out, errNotFound
}

func (m *Manager) postExpire(w http.ResponseWriter, r *http.Request) {
	var req repohostapi.ExpireRequest
	if !decode(w, r, &req) {
		return
	}
	if err := m.expire(r.Context(), req); err != nil {
		m.fail(w, "expiring a backup", err)
		return
	}
	writeJSON(w, http.StatusOK, repohostapi.Reply{Message: fmt.Sprintf("expired backup set %s of repo%d", req.Set, req.Repo)})
}

// expire expires a backup set.
func (m *Manager) expire(ctx context.Context, req repohostapi.ExpireRequest) error {
	switch {
	case !repoNumber(req.Repo):
		return errRequest{fmt.Sprintf("repo %d is not a repository number from 1 to %d", req.Repo, rules.MaxRepos)}
	case !backupSet.MatchString(req.Set):
		return errRequest{fmt.Sprintf("set %q is not a backup's label, such as 20261207-211436F", req.Set)}
	}
	m.mu.Lock()
	running := m.running
	m.mu.Unlock()
	if running != "" {
		return errStatus{code: http.StatusConflict, backup: running, err: fmt.Errorf("backup %s is running; expire after it", running)}
	}
	// pgBackRest expires nothing, with a warning, for a set that does not
	// exist.
	missing := false
	err := m.exec.Run(ctx, m.opts.CommandTimeout, "expire: ", []string{"expire", "--stanza=" + pgbackrest.Stanza,
		"--repo=" + strconv.Itoa(req.Repo), "--set=" + req.Set}, func(line string) {
		missing = missing || strings.Contains(line, "WARN: backup "+req.Set+" does not exist")
	})
	if err != nil {
		return err
	}
	if missing {
		return errStatus{code: http.StatusNotFound, err: fmt.Errorf("repo%d has no backup set %s", req.Repo, req.Set)}
	}
	m.log.Info("backup set expired", "repo", req.Repo, "set", req.Set)
	return nil
}
