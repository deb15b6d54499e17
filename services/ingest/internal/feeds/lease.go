package feeds

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/newsflow/newsflow/pkg/kafkax"
)

// Why a Kafka consumer group is the lease: every ingest replica is configured with the same
// --feeds, and without coordination each one polls all of them (three replicas: three fetches
// of each feed, three times the enrich work before index drops the duplicates). Replicas come
// and go (a Deployment, a rolling update), so a fixed sharding by ordinal would need a
// StatefulSet, and any other lease would need new infrastructure. Kafka is already there and
// already runs a membership protocol with failure detection: the replicas join one group on the
// topic they write (never reading or committing a message), the coordinator hands each member
// a share of the topic's partitions, and those partitions are the lease units. A feed belongs
// to one partition (FeedPartition), so it has one poller; a replica that leaves hands its
// partitions, and so its feeds, to the others at once, and one that dies without leaving does
// so when the coordinator's session timeout expires.

// FeedPartition is the partition whose owner polls feed f: FNV-1a (32 bit) of its URL, modulo
// the topic's partition count. It depends only on the URL as written in --feeds and on the
// count, so every replica computes the same owner without talking to the others; adding
// partitions moves feeds (the group rebalances when the count changes).
func FeedPartition(f Feed, partitions int) int {
	h := fnv.New32a()
	h.Write([]byte(f.URL))
	return int(h.Sum32() % uint32(partitions))
}

// Owned returns the feeds, in list order, whose partition (FeedPartition with partitions) is one
// of mine.
func Owned(list []Feed, mine []int, partitions int) []Feed {
	if partitions < 1 {
		return nil
	}
	set := make(map[int]bool, len(mine))
	for _, p := range mine {
		set[p] = true
	}
	var out []Feed
	for _, f := range list {
		if set[FeedPartition(f, partitions)] {
			out = append(out, f)
		}
	}
	return out
}

// Group is a membership of the lease's consumer group; the Kafka one is NewKafkaGroup.
type Group interface {
	// Next waits until this member's next generation begins. It returns only after every
	// function started in the previous generation has returned, so two generations' pollers
	// never run at once.
	Next(ctx context.Context) (Generation, error)
	// Close leaves the group, so that the others take this member's partitions without waiting
	// for its session to time out, after the current generation's functions returned.
	Close() error
}

// Generation is one assignment of the group: it lasts until a member joins or leaves.
type Generation interface {
	// ID is the coordinator's generation number, for logs.
	ID() int32
	// Partitions are the partitions assigned to this member and how many the topic has.
	Partitions() (mine []int, total int)
	// Start runs fn with a context that ends when the generation ends; the group rejoins only
	// after fn returned.
	Start(fn func(ctx context.Context))
}

// LeaseMetrics shows how the feeds are shared.
type LeaseMetrics struct {
	Owned      prometheus.Gauge
	Rebalances prometheus.Counter
}

// NewLeaseMetrics registers the lease metrics on reg.
func NewLeaseMetrics(reg prometheus.Registerer) *LeaseMetrics {
	m := &LeaseMetrics{
		Owned: prometheus.NewGauge(prometheus.GaugeOpts{Name: "newsflow_ingest_feeds_owned",
			Help: "Feeds this replica polls now: its share of --feeds under the feed lease (--feed-group), or all of them without one."}),
		Rebalances: prometheus.NewCounter(prometheus.CounterOpts{Name: "newsflow_ingest_feed_lease_rebalances_total",
			Help: "Generations of the feed lease's consumer group this replica took part in (each one a rebalance: a replica joined or left, or the partitions changed)."}),
	}
	reg.MustRegister(m.Owned, m.Rebalances)
	return m
}

// Lease polls this replica's share of Feeds: in each generation of Group, the feeds of the
// partitions assigned to it (Owned), with Poll, until the generation ends. The per-feed state
// (Store) is the poller's, unchanged; a feed that moves to another replica is read there with
// that replica's state, so items it has not seen are published again (the same article ids: one
// document each in the index, but enrich does the work again).
type Lease struct {
	Group Group
	Feeds []Feed
	// Poll polls feeds until ctx ends (Poller.RunFeeds).
	Poll func(ctx context.Context, feeds []Feed) error
	// Metrics is where the lease counts (app's metrics.go builds ingest's); nil counts into a
	// set on a private registry that nothing exposes (privateMetrics).
	Metrics *LeaseMetrics
	// Note, when set, is told what this replica owns (the admin server's /readyz note).
	Note func(text string)
	Log  *slog.Logger
}

// Run takes part in the group until ctx ends, then leaves it. A TLS, SASL or authorization
// failure (kafkax.AuthError) ends Run with that error, so that a replica that cannot take part
// says why and stops instead of quietly polling nothing; other errors (a broker restarting) are
// logged and the group is joined again.
func (l *Lease) Run(ctx context.Context) (err error) {
	defer func() {
		if cerr := l.Group.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("feed lease: leaving the group: %w", cerr)
		}
		l.setOwned(0, len(l.Feeds), "left the group")
	}()
	l.setOwned(0, len(l.Feeds), "joining the group")
	// Leave as soon as ctx ends, before the pollers return: a generation that ends while the
	// group is still open makes kafka-go join again at once, a rebalance that restarts every
	// other replica's pollers (and re-polls all their feeds) just before this one leaves.
	// Close is idempotent, and this goroutine is over before Run returns.
	leave, left := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(left)
		select {
		case <-ctx.Done():
			_ = l.Group.Close()
		case <-leave:
		}
	}()
	defer func() { close(leave); <-left }()
	for {
		gen, err := l.Group.Next(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			if kafkax.IsAuthError(err) {
				return fmt.Errorf("feed lease: joining the consumer group: %w", err)
			}
			l.Log.Warn("feed lease: joining the consumer group failed; joining again", "error", err)
			continue
		}
		mine, total := gen.Partitions()
		owned := Owned(l.Feeds, mine, total)
		l.metrics().Rebalances.Inc()
		l.setOwned(len(owned), len(l.Feeds), fmt.Sprintf("partitions %v of %d, generation %d", mine, total, gen.ID()))
		l.Log.Info("feed lease: polling this replica's share of the feeds", "generation", gen.ID(),
			"partitions", fmt.Sprint(mine), "of", total, "feeds", len(owned), "all_feeds", len(l.Feeds))
		gen.Start(func(gctx context.Context) {
			// The pollers stop when the generation ends (a rebalance) or when Run's ctx does.
			pctx, cancel := context.WithCancel(ctx)
			defer cancel()
			defer context.AfterFunc(gctx, cancel)()
			if err := l.Poll(pctx, owned); err != nil {
				l.Log.Warn("feed lease: poller stopped", "error", err)
			}
			l.setOwned(0, len(l.Feeds), "between generations")
		})
	}
}

func (l *Lease) setOwned(n, all int, why string) {
	l.metrics().Owned.Set(float64(n))
	if l.Note != nil {
		l.Note(fmt.Sprintf("polls %d of %d feeds (%s)", n, all, why))
	}
}

// metrics is Metrics, or the private default when it is nil.
func (l *Lease) metrics() *LeaseMetrics {
	if l.Metrics == nil {
		return privateMetrics().lease
	}
	return l.Metrics
}

// kafkaGroup is Group over a kafka-go consumer group.
type kafkaGroup struct {
	cg    *kafka.ConsumerGroup
	k     kafkax.Config
	topic string
}

// NewKafkaGroup returns a membership of the consumer group id on topic, with k's brokers, TLS
// and SASL (kafkax.Config.NewGroup). It joins at the first Next.
func NewKafkaGroup(k kafkax.Config, id, topic string, opt kafkax.GroupOptions) (Group, error) {
	cg, err := k.NewGroup(id, topic, opt)
	if err != nil {
		return nil, err
	}
	return &kafkaGroup{cg: cg, k: k, topic: topic}, nil
}

func (g *kafkaGroup) Next(ctx context.Context) (Generation, error) {
	gen, err := g.cg.Next(ctx)
	if err != nil {
		return nil, fmt.Errorf("consumer group: %w", g.k.Classify(err))
	}
	// The assignment names only this member's partitions; the mapping needs the count too. A
	// failure to read it ends the generation (this member rejoins) rather than leaving it
	// holding partitions whose feeds nobody polls.
	mctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	total, err := g.k.PartitionCount(mctx, g.topic)
	if err != nil {
		gen.Start(func(context.Context) {})
		return nil, err
	}
	mine := []int{}
	for _, a := range gen.Assignments[g.topic] {
		mine = append(mine, a.ID)
	}
	slices.Sort(mine)
	return &kafkaGeneration{gen: gen, mine: mine, total: total}, nil
}

func (g *kafkaGroup) Close() error { return g.cg.Close() }

type kafkaGeneration struct {
	gen   *kafka.Generation
	mine  []int
	total int
}

func (g *kafkaGeneration) ID() int32                          { return g.gen.ID }
func (g *kafkaGeneration) Partitions() ([]int, int)           { return g.mine, g.total }
func (g *kafkaGeneration) Start(fn func(ctx context.Context)) { g.gen.Start(fn) }
