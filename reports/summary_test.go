package reports

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/scenarios"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./reports/ -update to create it")
	assert.Equal(t, string(want), string(got), "golden file %s differs (go test ./reports/ -update rewrites it)", path)
}

func sections(t *testing.T, f Format, secs []Section) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, WriteSections(&b, f, secs))
	return b.Bytes()
}

func TestRunSummaryGolden(t *testing.T) {
	r := fixture()
	golden(t, "run-summary.txt", sections(t, Text, RunSummary(r)))
	golden(t, "run-summary.md", sections(t, Markdown, RunSummary(r)))
	golden(t, "run-summary-file.md", runMarkdown(r))
}

func TestSweepSummaryGolden(t *testing.T) {
	m, err := LookupMetric("p99")
	require.NoError(t, err)
	sw := sweepFixture()
	golden(t, "sweep-summary.txt", sections(t, Text, SweepSummary(sw, m)))
	golden(t, "sweep-summary.md", sections(t, Markdown, SweepSummary(sw, m)))
}

// assertFits checks that no line of out is wider than MaxWidth.
func assertFits(t *testing.T, out []byte) {
	t.Helper()
	for i, line := range strings.Split(string(out), "\n") {
		assert.LessOrEqual(t, utf8.RuneCountInString(line), MaxWidth, "line %d is too wide: %q", i+1, line)
	}
}

func TestTablesFitIn100Columns(t *testing.T) {
	r := fixture()
	m, _ := LookupMetric("recovery")
	long := strings.Repeat("a-very-long-word ", 20)
	r.Checks = append(r.Checks, scenarios.CheckResult{Name: "x", Detail: long + strings.Repeat("z", 150)})
	r.Faults[0].Note = long
	for _, f := range []Format{Text, Markdown} {
		assertFits(t, sections(t, f, RunSummary(r)))
		assertFits(t, sections(t, f, SweepSummary(sweepFixture(), m)))
	}
	wide := [][]string{{strings.Repeat("x", 60), strings.Repeat("y", 60), strings.Repeat("z ", 40)}}
	for _, f := range []Format{Text, Markdown} {
		var b bytes.Buffer
		require.NoError(t, Table(&b, f, []string{"a", "b", "c"}, wide))
		assertFits(t, b.Bytes())
	}
}

func TestTableWrapsTextAndCutsMarkdown(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, Table(&b, Text, []string{"k", "detail"}, [][]string{{"a", strings.Repeat("word ", 40)}}))
	assert.Equal(t, 40, strings.Count(b.String(), "word"), "wrapping keeps every word")
	b.Reset()
	require.NoError(t, Table(&b, Markdown, []string{"k", "detail"}, [][]string{{"a|b", strings.Repeat("word ", 40)}}))
	assert.Contains(t, b.String(), `a\|b`, "a pipe in a Markdown cell is escaped")
	assert.Contains(t, b.String(), "…", "a cut cell says so")
}

func TestWrap(t *testing.T) {
	assert.Equal(t, "ab cd\nef", wrap("ab cd ef", 5))
	assert.Equal(t, "abcde\nfgh", wrap("abcdefgh", 5))
	assert.Equal(t, "a\nb", wrap("a\nb", 5))
	assert.Equal(t, "abcd…", truncate("abcdefgh", 5))
	assert.Equal(t, "abc", truncate("abc", 5))
}

func TestOnlyServicesThatRanHaveSections(t *testing.T) {
	r := fixture()
	titles := func(secs []Section) string {
		var out []string
		for _, s := range secs {
			out = append(out, s.Title)
		}
		return strings.Join(out, "|")
	}
	all := titles(RunSummary(r))
	assert.Contains(t, all, "Raft (locks)")
	assert.Contains(t, all, "Locks")
	assert.Contains(t, all, "Deadlock victims")
	for _, absent := range []string{"Queue", "Cache", "queue", "cache"} {
		assert.NotContains(t, all, absent, "services that are not built have no rows")
	}
	empty := &scenarios.Result{Scenario: "empty", Virtual: s1}
	none := titles(RunSummary(empty))
	assert.NotContains(t, none, "Locks", "a run without the lock service has no lock tables")
	assert.Equal(t, []string{"locks"}, Services(r))
}

func TestLockSectionsCountVictimsAndRecoveries(t *testing.T) {
	secs := lockSections(fixture())
	byTitle := map[string]Section{}
	for _, s := range secs {
		byTitle[s.Title] = s
	}
	rec := byTitle["Time to elect after each leader loss"]
	require.Len(t, rec.Rows, 3)
	assert.Equal(t, []string{"2s", "2.18s", "180ms", "n2", "2"}, rec.Rows[0])
	assert.Equal(t, []string{"9.5s", "never", "-", "-", "-"}, rec.Rows[2])
	v := byTitle["Deadlock victims (as the clients saw them)"]
	require.Len(t, v.Rows, 1)
	assert.Equal(t, []string{"5.5s", "5.9s", "c3", "r2"}, v.Rows[0])
}
