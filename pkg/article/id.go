package article

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"slices"
	"sort"
	"strings"
)

// trackingParams are query parameters that identify a campaign or a click, not an article;
// CanonicalURL drops them so that the same story shared from two places gets one id.
var trackingParams = map[string]bool{
	"fbclid": true, "gclid": true, "dclid": true, "msclkid": true, "mc_cid": true, "mc_eid": true,
	"igshid": true, "ref": true, "ref_src": true, "cmpid": true, "ocid": true, "_ga": true,
}

// CanonicalURL normalises an article URL for identity: lower-case scheme and host, no default
// port, no fragment, no utm_* or other tracking parameters, the remaining query sorted.
// It returns an error when raw is not an absolute http(s) URL.
func CanonicalURL(raw string) (string, error) {
	if c, ok := canonicalFast(raw); ok {
		return c, nil
	}
	return canonicalURLParsed(raw)
}

// canonicalURLParsed is CanonicalURL by parsing raw and rebuilding it.
func canonicalURLParsed(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", err
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", &url.Error{Op: "canonicalise", URL: raw, Err: errNotHTTP}
	}
	host := strings.ToLower(u.Hostname())
	if port := u.Port(); port != "" && !(u.Scheme == "http" && port == "80") && !(u.Scheme == "https" && port == "443") {
		host += ":" + port
	}
	u.Host = host
	u.Fragment, u.RawFragment = "", ""
	u.User = nil
	q := u.Query()
	for k := range q {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "utm_") || trackingParams[lk] {
			q.Del(k)
		}
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		vals := q[k]
		sort.Strings(vals)
		for j, v := range vals {
			if i > 0 || j > 0 {
				b.WriteByte('&')
			}
			b.WriteString(url.QueryEscape(k))
			b.WriteByte('=')
			b.WriteString(url.QueryEscape(v))
		}
	}
	u.RawQuery = b.String()
	if u.Path == "" {
		u.Path = "/"
	}
	return u.String(), nil
}

// canonicalFast is CanonicalURL without parsing, for the URLs publishers mostly send: a
// lower-case http(s) scheme and host of letters, digits, dots and hyphens, no port, user or
// fragment, a path of characters that need no escaping, and a query of at most sixteen key=value
// pairs of unreserved characters. It sorts the pairs and drops tracking ones itself, and returns
// raw unchanged (no allocation) when that changes nothing. Parsing, rebuilding and sorting every
// URL was a tenth of ingest's CPU. ok is false for anything else, which takes the full path;
// FuzzCanonicalFastPath holds the two paths to the same answer.
func canonicalFast(raw string) (canonical string, ok bool) {
	var rest string
	switch {
	case strings.HasPrefix(raw, "https://"):
		rest = raw[len("https://"):]
	case strings.HasPrefix(raw, "http://"):
		rest = raw[len("http://"):]
	default:
		return "", false
	}
	i := 0
	for i < len(rest) && (rest[i] >= 'a' && rest[i] <= 'z' || rest[i] >= '0' && rest[i] <= '9' || rest[i] == '.' || rest[i] == '-') {
		i++
	}
	if i == 0 || i == len(rest) || rest[i] != '/' {
		return "", false // no host, no path (CanonicalURL adds "/"), or a port, user or odd character
	}
	q := len(raw) - len(rest) + i // where the path starts in raw, then where the query does
	for ; q < len(raw) && raw[q] != '?'; q++ {
		if !pathByte[raw[q]] {
			return "", false
		}
	}
	if q == len(raw) {
		return raw, true
	}
	query := raw[q+1:]
	if query == "" {
		return "", false // a bare "?" is kept by url.URL.String; leave it to the full path
	}
	// At most maxFastPairs pairs, tracking ones included: far below net/url's cap on query
	// parameters (10,000 in Go 1.26, GODEBUG urlmaxqueryparams), beyond which Query returns
	// none and the full path drops the whole query.
	if strings.Count(query, "&") >= maxFastPairs {
		return "", false
	}
	var buf [maxFastPairs]queryPair
	pairs, sorted, dropped := buf[:0], true, false
	for query != "" {
		pair := query
		if amp := strings.IndexByte(query, '&'); amp >= 0 {
			pair, query = query[:amp], query[amp+1:]
			if query == "" {
				return "", false // a trailing "&"
			}
		} else {
			query = ""
		}
		eq := strings.IndexByte(pair, '=')
		if eq <= 0 {
			return "", false // no key, or no "=" (CanonicalURL writes "k=")
		}
		p := queryPair{pair[:eq], pair[eq+1:]}
		if !queryWord(p.key) || !queryWord(p.val) {
			return "", false
		}
		if lk := strings.ToLower(p.key); strings.HasPrefix(lk, "utm_") || trackingParams[lk] {
			dropped = true
			continue
		}
		if n := len(pairs); n > 0 && p.less(pairs[n-1]) {
			sorted = false
		}
		pairs = append(pairs, p)
	}
	if sorted && !dropped {
		return raw, true
	}
	// CanonicalURL sorts the keys, then each key's values: the order of (key, value).
	slices.SortFunc(pairs, func(a, b queryPair) int {
		if c := strings.Compare(a.key, b.key); c != 0 {
			return c
		}
		return strings.Compare(a.val, b.val)
	})
	var b strings.Builder
	b.Grow(len(raw))
	b.WriteString(raw[:q])
	for i, p := range pairs {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(p.key)
		b.WriteByte('=')
		b.WriteString(p.val)
	}
	return b.String(), true
}

// maxFastPairs is the most query pairs canonicalFast takes.
const maxFastPairs = 16

type queryPair struct{ key, val string }

func (p queryPair) less(o queryPair) bool {
	return p.key < o.key || p.key == o.key && p.val < o.val
}

// pathByte marks the bytes that url.URL.String writes unescaped in a path: letters, digits and
// -._~ (unreserved), and the reserved characters a path keeps ($&+,/:;=@).
var pathByte = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~$&+,/:;=@", byte(c)) >= 0
	}
	return t
}()

// queryWord reports whether s is made only of the characters url.QueryEscape leaves alone
// (letters, digits and -._~), so that the query's escaped form is s itself.
func queryWord(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

type constError string

func (e constError) Error() string { return string(e) }

const errNotHTTP = constError("not an absolute http(s) URL")

// IDFromCanonicalURL is ID for an article whose URL the caller has already canonicalised (ingest
// does, to validate it), so the work is not done twice.
func IDFromCanonicalURL(canonical string) string {
	var buf [256]byte // on the stack for the usual URL: hashing allocated three times per article
	sum := sha256.Sum256(append(append(buf[:0], "url\x00"...), canonical...))
	return hex.EncodeToString(sum[:16])
}

// ID returns the deterministic article id docs/ARCHITECTURE.md asks for: a hash of the canonical
// URL when the article has a usable one, otherwise of source, title and body. The same article
// ingested twice therefore becomes one search document.
func ID(a *Article) string {
	if a.URL != "" {
		if c, err := CanonicalURL(a.URL); err == nil {
			return IDFromCanonicalURL(c)
		}
	}
	h := sha256.New()
	h.Write([]byte("content\x00"))
	h.Write([]byte(a.Source))
	h.Write([]byte{0})
	h.Write([]byte(strings.TrimSpace(a.Title)))
	h.Write([]byte{0})
	h.Write([]byte(strings.TrimSpace(a.Body)))
	return hex.EncodeToString(h.Sum(nil)[:16])
}
