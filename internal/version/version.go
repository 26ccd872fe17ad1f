// Package version is the version of pgo's binaries, set at build time with
// -ldflags "-X pgo.dev/pgo/internal/version.Version=...".
package version

// Version of pgo; "dev" for builds from a working tree.
var Version = "dev"
