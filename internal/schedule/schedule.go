// Package schedule reads the cron schedules of PGSchedules. The CRD schema
// refuses schedules that are not cron-shaped; Parse is the full check the
// scheduler runs, and its error is what the Valid condition reports.
package schedule

import (
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // time zones for images without /usr/share/zoneinfo

	"github.com/robfig/cron/v3"
)

// parser reads five-field cron schedules and descriptors such as @daily and
// "@every 6h", as Crunchy's scheduler and Kubernetes CronJobs do.
var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Parse reads a schedule in a time zone (UTC when empty).
func Parse(spec, timeZone string) (cron.Schedule, error) {
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		return nil, fmt.Errorf("schedule %q: give the time zone in spec.timeZone, not in the schedule", spec)
	}
	location := time.UTC
	if timeZone != "" {
		var err error
		if location, err = time.LoadLocation(timeZone); err != nil {
			return nil, fmt.Errorf("timeZone %q is not a time zone name such as Europe/Berlin or UTC: %w", timeZone, err)
		}
	}
	s, err := parser.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("schedule %q: %w; write five fields (minute hour day-of-month month day-of-week), such as \"0 1 * * *\"", spec, err)
	}
	if spec, ok := s.(*cron.SpecSchedule); ok {
		spec.Location = location
	}
	return s, nil
}
