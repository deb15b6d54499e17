package app_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/newsflow/newsflow/pkg/testenv"
	"github.com/newsflow/newsflow/services/index/internal/app"
)

// TestStartupErrorsOnSecureEngine: against the real engine with TLS and basic auth (Elasticsearch
// 8 in the test stack), a wrong password, a CA that did not sign the node's certificate and plain
// HTTP against the HTTPS port each stop `index serve` within seconds with an error that names the
// URL and the cause, instead of a retry loop; the right settings start it.
func TestStartupErrorsOnSecureEngine(t *testing.T) {
	var secure []testenv.Engine
	for _, eng := range testenv.SearchEngines(t) {
		if eng.Config.CAFile != "" && eng.Config.Username != "" && strings.HasPrefix(eng.Config.URLs[0], "https://") {
			secure = append(secure, eng)
		}
	}
	if len(secure) == 0 {
		t.Skip("no engine with TLS and basic auth in the test stack (make test starts Elasticsearch 8 with both)")
	}
	for _, eng := range secure {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, eng)
			url := eng.Config.URLs[0]
			otherCA := testenv.UntrustedCA(t)
			good := e.args()
			cases := []struct {
				name  string
				set   map[string]string // flag -> value replacing the good one
				cause string
			}{
				{"wrong password", map[string]string{"--search-password": "not-the-password"}, "401 Unauthorized"},
				{"untrusted CA", map[string]string{"--search-ca-file": otherCA}, "unknown authority"},
				{"plain http against https", map[string]string{"--search-url": strings.Replace(url, "https://", "http://", 1), "--search-ca-file": ""}, "speaks HTTPS"},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					args := replaceFlags(good, tc.set)
					var logs testenv.SyncBuffer
					ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
					defer cancel()
					began := time.Now()
					err := app.Run(ctx, args, nil, io.Discard, &logs)
					took := time.Since(began)
					if err == nil {
						t.Fatal("index serve ran with bad settings")
					}
					if took > 15*time.Second {
						t.Errorf("took %v to give up; a configuration mistake must stop start-up at once", took)
					}
					for _, want := range []string{tc.cause, strings.Split(strings.TrimPrefix(strings.TrimPrefix(args[indexOf(args, "--search-url")+1], "https://"), "http://"), "/")[0]} {
						if !strings.Contains(err.Error(), want) {
							t.Errorf("error %q does not name %q", err, want)
						}
					}
					if strings.Contains(logs.String(), "waiting for search engine") {
						t.Errorf("retried a configuration mistake:\n%s", logs.String())
					}
				})
			}
			t.Run("right settings", func(t *testing.T) {
				stop := start(t, good)
				defer stop()
				admin := good[indexOf(good, "--admin-addr")+1]
				testenv.Eventually(t, 60*time.Second, "index serve ready on the secure engine", func() (bool, string) {
					resp, err := http.Get("http://" + admin + "/readyz")
					if err != nil {
						return false, err.Error()
					}
					resp.Body.Close()
					return resp.StatusCode == http.StatusOK, fmt.Sprintf("/readyz %d", resp.StatusCode)
				})
				if c := e.count(t); c != 0 {
					t.Fatalf("alias %s on the secure engine: count %d, want an empty but readable alias", e.pref, c)
				}
			})
		})
	}
}

// replaceFlags returns args with each flag of set given the new value ("" drops the flag).
func replaceFlags(args []string, set map[string]string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		if v, ok := set[args[i]]; ok && i+1 < len(args) {
			if v != "" {
				out = append(out, args[i], v)
			}
			i++
			continue
		}
		out = append(out, args[i])
	}
	for f, v := range set {
		if v != "" && indexOf(out, f) < 0 {
			out = append(out, f, v)
		}
	}
	return out
}
