package app

import (
	"fmt"
	"strings"
	"testing"

	"github.com/newsflow/newsflow/pkg/config"
)

func TestServeConfigFromEnv(t *testing.T) {
	t.Setenv("NEWSFLOW_INGEST_TOKEN", "s3cret-token")
	t.Setenv("NEWSFLOW_INGEST_ADDR", "127.0.0.1:18081")
	t.Setenv("NEWSFLOW_INGEST_MAX_ITEMS", "50")
	t.Setenv("NEWSFLOW_INGEST_FEEDS", "bbc=https://feeds.example.com/rss, https://www.example.org/atom")
	s, cfg := serveFlags()
	if err := s.Parse([]string{"--topic", "custom.raw"}); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if tokens, _ := cfg.readTokens(); len(tokens) != 1 || tokens[0] != "s3cret-token" || cfg.Addr != "127.0.0.1:18081" || cfg.Limits.MaxItems != 50 || cfg.Topic != "custom.raw" || len(cfg.Feeds) != 2 {
		t.Fatalf("config %+v", cfg)
	}
	logged := fmt.Sprint(config.Attrs(cfg)...)
	if strings.Contains(logged, "s3cret") || !strings.Contains(logged, "***") {
		t.Fatalf("secret not masked in %s", logged)
	}
	for in, want := range map[string]feedSpec{
		"bbc=https://feeds.example.com/rss": {"bbc", "https://feeds.example.com/rss"},
		"https://www.example.org/atom":      {"example.org", "https://www.example.org/atom"},
		"https://x.org/rss?a=b":             {"x.org", "https://x.org/rss?a=b"},
	} {
		if got, err := parseFeed(in); err != nil || got != want {
			t.Errorf("parseFeed(%q) = %+v, %v", in, got, err)
		}
	}
}

func TestServeConfigInvalid(t *testing.T) {
	t.Setenv("NEWSFLOW_INGEST_MAX_ITEMS", "lots")
	s, _ := serveFlags()
	if err := s.Parse(nil); err == nil || !strings.Contains(err.Error(), "NEWSFLOW_INGEST_MAX_ITEMS") {
		t.Fatalf("bad env: %v", err)
	}
}

// TestDateAndFeedGuardConfig: --min-published-at reaches the article limits; bad values of it and
// of the feed allow-list are start-up errors.
func TestDateAndFeedGuardConfig(t *testing.T) {
	t.Setenv("NEWSFLOW_INGEST_FEED_ALLOW_CIDRS", "10.1.0.0/16, 192.168.7.7")
	s, cfg := serveFlags()
	if err := s.Parse([]string{"--min-published-at", "1980-01-01", "--feeds", "https://example.com/rss"}); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := cfg.Limits.article().MinPublishedAt; got.Year() != 1980 || len(cfg.feedAllowCIDRs) != 2 || cfg.FeedMaxItems != 200 {
		t.Fatalf("floor %v, cidrs %v, max items %d", got, cfg.feedAllowCIDRs, cfg.FeedMaxItems)
	}
	for _, args := range [][]string{{"--min-published-at", "yesterday"}, {"--feeds", "https://x.org/rss", "--feed-allow-cidrs", "10.0.0.0/33"},
		{"--feeds", "https://x.org/rss", "--feed-max-items", "0"}} {
		s, cfg := serveFlags()
		if err := s.Parse(args); err != nil {
			t.Fatal(err)
		}
		if err := cfg.Validate(); err == nil {
			t.Errorf("%v: accepted", args)
		}
	}
}
