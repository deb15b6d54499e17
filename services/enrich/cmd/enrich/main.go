// Command enrich is newsflow's enrichment stage: `enrich serve` consumes articles.raw and produces
// articles.enriched; `enrich extract` enriches files or stdin without Kafka; `enrich eval` measures
// quality on TimeML and CoNLL corpora. Run `enrich --help`.
package main

import (
	"github.com/newsflow/newsflow/pkg/service"
	"github.com/newsflow/newsflow/services/enrich/internal/app"
)

func main() { service.Main("enrich", app.Run) }
