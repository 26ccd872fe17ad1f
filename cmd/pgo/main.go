// Command pgo is the command-line client of pgo: it talks to the pgo
// apiserver over HTTPS, as the Crunchy PostgreSQL Operator 4.x client does.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := newRootCommand(newApp(osEnvironment())).ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "pgo:", err)
		os.Exit(1)
	}
}

// app is what every command shares: the global flags, the environment and,
// once a command needs it, the apiserver client.
type app struct {
	flags globalFlags
	env   environment
	api   *apiClient
	// pollInterval is how often --wait looks at a cluster; now is the
	// clock of its progress lines.
	pollInterval time.Duration
	now          func() time.Time
	// terminal asks for secrets when standard input is a terminal.
	terminal terminalFunc
}

func newApp(env environment) *app {
	return &app{env: env, pollInterval: 2 * time.Second, now: time.Now, terminal: osTerminal}
}

// client connects to the apiserver on first use, so that input is checked
// before any configuration is needed.
func (a *app) client() (*apiClient, error) {
	if a.api != nil {
		return a.api, nil
	}
	conn, err := resolveConnection(a.flags, a.env)
	if err != nil {
		return nil, err
	}
	a.api = newAPIClient(conn)
	return a.api, nil
}

// namespace is the namespace of namespaced commands.
func (a *app) namespace() (string, error) {
	return resolveNamespace(a.flags, a.env)
}

// namespacedClient is the namespace of a namespaced command and the client
// that connects to the apiserver, in that order: a bad namespace is reported
// before missing configuration.
func (a *app) namespacedClient() (string, *apiClient, error) {
	ns, err := a.namespace()
	if err != nil {
		return "", nil, err
	}
	c, err := a.client()
	if err != nil {
		return "", nil, err
	}
	return ns, c, nil
}

func newRootCommand(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "pgo",
		Short: "Manage highly available PostgreSQL clusters on Kubernetes",
		Long: `pgo manages highly available PostgreSQL clusters through the pgo apiserver.

It reads the apiserver's address from --apiserver-url or PGO_APISERVER_URL, the
CA that signed its certificate from --pgo-ca-cert or PGO_CA_CERT, the namespace
from -n or PGO_NAMESPACE, and the pgo user from PGOUSERNAME and PGOUSERPASS or
the file ~/.pgouser ("username:password").`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&a.flags.apiserverURL, "apiserver-url", "", "the apiserver's URL, such as https://127.0.0.1:8443 (default $PGO_APISERVER_URL)")
	pf.StringVarP(&a.flags.namespace, "namespace", "n", "", "the namespace to work in (default $PGO_NAMESPACE)")
	pf.StringVar(&a.flags.caCert, "pgo-ca-cert", "", "the CA certificate (PEM) that signed the apiserver's certificate (default $PGO_CA_CERT)")
	pf.BoolVar(&a.flags.insecureHTTP, "insecure-http", false, "allow an http:// apiserver address, whose requests carry the pgo password in clear")

	create := &cobra.Command{Use: "create", Short: "Create a resource"}
	show := &cobra.Command{Use: "show", Short: "Show resources"}
	update := &cobra.Command{Use: "update", Short: "Change a resource"}
	del := &cobra.Command{Use: "delete", Short: "Delete a resource"}
	for _, c := range []*cobra.Command{create, show, update, del} {
		c.Args = cobra.NoArgs
		c.RunE = func(cmd *cobra.Command, _ []string) error {
			return fmt.Errorf("%s what? give one of: %s", cmd.Name(), subcommandNames(cmd))
		}
	}
	root.AddCommand(create, show, update, del)

	addNamespaceCommands(a, create, show, del)
	addClusterCommands(a, root, create, show, update, del)
	addUserCommands(a, create, show, update, del)
	addPgouserCommands(a, create, show, update, del)
	addPgoroleCommands(a, create, show, update, del)
	addBackupCommands(a, root, show, del)
	addWorkflowCommands(a, show)
	addStatusCommands(a, root)
	return root
}

func subcommandNames(cmd *cobra.Command) string {
	var names string
	for i, c := range cmd.Commands() {
		if i > 0 {
			names += ", "
		}
		names += c.Name()
	}
	return names
}
