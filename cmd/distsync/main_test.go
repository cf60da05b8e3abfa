package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

func TestChaosSweepPrintsATableAndPasses(t *testing.T) {
	for _, service := range []string{"locks", "gossip"} {
		out, err := run(t, "chaos", "--service", service, "--seeds", "2", "--duration", "3s", "--settle", "2s")
		require.NoError(t, err, out)
		assert.Contains(t, out, "trace-hash")
		assert.Contains(t, out, "2 of 2 seeds passed")
		for _, line := range strings.Split(out, "\n") {
			assert.LessOrEqual(t, len([]rune(line)), 100, "%s: line wider than 100 columns: %q", service, line)
		}
	}
}

func TestChaosOneSeedReplaysExactly(t *testing.T) {
	dir := t.TempDir()
	trace := filepath.Join(dir, "7.jsonl")
	a, err := run(t, "chaos", "--seed", "7", "--duration", "3s", "--settle", "2s", "--trace", trace)
	require.NoError(t, err, a)
	b, err := run(t, "chaos", "--seed", "7", "--duration", "3s", "--settle", "2s")
	require.NoError(t, err, b)
	hash := func(s string) string {
		i := strings.Index(s, "trace-hash: ")
		require.GreaterOrEqual(t, i, 0, s)
		return s[i : i+len("trace-hash: ")+16]
	}
	assert.Equal(t, hash(a), hash(b), "with or without a trace file, one seed gives one run")
	info, err := os.Stat(trace)
	require.NoError(t, err)
	assert.Positive(t, info.Size())
}

func TestBadFlagsAreUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"chaos", "--service", "cache"},
		{"chaos", "--seeds", "0"},
		{"chaos", "--trace", "x.jsonl"},
		{"chaos", "--every", "0s"},
		{"chaos", "--no-such-flag"},
		{"replay", "../../scenarios/leader-crash.yaml"},                                // no --seed
		{"shrink", "../../scenarios/leader-crash.yaml"},                                // no --seed
		{"replay", "../../scenarios/leader-crash.yaml", "--seed", "1", "--node", "n9"}, // no such node
		{"sweep", "../../scenarios/leader-crash.yaml", "--seeds", "2", "--seed-range", "1-2"},
		{"run", "../../scenarios/leader-crash.yaml", "--trace", "/proc/nonexistent/t.jsonl"},
		{"nosuchcommand"},
	} {
		_, err := run(t, args...)
		var u usageError
		assert.True(t, errors.As(err, &u), "%v: want a usage error (exit 2), got %v", args, err)
	}
}

func TestRunAShippedScenario(t *testing.T) {
	a, err := run(t, "run", "../../scenarios/leader-crash.yaml", "--seed", "3")
	require.NoError(t, err, a)
	assert.Contains(t, a, "ok leader-crash seed 3")
	lines := strings.Split(strings.TrimSpace(a), "\n")
	assert.Regexp(t, `^trace-hash: [0-9a-f]{16}$`, lines[len(lines)-1], "the last line is the trace-hash")
	b, err := run(t, "run", "../../scenarios/leader-crash.yaml", "--seed", "3", "--quiet")
	require.NoError(t, err)
	assert.Equal(t, lines[len(lines)-1], strings.TrimSpace(b[strings.LastIndex(b, "trace-hash"):]), "same seed, same trace-hash")
}

func TestRunBadScenarioIsExitCode2(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("name: x\ndescription: y\nduration: 10s\ncluster: {locks: 3}\ncheck: [raft-safety]\nfaults:\n  - {at: 1s, crash: n9}\n"), 0o644))
	_, err := run(t, "run", bad)
	var u usageError
	require.True(t, errors.As(err, &u), "got %v", err)
	assert.Contains(t, err.Error(), "bad.yaml:7")
	assert.Contains(t, err.Error(), `unknown node "n9"`)
}

func TestSweepShardsMergeToTheWholeSweep(t *testing.T) {
	dir := t.TempDir()
	file := "../../scenarios/follower-crash.yaml"
	whole := filepath.Join(dir, "whole.json")
	_, err := run(t, "sweep", file, "--seeds", "4", "--json", whole, "--check-determinism")
	require.NoError(t, err)
	for i := range 2 {
		_, err := run(t, "sweep", file, "--seeds", "4", "--shard", strconv.Itoa(i)+"/2", "--json", filepath.Join(dir, "s"+strconv.Itoa(i)+".json"))
		require.NoError(t, err)
	}
	_, err = run(t, "sweep", "merge", filepath.Join(dir, "s0.json"), filepath.Join(dir, "s0.json"))
	var u usageError
	require.True(t, errors.As(err, &u), "merging a shard with itself double-counts: %v", err)
	assert.Contains(t, err.Error(), "overlap")
	merged := filepath.Join(dir, "merged.json")
	out, err := run(t, "sweep", "merge", filepath.Join(dir, "s0.json"), filepath.Join(dir, "s1.json"), "-o", merged)
	require.NoError(t, err, out)
	hashes := func(path string) []string {
		var r SweepReport
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(data, &r))
		var hs []string
		for _, o := range r.Scenarios[0].Seeds {
			hs = append(hs, fmt.Sprintf("%d:%s", o.Seed, o.TraceHash))
		}
		return hs
	}
	assert.Equal(t, hashes(whole), hashes(merged))
	assert.Len(t, hashes(whole), 4)
}

func TestReplayPrintsEventsWithRoleAndTerm(t *testing.T) {
	out, err := run(t, "replay", "../../scenarios/leader-crash.yaml", "--seed", "2", "--from", "4s", "--to", "4.2s", "--node", "n2")
	require.NoError(t, err, out)
	assert.Regexp(t, `(?m)^\s*4\.\d+s n2\s+(follower|leader|candidate|pre-candidate|precandidate)/\d+\s+\w+`, out)
	assert.Contains(t, out, "ok leader-crash seed 2")
	assert.NotContains(t, out, "  3.9", "nothing before --from")
}

func TestShrinkOfAPassingSeedSaysSo(t *testing.T) {
	_, err := run(t, "shrink", "../../scenarios/leader-crash.yaml", "--seed", "1", "--max-runs", "3")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "nothing to shrink")
}
