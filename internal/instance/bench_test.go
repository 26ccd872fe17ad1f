package instance_test

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// The failover benchmarks run with -benchtime=Nx (`make bench-failover`
// runs 5): each iteration is one failover of a three-member cluster, and
// the figures are the median and maximum time from the leader's end to a new
// primary accepting writes, and (rejoin) from then to the third member
// streaming from the new primary.

func reportTimes(b *testing.B, times []time.Duration) {
	reportTimesAs(b, times, "")
}

func reportTimesAs(b *testing.B, times []time.Duration, prefix string) {
	if len(times) == 0 {
		return
	}
	sorted := slices.Clone(times)
	slices.Sort(sorted)
	b.ReportMetric(sorted[len(sorted)/2].Seconds(), "s-"+prefix+"median")
	b.ReportMetric(sorted[len(sorted)-1].Seconds(), "s-"+prefix+"max")
}

func profiles() map[string]profile {
	return map[string]profile{"default": defaultProfile, "ttl10-loop2": {ttl: 10, loopWait: 2, retryTimeout: 4}}
}

// benchFailover times b.N failovers of a three-member cluster for each
// profile: end ends the leader, and the clock runs from then until another
// member accepts writes.
// With pastExpiry it also reports the time from the lock's expiry (its last
// renewal plus ttl) to the new primary.
func benchFailover(b *testing.B, pastExpiry bool, end func(h *harness, leader string) (wait func())) {
	for name, prof := range profiles() {
		b.Run(name, func(b *testing.B) {
			h := newHarness(b, 3, prof, nil)
			h.startAll()
			var times, rejoins, past []time.Duration
			for i := 0; i < b.N; i++ {
				leader := h.waitHealthy(120 * time.Second)
				writeSome(b, h, leader, 100)
				start := time.Now()
				wait := end(h, leader)
				lease := h.lease()
				next, _ := h.waitPrimary(time.Duration(prof.ttl+30)*time.Second, leader)
				promoted := time.Now()
				times = append(times, promoted.Sub(start))
				if pastExpiry && lease != nil && lease.Spec.RenewTime != nil && lease.Spec.LeaseDurationSeconds != nil {
					expiry := lease.Spec.RenewTime.Add(time.Duration(*lease.Spec.LeaseDurationSeconds) * time.Second)
					past = append(past, promoted.Sub(expiry))
				}
				for _, third := range h.names() {
					if third != leader && third != next {
						rejoins = append(rejoins, h.waitFor(third+" streaming from "+next, 30*time.Second, func() bool {
							st, err := h.status(third)
							return err == nil && st.Streaming && st.Upstream == next
						}))
					}
				}
				wait()
				h.start(leader)
			}
			h.waitHealthy(120 * time.Second)
			reportTimes(b, times)
			reportTimesAs(b, rejoins, "rejoin-")
			reportTimesAs(b, past, "past-expiry-")
		})
	}
}

// BenchmarkFailoverHardCrash: SIGKILL of the leader's manager and
// PostgreSQL; a replica takes over when the lock expires.
func BenchmarkFailoverHardCrash(b *testing.B) {
	benchFailover(b, true, func(h *harness, leader string) func() {
		h.kill9(leader)
		return func() {}
	})
}

// BenchmarkFailoverGraceful: SIGTERM of the leader's manager; it releases
// the lock once a replica has its shutdown checkpoint.
func BenchmarkFailoverGraceful(b *testing.B) {
	benchFailover(b, false, func(h *harness, leader string) func() {
		done := make(chan struct{})
		go func() { h.term(leader); close(done) }()
		return func() { <-done }
	})
}

// BenchmarkSyncWritesLost: in synchronous mode, b.N hard-crash failovers
// under a steady stream of commits; reports acknowledged commits lost.
func BenchmarkSyncWritesLost(b *testing.B) {
	h := newHarness(b, 3, fastProfile, map[string]any{"synchronous_mode": true})
	lost, acked, times := syncFailovers(b, h, b.N)
	reportTimes(b, times)
	b.ReportMetric(float64(lost), "lost-commits")
	b.ReportMetric(float64(acked), "acked-commits")
	fmt.Printf("synchronous mode: %d commits acknowledged through %d failovers, %d lost\n", acked, b.N, lost)
}

// BenchmarkFailoverSwitchover: a switchover over REST, from the request to
// the candidate accepting writes, and the old primary streaming from it.
func BenchmarkFailoverSwitchover(b *testing.B) {
	h := newHarness(b, 3, defaultProfile, nil)
	h.startAll()
	var times, rejoins []time.Duration
	for i := 0; i < b.N; i++ {
		leader := h.waitHealthy(120 * time.Second)
		writeSome(b, h, leader, 100)
		candidate := h.names()[(slices.Index(h.names(), leader)+1)%3]
		start := time.Now()
		if code, body := h.post(leader, "/switchover", map[string]string{"leader": leader, "candidate": candidate}); code != 200 {
			b.Fatalf("POST /switchover: %d %s", code, body)
		}
		h.waitFor(candidate+" primary", 30*time.Second, func() bool { return h.primary() == candidate })
		times = append(times, time.Since(start))
		rejoins = append(rejoins, h.waitFor(leader+" streaming from "+candidate, 30*time.Second, func() bool {
			st, err := h.status(leader)
			return err == nil && st.Streaming && st.Upstream == candidate
		}))
	}
	reportTimes(b, times)
	reportTimesAs(b, rejoins, "rejoin-")
}
