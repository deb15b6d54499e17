// Package config binds a service's configuration struct to command-line flags with NEWSFLOW_*
// environment variables as their defaults, so that every setting can come from either, flags win,
// and `--help` shows each flag with its variable. It also renders the effective configuration for
// the start-up log with secrets masked.
package config

import (
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Secret is a string that never prints: the start-up log and error messages show "***". It masks
// itself in every way a value reaches a log: fmt (String, GoString), slog (LogValue, so text and
// JSON handlers alike), and encoding/json or any TextMarshaler user, so a struct holding a Secret
// (kafkax.Config, search.Config) can be logged whole with slog.Any. Read the value with string(s)
// where it is used. An unexported Secret field of a struct printed with %+v is the one way past
// this (fmt cannot call methods on unexported fields): keep Secret fields exported.
type Secret string

// mask is what a non-empty Secret shows; an empty one shows "" so that "not set" stays visible.
const mask = "***"

// String masks the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return mask
}

// GoString masks the value for %#v.
func (s Secret) GoString() string { return fmt.Sprintf("config.Secret(%q)", s.String()) }

// LogValue makes slog print the mask, whichever handler formats the record.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText masks the value for encoders that use encoding.TextMarshaler (YAML, map keys).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// MarshalJSON masks the value in JSON, including slog's JSON handler printing a struct.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// RedactURL masks the password of every URL with user:password@ in s, for logs and error
// messages: "https://elastic:pw@es:9200" becomes "https://elastic:xxxxx@es:9200"
// (url.URL.Redacted's form). A string that is one URL goes through url.URL.Redacted; anything
// else ("bbc=https://u:p@host/rss", an error message quoting a URL) has the userinfo of each
// "scheme://" it contains masked in place. Strings without a password come back unchanged.
func RedactURL(s string) string {
	if !strings.Contains(s, "@") {
		return s
	}
	if u, err := url.Parse(s); err == nil && u.Scheme != "" && u.User != nil {
		if _, ok := u.User.Password(); ok {
			return u.Redacted()
		}
		return s
	}
	return redactEmbedded(s)
}

// redactEmbedded masks the password in the authority of each "scheme://" in s. The authority
// ends at the first '/', '?', '#', blank or quote, and its userinfo at the last '@' before
// that, as url.Parse reads it, so a password holding a raw '@' is masked whole.
func redactEmbedded(s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "://")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		start := i + len("://")
		b.WriteString(s[:start])
		s = s[start:]
		end := strings.IndexAny(s, "/?#\"' \t\r\n")
		if end < 0 {
			end = len(s)
		}
		auth := s[:end]
		at := strings.LastIndex(auth, "@")
		colon := strings.Index(auth[:max(at, 0)], ":")
		if at < 0 || colon < 0 {
			b.WriteString(auth)
		} else {
			b.WriteString(auth[:colon+1] + "xxxxx" + auth[at:])
		}
		s = s[end:]
	}
}

// RedactURLs is RedactURL over a list (--search-url, --feeds).
func RedactURLs(list []string) []string {
	if list == nil {
		return nil
	}
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = RedactURL(s)
	}
	return out
}

// RedactError returns err with RedactURL applied to its message, for errors whose text quotes a
// URL (url.Parse's *url.Error does, password included). errors.Is and errors.As still see err.
func RedactError(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if red := RedactURL(msg); red != msg {
		return redactedError{msg: red, err: err}
	}
	return err
}

type redactedError struct {
	msg string
	err error
}

func (e redactedError) Error() string { return e.msg }
func (e redactedError) Unwrap() error { return e.err }

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

// Secrets binds a comma-separated list of secrets (several bearer tokens, so they can be
// rotated); its value is never shown in --help. An empty or blank value means none; otherwise
// every item is kept, trimmed, empty ones included, so that Validate can refuse "a,,b" or a
// trailing comma instead of silently accepting fewer secrets than the operator wrote.
func (s *Set) Secrets(p *[]Secret, name, env, usage string) {
	*p = nil
	if v, ok := s.lookup(name, env); ok {
		*p = SplitSecrets(v)
	}
	s.FS.Func(name, s.usage(env, usage)+" (comma-separated)", func(v string) error { *p = SplitSecrets(v); return nil })
}

// SplitSecrets splits a comma-separated list of secrets, trimming blanks around each; a blank
// value is no secrets, an empty item stays an empty Secret (see Set.Secrets).
func SplitSecrets(v string) []Secret {
	if strings.TrimSpace(v) == "" {
		return nil
	}
	var out []Secret
	for _, p := range strings.Split(v, ",") {
		out = append(out, Secret(strings.TrimSpace(p)))
	}
	return out
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
// order, with Secret and []Secret fields masked and the password of any URL with user:password@
// in a string or []string field masked (RedactURL), whichever setting holds it. Nested structs
// are flattened with a dotted prefix.
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
			case f.Type == reflect.TypeOf([]Secret(nil)):
				masked := make([]string, fv.Len())
				for j := range masked {
					masked[j] = fv.Index(j).Interface().(Secret).String()
				}
				out = append(out, name, masked)
			case fv.Kind() == reflect.String && RedactURL(fv.String()) != fv.String():
				out = append(out, name, RedactURL(fv.String()))
			case fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.String:
				list, changed := make([]string, fv.Len()), false
				for j := range list {
					list[j] = RedactURL(fv.Index(j).String())
					changed = changed || list[j] != fv.Index(j).String()
				}
				if changed {
					out = append(out, name, list)
				} else {
					out = append(out, name, fv.Interface())
				}
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
