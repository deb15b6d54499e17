package app_test

import (
	"fmt"
	"net/http"
	"os"
	"testing"

	"github.com/segmentio/kafka-go"
	"go.uber.org/goleak"

	"github.com/newsflow/newsflow/pkg/kafkax"
)

// TestMain fails the package if `index serve` leaves goroutines behind after it stopped. The
// pooled connections of kafka-go's process-wide DefaultTransport and of kafkax's shared
// transports are closed first, and idle
// keep-alive HTTP connections are ignored: pkg/search's transport offers no way to close them
// (they belong to the process's connection pools, not to one service run).
func TestMain(m *testing.M) {
	code := m.Run()
	if tr, ok := kafka.DefaultTransport.(*kafka.Transport); ok {
		tr.CloseIdleConnections()
	}
	kafkax.CloseIdleConnections()
	http.DefaultClient.CloseIdleConnections()
	if code == 0 {
		if err := goleak.Find(
			goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
			goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
		); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}
