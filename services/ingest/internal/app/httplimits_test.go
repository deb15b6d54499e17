package app

import (
	"strings"
	"testing"
	"time"
)

// TestHTTPLimitsConfig: the HTTP limits come from NEWSFLOW_INGEST_* variables, reach the
// server, and a byte budget too small for the largest allowed request is refused at start-up
// (it would make every such request wait in vain).
func TestHTTPLimitsConfig(t *testing.T) {
	t.Setenv("NEWSFLOW_INGEST_MAX_IN_FLIGHT", "8")
	t.Setenv("NEWSFLOW_INGEST_WRITE_TIMEOUT", "5s")
	t.Setenv("NEWSFLOW_INGEST_READ_HEADER_TIMEOUT", "3s")
	s, cfg := serveFlags()
	if err := s.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.MaxInFlight != 8 || cfg.HTTP.MaxBufferedBytes != 64<<20 || cfg.HTTP.IdleTimeout != 2*time.Minute {
		t.Fatalf("HTTP limits %+v", cfg.HTTP)
	}
	srv := cfg.HTTP.server(12 * time.Second)
	if srv.ReadHeaderTimeout != 3*time.Second || srv.ReadTimeout != 2*time.Minute || srv.WriteTimeout != 2*time.Minute+12*time.Second+5*time.Second {
		t.Fatalf("server timeouts: header %v read %v write %v", srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout)
	}

	s, cfg = serveFlags()
	if err := s.Parse([]string{"--max-buffered-bytes", "16777216"}); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "max-buffered-bytes") {
		t.Fatalf("a 16 MiB budget for 8 MiB requests: %v", err)
	}
}
