package pgbackrest

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// ConfigFile is a configuration as pgBackRest reads it: the options of
// each section, from a file and the *.conf files of an include path.
// Programs that act for pgBackRest (the supervisor of its server, the
// repository host) read it, so that what they do follows the files
// pgBackRest reads rather than a second description of them. It may hold
// secrets (the include path's): never print it.
type ConfigFile map[string]map[string]string

// ReadConfig reads a configuration file and the *.conf files of an include
// path, in pgBackRest's order (the file, then the include path's files by
// name). An empty name is skipped.
func ReadConfig(file, includePath string) (ConfigFile, error) {
	c := ConfigFile{}
	var files []string
	if file != "" {
		files = append(files, file)
	}
	if includePath != "" {
		names, err := IncludeFiles(includePath)
		if err != nil {
			return nil, err
		}
		files = append(files, names...)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("reading pgBackRest's configuration: %w", err)
		}
		c.parse(string(data))
	}
	return c, nil
}

// IncludeFiles are the files of an include path that pgBackRest reads:
// *.conf, sorted (a Secret's or ConfigMap's volume also holds ..data and
// timestamped directories, which it skips).
func IncludeFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading pgBackRest's include path: %w", err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".conf") && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	slices.Sort(out)
	return out, nil
}

// ParseConfig reads the text of a configuration file.
func ParseConfig(text string) ConfigFile {
	c := ConfigFile{}
	c.parse(text)
	return c
}

func (c ConfigFile) parse(text string) {
	section := ""
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.TrimSpace(line[1 : len(line)-1])
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				continue
			}
			if c[section] == nil {
				c[section] = map[string]string{}
			}
			c[section][strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
}

// option is an option of a command for the stanza: the stanza's
// command-specific section wins over the stanza's, the global
// command-specific one, then global.
func (c ConfigFile) option(command, name string) string {
	for _, s := range []string{Stanza + ":" + command, Stanza, "global:" + command, "global"} {
		if v, ok := c[s][name]; ok {
			return v
		}
	}
	return ""
}

// ConfiguredRepo is a repository a configuration defines.
type ConfiguredRepo struct {
	Index int
	// Type is pgBackRest's repoN-type: posix (the default), s3, ...
	Type string
	// Bucket is an S3 repository's.
	Bucket string
}

var repoOption = regexp.MustCompile(`^repo([1-9][0-9]*)-`)

// Repos are the repositories the configuration defines, by index: every
// index that has options.
func (c ConfigFile) Repos() []ConfiguredRepo {
	var indexes []int
	for _, s := range []string{"global", Stanza} {
		for k := range c[s] {
			if m := repoOption.FindStringSubmatch(k); m != nil {
				n, _ := strconv.Atoi(m[1])
				if !slices.Contains(indexes, n) {
					indexes = append(indexes, n)
				}
			}
		}
	}
	slices.Sort(indexes)
	out := make([]ConfiguredRepo, len(indexes))
	for i, n := range indexes {
		p := fmt.Sprintf("repo%d-", n)
		out[i] = ConfiguredRepo{Index: n, Type: c.option("", p+"type"), Bucket: c.option("", p+"s3-bucket")}
		if out[i].Type == "" {
			out[i].Type = "posix"
		}
	}
	return out
}

// ServerTLS are the files of the TLS server's certificate, key and CA.
func (c ConfigFile) ServerTLS() TLS {
	return TLS{
		CertFile: c.option("server", "tls-server-cert-file"),
		KeyFile:  c.option("server", "tls-server-key-file"),
		CAFile:   c.option("server", "tls-server-ca-file"),
	}
}
