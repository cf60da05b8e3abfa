package runtime

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/gossip"
	"github.com/distsync/distsync/sim"
)

const gossipInterval = 20 * time.Millisecond

// gossipState reads a gossip node's outcome through its event loop.
func gossipState(t *testing.T, h *Host) (converged bool, known []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, h.Do(ctx, func(n nodes.Node, _ nodes.Env) {
		g := n.(*gossip.Node)
		converged, known = g.Converged(), g.Known()
	}))
	return converged, known
}

// waitConverged polls every host through its loop until all have
// converged, or fails after deadline. It returns each node's tokens.
func waitConverged(t *testing.T, hosts map[nodes.NodeID]*Host, deadline time.Duration) map[nodes.NodeID][]string {
	t.Helper()
	end := time.Now().Add(deadline)
	for {
		out := map[nodes.NodeID][]string{}
		all := true
		for id, h := range hosts {
			conv, known := gossipState(t, h)
			out[id] = known
			all = all && conv
		}
		if all {
			return out
		}
		if time.Now().After(end) {
			require.FailNow(t, "gossip did not converge", "after %v: %v", deadline, out)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// simOutcome runs the same cluster in the simulator.
func simOutcome(t *testing.T, idList []nodes.NodeID) map[nodes.NodeID][]string {
	t.Helper()
	w, err := sim.New(sim.Config{
		Seed: 1, Nodes: idList, Factory: gossip.New(gossipInterval),
		Network:   sim.LinkConfig{Latency: sim.Uniform(time.Millisecond, 5*time.Millisecond)},
		WireCheck: true,
	})
	require.NoError(t, err)
	require.NoError(t, w.Run(2*time.Second))
	out := map[nodes.NodeID][]string{}
	for _, id := range idList {
		g := w.Node(id).(*gossip.Node)
		require.True(t, g.Converged(), "sim node %s knows %v", id, g.Known())
		out[id] = g.Known()
	}
	return out
}

// TestGossipOverTCPMatchesSimulator is the point of the runtime: the very
// same node code, run as goroutine-hosted nodes over real TCP with real
// files, reaches the outcome the simulator reaches.
func TestGossipOverTCPMatchesSimulator(t *testing.T) {
	idList := ids(3)
	want := simOutcome(t, idList)

	hosts, _, _ := startCluster(t, idList, gossip.New(gossipInterval), nil)
	got := waitConverged(t, hosts, 10*time.Second)
	require.Equal(t, want, got)
	require.Equal(t, []string{"n1", "n2", "n3"}, got["n1"])
	for id, h := range hosts {
		st := h.Stats()
		require.Positive(t, st.Sent, "node %s sent nothing", id)
		require.Positive(t, st.Received, "node %s received nothing", id)
		require.Zero(t, st.DecodeErrors+st.FrameErrors+st.DroppedWrongDest+st.DroppedUnknownSender, "node %s: %+v", id, st)
	}
}

// TestGossipRecoversFromDisk stops a converged cluster and starts one node
// alone on its old directory: with no peer to learn from, the tokens it
// knows can only come from its disk.
func TestGossipRecoversFromDisk(t *testing.T) {
	idList := ids(3)
	hosts, addrs, dirs := startCluster(t, idList, gossip.New(gossipInterval), nil)
	before := waitConverged(t, hosts, 10*time.Second)
	for _, h := range hosts {
		require.NoError(t, h.Stop())
	}

	h := startHost(t, Config{ID: "n2", Peers: addrs, Dir: dirs["n2"], Factory: gossip.New(gossipInterval)})
	conv, known := gossipState(t, h)
	require.True(t, conv)
	require.Equal(t, before["n2"], known)
	require.Equal(t, []string{"n1", "n2", "n3"}, known)

	// A fresh directory, by contrast, knows only the node's own token.
	fresh := startHost(t, Config{ID: "n3", Peers: addrs, Listen: "127.0.0.1:0", Dir: t.TempDir(), Factory: gossip.New(time.Hour)})
	_, known = gossipState(t, fresh)
	require.Equal(t, []string{"n3"}, known)
}
