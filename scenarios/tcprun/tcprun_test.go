package tcprun

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/cluster"
	"github.com/distsync/distsync/scenarios/spec"
)

func TestMain(m *testing.M) {
	if os.Getenv(cluster.NodeEnv) == "1" {
		os.Exit(cluster.RunNode(os.Args[1:], os.Stderr))
	}
	os.Exit(m.Run())
}

// localCluster starts n node processes (this test binary) with fault
// injection on, stopped when the test ends.
func localCluster(t *testing.T, n int) *cluster.File {
	t.Helper()
	if testing.Short() {
		t.Skip("real processes: skipped with -short")
	}
	base, err := cluster.FreeBasePort(n)
	require.NoError(t, err)
	path, err := cluster.WriteLocal(cluster.LocalSpec{Nodes: n, Dir: t.TempDir(), BasePort: base})
	require.NoError(t, err)
	f, err := cluster.Load(path)
	require.NoError(t, err)
	t.Setenv(cluster.NodeEnv, "1")
	require.NoError(t, cluster.Launch(f, os.Args[0], "--enable-fault-injection"))
	t.Cleanup(func() { _, _ = cluster.Down(f, 5*time.Second) })
	return f
}

func parse(t *testing.T, yaml string) *spec.Scenario {
	t.Helper()
	s, err := spec.Parse("t.yaml", []byte(yaml))
	require.NoError(t, err)
	return s
}

// TestRunAgainstRealCluster runs lock and queue workloads through a leader
// crash, an isolation and a lossy window, and checks them.
func TestRunAgainstRealCluster(t *testing.T) {
	f := localCluster(t, 3)
	s := parse(t, `
name: tcp-smoke
description: locks and queues through a crash, an isolation and loss.
duration: 5s
settle: 2s
cluster: {locks: 3}
workload:
  - {service: locks, clients: 3, rate: 60/s, resources: 4, wait: 1s}
faults:
  - {at: 1s, crash: leader(locks), restart_after: 500ms}
  - {at: 1800ms, isolate: n2, heal_after: 400ms}
  - {from: 2300ms, to: 2800ms, loss: 0.1}
check: [raft-safety, linearizable, liveness]
`)
	res, err := Run(context.Background(), s, Options{Cluster: f, Binary: os.Args[0], Seed: 1})
	require.NoError(t, err)
	require.True(t, res.Real)
	for _, r := range res.Faults {
		require.True(t, r.Applied, "fault %d (%s %s): %s", r.Index, r.Kind, r.Target, r.Note)
	}
	require.True(t, res.Passed, "%+v", res.Checks)
	names := map[string]bool{}
	for _, c := range res.Checks {
		names[c.Name] = true
		if c.Name == "raft-safety" {
			require.True(t, c.Skipped)
		}
	}
	for _, want := range []string{"linearizable (locks)", "liveness", "heal"} {
		require.True(t, names[want], "check %q missing: %+v", want, res.Checks)
	}
	ok := 0
	for _, op := range res.Ops {
		if op.Outcome == "ok" {
			ok++
		}
	}
	require.Greater(t, ok, 50)

	// The queue: its group leader crashes; nothing acknowledged is lost.
	q := parse(t, `
name: tcp-queue
description: the leader of q0's group crashes under load.
duration: 4s
settle: 2s
cluster: {queues: 3}
workload:
  - {service: queues, clients: 3, rate: 90/s, resources: 2, visibility: 1s}
faults:
  - {at: 1s, crash: leader(queues), restart_after: 500ms}
check: [queue-safety, at-least-once, liveness]
`)
	res, err = Run(context.Background(), q, Options{Cluster: f, Binary: os.Args[0], Seed: 2})
	require.NoError(t, err)
	require.True(t, res.Faults[0].Applied, res.Faults[0].Note)
	require.True(t, res.Passed, "%+v", res.Checks)
}

func TestRunRefusesWhatARealClusterCannotDo(t *testing.T) {
	f, err := cluster.Parse("c.yaml", []byte(`
token: 00112233445566778899aabbccddeeff
nodes:
  - {id: n1, peer: 127.0.0.1:1, http: 127.0.0.1:2, dir: n1}
`))
	require.NoError(t, err)
	for _, tc := range []struct{ name, faults, want string }{
		{"disk", "  - {at: 1s, for: 1s, disk: {node: n1, corrupt_read: 0.5}}", "disk faults cannot be applied"},
		{"skew", "  - {at: 1s, skew: {node: n1, offset: 1s}}", "skew faults cannot be applied"},
		{"unknown node", "  - {at: 1s, crash: n1}\n  - {at: 2s, isolate: n1, heal_after: 1s}\n  - {at: 3s, crash: n2}", `node "n2" is not in the cluster file`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := parse(t, "name: x\ndescription: d\nduration: 10s\ncluster: {locks: 3}\nworkload:\n  - {service: locks, clients: 1, resources: 1}\nfaults:\n"+tc.faults+"\ncheck: [liveness]\n")
			_, err := Run(context.Background(), s, Options{Cluster: f})
			require.ErrorContains(t, err, tc.want)
		})
	}
}
