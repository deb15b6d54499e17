package articleio

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/newsflow/newsflow/pkg/testenv"
)

type got struct {
	title, where, err string
}

func readAll(t *testing.T, in string) (Format, []got) {
	t.Helper()
	var out []got
	f, err := Read(strings.NewReader(in), "in", func(r Record) error {
		g := got{title: r.Article.Title, where: r.Where}
		if r.Err != nil {
			g.err = r.Err.Error()
		}
		out = append(out, g)
		return nil
	})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return f, out
}

func TestRead(t *testing.T) {
	for _, tc := range []struct {
		name   string
		in     string
		format Format
		want   []got
	}{
		{"text", "\ufeffHeadline here\n\nFirst para.\n\nSecond.\n", FormatText, []got{{title: "Headline here", where: "in:1"}}},
		{"json lines with a bad line in the middle", `{"title":"a","body":"x"}` + "\n{bad\n\n" + `{"title":"c","body":"y"}` + "\n", FormatJSONLines,
			[]got{{title: "a", where: "in:1"}, {where: "in:2", err: "malformed JSON"}, {title: "c", where: "in:4"}}},
		{"json lines with a wrong type", `{"title":"a","body":"x"}` + "\n" + `{"title":5}`, FormatJSONLines,
			[]got{{title: "a", where: "in:1"}, {where: "in:2", err: `field "title": number is not a valid string`}}},
		{"pretty json object", "{\n  \"title\": \"p\",\n  \"body\": \"b\"\n}\n", FormatJSON, []got{{title: "p", where: "in:1"}}},
		{"two pretty objects", "{\n \"title\": \"p\"\n}\n\n{\n \"title\": \"q\"\n}", FormatJSON, []got{{title: "p", where: "in:1"}, {title: "q", where: "in:5"}}},
		{"array", "[\n {\"title\":\"a\"},\n {\"title\":\"b\"}\n]", FormatJSONArray, []got{{title: "a", where: "in:2"}, {title: "b", where: "in:3"}}},
		{"bad published_at", `{"title":"a","published_at":"yesterday"}`, FormatJSONLines, []got{{title: "a", where: "in:1", err: `not RFC 3339 (like 2019-08-21T08:00:00Z): "yesterday"`}}},
		{"empty", "  \n", FormatText, []got{{where: "in:1", err: "empty input"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, out := readAll(t, tc.in)
			if f != tc.format {
				t.Errorf("format %v, want %v", f, tc.format)
			}
			if len(out) != len(tc.want) {
				t.Fatalf("got %+v, want %+v", out, tc.want)
			}
			for i := range out {
				if out[i].title != tc.want[i].title || out[i].where != tc.want[i].where || !strings.Contains(out[i].err, tc.want[i].err) || (tc.want[i].err == "") != (out[i].err == "") {
					t.Errorf("record %d: got %+v, want %+v", i, out[i], tc.want[i])
				}
			}
		})
	}
}

func TestReadStopsWhenCallbackFails(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	_, err := Read(strings.NewReader("{\"title\":\"a\"}\n{\"title\":\"b\"}\n"), "in", func(Record) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Fatalf("err=%v n=%d", err, n)
	}
}

func TestSeedArticleKeepsEveryCharacter(t *testing.T) {
	path := filepath.Join(testenv.DataDir(t), "seed", "imperialism-hits-the-rocks.txt")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	a, err := ParseText(string(data))
	if err != nil {
		t.Fatal(err)
	}
	if a.Title != "Imperialism hits the rocks" && !strings.HasPrefix(string(data), a.Title) {
		t.Fatalf("title %q", a.Title)
	}
	if !strings.Contains(string(data), a.Body) || len(a.Body) < len(data)-len(a.Title)-4 {
		t.Fatalf("body lost characters: %d of %d bytes", len(a.Body), len(data))
	}
}

func FuzzRead(f *testing.F) {
	for _, s := range []string{"T\nb", `{"title":"a"}`, "[{}]", "{\n}", "[", "{\"title\":\"\xff\"}\n{"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		_, err := Read(strings.NewReader(in), "f", func(r Record) error {
			if r.Where == "" {
				return fmt.Errorf("record without a place: %+v", r)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// TestReadLine: the one line reader keeps a line of exactly limit bytes, passes over a longer one
// without keeping it (with or without its "\n"), and goes on at the next line; line ends are cut.
func TestReadLine(t *testing.T) {
	type res struct {
		line string
		err  error
	}
	const limit = 4
	for _, tc := range []struct {
		name string
		in   string
		want []res
	}{
		{"at the limit", "abcd\nef", []res{{"abcd", nil}, {"ef", io.EOF}}},
		{"crlf", "ab\r\ncd\r\n", []res{{"ab", nil}, {"cd", nil}, {"", io.EOF}}},
		{"too long, then a line", "abcde\nok\n", []res{{"", ErrLineTooLong}, {"ok", nil}, {"", io.EOF}}},
		{"too long at the end, no newline", "ok\nabcde", []res{{"ok", nil}, {"", ErrLineTooLong}, {"", io.EOF}}},
		{"at the limit at the end, no newline", "abcd", []res{{"abcd", io.EOF}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			br := bufio.NewReaderSize(strings.NewReader(tc.in), 16)
			for i, w := range tc.want {
				l, err := ReadLine(br, limit)
				if string(l) != w.line || !errors.Is(err, w.err) {
					t.Fatalf("call %d: %q, %v; want %q, %v", i, l, err, w.line, w.err)
				}
			}
		})
	}
}

// TestReadLineLongerThanTheBuffer: a line longer than bufio's buffer is put together from its
// chunks, and one over the limit is dropped however many chunks it spans.
func TestReadLineLongerThanTheBuffer(t *testing.T) {
	long := strings.Repeat("x", 100)
	br := bufio.NewReaderSize(strings.NewReader(long+"\n"+long+"y\nz"), 16)
	if l, err := ReadLine(br, 100); string(l) != long || err != nil {
		t.Fatalf("%d bytes, %v; want the 100-byte line", len(l), err)
	}
	if l, err := ReadLine(br, 100); l != nil || !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("%d bytes, %v; want ErrLineTooLong", len(l), err)
	}
	if l, err := ReadLine(br, 100); string(l) != "z" || err != io.EOF {
		t.Fatalf("%q, %v; want the last line", l, err)
	}
}

// TestReadTooLongFirstLine: a first line over the cap is reported at name:1 as a JSON line too
// long, and the lines after it are still read (it used to be handed, cut, to the JSON decoder).
func TestReadTooLongFirstLine(t *testing.T) {
	if testing.Short() {
		t.Skip("reads a 64 MiB line")
	}
	in := `{"title":"` + strings.Repeat("x", maxRecordBytes) + `"}` + "\n" + `{"title":"b"}` + "\n"
	f, out := readAll(t, in)
	want := []got{{where: "in:1", err: fmt.Sprintf("line longer than %d bytes", maxRecordBytes)}, {title: "b", where: "in:2"}}
	if f != FormatJSONLines || len(out) != 2 || out[0] != want[0] || out[1] != want[1] {
		t.Fatalf("format %v, records %+v; want %v, %+v", f, out, FormatJSONLines, want)
	}
}
