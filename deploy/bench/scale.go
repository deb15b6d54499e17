package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/newsflow/newsflow/deploy/internal/pipeline"
	"github.com/newsflow/newsflow/pkg/article"
)

// scale measures scale-out (make bench-scale): enrich → index with two instances of each stage,
// each stage one consumer group on topics of 6 partitions, against one instance of each, -repeat
// times interleaved (one, two, one, two…), each run on topics and indices of its own. A run's
// figure is how fast a backlog of -scale-articles raw articles becomes searchable.
func (b *bench) scale(ctx context.Context, corpusArts []article.Article) error {
	arts := repeat(corpusArts, b.o.scaleArticles)
	lines := make([][]byte, len(arts))
	for i := range arts {
		v, err := json.Marshal(&arts[i])
		if err != nil {
			return fmt.Errorf("encoding article %s: %w", arts[i].ID, err)
		}
		lines[i] = v
	}
	for run := range b.o.runs {
		one, _, err := b.scaleOnce(ctx, 1, lines)
		if err != nil {
			return err
		}
		two, shares, err := b.scaleOnce(ctx, 2, lines)
		if err != nil {
			return err
		}
		b.add(run, Result{Name: "enrich → index, 2 instances of each: raw topic → searchable", Unit: "articles/s", Value: two,
			Baseline: "1 instance of each, same run", BaseVal: one})
		for _, st := range []string{"enrich", "index"} {
			b.add(run, Result{Name: "2 instances: " + st + ", smaller instance's share of messages received", Unit: "share", Value: shares[st]})
		}
	}
	return nil
}

// scaleOnce runs k instances each of enrich and index on new topics and a new index prefix, waits
// until both consumer groups are stable with all k members and every partition assigned, then
// produces lines to the raw topic and times them until all are searchable. It returns the rate
// and, per stage, the smallest share of received messages any one instance had.
func (b *bench) scaleOnce(ctx context.Context, k int, lines [][]byte) (float64, map[string]float64, error) {
	base := name("scale" + strconv.Itoa(k))
	raw, enriched, dlq, prefix := base+".raw", base+".enriched", base+".dlq", base
	if err := b.kc.EnsureTopics(ctx, raw, enriched, dlq); err != nil {
		return 0, nil, err
	}
	defer func() {
		_ = b.sc.Do(context.Background(), http.MethodDelete, "/"+prefix+"-*", nil, nil)
		_ = b.sc.Do(context.Background(), http.MethodDelete, "/_index_template/"+prefix, nil, nil)
	}()
	var env []string
	if b.o.scaleGOMAXPROCS > 0 {
		env = []string{"GOMAXPROCS=" + strconv.Itoa(b.o.scaleGOMAXPROCS)}
	}
	byStage := map[string][]*svc{}
	defer func() {
		for _, st := range []string{"index", "enrich"} {
			for _, s := range byStage[st] {
				s.stop()
			}
		}
	}()
	groups := map[string]string{"enrich": base + "-enrich", "index": base + "-index"}
	for _, st := range []string{"enrich", "index"} {
		for i := range k {
			args := []string{"--topic", raw, "--output-topic", enriched, "--dlq-topic", dlq, "--group", groups[st]}
			if st == "index" {
				args = []string{"--topic", enriched, "--dlq-topic", dlq, "--group", groups[st], "--index-prefix", prefix}
			}
			s, err := b.startAs(ctx, st, fmt.Sprintf("%s #%d", st, i+1), env, args...)
			if err != nil {
				return 0, nil, err
			}
			byStage[st] = append(byStage[st], s)
		}
	}
	for _, st := range []string{"enrich", "index"} {
		topic := raw
		if st == "index" {
			topic = enriched
		}
		if err := b.waitGroup(ctx, groups[st], topic, k, b.kc.Partitions, time.Minute); err != nil {
			return 0, nil, err
		}
	}
	start := time.Now()
	if err := b.produce(ctx, raw, lines); err != nil {
		return 0, nil, err
	}
	if err := b.waitCount(ctx, prefix, len(lines), 10*time.Minute); err != nil {
		return 0, nil, err
	}
	rate := float64(len(lines)) / time.Since(start).Seconds()
	phase := fmt.Sprintf("%d of each", k)
	shares := map[string]float64{}
	for _, st := range []string{"enrich", "index"} {
		var got []float64
		total := 0.0
		for _, s := range byStage[st] {
			b.usage(s.usage(phase))
			m, err := pipeline.Scrape(ctx, "http://"+s.Admin+"/metrics")
			if err != nil {
				return 0, nil, err
			}
			n := m.Sum("newsflow_" + st + "_received_total")
			got = append(got, n)
			total += n
		}
		if total > 0 {
			shares[st] = summarize(got).min / total
		}
	}
	fmt.Fprintf(os.Stderr, "    %s: %s articles/s; smallest share enrich %.2f, index %.2f\n", phase, num(rate), shares["enrich"], shares["index"])
	return rate, shares, nil
}

// waitGroup waits until consumer group id is stable with want members that together hold all
// partitions of topic: only then is a run's clock fair to two instances, which would otherwise
// spend its first seconds in a rebalance that one instance never has.
func (b *bench) waitGroup(ctx context.Context, id, topic string, want, partitions int, timeout time.Duration) error {
	cl := b.kc.Client()
	deadline := time.Now().Add(timeout)
	last := "not described yet"
	for time.Now().Before(deadline) {
		res, err := cl.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{id}})
		if err == nil && len(res.Groups) == 1 {
			g := res.Groups[0]
			assigned := 0
			for _, m := range g.Members {
				for _, t := range m.MemberAssignments.Topics {
					if t.Topic == topic {
						assigned += len(t.Partitions)
					}
				}
			}
			if g.Error == nil && g.GroupState == "Stable" && len(g.Members) == want && assigned == partitions {
				return nil
			}
			last = fmt.Sprintf("state %s, %d members, %d of %d partitions assigned, error %v", g.GroupState, len(g.Members), assigned, partitions, g.Error)
		} else if err != nil {
			last = err.Error()
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("consumer group %s not stable with %d members within %v: %s", id, want, timeout, last)
}
