package reports

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/nodes/locks"
	"github.com/distsync/distsync/protocols/lockmgr"
	"github.com/distsync/distsync/scenarios"
)

var linkRE = regexp.MustCompile(`(?:href|src)="([^"]+)"`)

// checkLinks asserts that every local link of the HTML file at index
// resolves to a file that exists, following links to other index.html
// files, and returns every file linked.
func checkLinks(t *testing.T, index string) []string {
	t.Helper()
	data, err := os.ReadFile(index)
	require.NoError(t, err)
	var linked []string
	for _, m := range linkRE.FindAllStringSubmatch(string(data), -1) {
		href := m[1]
		if strings.Contains(href, "://") || strings.HasPrefix(href, "#") {
			continue
		}
		path := filepath.Join(filepath.Dir(index), filepath.FromSlash(href))
		info, err := os.Stat(path)
		if assert.NoError(t, err, "%s links to %s, which does not exist", index, href) {
			assert.Positive(t, info.Size(), "%s is empty", path)
		}
		linked = append(linked, href)
		if filepath.Base(href) == IndexFile && !strings.HasPrefix(href, "..") {
			linked = append(linked, checkLinks(t, path)...)
		}
	}
	return linked
}

// noTempFiles asserts that no temporary file is left in dir.
func noTempFiles(t *testing.T, dir string) {
	t.Helper()
	require.NoError(t, filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		require.NoError(t, err)
		assert.NotContains(t, d.Name(), ".tmp-", "temporary file left behind: %s", path)
		assert.NotContains(t, d.Name(), ".distsync-probe-", "probe file left behind: %s", path)
		return nil
	}))
}

func TestWriteRunLinksEverything(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "report")
	r := fixture()
	index, err := WriteRun(dir, r, RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, IndexFile), index)
	linked := checkLinks(t, index)
	for _, name := range []string{SummaryFile, ResultFile, "latency.png", "latency.svg", "throughput.png",
		"throughput.svg", "latency-cdf.png", "latency-cdf.svg", "recovery.png", "recovery.svg"} {
		assert.Contains(t, linked, name)
	}
	for _, name := range []string{"latency.png", "throughput.png", "latency-cdf.png", "recovery.png"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		assertPNG(t, data)
	}
	for _, name := range []string{"latency.svg", "recovery.svg"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		assertSVG(t, data)
	}
	html, err := os.ReadFile(index)
	require.NoError(t, err)
	for _, want := range []string{"fixture", "seed 42", "0123456789abcdef", "distsync replay scenarios/fixture.yaml --seed 42",
		"Deadlock victims"} {
		assert.Contains(t, string(html), want)
	}
	summary, err := os.ReadFile(filepath.Join(dir, SummaryFile))
	require.NoError(t, err)
	assert.Equal(t, string(runMarkdown(r)), string(summary))
	in, err := Load(filepath.Join(dir, ResultFile))
	require.NoError(t, err, "result.json reads back")
	assert.Equal(t, r.TraceHash, in.Result.TraceHash)
	assert.Equal(t, len(r.Ops), len(in.Result.Ops))
	noTempFiles(t, dir)
}

func TestWriteRunWithoutOperationsLeavesPlotsOut(t *testing.T) {
	dir := t.TempDir()
	r := &scenarios.Result{Version: scenarios.ResultVersion, Scenario: "quiet", Seed: 1, Virtual: s1, Passed: true, TraceHash: "x"}
	index, err := WriteRun(dir, r, RunOptions{})
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{SummaryFile, ResultFile}, checkLinks(t, index))
	html, _ := os.ReadFile(index)
	assert.Contains(t, string(html), "no operations: no latency plot")
	assert.Contains(t, string(html), "no leader was lost")
}

// illegalHistory is two clients both granted r1 exclusively at once: no
// linearization exists.
func illegalHistory(t *testing.T) *scenarios.History {
	t.Helper()
	acq := func(client string, sess lockmgr.SessionID, call, ret time.Duration, token lockmgr.Token) scenarios.HistOp {
		return scenarios.HistOp{Op: locks.Op{Client: lockmgr.ClientID(client), Seq: 1, Kind: locks.OpAcquire, Session: sess,
			Resource: "r1", Mode: lockmgr.Exclusive}, Call: call, Return: ret, Done: true,
			Result: lockmgr.Result{Status: lockmgr.StatusGranted, Token: token}}
	}
	return &scenarios.History{Ops: []scenarios.HistOp{acq("c1", 1, 0, 10*ms1, 5), acq("c2", 2, 20*ms1, 30*ms1, 6)}}
}

func TestWriteRunShowsPorcupineForAHistoryThatIsNotLinearizable(t *testing.T) {
	v, info := illegalHistory(t).CheckLinearizable(time.Second)
	require.Equal(t, scenarios.NotLinearizable, v)
	r := fixture()
	r.Linearization = &info
	dir := t.TempDir()
	index, err := WriteRun(dir, r, RunOptions{})
	require.NoError(t, err)
	assert.Contains(t, checkLinks(t, index), LinearizableFile)
	data, err := os.ReadFile(filepath.Join(dir, LinearizableFile))
	require.NoError(t, err)
	assert.Contains(t, string(data), "c1 acquire r1", "porcupine describes the operations")

	// Read back from JSON, the checker's state is gone: the index says how
	// to get the visualisation.
	r.Linearization = nil
	r.Checks[2] = scenarios.CheckResult{Name: "linearizable", Detail: "verdict illegal"}
	dir = t.TempDir()
	index, err = WriteRun(dir, r, RunOptions{})
	require.NoError(t, err)
	assert.NotContains(t, checkLinks(t, index), LinearizableFile)
	html, _ := os.ReadFile(index)
	assert.Contains(t, string(html), "distsync run scenarios/fixture.yaml --seed 42 --report DIR")
}

func TestWriteSweepLinksEveryScenarioAndSeed(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sweep")
	sw := sweepFixture()
	m, _ := LookupMetric("p99")
	rep := fixture()
	rep.Scenario, rep.Seed = "leader-crash", 2
	reps := []Representative{
		{Scenario: "leader-crash", Seed: 2, Why: "the first failing seed", Result: rep},
		{Scenario: "clog", Seed: 1, Why: "the first seed", Note: "seed 1 could not be run again: scenarios/clog.yaml: no such file"},
	}
	index, err := WriteSweep(dir, sw, m, reps)
	require.NoError(t, err)
	linked := checkLinks(t, index)
	for _, name := range []string{SummaryFile, SweepFile, "leader-crash-p99.png", "leader-crash-p99.svg", "clog-p99.png",
		"leader-crash/index.html", "latency.png", "../" + IndexFile} {
		assert.Contains(t, linked, name)
	}
	html, _ := os.ReadFile(index)
	assert.Contains(t, string(html), "could not be run again")
	assert.Contains(t, string(html), "seed 2, the first failing seed")
	sub, _ := os.ReadFile(filepath.Join(dir, "leader-crash", IndexFile))
	assert.Contains(t, string(sub), "seed 2 of the sweep&#39;s 4 seeds of leader-crash: the first failing seed")
	in, err := Load(filepath.Join(dir, SweepFile))
	require.NoError(t, err)
	assert.Equal(t, sw, in.Sweep)
	noTempFiles(t, dir)
}

func TestLoadBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
		return p
	}
	good, err := json.Marshal(fixture())
	require.NoError(t, err)
	old := strings.Replace(string(good), `"version":1`, `"version":0`, 1)
	noVersion := strings.Replace(string(good), `"version":1,`, ``, 1)
	for name, tc := range map[string]struct{ path, want string }{
		"missing":         {filepath.Join(dir, "nope.json"), "no such file"},
		"empty":           {write("empty.json", "  \n"), "empty file"},
		"truncated":       {write("trunc.json", string(good[:len(good)/2])), "truncated JSON"},
		"other version":   {write("old.json", old), "results version 0, but this distsync reads version 1"},
		"no version":      {write("nov.json", noVersion), "results version 0"},
		"future sweep":    {write("sweep.json", `{"version": 9, "scenarios": []}`), "results version 9"},
		"not results":     {write("other.json", `{"name": "x"}`), "neither a run result"},
		"not an object":   {write("list.json", `[1, 2]`), "not a results file"},
		"wrong type":      {write("type.json", `{"version": 1, "scenario": 7}`), "cannot unmarshal"},
		"not json at all": {write("yaml.json", "name: x\n"), "not a results file"},
	} {
		_, err := Load(tc.path)
		require.Error(t, err, name)
		assert.True(t, errors.Is(err, ErrBadInput), "%s: %v", name, err)
		assert.Contains(t, err.Error(), tc.want, name)
	}
	in, err := Load(write("good.json", string(good)))
	require.NoError(t, err)
	assert.Equal(t, "fixture", in.Result.Scenario)
	assert.Nil(t, in.Sweep)
}

func TestUnwritableDirectoryIsAClearError(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o644))
	bad := filepath.Join(file, "report") // under a regular file: cannot be made, even by root
	err := CheckWritable(bad)
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrUnwritable), "%v", err)
	_, err = WriteRun(bad, fixture(), RunOptions{})
	assert.True(t, errors.Is(err, ErrUnwritable), "%v", err)
	m, _ := LookupMetric("events")
	_, err = WriteSweep(bad, sweepFixture(), m, nil)
	assert.True(t, errors.Is(err, ErrUnwritable), "%v", err)
}

func TestWriteFileAtomicReplacesWholeOrNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.txt")
	require.NoError(t, WriteFileAtomic(path, []byte("first")))
	require.NoError(t, WriteFileAtomic(path, []byte("second")))
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "second", string(data))
	// A rename onto a directory fails: the old contents stay and no
	// temporary file is left.
	target := filepath.Join(dir, "isdir")
	require.NoError(t, os.MkdirAll(filepath.Join(target, "child"), 0o755))
	err = WriteFileAtomic(target, []byte("x"))
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrUnwritable))
	noTempFiles(t, dir)
}
