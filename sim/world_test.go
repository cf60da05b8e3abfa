package sim_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/gossip"
	"github.com/distsync/distsync/sim"
)

func ids(n int) []nodes.NodeID {
	out := make([]nodes.NodeID, n)
	for i := range out {
		out[i] = nodes.NodeID("n" + string(rune('1'+i)))
	}
	return out
}

func TestGossipConverges(t *testing.T) {
	w, err := sim.New(sim.Config{
		Seed: 1, Nodes: ids(5), Factory: gossip.New(0),
		Network:   sim.LinkConfig{Latency: sim.Uniform(time.Millisecond, 10*time.Millisecond)},
		WireCheck: true,
	})
	require.NoError(t, err)
	require.NoError(t, w.Run(2*time.Second))
	for _, id := range w.Nodes() {
		g := w.Node(id).(*gossip.Node)
		require.True(t, g.Converged(), "node %s knows %v", id, g.Known())
	}
	t.Logf("trace-hash: %s events %d", w.Trace().HashString(), w.Stats().Events)
}
