package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/reports"
)

// xmlElements parses an XML document and counts its elements by name and
// by "name.firstclass".
func xmlElements(t *testing.T, doc []byte) map[string]int {
	t.Helper()
	counts := map[string]int{}
	dec := xml.NewDecoder(bytes.NewReader(doc))
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return counts
		}
		require.NoError(t, err, "must parse as XML")
		if se, ok := tok.(xml.StartElement); ok {
			counts[se.Name.Local]++
			for _, a := range se.Attr {
				if a.Name.Local == "class" {
					counts[se.Name.Local+"."+strings.Fields(a.Value)[0]]++
				}
			}
		}
	}
}

func TestBenchScalingWritesTableAndPlots(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "scaling")
	out, err := run(t, "bench", "scaling", "--service", "locks", "--nodes", "1,3", "--seconds", "0.3", "--clients", "8", "--out", dir)
	require.NoError(t, err, out)
	for _, want := range []string{"nodes", "ops/s", "p50 ms", "Original design", "100 / 250 / 400 ops/s at 1 / 3 / 5 nodes",
		"network: every link one way uniform(500µs..3ms), loss 0", "disk: fsync 500µs", "expected to stay flat or fall", "wrote "} {
		assert.Contains(t, out, want)
	}
	assert.Regexp(t, `(?m)^│ 1 +│ \d+ +│`, out, "a row for 1 node")
	assert.Regexp(t, `(?m)^│ 3 +│ \d+ +│`, out, "a row for 3 nodes")

	var rep reports.ScalingReport
	data, err := os.ReadFile(filepath.Join(dir, "scaling.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &rep))
	require.Len(t, rep.Rows, 2, "one row per size")
	assert.Equal(t, 1, rep.Rows[0].Nodes)
	assert.Equal(t, 3, rep.Rows[1].Nodes)
	assert.Equal(t, 250.0, rep.Rows[1].Original)
	for _, r := range rep.Rows {
		assert.Positive(t, r.Throughput)
		assert.Positive(t, r.LatencyP50)
		assert.Positive(t, r.Events)
	}
	md, err := os.ReadFile(filepath.Join(dir, "scaling.md"))
	require.NoError(t, err)
	assert.Contains(t, string(md), "| nodes |")

	f, err := os.Open(filepath.Join(dir, "scaling.png"))
	require.NoError(t, err)
	defer f.Close()
	_, err = png.Decode(f)
	require.NoError(t, err, "a valid PNG")
	svg, err := os.ReadFile(filepath.Join(dir, "scaling.svg"))
	require.NoError(t, err)
	assert.Equal(t, 1, xmlElements(t, svg)["svg"], "a valid SVG")
	left, err := filepath.Glob(filepath.Join(dir, ".*"))
	require.NoError(t, err)
	assert.Empty(t, left, "no temporary file left behind")
}

// runStdout runs the CLI and returns its stdout and stderr apart.
func runStdout(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	root := newRoot()
	var out, errs bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errs)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), errs.String(), err
}

func TestBenchScalingJSONIsDeterministic(t *testing.T) {
	args := []string{"bench", "scaling", "--nodes", "3", "--seconds", "0.2", "--clients", "4", "--format", "json", "--out", t.TempDir()}
	a, progress, err := runStdout(t, args...)
	require.NoError(t, err)
	assert.Contains(t, progress, "scaling: 3 node(s):", "progress goes to stderr")
	b, _, err := runStdout(t, args...)
	require.NoError(t, err)
	var ra, rb reports.ScalingReport
	require.NoError(t, json.Unmarshal([]byte(a), &ra), "stdout is the JSON alone: %s", a)
	require.NoError(t, json.Unmarshal([]byte(b), &rb))
	require.Len(t, ra.Rows, 1)
	ra.Rows[0].Wall, rb.Rows[0].Wall = 0, 0
	assert.Equal(t, ra, rb, "same seed, same figures")
}

func TestBenchScalingBadInput(t *testing.T) {
	file := filepath.Join(t.TempDir(), "a-file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--nodes", "0"}, "0 outside [1, 9]"},
		{[]string{"--nodes", "1,10"}, "10 outside [1, 9]"},
		{[]string{"--nodes", "one,three"}, `"one" is not a number`},
		{[]string{"--nodes", ""}, "is not a number"},
		{[]string{"--nodes", "3,3"}, "3 given twice"},
		{[]string{"--service", "queue"}, "service queue is not built yet"},
		{[]string{"--service", "cache"}, "service cache is not built yet"},
		{[]string{"--service", "kv"}, `unknown service "kv"`},
		{[]string{"--seconds", "0"}, "--seconds"},
		{[]string{"--clients", "65"}, "--clients"},
		{[]string{"--loss", "0.9"}, "--loss"},
		{[]string{"--format", "xml"}, "--format"},
		{[]string{"--out", filepath.Join(file, "sub")}, "--out"},
		{[]string{"--seconds", "abc"}, "invalid argument"},
	} {
		args := append([]string{"bench", "scaling", "--out", t.TempDir()}, c.args...)
		_, err := run(t, args...)
		var u usageError
		require.True(t, errors.As(err, &u), "%v: want a usage error (exit 2), got %v", c.args, err)
		assert.Contains(t, err.Error(), c.want, "%v", c.args)
	}
	_, err := run(t, "bench", "nosuch")
	var u usageError
	assert.True(t, errors.As(err, &u), "an unknown bench is a usage error: %v", err)
}

func TestReplayDrawsADiagram(t *testing.T) {
	dir := t.TempDir()
	svg := filepath.Join(dir, "d", "913.svg")
	out, err := run(t, "replay", "../../scenarios/leader-crash.yaml", "--seed", "2", "--from", "3.99s", "--to", "4.05s",
		"--diagram", svg, "--quiet")
	require.NoError(t, err, out)
	assert.Regexp(t, `diagram: .*913\.svg \(3\.99s to 4\.05s, \d+ lanes, \d+ messages`, out)
	assert.NotContains(t, out, " deliver ", "--quiet prints no events")
	doc, err := os.ReadFile(svg)
	require.NoError(t, err)
	c := xmlElements(t, doc)
	assert.GreaterOrEqual(t, c["line.lane"], 5, "a lane per server, and clients")
	assert.Positive(t, c["line.arrow"])
	assert.Positive(t, c["path.head"])
	assert.Equal(t, 1, c["path.crash"], "the leader crashes at 4s")
	assert.Contains(t, string(doc), "MsgApp", "Raft messages are labelled by kind")

	// Servers only, one node's messages: fewer arrows, five lanes.
	svg2 := filepath.Join(dir, "n2.svg")
	_, err = run(t, "replay", "../../scenarios/leader-crash.yaml", "--seed", "2", "--from", "3.99s", "--to", "4.05s",
		"--diagram", svg2, "--quiet", "--clients=false", "--node", "n2")
	require.NoError(t, err)
	doc2, err := os.ReadFile(svg2)
	require.NoError(t, err)
	c2 := xmlElements(t, doc2)
	assert.Equal(t, 5, c2["line.lane"])
	assert.Less(t, c2["line.arrow"], c["line.arrow"])
}

func TestReplayDiagramIsBoundedAndChecked(t *testing.T) {
	dir := t.TempDir()
	svg := filepath.Join(dir, "all.svg")
	out, err := run(t, "replay", "../../scenarios/leader-crash.yaml", "--seed", "2", "--diagram", svg, "--quiet", "--max-messages", "50")
	require.NoError(t, err, out)
	assert.Contains(t, out, "truncated at")
	doc, err := os.ReadFile(svg)
	require.NoError(t, err)
	assert.Contains(t, string(doc), "TRUNCATED: drew the first 50 messages")
	assert.LessOrEqual(t, xmlElements(t, doc)["line.arrow"], 100, "at most two arrows per message")

	file := filepath.Join(dir, "a-file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	for _, args := range [][]string{
		{"--diagram", filepath.Join(file, "x.svg")},
		{"--diagram", svg, "--max-messages", "0"},
	} {
		_, err := run(t, append([]string{"replay", "../../scenarios/leader-crash.yaml", "--seed", "2"}, args...)...)
		var u usageError
		assert.True(t, errors.As(err, &u), "%v: want a usage error, got %v", args, err)
	}
}
