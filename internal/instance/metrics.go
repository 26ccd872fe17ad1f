package instance

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// collector exports the HA state as Prometheus metrics at scrape time.
type collector struct{ m *Manager }

var (
	descLeader   = prometheus.NewDesc("pgo_ha_leader", "1 when this member holds the leader lock.", nil, nil)
	descPrimary  = prometheus.NewDesc("pgo_ha_primary", "1 when PostgreSQL runs as a primary.", nil, nil)
	descReplica  = prometheus.NewDesc("pgo_ha_replica", "1 when PostgreSQL runs as a standby.", nil, nil)
	descRunning  = prometheus.NewDesc("pgo_ha_postgres_running", "1 when PostgreSQL accepts connections.", nil, nil)
	descTimeline = prometheus.NewDesc("pgo_ha_timeline", "PostgreSQL's timeline.", nil, nil)
	descWAL      = prometheus.NewDesc("pgo_ha_wal_position_bytes", "The member's WAL position.", nil, nil)
	descLag      = prometheus.NewDesc("pgo_ha_replication_lag_bytes", "How far the member's WAL is behind the leader's last recorded position.", nil, nil)
	descHolder   = prometheus.NewDesc("pgo_ha_lock_holder", "The member holding the leader lock (value 1), by name.", []string{"member"}, nil)
	descUnlocked = prometheus.NewDesc("pgo_ha_cluster_unlocked", "1 when no member holds the leader lock.", nil, nil)
	descPromote  = prometheus.NewDesc("pgo_ha_promotions_total", "Promotions of this member (failovers and switchovers to it).", nil, nil)
	descDCS      = prometheus.NewDesc("pgo_ha_dcs_reachable", "1 when the last read of the DCS succeeded.", nil, nil)
	descPaused   = prometheus.NewDesc("pgo_ha_paused", "1 when automatic failover is paused.", nil, nil)
	descSync     = prometheus.NewDesc("pgo_ha_sync_standby", "1 when this member is a recorded synchronous standby.", nil, nil)
	// On a primary that archives WAL.
	descArchiveFailing = prometheus.NewDesc("pgo_wal_archive_failing_seconds", "How long WAL archiving has been failing on this primary; 0 while it works.", nil, nil)
	descArchivedAt     = prometheus.NewDesc("pgo_wal_archive_last_success_timestamp_seconds", "When this primary last archived a WAL segment (Unix time).", nil, nil)
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLeader, descPrimary, descReplica, descRunning, descTimeline, descWAL,
		descLag, descHolder, descUnlocked, descPromote, descDCS, descPaused, descSync, descArchiveFailing, descArchivedAt} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st := c.m.status(ctx)
	c.m.mu.Lock()
	cluster, promotions := c.m.cluster, c.m.promotions
	archiver, failing := c.m.archiver, c.m.archiveFailing
	c.m.mu.Unlock()

	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	gauge(descLeader, b(st.IsLeader))
	gauge(descPrimary, b(st.Running && st.Role == "primary"))
	gauge(descReplica, b(st.Running && st.Role == "replica"))
	gauge(descRunning, b(st.Running))
	gauge(descTimeline, float64(st.Timeline))
	gauge(descWAL, float64(st.WAL))
	lag := 0.0
	if optime := uint64(cluster.Lock.Optime); !st.IsLeader && optime > st.WAL {
		lag = float64(optime - st.WAL)
	}
	gauge(descLag, lag)
	if st.Leader != "" {
		gauge(descHolder, 1, st.Leader)
	}
	gauge(descUnlocked, b(st.Leader == ""))
	ch <- prometheus.MustNewConstMetric(descPromote, prometheus.CounterValue, float64(promotions))
	gauge(descDCS, b(st.DCSReachable))
	gauge(descPaused, b(st.Paused))
	gauge(descSync, b(cluster.Sync.Has(st.Name)))
	if archiver != nil {
		since := 0.0
		if failing != nil {
			since = time.Since(*failing).Seconds()
		}
		gauge(descArchiveFailing, since)
		if !archiver.LastArchivedTime.IsZero() {
			gauge(descArchivedAt, float64(archiver.LastArchivedTime.Unix()))
		}
	}
}
