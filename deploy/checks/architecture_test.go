package checks

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestArchitectureNamesExist keeps docs/ARCHITECTURE.md true where that is cheap to check:
// every repository path, Go name (pkg.Name, pkg.Type.Method), flag (--name) and NEWSFLOW_*
// variable it quotes in backticks must exist in the tree, so a rename or a move fails here with
// the line of the document to fix instead of leaving the document wrong. It also makes sure no
// file cites a design document that is not in the repository, and that README.md links the
// architecture document.
func TestArchitectureNamesExist(t *testing.T) {
	r := root(t)
	idx, err := indexGoDecls(r)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(readFile(t, "docs", "ARCHITECTURE.md"))
	problems, checked := docNameProblems(r, "docs/ARCHITECTURE.md", doc, idx)
	for _, p := range problems {
		t.Error(p)
	}
	t.Logf("docs/ARCHITECTURE.md: checked %v", checked)
	if checked["path"] < 20 || checked["go"] < 50 {
		t.Errorf("only %v names checked: has the document's way of quoting names changed?", checked)
	}
	for _, p := range missingDesignCitations(t, r) {
		t.Error(p)
	}
	if !strings.Contains(string(readFile(t, "README.md")), "docs/ARCHITECTURE.md") {
		t.Error("README.md does not mention docs/ARCHITECTURE.md")
	}
}

// TestArchitectureCheckCatchesBadNames: the check above reports a path, a Go name, a method, a
// flag and a variable that do not exist, and accepts ones that do, so it cannot pass by
// checking nothing.
func TestArchitectureCheckCatchesBadNames(t *testing.T) {
	r := root(t)
	idx, err := indexGoDecls(r)
	if err != nil {
		t.Fatal(err)
	}
	good := "`pkg/kafkax/consumer.go`, `kafkax.DeadLetter`, `admin.Server.Start`, `sink.Engine.EnsureIndex`, " +
		"`metrics.NewStage(reg, \"x\")`, `--monthly-from`, `NEWSFLOW_ADMIN_ADDR`, `articles.raw`, `title.keyword`\n" +
		"```\n`pkg/not/in/a/fence.go`\n```\n"
	if got, _ := docNameProblems(r, "good.md", good, idx); len(got) != 0 {
		t.Errorf("names that exist were reported: %q", got)
	}
	bad := map[string]string{
		"`pkg/kafkax/nosuch.go`":       "good.md:1: `pkg/kafkax/nosuch.go`: no such file or directory in the repository",
		"`kafkax.NoSuchFunc`":          "good.md:1: `kafkax.NoSuchFunc`: package kafkax (pkg/kafkax) declares no NoSuchFunc",
		"`admin.Server.NoSuchMethod`":  "good.md:1: `admin.Server.NoSuchMethod`: package admin (pkg/admin) declares no Server.NoSuchMethod",
		"`nosuchpkg.Func`":             "good.md:1: `nosuchpkg.Func`: no Go package nosuchpkg in the repository",
		"`--no-such-flag`":             "good.md:1: `--no-such-flag`: no Go file under pkg/ or services/ defines the flag \"no-such-flag\"",
		"`NEWSFLOW_NO_SUCH_VARIABLE`":  "good.md:1: `NEWSFLOW_NO_SUCH_VARIABLE`: no file under pkg/, services/ or deploy/ names it",
		"`services/index/internal/nx`": "good.md:1: `services/index/internal/nx`: no such file or directory in the repository",
		"`metrics.NoSuch(reg, \"x\")`": "good.md:1: `metrics.NoSuch`: package metrics (pkg/metrics) declares no NoSuch",
	}
	for span, want := range bad {
		got, _ := docNameProblems(r, "good.md", span+"\n", idx)
		if len(got) != 1 || got[0] != want {
			t.Errorf("%s: got %q, want [%q]", span, got, want)
		}
	}
}

// goPackage is what one package directory declares: top-level names and "Type.Member" for the
// methods, struct fields and interface methods of its types.
type goPackage struct {
	dir   string // relative to the repository root
	names map[string]bool
}

// indexGoDecls parses the non-test Go files under pkg/, services/ and deploy/ and returns their
// declarations by package name (several directories can share one, e.g. app).
func indexGoDecls(root string) (map[string][]*goPackage, error) {
	byDir := map[string]*goPackage{}
	pkgOf := map[string]string{}
	fset := token.NewFileSet()
	for _, top := range []string{"pkg", "services", "deploy"} {
		err := filepath.WalkDir(filepath.Join(root, top), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
			if err != nil {
				return fmt.Errorf("parsing %s: %w", p, err)
			}
			rel, _ := filepath.Rel(root, filepath.Dir(p))
			rel = filepath.ToSlash(rel)
			gp := byDir[rel]
			if gp == nil {
				gp = &goPackage{dir: rel, names: map[string]bool{}}
				byDir[rel] = gp
			}
			pkgOf[rel] = f.Name.Name
			addDecls(gp.names, f)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	out := map[string][]*goPackage{}
	for dir, gp := range byDir {
		if name := pkgOf[dir]; name != "main" {
			out[name] = append(out[name], gp)
		}
	}
	return out, nil
}

func addDecls(names map[string]bool, f *ast.File) {
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Recv == nil || len(d.Recv.List) == 0 {
				names[d.Name.Name] = true
				continue
			}
			if recv := recvName(d.Recv.List[0].Type); recv != "" {
				names[recv+"."+d.Name.Name] = true
			}
		case *ast.GenDecl:
			for _, s := range d.Specs {
				switch s := s.(type) {
				case *ast.ValueSpec:
					for _, n := range s.Names {
						names[n.Name] = true
					}
				case *ast.TypeSpec:
					names[s.Name.Name] = true
					var fields *ast.FieldList
					switch tt := s.Type.(type) {
					case *ast.StructType:
						fields = tt.Fields
					case *ast.InterfaceType:
						fields = tt.Methods
					}
					if fields == nil {
						continue
					}
					for _, fl := range fields.List {
						for _, n := range fl.Names {
							names[s.Name.Name+"."+n.Name] = true
						}
						if len(fl.Names) == 0 { // embedded: its name is the member's
							if n := recvName(fl.Type); n != "" {
								names[s.Name.Name+"."+n] = true
							}
						}
					}
				}
			}
		}
	}
}

// recvName is the type name of a receiver or embedded field: T, *T, T[P], pkg.T.
func recvName(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.StarExpr:
		return recvName(e.X)
	case *ast.IndexExpr:
		return recvName(e.X)
	case *ast.IndexListExpr:
		return recvName(e.X)
	case *ast.SelectorExpr:
		return e.Sel.Name
	}
	return ""
}

var (
	codeSpanRE = regexp.MustCompile("`([^`\n]+)`")
	callRE     = regexp.MustCompile(`^([A-Za-z_][\w.]*)\(.*\)$`)
	goNameRE   = regexp.MustCompile(`^([a-z][a-z0-9]*)\.([A-Za-z_]\w*)(?:\.([A-Za-z_]\w*))?$`)
	flagRE     = regexp.MustCompile(`^--([a-z][a-z0-9-]*)$`)
	envRefRE   = regexp.MustCompile(`^NEWSFLOW_[A-Z0-9_]+$`)
	pathRE     = regexp.MustCompile(`^[A-Za-z0-9_.\-/]+$`)
	fileExtRE  = regexp.MustCompile(`\.(go|md|ya?ml|json|sh|mod|env|txt)$`)
)

// externalPackages are packages of other modules a document may name (kafka.Hash); their names
// are not checked.
var externalPackages = map[string]bool{"kafka": true, "prometheus": true, "http": true, "slog": true, "errgroup": true}

// builtinFlags are flags the flag package defines.
var builtinFlags = map[string]bool{"help": true}

// docNameProblems checks every backticked name of doc (called name in messages) outside fenced
// code blocks against the tree at root and the Go declarations idx, and returns one line per
// name that does not exist, and how many names of each kind it checked.
func docNameProblems(root, name, doc string, idx map[string][]*goPackage) (problems []string, checked map[string]int) {
	checked = map[string]int{}
	var corpus *fileCorpus
	tops := map[string]bool{}
	if entries, err := os.ReadDir(root); err == nil {
		for _, e := range entries {
			tops[e.Name()] = true
		}
	}
	fenced := false
	for i, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if fenced {
			continue
		}
		for _, m := range codeSpanRE.FindAllStringSubmatch(line, -1) {
			span := strings.TrimSpace(m[1])
			if c := callRE.FindStringSubmatch(span); c != nil {
				span = c[1]
			}
			report := func(format string, args ...any) {
				problems = append(problems, fmt.Sprintf("%s:%d: `%s`: %s", name, i+1, span, fmt.Sprintf(format, args...)))
			}
			switch {
			case envRefRE.MatchString(span):
				checked["env"]++
				if corpus == nil {
					corpus = readCorpus(root)
				}
				if !corpus.contains(span) {
					report("no file under pkg/, services/ or deploy/ names it")
				}
			case flagRE.MatchString(span):
				flag := flagRE.FindStringSubmatch(span)[1]
				checked["flag"]++
				if corpus == nil {
					corpus = readCorpus(root)
				}
				if !builtinFlags[flag] && !corpus.containsGo(`"`+flag+`"`) {
					report("no Go file under pkg/ or services/ defines the flag %q", flag)
				}
			case pathRE.MatchString(span) && strings.Contains(span, "/") && !strings.HasPrefix(span, "/") && !strings.HasPrefix(span, "."):
				p := strings.TrimSuffix(span, "/")
				first := strings.SplitN(p, "/", 2)[0]
				if !tops[first] && !fileExtRE.MatchString(p) {
					continue // text/plain, application/json: not a repository path
				}
				checked["path"]++
				if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(p))); err != nil {
					report("no such file or directory in the repository")
				}
			case goNameRE.MatchString(span) && !fileExtRE.MatchString(span):
				g := goNameRE.FindStringSubmatch(span)
				pkg, member := g[1], g[2]
				if g[3] != "" {
					member += "." + g[3]
				}
				dirs := idx[pkg]
				if len(dirs) == 0 {
					// articles.raw, title.keyword: names that are not Go. An exported name after
					// an unknown package is Go whose package is gone (or a typo).
					if !externalPackages[pkg] && g[2][0] >= 'A' && g[2][0] <= 'Z' {
						report("no Go package %s in the repository", pkg)
					}
					continue
				}
				checked["go"]++
				found := false
				var where []string
				for _, d := range dirs {
					found = found || d.names[member]
					where = append(where, d.dir)
				}
				if !found {
					report("package %s (%s) declares no %s", pkg, strings.Join(where, ", "), member)
				}
			}
		}
	}
	return problems, checked
}

// fileCorpus is the text of the files names are looked up in.
type fileCorpus struct {
	goText  strings.Builder // non-test Go files under pkg/ and services/
	allText strings.Builder // every non-test file under pkg/, services/ and deploy/
}

func (c *fileCorpus) contains(s string) bool   { return strings.Contains(c.allText.String(), s) }
func (c *fileCorpus) containsGo(s string) bool { return strings.Contains(c.goText.String(), s) }

func readCorpus(root string) *fileCorpus {
	c := &fileCorpus{}
	for _, top := range []string{"pkg", "services", "deploy"} {
		_ = filepath.WalkDir(filepath.Join(root, top), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if d.IsDir() {
				if strings.HasPrefix(d.Name(), ".") {
					return filepath.SkipDir
				}
				return nil
			}
			info, err := d.Info()
			if err != nil || info.Size() > 1<<20 || strings.HasSuffix(p, ".gz") || strings.HasSuffix(p, ".bin") {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return nil
			}
			if strings.HasSuffix(p, "_test.go") {
				return nil // what the code and deployment files use, not what tests mention
			}
			c.allText.Write(b)
			if top != "deploy" && strings.HasSuffix(p, ".go") {
				c.goText.Write(b)
			}
			return nil
		})
	}
	return c
}

// missingDesignCitations lists the lines of Go and Markdown files that cite a design document
// by a name the repository does not hold (the old design notes lived outside it): the design is
// docs/ARCHITECTURE.md.
func missingDesignCitations(t *testing.T, root string) []string {
	t.Helper()
	design := "DESIGN" + ".md" // spelled apart so that this file does not cite it
	for _, p := range []string{design, filepath.Join("docs", design)} {
		if _, err := os.Stat(filepath.Join(root, p)); err == nil {
			return nil
		}
	}
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "bin" || d.Name() == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, ".md") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		for i, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, design) {
				out = append(out, fmt.Sprintf("%s:%d cites %s, which is not in the repository: cite docs/ARCHITECTURE.md", filepath.ToSlash(rel), i+1, design))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
