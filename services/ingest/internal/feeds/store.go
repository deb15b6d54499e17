package feeds

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// State is what ingest remembers about one feed between polls and across restarts: the
// validators for a conditional GET, and the keys of items already published, newest last.
type State struct {
	ETag         string   `json:"etag,omitempty"`
	LastModified string   `json:"last_modified,omitempty"`
	Seen         []string `json:"seen,omitempty"`
}

// MaxSeen bounds the remembered keys of items a feed no longer lists (for feeds that drop an item
// and list it again). The keys of items it still lists are all kept, however many (Poll): a
// feed of 6,000 items once had its oldest 1,000 published again at every poll because only the
// last 5,000 keys were kept. Those are bounded by the feed document's size (MaxFeedBytes).
const MaxSeen = 5000

// Store keeps feed state in one JSON file, written atomically (temporary file, then rename), so
// that a crash mid-write leaves the previous state rather than none, and a restart does not
// re-publish every item of every feed.
type Store struct {
	path  string
	mu    sync.Mutex
	feeds map[string]State
}

// OpenStore reads (or starts) the state file in dir.
func OpenStore(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("feed state: creating %s: %w", dir, err)
	}
	s := &Store{path: filepath.Join(dir, "feeds.json"), feeds: map[string]State{}}
	b, err := os.ReadFile(s.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return s, nil
	case err != nil:
		return nil, fmt.Errorf("feed state: reading %s: %w", s.path, err)
	}
	if err := json.Unmarshal(b, &s.feeds); err != nil {
		return nil, fmt.Errorf("feed state: %s is corrupt (%v); move it away to start afresh", s.path, err)
	}
	return s, nil
}

// Get returns the state of the feed at url.
func (s *Store) Get(url string) State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.feeds[url]
}

// Put records the state of the feed at url and writes the file.
func (s *Store) Put(url string, st State) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.feeds[url] = st
	b, err := json.Marshal(s.feeds)
	if err != nil {
		return fmt.Errorf("feed state: encoding: %w", err)
	}
	tmp := s.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("feed state: writing %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return fmt.Errorf("feed state: renaming %s: %w", tmp, err)
	}
	return nil
}
