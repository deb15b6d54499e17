package ner

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"math/bits"
	"strings"
	"sync"
)

// Word clusters: Brown clusters of English words (spaCy's spacy-lookups-data en_lexeme_cluster,
// MIT; see data/SOURCES.md), as word<TAB>bit path, built by `make gazetteer`. A cluster groups
// words that occur in similar contexts, so the prefixes of its path are word classes at several
// granularities: names the training text never saw share them with names it did ("Shamkhani"
// with other surnames, "supertanker" with "tanker").
//
//go:embed data/clusters.gen.tsv.gz
var clusterData []byte

// clusterPrefixes are the path prefix lengths of a word's own features, as Ratinov and Roth
// (2009) used them; contextClusterPrefixes those of its neighbours.
var (
	clusterPrefixes        = [...]int{4, 6, 10, 20}
	contextClusterPrefixes = [...]int{4, 10}
)

// clusterPrefix returns the first n bits of a path (all of it when shorter), with its leading
// 1 bit, so that prefixes of different lengths differ; ok is false for a word without a cluster.
func clusterPrefix(path uint32, n int) (uint32, bool) {
	if path == 0 {
		return 0, false
	}
	if l := bits.Len32(path) - 1; l > n {
		path >>= uint(l - n)
	}
	return path, true
}

// clusterTable maps words to their paths: by the exact word, and by its lower-case form for
// words seen only in other casings (an ALL-CAPS headline's "TEHRAN").
type clusterTable struct {
	exact, lower map[uint64]uint32
}

var (
	clustersOnce sync.Once
	clusters     *clusterTable
	clustersErr  error
)

// loadClusters decodes the embedded table once per process.
func loadClusters() (*clusterTable, error) {
	clustersOnce.Do(func() { clusters, clustersErr = parseClusters(clusterData) })
	return clusters, clustersErr
}

func parseClusters(data []byte) (*clusterTable, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("reading word clusters: %w", err)
	}
	t := &clusterTable{exact: make(map[uint64]uint32, 1<<17), lower: make(map[uint64]uint32, 1<<17)}
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		word, path, ok := strings.Cut(sc.Text(), "\t")
		if !ok || word == "" || path == "" || len(path) > 30 {
			continue
		}
		p := uint32(1)
		for i := 0; i < len(path); i++ {
			p = p<<1 | uint32(path[i]-'0')&1
		}
		t.exact[hashString(word)] = p
		lk := hashLower(word)
		if _, seen := t.lower[lk]; !seen || word == strings.ToLower(word) {
			t.lower[lk] = p // a lower-case entry wins over other casings
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading word clusters: %w", err)
	}
	return t, nil
}

// path returns a word's cluster path, or 0.
func (t *clusterTable) path(a *attrs) uint32 {
	if t == nil {
		return 0
	}
	if p, ok := t.exact[a.word]; ok {
		return p
	}
	return t.lower[a.lower]
}
