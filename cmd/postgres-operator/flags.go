package main

import (
	"flag"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// envFlags define a command's flags whose default comes from an
// environment variable, named in their help: the pod builder sets the
// environment, a person the flags.
type envFlags struct{ cmd *cobra.Command }

func (e envFlags) String(p *string, name, env, def, usage string) {
	if v := os.Getenv(env); v != "" {
		def = v
	}
	e.cmd.Flags().StringVar(p, name, def, usage+" ($"+env+")")
}

func (e envFlags) Int(p *int, name, env string, def int, usage string) {
	if v, err := strconv.Atoi(os.Getenv(env)); err == nil {
		def = v
	}
	e.cmd.Flags().IntVar(p, name, def, usage+" ($"+env+")")
}

func (e envFlags) Duration(p *time.Duration, name, env string, def time.Duration, usage string) {
	if v, err := time.ParseDuration(os.Getenv(env)); err == nil {
		def = v
	}
	e.cmd.Flags().DurationVar(p, name, def, usage+" ($"+env+")")
}

// logFlags adds zap's flags (--zap-log-level, ...) to a command's.
func logFlags(cmd *cobra.Command, opts *zap.Options) {
	fs := flag.NewFlagSet("log", flag.ContinueOnError)
	opts.BindFlags(fs)
	cmd.Flags().AddGoFlagSet(fs)
}
