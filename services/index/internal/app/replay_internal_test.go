package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/newsflow/newsflow/pkg/service"
	"github.com/newsflow/newsflow/services/index/internal/schema"
)

// fakeLags answers kafkax.Config.Lag from a script: each call for a position takes the next
// value of its list (the last one repeats).
type fakeLags struct {
	script map[string][]int64
	calls  []string
}

func (f *fakeLags) lag(_ context.Context, group, topic string) (map[int]int64, error) {
	key := group + "@" + topic
	f.calls = append(f.calls, key)
	vals, ok := f.script[key]
	if !ok {
		return nil, errors.New("unknown group")
	}
	v := vals[0]
	if len(vals) > 1 {
		f.script[key] = vals[1:]
	}
	// Split over two partitions, as a topic with partitions would report it.
	return map[int]int64{0: v / 2, 1: v - v/2}, nil
}

// TestWaitCaughtUp: the swap waits for one sweep, in pipeline order, in which every group is
// within max-lag; a group at 0 in one sweep and behind in the next does not count.
func TestWaitCaughtUp(t *testing.T) {
	ps, err := parsePositions([]string{"enrich-v3@articles.raw", " index-v3@articles.enriched.v3"})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	tests := []struct {
		name      string
		enrich    []int64
		index     []int64
		maxLag    int64
		wantErr   string
		wantCalls int
	}{
		{"caught up at once", []int64{0}, []int64{0}, 0, "", 2},
		// enrich reaches 0 while index is behind, then new articles arrive (enrich behind)
		// while index reaches 0: only the third sweep has both at 0.
		{"never both in one sweep until the third", []int64{0, 5, 0}, []int64{7, 0, 0}, 0, "", 6},
		{"within max-lag", []int64{3}, []int64{2}, 3, "", 2},
		{"never", []int64{1}, []int64{0}, 0, "did not catch up", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeLags{script: map[string][]int64{"enrich-v3@articles.raw": tt.enrich, "index-v3@articles.enriched.v3": tt.index}}
			err := waitCaughtUp(context.Background(), log, f.lag, ps, tt.maxLag, 200*time.Millisecond, 10*time.Millisecond)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "not swapped") {
					t.Fatalf("err = %v, want %q and that nothing was swapped", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(f.calls) != tt.wantCalls {
				t.Fatalf("%d lag measurements (%v), want %d", len(f.calls), f.calls, tt.wantCalls)
			}
			for i, c := range f.calls {
				if want := ps[i%2].String(); c != want {
					t.Fatalf("measurement %d was %s, want %s: the sweep must follow the pipeline order", i, c, want)
				}
			}
		})
	}
}

// TestReplayCommandLine: what swap and replay-status refuse before contacting anything.
func TestReplayCommandLine(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"swap needs the groups or --force", []string{"swap", "--to-version", "4"}, "caught-up: name the replay's groups"},
		{"swap needs a version", []string{"swap", "--force"}, "to-version"},
		{"bad position", []string{"swap", "--to-version", "4", "--caught-up", "enrich-v4"}, `caught-up: "enrich-v4", want GROUP@TOPIC`},
		{"negative max lag", []string{"replay-status", "--to-version", "4", "--max-lag", "-1"}, "max-lag"},
		{"index version below the schema's", []string{"serve", "--index-version", fmt.Sprint(schema.Version - 1)}, "index-version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			err := Run(context.Background(), tt.args, nil, &out, &errb)
			var ue service.UsageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want a usage error containing %q", err, tt.want)
			}
		})
	}
}

// TestCheckCompleteRefusesASwapThatHidesDocuments: a new version with fewer documents than the
// read alias shows (a replay of a raw topic whose retention is shorter than the index history)
// is refused unless --allow-fewer; as many or more is fine.
func TestCheckCompleteRefusesASwapThatHidesDocuments(t *testing.T) {
	if err := checkComplete(4, 300, 300, "articles", false); err != nil {
		t.Errorf("equal counts: %v", err)
	}
	if err := checkComplete(4, 310, 300, "articles", false); err != nil {
		t.Errorf("more in the new version: %v", err)
	}
	err := checkComplete(4, 250, 300, "articles", false)
	if err == nil || !strings.Contains(err.Error(), "hide 50") || !strings.Contains(err.Error(), "--allow-fewer") {
		t.Errorf("fewer in the new version: %v, want a refusal naming the 50 hidden and --allow-fewer", err)
	}
	if err := checkComplete(4, 250, 300, "articles", true); err != nil {
		t.Errorf("fewer with --allow-fewer: %v", err)
	}
}
