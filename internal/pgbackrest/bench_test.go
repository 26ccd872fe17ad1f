package pgbackrest_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"pgo.dev/pgo/internal/pgbackrest"
	"pgo.dev/pgo/internal/testenv"
)

// BenchmarkBackup (make bench-backup) compares, on pgbench scale 50 (about
// 750 MB) and in one run, through the repository host's TLS server as in a
// cluster:
//   - a full backup with the defaults pgo ships (lz4, process-max 1), then
//     with process-max=2, against pg_basebackup of the same data;
//   - an incremental backup after 1 % of the rows changed;
//   - a restore of the full backup against the same pg_basebackup;
//   - pg_wal's largest size while pgbench writes at full speed with WAL
//     archived asynchronously.
//
// Figures are reported as metrics: seconds, MB/s and the ratio of pgo's
// default full backup throughput to pg_basebackup's (goal ≥ 0.8).
func BenchmarkBackup(b *testing.B) {
	scale := 50
	if s := os.Getenv("PGO_BENCH_SCALE"); s != "" {
		scale, _ = strconv.Atoi(s)
	}
	w := testenv.NewWorld(b)
	c := testenv.NewBackRestCluster(w, "hippo", []pgbackrest.Repo{{Index: 1, Path: w.Mkdir("hippo", "repo1"), RetentionFull: 9}}, pgbackrest.Secrets{}, nil)
	c.StartRepoHost()
	c.Repo("stanza-create")
	pgbench := func(args ...string) {
		b.Helper()
		w.Run(w.Command(filepath.Join(testenv.PGBinDir, "pgbench"), append([]string{"-h", c.PG.Socket, "-p", strconv.Itoa(c.PG.Port), "-U", "postgres"}, append(args, "postgres")...)...))
	}
	pgbench("-i", "-q", "-s", strconv.Itoa(scale))
	c.PG.Query("CHECKPOINT")
	size, _ := strconv.ParseFloat(c.PG.Query("SELECT pg_database_size('postgres')"), 64)
	mb := size / (1 << 20)
	timed := func(name string, run func()) float64 {
		start := time.Now()
		run()
		s := time.Since(start).Seconds()
		b.ReportMetric(s, name+"_s")
		return s
	}

	for i := 0; i < b.N; i++ {
		base := w.Path(fmt.Sprintf("basebackup-%d", i))
		basebackup := timed("pg_basebackup", func() {
			w.Run(w.Command(filepath.Join(testenv.PGBinDir, "pg_basebackup"), "-D", base, "-X", "stream", "-c", "fast",
				"-h", c.PG.Socket, "-p", strconv.Itoa(c.PG.Port), "-U", "postgres"))
		})
		full := timed("full_lz4", func() { c.Repo("backup", "--type=full", "--start-fast") })
		timed("full_lz4_process_max_2", func() { c.Repo("backup", "--type=full", "--start-fast", "--process-max=2") })
		timed("full_lz4_process_max_4", func() { c.Repo("backup", "--type=full", "--start-fast", "--process-max=4") })
		timed("full_none_process_max_2", func() { c.Repo("backup", "--type=full", "--start-fast", "--process-max=2", "--compress-type=none") })
		// 1 % of the rows, as an application changes them: together (a
		// change spread over every page would make the incremental copy
		// most pages).
		c.PG.Query(fmt.Sprintf("UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid <= %d", scale*1000))
		incr := timed("incr_1pct", func() { c.Repo("backup", "--type=incr", "--start-fast") })

		lz4 := c.Info().InRepo(1)[0].Label
		restored := w.Mkdir(fmt.Sprintf("restored-%d", i))
		conf := w.Write(fmt.Sprintf("restored-%d.conf", i), []byte(strings.Replace(testenv.ReadFile(b, c.PGConf), "pg1-path="+c.PG.Data, "pg1-path="+restored, 1)))
		timed("restore_full", func() { w.Backrest(conf, nil, "restore", "--set="+lz4) })

		b.ReportMetric(mb/basebackup, "pg_basebackup_MB/s")
		b.ReportMetric(mb/full, "full_lz4_MB/s")
		b.ReportMetric(basebackup/full, "full_vs_basebackup")
		b.ReportMetric(incr/full, "incr_vs_full")
		_ = os.RemoveAll(base)
		_ = os.RemoveAll(restored)
	}
	b.ReportMetric(mb, "database_MB")

	// pg_wal while pgbench writes at full speed for 30 s.
	done := make(chan struct{})
	var most int64
	go func() {
		defer close(done)
		for start := time.Now(); time.Since(start) < 32*time.Second; time.Sleep(500 * time.Millisecond) {
			if n := dirSize(filepath.Join(c.PG.Data, "pg_wal")); n > most {
				most = n
			}
		}
	}()
	pgbench("-c", "2", "-j", "2", "-T", "30", "-n")
	<-done
	b.ReportMetric(float64(most)/(1<<20), "pg_wal_max_MB")
}

func dirSize(dir string) int64 {
	var n int64
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() {
			n += info.Size()
		}
	}
	return n
}
