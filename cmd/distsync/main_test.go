package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
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
	} {
		_, err := run(t, args...)
		var u usageError
		assert.True(t, errors.As(err, &u), "%v: want a usage error (exit 2), got %v", args, err)
	}
}
