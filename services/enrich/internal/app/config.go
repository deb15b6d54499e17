package app

import (
	"runtime"

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
	p.Check(c.ShutdownTimeout <= 0, "shutdown-timeout: %v, want > 0", c.ShutdownTimeout)
	return p.Err()
}
