package article

import "testing"

func TestCanonicalURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://WWW.Example.COM/news/a?utm_source=x&b=2&a=1#frag", "https://www.example.com/news/a?a=1&b=2"},
		{"HTTP://example.com:80", "http://example.com/"},
		{"https://example.com:8443/x?fbclid=1&gclid=2", "https://example.com:8443/x"},
		{"https://user:pw@example.com/x", "https://example.com/x"},
	} {
		got, err := CanonicalURL(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("CanonicalURL(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "example.com/x", "ftp://example.com/x", "/relative", "https://"} {
		if _, err := CanonicalURL(bad); err == nil {
			t.Errorf("CanonicalURL(%q): want an error", bad)
		}
	}
}

func TestIDIsDeterministic(t *testing.T) {
	a := &Article{URL: "https://example.com/a?utm_medium=social", Title: "T", Body: "B"}
	b := &Article{URL: "https://EXAMPLE.com/a#top", Title: "other title", Body: "other"}
	if ID(a) != ID(b) {
		t.Fatal("the same canonical URL must give the same id")
	}
	c := &Article{Source: "s", Title: " T ", Body: "B"}
	d := &Article{Source: "s", Title: "T", Body: "B\n"}
	if ID(c) != ID(d) {
		t.Fatal("without a URL, source+title+body (trimmed) give the id")
	}
	if ID(c) == ID(&Article{Source: "other", Title: "T", Body: "B"}) || ID(a) == ID(c) {
		t.Fatal("different articles must get different ids")
	}
	if len(ID(a)) != 32 {
		t.Fatalf("id %q: want 32 hex characters", ID(a))
	}
}

func TestIDFromCanonicalURLIsID(t *testing.T) {
	a := &Article{URL: "https://Example.com/a?utm_source=x", Title: "T", Body: "B"}
	c, err := CanonicalURL(a.URL)
	if err != nil || IDFromCanonicalURL(c) != ID(a) {
		t.Fatalf("IDFromCanonicalURL(%q) != ID: %v", c, err)
	}
}
