package schedule

import (
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	from := time.Date(2026, 11, 27, 12, 30, 0, 0, time.UTC)
	cases := []struct {
		spec, zone string
		next       time.Time // the first time after from
	}{
		{"0 1 * * *", "", time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)},
		{"*/15 * * * *", "", time.Date(2026, 11, 27, 12, 45, 0, 0, time.UTC)},
		{"0 1 * * *", "Europe/Berlin", time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)},
		{"30 2 * * SUN", "", time.Date(2026, 11, 29, 2, 30, 0, 0, time.UTC)},
		{"0 0 1 JAN *", "", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"@daily", "", time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)},
		{"@hourly", "", time.Date(2026, 11, 27, 13, 0, 0, 0, time.UTC)},
		{"@every 6h", "", from.Add(6 * time.Hour)},
	}
	for _, tc := range cases {
		s, err := Parse(tc.spec, tc.zone)
		if err != nil {
			t.Errorf("Parse(%q, %q): %v", tc.spec, tc.zone, err)
			continue
		}
		if got := s.Next(from); !got.Equal(tc.next) {
			t.Errorf("Parse(%q, %q).Next(%s) = %s, want %s", tc.spec, tc.zone, from, got.UTC(), tc.next)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	cases := []struct {
		spec, zone, want string
	}{
		{"61 * * * *", "", "end of range (61) above maximum (59)"},
		{"0 25 * * *", "", "above maximum (23)"},
		{"0 1 * * * *", "", "expected exactly 5 fields"},
		{"0 1 * *", "", "expected exactly 5 fields"},
		{"0 1 * * FUNDAY", "", "failed to parse"},
		{"@fortnightly", "", "unrecognized descriptor"},
		{"@every 6 hours", "", "failed to parse duration"},
		{"0 1 * * *", "Mars/Olympus_Mons", `timeZone "Mars/Olympus_Mons" is not a time zone`},
		{"CRON_TZ=UTC 0 1 * * *", "", "give the time zone in spec.timeZone"},
	}
	for _, tc := range cases {
		_, err := Parse(tc.spec, tc.zone)
		if err == nil {
			t.Errorf("Parse(%q, %q) accepted it; want an error containing %q", tc.spec, tc.zone, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q, %q) = %q; want it to contain %q", tc.spec, tc.zone, err, tc.want)
		}
	}
}
