package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/reports"
	"github.com/distsync/distsync/scenarios"
)

// runSplit runs the CLI with stdout and stderr apart.
func runSplit(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	root := newRoot()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err = root.Execute()
	return out.String(), errOut.String(), err
}

func isUsage(err error) bool {
	var u usageError
	return errors.As(err, &u)
}

var hrefRE = regexp.MustCompile(`(?:href|src)="([^"]+)"`)

// assertLinksResolve checks every local link of an index.html, and of the
// index.html files it links to below it.
func assertLinksResolve(t *testing.T, index string) {
	t.Helper()
	data, err := os.ReadFile(index)
	require.NoError(t, err)
	for _, m := range hrefRE.FindAllStringSubmatch(string(data), -1) {
		path := filepath.Join(filepath.Dir(index), m[1])
		_, err := os.Stat(path)
		assert.NoError(t, err, "%s links to %s", index, m[1])
		if filepath.Base(m[1]) == "index.html" && !strings.HasPrefix(m[1], "..") {
			assertLinksResolve(t, path)
		}
	}
}

const leaderCrash = "../../scenarios/leader-crash.yaml"

func TestRunReportAndFormats(t *testing.T) {
	dir := t.TempDir()
	out, stderr, err := runSplit(t, "run", leaderCrash, "--seed", "3", "--report", filepath.Join(dir, "r"), "--json", filepath.Join(dir, "3.json"))
	require.NoError(t, err, out)
	for i, line := range strings.Split(out, "\n") {
		assert.LessOrEqual(t, utf8.RuneCountInString(line), reports.MaxWidth, "line %d: %q", i+1, line)
	}
	assert.Contains(t, out, "Raft (locks)")
	assert.Contains(t, out, "Time to elect after each leader loss")
	assert.NotContains(t, out, "Queue")
	assert.Contains(t, stderr, "report: "+filepath.Join(dir, "r", "index.html"))
	assertLinksResolve(t, filepath.Join(dir, "r", "index.html"))
	for _, f := range []string{"latency.png", "throughput.svg", "latency-cdf.png", "recovery.png", "summary.md"} {
		assert.FileExists(t, filepath.Join(dir, "r", f))
	}

	js, _, err := runSplit(t, "run", leaderCrash, "--seed", "3", "--format", "json")
	require.NoError(t, err)
	var r scenarios.Result
	require.NoError(t, json.Unmarshal([]byte(js), &r), "--format json prints the result alone")
	assert.Equal(t, scenarios.ResultVersion, r.Version)
	assert.Equal(t, uint64(3), r.Seed)
	assert.NotNil(t, r.Locks)

	md, _, err := runSplit(t, "run", leaderCrash, "--seed", "3", "--format", "md")
	require.NoError(t, err)
	assert.Contains(t, md, "## Operations")
	assert.Contains(t, md, "| locks   | acquire")
	lines := strings.Split(strings.TrimSpace(md), "\n")
	assert.Equal(t, "trace-hash: "+r.TraceHash, lines[len(lines)-1], "same seed, same trace-hash, whatever the format")

	// report reads the JSON back and writes the same directory.
	out, _, err = runSplit(t, "report", filepath.Join(dir, "3.json"), "--out", filepath.Join(dir, "again"))
	require.NoError(t, err, out)
	assert.Contains(t, out, "report: "+filepath.Join(dir, "again", "index.html"))
	assertLinksResolve(t, filepath.Join(dir, "again", "index.html"))
	a, _ := os.ReadFile(filepath.Join(dir, "r", "summary.md"))
	b, _ := os.ReadFile(filepath.Join(dir, "again", "summary.md"))
	assert.Equal(t, string(a), string(b), "the report of the JSON is the report of the run")
}

func TestSweepReportAndReportOfItsJSON(t *testing.T) {
	dir := t.TempDir()
	sweepJSON := filepath.Join(dir, "sweep.json")
	out, _, err := runSplit(t, "sweep", "../../scenarios/follower-crash.yaml", "--seeds", "2", "--parallel", "2",
		"--report", filepath.Join(dir, "r"), "--metric", "events", "--json", sweepJSON)
	require.NoError(t, err, out)
	assert.Contains(t, out, "report: "+filepath.Join(dir, "r", "index.html"))
	assertLinksResolve(t, filepath.Join(dir, "r", "index.html"))
	assert.FileExists(t, filepath.Join(dir, "r", "follower-crash-events.png"))
	assert.FileExists(t, filepath.Join(dir, "r", "follower-crash", "latency.png"))

	out, _, err = runSplit(t, "report", sweepJSON, "--out", filepath.Join(dir, "again"), "--metric", "p99")
	require.NoError(t, err, out)
	assertLinksResolve(t, filepath.Join(dir, "again", "index.html"))
	assert.FileExists(t, filepath.Join(dir, "again", "follower-crash-p99.svg"))
	html, _ := os.ReadFile(filepath.Join(dir, "again", "index.html"))
	assert.NotContains(t, string(html), "run again gave trace-hash", "the re-run seed gives the sweep's trace-hash")

	js, stderr, err := runSplit(t, "sweep", "../../scenarios/follower-crash.yaml", "--seeds", "1", "--format", "json")
	require.NoError(t, err)
	var sw reports.SweepReport
	require.NoError(t, json.Unmarshal([]byte(js), &sw), "--format json prints the sweep report alone; progress goes to stderr: %s", stderr)
	assert.Equal(t, reports.SweepVersion, sw.Version)
	require.Len(t, sw.Scenarios, 1)
	assert.Len(t, sw.Scenarios[0].Seeds, 1)
}

func TestReportBadInputIsExitCode2(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	_, _, err := runSplit(t, "run", leaderCrash, "--seed", "1", "--quiet", "--json", good)
	require.NoError(t, err)
	data, err := os.ReadFile(good)
	require.NoError(t, err)
	write := func(name string, body []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, body, 0o644))
		return p
	}
	truncated := write("truncated.json", data[:len(data)/3])
	old := write("old.json", bytes.Replace(data, []byte(`"version": 1`), []byte(`"version": 0`), 1))
	notADir := write("file", []byte("x"))
	out := filepath.Join(dir, "out")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"report", filepath.Join(dir, "missing.json"), "--out", out}, "no such file"},
		{[]string{"report", truncated, "--out", out}, "truncated JSON"},
		{[]string{"report", old, "--out", out}, "results version 0, but this distsync reads version 1"},
		{[]string{"report", good, "--out", out, "--metric", "nope"}, `unknown metric "nope"`},
		{[]string{"report", good, "--out", filepath.Join(notADir, "sub")}, "cannot write the report"},
		{[]string{"report", good}, "--out: the report directory is required"},
		{[]string{"report", good, "--out", out, "--format", "html"}, `unknown format "html"`},
		{[]string{"run", leaderCrash, "--report", filepath.Join(notADir, "sub")}, "cannot write the report"},
		{[]string{"sweep", leaderCrash, "--metric", "nope"}, `unknown metric "nope"`},
		{[]string{"sweep", leaderCrash, "--report", filepath.Join(notADir, "sub")}, "cannot write the report"},
		{[]string{"sweep", "merge", truncated}, "truncated JSON"},
	} {
		_, _, err := runSplit(t, tc.args...)
		require.Error(t, err, "%v", tc.args)
		assert.True(t, isUsage(err), "%v: want a usage error (exit 2), got %v", tc.args, err)
		assert.Contains(t, err.Error(), tc.want, "%v", tc.args)
	}
	_, err = os.Stat(out)
	assert.True(t, os.IsNotExist(err), "no report directory is made for bad input")
}

func TestReportRunsSeedsAgainAndSaysWhenItCannot(t *testing.T) {
	dir := t.TempDir()
	one := filepath.Join(dir, "one.json")
	_, _, err := runSplit(t, "run", leaderCrash, "--seed", "2", "--quiet", "--json", one)
	require.NoError(t, err)
	var r scenarios.Result
	data, _ := os.ReadFile(one)
	require.NoError(t, json.Unmarshal(data, &r))
	// A result whose history was not linearizable is run again for
	// porcupine's visualisation; a trace-hash that differs says the file
	// changed since.
	for i := range r.Checks {
		if r.Checks[i].Name == "linearizable" {
			r.Checks[i].Passed = false
		}
	}
	r.TraceHash = "0000000000000000"
	edited, _ := json.Marshal(&r)
	require.NoError(t, os.WriteFile(one, edited, 0o644))
	_, _, err = runSplit(t, "report", one, "--out", filepath.Join(dir, "one"))
	require.NoError(t, err)
	html, _ := os.ReadFile(filepath.Join(dir, "one", "index.html"))
	assert.Contains(t, string(html), "run again gave trace-hash")
	assertLinksResolve(t, filepath.Join(dir, "one", "index.html"))

	// A sweep whose scenario file is gone still gets its report, without
	// the seed's full report.
	sweep := filepath.Join(dir, "sweep.json")
	_, _, err = runSplit(t, "sweep", "../../scenarios/follower-crash.yaml", "--seeds", "1", "--json", sweep)
	require.NoError(t, err)
	in, err := reports.Load(sweep)
	require.NoError(t, err)
	in.Sweep.Scenarios[0].File = filepath.Join(dir, "gone.yaml")
	require.NoError(t, reports.WriteJSONAtomic(sweep, in.Sweep))
	_, _, err = runSplit(t, "report", sweep, "--out", filepath.Join(dir, "sw"))
	require.NoError(t, err)
	html, _ = os.ReadFile(filepath.Join(dir, "sw", "index.html"))
	assert.Contains(t, string(html), "could not be run again")
	assertLinksResolve(t, filepath.Join(dir, "sw", "index.html"))
}
