package determinism

import (
	"go/ast"
	"go/token"
	"go/types"
	"strconv"
	"strings"
)

// wallClockFuncs are the functions of package time that read the wall clock
// or wait on it.
var wallClockFuncs = map[string]string{
	"Now":       "Env.Now",
	"Since":     "Env.Now and Time.Sub",
	"Until":     "Env.Now and Time.Sub",
	"Sleep":     "Env.SetTimer",
	"After":     "Env.SetTimer",
	"AfterFunc": "Env.SetTimer",
	"Tick":      "Env.SetTimer",
	"NewTimer":  "Env.SetTimer",
	"NewTicker": "Env.SetTimer",
}

// randAllowed are the names of math/rand/v2 that do not touch the global
// source: the constructors and types of explicit generators.
var randAllowed = map[string]bool{
	"New": true, "NewPCG": true, "NewChaCha8": true, "NewZipf": true,
	"Rand": true, "PCG": true, "ChaCha8": true, "Source": true, "Zipf": true,
}

// unorderedMapFuncs are the functions of package maps whose iterators yield
// in map order; sortingFuncs are the functions of package slices that make
// such an iterator's order irrelevant.
var (
	unorderedMapFuncs = map[string]bool{"Keys": true, "Values": true, "All": true}
	sortingFuncs      = map[string]bool{"Sorted": true, "SortedFunc": true, "SortedStableFunc": true}
)

// forbiddenImports lists the packages node code must not import. A subtree
// entry also forbids every package below it ("net" forbids "net/http").
var forbiddenImports = []struct {
	path    string
	subtree bool
	why     string
}{
	{"os", true, "touches files, processes and the environment; use Env.Disk"},
	{"net", true, "touches sockets; use Env.Send"},
	{"sync", true, "handlers never run concurrently, so locks and atomics only hide a goroutine"},
	{"syscall", true, "talks to the operating system"},
	{"golang.org/x/sys", true, "talks to the operating system"},
	{"unsafe", false, "can read memory addresses, which differ from run to run"},
	{"math/rand", false, "math/rand (v1) has a randomly seeded global source; use Env.Rand"},
	{"crypto/rand", false, "reads the operating system's entropy; use Env.Rand"},
	{"hash/maphash", false, "its seeds are random per process"},
	{"io/ioutil", false, "reads and writes files; use Env.Disk"},
	{"log", true, "writes to stderr with wall-clock timestamps; use Env.Logf"},
	{"runtime", true, "exposes the scheduler, the GC and goroutines, which differ from run to run"},
	{"context", false, "deadlines and cancellation run on the wall clock and other goroutines; use Env.SetTimer"},
	{"plugin", false, "loads code from files"},
}

// ForbiddenImport reports whether node code may not import the package
// path, and why.
func ForbiddenImport(path string) (why string, forbidden bool) {
	for _, f := range forbiddenImports {
		if path == f.path || f.subtree && strings.HasPrefix(path, f.path+"/") {
			return f.why, true
		}
	}
	return "", false
}

// watchedPackages are the packages whose selectors the rules look at, so
// the file's local names for them are tracked.
var watchedPackages = map[string]bool{"time": true, "math/rand/v2": true, "maps": true, "slices": true}

// fileChecker applies the rules to one file.
type fileChecker struct {
	c    *checker
	info *typedInfo // nil if the file was not type-checked
	// names maps a local import name to the path of a watched package.
	names map[string]string
	// directiveLines holds the lines with a //det:ordered comment;
	// directiveAbove the last lines of comment blocks holding one.
	directiveLines, directiveAbove map[int]bool
	// sortedArgs are maps.Keys-like selectors whose call is the argument
	// of slices.Sorted, so their order does not matter.
	sortedArgs map[*ast.SelectorExpr]bool
}

// checkFile applies every rule to f. info is nil when f was not
// type-checked (it is excluded by build constraints); the map-range rule is
// then skipped and imports are resolved by name.
func (c *checker) checkFile(f *ast.File, info *typedInfo) {
	fc := &fileChecker{
		c:              c,
		info:           info,
		names:          map[string]string{},
		directiveLines: map[int]bool{},
		directiveAbove: map[int]bool{},
		sortedArgs:     map[*ast.SelectorExpr]bool{},
	}
	fc.imports(f)
	fc.directives(f)
	ast.Inspect(f, fc.visit)
}

// imports applies the import rule and records the local names of watched
// packages.
func (fc *fileChecker) imports(f *ast.File) {
	for _, spec := range f.Imports {
		p, err := strconv.Unquote(spec.Path.Value)
		if err != nil {
			continue // the parser already refused it
		}
		if why, bad := ForbiddenImport(p); bad {
			fc.c.report(spec.Path.Pos(), RuleImport, "import of %q: %s", p, why)
		}
		if !watchedPackages[p] {
			continue
		}
		name := defaultName(p)
		if spec.Name != nil {
			name = spec.Name.Name
		}
		switch name {
		case "_":
		case ".":
			fc.c.report(spec.Pos(), RuleImport, "dot import of %q hides which of its functions are called; import it by name", p)
		default:
			fc.names[name] = p
		}
	}
}

// defaultName is the name a package is imported under without an explicit
// one, for the watched packages: the last path element, skipping a major
// version suffix ("math/rand/v2" is rand).
func defaultName(p string) string {
	elems := strings.Split(p, "/")
	last := elems[len(elems)-1]
	if len(elems) > 1 && len(last) > 1 && last[0] == 'v' && strings.Trim(last[1:], "0123456789") == "" {
		return elems[len(elems)-2]
	}
	return last
}

// directives records where //det:ordered comments are, and reports those
// without a reason.
func (fc *fileChecker) directives(f *ast.File) {
	fset := fc.c.fset
	for _, group := range f.Comments {
		found := false
		for _, cm := range group.List {
			rest, ok := strings.CutPrefix(cm.Text, OrderedDirective)
			if !ok || rest != "" && rest[0] != ' ' && rest[0] != '\t' {
				continue
			}
			found = true
			fc.directiveLines[fset.Position(cm.Pos()).Line] = true
			if strings.TrimSpace(rest) == "" {
				fc.c.report(cm.Pos(), RuleDirective, "%s must say why the iteration order cannot reach an output", OrderedDirective)
			}
		}
		if found {
			fc.directiveAbove[fset.Position(group.End()).Line] = true
		}
	}
}

// ordered reports whether the statement or call at pos carries a
// //det:ordered comment, on its line or in the comment block ending just
// above it.
func (fc *fileChecker) ordered(pos token.Pos) bool {
	line := fc.c.fset.Position(pos).Line
	return fc.directiveLines[line] || fc.directiveAbove[line-1]
}

// pkgOf returns the import path of the package x names, or "" if x does
// not name a watched package.
func (fc *fileChecker) pkgOf(x ast.Expr) string {
	id, ok := x.(*ast.Ident)
	if !ok {
		return ""
	}
	if fc.info != nil {
		switch obj := fc.info.Uses[id].(type) {
		case *types.PkgName:
			return obj.Imported().Path()
		case nil:
			// Not recorded (type-checking stopped short): fall back to
			// names.
		default:
			return "" // a variable or type that happens to share the name
		}
	}
	if id.Obj != nil {
		return "" // declared in this file, so it shadows any import
	}
	return fc.names[id.Name]
}

// calledSelector returns the selector a call's function expression is,
// looking through parentheses and explicit instantiation (maps.Keys[M]).
func calledSelector(fun ast.Expr) *ast.SelectorExpr {
	for {
		switch e := fun.(type) {
		case *ast.ParenExpr:
			fun = e.X
		case *ast.IndexExpr:
			fun = e.X
		case *ast.IndexListExpr:
			fun = e.X
		case *ast.SelectorExpr:
			return e
		default:
			return nil
		}
	}
}

func (fc *fileChecker) visit(n ast.Node) bool {
	switch n := n.(type) {
	case *ast.GoStmt:
		fc.c.report(n.Go, RuleGoroutine, "go statement: node code runs on one thread; use Env.SetTimer or Env.Send to do work later")
	case *ast.SelectStmt:
		fc.c.report(n.Select, RuleSelect, "select statement: its choice among ready cases is random, and node code has no channels")
	case *ast.ChanType:
		fc.c.report(n.Begin, RuleChannel, "channel type: node code has one thread and talks through Env.Send, not channels")
	case *ast.SendStmt:
		fc.c.report(n.Arrow, RuleChannel, "channel send: node code talks through Env.Send, not channels")
	case *ast.UnaryExpr:
		if n.Op == token.ARROW {
			fc.c.report(n.OpPos, RuleChannel, "channel receive: node code is handed its events, it never waits for one")
		}
	case *ast.CallExpr:
		fc.markSorted(n)
	case *ast.SelectorExpr:
		fc.selector(n)
	case *ast.RangeStmt:
		fc.rangeStmt(n)
	}
	return true
}

// markSorted remembers maps.Keys/Values/All calls that are the direct
// argument of slices.Sorted (or SortedFunc, SortedStableFunc).
func (fc *fileChecker) markSorted(call *ast.CallExpr) {
	outer := calledSelector(call.Fun)
	if outer == nil || len(call.Args) == 0 || fc.pkgOf(outer.X) != "slices" || !sortingFuncs[outer.Sel.Name] {
		return
	}
	arg, ok := ast.Unparen(call.Args[0]).(*ast.CallExpr)
	if !ok {
		return
	}
	if inner := calledSelector(arg.Fun); inner != nil && fc.pkgOf(inner.X) == "maps" {
		fc.sortedArgs[inner] = true
	}
}

// selector applies the rules about package-level functions: wall-clock
// time, the global random source, and map-ordered iterators.
func (fc *fileChecker) selector(sel *ast.SelectorExpr) {
	name := sel.Sel.Name
	switch fc.pkgOf(sel.X) {
	case "time":
		if use, bad := wallClockFuncs[name]; bad {
			fc.c.report(sel.Pos(), RuleWallClock, "time.%s reads or waits on the wall clock; use %s", name, use)
		}
	case "math/rand/v2":
		if !randAllowed[name] {
			fc.c.report(sel.Pos(), RuleGlobalRand, "rand.%s uses the global random source; draw from Env.Rand", name)
		}
	case "maps":
		if unorderedMapFuncs[name] && !fc.sortedArgs[sel] && !fc.ordered(sel.Pos()) {
			fc.c.report(sel.Pos(), RuleMapOrder, "maps.%s yields in random map order; wrap it in slices.Sorted, or add %s <reason> if order cannot reach an output", name, OrderedDirective)
		}
	}
}

// rangeStmt applies the map-range rule: a range over a map that binds a key
// or a value needs a //det:ordered comment.
func (fc *fileChecker) rangeStmt(rs *ast.RangeStmt) {
	if fc.info == nil || !binds(rs.Key) && !binds(rs.Value) {
		return
	}
	t := fc.info.TypeOf(rs.X)
	if t == nil || !isMap(t) || fc.ordered(rs.For) {
		return
	}
	fc.c.report(rs.For, RuleMapOrder, "range over map %s (%s): iteration order is random; iterate over sorted keys, or add %s <reason> if order cannot reach an output",
		types.ExprString(rs.X), t, OrderedDirective)
}

// binds reports whether a range key or value expression names a variable
// (not absent, not the blank identifier).
func binds(e ast.Expr) bool {
	if e == nil {
		return false
	}
	id, ok := e.(*ast.Ident)
	return !ok || id.Name != "_"
}

// isMap reports whether ranging over a value of type t iterates over a map:
// its underlying type is a map, or it is a type parameter whose constraint
// admits a map.
func isMap(t types.Type) bool {
	if tp, ok := types.Unalias(t).(*types.TypeParam); ok {
		iface, ok := tp.Constraint().Underlying().(*types.Interface)
		if !ok {
			return false
		}
		for i := range iface.NumEmbeddeds() {
			switch e := iface.EmbeddedType(i).(type) {
			case *types.Union:
				for j := range e.Len() {
					if isMap(e.Term(j).Type()) {
						return true
					}
				}
			default:
				if isMap(e) {
					return true
				}
			}
		}
		return false
	}
	_, ok := t.Underlying().(*types.Map)
	return ok
}
