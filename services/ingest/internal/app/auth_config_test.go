package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/newsflow/newsflow/pkg/config"
)

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080":        true,
		"127.1.2.3:8080":        true,
		"[::1]:8080":            true,
		"localhost:8080":        true,
		"LOCALHOST:8080":        true,
		"[::ffff:127.0.0.1]:80": true,
		"0.0.0.0:8080":          false,
		":8080":                 false,
		"[::]:8080":             false,
		"10.1.2.3:8080":         false,
		"192.168.1.20:8080":     false,
		"[fe80::1]:8080":        false,
		"ingest.example.com:80": false, // names are not resolved
		"localhost.evil.com:80": false,
		"127.0.0.1":             false, // not host:port
	} {
		if got := IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

// TestAnonymousBeyondLoopback: an address reachable from elsewhere needs a token or the
// explicit --insecure-allow-anonymous; loopback does not; the refusal says how to fix it.
func TestAnonymousBeyondLoopback(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokenFile, []byte("# rotated 2026-12\n\nfile-token-1\n  file-token-2  \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	emptyFile := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(emptyFile, []byte("# nothing yet\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		wantErr    []string // substrings of the error; none: valid
		tokens     []string
		anonymous  bool
		notInError string
	}{
		{name: "loopback without token", args: []string{"--addr", "127.0.0.1:8080"}},
		{name: "localhost without token", args: []string{"--addr", "localhost:8080"}},
		{name: "::1 without token", args: []string{"--addr", "[::1]:8080"}},
		{name: "0.0.0.0 without token", args: []string{"--addr", "0.0.0.0:8080"},
			wantErr: []string{"addr: 0.0.0.0:8080 is reachable from other machines and no token is configured", "--token", "NEWSFLOW_INGEST_TOKEN", "--token-file", "--addr 127.0.0.1:8080", "--insecure-allow-anonymous", "NEWSFLOW_INGEST_INSECURE_ALLOW_ANONYMOUS=true"}},
		{name: "empty host without token", args: []string{"--addr", ":8080"}, wantErr: []string{"addr: :8080 is reachable"}},
		{name: ":: without token", args: []string{"--addr", "[::]:8080"}, wantErr: []string{"is reachable"}},
		{name: "LAN IP without token", args: []string{"--addr", "10.1.2.3:8080"}, wantErr: []string{"is reachable"}},
		{name: "host name without token", args: []string{"--addr", "ingest.internal:8080"}, wantErr: []string{"is reachable"}},
		{name: "0.0.0.0 with the flag", args: []string{"--addr", "0.0.0.0:8080", "--insecure-allow-anonymous"}, anonymous: true},
		{name: "0.0.0.0 with the flag from env", args: []string{"--addr", "0.0.0.0:8080"}, env: map[string]string{"NEWSFLOW_INGEST_INSECURE_ALLOW_ANONYMOUS": "true"}, anonymous: true},
		{name: "0.0.0.0 with a token", args: []string{"--addr", "0.0.0.0:8080", "--token", "only-one"}, tokens: []string{"only-one"}},
		{name: "token and the flag: the token wins", args: []string{"--addr", "0.0.0.0:8080", "--token", "t1", "--insecure-allow-anonymous"}, tokens: []string{"t1"}},
		{name: "several tokens from env", args: []string{"--addr", ":8080"}, env: map[string]string{"NEWSFLOW_INGEST_TOKEN": "old-one, new-one"}, tokens: []string{"old-one", "new-one"}},
		{name: "blank env is no token", args: []string{"--addr", "127.0.0.1:8080"}, env: map[string]string{"NEWSFLOW_INGEST_TOKEN": " "}},
		{name: "token file", args: []string{"--addr", ":8080", "--token-file", tokenFile}, tokens: []string{"file-token-1", "file-token-2"}},
		{name: "token and token file add up", args: []string{"--addr", ":8080", "--token", "flag-token", "--token-file", tokenFile}, env: map[string]string{"NEWSFLOW_INGEST_TOKEN_FILE": "/nonexistent"},
			tokens: []string{"flag-token", "file-token-1", "file-token-2"}},
		{name: "empty token in the list", args: []string{"--addr", ":8080", "--token", "good-one,,other"}, wantErr: []string{"token: item 2 of 3 is empty"}, notInError: "good-one"},
		{name: "trailing comma", args: []string{"--addr", "127.0.0.1:8080", "--token", "good-one,"}, wantErr: []string{"token: item 2 of 2 is empty"}, notInError: "good-one"},
		{name: "token with a blank", args: []string{"--addr", ":8080", "--token", "two words"}, wantErr: []string{"token: item 1 of 1 holds a blank"}, notInError: "words"},
		{name: "token file without tokens", args: []string{"--addr", ":8080", "--token-file", emptyFile}, wantErr: []string{"holds no token"}},
		{name: "missing token file", args: []string{"--addr", "127.0.0.1:8080", "--token-file", "/nonexistent/tokens"}, wantErr: []string{"token-file:", "/nonexistent/tokens"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			s, cfg := serveFlags()
			if err := s.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			err := cfg.Validate()
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				var got []string
				tokens, _ := cfg.readTokens()
				for _, tok := range tokens {
					got = append(got, string(tok))
				}
				if strings.Join(got, "|") != strings.Join(tt.tokens, "|") || cfg.auth.Tokens() != len(tt.tokens) || cfg.Anonymous() != tt.anonymous {
					t.Fatalf("tokens %q anonymous %v, want %q %v", got, cfg.Anonymous(), tt.tokens, tt.anonymous)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tt.wantErr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if tt.notInError != "" && strings.Contains(err.Error(), tt.notInError) {
				t.Errorf("error shows a token: %v", err)
			}
		})
	}
}

// TestAttrsMaskTokensAndFeedPasswords: what `serve` logs at start-up of a configuration with
// tokens and a feed URL with a password.
func TestAttrsMaskTokensAndFeedPasswords(t *testing.T) {
	s, cfg := serveFlags()
	if err := s.Parse([]string{"--token", "tok-alpha-1,tok-beta-2", "--feeds", "news=https://reader:feed-pw-3@127.0.0.1:1/rss,https://127.0.0.1:1/plain"}); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	attrs := config.Attrs(cfg)
	got := map[string]any{}
	for i := 0; i+1 < len(attrs); i += 2 {
		got[attrs[i].(string)] = attrs[i+1]
	}
	if v, ok := got["tokens"].([]string); !ok || strings.Join(v, ",") != "***,***" {
		t.Errorf("tokens logged as %#v", got["tokens"])
	}
	if v, ok := got["feeds"].([]string); !ok || strings.Join(v, ",") != "news=https://reader:xxxxx@127.0.0.1:1/rss,https://127.0.0.1:1/plain" {
		t.Errorf("feeds logged as %#v", got["feeds"])
	}
	// A bad feed URL's error masks the password too.
	_, err := parseFeed("news=ftp://reader:feed-pw-3@127.0.0.1/rss")
	if err == nil || strings.Contains(err.Error(), "feed-pw-3") || !strings.Contains(err.Error(), "reader:xxxxx@") {
		t.Errorf("parseFeed error: %v", err)
	}
}
