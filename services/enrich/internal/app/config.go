package app

import (
	"runtime"
	"strings"
	"time"

	"github.com/newsflow/newsflow/pkg/config"
	"github.com/newsflow/newsflow/pkg/kafkax"
	"github.com/newsflow/newsflow/pkg/service"
)

// serveConfig is the whole configuration of `enrich serve`.
type serveConfig struct {
	service.Common
	Kafka    kafkax.Config
	Topic    string
	Output   string
	DLQ      string
	Group    string
	Workers  int
	MaxBatch int
	// Depth is how many batches are in hand at once (kafkax.Consumer.Depth).
	Depth int
	// MaxInflightBytes bounds the raw records held fetched and uncommitted (memory per replica).
	MaxInflightBytes int64
	// StartAt is where a new group starts on Topic: "earliest" (every record kept) or an
	// RFC 3339 time (a replay from then on; docs/REPLAY.md). A group with commits resumes.
	StartAt string
	// EnrichmentVersion overrides Version in what is produced: one binary can rehearse a
	// replay into a new version (tests, staging); production leaves it empty.
	EnrichmentVersion string
}

func (c *serveConfig) registerFlags(s *config.Set) {
	c.Common.RegisterFlags(s, "127.0.0.1:9102")
	c.Kafka.RegisterFlags(s)
	s.String(&c.Topic, "topic", "NEWSFLOW_ENRICH_TOPIC", kafkax.TopicRaw, "topic of raw articles to consume")
	s.String(&c.Output, "output-topic", "NEWSFLOW_ENRICH_OUTPUT_TOPIC", kafkax.TopicEnriched, "topic enriched articles are produced to")
	s.String(&c.DLQ, "dlq-topic", "NEWSFLOW_ENRICH_DLQ_TOPIC", kafkax.TopicDLQ, "dead-letter topic for records that can never be enriched")
	s.String(&c.Group, "group", "NEWSFLOW_ENRICH_GROUP", "newsflow-enrich", "Kafka consumer group")
	s.Int(&c.Workers, "workers", "NEWSFLOW_ENRICH_WORKERS", runtime.GOMAXPROCS(0), "articles of one batch enriched in parallel (up to --pipeline-depth batches are in hand at once)")
	s.Int(&c.MaxBatch, "max-batch", "NEWSFLOW_ENRICH_MAX_BATCH", 256, "messages per batch (produced and committed together)")
	s.Int(&c.Depth, "pipeline-depth", "NEWSFLOW_ENRICH_PIPELINE_DEPTH", 2, "batches in hand at once: the next batch is enriched while the one before it is being produced (1: one after another); commits stay in order")
	s.Int64(&c.MaxInflightBytes, "max-inflight-bytes", "NEWSFLOW_ENRICH_MAX_INFLIGHT_BYTES", kafkax.DefaultInflightBytes,
		"fetching pauses once this many message bytes are fetched and not yet committed (bounds memory; the batch ends there)")
	s.String(&c.StartAt, "start-at", "NEWSFLOW_ENRICH_START_AT", "earliest", "where a group without commits starts reading --topic: earliest, or an RFC 3339 time (replay from then on, e.g. 2026-11-01T00:00:00Z); a group with commits resumes where it stopped")
	s.String(&c.EnrichmentVersion, "enrichment-version", "NEWSFLOW_ENRICH_ENRICHMENT_VERSION", "", "enrichment_version written into every article instead of this build's ("+Version+"); for rehearsing a replay with one binary")
}

// startTime is StartAt as a time; ok is false for "earliest". Validate has checked it.
func (c *serveConfig) startTime() (time.Time, bool) {
	if strings.EqualFold(c.StartAt, "earliest") {
		return time.Time{}, false
	}
	t, _ := time.Parse(time.RFC3339, c.StartAt)
	return t, true
}

// Validate reports every setting that cannot work, at once.
func (c *serveConfig) Validate() error {
	var p config.Problems
	p.Add(c.Kafka.Validate())
	p.Check(c.Topic == "" || c.Output == "" || c.DLQ == "" || c.Group == "", "topic, output-topic, dlq-topic and group must not be empty")
	p.Check(c.Topic != "" && c.Topic == c.Output, "topic and output-topic are both %q: that would loop", c.Topic)
	p.Check(c.Workers < 1, "workers %d: want >= 1", c.Workers)
	p.Check(c.MaxBatch < 1, "max-batch %d: want >= 1", c.MaxBatch)
	p.Check(c.Depth < 1 || c.Depth > 16, "pipeline-depth %d: want 1..16", c.Depth)
	p.Check(c.MaxInflightBytes < kafkax.MaxMessageBytes, "max-inflight-bytes %d: want >= %d (one record)", c.MaxInflightBytes, kafkax.MaxMessageBytes)
	if !strings.EqualFold(c.StartAt, "earliest") {
		_, err := time.Parse(time.RFC3339, c.StartAt)
		p.Check(err != nil, "start-at %q: want earliest or an RFC 3339 time such as 2026-11-01T00:00:00Z", c.StartAt)
	}
	p.Check(c.ShutdownTimeout <= 0, "shutdown-timeout: %v, want > 0", c.ShutdownTimeout)
	return p.Err()
}
