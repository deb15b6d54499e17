package app

import (
	"time"

	"github.com/newsflow/newsflow/pkg/config"
	"github.com/newsflow/newsflow/pkg/kafkax"
	"github.com/newsflow/newsflow/pkg/search"
	"github.com/newsflow/newsflow/pkg/service"
	"github.com/newsflow/newsflow/services/index/internal/schema"
)

// Config is the whole configuration of the index service: flags, each defaulting to its
// NEWSFLOW_* variable, with defaults that work against deploy/local.
type Config struct {
	service.Common
	Kafka  kafkax.Config
	Search search.Config

	Topic    string // consumed topic (articles.enriched)
	Group    string // consumer group
	DLQTopic string // dead-letter topic

	IndexPrefix     string // indices <prefix>-YYYY.MM (<prefix>-YYYY before MonthlyFrom), read alias and template <prefix>
	MonthlyFrom     int    // first year with monthly indices; earlier years get <prefix>-YYYY
	PublishedFloor  string // earliest published_at indexed (YYYY-MM-DD)
	PublishedFuture time.Duration
	CreateAttempts  int // attempts at an index the engine refuses to create, per batch
	RefusalMemory   time.Duration
	// StoryWindow is how far apart in publication time two articles of one story may be
	// (internal/stories); 0 turns the near-duplicate and story lookup off.
	StoryWindow     time.Duration
	Shards          int
	Replicas        int
	RefreshInterval string
	TextAnalyzer    string
	// IndexVersion is the -vN suffix of the indices written (schema.Version unless a replay
	// into a new index version sets it); Staged keeps them out of the read alias until
	// `index swap` (docs/REPLAY.md).
	IndexVersion int
	Staged       bool

	BatchSize        int           // messages per batch at most
	FlushInterval    time.Duration // how long a partial batch waits for more messages
	FlushBytes       int64         // one _bulk body at most
	Workers          int           // concurrent _bulk requests
	Depth            int           // batches in hand at once (kafkax.Consumer.Depth)
	MaxInflightBytes int64         // fetching pauses once this much is fetched and uncommitted
	RetryInitial     time.Duration
	RetryMax         time.Duration
	LagInterval      time.Duration
}

func (c *Config) registerFlags(s *config.Set) {
	c.Common.RegisterFlags(s, "127.0.0.1:9103")
	c.Kafka.RegisterFlags(s)
	c.Search.RegisterFlags(s)
	s.String(&c.Topic, "topic", "NEWSFLOW_INDEX_TOPIC", kafkax.TopicEnriched, "topic of enriched articles to index")
	s.String(&c.Group, "group", "NEWSFLOW_INDEX_GROUP", "newsflow-index", "Kafka consumer group")
	s.String(&c.DLQTopic, "dlq-topic", "NEWSFLOW_INDEX_DLQ_TOPIC", kafkax.TopicDLQ, "dead-letter topic for messages that can never be indexed")
	s.String(&c.IndexPrefix, "index-prefix", "NEWSFLOW_INDEX_PREFIX", "articles", "index name prefix: indices <prefix>-YYYY.MM (and <prefix>-YYYY before --monthly-from), read alias and template <prefix>")
	s.Int(&c.MonthlyFrom, "monthly-from", "NEWSFLOW_INDEX_MONTHLY_FROM", 2020, "first year with one index per month; articles published before it go into one index per year (<prefix>-YYYY). A fixed year, so an article always maps to the same index; set it once per deployment")
	s.String(&c.PublishedFloor, "published-floor", "NEWSFLOW_INDEX_PUBLISHED_FLOOR", schema.DefaultFloor.Format(time.DateOnly), "earliest published_at indexed (YYYY-MM-DD); earlier articles are dead-lettered, so input cannot create unbounded indices")
	s.Duration(&c.PublishedFuture, "published-max-future", "NEWSFLOW_INDEX_PUBLISHED_MAX_FUTURE", schema.DefaultFuture, "how far past now a published_at may be; later articles are dead-lettered")
	s.Int(&c.CreateAttempts, "create-attempts", "NEWSFLOW_INDEX_CREATE_ATTEMPTS", 3, "attempts per batch at an index the engine refuses to create (4xx, e.g. the shard limit) before its documents are dead-lettered")
	s.Duration(&c.StoryWindow, "story-window", "NEWSFLOW_INDEX_STORY_WINDOW", 0, "how far apart in publication time two articles of one story may be, e.g. 72h; before each batch is written, one _msearch on the read alias decides duplicate_of and story_id. 0 (the default): off, every article an original of its own story, and the similarity fields (minhash, band keys) are not written, which halves the engine's indexing cost; turned on later, the lookup finds only articles written since. On, it costs about 1.7 ms per document in make bench (index throughput 0.14 of the stage without it), so it is opt-in until the lookup is cheaper; every writer of one index version should use the same value")
	s.Duration(&c.RefusalMemory, "create-refusal-memory", "NEWSFLOW_INDEX_CREATE_REFUSAL_MEMORY", time.Minute, "how long an index the engine refused --create-attempts times is not asked for again (its documents are dead-lettered at once); 0 asks every batch")
	s.Int(&c.Shards, "index-shards", "NEWSFLOW_INDEX_SHARDS", 1, "primary shards per index (monthly or yearly)")
	s.Int(&c.Replicas, "index-replicas", "NEWSFLOW_INDEX_REPLICAS", 0, "replicas per index (0 on one node, 1+ in production)")
	s.String(&c.RefreshInterval, "index-refresh-interval", "NEWSFLOW_INDEX_REFRESH_INTERVAL", "250ms", "how soon written documents become searchable (the engine's refresh_interval of new indices; p99 from ingest's 202 to searchable in make bench: 1.5-1.8 s with 1s, 0.97-1.12 s with 500ms, 0.70-0.87 s with 250ms, at the same end-to-end throughput)")
	s.String(&c.TextAnalyzer, "text-analyzer", "NEWSFLOW_INDEX_TEXT_ANALYZER", schema.DefaultTextAnalyzer, "analyzer of title and body: english (stemming) or a built-in one such as standard (for Elasticsearch builds without analysis-common)")
	s.Int(&c.IndexVersion, "index-version", "NEWSFLOW_INDEX_VERSION", schema.Version, "version suffix -vN of the indices written (and created by setup); a replay into a new index version sets it above the live one's, and after `index swap` every writer keeps it (docs/REPLAY.md)")
	s.Bool(&c.Staged, "staged", "NEWSFLOW_INDEX_STAGED", false, "replay mode: keep the indices this writer creates out of the read alias (behind <prefix>-replay-vN instead) until `index swap --to-version N`; the live writers of the old version go on feeding the alias")
	s.Int(&c.BatchSize, "batch-size", "NEWSFLOW_INDEX_BATCH_SIZE", 2000, "messages per batch at most")
	s.Duration(&c.FlushInterval, "flush-interval", "NEWSFLOW_INDEX_FLUSH_INTERVAL", 100*time.Millisecond, "how long a partial batch waits for more messages before it is written: latency at low rates (a full batch goes at once; with --pipeline-depth the engine stays busy with small batches too)")
	s.Int64(&c.FlushBytes, "flush-bytes", "NEWSFLOW_INDEX_FLUSH_BYTES", 5<<20, "size of one _bulk request at most")
	s.Int(&c.Workers, "workers", "NEWSFLOW_INDEX_WORKERS", 2, "concurrent _bulk requests, across the batches in hand")
	s.Int(&c.Depth, "pipeline-depth", "NEWSFLOW_INDEX_PIPELINE_DEPTH", 2, "batches in hand at once: the next batch is fetched and prepared while the one before it is being written, so the engine never waits for a commit (1: one after another); commits stay in order")
	s.Int64(&c.MaxInflightBytes, "max-inflight-bytes", "NEWSFLOW_INDEX_MAX_INFLIGHT_BYTES", 32<<20, "fetching pauses once this many message bytes are fetched and not yet committed")
	s.Duration(&c.RetryInitial, "retry-initial", "NEWSFLOW_INDEX_RETRY_INITIAL", 100*time.Millisecond, "first wait before retrying failed documents")
	s.Duration(&c.RetryMax, "retry-max", "NEWSFLOW_INDEX_RETRY_MAX", 10*time.Second, "cap on one wait between retries")
	s.Duration(&c.LagInterval, "lag-interval", "NEWSFLOW_INDEX_LAG_INTERVAL", 10*time.Second, "how often consumer lag is measured")
}

// Validate reports every setting that cannot work.
func (c *Config) Validate() error {
	var p config.Problems
	p.Add(c.Kafka.Validate())
	p.Add(c.Search.Validate())
	check := p.Check
	check(c.Topic == "", "topic: must not be empty")
	check(c.Group == "", "group: must not be empty")
	check(c.DLQTopic == "", "dlq-topic: must not be empty")
	check(c.DLQTopic == c.Topic, "dlq-topic: must differ from topic")
	check(!validPrefix(c.IndexPrefix), "index-prefix: %q must be lower-case letters, digits, '-' or '_', not starting with '-' or '_'", c.IndexPrefix)
	floor, ferr := time.Parse(time.DateOnly, c.PublishedFloor)
	check(ferr != nil, "published-floor: %q, want a date YYYY-MM-DD", c.PublishedFloor)
	check(ferr == nil && floor.Year() < 1, "published-floor: %q, want a year >= 1", c.PublishedFloor)
	check(c.MonthlyFrom < 0 || c.MonthlyFrom > 9999, "monthly-from: %d, want a year 0..9999 (0: every month its own index)", c.MonthlyFrom)
	check(c.PublishedFuture <= 0, "published-max-future: %v, want > 0", c.PublishedFuture)
	check(c.CreateAttempts < 1, "create-attempts: %d, want >= 1", c.CreateAttempts)
	check(c.StoryWindow < 0, "story-window: %v, want >= 0", c.StoryWindow)
	check(c.RefusalMemory < 0, "create-refusal-memory: %v, want >= 0", c.RefusalMemory)
	check(c.Shards < 1, "index-shards: %d, want >= 1", c.Shards)
	check(c.Replicas < 0, "index-replicas: %d, want >= 0", c.Replicas)
	check(c.RefreshInterval == "", "index-refresh-interval: must not be empty")
	check(!validPrefix(c.TextAnalyzer), "text-analyzer: %q must be the name of an analyzer (lower-case letters, digits, '-' or '_')", c.TextAnalyzer)
	check(c.IndexVersion < schema.Version, "index-version: %d, want >= %d (this build's schema version)", c.IndexVersion, schema.Version)
	check(c.BatchSize < 1, "batch-size: %d, want >= 1", c.BatchSize)
	check(c.FlushInterval <= 0 || c.FlushInterval > 10*time.Second, "flush-interval: %v, want > 0 and <= 10s", c.FlushInterval)
	check(c.FlushBytes < 1024, "flush-bytes: %d, want >= 1024", c.FlushBytes)
	check(c.Workers < 1 || c.Workers > 64, "workers: %d, want 1..64", c.Workers)
	check(c.Depth < 1 || c.Depth > 16, "pipeline-depth: %d, want 1..16", c.Depth)
	check(c.MaxInflightBytes < c.FlushBytes, "max-inflight-bytes: %d, want >= flush-bytes (%d)", c.MaxInflightBytes, c.FlushBytes)
	check(c.RetryInitial <= 0, "retry-initial: %v, want > 0", c.RetryInitial)
	check(c.RetryMax < c.RetryInitial, "retry-max: %v, want >= retry-initial", c.RetryMax)
	check(c.LagInterval <= 0, "lag-interval: %v, want > 0", c.LagInterval)
	check(c.ShutdownTimeout <= 0, "shutdown-timeout: %v, want > 0", c.ShutdownTimeout)
	return p.Err()
}

// Window is the range of publication times indexed; Validate has checked the floor.
func (c *Config) Window() schema.Window {
	floor, _ := time.Parse(time.DateOnly, c.PublishedFloor)
	return schema.Window{Floor: floor, Future: c.PublishedFuture}
}

func validPrefix(p string) bool {
	if p == "" || len(p) > 200 || p[0] == '-' || p[0] == '_' {
		return false
	}
	for _, r := range p {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}
