package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"

	"github.com/newsflow/newsflow/pkg/service"
	"github.com/newsflow/newsflow/pkg/testenv"
	"github.com/newsflow/newsflow/services/index/internal/app"
	"github.com/newsflow/newsflow/services/index/internal/schema"
)

// TestCommandLine covers what needs no servers: help, bad flags and values, the template print.
func TestCommandLine(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantCode int
		wantOut  string // in stdout or stderr
	}{
		{"help", []string{"--help"}, nil, 0, "index reindex"},
		{"help command", []string{"help"}, nil, 0, "NEWSFLOW_INDEX_TOPIC"},
		{"unknown command", []string{"frobnicate"}, nil, 2, "unknown command"},
		{"bad flag", []string{"serve", "--no-such-flag"}, nil, 2, "no-such-flag"},
		{"bad prefix", []string{"setup", "--print", "--index-prefix", "Articles"}, nil, 2, "index-prefix"},
		{"flush too slow", []string{"setup", "--print", "--flush-interval", "30s"}, nil, 2, "flush-interval"},
		{"inflight below flush", []string{"setup", "--print", "--max-inflight-bytes", "1000"}, nil, 2, "max-inflight-bytes"},
		{"bad env", []string{"setup", "--print"}, map[string]string{"NEWSFLOW_INDEX_WORKERS": "many"}, 2, "NEWSFLOW_INDEX_WORKERS"},
		{"dlq equals topic", []string{"setup", "--print", "--topic", "x", "--dlq-topic", "x"}, nil, 2, "dlq-topic"},
		{"print", []string{"setup", "--print", "--index-prefix", "news"}, nil, 0, `"news-*"`},
		{"print from env", []string{"setup", "--print"}, map[string]string{"NEWSFLOW_INDEX_PREFIX": "envnews"}, 0, `"envnews-*"`},
		{"extra args", []string{"setup", "--print", "x"}, nil, 2, "unexpected arguments"},
		{"bad floor", []string{"setup", "--print", "--published-floor", "1900"}, nil, 2, "published-floor"},
		{"no create attempts", []string{"setup", "--print"}, map[string]string{"NEWSFLOW_INDEX_CREATE_ATTEMPTS": "0"}, 2, "create-attempts"},
		{"bad monthly-from", []string{"setup", "--print", "--monthly-from", "-1"}, nil, 2, "monthly-from"},
		{"negative story window", []string{"setup", "--print"}, map[string]string{"NEWSFLOW_INDEX_STORY_WINDOW": "-1h"}, 2, "story-window"},
		{"print has the story fields", []string{"setup", "--print"}, nil, 0, `"story_id"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var out, errOut bytes.Buffer
			err := app.Run(context.Background(), tc.args, nil, &out, &errOut)
			if code := service.ExitCode(err); code != tc.wantCode {
				t.Fatalf("exit code %d (%v), want %d\n%s", code, err, tc.wantCode, errOut.String())
			}
			all := out.String() + errOut.String()
			if err != nil && !errors.Is(err, flag.ErrHelp) {
				all += err.Error()
			}
			if !strings.Contains(all, tc.wantOut) {
				t.Fatalf("output lacks %q:\n%s", tc.wantOut, all)
			}
			if tc.name == "print" && !json.Valid(out.Bytes()) {
				t.Fatalf("--print wrote invalid JSON:\n%s", out.String())
			}
		})
	}
}

// TestSetupAndReindexCommands runs `index setup` twice and `index reindex` against the real node.
func TestSetupAndReindexCommands(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng testenv.Engine) {
		e := newEnv(t, eng)
		base := append(searchFlags(e.eng, ""), "--index-prefix", e.pref, "--log-format", "text", "--log-level", "warn")
		for i, cmd := range []string{"setup", "setup", "reindex"} {
			var out, errOut bytes.Buffer
			if err := app.Run(context.Background(), append([]string{cmd}, base...), nil, &out, &errOut); err != nil {
				t.Fatalf("%s (run %d): %v\n%s", cmd, i+1, err, errOut.String())
			}
			want := map[string]string{"setup": fmt.Sprintf("version %d installed", schema.Version), "reindex": fmt.Sprintf("already has schema version %d", schema.Version)}[cmd]
			if !strings.Contains(out.String(), want) {
				t.Fatalf("%s printed %q, want %q", cmd, out.String(), want)
			}
		}
		if c := e.count(t); c != 0 {
			t.Fatalf("alias %s: count %d, want an empty but readable alias", e.pref, c)
		}
	})
}
