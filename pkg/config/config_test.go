package config

import (
	"strings"
	"testing"
	"time"
)

func TestEnvIsDefaultFlagWins(t *testing.T) {
	t.Setenv("NEWSFLOW_TEST_BROKERS", "a:1,b:2")
	t.Setenv("NEWSFLOW_TEST_WAIT", "250ms")
	t.Setenv("NEWSFLOW_TEST_TOKEN", "s3cret")
	var cfg struct {
		Brokers []string
		Wait    time.Duration
		Name    string
		Token   Secret
	}
	s := New("t")
	s.Strings(&cfg.Brokers, "brokers", "NEWSFLOW_TEST_BROKERS", "x:9", "brokers")
	s.Duration(&cfg.Wait, "wait", "NEWSFLOW_TEST_WAIT", time.Second, "wait")
	s.String(&cfg.Name, "name", "NEWSFLOW_TEST_NAME", "dflt", "name")
	s.Secret(&cfg.Token, "token", "NEWSFLOW_TEST_TOKEN", "token")
	if err := s.Parse([]string{"-name", "flag"}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(cfg.Brokers, "|") != "a:1|b:2" || cfg.Wait != 250*time.Millisecond || cfg.Name != "flag" || cfg.Token != "s3cret" {
		t.Fatalf("got %+v", cfg)
	}
	attrs := Attrs(cfg)
	for i := 0; i < len(attrs); i += 2 {
		if attrs[i] == "token" && attrs[i+1] != "***" {
			t.Fatalf("secret not masked: %v", attrs[i+1])
		}
	}
}

func TestBadEnvIsAnError(t *testing.T) {
	t.Setenv("NEWSFLOW_TEST_N", "many")
	var n int
	s := New("t")
	s.Int(&n, "n", "NEWSFLOW_TEST_N", 3, "n")
	err := s.Parse(nil)
	if err == nil || !strings.Contains(err.Error(), "NEWSFLOW_TEST_N") {
		t.Fatalf("want an error naming the variable, got %v", err)
	}
}

func TestSnake(t *testing.T) {
	for in, want := range map[string]string{"KafkaBrokers": "kafka_brokers", "HTTPAddr": "http_addr", "SearchURL": "search_url", "ID": "id", "MaxBodyBytes": "max_body_bytes", "URLs": "urls", "SearchURLs": "search_urls"} {
		if got := snake(in); got != want {
			t.Errorf("snake(%q) = %q, want %q", in, got, want)
		}
	}
}
