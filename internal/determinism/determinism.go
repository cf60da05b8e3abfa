// Package determinism checks that protocol and node code keeps distsync's
// determinism rules (DESIGN.md, "Determinism rules" and "The node
// contract"): no wall clock, no goroutines, no select, no sync, os or net,
// no global random source, and no map iteration order that could reach an
// output.
//
// It works on the source, not on text: every file is parsed with go/parser,
// so an aliased import (import t "time"; t.Now()) or a method value
// (f := time.Now) is caught, and a comment or a string that merely mentions
// time.Now is not. Packages are also type-checked with go/types from source,
// which is what finds a range over a map whose type is not written at the
// loop.
//
// A test of this package runs Check over the repository's protocols/ and
// nodes/ directories, so a violation fails go test.
package determinism

import (
	"bufio"
	"errors"
	"fmt"
	"go/ast"
	"go/build"
	"go/parser"
	"go/scanner"
	"go/token"
	"go/types"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// Rule names the determinism rule a Finding breaks.
type Rule string

const (
	// RuleWallClock is a reference to a time function that reads the wall
	// clock or waits on it (time.Now, time.Since, time.Until, time.Sleep,
	// time.After, time.AfterFunc, time.Tick, time.NewTimer, time.NewTicker).
	// Node code uses Env.Now and Env.SetTimer instead.
	RuleWallClock Rule = "wall-clock"
	// RuleGoroutine is a go statement. Node handlers run on one thread.
	RuleGoroutine Rule = "goroutine"
	// RuleSelect is a select statement, whose choice among ready cases is
	// random.
	RuleSelect Rule = "select"
	// RuleChannel is a channel type, send or receive: channels exist to
	// hand values between goroutines, and node code has only one.
	RuleChannel Rule = "channel"
	// RuleImport is an import of a package that node code must not use:
	// sync, os, net, syscall, unsafe, math/rand (v1) and the others listed
	// by ForbiddenImport.
	RuleImport Rule = "import"
	// RuleGlobalRand is a use of a math/rand/v2 package-level function
	// that draws from the global, randomly seeded source (rand.IntN,
	// rand.Shuffle, rand.N...). Node code draws from Env.Rand.
	RuleGlobalRand Rule = "global-rand"
	// RuleMapOrder is a range over a map, or a call of maps.Keys,
	// maps.Values or maps.All outside slices.Sorted, without a
	// //det:ordered comment saying why the iteration order cannot reach an
	// output.
	RuleMapOrder Rule = "map-order"
	// RuleDirective is a //det:ordered comment that gives no reason.
	RuleDirective Rule = "directive"
	// RuleTypeCheck reports a package or file the checker could not fully
	// analyze (a syntax or type error), so map-order findings in it may be
	// missing. Code that does not compile cannot be shown deterministic.
	RuleTypeCheck Rule = "typecheck"
)

// OrderedDirective is the comment that marks a map iteration whose order
// cannot reach an output. It goes on the line of the for statement (or of
// the maps.Keys call) or in the comment block just above it, followed by the
// reason:
//
//	//det:ordered the keys are sorted before use
//	for k := range m {
const OrderedDirective = "//det:ordered"

// Finding is one violation of a determinism rule.
type Finding struct {
	// Pos is where the violation is. Its Filename is relative to the root
	// passed to Check, with forward slashes.
	Pos token.Position
	// Rule is the rule broken.
	Rule Rule
	// Message says what was found and what to use instead.
	Message string
}

// String renders the finding as file:line:col: rule: message, the form
// editors and CI logs link to.
func (f Finding) String() string {
	return fmt.Sprintf("%s: %s: %s", f.Pos, f.Rule, f.Message)
}

// Check analyzes the Go packages under each of dirs (relative to root, or
// absolute), recursively, and returns every finding, sorted by file, line,
// column and rule.
//
// Test files (_test.go) are skipped, and so are directories the go command
// ignores (testdata, vendor, names starting with '.' or '_'). exempt, if not
// nil, is called with the slash-separated path, relative to root, of every
// directory and file visited: returning true for a directory skips it and
// everything below it (use it to skip nodes/runtime, the one place that may
// use the real clock and sockets); returning true for a file suppresses its
// findings (it is still type-checked with its package).
//
// Each package is type-checked from source (its imports too, function
// bodies skipped), for the current GOOS and GOARCH with cgo off. A file
// that build constraints exclude there still gets every syntactic rule,
// but not map-order, which needs types.
//
// root should hold the module's go.mod: imports of the module's own
// packages are resolved against it. The error result reports only a
// problem reaching the files (a missing directory, say); code that does not
// parse or type-check is reported as a RuleTypeCheck finding.
func Check(root string, dirs []string, exempt func(path string) bool) ([]Finding, error) {
	absRoot, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("determinism: root %s: %w", root, err)
	}
	modPath, err := readModulePath(filepath.Join(absRoot, "go.mod"))
	if err != nil {
		return nil, fmt.Errorf("determinism: %w", err)
	}
	c := &checker{
		root:    absRoot,
		modPath: modPath,
		fset:    token.NewFileSet(),
		exempt:  exempt,
		seen:    map[string]bool{},
	}
	c.ctx = buildContext(absRoot)
	c.imp = newSourceImporter(&c.ctx, c.fset, absRoot, modPath)

	for _, d := range dirs {
		dir := d
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(absRoot, dir)
		}
		dir = filepath.Clean(dir)
		info, err := os.Stat(dir)
		if err != nil {
			return nil, fmt.Errorf("determinism: %w", err)
		}
		if !info.IsDir() {
			return nil, fmt.Errorf("determinism: %s is not a directory", dir)
		}
		err = filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !de.IsDir() {
				return nil
			}
			if p != dir && ignoredName(de.Name()) {
				return filepath.SkipDir
			}
			if c.isExempt(p) {
				return filepath.SkipDir
			}
			return c.checkDir(p)
		})
		if err != nil {
			return nil, fmt.Errorf("determinism: %w", err)
		}
	}
	slices.SortFunc(c.findings, compareFindings)
	return c.findings, nil
}

func compareFindings(a, b Finding) int {
	if c := strings.Compare(a.Pos.Filename, b.Pos.Filename); c != 0 {
		return c
	}
	if a.Pos.Line != b.Pos.Line {
		return a.Pos.Line - b.Pos.Line
	}
	if a.Pos.Column != b.Pos.Column {
		return a.Pos.Column - b.Pos.Column
	}
	if c := strings.Compare(string(a.Rule), string(b.Rule)); c != 0 {
		return c
	}
	return strings.Compare(a.Message, b.Message)
}

// ignoredName reports whether the go command ignores a directory or file of
// this name.
func ignoredName(name string) bool {
	return name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")
}

// readModulePath returns the module path declared by a go.mod file, or ""
// if there is no such file.
func readModulePath(goMod string) (string, error) {
	f, err := os.Open(goMod)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "module"); ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t') {
			mod := strings.TrimSpace(rest)
			if i := strings.Index(mod, "//"); i >= 0 {
				mod = strings.TrimSpace(mod[:i])
			}
			return strings.Trim(mod, `"`), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("%s: %w", goMod, err)
	}
	return "", fmt.Errorf("%s: no module line", goMod)
}

// buildContext returns the go/build context used to select files and
// resolve imports: the default one with cgo off, so that packages with a
// pure-Go fallback (net, os/user) type-check without running cgo.
func buildContext(root string) build.Context {
	ctx := build.Default
	ctx.CgoEnabled = false
	ctx.Dir = root
	if ctx.GOROOT == "" {
		ctx.GOROOT = goroot()
	}
	return ctx
}

// checker holds the state of one Check call.
type checker struct {
	root     string
	modPath  string
	fset     *token.FileSet
	ctx      build.Context
	imp      *sourceImporter
	exempt   func(path string) bool
	seen     map[string]bool // directories already checked
	findings []Finding
}

// rel returns p relative to the root, slash-separated.
func (c *checker) rel(p string) string {
	r, err := filepath.Rel(c.root, p)
	if err != nil {
		return filepath.ToSlash(p)
	}
	return filepath.ToSlash(r)
}

func (c *checker) isExempt(p string) bool {
	return c.exempt != nil && c.exempt(c.rel(p))
}

func (c *checker) report(pos token.Pos, rule Rule, format string, args ...any) {
	position := c.fset.Position(pos)
	position.Filename = c.rel(position.Filename)
	c.findings = append(c.findings, Finding{Pos: position, Rule: rule, Message: fmt.Sprintf(format, args...)})
}

// importPath returns the import path of the package in dir.
func (c *checker) importPath(dir string) string {
	rel := c.rel(dir)
	switch {
	case c.modPath == "":
		return rel
	case rel == ".":
		return c.modPath
	default:
		return path.Join(c.modPath, rel)
	}
}

// checkDir analyzes the package in one directory (not its subdirectories).
func (c *checker) checkDir(dir string) error {
	if c.seen[dir] {
		return nil
	}
	c.seen[dir] = true
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	byName := map[string]*ast.File{}
	var names []string // sorted, as ReadDir returns them
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") || ignoredName(name) {
			continue
		}
		filename := filepath.Join(dir, name)
		f, err := parser.ParseFile(c.fset, filename, nil, parser.ParseComments)
		if err != nil {
			var list scanner.ErrorList
			if errors.As(err, &list) && len(list) > 0 {
				position := list[0].Pos
				position.Filename = c.rel(position.Filename)
				c.findings = append(c.findings, Finding{Pos: position, Rule: RuleTypeCheck, Message: "cannot parse: " + list[0].Msg})
			} else {
				c.findings = append(c.findings, Finding{Pos: token.Position{Filename: c.rel(filename)}, Rule: RuleTypeCheck, Message: "cannot parse: " + err.Error()})
			}
			continue
		}
		byName[name] = f
		names = append(names, name)
	}
	if len(names) == 0 {
		return nil
	}

	info := c.typeCheck(dir, byName)
	for _, name := range names {
		filename := filepath.Join(dir, name)
		if c.isExempt(filename) {
			continue
		}
		f := byName[name]
		fi := info
		if fi != nil && !fi.files[f] {
			fi = nil // excluded by build constraints: syntactic checks only
		}
		c.checkFile(f, fi)
	}
	return nil
}

// typedInfo is the type information of one package, and the files it
// covers.
type typedInfo struct {
	*types.Info
	files map[*ast.File]bool
}

// typeCheck type-checks the files of dir that the build context selects. It
// reports a RuleTypeCheck finding if that fails, and returns what it could
// learn (nil if nothing).
func (c *checker) typeCheck(dir string, parsed map[string]*ast.File) *typedInfo {
	bp, err := c.ctx.ImportDir(dir, 0)
	if err != nil {
		var noGo *build.NoGoError
		if errors.As(err, &noGo) {
			return nil // every file is excluded by build constraints
		}
		c.findings = append(c.findings, Finding{Pos: token.Position{Filename: c.rel(dir)}, Rule: RuleTypeCheck, Message: "cannot select the package's files: " + err.Error()})
		return nil
	}
	var files []*ast.File
	for _, name := range bp.GoFiles {
		if f, ok := parsed[name]; ok {
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		return nil
	}
	info := &typedInfo{
		Info: &types.Info{
			Types: map[ast.Expr]types.TypeAndValue{},
			Uses:  map[*ast.Ident]types.Object{},
		},
		files: map[*ast.File]bool{},
	}
	for _, f := range files {
		info.files[f] = true
	}
	var firstErr *types.Error
	conf := types.Config{
		Importer: c.imp,
		Sizes:    c.imp.sizes,
		Error: func(err error) {
			if te, ok := err.(types.Error); ok && !te.Soft && firstErr == nil {
				firstErr = &te
			}
		},
	}
	_, _ = conf.Check(c.importPath(dir), c.fset, files, info.Info)
	if firstErr != nil {
		c.report(firstErr.Pos, RuleTypeCheck, "package does not type-check, map-order findings may be missing: %s", firstErr.Msg)
	}
	return info
}
