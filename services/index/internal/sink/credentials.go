package sink

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// credentials tracks a streak of whole _bulk requests the engine refused with 401 or 403. Those
// are still retried with the backoff (a rotated password or a fixed role heals without a
// restart, and nothing is dropped meanwhile), but they are not an outage of the engine: they are
// a credentials problem an operator must fix. So the first refusal of a streak is logged once as
// such, /readyz says so for as long as it lasts (Sink.CredentialsCheck), and the streak ends at
// the next request the engine accepts.
type credentials struct {
	mu     sync.Mutex
	status int       // 401 or 403 while a streak lasts, else 0
	since  time.Time // first refusal of the streak
	count  int       // refusals in the streak
}

// refused records a 401/403 answer; it logs the first of a streak.
func (c *credentials) refused(log *slog.Logger, status int, answer string) {
	c.mu.Lock()
	first := c.status == 0
	if first {
		c.since = time.Now()
		c.count = 0
	}
	c.status = status
	c.count++
	c.mu.Unlock()
	if first {
		log.Error("the search engine refuses the credentials; retrying with backoff until they are fixed",
			"status", status, "reason", credentialsReason(status), "answer", answer)
	}
}

// accepted ends a streak: the engine took a request.
func (c *credentials) accepted(log *slog.Logger) {
	c.mu.Lock()
	status, since, count := c.status, c.since, c.count
	c.status = 0
	c.mu.Unlock()
	if status != 0 {
		log.Info("the search engine accepts the credentials again", "refused_requests", count, "after", time.Since(since).Round(time.Millisecond).String())
	}
}

// CredentialsCheck is a readiness check (admin.Check): it fails while the engine refuses the
// stage's credentials, so /readyz and the pod's readiness show a stage that cannot index.
func (s *Sink) CredentialsCheck(context.Context) error {
	s.creds.mu.Lock()
	defer s.creds.mu.Unlock()
	if s.creds.status == 0 {
		return nil
	}
	return fmt.Errorf("the search engine answers %d (%s) to every _bulk request since %s (%d refused): check the credentials and the user's privileges",
		s.creds.status, credentialsReason(s.creds.status), s.creds.since.UTC().Format(time.RFC3339), s.creds.count)
}

// credentialsReason is the failed-metric reason of a whole request refused with status.
func credentialsReason(status int) string {
	if status == 401 {
		return "unauthorized"
	}
	return "forbidden"
}
