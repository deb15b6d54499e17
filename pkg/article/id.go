package article

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
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

type constError string

func (e constError) Error() string { return string(e) }

const errNotHTTP = constError("not an absolute http(s) URL")

// IDFromCanonicalURL is ID for an article whose URL the caller has already canonicalised (ingest
// does, to validate it), so the work is not done twice.
func IDFromCanonicalURL(canonical string) string {
	h := sha256.New()
	h.Write([]byte("url\x00"))
	h.Write([]byte(canonical))
	return hex.EncodeToString(h.Sum(nil)[:16])
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
