// Package config binds a service's configuration struct to command-line flags with NEWSFLOW_*
// environment variables as their defaults, so that every setting can come from either, flags win,
// and `--help` shows each flag with its variable. It also renders the effective configuration for
// the start-up log with secrets masked.
package config

import (
	"flag"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Secret is a string that never prints: the start-up log and error messages show "***".
type Secret string

// String masks the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "***"
}

// Set binds flags and their environment variables on one FlagSet, and remembers which environment
// values could not be parsed so that Parse can report them all at once.
type Set struct {
	FS     *flag.FlagSet
	envErr []string
	vars   map[string]string // flag name -> env var
}

// New returns a Set over a new FlagSet named name.
func New(name string) *Set {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	return &Set{FS: fs, vars: map[string]string{}}
}

func (s *Set) usage(env, usage string) string {
	if env == "" {
		return usage
	}
	return fmt.Sprintf("%s (env %s)", usage, env)
}

func (s *Set) lookup(name, env string) (string, bool) {
	if env == "" {
		return "", false
	}
	s.vars[name] = env
	return os.LookupEnv(env)
}

// String binds a string flag.
func (s *Set) String(p *string, name, env, def, usage string) {
	if v, ok := s.lookup(name, env); ok {
		def = v
	}
	s.FS.StringVar(p, name, def, s.usage(env, usage))
}

// Secret binds a secret string flag; its default is never shown in --help.
func (s *Set) Secret(p *Secret, name, env, usage string) {
	*p = ""
	if v, ok := s.lookup(name, env); ok {
		*p = Secret(v)
	}
	s.FS.Func(name, s.usage(env, usage), func(v string) error { *p = Secret(v); return nil })
}

// Strings binds a comma-separated list flag.
func (s *Set) Strings(p *[]string, name, env, def, usage string) {
	if v, ok := s.lookup(name, env); ok {
		def = v
	}
	*p = SplitList(def)
	s.FS.Func(name, s.usage(env, usage)+" (comma-separated; default "+strconv.Quote(def)+")", func(v string) error {
		*p = SplitList(v)
		return nil
	})
}

// Int binds an int flag.
func (s *Set) Int(p *int, name, env string, def int, usage string) {
	if v, ok := s.lookup(name, env); ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			s.envErr = append(s.envErr, fmt.Sprintf("%s=%q is not an integer", env, v))
		} else {
			def = n
		}
	}
	s.FS.IntVar(p, name, def, s.usage(env, usage))
}

// Int64 binds an int64 flag (sizes in bytes).
func (s *Set) Int64(p *int64, name, env string, def int64, usage string) {
	if v, ok := s.lookup(name, env); ok {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			s.envErr = append(s.envErr, fmt.Sprintf("%s=%q is not an integer", env, v))
		} else {
			def = n
		}
	}
	s.FS.Int64Var(p, name, def, s.usage(env, usage))
}

// Bool binds a bool flag.
func (s *Set) Bool(p *bool, name, env string, def bool, usage string) {
	if v, ok := s.lookup(name, env); ok {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			s.envErr = append(s.envErr, fmt.Sprintf("%s=%q is not a boolean", env, v))
		} else {
			def = b
		}
	}
	s.FS.BoolVar(p, name, def, s.usage(env, usage))
}

// Duration binds a duration flag ("500ms", "5s").
func (s *Set) Duration(p *time.Duration, name, env string, def time.Duration, usage string) {
	if v, ok := s.lookup(name, env); ok {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			s.envErr = append(s.envErr, fmt.Sprintf("%s=%q is not a duration (e.g. 500ms, 5s)", env, v))
		} else {
			def = d
		}
	}
	s.FS.DurationVar(p, name, def, s.usage(env, usage))
}

// Parse parses args and reports bad environment values together with bad flags.
func (s *Set) Parse(args []string) error {
	if err := s.FS.Parse(args); err != nil {
		return err
	}
	if len(s.envErr) > 0 {
		return fmt.Errorf("invalid environment: %s", strings.Join(s.envErr, "; "))
	}
	return nil
}

// SplitList splits a comma-separated list, trimming blanks and dropping empty items.
func SplitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Attrs renders the exported fields of a config struct as key/value pairs for slog, in field
// order, with Secret fields masked. Nested structs are flattened with a dotted prefix.
func Attrs(cfg any) []any {
	var out []any
	var walk func(prefix string, v reflect.Value)
	walk = func(prefix string, v reflect.Value) {
		for v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return
			}
			v = v.Elem()
		}
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name := prefix + snake(f.Name)
			fv := v.Field(i)
			switch {
			case f.Type == reflect.TypeOf(Secret("")):
				out = append(out, name, fv.Interface().(Secret).String())
			case f.Type == reflect.TypeOf(time.Duration(0)):
				out = append(out, name, fv.Interface().(time.Duration).String())
			case fv.Kind() == reflect.Struct:
				walk(name+".", fv)
			default:
				out = append(out, name, fv.Interface())
			}
		}
	}
	walk("", reflect.ValueOf(cfg))
	return out
}

// snake turns a Go field name into a log key: "KafkaBrokers" -> "kafka_brokers",
// "HTTPAddr" -> "http_addr".
func snake(s string) string {
	isUpper := func(c byte) bool { return c >= 'A' && c <= 'Z' }
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUpper(c) {
			// "URLs" is a plural acronym, not "UR" + "Ls".
			pluralEnd := i+2 == len(s) && s[i+1] == 's'
			if i > 0 && (!isUpper(s[i-1]) || (i+1 < len(s) && !isUpper(s[i+1]) && !pluralEnd)) {
				b.WriteByte('_')
			}
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}

// EnvVars lists the environment variables bound so far, sorted, for documentation and tests.
func (s *Set) EnvVars() []string {
	var out []string
	for _, v := range s.vars {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}
