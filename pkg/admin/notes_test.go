package admin

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestNotes: a note shows on /readyz without making the service unready, and goes when cleared.
func TestNotes(t *testing.T) {
	s := New("127.0.0.1:0", prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv := httptest.NewServer(s.mux)
	defer srv.Close()
	readyz := func() (int, []string) {
		res, err := http.Get(srv.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var body struct {
			Ready bool     `json:"ready"`
			Notes []string `json:"notes"`
		}
		if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		if body.Ready != (res.StatusCode == 200) {
			t.Fatalf("ready %v with status %d", body.Ready, res.StatusCode)
		}
		return res.StatusCode, body.Notes
	}
	s.SetReady(true)
	if code, notes := readyz(); code != 200 || len(notes) != 0 {
		t.Fatalf("without notes: %d %q", code, notes)
	}
	s.Note("auth", "anonymous (--insecure-allow-anonymous)")
	s.Note("a-first", "sorted")
	code, notes := readyz()
	if code != 200 || strings.Join(notes, "|") != "a-first: sorted|auth: anonymous (--insecure-allow-anonymous)" {
		t.Fatalf("with notes: %d %q", code, notes)
	}
	s.Note("a-first", "")
	if _, notes := readyz(); len(notes) != 1 {
		t.Fatalf("cleared note still shown: %q", notes)
	}
}
