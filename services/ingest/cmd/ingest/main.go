// Command ingest is the door through which news enters newsflow: an HTTP API for newsrooms, a
// feed poller for analysts, and `ingest import` for archives. Run `ingest --help`.
package main

import (
	"github.com/newsflow/newsflow/pkg/service"
	"github.com/newsflow/newsflow/services/ingest/internal/app"
)

func main() { service.Main("ingest", app.Run) }
