package app

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// newFeedServer serves a two-item RSS 2.0 feed at /rss, answering 304 to a matching ETag.
func newFeedServer(t *testing.T) *httptest.Server {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/rss" {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Content-Type", "application/rss+xml")
		fmt.Fprintf(w, `<?xml version="1.0"?><rss version="2.0"><channel><title>Test</title>
<item><title>Feed item two</title><link>%[1]s/item/2</link><guid>item-2</guid><description>&lt;p&gt;Second item text.&lt;/p&gt;</description><pubDate>Wed, 21 Aug 2019 09:00:00 GMT</pubDate></item>
<item><title>Feed item one</title><link>%[1]s/item/1</link><guid>item-1</guid><description>First item text.</description><pubDate>Wed, 21 Aug 2019 08:00:00 GMT</pubDate></item>
</channel></rss>`, srv.URL)
	}))
	t.Cleanup(srv.Close)
	return srv
}
