package article

import "time"

// The publication window every stage applies by default: ingest refuses an article outside it
// with a per-item 400, and index dead-letters one that reaches it anyway, so the number of
// indices input can create stays bounded. One definition, so the two stages cannot drift apart.

// PublishedFloor is older than any news archive worth indexing: anything before it is a typo or
// a zero value (0001-01-01).
var PublishedFloor = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)

// PublishedFuture is how far past now a publication date may lie: time zones and embargoed copy
// are a day at most, so two days later is a typo.
const PublishedFuture = 48 * time.Hour
