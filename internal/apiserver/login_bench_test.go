package apiserver

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pgo.dev/pgo/internal/pgoapi"
)

// BenchmarkLoginDuringBurst (`make bench-login`, against a real
// kube-apiserver) measures how long good pgo users take to log in (GET
// /version), p50 and p99 of loginSamples logins one after another, first
// alone, then while an attacker sends burstRate wrong passwords a second for
// one pgo user from one address (127.0.0.2; the good users come from
// 127.0.0.1). The goal: p99 during the burst at most twice the baseline.
//
// Every good login is by a pgo user not seen before: a user's first login
// hashes its password, later ones are answered from the verified cache, and
// the hash is what a burst would compete for. The users' Secrets hold a
// real hash (as `pgo create pgouser` writes), of the iterations the
// apiserver uses.
func BenchmarkLoginDuringBurst(b *testing.B) {
	const (
		loginSamples = 200
		burstRate    = 20
	)
	h := newHarness(b)
	hash, err := hashPassword("good-password")
	if err != nil {
		b.Fatal(err)
	}
	h.create(pgoroleSecret(operatorNS, "bench", []string{string(pgoapi.PermVersion)}))
	h.create(pgouserSecret(operatorNS, "victim", hash, []string{"bench"}, nil))
	attacker := h.clientFrom("127.0.0.2")

	var baseline, burst []time.Duration
	var answers burstAnswers
	b.ResetTimer()
	for i := range b.N {
		users := make([]string, 2*loginSamples)
		for j := range users {
			users[j] = fmt.Sprintf("good-%d-%d", i, j)
			h.create(pgouserSecret(operatorNS, users[j], hash, []string{"bench"}, nil))
		}
		baseline = append(baseline, h.timeLogins(users[:loginSamples], "good-password")...)

		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			sendBurst(attacker, h.url, burstRate, stop, &answers)
		}()
		burst = append(burst, h.timeLogins(users[loginSamples:], "good-password")...)
		close(stop)
		<-done
	}
	b.StopTimer()
	slowest := func(t []time.Duration) []time.Duration {
		s := slices.Sorted(slices.Values(t))
		return s[max(len(s)-5, 0):]
	}
	b.Logf("slowest logins: alone %v, during the burst %v", slowest(baseline), slowest(burst))

	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(percentile(baseline, 0.50)), "baseline-p50-ms")
	b.ReportMetric(ms(percentile(baseline, 0.99)), "baseline-p99-ms")
	b.ReportMetric(ms(percentile(burst, 0.50)), "burst-p50-ms")
	b.ReportMetric(ms(percentile(burst, 0.99)), "burst-p99-ms")
	b.ReportMetric(float64(answers.checked.Load()), "burst-401")
	b.ReportMetric(float64(answers.refused.Load()), "burst-429")
	b.ReportMetric(float64(answers.other.Load()), "burst-other")
	b.ReportMetric(0, "ns/op")
}

// timeLogins logs each user in once, one after another, and times it.
func (h *harness) timeLogins(users []string, password string) []time.Duration {
	h.t.Helper()
	var times []time.Duration
	for _, u := range users {
		start := time.Now()
		a := h.call("GET", pgoapi.PathVersion, u, password, nil)
		times = append(times, time.Since(start))
		if a.code != http.StatusOK {
			h.t.Fatalf("login of %s: %d %s", u, a.code, a.body)
		}
	}
	return times
}

// burstAnswers counts the answers to the attacker.
type burstAnswers struct{ checked, refused, other atomic.Int64 }

// sendBurst sends rate wrong passwords a second for pgo user victim until
// stop is closed, without waiting for answers (each gets 10 seconds), and
// returns when every answer is in.
func sendBurst(c *http.Client, url string, rate int, stop <-chan struct{}, answers *burstAnswers) {
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-stop:
			wg.Wait()
			return
		case <-tick.C:
		}
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "GET", url+pgoapi.PathVersion, nil)
			req.SetBasicAuth("victim", fmt.Sprintf("guess-%d", n))
			resp, err := c.Do(req)
			switch {
			case err != nil:
				answers.other.Add(1)
				return
			case resp.StatusCode == http.StatusUnauthorized:
				answers.checked.Add(1)
			case resp.StatusCode == http.StatusTooManyRequests:
				answers.refused.Add(1)
			default:
				answers.other.Add(1)
			}
			resp.Body.Close()
		})
	}
}

// percentile is the nearest-rank p-th percentile of times.
func percentile(times []time.Duration, p float64) time.Duration {
	if len(times) == 0 {
		return 0
	}
	sorted := slices.Sorted(slices.Values(times))
	return sorted[max(int(math.Ceil(p*float64(len(sorted))))-1, 0)]
}
