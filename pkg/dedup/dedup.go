// Package dedup computes what the index stage needs to find near-duplicates and stories while
// it streams: a MinHash signature of an article's text and two sets of LSH band keys.
//
// The text (title and body) is normalised to lower-case words of letters and digits, and cut
// into overlapping 3-word shingles. The signature keeps, for each of 128 hash functions
// derived from one fixed seed, the least hash of any shingle: two articles agree on a
// signature position with probability equal to the Jaccard similarity of their shingle sets,
// so the share of agreeing positions estimates it (standard error sqrt(J(1-J)/128): at most
// 0.044, and 0.027 at J = 0.9).
//
// The band keys make the candidates for that estimate findable with one terms query: the
// signature is cut into bands of consecutive rows and each band is hashed to a key; two
// articles share a key when they agree on a whole band. With b bands of r rows, a pair of
// Jaccard J shares at least one key with probability 1-(1-J^r)^b:
//   - near-duplicate keys, 16 bands of 8 rows: 0.9999 at J = 0.9, 0.61 at 0.7, 0.06 at 0.5;
//   - story keys, 42 bands of 3 rows: 0.996 at J = 0.5, 0.68 at 0.3, 0.04 at 0.1.
//
// Everything here is deterministic across processes and versions of Go (no maphash, no map
// order): a signature written by one enrich instance is compared with one written by another,
// possibly months later. Changing the seed, the shingling or the bands changes every key, so
// it needs a new enrichment_version and a replay (docs/REPLAY.md).
package dedup

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/newsflow/newsflow/pkg/article"
)

// Parameters of the signature and bands. They are constants, not options: every article in an
// index must have been signed the same way for the keys and estimates to mean anything.
const (
	// ShingleWords is the number of consecutive words in a shingle.
	ShingleWords = 3
	// Hashes is the length of a signature.
	Hashes = 128
	// NearBands and NearRows band the signature for near-duplicates (Jaccard >= NearThreshold).
	NearBands, NearRows = 16, 8
	// StoryBands and StoryRows band it for stories (Jaccard >= StoryThreshold).
	StoryBands, StoryRows = 42, 3
	// NearThreshold is the estimated Jaccard similarity from which an article is a
	// near-duplicate of an earlier one.
	NearThreshold = 0.9
	// StoryThreshold is the estimated Jaccard similarity from which two articles close in time
	// belong to one story.
	StoryThreshold = 0.5
	// seed derives the hash functions; fixed, see the package comment.
	seed = 0x6e657773666c6f77 // "newsflow"
)

// mults and adds define the hash functions: function i maps a shingle's mixed hash x to the high
// 32 bits of mults[i]*x + adds[i] (multiply-shift, with odd multipliers), all from splitmix64
// over the fixed seed. x is already a full mix of the shingle, so these cheap functions behave
// as independent ones (TestEstimateError), at a fraction of the cost of mixing the shingle
// anew for every position.
var mults, adds = func() (m, a [Hashes]uint64) {
	x := uint64(seed)
	for i := range m {
		x += 0x9e3779b97f4a7c15
		m[i] = mix(x) | 1
		x += 0x9e3779b97f4a7c15
		a[i] = mix(x)
	}
	return m, a
}()

// mix is splitmix64's finaliser: a bijection of 64-bit words that spreads every input bit over
// every output bit, which is what makes mix(h ^ salt) behave like independent hash functions.
func mix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Signature is a MinHash signature: per hash function, the least 32-bit hash of a shingle.
// 32 bits per position keep it at 512 bytes; a chance agreement of two positions (2^-32) is far
// below the estimate's own error.
type Signature [Hashes]uint32

// Words returns the normalised words of s: maximal runs of letters and digits, lower-cased.
// Punctuation, markup and spacing differences between copies of a story therefore do not count.
func Words(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

// FNV-1a, which hashes a word's bytes.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func wordHash(w string) uint64 {
	h := uint64(fnvOffset)
	for i := 0; i < len(w); i++ {
		h = (h ^ uint64(w[i])) * fnvPrime
	}
	return h
}

// shingle combines the hashes of ShingleWords consecutive words (fewer for a short text) into
// the shingle's hash; order counts.
func shingle(ws []uint64) uint64 {
	h := uint64(len(ws))
	for _, w := range ws {
		h = mix(h ^ w)
	}
	return h
}

// Shingles returns the 64-bit hashes of the distinct ShingleWords-word shingles of words; a
// text of fewer words is one shingle of all of them, and no words give no shingles.
func Shingles(words []string) []uint64 {
	hs := make([]uint64, len(words))
	for i, w := range words {
		hs[i] = wordHash(w)
	}
	out := shinglesOf(hs, nil)
	seen := make(map[uint64]struct{}, len(out))
	distinct := out[:0]
	for _, h := range out {
		if _, ok := seen[h]; !ok {
			seen[h] = struct{}{}
			distinct = append(distinct, h)
		}
	}
	return distinct
}

// shinglesOf appends to dst the shingle hashes of the word hashes ws, repeats included; dst may
// be ws[:0] (shingle i is written once the words it needs, i to i+ShingleWords-1, are read).
func shinglesOf(ws []uint64, dst []uint64) []uint64 {
	if len(ws) == 0 {
		return dst
	}
	if len(ws) < ShingleWords {
		return append(dst, shingle(ws))
	}
	for i := 0; i+ShingleWords <= len(ws); i++ {
		dst = append(dst, shingle(ws[i:i+ShingleWords]))
	}
	return dst
}

// appendWordHashes appends the hashes of the words of s (as Words cuts and lower-cases them,
// hashed as wordHash would hash them) without building the strings: Of runs on every article.
func appendWordHashes(dst []uint64, s string) []uint64 {
	h, in := uint64(fnvOffset), false
	var buf [utf8.UTFMax]byte
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			if in {
				dst = append(dst, h)
				h, in = fnvOffset, false
			}
			continue
		}
		in = true
		if r < utf8.RuneSelf {
			if 'A' <= r && r <= 'Z' {
				r += 'a' - 'A'
			}
			h = (h ^ uint64(r)) * fnvPrime
			continue
		}
		n := utf8.EncodeRune(buf[:], unicode.ToLower(r))
		for _, b := range buf[:n] {
			h = (h ^ uint64(b)) * fnvPrime
		}
	}
	if in {
		dst = append(dst, h)
	}
	return dst
}

// Sign returns the signature of a set of shingle hashes, and false for an empty set (a text
// without words has nothing to compare). Repeated shingles change nothing: a minimum is a
// minimum.
func Sign(shingles []uint64) (Signature, bool) {
	return sign(append([]uint64(nil), shingles...))
}

// sign is Sign, overwriting shingles with their mixed hashes.
func sign(xs []uint64) (Signature, bool) {
	var sig Signature
	if len(xs) == 0 {
		return sig, false
	}
	for j, sh := range xs {
		xs[j] = mix(sh)
	}
	// One function at a time over every shingle: the running minimum stays in a register.
	for i := range sig {
		m, a, b := ^uint32(0), mults[i], adds[i]
		for _, x := range xs {
			m = min(m, uint32((x*a+b)>>32))
		}
		sig[i] = m
	}
	return sig, true
}

// Similarity estimates the Jaccard similarity of the texts behind two signatures: the share of
// positions where they agree.
func Similarity(a, b *Signature) float64 {
	same := 0
	for i := range a {
		if a[i] == b[i] {
			same++
		}
	}
	return float64(same) / Hashes
}

// Bands returns the keys of sig cut into bands of rows consecutive positions (bands*rows must
// not exceed Hashes). A key hashes the band's number and values to 64 bits, written as 11
// base64url characters: the number is inside the hash, so equal values in different bands do
// not collide, and 2^-64 chance collisions cost nothing but one needless estimate.
func Bands(sig *Signature, bands, rows int) []string {
	const keyLen = 11 // base64 of 8 bytes, unpadded
	text := make([]byte, bands*keyLen)
	var buf [8]byte
	for b := range bands {
		h := mix(uint64(seed) ^ uint64(b)<<32 ^ uint64(rows))
		for _, v := range sig[b*rows : (b+1)*rows] {
			h = mix(h ^ uint64(v))
		}
		binary.LittleEndian.PutUint64(buf[:], h)
		base64.RawURLEncoding.Encode(text[b*keyLen:], buf[:])
	}
	// One string for all the keys, sliced: a string per key was 58 allocations an article.
	all := string(text)
	keys := make([]string, bands)
	for b := range keys {
		keys[b] = all[b*keyLen : (b+1)*keyLen]
	}
	return keys
}

// Encode writes sig compactly for a record: 128 little-endian uint32 as base64 (683
// characters), the form the search engine's binary field type takes.
func Encode(sig *Signature) string {
	var buf [Hashes * 4]byte
	for i, v := range sig {
		binary.LittleEndian.PutUint32(buf[i*4:], v)
	}
	return base64.StdEncoding.EncodeToString(buf[:])
}

// ErrSignature is returned by Decode for a value that is not an encoded signature.
var ErrSignature = errors.New("not a minhash signature")

// Decode reads what Encode wrote.
func Decode(s string) (Signature, error) {
	var sig Signature
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return sig, fmt.Errorf("%w: %v", ErrSignature, err)
	}
	if len(b) != Hashes*4 {
		return sig, fmt.Errorf("%w: %d bytes, want %d", ErrSignature, len(b), Hashes*4)
	}
	for i := range sig {
		sig[i] = binary.LittleEndian.Uint32(b[i*4:])
	}
	return sig, nil
}

// Of returns the similarity fields of an article with this title and body, or nil when the
// text has no words. Title and body are one text: a copy that moved a sentence from the
// title into the body is still a copy.
func Of(title, body string) *article.Similarity {
	ws := appendWordHashes(make([]uint64, 0, 256), title)
	ws = appendWordHashes(ws, body)
	sig, ok := sign(shinglesOf(ws, ws[:0]))
	if !ok {
		return nil
	}
	return &article.Similarity{
		Signature:  Encode(&sig),
		NearBands:  Bands(&sig, NearBands, NearRows),
		StoryBands: Bands(&sig, StoryBands, StoryRows),
	}
}
