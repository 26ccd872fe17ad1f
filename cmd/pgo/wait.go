package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/pgoapi"
)

// defaultWaitTimeout bounds --wait.
const defaultWaitTimeout = 10 * time.Minute

// waitFlags are --wait and --wait-timeout.
type waitFlags struct {
	enabled bool
	timeout time.Duration
}

func (f *waitFlags) add(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&f.enabled, "wait", false, "wait until the operator has carried out the change, printing progress on stderr")
	cmd.Flags().DurationVar(&f.timeout, "wait-timeout", defaultWaitTimeout, "how long --wait waits, such as 90s or 10m")
}

func (f *waitFlags) check() error {
	if f.timeout <= 0 {
		return fmt.Errorf("--wait-timeout %s must be positive, such as 10m", f.timeout)
	}
	return nil
}

// clusterProgress is what --wait follows of a cluster.
type clusterProgress struct {
	phase   string
	ready   int32
	total   int
	primary string
	// desired is the number of instances asked for: the primary and its
	// replicas.
	desired int32
	// current is true when the operator has observed the cluster's latest
	// spec.
	current bool
}

func progressOf(c pgoapi.Cluster) clusterProgress {
	return clusterProgress{
		phase:   c.Phase,
		ready:   c.ReadyInstances,
		total:   len(c.Instances),
		primary: c.Primary,
		desired: c.Replicas + 1,
		current: c.ObservedGeneration >= c.Generation,
	}
}

func (p clusterProgress) String() string {
	s := fmt.Sprintf("%s, %d of %d instances ready", orDash(p.phase), p.ready, p.desired)
	if p.primary != "" {
		s += ", primary " + p.primary
	} else {
		s += ", no primary"
	}
	if !p.current {
		s += " (operator catching up)"
	}
	return s
}

// A waitCondition says whether waiting is over; an error ends it early.
type waitCondition func(clusterProgress) (bool, error)

// untilReady: the operator has carried out the latest spec, and every
// instance asked for is ready.
func untilReady(p clusterProgress) (bool, error) {
	return p.current && p.phase == string(pgov1.PhaseReady) && p.ready == p.desired && p.total == int(p.desired), nil
}

// untilShutdown: every instance has stopped.
func untilShutdown(p clusterProgress) (bool, error) {
	return p.current && p.phase == string(pgov1.PhaseShutdown) && p.ready == 0, nil
}

// untilPrimary: target leads a ready cluster; with no target, any instance
// other than old does.
func untilPrimary(target, old string) waitCondition {
	return func(p clusterProgress) (bool, error) {
		switch {
		case target != "" && p.primary != target:
			return false, nil
		case target == "" && (p.primary == "" || p.primary == old):
			return false, nil
		}
		return untilReady(p)
	}
}

// waitIfAsked waits for a cluster as waitForCluster does when --wait is
// given, and returns at once otherwise.
func (a *app) waitIfAsked(cmd *cobra.Command, ns, name string, f waitFlags, done waitCondition) error {
	if !f.enabled {
		return nil
	}
	return a.waitForCluster(cmd, ns, name, f, done)
}

// waitForCluster polls a cluster until done says so, printing a line on
// stderr whenever its phase, ready count or primary changes.
func (a *app) waitForCluster(cmd *cobra.Command, ns, name string, f waitFlags, done waitCondition) error {
	c, err := a.client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), f.timeout)
	defer cancel()
	stderr := cmd.ErrOrStderr()
	start := a.now()
	var last *clusterProgress
	for {
		var resp pgoapi.ShowClusterResponse
		err := c.get(ctx, pgoapi.ClusterPath(ns, name), nil, &resp)
		switch {
		case err == nil && len(resp.Clusters) != 1:
			return fmt.Errorf("waiting for cluster %s: the apiserver answered with %d clusters", name, len(resp.Clusters))
		case err == nil:
			p := progressOf(resp.Clusters[0])
			if last == nil || *last != p {
				fmt.Fprintf(stderr, "[%4.0fs] %s: %s\n", a.now().Sub(start).Seconds(), name, p)
				last = &p
			}
			ok, err := done(p)
			if err != nil {
				return err
			}
			if ok {
				return nil
			}
		case ctx.Err() == nil:
			var apiErr *pgoapi.Error
			if errors.As(err, &apiErr) && apiErr.Code < 500 {
				return fmt.Errorf("waiting for cluster %s: %w", name, err)
			}
			// The apiserver may restart during a long operation; keep
			// trying until the timeout.
			fmt.Fprintf(stderr, "[%4.0fs] %s: %v (retrying)\n", a.now().Sub(start).Seconds(), name, err)
		}
		select {
		case <-ctx.Done():
			if cmd.Context().Err() != nil {
				return cmd.Context().Err()
			}
			state := "no answer"
			if last != nil {
				state = last.String()
			}
			return fmt.Errorf("cluster %s is not done after %s (%s); it may still get there: see pgo show cluster %s, or wait longer with --wait-timeout", name, f.timeout, state, name)
		case <-time.After(a.pollInterval):
		}
	}
}
