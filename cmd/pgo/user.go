package main

import (
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"pgo.dev/pgo/internal/pgoapi"
	"pgo.dev/pgo/internal/rules"
)

// Database users of a cluster: create, show, update, delete user.

func addUserCommands(a *app, create, show, update, del *cobra.Command) {
	create.AddCommand(newCreateUserCommand(a))
	show.AddCommand(newShowUserCommand(a))
	update.AddCommand(newUpdateUserCommand(a))
	del.AddCommand(newDeleteUserCommand(a))
}

func newCreateUserCommand(a *app) *cobra.Command {
	var (
		req      pgoapi.CreateUserRequest
		password = secretFlag{name: "password"}
		output   string
	)
	cmd := &cobra.Command{
		Use:   "user CLUSTER --username=NAME",
		Short: "Create a database user in a cluster",
		Example: `  pgo create user hacluster --username=orion --databases=hacluster
  pgo create user hacluster --username=app --password-length=32 --valid-days=30
  printf '%s' "$PASSWORD" | pgo create user hacluster --username=app --password-stdin`,
		Args: exactlyOneName("cluster"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cluster := args[0]
			if err := checkOutputFormat(output); err != nil {
				return err
			}
			if err := validateClusterName(cluster); err != nil {
				return err
			}
			if err := validateRoleName("--username", req.Username); err != nil {
				return err
			}
			if err := password.check(cmd); err != nil {
				return err
			}
			if password.given(cmd) && cmd.Flags().Changed("password-length") {
				return fmt.Errorf("give %s or --password-length, not both: the length is for a generated password", password.givenAs(cmd))
			}
			if cmd.Flags().Changed("password-length") {
				if err := invalidNumber("--password-length", req.PasswordLength, rules.PasswordLength(req.PasswordLength)); err != nil {
					return err
				}
			}
			if err := checkEnum("--password-type", req.PasswordType, rules.PasswordTypes...); err != nil {
				return err
			}
			if err := invalidNumber("--valid-days", req.ValidDays, rules.Days(req.ValidDays)); err != nil {
				return err
			}
			if err := checkDatabases(req.Databases); err != nil {
				return err
			}
			pw, from, err := password.read(cmd, a.terminal, userPasswordPrompt(req.Username, cluster))
			if err != nil {
				return err
			}
			if err := checkPassword(pw); err != nil {
				return secretError(from, err)
			}
			req.Password = pw
			ns, c, err := a.namespacedClient()
			if err != nil {
				return err
			}
			var resp pgoapi.UserResponse
			if err := c.post(cmd.Context(), pgoapi.ClusterUsersPath(ns, cluster), req, &resp); err != nil {
				return fmt.Errorf("creating user %s in cluster %s: %w", req.Username, cluster, err)
			}
			if req.Password != "" {
				// The apiserver answers with the password; print it only
				// when it generated it.
				resp.User.Password = ""
			}
			return render(cmd.OutOrStdout(), output, pgoapi.ShowUserResponse{Users: []pgoapi.User{resp.User}}, renderUsers)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&req.Username, "username", "", "the user's name")
	password.add(cmd, "the user's password", " (default: generated)")
	fl.IntVar(&req.PasswordLength, "password-length", 0, "length of a generated password (default 24)")
	fl.StringVar(&req.PasswordType, "password-type", "", "scram-sha-256 or md5 (default: the cluster's)")
	fl.IntVar(&req.ValidDays, "valid-days", 0, "days until the password expires (default: never)")
	fl.StringSliceVar(&req.Databases, "databases", nil, "databases the user may use (default: the cluster's database)")
	addOutputFlag(cmd, &output)
	return cmd
}

// checkPassword checks a password given for a database user or a pgo user;
// empty is fine where one is generated.
func checkPassword(pw string) error {
	if pw == "" {
		return nil
	}
	return invalid("the password", "", rules.Password(pw))
}

// checkDatabases checks the databases given to a user (--databases).
func checkDatabases(dbs []string) error {
	if err := invalid("--databases", "", rules.Count(len(dbs), rules.MaxUserDatabases)); err != nil {
		return err
	}
	for _, db := range dbs {
		if err := validateDatabaseName("--databases", db); err != nil {
			return err
		}
	}
	return nil
}

// userPasswordPrompt asks for a database user's new password on a terminal.
func userPasswordPrompt(username, cluster string) secretPrompt {
	return secretPrompt{text: fmt.Sprintf("Password for user %s of cluster %s: ", username, cluster), repeat: true}
}

func newShowUserCommand(a *app) *cobra.Command {
	var (
		output       string
		showPassword bool
		expired      int
	)
	cmd := &cobra.Command{
		Use:     "user CLUSTER...",
		Aliases: []string{"users"},
		Short:   "Show the database users of clusters",
		Example: "  pgo show user hacluster\n  pgo show user hacluster --show-password\n  pgo show user hacluster --expired=7",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutputFormat(output); err != nil {
				return err
			}
			if err := validateEach(args, validateClusterName); err != nil {
				return err
			}
			if err := invalidNumber("--expired", expired, rules.Days(expired)); err != nil {
				return err
			}
			ns, c, err := a.namespacedClient()
			if err != nil {
				return err
			}
			q := url.Values{}
			if showPassword {
				q.Set(pgoapi.QueryShowPassword, "true")
			}
			if cmd.Flags().Changed("expired") {
				q.Set(pgoapi.QueryExpiring, strconv.Itoa(expired))
			}
			var all pgoapi.ShowUserResponse
			for _, name := range args {
				var resp pgoapi.ShowUserResponse
				if err := c.get(cmd.Context(), pgoapi.ClusterUsersPath(ns, name), q, &resp); err != nil {
					return fmt.Errorf("listing the users of cluster %s: %w", name, err)
				}
				all.Users = append(all.Users, resp.Users...)
			}
			return render(cmd.OutOrStdout(), output, all, renderUsers)
		},
	}
	cmd.Flags().BoolVar(&showPassword, "show-password", false, "show passwords (needs the ShowSecrets permission)")
	cmd.Flags().IntVar(&expired, "expired", 0, "show only users whose passwords expire within this many days")
	addOutputFlag(cmd, &output)
	return cmd
}

// renderUsers prints users as the Crunchy 4.x client does.
func renderUsers(w io.Writer, resp pgoapi.ShowUserResponse) error {
	if len(resp.Users) == 0 {
		_, err := fmt.Fprintln(w, "no users found")
		return err
	}
	t := newTable(w, "CLUSTER", "USERNAME", "PASSWORD", "EXPIRES", "DATABASES", "PASSWORD TYPE")
	for _, u := range resp.Users {
		name := u.Name
		if u.Owner {
			name += " (owner)"
		}
		t.row(u.Cluster, name, orDash(u.Password), formatExpiry(u), orDash(strings.Join(u.Databases, ",")), orDash(u.PasswordType))
	}
	return t.flush()
}

func formatExpiry(u pgoapi.User) string {
	switch {
	case u.ValidUntil == nil:
		return "never"
	case u.Expired:
		return "expired " + u.ValidUntil.UTC().Format(time.DateOnly)
	}
	return u.ValidUntil.UTC().Format(time.DateOnly)
}

// updateUserFlags are the flags of `pgo update user`.
type updateUserFlags struct {
	username, passwordType    string
	password                  secretFlag
	rotate, expire            bool
	passwordLength, validDays int
	databases                 []string
	output                    string
}

// request checks the flags, reads a new password last, and builds the
// request.
func (f *updateUserFlags) request(cmd *cobra.Command, cluster string, terminal terminalFunc) (pgoapi.UpdateUserRequest, error) {
	var req pgoapi.UpdateUserRequest
	changed := cmd.Flags().Changed
	if err := validateRoleName("--username", f.username); err != nil {
		return req, err
	}
	if err := f.password.check(cmd); err != nil {
		return req, err
	}
	if f.password.given(cmd) && f.rotate {
		return req, fmt.Errorf("give %s or --rotate-password, not both", f.password.givenAs(cmd))
	}
	if changed("password-length") {
		if !f.rotate {
			return req, fmt.Errorf("--password-length goes with --rotate-password")
		}
		if err := invalidNumber("--password-length", f.passwordLength, rules.PasswordLength(f.passwordLength)); err != nil {
			return req, err
		}
		req.PasswordLength = f.passwordLength
	}
	req.RotatePassword = f.rotate
	if changed("password-type") {
		if err := checkEnum("--password-type", f.passwordType, rules.PasswordTypes...); err != nil {
			return req, err
		}
		if f.passwordType == "" {
			return req, fmt.Errorf("--password-type is empty; give scram-sha-256 or md5")
		}
		req.PasswordType = &f.passwordType
	}
	if f.expire && changed("valid-days") {
		return req, fmt.Errorf("give --expire-user or --valid-days, not both")
	}
	if changed("valid-days") {
		// 0 or less: the password never expires.
		if f.validDays > 0 {
			if err := invalidNumber("--valid-days", f.validDays, rules.Days(f.validDays)); err != nil {
				return req, err
			}
		}
		req.ValidDays = &f.validDays
	}
	req.ExpireUser = f.expire
	if changed("databases") {
		if err := checkDatabases(f.databases); err != nil {
			return req, err
		}
		dbs := f.databases
		req.Databases = &dbs
	}
	if f.password.given(cmd) {
		pw, from, err := f.password.read(cmd, terminal, userPasswordPrompt(f.username, cluster))
		if err != nil {
			return req, err
		}
		if pw == "" {
			return req, fmt.Errorf("%s is empty; give a password, or --rotate-password to have one generated", from)
		}
		if err := checkPassword(pw); err != nil {
			return req, secretError(from, err)
		}
		req.Password = &pw
	}
	if req.Password == nil && !req.RotatePassword && req.PasswordType == nil && req.ValidDays == nil && !req.ExpireUser && req.Databases == nil {
		return req, fmt.Errorf("nothing to change: give --password-stdin, --rotate-password, --password-type, --valid-days, --expire-user or --databases")
	}
	return req, nil
}

func newUpdateUserCommand(a *app) *cobra.Command {
	var f updateUserFlags
	cmd := &cobra.Command{
		Use:   "user CLUSTER --username=NAME",
		Short: "Change a database user's password, its expiry or its databases",
		Example: `  pgo update user hacluster --username=orion --rotate-password
  pgo update user hacluster --username=orion --password-stdin   # asks for the password on a terminal
  pgo update user hacluster --username=orion --valid-days=30
  pgo update user hacluster --username=orion --expire-user`,
		Args: exactlyOneName("cluster"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cluster := args[0]
			if err := checkOutputFormat(f.output); err != nil {
				return err
			}
			if err := validateClusterName(cluster); err != nil {
				return err
			}
			req, err := f.request(cmd, cluster, a.terminal)
			if err != nil {
				return err
			}
			ns, c, err := a.namespacedClient()
			if err != nil {
				return err
			}
			var resp pgoapi.UserResponse
			if err := c.patch(cmd.Context(), pgoapi.ClusterUserPath(ns, cluster, f.username), req, &resp); err != nil {
				return fmt.Errorf("updating user %s of cluster %s: %w", f.username, cluster, err)
			}
			if req.Password != nil {
				// The apiserver answers with the password; print it only
				// when it generated it.
				resp.User.Password = ""
			}
			return render(cmd.OutOrStdout(), f.output, pgoapi.ShowUserResponse{Users: []pgoapi.User{resp.User}}, renderUsers)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.username, "username", "", "the user to change")
	f.password = secretFlag{name: "password"}
	f.password.add(cmd, "a new password", "")
	fl.BoolVar(&f.rotate, "rotate-password", false, "generate a new password")
	fl.IntVar(&f.passwordLength, "password-length", 0, "length of the generated password, with --rotate-password (default 24)")
	fl.StringVar(&f.passwordType, "password-type", "", "scram-sha-256 or md5 (the password is set again)")
	fl.IntVar(&f.validDays, "valid-days", 0, "days from now until the password expires; 0 for never")
	fl.BoolVar(&f.expire, "expire-user", false, "make the password expire now")
	fl.StringSliceVar(&f.databases, "databases", nil, "the databases the user may use (replaces the list)")
	addOutputFlag(cmd, &f.output)
	return cmd
}

func newDeleteUserCommand(a *app) *cobra.Command {
	var (
		username string
		prompt   promptFlag
	)
	cmd := &cobra.Command{
		Use:     "user CLUSTER --username=NAME",
		Short:   "Delete a database user from a cluster",
		Example: "  pgo delete user hacluster --username=orion",
		Args:    exactlyOneName("cluster"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cluster := args[0]
			if err := validateClusterName(cluster); err != nil {
				return err
			}
			if err := validateRoleName("--username", username); err != nil {
				return err
			}
			ns, c, err := a.namespacedClient()
			if err != nil {
				return err
			}
			if err := prompt.confirm(cmd); err != nil {
				return err
			}
			var resp pgoapi.DeleteUserResponse
			if err := c.delete(cmd.Context(), pgoapi.ClusterUserPath(ns, cluster, username), nil, &resp); err != nil {
				return fmt.Errorf("deleting user %s of cluster %s: %w", username, cluster, err)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "deleted user %s from cluster %s\n", resp.Name, resp.Cluster)
			return err
		},
	}
	cmd.Flags().StringVar(&username, "username", "", "the user to delete")
	prompt.add(cmd)
	return cmd
}
