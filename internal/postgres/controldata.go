package postgres

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"pgo.dev/pgo/internal/ha"
)

// ParseLSN reads a WAL position written as PostgreSQL does, such as
// 0/3000060.
func ParseLSN(s string) (ha.LSN, error) {
	hi, lo, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return 0, fmt.Errorf("%q is not a WAL position such as 0/3000060", s)
	}
	h, err := strconv.ParseUint(hi, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("%q is not a WAL position: %w", s, err)
	}
	l, err := strconv.ParseUint(lo, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("%q is not a WAL position: %w", s, err)
	}
	return ha.LSN(h<<32 | l), nil
}

// FormatLSN writes a WAL position as PostgreSQL does.
func FormatLSN(l ha.LSN) string {
	return fmt.Sprintf("%X/%X", uint64(l)>>32, uint64(l)&0xFFFFFFFF)
}

// ControlData is what pg_controldata says of a data directory.
type ControlData struct {
	SystemID uint64
	// State is the "Database cluster state", such as "in production",
	// "shut down" or "shut down in recovery".
	State         string
	Checkpoint    ha.LSN
	Timeline      int64
	MinRecovery   ha.LSN
	MinRecoveryTL int64
}

// CleanShutdown reports whether the server stopped cleanly.
func (c ControlData) CleanShutdown() bool {
	return c.State == "shut down" || c.State == "shut down in recovery"
}

// ParseControlData reads the output of pg_controldata.
func ParseControlData(out string) (ControlData, error) {
	fields := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok {
			fields[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	var c ControlData
	var err error
	if c.SystemID, err = strconv.ParseUint(fields["Database system identifier"], 10, 64); err != nil {
		return c, fmt.Errorf("pg_controldata gave no system identifier: %w", err)
	}
	c.State = fields["Database cluster state"]
	if c.Checkpoint, err = ParseLSN(fields["Latest checkpoint location"]); err != nil {
		return c, err
	}
	if c.Timeline, err = strconv.ParseInt(fields["Latest checkpoint's TimeLineID"], 10, 64); err != nil {
		return c, fmt.Errorf("pg_controldata gave no timeline: %w", err)
	}
	if v := fields["Minimum recovery ending location"]; v != "" {
		if c.MinRecovery, err = ParseLSN(v); err != nil {
			return c, err
		}
	}
	if v := fields["Min recovery ending loc's timeline"]; v != "" {
		if c.MinRecoveryTL, err = strconv.ParseInt(v, 10, 64); err != nil {
			return c, fmt.Errorf("pg_controldata: %w", err)
		}
	}
	return c, nil
}

// History is the timeline history of timeline tl, from its history file in
// pg_wal: where each earlier timeline of its lineage ended. Timeline 1 has
// none.
func (i *Instance) History(tl int64) ([]ha.TimelineSwitch, error) {
	if tl <= 1 {
		return []ha.TimelineSwitch{}, nil
	}
	data, err := os.ReadFile(filepath.Join(i.DataDir, "pg_wal", fmt.Sprintf("%08X.history", tl)))
	if err != nil {
		return nil, fmt.Errorf("reading the history of timeline %d: %w", tl, err)
	}
	return ParseHistory(string(data))
}

// ParseHistory reads a timeline history file: lines of "parent timeline,
// switch point, reason", tab separated, and comments.
func ParseHistory(text string) ([]ha.TimelineSwitch, error) {
	out := []ha.TimelineSwitch{}
	for line := range strings.Lines(text) {
		fields := strings.Fields(line)
		if len(fields) < 2 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		tl, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("timeline history line %q: %w", strings.TrimSpace(line), err)
		}
		lsn, err := ParseLSN(fields[1])
		if err != nil {
			return nil, fmt.Errorf("timeline history line %q: %w", strings.TrimSpace(line), err)
		}
		out = append(out, ha.TimelineSwitch{Timeline: tl, LSN: lsn})
	}
	return out, nil
}
