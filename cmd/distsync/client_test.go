package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/cluster"
	"github.com/distsync/distsync/httpapi/client/clienttest"
)

// jsonOut decodes a command's output.
func jsonOut(t *testing.T, out string) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &m), "output %q", out)
	return m
}

func TestClientCommandsAgainstARealCluster(t *testing.T) {
	cl := clienttest.Start(t, 3)
	c := func(args ...string) (string, error) {
		return run(t, append([]string{"client", "--cluster", cl.Path}, args...)...)
	}
	ok := func(args ...string) map[string]any {
		t.Helper()
		out, err := c(args...)
		require.NoError(t, err, "%v: %s", args, out)
		return jsonOut(t, out)
	}

	// Locks.
	a := ok("locks", "acquire", "r1", "--wait", "1s", "--ttl", "30s")
	assert.Equal(t, true, a["granted"])
	session := strconv.FormatFloat(a["session"].(float64), 'f', 0, 64)
	show := ok("locks", "show", "r1")
	require.Len(t, show["holders"], 1)
	out, err := c("locks", "acquire", "r1", "--wait", "0s")
	require.Error(t, err, out)
	var u usageError
	assert.False(t, errors.As(err, &u), "an API error is exit 1, not 2")
	assert.Contains(t, err.Error(), "409 would_block")
	assert.Equal(t, true, ok("locks", "renew", "--session", session)["ok"])
	assert.Equal(t, true, ok("locks", "release", "r1", "--session", session)["ok"])
	s := ok("locks", "open-session", "--ttl", "20s")
	assert.Equal(t, "20s", s["ttl"])
	ok("locks", "close-session", "--session", strconv.FormatFloat(s["session"].(float64), 'f', 0, 64))

	// Queue.
	e := ok("queue", "enqueue", "jobs", "hello", "--dedup", "d1")
	assert.Equal(t, false, e["duplicate"])
	assert.Equal(t, true, ok("queue", "enqueue", "jobs", "hello", "--dedup", "d1")["duplicate"])
	d := ok("queue", "dequeue", "jobs", "--visibility", "10s")
	assert.Equal(t, "hello", d["body_text"])
	assert.Equal(t, e["id"], d["id"])
	assert.Equal(t, true, ok("queue", "ack", "jobs", d["receipt"].(string))["acked"])
	assert.Equal(t, true, ok("queue", "dequeue", "jobs")["empty"])

	// Cache, with a value from a file.
	file := filepath.Join(t.TempDir(), "v")
	require.NoError(t, os.WriteFile(file, []byte("from a file"), 0o644))
	ok("cache", "put", "k1", "--file", file)
	assert.Equal(t, "from a file", ok("cache", "get", "k1")["value"])
	ok("cache", "put", "k1", "v2")
	out, err = c("cache", "get", "k1", "--raw")
	require.NoError(t, err)
	assert.Equal(t, "v2", out)
	assert.Equal(t, true, ok("cache", "delete", "k1")["deleted"])
	_, err = c("cache", "get", "k1")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "404 not_found")

	// Every node's status and health.
	for _, what := range []string{"status", "health"} {
		out, err := c(what)
		require.NoError(t, err, out)
		var nodes []map[string]any
		require.NoError(t, json.Unmarshal([]byte(out), &nodes))
		require.Len(t, nodes, 3)
		assert.NotNil(t, nodes[0][what], "%s", out)
	}
	out, err = run(t, "client", "--endpoint", cl.Endpoints[1], "--compact", "health")
	require.NoError(t, err)
	assert.Equal(t, `[{"endpoint":"`+cl.Endpoints[1]+`","health":{"node":"n2","status":"ok"}}]`+"\n", out)
}

func TestClientBadUsageIsExitCode2(t *testing.T) {
	dead := "http://127.0.0.1:1"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--endpoint", "localhost:7401", "health"}, "--endpoint"},
		{[]string{"--endpoint", dead, "--cluster", "c.yaml", "health"}, "--endpoint, --cluster"},
		{[]string{"--cluster", "/nonexistent/cluster.yaml", "health"}, "--cluster"},
		{[]string{"--endpoint", dead, "--timeout", "0s", "health"}, "--timeout"},
		{[]string{"--endpoint", dead, "locks", "release", "r1"}, "--session"},
		{[]string{"--endpoint", dead, "locks", "renew"}, "--session"},
		{[]string{"--endpoint", dead, "locks", "acquire", "r1", "--mode", "sideways"}, "--mode"},
		{[]string{"--endpoint", dead, "locks", "acquire", "r1", "--session", "3", "--ttl", "5s"}, "--ttl"},
		{[]string{"--endpoint", dead, "locks", "acquire", "r1", "--wait", "-1s"}, "--wait"},
		{[]string{"--endpoint", dead, "locks", "acquire"}, "accepts 1 arg"},
		{[]string{"--endpoint", dead, "queue", "ack", "q", "12x"}, "RECEIPT"},
		{[]string{"--endpoint", dead, "queue", "enqueue", "q"}, "BODY"},
		{[]string{"--endpoint", dead, "queue", "enqueue", "q", "b", "--file", "f"}, "--file"},
		{[]string{"--endpoint", dead, "cache", "put", "k"}, "VALUE"},
		{[]string{"--endpoint", dead, "cache", "put", "k", "--file", "/nonexistent/v"}, "--file"},
		{[]string{"--endpoint", dead, "cache", "nosuch"}, "unknown command"},
	} {
		out, err := run(t, append([]string{"client"}, tc.args...)...)
		var u usageError
		require.True(t, errors.As(err, &u), "%v: want a usage error (exit 2), got %v: %s", tc.args, err, out)
		assert.Contains(t, err.Error(), tc.want, "%v", tc.args)
	}
	_, err := run(t, "client", "--endpoint", dead, "--retries", "0", "locks", "show", "r1")
	var u usageError
	require.Error(t, err)
	assert.False(t, errors.As(err, &u), "no node answering is exit 1: %v", err)
	assert.Contains(t, err.Error(), "unreachable")
}

func TestClientDefaultEndpoints(t *testing.T) {
	t.Chdir(t.TempDir())
	eps, _, err := (&target{}).resolve()
	require.NoError(t, err)
	assert.Equal(t, []string{defaultEndpoint}, eps, "no local cluster file: node 1 of the default ports")
	_, err = cluster.WriteLocal(cluster.LocalSpec{Nodes: 2, Dir: defaultClusterDir, BasePort: 20000})
	require.NoError(t, err)
	eps, _, err = (&target{}).resolve()
	require.NoError(t, err)
	assert.Equal(t, []string{"http://127.0.0.1:20001", "http://127.0.0.1:20002"}, eps, "the local cluster's nodes")
	eps, _, err = (&target{endpoints: []string{"https://h:1"}}).resolve()
	require.NoError(t, err)
	assert.Equal(t, []string{"https://h:1"}, eps)
}
