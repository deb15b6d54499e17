// Command index is newsflow's last stage: it consumes enriched articles from Kafka and makes them
// searchable in Elasticsearch 8 or OpenSearch 2. See `index --help`.
package main

import (
	"github.com/newsflow/newsflow/pkg/service"
	"github.com/newsflow/newsflow/services/index/internal/app"
)

func main() { service.Main("index", app.Run) }
