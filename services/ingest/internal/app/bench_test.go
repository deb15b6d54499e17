package app

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/newsflow/newsflow/pkg/testenv"
)

// BenchmarkIngestNDJSON measures HTTP NDJSON ingest end to end, acks=all included: batches of
// 500 realistic articles (about 2 kB each) posted to a running server, reported in articles/s.
// It needs the local Kafka broker and is skipped under -short.
func BenchmarkIngestNDJSON(b *testing.B) {
	if testing.Short() {
		b.Skip("needs a Kafka broker; skipped under -short")
	}
	k := testenv.Kafka(b)
	r := startServe(b, k, testenv.Name(b, "ingest-bench"))
	const batch = 500
	para := "Syrian army troops and their allied fighters entered the town of Khan Shaykhun on Monday, the observatory said, after weeks of fighting in the south of Idlib province. "
	body := func(i, n int) []byte {
		var buf bytes.Buffer
		for j := range batch {
			fmt.Fprintf(&buf, `{"title":"Article %d-%d","body":%q,"source":"bench","url":"https://example.com/%d/%d","published_at":"2019-08-21T08:00:00Z"}`+"\n",
				i, j, bytes.Repeat([]byte(para), 12), n, i*batch+j)
		}
		return buf.Bytes()
	}
	n := time.Now().UnixNano()
	b.ResetTimer()
	var bytesSent int64
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		data := body(i, int(n%1e9))
		b.StartTimer()
		resp, err := http.Post(r.api+"/v1/articles", "application/x-ndjson", bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 202 {
			b.Fatalf("status %d", resp.StatusCode)
		}
		bytesSent += int64(len(data))
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "articles/s")
	b.SetBytes(bytesSent / int64(max(b.N, 1)))
}
