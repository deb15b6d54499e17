package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/newsflow/newsflow/deploy/internal/pipeline"
	"github.com/newsflow/newsflow/pkg/article"
	"github.com/newsflow/newsflow/pkg/corpus"
	"github.com/newsflow/newsflow/pkg/kafkax"
	"github.com/newsflow/newsflow/pkg/testenv"
)

// clusterBrokers are the client ports of deploy/local/cluster.sh's three nodes, node N at index N-1.
var clusterBrokers = []string{"127.0.0.1:39091", "127.0.0.1:39092", "127.0.0.1:39093"}

// localCluster is deploy/local's 3-node Kafka cluster, driven through cluster.sh as a person would.
type localCluster struct{ t testing.TB }

// startCluster starts the cluster (idempotent) and, when this test was the one that started it,
// stops it again at the end.
func startCluster(t testing.TB) *localCluster {
	t.Helper()
	c := &localCluster{t: t}
	before := c.run("status")
	c.run("up")
	if strings.Contains(before, "stopped") {
		t.Cleanup(func() { c.run("down") })
	}
	return c
}

func (c *localCluster) run(args ...string) string {
	c.t.Helper()
	cmd := exec.Command("bash", append([]string{filepath.Join("..", "local", "cluster.sh")}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		c.t.Fatalf("cluster.sh %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// partitions asks broker addr itself (a connection of its own, not kafka-go's cached metadata)
// for the leader and in-sync replicas of every partition of topics.
func partitions(ctx context.Context, addr string, topics ...string) ([]kafka.Partition, error) {
	conn, err := (&kafka.Dialer{Timeout: 3 * time.Second}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dialling %s: %w", addr, err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	ps, err := conn.ReadPartitions(topics...)
	if err != nil {
		return nil, fmt.Errorf("metadata of %v from %s: %w", topics, addr, err)
	}
	return ps, nil
}

func brokerIDs(bs []kafka.Broker) []int {
	ids := make([]int, 0, len(bs))
	for _, b := range bs {
		ids = append(ids, b.ID)
	}
	sort.Ints(ids)
	return ids
}

// TestBrokerLoss streams 6,000 real Reuters articles through the three services running on
// deploy/local's 3-node cluster (topics with replication factor 3, min.insync.replicas=2), kills
// with SIGKILL the broker that leads the most partitions of the pipeline's topics mid-stream,
// restarts it later, and checks that every article ingest accepted (202) is indexed exactly
// once, and that acks=all writes went on being acknowledged with two of three replicas in sync.
// It is not part of `make test` (three more JVMs); `make test-cluster` runs it.
func TestBrokerLoss(t *testing.T) {
	if os.Getenv("NEWSFLOW_TEST_CLUSTER") == "" {
		t.Skip("broker-loss test skipped: it starts a 3-node Kafka cluster; run it with `make test-cluster` (NEWSFLOW_TEST_CLUSTER=1)")
	}
	if testing.Short() {
		t.Skip("broker-loss test skipped under -short")
	}
	const total, batch, every = 6000, 100, 200 * time.Millisecond // 500 articles/s
	data := testenv.DataDir(t)
	var arts []article.Article
	if err := corpus.ReadReutersDir(filepath.Join(data, "reuters21578"), total, func(a article.Article) error {
		arts = append(arts, a)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(arts) < total {
		t.Fatalf("only %d Reuters articles", len(arts))
	}
	arts = arts[:total]

	cluster := startCluster(t)
	var eng testenv.Engine
	for _, e := range testenv.SearchEngines(t) {
		if e.Name == "opensearch" || eng.Name == "" {
			eng = e
		}
	}
	kc := kafkax.Config{Brokers: clusterBrokers, Partitions: 6, ReplicationFactor: 3, WriteTimeout: 10 * time.Second}
	r := newRig(t, kc, eng)
	r.kafkaEnv = []string{"NEWSFLOW_KAFKA_REPLICATION_FACTOR=3"}
	ing, ingestURL := r.ingest()
	enr, idx := r.enrich("enrich"), r.index("index")
	startAll(ing, enr, idx)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	topics := []string{r.raw, r.enriched, r.dlq}

	// The services created their topics: three replicas each, and writes need two of them.
	ps, err := partitions(ctx, clusterBrokers[0], topics...)
	if err != nil {
		t.Fatal(err)
	}
	leads, nparts := map[int]int{}, len(ps)
	for _, p := range ps {
		if len(p.Replicas) != 3 || len(p.Isr) != 3 {
			t.Fatalf("%s/%d: replicas %v, in sync %v; want 3 of each", p.Topic, p.ID, brokerIDs(p.Replicas), brokerIDs(p.Isr))
		}
		leads[p.Leader.ID]++
	}
	cfg, err := kc.Client().DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{
		{ResourceType: kafka.ResourceTypeTopic, ResourceName: r.raw, ConfigNames: []string{"min.insync.replicas"}}}})
	if err != nil || len(cfg.Resources) != 1 || len(cfg.Resources[0].ConfigEntries) != 1 || cfg.Resources[0].ConfigEntries[0].ConfigValue != "2" {
		t.Fatalf("min.insync.replicas of %s: %+v %v; want 2", r.raw, cfg, err)
	}
	// The victim: a broker that leads the most partitions (the most leader elections to make).
	// Among equals, one that coordinates neither consumer group: losing the coordinator makes the
	// groups rebalance, which restarts every partition reader, while losing any other broker
	// leaves the readers of its partitions dialling a dead leader until it is fenced, the case
	// that stopped enrich before kafkax.readerAttempts. Among those, the active controller, so
	// that the quorum must elect a new leader too.
	controller, err := strconv.Atoi(strings.TrimSpace(cluster.run("controller")))
	if err != nil {
		t.Fatalf("cluster.sh controller: %v", err)
	}
	coordinator := map[int][]string{}
	for _, g := range []string{r.enrichGroup, r.indexGroup} {
		res, err := kc.Client().FindCoordinator(ctx, &kafka.FindCoordinatorRequest{Key: g})
		if err != nil || res.Coordinator == nil {
			t.Fatalf("coordinator of group %s: %+v %v", g, res, err)
		}
		coordinator[res.Coordinator.NodeID] = append(coordinator[res.Coordinator.NodeID], g)
	}
	rank := func(id int) []int {
		return []int{leads[id], -len(coordinator[id]), map[bool]int{true: 1}[id == controller]}
	}
	victim := 1
	for id := 2; id <= 3; id++ {
		if slices.Compare(rank(id), rank(victim)) > 0 {
			victim = id
		}
	}
	survivor := clusterBrokers[victim%3] // any other node, to ask for metadata while the victim is away
	t.Logf("leaders of the %d partitions by broker: %v; group coordinators %v; active controller %d; killing broker %d",
		nparts, leads, coordinator, controller, victim)

	// The stream: NDJSON batches of 100 every 200 ms, retried by the client while ingest answers
	// 503, as in TestFaults. Each answer is recorded with its time, to tell what happened while
	// the broker was away.
	start := time.Now()
	type answer struct {
		at       time.Time
		status   int
		accepted int
	}
	var mu sync.Mutex
	accepted := map[string]bool{}
	var answers []answer
	var sent atomic.Int64
	streamErr := make(chan error, 1)
	go func() {
		pace := time.NewTicker(every)
		defer pace.Stop()
		for i := 0; i < len(arts); i += batch {
			<-pace.C
			part := arts[i:min(i+batch, len(arts))]
			for {
				res, err := pipeline.Post(ctx, ingestURL, "", "application/x-ndjson", pipeline.NDJSON(part), nil)
				a := answer{at: time.Now(), status: res.Status}
				if err == nil && res.Status == 202 {
					mu.Lock()
					for _, it := range res.Items {
						if it.Status != "rejected" {
							accepted[it.ID] = true
							a.accepted++
						}
					}
					answers = append(answers, a)
					mu.Unlock()
					break
				}
				if err == nil && res.Status != 503 {
					streamErr <- fmt.Errorf("ingest answered %d: %s", res.Status, res.Error)
					return
				}
				mu.Lock()
				answers = append(answers, a)
				mu.Unlock()
				if ctx.Err() != nil {
					streamErr <- ctx.Err()
					return
				}
				time.Sleep(500 * time.Millisecond) // the client's own back-off, as Retry-After asks
			}
			sent.Add(int64(len(part)))
		}
		streamErr <- nil
	}()
	progressAt := func(share float64) {
		testenv.Eventually(t, 5*time.Minute, fmt.Sprintf("%.0f%% of the stream sent", share*100), func() (bool, string) {
			return float64(sent.Load()) >= share*float64(len(arts)), fmt.Sprintf("sent %d", sent.Load())
		})
	}
	logf := func(format string, args ...any) {
		n, _ := pipeline.Count(ctx, r.sc, r.prefix)
		t.Logf("%6.1fs sent %5d indexed %5d: %s", time.Since(start).Seconds(), sent.Load(), n, fmt.Sprintf(format, args...))
	}

	progressAt(0.25)
	killedAt := time.Now() // before the command: writes fail within milliseconds of the SIGKILL
	cluster.run("kill", fmt.Sprint(victim))
	logf("SIGKILLed broker %d", victim)

	// The controllers fence the dead broker (broker.session.timeout.ms) and move its leaderships;
	// from then on every partition has a leader and two in-sync replicas.
	var fencedAt time.Time
	testenv.Eventually(t, time.Minute, fmt.Sprintf("broker %d out of every leadership and in-sync set", victim), func() (bool, string) {
		ps, err := partitions(ctx, survivor, topics...)
		if err != nil {
			return false, err.Error()
		}
		for _, p := range ps {
			if p.Leader.ID == victim || p.Leader.ID < 0 || slices.Contains(brokerIDs(p.Isr), victim) {
				return false, fmt.Sprintf("%s/%d leader %d in sync %v", p.Topic, p.ID, p.Leader.ID, brokerIDs(p.Isr))
			}
		}
		fencedAt = time.Now()
		return true, ""
	})
	logf("broker %d fenced %.1fs after the kill; every partition has a new leader and 2 in-sync replicas", victim, fencedAt.Sub(killedAt).Seconds())
	// acks=all with two of three in sync: ingest goes on answering 202 while the broker is down.
	var restartedAt time.Time
	acceptedDown := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, a := range answers {
			if a.at.After(fencedAt) && (restartedAt.IsZero() || a.at.Before(restartedAt)) && a.status == 202 {
				n += a.accepted
			}
		}
		return n
	}
	testenv.Eventually(t, time.Minute, "articles accepted with the broker down", func() (bool, string) {
		return acceptedDown() >= 1000, fmt.Sprintf("%d accepted since it was fenced", acceptedDown())
	})
	ps, err = partitions(ctx, survivor, topics...)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if len(p.Isr) != 2 {
			t.Fatalf("%s/%d in sync %v while broker %d is down; want 2", p.Topic, p.ID, brokerIDs(p.Isr), victim)
		}
	}
	down := acceptedDown()
	restartedAt = time.Now()
	logf("restarting broker %d (%d articles accepted with 2 of 3 replicas in sync)", victim, down)
	cluster.run("up")
	backAt := time.Now()
	logf("broker %d back", victim)

	if err := <-streamErr; err != nil {
		t.Fatalf("stream: %v", err)
	}
	logf("stream done")
	var rejoinedAt time.Time
	testenv.Eventually(t, 2*time.Minute, fmt.Sprintf("broker %d back in every in-sync set", victim), func() (bool, string) {
		ps, err := partitions(ctx, survivor, topics...)
		if err != nil {
			return false, err.Error()
		}
		for _, p := range ps {
			if len(p.Isr) != 3 {
				return false, fmt.Sprintf("%s/%d in sync %v", p.Topic, p.ID, brokerIDs(p.Isr))
			}
		}
		rejoinedAt = time.Now()
		return true, ""
	})
	logf("broker %d in sync again on every partition", victim)

	testenv.Eventually(t, 5*time.Minute, "every accepted article indexed", func() (bool, string) {
		for _, p := range []*proc{ing, enr, idx} {
			if p.Exited() { // a stage that stopped will not catch up: say why now, not in 5 minutes
				t.Fatalf("%s exited during the test; its log ends:\n%s", p.Name, pipeline.Tail(p.Log, 5))
			}
		}
		n, err := pipeline.Count(ctx, r.sc, r.prefix)
		return err == nil && n >= len(accepted), fmt.Sprintf("indexed %d of %d (%v)", n, len(accepted), err)
	})
	indexedAt := time.Now()
	n := r.requireExactlyOnce(ctx, accepted)
	for _, d := range readDLQ(t, kc.Brokers, r.dlq) {
		t.Errorf("dead letter of a good article: %+v", d)
	}

	// The figures: what the client saw while the broker was away, and how many records the raw
	// topic holds (more than accepted would be produce retries that landed twice; the index's
	// _id made them one document each).
	refusedDown, refusedOther := 0, 0
	var longestGap time.Duration
	last := start
	for _, a := range answers {
		if a.status != 202 {
			if a.at.After(killedAt) && a.at.Before(rejoinedAt) {
				refusedDown++
			} else {
				refusedOther++
			}
			continue
		}
		longestGap = max(longestGap, a.at.Sub(last))
		last = a.at
	}
	if refusedOther > 0 {
		t.Errorf("%d requests refused while every broker was up (kill at %.1fs, in sync again at %.1fs)", refusedOther,
			killedAt.Sub(start).Seconds(), rejoinedAt.Sub(start).Seconds())
	}
	records := int64(0)
	offs, err := kc.Client().ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{r.raw: func() []kafka.OffsetRequest {
		var rs []kafka.OffsetRequest
		for p := 0; p < kc.Partitions; p++ {
			rs = append(rs, kafka.FirstOffsetOf(p), kafka.LastOffsetOf(p))
		}
		return rs
	}()}})
	if err != nil {
		t.Fatal(err)
	}
	for _, po := range offs.Topics[r.raw] {
		records += po.LastOffset - po.FirstOffset
	}
	t.Logf("CLUSTER RESULT: sent %d, accepted %d, indexed %d (exactly the accepted ids) in %.1fs; broker %d killed at %.1fs "+
		"(led %d of %d partitions; active controller: %v; coordinator of %d consumer groups), fenced after %.1fs, restarted after %.1fs down (registered again after %.1fs), "+
		"in sync on every partition %.1fs later; "+
		"%d requests refused with 503 while it was away (all accepted on retry), longest gap between 202s %.1fs; "+
		"%d articles accepted with acks=all on 2 of 3 in-sync replicas; %d records on the raw topic (%d produce retries landed twice)",
		sent.Load(), len(accepted), n, indexedAt.Sub(start).Seconds(), victim, killedAt.Sub(start).Seconds(),
		leads[victim], nparts, victim == controller, len(coordinator[victim]), fencedAt.Sub(killedAt).Seconds(), restartedAt.Sub(killedAt).Seconds(), backAt.Sub(restartedAt).Seconds(), rejoinedAt.Sub(backAt).Seconds(),
		refusedDown, longestGap.Seconds(), acceptedDown(), records, records-int64(len(accepted)))
}
