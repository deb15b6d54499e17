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

// salts are the per-function seeds, from splitmix64 over the fixed seed.
var salts = func() [Hashes]uint64 {
	var s [Hashes]uint64
	x := uint64(seed)
	for i := range s {
		x += 0x9e3779b97f4a7c15
		s[i] = mix(x)
	}
	return s
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

// Shingles returns the 64-bit hashes of the distinct ShingleWords-word shingles of words; a
// text of fewer words is one shingle of all of them, and no words give no shingles.
func Shingles(words []string) []uint64 {
	if len(words) == 0 {
		return nil
	}
	n := len(words) - ShingleWords + 1
	if n < 1 {
		n = 1
	}
	seen := make(map[uint64]struct{}, n)
	out := make([]uint64, 0, n)
	for i := 0; i < n; i++ {
		h := uint64(14695981039346656037) // FNV-1a offset basis
		for j := i; j < i+ShingleWords && j < len(words); j++ {
			if j > i {
				h = (h ^ ' ') * 1099511628211
			}
			for k := 0; k < len(words[j]); k++ {
				h = (h ^ uint64(words[j][k])) * 1099511628211
			}
		}
		if _, ok := seen[h]; !ok {
			seen[h] = struct{}{}
			out = append(out, h)
		}
	}
	return out
}

// Sign returns the signature of a set of shingle hashes, and false for an empty set (a text
// without words has nothing to compare).
func Sign(shingles []uint64) (Signature, bool) {
	var sig Signature
	if len(shingles) == 0 {
		return sig, false
	}
	for i := range sig {
		sig[i] = ^uint32(0)
	}
	for _, sh := range shingles {
		for i, salt := range salts {
			if h := uint32(mix(sh ^ salt)); h < sig[i] {
				sig[i] = h
			}
		}
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
	keys := make([]string, bands)
	var buf [8]byte
	for b := range keys {
		h := mix(uint64(seed) ^ uint64(b)<<32 ^ uint64(rows))
		for _, v := range sig[b*rows : (b+1)*rows] {
			h = mix(h ^ uint64(v))
		}
		binary.LittleEndian.PutUint64(buf[:], h)
		keys[b] = base64.RawURLEncoding.EncodeToString(buf[:])
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
	sig, ok := Sign(Shingles(Words(title + "\n" + body)))
	if !ok {
		return nil
	}
	return &article.Similarity{
		Signature:  Encode(&sig),
		NearBands:  Bands(&sig, NearBands, NearRows),
		StoryBands: Bands(&sig, StoryBands, StoryRows),
	}
}
