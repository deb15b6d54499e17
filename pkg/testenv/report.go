package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/newsflow/newsflow/pkg/config"
	"github.com/newsflow/newsflow/pkg/search"
)

var reported sync.Map // engine name -> struct{}: one line per engine and test process

// report appends "<package dir>: <name> = <distribution> <version> at <url>" to the file that
// NEWSFLOW_TEST_REPORT names, once per engine and test process. `go test` prints nothing of a
// package that passes, so this is how `make test` can say which engines, and which versions, the
// search tests really ran on.
func report(e Engine, info search.Engine) {
	path := os.Getenv("NEWSFLOW_TEST_REPORT")
	if path == "" {
		return
	}
	if _, done := reported.LoadOrStore(e.Name, struct{}{}); done {
		return
	}
	pkg, _ := os.Getwd()
	if root, ok := repoRoot(); ok {
		if rel, err := filepath.Rel(root, pkg); err == nil {
			pkg = rel
		}
	}
	line := fmt.Sprintf("%s: %s = %s at %s\n", pkg, e.Name, info, strings.Join(config.RedactURLs(e.Config.URLs), ","))
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return // a report that cannot be written must not fail the test it reports on
	}
	defer f.Close()
	_, _ = f.WriteString(line) // one short write with O_APPEND: lines of parallel packages do not interleave
}
