package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"pgo.dev/pgo/internal/pgoapi"
	"pgo.dev/pgo/internal/rules"
)

// addBackupCommands adds pgo backup, pgo show backup and pgo delete backup.
func addBackupCommands(a *app, root, show, del *cobra.Command) {
	root.AddCommand(newBackupCommand(a))
	show.AddCommand(newShowBackupCommand(a))
	del.AddCommand(newDeleteBackupCommand(a))
}

func newBackupCommand(a *app) *cobra.Command {
	var (
		opts, repo, output string
		wait               waitFlags
	)
	cmd := &cobra.Command{
		Use:   "backup NAME",
		Short: "Take a pgBackRest backup of a cluster",
		Long: `Take a pgBackRest backup of a cluster: full (the default), diff or incr, to the
cluster's first repository or the one given with --repo. The backup runs on the
cluster's repository host (kubectl logs <cluster>-repo-host-0 shows it) as a
task whose steps pgo show workflow prints.

--backup-opts takes --type=full|diff|incr, --start-fast, --annotation=KEY=VALUE,
--compress-type, --compress-level, --process-max, --checksum-page, --resume and
--archive-copy; pgo sets the others.`,
		Example: `  pgo backup hacluster
  pgo backup hacluster --backup-opts="--type=incr --start-fast" --wait
  pgo backup hacluster --repo=repo2 --backup-opts="--type=diff"`,
		Args: exactlyOneName("cluster"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := validateClusterName(name); err != nil {
				return err
			}
			if _, why := rules.BackupOptions(opts); why != "" {
				return fmt.Errorf("--backup-opts: %s", why)
			}
			if repo != "" {
				if err := invalid("--repo", repo, rules.RepoName(repo)); err != nil {
					return err
				}
			}
			if err := checkOutputFormat(output); err != nil {
				return err
			}
			if err := wait.check(); err != nil {
				return err
			}
			ns, c, err := a.namespacedClient()
			if err != nil {
				return err
			}
			var resp pgoapi.CreateBackupResponse
			if err := c.post(cmd.Context(), pgoapi.BackupsPath(ns, name), pgoapi.CreateBackupRequest{BackupOpts: opts, Repo: repo}, &resp); err != nil {
				return fmt.Errorf("backing up cluster %s: %w", name, err)
			}
			if err := render(cmd.OutOrStdout(), output, resp, renderCreateBackup); err != nil {
				return err
			}
			if !wait.enabled {
				return nil
			}
			return a.waitForWorkflow(cmd, ns, resp.WorkflowID, wait)
		},
	}
	cmd.Flags().StringVar(&opts, "backup-opts", "", `pgbackrest backup options, such as "--type=incr --start-fast"`)
	cmd.Flags().StringVar(&repo, "repo", "", "the repository, repo1 to repo4 (default: the cluster's first)")
	addOutputFlag(cmd, &output)
	wait.add(cmd)
	return cmd
}

func renderCreateBackup(w io.Writer, resp pgoapi.CreateBackupResponse) error {
	ew := &errWriter{w: w}
	ew.printf("%s\n", resp.Message)
	ew.workflowID(resp.WorkflowID)
	return ew.err
}

// waitForWorkflow polls a workflow until it ends, printing each step on
// stderr as it completes; a failed workflow is an error.
func (a *app) waitForWorkflow(cmd *cobra.Command, ns, id string, f waitFlags) error {
	c, err := a.client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), f.timeout)
	defer cancel()
	stderr := cmd.ErrOrStderr()
	printed := map[string]bool{}
	for {
		var w pgoapi.Workflow
		if err := c.get(ctx, pgoapi.WorkflowPath(ns, id), nil, &w); err != nil && ctx.Err() == nil {
			return fmt.Errorf("following workflow %s: %w", id, err)
		}
		for _, s := range w.Steps {
			if s.CompletionTime != nil && !printed[s.Name] {
				printed[s.Name] = true
				fmt.Fprintf(stderr, "%s  %s%s\n", s.CompletionTime.Local().Format(time.TimeOnly), s.Name, suffix(s.Message))
			}
		}
		switch w.Phase {
		case pgoapi.WorkflowSucceeded:
			return nil
		case pgoapi.WorkflowFailed:
			return fmt.Errorf("workflow %s failed: %s", id, w.Message)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("workflow %s has not ended after %s; pgo show workflow %s follows it", id, f.timeout, id)
		case <-time.After(2 * time.Second):
		}
	}
}

func suffix(msg string) string {
	if msg == "" {
		return ""
	}
	return ": " + msg
}

func newShowBackupCommand(a *app) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:     "backup CLUSTER",
		Aliases: []string{"backups"},
		Short:   "Show a cluster's pgBackRest repositories and backups",
		Example: "  pgo show backup hacluster\n  pgo show backup hacluster -o json",
		Args:    exactlyOneName("cluster"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := validateClusterName(name); err != nil {
				return err
			}
			if err := checkOutputFormat(output); err != nil {
				return err
			}
			ns, c, err := a.namespacedClient()
			if err != nil {
				return err
			}
			var resp pgoapi.ShowBackupResponse
			if err := c.get(cmd.Context(), pgoapi.BackupsPath(ns, name), nil, &resp); err != nil {
				return fmt.Errorf("showing the backups of cluster %s: %w", name, err)
			}
			return render(cmd.OutOrStdout(), output, resp, renderBackups)
		},
	}
	addOutputFlag(cmd, &output)
	return cmd
}

// renderBackups prints a cluster's repositories as the Crunchy 4.x client
// prints pgbackrest info.
func renderBackups(w io.Writer, resp pgoapi.ShowBackupResponse) error {
	ew := &errWriter{w: w}
	ew.printf("cluster: %s\n", resp.Name)
	for _, r := range resp.Repos {
		ew.printf("\nrepository: %s (%s)\n", r.Name, r.Kind)
		ew.printf("stanza: %s\n", resp.Stanza)
		ew.printf("    status: %s\n", r.Status)
		ew.printf("    cipher: %s\n", orDash(r.Cipher))
		if r.PostgresVersion != "" {
			ew.printf("\n    db (current)\n")
			ew.printf("        postgres version: %s\n", r.PostgresVersion)
			ew.printf("        wal archive min/max: %s / %s\n", orDash(r.WALMin), orDash(r.WALMax))
		}
		if len(r.Backups) == 0 {
			ew.printf("\n        no backups\n")
		}
		for _, b := range r.Backups {
			state := ""
			if b.Error {
				state = " (with errors)"
			}
			ew.printf("\n        %s backup: %s%s\n", b.Type, b.Label, state)
			ew.printf("            timestamp start/stop: %s / %s\n", b.StartTime.UTC().Format("2006-01-02 15:04:05 -0700 MST"), b.StopTime.UTC().Format("2006-01-02 15:04:05 -0700 MST"))
			ew.printf("            wal start/stop: %s / %s\n", b.WALStart, b.WALStop)
			ew.printf("            database size: %s, backup size: %s\n", formatBytes(b.DatabaseSize), formatBytes(b.BackupSize))
			ew.printf("            repository size: %s, repository backup size: %s\n", formatBytes(b.RepoSize), formatBytes(b.RepoBackupSize))
			ew.printf("            backup reference list: %s\n", strings.Join(b.Reference, ", "))
			for _, k := range slices.Sorted(maps.Keys(b.Annotations)) {
				ew.printf("            annotation: %s=%s\n", k, b.Annotations[k])
			}
		}
	}
	return ew.err
}

func newDeleteBackupCommand(a *app) *cobra.Command {
	var (
		target, repo string
		force        bool
		prompt       promptFlag
	)
	cmd := &cobra.Command{
		Use:   "backup CLUSTER --target=LABEL",
		Short: "Expire one pgBackRest backup set",
		Long: `Expire one pgBackRest backup set (a full backup takes the diff and incr backups
that depend on it along). Expiring the only full backup of a repository leaves
nothing to restore from: it needs --force.`,
		Example: "  pgo delete backup hacluster --target=20261207-010203F_20261207-020304D",
		Args:    exactlyOneName("cluster"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := validateClusterName(name); err != nil {
				return err
			}
			if target == "" {
				return fmt.Errorf("--target is required: the label of the backup to expire (pgo show backup %s lists them)", name)
			}
			if repo != "" {
				if err := invalid("--repo", repo, rules.RepoName(repo)); err != nil {
					return err
				}
			}
			ns, c, err := a.namespacedClient()
			if err != nil {
				return err
			}
			if err := prompt.confirm(cmd); err != nil {
				return err
			}
			q := url.Values{}
			if repo != "" {
				q.Set(pgoapi.QueryRepo, repo)
			}
			if force {
				q.Set(pgoapi.QueryForce, "true")
			}
			var resp pgoapi.DeleteBackupResponse
			if err := c.delete(cmd.Context(), pgoapi.BackupPath(ns, name, target), q, &resp); err != nil {
				return fmt.Errorf("expiring backup %s of cluster %s: %w", target, name, err)
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), resp.Message)
			return err
		},
	}
	cmd.Flags().StringVar(&target, "target", "", "the label of the backup set to expire")
	cmd.Flags().StringVar(&repo, "repo", "", "the repository that holds it (default: the one that does)")
	cmd.Flags().BoolVar(&force, "force", false, "expire the only full backup of the repository too")
	prompt.add(cmd)
	return cmd
}
