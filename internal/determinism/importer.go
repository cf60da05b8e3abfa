package determinism

import (
	"fmt"
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"go/types"
	"os/exec"
	"path/filepath"
	"strings"
)

// sourceImporter imports packages by type-checking their source, function
// bodies skipped, like the "source" importer of go/importer. It differs in
// two ways: it takes a build context (with cgo off, so net and os/user use
// their pure-Go files and no cgo tool runs), and it resolves the module's
// own packages straight from the module directory, without asking the go
// command. Every package is checked once per Check call and shared by all
// importers of it, so types from one package are identical everywhere.
type sourceImporter struct {
	ctx     *build.Context
	fset    *token.FileSet
	sizes   types.Sizes
	modDir  string
	modPath string
	byDir   map[string]*imported
}

// imported is a package being or having been imported.
type imported struct {
	pkg  *types.Package
	err  error
	done bool // false while its own imports are being resolved
}

func newSourceImporter(ctx *build.Context, fset *token.FileSet, modDir, modPath string) *sourceImporter {
	sizes := types.SizesFor(ctx.Compiler, ctx.GOARCH)
	if sizes == nil {
		sizes = types.SizesFor("gc", "amd64")
	}
	return &sourceImporter{ctx: ctx, fset: fset, sizes: sizes, modDir: modDir, modPath: modPath, byDir: map[string]*imported{}}
}

// Import implements types.Importer.
func (im *sourceImporter) Import(path string) (*types.Package, error) {
	return im.ImportFrom(path, im.modDir, 0)
}

// ImportFrom implements types.ImporterFrom. srcDir is the directory of the
// importing file, which matters for vendored packages of the standard
// library.
func (im *sourceImporter) ImportFrom(path, srcDir string, _ types.ImportMode) (*types.Package, error) {
	if path == "unsafe" {
		return types.Unsafe, nil
	}
	if path == "C" {
		return nil, fmt.Errorf("import \"C\": cgo is not analyzed")
	}
	bp, err := im.find(path, srcDir)
	if err != nil {
		return nil, err
	}
	if r, ok := im.byDir[bp.Dir]; ok {
		if !r.done {
			return nil, fmt.Errorf("import cycle through %q", path)
		}
		return r.pkg, r.err
	}
	r := &imported{}
	im.byDir[bp.Dir] = r
	r.pkg, r.err = im.check(bp)
	r.done = true
	return r.pkg, r.err
}

// find locates the package path imported from srcDir.
func (im *sourceImporter) find(path, srcDir string) (*build.Package, error) {
	if im.modPath != "" && (path == im.modPath || strings.HasPrefix(path, im.modPath+"/")) {
		rel := strings.TrimPrefix(strings.TrimPrefix(path, im.modPath), "/")
		bp, err := im.ctx.ImportDir(filepath.Join(im.modDir, filepath.FromSlash(rel)), 0)
		if err != nil {
			return nil, fmt.Errorf("import %q: %w", path, err)
		}
		bp.ImportPath = path
		return bp, nil
	}
	bp, err := im.ctx.Import(path, srcDir, 0)
	if err != nil {
		return nil, fmt.Errorf("import %q: %w", path, err)
	}
	return bp, nil
}

// check parses and type-checks an imported package, skipping function
// bodies. A package with a hard type error is returned with that error, so
// the importer's own check reports it.
func (im *sourceImporter) check(bp *build.Package) (*types.Package, error) {
	files := make([]*ast.File, 0, len(bp.GoFiles))
	for _, name := range bp.GoFiles {
		f, err := parser.ParseFile(im.fset, filepath.Join(bp.Dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, fmt.Errorf("import %q: %w", bp.ImportPath, err)
		}
		files = append(files, f)
	}
	var firstErr error
	conf := types.Config{
		Importer:         im,
		Sizes:            im.sizes,
		IgnoreFuncBodies: true,
		Error: func(err error) {
			if te, ok := err.(types.Error); ok && !te.Soft && firstErr == nil {
				firstErr = err
			}
		},
	}
	pkg, _ := conf.Check(bp.ImportPath, im.fset, files, nil)
	if firstErr != nil {
		return pkg, fmt.Errorf("import %q: %w", bp.ImportPath, firstErr)
	}
	return pkg, nil
}

// goroot asks the go command for GOROOT, for when the running binary does
// not know it.
func goroot() string {
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}
