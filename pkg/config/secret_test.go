package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"
)

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://user:password@host:9200", "https://user:xxxxx@host:9200"},
		{"https://elastic:pw@es.example.com:9200/prefix?x=1", "https://elastic:xxxxx@es.example.com:9200/prefix?x=1"},
		{"https://:pw@host", "https://:xxxxx@host"},
		{"http://127.0.0.1:9200", "http://127.0.0.1:9200"},
		{"https://user@host", "https://user@host"}, // no password: nothing to mask (url.URL.Redacted alike)
		{"127.0.0.1:9092", "127.0.0.1:9092"},
		{"", ""},
		{"plain text with an @ sign", "plain text with an @ sign"},
		// A --feeds entry with a source name is not one URL; the URL inside is masked.
		{"bbc=https://reader:s3cr3t@feeds.example.com/rss", "bbc=https://reader:xxxxx@feeds.example.com/rss"},
		// A raw '@' in the password: url.Parse takes the last '@', and so does the mask.
		{"x=https://u:p@ss@host/a", "x=https://u:xxxxx@host/a"},
		// Error messages quoting URLs, several of them.
		{`search-url: "https://a:one@h1:9200" and "http://b:two@h2" failed`, `search-url: "https://a:xxxxx@h1:9200" and "http://b:xxxxx@h2" failed`},
		{"Get https://u:pw@host/x: EOF", "Get https://u:xxxxx@host/x: EOF"},
	}
	for _, tt := range tests {
		if got := RedactURL(tt.in); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := RedactURLs([]string{"https://u:pw@a", "http://b"}); strings.Join(got, ",") != "https://u:xxxxx@a,http://b" {
		t.Errorf("RedactURLs: %q", got)
	}
}

func TestRedactError(t *testing.T) {
	_, perr := url.Parse("https://u:pw@host:bad port/")
	if perr == nil || !strings.Contains(perr.Error(), "pw") {
		t.Fatalf("url.Parse error no longer quotes the password (%v); the test needs another example", perr)
	}
	err := RedactError(fmt.Errorf("search URL: %w", perr))
	var ue *url.Error
	if strings.Contains(err.Error(), "pw") || !strings.Contains(err.Error(), "xxxxx") || !errors.As(err, &ue) {
		t.Fatalf("RedactError: %q (errors.As url.Error: %v)", err, errors.As(err, &ue))
	}
	plain := errors.New("no URL here")
	if RedactError(plain) != plain || RedactError(nil) != nil {
		t.Fatal("RedactError changed an error without a password")
	}
}

func TestSplitSecrets(t *testing.T) {
	tests := []struct {
		in   string
		want []Secret
	}{
		{"", nil},
		{"  ", nil},
		{"one", []Secret{"one"}},
		{" one , two ", []Secret{"one", "two"}},
		{"one,", []Secret{"one", ""}}, // kept, so that validation can refuse it
		{"a,,b", []Secret{"a", "", "b"}},
	}
	for _, tt := range tests {
		got := SplitSecrets(tt.in)
		if fmt.Sprint(len(got)) != fmt.Sprint(len(tt.want)) {
			t.Errorf("SplitSecrets(%q): %d items, want %d", tt.in, len(got), len(tt.want))
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("SplitSecrets(%q)[%d] = %q, want %q", tt.in, i, string(got[i]), string(tt.want[i]))
			}
		}
	}
}

// inner stands for a shared config struct holding a secret (kafkax.Config's SASL password,
// search.Config's password): the masking must not depend on knowing its fields.
type inner struct {
	Brokers  []string
	Password Secret
}

type outer struct {
	Kafka  inner
	Tokens []Secret
	URL    string
	Feeds  []string
	Name   string
}

func testConfig() outer {
	return outer{
		Kafka:  inner{Brokers: []string{"127.0.0.1:9092"}, Password: "kafka-pw-123"},
		Tokens: []Secret{"tok-aaa-111", "tok-bbb-222"},
		URL:    "https://elastic:search-pw-456@127.0.0.1:9200",
		Feeds:  []string{"bbc=https://reader:feed-pw-789@127.0.0.1:1/rss", "https://example.org/atom"},
		Name:   "plain",
	}
}

var testSecrets = []string{"kafka-pw-123", "tok-aaa-111", "tok-bbb-222", "search-pw-456", "feed-pw-789"}

func TestSecretNeverPrints(t *testing.T) {
	s := Secret("hunter2")
	for _, got := range []string{fmt.Sprint(s), fmt.Sprintf("%s|%v|%q|%+v|%#v", s, s, s, s, s), fmt.Sprintf("%+v", struct{ S Secret }{s})} {
		if strings.Contains(got, "hunter2") || !strings.Contains(got, "***") {
			t.Errorf("printed %q", got)
		}
	}
	j, err := json.Marshal(map[string]any{"s": s, "list": []Secret{s}, "nested": struct{ P Secret }{s}})
	if err != nil || strings.Contains(string(j), "hunter2") || !strings.Contains(string(j), `"***"`) {
		t.Errorf("JSON %s (%v)", j, err)
	}
	if txt, _ := s.MarshalText(); string(txt) != "***" {
		t.Errorf("MarshalText %q", txt)
	}
	if j, _ := json.Marshal(Secret("")); string(j) != `""` {
		t.Errorf("an empty secret marshals as %s, want \"\" (unset stays visible)", j)
	}
}

// TestSlogNeverPrintsSecrets logs a struct holding secrets every way slog allows, through the
// JSON and the text handler, and greps the output.
func TestSlogNeverPrintsSecrets(t *testing.T) {
	cfg := testConfig()
	for _, format := range []string{"json", "text"} {
		var buf bytes.Buffer
		var h slog.Handler = slog.NewJSONHandler(&buf, nil)
		if format == "text" {
			h = slog.NewTextHandler(&buf, nil)
		}
		log := slog.New(h)
		log.Info("starting", Attrs(cfg)...)
		log.Info("kafka", "password", cfg.Kafka.Password, slog.Any("secret", cfg.Kafka.Password), "tokens", cfg.Tokens)
		log.Info("struct", slog.Any("kafka", cfg.Kafka), "cfg_ptr", &cfg.Kafka)
		log.With("password", cfg.Kafka.Password).Info("with", slog.Group("g", "p", cfg.Kafka.Password))
		out := buf.String()
		for _, sec := range []string{"kafka-pw-123", "tok-aaa-111", "tok-bbb-222"} {
			if strings.Contains(out, sec) {
				t.Errorf("%s log shows %q:\n%s", format, sec, out)
			}
		}
		// Attrs masks URLs too (slog.Any of a raw string cannot know it is a URL).
		first, _, _ := strings.Cut(out, "\n")
		for _, sec := range testSecrets {
			if strings.Contains(first, sec) {
				t.Errorf("%s start-up line shows %q: %s", format, sec, first)
			}
		}
		for _, want := range []string{"***", "elastic:xxxxx@127.0.0.1:9200", "reader:xxxxx@127.0.0.1:1/rss", "example.org/atom", "plain"} {
			if !strings.Contains(first, want) {
				t.Errorf("%s start-up line lacks %q: %s", format, want, first)
			}
		}
	}
}

func TestAttrsKeepsTypes(t *testing.T) {
	attrs := Attrs(testConfig())
	got := map[string]any{}
	for i := 0; i+1 < len(attrs); i += 2 {
		got[attrs[i].(string)] = attrs[i+1]
	}
	if v, ok := got["kafka.brokers"].([]string); !ok || v[0] != "127.0.0.1:9092" {
		t.Errorf("kafka.brokers = %#v", got["kafka.brokers"])
	}
	if v, ok := got["tokens"].([]string); !ok || strings.Join(v, ",") != "***,***" {
		t.Errorf("tokens = %#v", got["tokens"])
	}
	if got["kafka.password"] != "***" || got["name"] != "plain" {
		t.Errorf("attrs %v", got)
	}
}
