package queues

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/protocols/hashring"
	"github.com/distsync/distsync/protocols/queue"
	"github.com/distsync/distsync/protocols/raft"
)

func TestConfigDefaults(t *testing.T) {
	in := Config{Servers: []nodes.NodeID{"n3", "n1", "n2"}}
	c, h, err := in.withDefaults()
	require.NoError(t, err)
	require.Equal(t, "md5", h.Name())
	require.Equal(t, []nodes.NodeID{"n1", "n2", "n3"}, c.Servers, "servers sorted")
	require.Equal(t, []nodes.NodeID{"n3", "n1", "n2"}, in.Servers, "the caller's slice is not sorted in place")
	require.Equal(t, "md5", c.Hash)
	require.Equal(t, hashring.DefaultVNodes, c.VNodes)
	require.Equal(t, DefaultReplicas, c.Replicas)
	require.Equal(t, 3, c.Replicas)
	require.Equal(t, DefaultTick, c.Tick)
	require.Equal(t, DefaultVisibilityCheck, c.VisibilityCheck)
	require.Equal(t, uint64(DefaultSnapshotEvery), c.SnapshotEvery)
	require.Equal(t, int64(DefaultCompactBytes), c.CompactBytes)
	require.Equal(t, DefaultMaxGroups, c.MaxGroups)
	require.Equal(t, queue.DefaultMaxPayload, c.Queue.MaxPayload)

	// Set values are kept.
	set := Config{
		Servers: []nodes.NodeID{"a"}, Hash: "xxhash", VNodes: 7, Replicas: 5, Tick: time.Millisecond,
		VisibilityCheck: time.Second, SnapshotEvery: 9, CompactBytes: 1 << 10, MaxGroups: 2,
		Queue: queue.Config{MaxPayload: 1024},
	}
	c, h, err = set.withDefaults()
	require.NoError(t, err)
	require.Equal(t, "xxhash", h.Name())
	require.Equal(t, set, c)

	// The bounds themselves are accepted.
	_, _, err = Config{Servers: []nodes.NodeID{"a"}, Replicas: raft.MaxPeers, VNodes: hashring.MaxVNodes,
		Queue: queue.Config{MaxPayload: queue.MaxWirePayload}}.withDefaults()
	require.NoError(t, err)
}

func TestConfigErrorsNameTheField(t *testing.T) {
	servers := []nodes.NodeID{"n1", "n2", "n3"}
	many := make([]nodes.NodeID, MaxMembers+1)
	for i := range many {
		many[i] = nodes.NodeID("n" + strings.Repeat("x", i))
	}
	for _, c := range []struct {
		name  string
		cfg   Config
		field string
	}{
		{"no servers", Config{}, "servers:"},
		{"empty servers", Config{Servers: []nodes.NodeID{}}, "servers:"},
		{"too many servers", Config{Servers: many}, "servers:"},
		{"duplicate server", Config{Servers: []nodes.NodeID{"n2", "n1", "n2"}}, `servers: "n2" listed twice`},
		{"invalid server", Config{Servers: []nodes.NodeID{"n1", "bad/id"}}, "servers[1]"},
		{"empty server id", Config{Servers: []nodes.NodeID{""}}, "servers[0]"},
		{"bad hash", Config{Servers: servers, Hash: "sha1"}, "hash:"},
		{"negative vnodes", Config{Servers: servers, VNodes: -1}, "vnodes:"},
		{"too many vnodes", Config{Servers: servers, VNodes: hashring.MaxVNodes + 1}, "vnodes:"},
		{"negative replicas", Config{Servers: servers, Replicas: -1}, "replicas:"},
		{"too many replicas", Config{Servers: servers, Replicas: raft.MaxPeers + 1}, "replicas:"},
		{"negative tick", Config{Servers: servers, Tick: -time.Millisecond}, "tick:"},
		{"negative visibility check", Config{Servers: servers, VisibilityCheck: -1}, "visibility_check:"},
		{"negative compact bytes", Config{Servers: servers, CompactBytes: -1}, "compact_bytes:"},
		{"negative max groups", Config{Servers: servers, MaxGroups: -1}, "max_groups:"},
		{"negative max payload", Config{Servers: servers, Queue: queue.Config{MaxPayload: -1}}, "queue.max_payload:"},
		{"max payload too large", Config{Servers: servers, Queue: queue.Config{MaxPayload: queue.MaxWirePayload + 1}}, "queue.max_payload:"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, h, err := c.cfg.withDefaults()
			require.Error(t, err)
			require.Nil(t, h)
			require.True(t, strings.HasPrefix(err.Error(), "queues config: "+c.field), "error %q does not name %q", err, c.field)
			f, err2 := NewServer(c.cfg)
			require.Nil(t, f)
			require.EqualError(t, err2, err.Error())
		})
	}
}

func TestConfigReplicasZeroMeansDefault(t *testing.T) {
	c, _, err := Config{Servers: []nodes.NodeID{"n1"}, Replicas: 0}.withDefaults()
	require.NoError(t, err)
	require.Equal(t, 3, c.Replicas, "0 means the default, capped by the ring later")
}
