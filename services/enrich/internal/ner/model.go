package ner

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"sort"
)

// modelMagic names the format. 3: the training gazetteer holds its phrases' prefixes (see
// gazetteer), which matching relies on; a version-2 file would silently match less.
const modelMagic = "NFNER3\n"

// weights is the compact, read-only weight table used at run time, for one or both stages:
// open addressing over the 64-bit feature hashes; each 16-byte slot holds the key and a sparse
// row per stage (bit masks of the tags with a non-zero weight, and where their values start).
// Both stages share the slot of a feature, so a feature common to both (most are) costs one
// probe, and only non-zero weights are added. Scoring is allocation-free.
type weights struct {
	slots []slot
	mask  uint64
	vals  []float32
	// filter is a one-hash Bloom filter of the keys, small enough to stay in cache: most
	// features of a token (rare words, unseen bigrams) are not in the model, and the filter
	// answers those without touching the big table.
	filter []uint64
	fmask  uint64
}

type slot struct {
	key  uint64 // 0 marks an empty slot (a feature hash of 0 is remapped to 1)
	meta uint64 // bits 0-16: stage-1 tags with a weight; 17-33: stage-2 tags; 34-63: offset in vals
}

const (
	stage2Shift = nTags
	tagsMask    = 1<<nTags - 1
	offShift    = 2 * nTags
)

func fixKey(k uint64) uint64 {
	if k == 0 {
		return 1
	}
	return k
}

// buildWeights makes the table from the rows of one or two stages.
func buildWeights(stages []stage) *weights {
	idx := map[uint64]int{}
	var keys []uint64
	var rows [][2]int
	for si, st := range stages {
		for i, k := range st.keys {
			k = fixKey(k)
			j, ok := idx[k]
			if !ok {
				j = len(keys)
				idx[k] = j
				keys = append(keys, k)
				rows = append(rows, [2]int{-1, -1})
			}
			rows[j][si] = i
		}
	}
	size := 1
	for size*7 < len(keys)*10+1 { // load factor at most 0.7: a smaller table stays in cache
		size <<= 1
	}
	fbits := uint64(1 << 16)
	for fbits < 16*uint64(len(keys)) {
		fbits <<= 1
	}
	t := &weights{slots: make([]slot, size), mask: uint64(size - 1), filter: make([]uint64, fbits/64), fmask: fbits - 1}
	for j, k := range keys {
		i := k & t.mask
		for t.slots[i].key != 0 {
			i = (i + 1) & t.mask
		}
		meta := uint64(len(t.vals)) << offShift
		for si := range stages {
			if rows[j][si] < 0 {
				continue
			}
			for tag, v := range stages[si].rows[rows[j][si]] {
				if v != 0 {
					meta |= 1 << (uint(si)*stage2Shift + uint(tag))
					t.vals = append(t.vals, v)
				}
			}
		}
		t.slots[i] = slot{key: k, meta: meta}
		f := (k >> 20) & t.fmask
		t.filter[f>>6] |= 1 << (f & 63)
	}
	return t
}

func (t *weights) find(k uint64) uint64 {
	k = fixKey(k)
	if f := (k >> 20) & t.fmask; t.filter[f>>6]&(1<<(f&63)) == 0 {
		return 0
	}
	i := k & t.mask
	for {
		sl := &t.slots[i]
		if sl.key == k {
			return sl.meta
		}
		if sl.key == 0 {
			return 0
		}
		i = (i + 1) & t.mask
	}
}

// lookupChunk is how many features' rows lookup finds before any of their values is added.
const lookupChunk = 32

// lookup sets metas[i] to the row of feats[i] (0 for a feature not in the model), for at most
// lookupChunk features, and returns how many it did. Finding every row of a chunk first lets
// the CPU overlap the chunk's cache misses, which do not depend on each other; finding one and
// adding its values before finding the next makes each miss wait for the one before. Tagging
// is bound by these misses (profiled on Reuters: a third of enrich's time).
func (t *weights) lookup(feats []uint64, metas *[lookupChunk]uint64) int {
	n := min(len(feats), lookupChunk)
	for i, k := range feats[:n] {
		metas[i] = t.find(k)
	}
	return n
}

// score adds the stage-1 weights of feats to out.
func (t *weights) score(feats []uint64, out *[nTags]float32) {
	var metas [lookupChunk]uint64
	for len(feats) > 0 {
		n := t.lookup(feats, &metas)
		for _, meta := range metas[:n] {
			off := meta >> offShift
			for m := meta & tagsMask; m != 0; m &= m - 1 {
				out[bits.TrailingZeros64(m)] += t.vals[off]
				off++
			}
		}
		feats = feats[n:]
	}
}

// score2 adds the stage-2 weights of feats to out.
func (t *weights) score2(feats []uint64, out *[nTags]float32) {
	var metas [lookupChunk]uint64
	for len(feats) > 0 {
		n := t.lookup(feats, &metas)
		for _, meta := range metas[:n] {
			off := meta>>offShift + uint64(bits.OnesCount64(meta&tagsMask))
			for m := meta >> stage2Shift & tagsMask; m != 0; m &= m - 1 {
				out[bits.TrailingZeros64(m)] += t.vals[off]
				off++
			}
		}
		feats = feats[n:]
	}
}

// scoreBoth adds the stage-1 weights of feats to out1 and the stage-2 ones to out2.
func (t *weights) scoreBoth(feats []uint64, out1, out2 *[nTags]float32) {
	var metas [lookupChunk]uint64
	for len(feats) > 0 {
		n := t.lookup(feats, &metas)
		for _, meta := range metas[:n] {
			off := meta >> offShift
			for m := meta & tagsMask; m != 0; m &= m - 1 {
				out1[bits.TrailingZeros64(m)] += t.vals[off]
				off++
			}
			for m := meta >> stage2Shift & tagsMask; m != 0; m &= m - 1 {
				out2[bits.TrailingZeros64(m)] += t.vals[off]
				off++
			}
		}
		feats = feats[n:]
	}
}

// model is everything the recogniser loads from the model file.
type model struct {
	stages   []stage
	gaz      map[uint64]uint32 // gazetteer phrases learnt from the training data
	gazMax   int
	lowKnown map[uint64]bool
}

// writeModel writes rows (sorted by key for a deterministic file), the training gazetteer and the
// lowercase lexicon, gzip-compressed. Weights are quantised to int16 and only non-zero ones are
// stored, which keeps the file small.
func writeModel(w io.Writer, stages []stage, gaz map[uint64]uint32, gazMax int, low map[uint64]bool) error {
	zw, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(zw)
	bw.WriteString(modelMagic)
	le := binary.LittleEndian
	var b [8]byte
	put32 := func(v uint32) { le.PutUint32(b[:4], v); bw.Write(b[:4]) }
	put64 := func(v uint64) { le.PutUint64(b[:], v); bw.Write(b[:]) }
	put32(uint32(len(stages)))
	for _, st := range stages {
		writeStage(bw, st.keys, st.rows)
	}
	gk := make([]uint64, 0, len(gaz))
	for k := range gaz {
		gk = append(gk, k)
	}
	sort.Slice(gk, func(a, b int) bool { return gk[a] < gk[b] })
	put32(uint32(gazMax))
	put32(uint32(len(gk)))
	for _, k := range gk {
		put64(k)
		put32(gaz[k])
	}
	lk := make([]uint64, 0, len(low))
	for k := range low {
		lk = append(lk, k)
	}
	sort.Slice(lk, func(a, b int) bool { return lk[a] < lk[b] })
	put32(uint32(len(lk)))
	for _, k := range lk {
		put64(k)
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return zw.Close()
}

// stage is the weight rows of one tagging stage.
type stage struct {
	keys []uint64
	rows [][nTags]float32
}

func writeStage(bw *bufio.Writer, keys []uint64, rows [][nTags]float32) {
	var maxAbs float32
	for _, r := range rows {
		for _, v := range r {
			maxAbs = max(maxAbs, float32(math.Abs(float64(v))))
		}
	}
	scale := maxAbs / 32000
	if scale == 0 {
		scale = 1
	}
	le := binary.LittleEndian
	var b [8]byte
	put32 := func(v uint32) { le.PutUint32(b[:4], v); bw.Write(b[:4]) }
	put64 := func(v uint64) { le.PutUint64(b[:], v); bw.Write(b[:]) }
	put32(math.Float32bits(scale))
	order := make([]int, len(keys))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return keys[order[a]] < keys[order[b]] })
	put32(uint32(len(keys)))
	for _, i := range order {
		put64(keys[i])
		var m uint32
		var q [nTags]int16
		for j, v := range rows[i] {
			q[j] = int16(math.Round(float64(v / scale)))
			if q[j] != 0 {
				m |= 1 << j
			}
		}
		put32(m)
		for j := range q {
			if q[j] != 0 {
				le.PutUint16(b[:2], uint16(q[j]))
				bw.Write(b[:2])
			}
		}
	}
}

func readModel(r io.Reader) (*model, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("opening model: %w", err)
	}
	br := bufio.NewReaderSize(zr, 1<<16)
	magic := make([]byte, len(modelMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic[:len(magic)-2]) != modelMagic[:len(modelMagic)-2] {
		return nil, errors.New("not a newsflow NER model")
	}
	if string(magic) != modelMagic {
		return nil, fmt.Errorf("NER model format %q, this build reads %q: retrain it with this build (make model)", magic[len(magic)-2:len(magic)-1], modelMagic[len(modelMagic)-2:len(modelMagic)-1])
	}
	le := binary.LittleEndian
	var b [8]byte
	var rerr error
	get32 := func() uint32 {
		if _, err := io.ReadFull(br, b[:4]); err != nil && rerr == nil {
			rerr = err
		}
		return le.Uint32(b[:4])
	}
	get64 := func() uint64 {
		if _, err := io.ReadFull(br, b[:]); err != nil && rerr == nil {
			rerr = err
		}
		return le.Uint64(b[:])
	}
	get16 := func() uint16 {
		if _, err := io.ReadFull(br, b[:2]); err != nil && rerr == nil {
			rerr = err
		}
		return le.Uint16(b[:2])
	}
	m := &model{}
	nStages := int(get32())
	if rerr != nil || nStages < 1 || nStages > 4 {
		return nil, fmt.Errorf("reading model header: %d stages, %v", nStages, rerr)
	}
	for s := 0; s < nStages; s++ {
		scale := math.Float32frombits(get32())
		n := int(get32())
		if rerr != nil || n > 1<<26 {
			return nil, fmt.Errorf("reading model weights: %v", rerr)
		}
		st := stage{keys: make([]uint64, 0, n), rows: make([][nTags]float32, 0, n)}
		for i := 0; i < n && rerr == nil; i++ {
			st.keys = append(st.keys, get64())
			mask := get32()
			var row [nTags]float32
			for j := range row {
				if mask&(1<<j) != 0 {
					row[j] = float32(int16(get16())) * scale
				}
			}
			st.rows = append(st.rows, row)
		}
		m.stages = append(m.stages, st)
	}
	m.gazMax = int(get32())
	ng := int(get32())
	if rerr != nil || ng > 1<<24 {
		return nil, fmt.Errorf("reading model gazetteer: %v", rerr)
	}
	m.gaz = make(map[uint64]uint32, ng)
	for i := 0; i < ng && rerr == nil; i++ {
		k := get64()
		m.gaz[k] = get32()
	}
	nl := int(get32())
	if rerr != nil || nl > 1<<24 {
		return nil, fmt.Errorf("reading model lexicon: %v", rerr)
	}
	m.lowKnown = make(map[uint64]bool, nl)
	for i := 0; i < nl && rerr == nil; i++ {
		m.lowKnown[get64()] = true
	}
	if rerr != nil {
		return nil, fmt.Errorf("reading model: %w", rerr)
	}
	return m, nil
}
