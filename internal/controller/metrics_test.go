package controller

import (
	"strings"
	"testing"
)

// Plain-HTTP metrics only on loopback; anywhere else they need HTTPS with
// authentication and authorisation.
func TestMetricsServerOptions(t *testing.T) {
	for _, tc := range []struct {
		address string
		secure  bool
		refused bool
	}{
		{"127.0.0.1:8080", false, false},
		{"[::1]:8080", false, false},
		{"localhost:8080", false, false},
		{"0", false, false},
		{"$(POD_IP):8080", false, true},
		{"10.1.2.3:8080", false, true},
		{":8080", false, true},
		{"0.0.0.0:8080", false, true},
		{"10.1.2.3:8443", true, false},
		{":8443", true, false},
	} {
		opts, err := MetricsServerOptions(tc.address, tc.secure)
		if (err != nil) != tc.refused {
			t.Errorf("%s secure=%v: error %v, want refused=%v", tc.address, tc.secure, err, tc.refused)
			continue
		}
		if err != nil {
			if !strings.Contains(err.Error(), "--metrics-secure") {
				t.Errorf("%s: the error does not say what to add: %v", tc.address, err)
			}
			continue
		}
		if tc.secure && (!opts.SecureServing || opts.FilterProvider == nil) {
			t.Errorf("%s secure: serving %v, filter %v: scrapes are not authenticated", tc.address, opts.SecureServing, opts.FilterProvider != nil)
		}
	}
}
