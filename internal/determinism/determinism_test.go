package determinism_test

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/distsync/distsync/internal/determinism"
	"github.com/stretchr/testify/require"
)

// ruleCase is one package of snippet files. Every line that must produce a
// finding ends with a comment "// want rule..." naming the rules expected on
// that line; every other line must produce none, except those in extra
// (for findings on lines that cannot carry a comment).
type ruleCase struct {
	name  string
	files map[string]string // file name in the case's directory -> source
	extra []string          // more expected findings, as "file:line: rule"
}

var ruleCases = []ruleCase{
	{"time-calls", map[string]string{"a.go": `package p

import "time"

func f() {
	_ = time.Now() // want wall-clock
	_ = time.Since(time.Time{}) // want wall-clock
	_ = time.Until(time.Time{}) // want wall-clock
	time.Sleep(time.Second) // want wall-clock
	_ = time.After(time.Second) // want wall-clock
	time.AfterFunc(time.Second, func() {}) // want wall-clock
	_ = time.Tick(time.Second) // want wall-clock
	_ = time.NewTimer(time.Second) // want wall-clock
	_ = time.NewTicker(time.Second) // want wall-clock
}
`}, nil},
	{"time-aliased", map[string]string{"a.go": `package p

import t "time"

func f() t.Duration {
	start := t.Now() // want wall-clock
	return t.Since(start) // want wall-clock
}
`}, nil},
	{"time-method-value", map[string]string{"a.go": `package p

import (
	clock "time"
)

var now = clock.Now // want wall-clock

func g() func(clock.Duration) { return clock.Sleep } // want wall-clock
`}, nil},
	{"time-dot-import", map[string]string{"a.go": `package p

import . "time" // want import

func f() Time { return Now() }
`}, nil},
	{"time-clean", map[string]string{"a.go": `package p

import "time"

type clock struct{}

func (clock) Now() time.Time { return time.Unix(0, 0) }

type env interface{ Now() time.Time }

// Comments and strings may say time.Now() and time.Sleep freely.
const doc = "never call time.Now()"

func f(e env, a, b time.Time, d time.Duration) (time.Time, bool, time.Duration) {
	deadline := e.Now().Add(3*d + 50*time.Millisecond)
	late := a.After(b) || a.Before(deadline) || a.Equal(b)
	var timer time.Timer // the type is harmless; only making one is not
	_ = timer
	{
		time := clock{} // shadows the package
		_ = time.Now()
	}
	return time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), late, b.Sub(a).Truncate(time.Millisecond) / 2
}
`}, nil},
	{"go-and-select", map[string]string{"a.go": `package p

func f() {
	go func() {}() // want goroutine
	select { // want select
	default:
	}
}
`}, nil},
	{"channels", map[string]string{"a.go": `package p

type box struct{ c chan int } // want channel

func f(b box) int {
	b.c <- 1 // want channel
	return <-b.c // want channel
}
`}, nil},
	{"imports", map[string]string{"a.go": `package p

import (
	_ "sync" // want import
	_ "sync/atomic" // want import
	_ "os" // want import
	_ "os/exec" // want import
	_ "net" // want import
	h "net/http" // want import
	_ "net/netip" // want import
	_ "syscall" // want import
	_ "unsafe" // want import
	mr "math/rand" // want import
	_ "crypto/rand" // want import
	_ "log" // want import
	_ "hash/maphash" // want import

	_ "math/rand/v2"
	_ "strings"
	_ "time"
)

var _ = h.MethodGet
var _ = mr.Int
`}, nil},
	{"rand-globals", map[string]string{"a.go": `package p

import (
	"math/rand/v2"
	"time"
)

func f(xs []int) {
	_ = rand.IntN(3) // want global-rand
	_ = rand.Int64() // want global-rand
	_ = rand.Float64() // want global-rand
	rand.Shuffle(len(xs), func(i, j int) { xs[i], xs[j] = xs[j], xs[i] }) // want global-rand
	_ = rand.Perm(4) // want global-rand
	_ = rand.N[time.Duration](time.Second) // want global-rand
	_ = rand.N(time.Second) // want global-rand
	draw := rand.Uint64 // want global-rand
	_ = draw
}
`}, nil},
	{"rand-aliased", map[string]string{"a.go": `package p

import r2 "math/rand/v2"

func f() int { return r2.IntN(10) } // want global-rand
`}, nil},
	{"rand-clean", map[string]string{"a.go": `package p

import "math/rand/v2"

type env interface{ Rand() *rand.Rand }

var _ rand.Source = rand.NewChaCha8([32]byte{})

func f(e env, seed uint64) (int, float64, uint64) {
	r := rand.New(rand.NewPCG(seed, 1))
	z := rand.NewZipf(r, 1.5, 2, 100)
	var pcg rand.PCG
	_ = pcg
	rand := e.Rand() // shadows the package
	return rand.IntN(10), r.Float64(), z.Uint64()
}
`}, nil},
	{"map-range", map[string]string{"a.go": `package p

type set map[string]bool

func pairs() map[int]string { return nil }

func f(m map[string]int, s set, xs []int) int {
	sum := 0
	for k, v := range m { // want map-order
		sum += len(k) + v
	}
	for k := range m { // want map-order
		sum += len(k)
	}
	for _, v := range m { // want map-order
		sum += v
	}
	for k := range s { // want map-order
		_ = k
	}
	for _, v := range pairs() { // want map-order
		_ = v
	}
	for range m {
		sum++
	}
	for _ = range m {
		sum++
	}
	for i, x := range xs {
		sum += i + x
	}
	for i := range 10 {
		sum += i
	}
	for _, r := range "abc" {
		sum += int(r)
	}
	return sum
}

func g[M ~map[string]int](m M) (n int) {
	for _, v := range m { // want map-order
		n += v
	}
	return n
}

func h[M map[string]int | map[string]int8](m M) {
	for k := range m { // want map-order
		_ = k
	}
}
`}, nil},
	{"map-range-annotated", map[string]string{"a.go": `package p

import "slices"

func keys(m map[string]int) []string {
	var ks []string
	//det:ordered only collects the keys, which are sorted below
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func sum(m map[string]int) (n int) {
	for _, v := range m { //det:ordered addition is commutative
		n += v
	}
	// The order is irrelevant here:
	//det:ordered taking the maximum does not depend on order
	// (a longer explanation may follow).
	for _, v := range m {
		n = max(n, v)
	}
	//det:ordered
	for _, v := range m { // the bare directive above is a finding (extra)
		n -= v
	}
	return n
}

// A directive further up does not cover a loop.
func far(m map[string]int) (n int) {
	//det:ordered too far away

	for _, v := range m { // want map-order
		n += v
	}
	return n
}
`}, []string{"a.go:25: directive"}},
	{"maps-iterators", map[string]string{"a.go": `package p

import (
	"maps"
	"slices"
	"strings"
)

func f(m map[string]int) []string {
	sorted := slices.Sorted(maps.Keys(m))
	byLen := slices.SortedFunc(maps.Keys(m), func(a, b string) int { return len(a) - len(b) })
	_ = slices.SortedStableFunc(maps.Values(m), func(a, b int) int { return a - b })
	unsorted := slices.Collect(maps.Keys(m)) // want map-order
	for k := range maps.Keys(m) { // want map-order
		_ = k
	}
	for k, v := range maps.All(m) { // want map-order
		_, _ = k, v
	}
	total := 0
	for v := range maps.Values(m) { //det:ordered a sum
		total += v
	}
	_ = strings.Join(unsorted, ",")
	return append(sorted, byLen...)
}
`}, nil},
	{"test-files-skipped", map[string]string{
		"a.go": "package p\n\nfunc F() {}\n",
		"a_test.go": `package p

import (
	"os"
	"time"
)

func helper() { go func() {}(); time.Sleep(time.Second); _ = os.Args }
`,
	}, nil},
	{"build-constrained", map[string]string{
		"a.go": "package p\n\nfunc F() {}\n",
		"gen.go": `//go:build ignore

package main

import "time"

func main() {
	time.Sleep(1) // want wall-clock
	go main() // want goroutine
	for k := range map[int]int{} { // not type-checked: the map rule cannot see it
		_ = k
	}
}
`,
	}, nil},
	{"module-import", map[string]string{"a.go": `package p

import "example.com/det/internal/shared"

func f(t shared.Table) {
	for k := range t { // want map-order
		_ = k
	}
	for k := range shared.Index() { // want map-order
		_ = k
	}
}
`}, nil},
	{"type-error", map[string]string{"a.go": `package p

var x int = "not an int" // want typecheck
`}, nil},
	{"parse-error", map[string]string{"a.go": `package p

var = 3 // want typecheck
`}, nil},
}

// writeTree writes files (slash-separated paths relative to root) under
// root.
func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, src := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(src), 0o644))
	}
}

// wants returns the findings a case's sources ask for, as "file:line: rule".
func wants(dir string, files map[string]string) []string {
	var out []string
	for name, src := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		for i, line := range strings.Split(src, "\n") {
			_, want, ok := strings.Cut(line, "// want ")
			if !ok {
				continue
			}
			for _, rule := range strings.Fields(want) {
				out = append(out, dir+"/"+name+":"+strconv.Itoa(i+1)+": "+rule)
			}
		}
	}
	slices.Sort(out)
	return out
}

// TestRules runs every case in one temporary module, with one Check call
// (so the standard library is type-checked once), and compares each case's
// findings with its want comments.
func TestRules(t *testing.T) {
	root := t.TempDir()
	tree := map[string]string{
		"go.mod": "module example.com/det\n\ngo 1.26\n",
		"internal/shared/shared.go": `package shared

// Table is a map type declared away from the loops that range over it.
type Table map[string]int

// Index returns a map.
func Index() map[int]bool { return nil }
`,
	}
	var dirs []string
	for _, c := range ruleCases {
		dirs = append(dirs, "cases/"+c.name)
		for name, src := range c.files {
			tree["cases/"+c.name+"/"+name] = src
		}
	}
	writeTree(t, root, tree)

	start := time.Now()
	findings, err := determinism.Check(root, dirs, nil)
	require.NoError(t, err)
	t.Logf("checked %d packages in %v", len(dirs), time.Since(start))

	byCase := map[string][]string{}
	for _, f := range findings {
		require.NotEmpty(t, f.Message, "finding %v has no message", f)
		require.True(t, f.Pos.Line > 0, "finding %v has no line", f)
		rest, ok := strings.CutPrefix(f.Pos.Filename, "cases/")
		require.True(t, ok, "finding outside the cases: %v", f)
		name, _, _ := strings.Cut(rest, "/")
		byCase[name] = append(byCase[name], f.Pos.Filename+":"+strconv.Itoa(f.Pos.Line)+": "+string(f.Rule))
	}
	for _, c := range ruleCases {
		t.Run(c.name, func(t *testing.T) {
			got := byCase[c.name]
			slices.Sort(got)
			var all []string
			for _, f := range findings {
				if strings.HasPrefix(f.Pos.Filename, "cases/"+c.name+"/") {
					all = append(all, f.String())
				}
			}
			want := wants("cases/"+c.name, c.files)
			for _, e := range c.extra {
				want = append(want, "cases/"+c.name+"/"+e)
			}
			slices.Sort(want)
			require.Equal(t, want, got, "findings:\n%s", strings.Join(all, "\n"))
		})
	}
}

func TestFindingString(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"go.mod": "module example.com/det\n\ngo 1.26\n",
		"p/a.go": "package p\n\nimport \"time\"\n\nvar start = time.Now()\n",
	})
	findings, err := determinism.Check(root, []string{"p"}, nil)
	require.NoError(t, err)
	require.Len(t, findings, 1)
	require.Equal(t, "p/a.go:5:13: wall-clock: time.Now reads or waits on the wall clock; use Env.Now", findings[0].String())
}

func TestCheckExemptRecursesAndDeduplicates(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"go.mod":                 "module example.com/det\n\ngo 1.26\n",
		"nodes/a.go":             "package nodes\n\nimport \"time\"\n\nvar A = time.Now\n",
		"nodes/deep/er/b.go":     "package er\n\nfunc B() { go B() }\n",
		"nodes/runtime/r.go":     "package runtime\n\nimport \"net\"\n\nvar _ net.Conn\n",
		"nodes/runtime/sub/s.go": "package sub\n\nimport _ \"os\"\n",
		"nodes/skip.go":          "package nodes\n\nimport _ \"sync\"\n",
		"nodes/testdata/t.go":    "package t\n\nimport _ \"os\"\n",
		"nodes/_old/o.go":        "package o\n\nimport _ \"os\"\n",
		"nodes/.hidden/h.go":     "package h\n\nimport _ \"os\"\n",
	})
	var seen []string
	exempt := func(p string) bool {
		seen = append(seen, p)
		return p == "nodes/runtime" || strings.HasPrefix(p, "nodes/runtime/") || p == "nodes/skip.go"
	}
	findings, err := determinism.Check(root, []string{"nodes", "nodes/deep", filepath.Join(root, "nodes")}, exempt)
	require.NoError(t, err)
	var got []string
	for _, f := range findings {
		got = append(got, f.Pos.Filename+": "+string(f.Rule))
	}
	require.Equal(t, []string{"nodes/a.go: wall-clock", "nodes/deep/er/b.go: goroutine"}, got)
	require.Contains(t, seen, "nodes/runtime")
	require.Contains(t, seen, "nodes/skip.go")
	require.NotContains(t, seen, "nodes/runtime/r.go", "an exempt directory is not entered")
}

func TestCheckErrors(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"go.mod": "module example.com/det\n", "file.go": "package det\n"})
	_, err := determinism.Check(root, []string{"absent"}, nil)
	require.Error(t, err)
	_, err = determinism.Check(root, []string{"file.go"}, nil)
	require.ErrorContains(t, err, "not a directory")
	findings, err := determinism.Check(root, nil, nil)
	require.NoError(t, err)
	require.Empty(t, findings)
}

func TestForbiddenImport(t *testing.T) {
	for _, p := range []string{"os", "os/exec", "net", "net/http", "sync", "sync/atomic", "syscall", "unsafe", "math/rand"} {
		why, bad := determinism.ForbiddenImport(p)
		require.True(t, bad, p)
		require.NotEmpty(t, why, p)
	}
	for _, p := range []string{"math/rand/v2", "time", "osext", "network", "synchronize", "fmt", "slices", "maps"} {
		_, bad := determinism.ForbiddenImport(p)
		require.False(t, bad, p)
	}
}

// repoRoot walks up from the working directory to the directory holding
// go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, dir, parent, "no go.mod above the working directory")
		dir = parent
	}
}

// TestRepositoryIsDeterministic enforces the determinism rules on the
// protocol cores and the node code. nodes/runtime, the real runtime of TCP
// mode, is the one place allowed the wall clock, goroutines and sockets.
func TestRepositoryIsDeterministic(t *testing.T) {
	root := repoRoot(t)
	var dirs []string
	for _, d := range []string{"protocols", "nodes"} {
		info, err := os.Stat(filepath.Join(root, d))
		switch {
		case err == nil && info.IsDir():
			dirs = append(dirs, d)
		case d == "nodes":
			t.Fatalf("%s: the node contract must exist: %v", d, err)
		default:
			t.Logf("%s: absent, nothing to check", d)
		}
	}
	exempt := func(p string) bool { return p == "nodes/runtime" || strings.HasPrefix(p, "nodes/runtime/") }

	start := time.Now()
	findings, err := determinism.Check(root, dirs, exempt)
	require.NoError(t, err)
	t.Logf("checked %v in %v", dirs, time.Since(start))
	if len(findings) > 0 {
		var b strings.Builder
		for _, f := range findings {
			b.WriteString("\n\t" + f.String())
		}
		t.Fatalf("%d determinism findings (DESIGN.md, \"Determinism rules\"):%s", len(findings), b.String())
	}
}
