package checks

import (
	"fmt"
	"regexp"
	"strings"
)

// This file reads the shell commands of the READMEs, so that a check can tell whether they run
// as written: which variables a command uses before anything set them, and what a sequence of
// commands builds, writes and applies. It understands the shell the pages use (words, quotes,
// comments, line continuations, separators, redirections, here-documents, for loops, parameter
// and command substitution), not all of sh: it never runs anything.

// Snippet is shell code found in a Markdown page.
type Snippet struct {
	Line   int // 1-based line of the page where it starts
	Text   string
	Inline bool // an inline code span, not a fenced block
}

var (
	fence      = regexp.MustCompile("^\\s*```\\s*([A-Za-z0-9_-]*)")
	inlineCode = regexp.MustCompile("`([^`\n]+)`")
	assignWord = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)\+?=`)
	shellName  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*`)
)

// shellKeywords start compound commands: an inline span beginning with one is prose about the
// shell ("`for VAR in`"), not a command to run.
var shellKeywords = map[string]bool{"for": true, "do": true, "done": true, "if": true, "then": true, "else": true, "fi": true, "while": true, "until": true, "case": true, "esac": true}

// shellFences are the info strings of fenced blocks that hold shell commands.
var shellFences = map[string]bool{"sh": true, "bash": true, "shell": true, "console": true}

// ShellSnippets returns a page's shell code in reading order: every fenced block marked sh, bash
// or shell, and every inline code span outside the blocks that is a command, because it starts
// with a NAME=value assignment or with a command that the page's blocks run (`curl …`,
// `kubectl …`). Inline spans that are not commands (`golang:$GO_VERSION`, a file name) are left
// out, so their `$` means nothing here.
func ShellSnippets(page string) ([]Snippet, error) {
	lines := strings.Split(page, "\n")
	var (
		out     []Snippet
		inline  []Snippet
		inBlock bool
		isShell bool
		start   int
		body    []string
	)
	for i, l := range lines {
		if m := fence.FindStringSubmatch(l); m != nil {
			if !inBlock {
				inBlock, isShell, start, body = true, shellFences[m[1]], i+2, nil
				continue
			}
			if isShell {
				out = append(out, Snippet{Line: start, Text: strings.Join(body, "\n") + "\n"})
			}
			inBlock = false
			continue
		}
		if inBlock {
			body = append(body, l)
			continue
		}
		for _, m := range inlineCode.FindAllStringSubmatch(l, -1) {
			inline = append(inline, Snippet{Line: i + 1, Text: m[1] + "\n", Inline: true})
		}
	}
	if inBlock {
		return nil, fmt.Errorf("a fenced block opened at line %d is never closed", start-1)
	}
	// The commands the blocks run decide which inline spans are commands too.
	commands := map[string]bool{}
	for _, s := range out {
		cmds, err := ParseShell(s.Text, s.Line)
		if err != nil {
			return nil, err
		}
		for _, c := range cmds {
			if n := c.commandName(); n != "" && !shellKeywords[n] {
				commands[n] = true
			}
		}
	}
	for _, s := range inline {
		cmds, err := ParseShell(s.Text, s.Line)
		if err != nil || len(cmds) == 0 {
			continue // not shell at all
		}
		first := cmds[0]
		if len(first.Words) > 0 && (assignWord.MatchString(first.Words[0].literalPrefix()) || commands[first.commandName()]) {
			out = append(out, s)
		}
	}
	// Reading order: by line.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].Line < out[j-1].Line; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out, nil
}

// Quoting of a word part: how the shell treats the text.
const (
	partLiteral = iota // single quotes, a backslash escape, or a quoted here-document: no expansion
	partPlain          // unquoted: expansions (word splitting is not modelled)
	partDouble         // double quotes, or an unquoted here-document: expansions
)

type wordPart struct {
	text  string
	quote int
}

// ShellWord is one word of a command as written, in parts by quoting.
type ShellWord struct{ parts []wordPart }

// literalPrefix is the word's first part when it is unquoted: an assignment is a word that
// starts NAME= outside quotes.
func (w ShellWord) literalPrefix() string {
	if len(w.parts) == 0 || w.parts[0].quote != partPlain {
		return ""
	}
	return w.parts[0].text
}

func (w ShellWord) quoted() bool {
	for _, p := range w.parts {
		if p.quote != partPlain {
			return true
		}
	}
	return false
}

func (w ShellWord) raw() string {
	var b strings.Builder
	for _, p := range w.parts {
		b.WriteString(p.text)
	}
	return b.String()
}

// ShellCommand is one simple command: its words, where its output goes and its here-document.
type ShellCommand struct {
	Line    int
	Words   []ShellWord
	Out     *ShellWord // target of > or >>
	Heredoc *ShellWord // body of << (one part)
}

// commandName is the first word that is not an assignment, as written.
func (c ShellCommand) commandName() string {
	for _, w := range c.Words {
		s := w.raw()
		if !assignWord.MatchString(s) {
			if s == "do" || s == "then" || s == "else" {
				continue
			}
			return s
		}
	}
	return ""
}

// ParseShell splits shell code into simple commands. line is the line number of its first line,
// for messages.
func ParseShell(src string, line int) ([]ShellCommand, error) {
	var (
		cmds     []ShellCommand
		cur      = ShellCommand{Line: line}
		w        *ShellWord
		redirect string
		pending  []struct {
			cmd    int
			delim  string
			quoted bool
			strip  bool
		}
	)
	add := func(text string, quote int) {
		if w == nil {
			w = &ShellWord{}
		}
		if n := len(w.parts); n > 0 && w.parts[n-1].quote == quote {
			w.parts[n-1].text += text
			return
		}
		w.parts = append(w.parts, wordPart{text, quote})
	}
	endWord := func() {
		if w == nil {
			return
		}
		switch redirect {
		case ">":
			cur.Out = w
		case "<<", "<<-":
			pending = append(pending, struct {
				cmd    int
				delim  string
				quoted bool
				strip  bool
			}{len(cmds), w.raw(), w.quoted(), redirect == "<<-"})
		case "<", "<<<", "fd":
		default:
			cur.Words = append(cur.Words, *w)
		}
		w, redirect = nil, ""
	}
	endCommand := func() {
		endWord()
		if len(cur.Words) > 0 || cur.Out != nil {
			cmds = append(cmds, cur)
		} else {
			// A here-document announced on a command with no words would attach to the next.
			for i := range pending {
				if pending[i].cmd == len(cmds) {
					pending[i].cmd = -1
				}
			}
		}
		cur = ShellCommand{Line: line}
	}
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '\\' && i+1 < len(src):
			if src[i+1] == '\n' {
				line++
			} else {
				add(src[i+1:i+2], partLiteral)
			}
			i++
		case c == ' ' || c == '\t':
			endWord()
		case c == '\n':
			endCommand()
			line++
			for _, p := range pending {
				var body strings.Builder
				for {
					if i+1 >= len(src) {
						return nil, fmt.Errorf("line %d: here-document %s is never closed", line, p.delim)
					}
					j := strings.IndexByte(src[i+1:], '\n')
					if j < 0 {
						j = len(src) - i - 1
					}
					l := src[i+1 : i+1+j]
					i += j + 1
					line++
					if p.strip {
						l = strings.TrimLeft(l, "\t")
					}
					if l == p.delim {
						break
					}
					body.WriteString(l + "\n")
				}
				q := partDouble
				if p.quoted {
					q = partLiteral
				}
				if p.cmd >= 0 {
					cmds[p.cmd].Heredoc = &ShellWord{parts: []wordPart{{body.String(), q}}}
				}
			}
			pending = nil
		case c == '#' && w == nil:
			for i+1 < len(src) && src[i+1] != '\n' {
				i++
			}
		case c == ';' || c == '&' || c == '|' || ((c == '(' || c == ')') && w == nil):
			if c == '&' && redirect == ">" { // >&2
				redirect = "fd"
				continue
			}
			endCommand()
			if i+1 < len(src) && src[i+1] == c {
				i++
			}
		case c == '>':
			if w != nil && strings.Trim(w.raw(), "0123456789") == "" {
				w = nil // a file descriptor: 2>
			}
			endWord()
			if i+1 < len(src) && src[i+1] == '>' {
				i++
			}
			redirect = ">"
			if i+1 < len(src) && src[i+1] == '&' {
				i++
				redirect = "fd"
			}
		case c == '<':
			endWord()
			switch {
			case strings.HasPrefix(src[i:], "<<<"):
				redirect, i = "<<<", i+2
			case strings.HasPrefix(src[i:], "<<-"):
				redirect, i = "<<-", i+2
			case strings.HasPrefix(src[i:], "<<"):
				redirect, i = "<<", i+1
			default:
				redirect = "<"
			}
		case c == '\'':
			j := strings.IndexByte(src[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("line %d: unterminated single quote", line)
			}
			add(src[i+1:i+1+j], partLiteral)
			line += strings.Count(src[i+1:i+1+j], "\n")
			i += j + 1
		case c == '"':
			if w == nil {
				w = &ShellWord{}
			}
			w.parts = append(w.parts, wordPart{"", partDouble})
			j := i + 1
			for ; j < len(src) && src[j] != '"'; j++ {
				switch {
				case src[j] == '\\' && j+1 < len(src) && strings.IndexByte("$`\"\\\n", src[j+1]) >= 0:
					if src[j+1] != '\n' {
						add(src[j+1:j+2], partLiteral)
					}
					j++
				case src[j] == '$' && j+1 < len(src) && src[j+1] == '(':
					k, err := matchClose(src, j+1)
					if err != nil {
						return nil, fmt.Errorf("line %d: %w", line, err)
					}
					add(src[j:k+1], partDouble)
					j = k
				default:
					add(src[j:j+1], partDouble)
				}
			}
			if j >= len(src) {
				return nil, fmt.Errorf("line %d: unterminated double quote", line)
			}
			line += strings.Count(src[i:j], "\n")
			i = j
		case c == '$' && i+1 < len(src) && (src[i+1] == '(' || src[i+1] == '{'):
			k, err := matchClose(src, i+1)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", line, err)
			}
			add(src[i:k+1], partPlain)
			line += strings.Count(src[i:k], "\n")
			i = k
		default:
			add(src[i:i+1], partPlain)
		}
	}
	endCommand()
	if len(pending) > 0 {
		return nil, fmt.Errorf("line %d: here-document %s is never closed", line, pending[0].delim)
	}
	return cmds, nil
}

// matchClose returns the index of the ) or } that closes the ( or { at open, skipping quoted text
// and nested pairs.
func matchClose(src string, open int) (int, error) {
	o := src[open]
	cl := byte(')')
	if o == '{' {
		cl = '}'
	}
	depth := 0
	for i := open; i < len(src); i++ {
		switch src[i] {
		case '\\':
			i++
		case '\'':
			if o == '(' {
				j := strings.IndexByte(src[i+1:], '\'')
				if j < 0 {
					return 0, fmt.Errorf("unterminated single quote in %s", src[open:])
				}
				i += j + 1
			}
		case o:
			depth++
		case cl:
			depth--
			if depth == 0 {
				return i, nil
			}
		}
	}
	return 0, fmt.Errorf("no closing %c for %s", cl, strings.SplitN(src[open-1:], "\n", 2)[0])
}

// expansion is one $… of an expandable text.
type expansion struct {
	start, end int    // text[start:end] is the whole expansion
	name       string // the variable, or "" for a command substitution or a special parameter
	guarded    bool   // ${NAME:-word} and friends: never silently empty
	word       string // the word of ${NAME:-word}
	command    string // the code of $(…)
}

func expansions(text string) ([]expansion, error) {
	var out []expansion
	for i := 0; i < len(text); i++ {
		if text[i] != '$' || i+1 >= len(text) {
			continue
		}
		switch n := text[i+1]; {
		case n == '(':
			k, err := matchClose(text, i+1)
			if err != nil {
				return nil, err
			}
			e := expansion{start: i, end: k + 1}
			if !strings.HasPrefix(text[i:], "$((") { // $((…)) is arithmetic
				e.command = text[i+2 : k]
			}
			out = append(out, e)
			i = k
		case n == '{':
			k, err := matchClose(text, i+1)
			if err != nil {
				return nil, err
			}
			inner := strings.TrimPrefix(text[i+2:k], "#")
			name := shellName.FindString(inner)
			rest := inner[len(name):]
			e := expansion{start: i, end: k + 1, name: name}
			for _, op := range []string{":-", ":=", ":?", ":+", "-", "=", "?", "+"} {
				if strings.HasPrefix(rest, op) && !strings.HasPrefix(text[i+2:], "#") {
					e.guarded, e.word = true, rest[len(op):]
					break
				}
			}
			out = append(out, e)
			i = k
		default:
			if name := shellName.FindString(text[i+1:]); name != "" {
				out = append(out, expansion{start: i, end: i + 1 + len(name), name: name})
				i += len(name)
			}
		}
	}
	return out, nil
}

// VarUse is a variable a command uses.
type VarUse struct {
	Name string
	Line int
}

// ShellVars walks commands in order and reports each variable use that nothing before it
// assigned: NAME=…, export NAME=…, for NAME in …, or `source FILE` / `. FILE` with FILE a key of
// sourced (whose value lists what the file sets). ${NAME:-word}, ${NAME:?msg} and the like are
// not reported: they are never silently empty. assigned carries over between calls, so a page's
// snippets are walked one after the other with the same map.
func ShellVars(cmds []ShellCommand, assigned map[string]bool, sourced map[string][]string) (unset []VarUse, problems []string) {
	var useText func(text string, line int)
	useText = func(text string, line int) {
		exps, err := expansions(text)
		if err != nil {
			problems = append(problems, fmt.Sprintf("line %d: %v", line, err))
			return
		}
		for _, e := range exps {
			switch {
			case e.command != "":
				sub, err := ParseShell(e.command, line)
				if err != nil {
					problems = append(problems, fmt.Sprintf("line %d: %v", line, err))
					continue
				}
				u, p := ShellVars(sub, assigned, sourced)
				unset, problems = append(unset, u...), append(problems, p...)
			case e.guarded:
				useText(e.word, line)
			case e.name != "" && !assigned[e.name]:
				unset = append(unset, VarUse{e.name, line})
			}
		}
	}
	useWord := func(w ShellWord, line int) {
		for _, p := range w.parts {
			if p.quote != partLiteral {
				useText(p.text, line)
			}
		}
	}
	for _, c := range cmds {
		cmdPos := true
		for i, w := range c.Words {
			s := w.raw()
			if m := assignWord.FindStringSubmatch(w.literalPrefix()); cmdPos && m != nil {
				useWord(w, c.Line)
				assigned[m[1]] = true
				continue
			}
			useWord(w, c.Line)
			switch {
			case cmdPos && (s == "export" || s == "readonly" || s == "local" || s == "declare" || s == "do" || s == "then" || s == "else"):
			case cmdPos && s == "for" && i+1 < len(c.Words):
				assigned[c.Words[i+1].raw()] = true
				cmdPos = false
			case cmdPos && (s == "source" || s == ".") && i+1 < len(c.Words):
				f := c.Words[i+1].raw()
				vars, ok := sourced[f]
				if !ok {
					problems = append(problems, fmt.Sprintf("line %d sources %s, and nothing says which variables that file sets", c.Line, f))
				}
				for _, v := range vars {
					assigned[v] = true
				}
				cmdPos = false
			default:
				cmdPos = false
			}
		}
		if c.Out != nil {
			useWord(*c.Out, c.Line)
		}
		if c.Heredoc != nil {
			useWord(*c.Heredoc, c.Line)
		}
	}
	return unset, problems
}

// RanCommand is a command as a ShellRun ran it: its words, output file and here-document
// expanded with the variables of the moment.
type RanCommand struct {
	Line    int
	Args    []string
	Out     string
	Heredoc string
}

// ShellRun follows a page's commands without running any: it keeps the variables they assign
// and expands every later command with them, running for loops over their words. A command
// substitution cannot be followed; a variable assigned from one gets the stand-in value
// "readme-<name>" (lower case), which is a valid image tag and a valid name.
type ShellRun struct {
	Vars map[string]string
	Ran  []RanCommand
}

// NewShellRun returns a run with no variables set.
func NewShellRun() *ShellRun { return &ShellRun{Vars: map[string]string{}} }

func (r *ShellRun) expandText(text string) (string, bool, error) {
	exps, err := expansions(text)
	if err != nil {
		return "", false, err
	}
	var b strings.Builder
	subst, last := false, 0
	for _, e := range exps {
		b.WriteString(text[last:e.start])
		last = e.end
		switch {
		case e.command != "":
			subst = true
		case e.guarded:
			if v := r.Vars[e.name]; v != "" {
				b.WriteString(v)
			} else {
				v, s, err := r.expandText(e.word)
				if err != nil {
					return "", false, err
				}
				b.WriteString(v)
				subst = subst || s
			}
		default:
			b.WriteString(r.Vars[e.name])
		}
	}
	b.WriteString(text[last:])
	return b.String(), subst, nil
}

func (r *ShellRun) expand(w ShellWord) (string, bool, error) {
	var b strings.Builder
	subst := false
	for _, p := range w.parts {
		if p.quote == partLiteral {
			b.WriteString(p.text)
			continue
		}
		s, sub, err := r.expandText(p.text)
		if err != nil {
			return "", false, err
		}
		b.WriteString(s)
		subst = subst || sub
	}
	return b.String(), subst, nil
}

// Run follows cmds (one snippet's commands) after those of earlier calls.
func (r *ShellRun) Run(cmds []ShellCommand) error {
	for i := 0; i < len(cmds); i++ {
		c := cmds[i]
		if len(c.Words) > 0 && c.Words[0].raw() == "do" {
			c.Words = c.Words[1:]
		}
		if len(c.Words) > 0 && c.Words[0].raw() == "for" {
			// for NAME in WORDS ; do BODY ; done
			if len(c.Words) < 3 || c.Words[2].raw() != "in" {
				return fmt.Errorf("line %d: a for loop this reader does not follow", c.Line)
			}
			name := c.Words[1].raw()
			var items []string
			for _, w := range c.Words[3:] {
				s, _, err := r.expand(w)
				if err != nil {
					return fmt.Errorf("line %d: %w", c.Line, err)
				}
				items = append(items, strings.Fields(s)...)
			}
			depth, end := 1, -1
			for j := i + 1; j < len(cmds) && end < 0; j++ {
				ws := cmds[j].Words
				if len(ws) > 0 && ws[0].raw() == "do" {
					ws = ws[1:]
				}
				switch {
				case len(ws) > 0 && ws[0].raw() == "for":
					depth++
				case len(ws) > 0 && ws[0].raw() == "done":
					if depth--; depth == 0 {
						end = j
					}
				}
			}
			if end < 0 {
				return fmt.Errorf("line %d: for loop without done", c.Line)
			}
			for _, it := range items {
				r.Vars[name] = it
				if err := r.Run(cmds[i+1 : end]); err != nil {
					return err
				}
			}
			i = end
			continue
		}
		if len(c.Words) == 0 && c.Out == nil {
			continue
		}
		ran := RanCommand{Line: c.Line}
		cmdPos := true
		for _, w := range c.Words {
			s, subst, err := r.expand(w)
			if err != nil {
				return fmt.Errorf("line %d: %w", c.Line, err)
			}
			if m := assignWord.FindStringSubmatch(w.literalPrefix()); cmdPos && m != nil {
				v := strings.TrimPrefix(s, m[0])
				if subst {
					v = "readme-" + strings.ToLower(m[1])
				}
				r.Vars[m[1]] = v
				continue
			}
			if s != "export" {
				cmdPos = false
			}
			ran.Args = append(ran.Args, s)
		}
		if c.Out != nil {
			s, _, err := r.expand(*c.Out)
			if err != nil {
				return fmt.Errorf("line %d: %w", c.Line, err)
			}
			ran.Out = s
		}
		if c.Heredoc != nil {
			s, _, err := r.expand(*c.Heredoc)
			if err != nil {
				return fmt.Errorf("line %d: %w", c.Line, err)
			}
			ran.Heredoc = s
		}
		if len(ran.Args) > 0 {
			r.Ran = append(r.Ran, ran)
		}
	}
	return nil
}
