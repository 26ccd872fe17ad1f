package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"pgo.dev/pgo/internal/pgoapi"
	"pgo.dev/pgo/internal/rules"
)

// pgo users and pgo roles: who may call the apiserver, and what they may do.

// Kinds of pgo objects and the flags of their commands.
const (
	pgouserKind            = "pgo user"
	pgoroleKind            = "pgo role"
	flagPgouserPassword    = "pgouser-password"
	flagPgouserPasswordIn  = flagPgouserPassword + "-stdin"
	flagPgouserRoles       = "pgouser-roles"
	flagPgouserNamespaces  = "pgouser-namespaces"
	flagAllNamespaces      = "all-namespaces"
	flagPgorolePermissions = "permissions"
)

func addPgouserCommands(a *app, create, show, update, del *cobra.Command) {
	create.AddCommand(newCreatePgouserCommand(a))
	show.AddCommand(newShowPgouserCommand(a))
	update.AddCommand(newUpdatePgouserCommand(a))
	del.AddCommand(newDeletePgoObjectCommand(a, pgouserKind, "pgouser", pgoapi.PgouserPath))
}

func addPgoroleCommands(a *app, create, show, update, del *cobra.Command) {
	create.AddCommand(newCreatePgoroleCommand(a))
	show.AddCommand(newShowPgoroleCommand(a))
	update.AddCommand(newUpdatePgoroleCommand(a))
	del.AddCommand(newDeletePgoObjectCommand(a, pgoroleKind, "pgorole", pgoapi.PgorolePath))
}

// validatePgoName checks the name of a pgo user or role: it names the
// Secret pgouser-<name> or pgorole-<name>.
func validatePgoName(kind, name string) error {
	return invalid(kind+" name", name, rules.PgoName(name))
}

// pgoNameValidator checks the names of a kind of pgo object, as
// validateEach wants.
func pgoNameValidator(kind string) func(string) error {
	return func(name string) error { return validatePgoName(kind, name) }
}

// pgouserPasswordPrompt asks for a pgo user's new password on a terminal.
func pgouserPasswordPrompt(name string, whenMissing bool) secretPrompt {
	return secretPrompt{text: fmt.Sprintf("Password for pgo user %s: ", name), repeat: true, whenMissing: whenMissing}
}

func checkRoleNames(roles []string) error {
	for _, r := range roles {
		if err := validatePgoName(pgoroleKind, r); err != nil {
			return fmt.Errorf("--%s: %w", flagPgouserRoles, err)
		}
	}
	return nil
}

func checkNamespaces(namespaces []string, all bool) error {
	if all && len(namespaces) > 0 {
		return fmt.Errorf("give --%s or --%s, not both", flagPgouserNamespaces, flagAllNamespaces)
	}
	for _, ns := range namespaces {
		if err := validateNamespace(ns); err != nil {
			return fmt.Errorf("--%s: %w", flagPgouserNamespaces, err)
		}
	}
	return nil
}

func newCreatePgouserCommand(a *app) *cobra.Command {
	var (
		req      pgoapi.CreatePgouserRequest
		password = secretFlag{name: flagPgouserPassword}
	)
	cmd := &cobra.Command{
		Use:   "pgouser NAME",
		Short: "Create a pgo user: who may call the apiserver, with which roles, in which namespaces",
		Example: `  pgo create pgouser alice --pgouser-roles=pgoadmin --pgouser-namespaces=app1,app2   # asks for the password
  printf '%s' "$PASSWORD" | pgo create pgouser alice --pgouser-password-stdin --pgouser-roles=readonly --all-namespaces`,
		Args: exactlyOneName(pgouserKind),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Name = args[0]
			if err := validatePgoName(pgouserKind, req.Name); err != nil {
				return err
			}
			if err := password.check(cmd); err != nil {
				return err
			}
			if len(req.Roles) == 0 {
				return fmt.Errorf("--%s is required: give at least one pgo role (see pgo show pgorole --all)", flagPgouserRoles)
			}
			if err := checkRoleNames(req.Roles); err != nil {
				return err
			}
			if err := checkNamespaces(req.Namespaces, req.AllNamespaces); err != nil {
				return err
			}
			if len(req.Namespaces) == 0 && !req.AllNamespaces {
				return fmt.Errorf("give --%s or --%s: the namespaces the user may access", flagPgouserNamespaces, flagAllNamespaces)
			}
			pw, from, err := password.read(cmd, a.terminal, pgouserPasswordPrompt(req.Name, true))
			if err != nil {
				return err
			}
			if from == "" && pw == "" {
				return fmt.Errorf("a pgo user needs a password: give it on standard input with --%s, or run pgo on a terminal to be asked for it", flagPgouserPasswordIn)
			}
			if err := invalid("the password", "", rules.Password(pw)); err != nil {
				return secretError(from, err)
			}
			req.Password = pw
			c, err := a.client()
			if err != nil {
				return err
			}
			var resp pgoapi.PgouserResponse
			if err := c.post(cmd.Context(), pgoapi.PathPgousers, req, &resp); err != nil {
				return fmt.Errorf("creating pgo user %s: %w", req.Name, err)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "created pgo user %s\n", resp.Pgouser.Name)
			return err
		},
	}
	password.add(cmd, "the pgo user's password", fmt.Sprintf(" (at least %d characters)", rules.MinPasswordLength))
	fl := cmd.Flags()
	fl.StringSliceVar(&req.Roles, flagPgouserRoles, nil, "pgo roles of the user, comma-separated")
	fl.StringSliceVar(&req.Namespaces, flagPgouserNamespaces, nil, "namespaces the user may access, comma-separated")
	fl.BoolVar(&req.AllNamespaces, flagAllNamespaces, false, "let the user access every namespace")
	return cmd
}

// pgousers are the pgo users the apiserver shows.
var pgousers = namedObjects[pgoapi.ShowPgouserResponse]{
	kind: pgouserKind,
	list: pgoapi.PathPgousers,
	one:  pgoapi.PgouserPath,
	add: func(all *pgoapi.ShowPgouserResponse, one pgoapi.ShowPgouserResponse) {
		all.Pgousers = append(all.Pgousers, one.Pgousers...)
	},
}

func newShowPgouserCommand(a *app) *cobra.Command {
	return newShowByNameCommand(a, &cobra.Command{
		Use:     "pgouser NAME...|--all",
		Aliases: []string{"pgousers"},
		Short:   "Show pgo users with their roles and namespaces",
		Example: "  pgo show pgouser --all\n  pgo show pgouser admin -o json",
	}, pgousers, pgoNameValidator(pgouserKind), renderPgousers)
}

// renderPgousers prints pgo users as the Crunchy 4.x client does.
func renderPgousers(w io.Writer, resp pgoapi.ShowPgouserResponse) error {
	ew := &errWriter{w: w}
	if len(resp.Pgousers) == 0 {
		ew.printf("no pgo users found\n")
	}
	for i, u := range resp.Pgousers {
		if i > 0 {
			ew.printf("\n")
		}
		namespaces := "[" + strings.Join(u.Namespaces, " ") + "]"
		if u.AllNamespaces {
			namespaces = "all"
		}
		ew.printf("pgouser : %s\n", u.Name)
		ew.printf("roles : [%s]\n", strings.Join(u.Roles, " "))
		ew.printf("namespaces : %s\n", namespaces)
	}
	return ew.err
}

func newUpdatePgouserCommand(a *app) *cobra.Command {
	var (
		password      = secretFlag{name: flagPgouserPassword}
		roles         []string
		namespaces    []string
		allNamespaces bool
	)
	cmd := &cobra.Command{
		Use:     "pgouser NAME",
		Short:   "Change a pgo user's password, roles or namespaces",
		Example: "  pgo update pgouser admin --pgouser-password-stdin   # asks for the password on a terminal\n  pgo update pgouser alice --pgouser-namespaces=app1 --pgouser-roles=readonly",
		Args:    exactlyOneName(pgouserKind),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			changed := cmd.Flags().Changed
			if err := validatePgoName(pgouserKind, name); err != nil {
				return err
			}
			if err := password.check(cmd); err != nil {
				return err
			}
			var req pgoapi.UpdatePgouserRequest
			if changed(flagPgouserRoles) {
				if len(roles) == 0 {
					return fmt.Errorf("--%s is empty; a pgo user needs at least one role", flagPgouserRoles)
				}
				if err := checkRoleNames(roles); err != nil {
					return err
				}
				req.Roles = &roles
			}
			if err := checkNamespaces(namespaces, allNamespaces); err != nil {
				return err
			}
			if changed(flagPgouserNamespaces) {
				req.Namespaces = &namespaces
				no := false
				req.AllNamespaces = &no
			}
			if changed(flagAllNamespaces) {
				req.AllNamespaces = &allNamespaces
			}
			if password.given(cmd) {
				pw, from, err := password.read(cmd, a.terminal, pgouserPasswordPrompt(name, false))
				if err != nil {
					return err
				}
				if err := invalid("the password", "", rules.Password(pw)); err != nil {
					return secretError(from, err)
				}
				req.Password = &pw
			}
			if req == (pgoapi.UpdatePgouserRequest{}) {
				return fmt.Errorf("nothing to change: give --%s, --%s, --%s or --%s", flagPgouserPasswordIn, flagPgouserRoles, flagPgouserNamespaces, flagAllNamespaces)
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			var resp pgoapi.PgouserResponse
			if err := c.patch(cmd.Context(), pgoapi.PgouserPath(name), req, &resp); err != nil {
				return fmt.Errorf("updating pgo user %s: %w", name, err)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "updated pgo user %s\n", resp.Pgouser.Name)
			return err
		},
	}
	password.add(cmd, "a new password", fmt.Sprintf(" (at least %d characters)", rules.MinPasswordLength))
	fl := cmd.Flags()
	fl.StringSliceVar(&roles, flagPgouserRoles, nil, "the user's pgo roles, comma-separated (replaces them)")
	fl.StringSliceVar(&namespaces, flagPgouserNamespaces, nil, "the namespaces the user may access, comma-separated (replaces them)")
	fl.BoolVar(&allNamespaces, flagAllNamespaces, false, "let the user access every namespace")
	return cmd
}

// newDeletePgoObjectCommand deletes pgo users or pgo roles.
func newDeletePgoObjectCommand(a *app, kind, use string, path func(string) string) *cobra.Command {
	return newDeleteByNameCommand(a, &cobra.Command{
		Use:     use + " NAME...",
		Aliases: []string{use + "s"},
		Short:   "Delete " + kind + "s",
		Example: "  pgo delete " + use + " alice",
	}, kind, pgoNameValidator(kind), path)
}

// checkPermissions checks permission names against pgoapi's list.
func checkPermissions(perms []string) error {
	if len(perms) == 0 {
		return fmt.Errorf("--%s is required: give permission names, comma-separated, or \"*\" for all", flagPgorolePermissions)
	}
	for _, p := range perms {
		if err := invalid("--"+flagPgorolePermissions, p, rules.Permission(p)); err != nil {
			return err
		}
	}
	return invalid("--"+flagPgorolePermissions, "", rules.Permissions(perms))
}

func newCreatePgoroleCommand(a *app) *cobra.Command {
	var perms []string
	cmd := &cobra.Command{
		Use:     "pgorole NAME --permissions=PERMISSION,...",
		Short:   "Create a pgo role: a set of permissions",
		Example: "  pgo create pgorole readonly --permissions=ShowCluster,ShowUser,TestCluster,Status,Version",
		Args:    exactlyOneName(pgoroleKind),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := validatePgoName(pgoroleKind, name); err != nil {
				return err
			}
			if err := checkPermissions(perms); err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			var resp pgoapi.PgoroleResponse
			if err := c.post(cmd.Context(), pgoapi.PathPgoroles, pgoapi.CreatePgoroleRequest{Name: name, Permissions: perms}, &resp); err != nil {
				return fmt.Errorf("creating pgo role %s: %w", name, err)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "created pgo role %s\n", resp.Pgorole.Name)
			return err
		},
	}
	cmd.Flags().StringSliceVar(&perms, flagPgorolePermissions, nil, "permissions of the role, comma-separated, or \"*\" for all")
	return cmd
}

// pgoroles are the pgo roles the apiserver shows.
var pgoroles = namedObjects[pgoapi.ShowPgoroleResponse]{
	kind: pgoroleKind,
	list: pgoapi.PathPgoroles,
	one:  pgoapi.PgorolePath,
	add: func(all *pgoapi.ShowPgoroleResponse, one pgoapi.ShowPgoroleResponse) {
		all.Pgoroles = append(all.Pgoroles, one.Pgoroles...)
	},
}

func newShowPgoroleCommand(a *app) *cobra.Command {
	return newShowByNameCommand(a, &cobra.Command{
		Use:     "pgorole NAME...|--all",
		Aliases: []string{"pgoroles"},
		Short:   "Show pgo roles with their permissions",
		Example: "  pgo show pgorole --all",
	}, pgoroles, pgoNameValidator(pgoroleKind), renderPgoroles)
}

// renderPgoroles prints pgo roles as the Crunchy 4.x client does.
func renderPgoroles(w io.Writer, resp pgoapi.ShowPgoroleResponse) error {
	ew := &errWriter{w: w}
	if len(resp.Pgoroles) == 0 {
		ew.printf("no pgo roles found\n")
	}
	for i, r := range resp.Pgoroles {
		if i > 0 {
			ew.printf("\n")
		}
		ew.printf("pgorole : %s\n", r.Name)
		ew.printf("permissions : %s\n", strings.Join(r.Permissions, ","))
	}
	return ew.err
}

func newUpdatePgoroleCommand(a *app) *cobra.Command {
	var perms []string
	cmd := &cobra.Command{
		Use:     "pgorole NAME --permissions=PERMISSION,...",
		Short:   "Replace a pgo role's permissions",
		Example: "  pgo update pgorole readonly --permissions=ShowCluster,ShowUser",
		Args:    exactlyOneName(pgoroleKind),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := validatePgoName(pgoroleKind, name); err != nil {
				return err
			}
			if err := checkPermissions(perms); err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			var resp pgoapi.PgoroleResponse
			if err := c.patch(cmd.Context(), pgoapi.PgorolePath(name), pgoapi.UpdatePgoroleRequest{Permissions: perms}, &resp); err != nil {
				return fmt.Errorf("updating pgo role %s: %w", name, err)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "updated pgo role %s\n", resp.Pgorole.Name)
			return err
		},
	}
	cmd.Flags().StringSliceVar(&perms, flagPgorolePermissions, nil, "the role's permissions, comma-separated, or \"*\" for all (replaces them)")
	return cmd
}
