// Package dcs keeps the instance managers' shared state in the Kubernetes
// API: the leader lock is a Lease, each member's state an annotation on its
// own pod, and the dynamic configuration, synchronous standby state and
// switchover requests are ConfigMaps. Every write uses optimistic
// concurrency (resourceVersion), so two members never both believe they won.
package dcs

import (
	"encoding/json"
	"fmt"
	"reflect"
	"time"

	"pgo.dev/pgo/internal/ha"
)

// DynamicConfig is the JSON in the "config" key of "<cluster>-config", with
// Patroni's names. Durations are in seconds.
type DynamicConfig struct {
	TTL                   int    `json:"ttl,omitempty"`
	LoopWait              int    `json:"loop_wait,omitempty"`
	RetryTimeout          int    `json:"retry_timeout,omitempty"`
	MaximumLagOnFailover  *int64 `json:"maximum_lag_on_failover,omitempty"`
	SynchronousMode       bool   `json:"synchronous_mode,omitempty"`
	SynchronousModeStrict bool   `json:"synchronous_mode_strict,omitempty"`
	Pause                 bool   `json:"pause,omitempty"`
	PrimaryStartTimeout   *int   `json:"primary_start_timeout,omitempty"`
	// MemberSlotsTTL is Patroni 4's: seconds a departed member's slot is
	// kept.
	MemberSlotsTTL *int `json:"member_slots_ttl,omitempty"`
	// UnresponsiveTimeout is pgo's: how long a leader whose PostgreSQL
	// does not answer keeps the lock (ttl when unset).
	UnresponsiveTimeout *int `json:"unresponsive_timeout,omitempty"`
	// RemoveDataDirectoryOnRewindFailure is Patroni's: when pg_rewind
	// fails, the old data directory goes instead of being kept aside.
	RemoveDataDirectoryOnRewindFailure bool `json:"remove_data_directory_on_rewind_failure,omitempty"`
	PostgreSQL                         struct {
		Parameters map[string]string `json:"parameters,omitempty"`
		PgHBA      []string          `json:"pg_hba,omitempty"`
		TLSOnly    bool              `json:"tls_only,omitempty"`
		// PasswordMethod is the method of pg_hba's catch-all rule:
		// scram-sha-256 when empty, md5 when some user has an md5
		// password (md5 still does SCRAM for SCRAM verifiers).
		PasswordMethod string `json:"password_method,omitempty"`
	} `json:"postgresql"`
}

// ParseDynamicConfig reads the configuration, filling in Patroni's defaults,
// and checks that a primary that cannot renew its lock demotes before the
// lock expires (loop_wait + 2*retry_timeout <= ttl).
func ParseDynamicConfig(data string) (DynamicConfig, ha.Config, error) {
	var dc DynamicConfig
	if data != "" {
		if err := json.Unmarshal([]byte(data), &dc); err != nil {
			return dc, ha.DefaultConfig(), fmt.Errorf("the dynamic configuration is not valid JSON: %w", err)
		}
	}
	cfg := ha.DefaultConfig()
	if dc.TTL > 0 {
		cfg.TTL = time.Duration(dc.TTL) * time.Second
	}
	if dc.LoopWait > 0 {
		cfg.LoopWait = time.Duration(dc.LoopWait) * time.Second
	}
	if dc.RetryTimeout > 0 {
		cfg.RetryTimeout = time.Duration(dc.RetryTimeout) * time.Second
	}
	if dc.MaximumLagOnFailover != nil && *dc.MaximumLagOnFailover >= 0 {
		cfg.MaximumLagOnFailover = ha.LSN(*dc.MaximumLagOnFailover)
	}
	if dc.PrimaryStartTimeout != nil && *dc.PrimaryStartTimeout >= 0 {
		cfg.PrimaryStartTimeout = time.Duration(*dc.PrimaryStartTimeout) * time.Second
	}
	if dc.MemberSlotsTTL != nil && *dc.MemberSlotsTTL >= 0 {
		cfg.MemberSlotsTTL = time.Duration(*dc.MemberSlotsTTL) * time.Second
	}
	if dc.UnresponsiveTimeout != nil && *dc.UnresponsiveTimeout > 0 {
		cfg.UnresponsiveTimeout = time.Duration(*dc.UnresponsiveTimeout) * time.Second
	}
	cfg.SynchronousMode = dc.SynchronousMode
	cfg.SynchronousStrict = dc.SynchronousMode && dc.SynchronousModeStrict
	cfg.Paused = dc.Pause
	if cfg.LoopWait+2*cfg.RetryTimeout > cfg.TTL {
		return dc, ha.DefaultConfig(), fmt.Errorf("loop_wait (%s) + 2*retry_timeout (%s) exceeds ttl (%s): using the defaults", cfg.LoopWait, cfg.RetryTimeout, cfg.TTL)
	}
	return dc, cfg, nil
}

// MemberStatus is a member's state in the annotation on its pod.
type MemberStatus struct {
	Role           ha.Role `json:"role"`
	State          string  `json:"state"`
	Running        bool    `json:"running"`
	Timeline       int64   `json:"timeline,omitempty"`
	WAL            uint64  `json:"wal,omitempty"`
	APIURL         string  `json:"apiURL"`
	ConnHost       string  `json:"connHost"`
	ConnPort       int     `json:"connPort"`
	Tags           ha.Tags `json:"tags"`
	PendingRestart bool    `json:"pendingRestart,omitempty"`
	// KeptData is the data directory kept aside after a failed pg_rewind;
	// Problem what keeps the member from going on.
	KeptData string `json:"keptData,omitempty"`
	Problem  string `json:"problem,omitempty"`
	// DataSource says how the data directory was made: initdb,
	// pg_basebackup from a member, or a restore of a pgBackRest backup.
	DataSource string `json:"dataSource,omitempty"`
	// Archive is a primary's WAL archiving.
	Archive *ArchiveState `json:"archive,omitempty"`
	// Volumes are how full the member's volumes are, in percent: "data",
	// and "wal" when pg_wal has a volume of its own.
	Volumes map[string]int32 `json:"volumes,omitempty"`
	// Heartbeat is when the member last published (RFC 3339): it
	// publishes when its state changes, and at least once per ttl.
	Heartbeat string `json:"heartbeat,omitempty"`
}

// ArchiveState is a primary's WAL archiving, from pg_stat_archiver; times
// are RFC 3339.
type ArchiveState struct {
	LastArchivedWAL  string `json:"lastArchivedWAL,omitempty"`
	LastArchivedTime string `json:"lastArchivedTime,omitempty"`
	LastFailedWAL    string `json:"lastFailedWAL,omitempty"`
	LastFailedTime   string `json:"lastFailedTime,omitempty"`
	// FailingSince is when the instance manager first saw archiving fail,
	// while it fails.
	FailingSince string `json:"failingSince,omitempty"`
}

// SameState tells whether two published states differ only in their
// heartbeat.
func SameState(a, b MemberStatus) bool {
	a.Heartbeat, b.Heartbeat = "", ""
	return reflect.DeepEqual(a, b)
}

func (s MemberStatus) member(name string) ha.Member {
	return ha.Member{
		Name: name, Role: s.Role, Running: s.Running, Timeline: s.Timeline, WAL: ha.LSN(s.WAL),
		Tags: s.Tags, APIURL: s.APIURL, ConnHost: s.ConnHost, ConnPort: s.ConnPort,
	}
}
