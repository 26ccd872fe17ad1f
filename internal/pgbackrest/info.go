package pgbackrest

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// StanzaInfo is one stanza of `pgbackrest info --output=json`.
type StanzaInfo struct {
	Name    string       `json:"name"`
	Status  Status       `json:"status"`
	Cipher  string       `json:"cipher"`
	DB      []DBInfo     `json:"db"`
	Repos   []RepoInfo   `json:"repo"`
	Archive []Archive    `json:"archive"`
	Backups []BackupInfo `json:"backup"`
}

// Status is a stanza's or a repository's status: code 0 is "ok".
type Status struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Lock    *struct {
		Backup struct {
			Held bool `json:"held"`
		} `json:"backup"`
	} `json:"lock,omitempty"`
}

// DBInfo is a PostgreSQL cluster the stanza has held (a new one after an
// upgrade or a stanza upgrade).
type DBInfo struct {
	ID       int    `json:"id"`
	RepoKey  int    `json:"repo-key"`
	SystemID uint64 `json:"system-id"`
	Version  string `json:"version"`
}

// RepoInfo is one repository of the stanza.
type RepoInfo struct {
	Key    int    `json:"key"`
	Cipher string `json:"cipher"`
	Status Status `json:"status"`
}

// Archive is the WAL range a repository holds for one database.
type Archive struct {
	Database struct {
		ID      int `json:"id"`
		RepoKey int `json:"repo-key"`
	} `json:"database"`
	ID  string `json:"id"`
	Min string `json:"min"`
	Max string `json:"max"`
}

// BackupInfo is one backup, as pgBackRest writes it.
type BackupInfo struct {
	Label      string            `json:"label"`
	Type       string            `json:"type"`
	Prior      *string           `json:"prior"`
	Reference  []string          `json:"reference"`
	Annotation map[string]string `json:"annotation,omitempty"`
	Error      bool              `json:"error"`
	Timestamp  struct {
		Start int64 `json:"start"`
		Stop  int64 `json:"stop"`
	} `json:"timestamp"`
	// Archive is the WAL the backup needs to be consistent.
	Archive  Range `json:"archive"`
	LSN      Range `json:"lsn"`
	Database struct {
		ID      int `json:"id"`
		RepoKey int `json:"repo-key"`
	} `json:"database"`
	Info struct {
		// Size is the database's; Delta what this backup copied.
		Size       int64 `json:"size"`
		Delta      int64 `json:"delta"`
		Repository struct {
			Size  int64 `json:"size"`
			Delta int64 `json:"delta"`
		} `json:"repository"`
	} `json:"info"`
}

// Range is a start and a stop.
type Range struct {
	Start string `json:"start"`
	Stop  string `json:"stop"`
}

// Started and Stopped are the backup's times.
func (b BackupInfo) Started() time.Time { return time.Unix(b.Timestamp.Start, 0).UTC() }

// Stopped is when the backup finished.
func (b BackupInfo) Stopped() time.Time { return time.Unix(b.Timestamp.Stop, 0).UTC() }

// ParseInfo reads `pgbackrest info --output=json`.
func ParseInfo(data []byte) ([]StanzaInfo, error) {
	var out []StanzaInfo
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("reading pgbackrest info: %w", err)
	}
	return out, nil
}

// Find is the stanza named name, if there.
func Find(stanzas []StanzaInfo, name string) (StanzaInfo, bool) {
	i := slices.IndexFunc(stanzas, func(s StanzaInfo) bool { return s.Name == name })
	if i < 0 {
		return StanzaInfo{}, false
	}
	return stanzas[i], true
}

// InRepo are the backups of a repository, oldest first.
func (s StanzaInfo) InRepo(key int) []BackupInfo {
	var out []BackupInfo
	for _, b := range s.Backups {
		if b.Database.RepoKey == key {
			out = append(out, b)
		}
	}
	return out
}

// ArchiveIn is the WAL range of a repository for the stanza's current
// database, if it holds any.
func (s StanzaInfo) ArchiveIn(key int) (Archive, bool) {
	var cur *DBInfo
	for i := range s.DB {
		if s.DB[i].RepoKey == key && (cur == nil || s.DB[i].ID > cur.ID) {
			cur = &s.DB[i]
		}
	}
	for _, a := range s.Archive {
		if a.Database.RepoKey == key && cur != nil && a.Database.ID == cur.ID && a.Min != "" {
			return a, true
		}
	}
	return Archive{}, false
}

// Latest is the newest good backup of a repository of each type (full, diff,
// incr): when each last succeeded.
func (s StanzaInfo) Latest(key int) map[string]BackupInfo {
	out := map[string]BackupInfo{}
	for _, b := range s.InRepo(key) {
		if b.Error {
			continue
		}
		if was, ok := out[b.Type]; !ok || b.Timestamp.Stop >= was.Timestamp.Stop {
			out[b.Type] = b
		}
	}
	return out
}

// Newest is the newest good backup of the stanza in any repository, and
// its repository's number; a tie goes to the lower number (pgBackRest's
// priority). ok is false when there is none.
func (s StanzaInfo) Newest() (b BackupInfo, repo int, ok bool) {
	for _, c := range s.Backups {
		if c.Error {
			continue
		}
		if !ok || c.Timestamp.Stop > b.Timestamp.Stop || (c.Timestamp.Stop == b.Timestamp.Stop && c.Database.RepoKey < repo) {
			b, repo, ok = c, c.Database.RepoKey, true
		}
	}
	return b, repo, ok
}
