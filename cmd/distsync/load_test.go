package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/httpapi/client/clienttest"
	"github.com/distsync/distsync/loadgen"
)

func TestLoadBadFlagsAreExitCode2AndNameTheFlag(t *testing.T) {
	ep := []string{"--endpoint", "http://127.0.0.1:1"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--clients", "4"}, "--service: required"},
		{[]string{"--service", "gossip"}, `--service: "gossip"`},
		{[]string{"--service", "locks", "--clients", "0"}, "--clients: 0"},
		{[]string{"--service", "locks", "--clients", "-3"}, "--clients: -3"},
		{[]string{"--service", "locks", "--clients", "5000"}, "--clients: 5000"},
		{[]string{"--service", "queue", "--duration", "0s"}, "--duration: 0s"},
		{[]string{"--service", "queue", "--duration", "soon"}, "--duration"},
		{[]string{"--service", "queue", "--resources", "0"}, "--resources: 0"},
		{[]string{"--service", "cache", "--value-bytes", "0"}, "--value-bytes: 0"},
		{[]string{"--service", "cache", "--writes", "1.5"}, "--writes: 1.5"},
		{[]string{"--service", "cache", "--zipf", "1"}, "--zipf: 1"},
		{[]string{"--service", "locks", "--wait", "0s"}, "--wait: 0s"},
		{[]string{"--service", "locks", "--writes", "0.5"}, "--writes: only for --service cache"},
		{[]string{"--service", "cache", "--wait", "2s"}, "--wait: only for --service locks"},
		{[]string{"--service", "locks", "--format", "yaml"}, "--format"},
		{[]string{"--service", "locks", "--report", "/proc/nonexistent/r"}, "--report"},
		{[]string{"--service", "locks", "--timeout", "0s"}, "--timeout: 0s"},
		{[]string{"--service", "locks", "--endpoint", "nohost"}, "--endpoint"},
		{[]string{"--service", "locks", "--cluster", "/nonexistent/c.yaml"}, "--cluster"},
		{[]string{"--service", "locks", "extra"}, "unknown command"},
	} {
		args := append([]string{"load"}, tc.args...)
		if !strings.Contains(strings.Join(tc.args, " "), "--endpoint") && !strings.Contains(strings.Join(tc.args, " "), "--cluster") {
			args = append(args, ep...)
		}
		out, err := run(t, args...)
		var u usageError
		require.True(t, errors.As(err, &u), "%v: want a usage error (exit 2), got %v: %s", tc.args, err, out)
		assert.Contains(t, err.Error(), tc.want, "%v", tc.args)
	}
}

func TestLoadAgainstARealCluster(t *testing.T) {
	cl := clienttest.Start(t, 3)
	dir := filepath.Join(t.TempDir(), "report")
	out, err := run(t, "load", "--cluster", cl.Path, "--service", "locks", "--clients", "4", "--duration", "1s",
		"--resources", "4", "--report", dir)
	require.NoError(t, err, out)
	assert.Contains(t, out, "WARNING: real processes, not a simulation.")
	assert.Contains(t, out, "not deterministic")
	for _, col := range []string{"op", "ok", "errors", "ops/s", "p50", "p95", "p99", "max", "acquire+release"} {
		assert.Contains(t, out, col)
	}
	assert.Contains(t, out, "report: "+dir)
	var r loadgen.Result
	data, err := os.ReadFile(filepath.Join(dir, loadgen.ResultFile))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &r))
	assert.Positive(t, r.Op(loadgen.KindAcquireRelease).OK)
	for _, f := range []string{"summary.txt", "summary.md", "latency.png", "latency.svg", "latency-cdf.png", "throughput.svg"} {
		_, err := os.Stat(filepath.Join(dir, f))
		assert.NoError(t, err, f)
	}
	md, err := os.ReadFile(filepath.Join(dir, loadgen.SummaryMDFile))
	require.NoError(t, err)
	assert.Contains(t, string(md), "| acquire+release |")
}
