package caches

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/protocols/mesi"
	"github.com/distsync/distsync/sim"
	"github.com/stretchr/testify/require"
)

func ids(prefix string, n int) []nodes.NodeID {
	out := make([]nodes.NodeID, n)
	for i := range out {
		out[i] = nodes.NodeID(fmt.Sprintf("%s%d", prefix, i+1))
	}
	return out
}

type cluster struct {
	w       *sim.World
	servers []nodes.NodeID
	clients []nodes.NodeID
}

func newCluster(t *testing.T, seed sim.Seed, cfg Config, servers, clients []nodes.NodeID, net sim.LinkConfig) *cluster {
	t.Helper()
	cfg.Nodes = servers
	newServer, err := NewServer(cfg)
	require.NoError(t, err)
	newClient, err := NewClient(ClientConfig{Servers: servers, Keys: 8, Zipf: 1.2, Writes: 0.4, Think: 5 * time.Millisecond, RequestTimeout: 200 * time.Millisecond})
	require.NoError(t, err)
	all := append(slices.Clone(servers), clients...)
	if cfg.Memory != "" {
		all = append(all, cfg.Memory)
	}
	w, err := sim.New(sim.Config{
		Seed: seed, Nodes: all, Network: net,
		Disk: sim.DiskConfig{WriteLatency: sim.Constant(5 * time.Microsecond), SyncLatency: sim.Constant(50 * time.Microsecond)},
		Factory: func(id nodes.NodeID) nodes.Node {
			if slices.Contains(clients, id) {
				return newClient(id)
			}
			return newServer(id)
		},
		WireCheck: true,
	})
	require.NoError(t, err)
	return &cluster{w: w, servers: servers, clients: clients}
}

// swmr checks SWMR for every key across the live cache nodes.
func swmr(servers []nodes.NodeID) sim.Checker {
	return func(w *sim.World) error {
		lines := map[mesi.NodeID][]mesi.Line{}
		for _, id := range servers {
			if s, ok := w.Node(id).(*Server); ok && s.Protocol() != nil {
				lines[mesi.NodeID(id)] = s.Protocol().Lines()
			}
		}
		return mesi.CheckSWMRAll(lines)
	}
}

// runAndDrain runs the workload for d, stops the clients and requires
// every operation invoked to complete within drain.
func (c *cluster) runAndDrain(t *testing.T, d, drain time.Duration) uint64 {
	t.Helper()
	require.NoError(t, c.w.Run(d))
	for _, id := range c.clients {
		c.w.Node(id).(*Client).Stop()
	}
	end := c.w.Now() + drain
	idle := func() bool {
		for _, id := range c.clients {
			if !c.w.Node(id).(*Client).Idle() {
				return false
			}
		}
		return true
	}
	for !idle() && c.w.Now() < end {
		require.NoError(t, c.w.Run(c.w.Now()+10*time.Millisecond))
	}
	var total uint64
	for _, id := range c.clients {
		cl := c.w.Node(id).(*Client)
		require.True(t, cl.Idle(), "client %s stuck on %+v at %v", id, cl.cur, c.w.Now())
		require.Equal(t, cl.Invoked, cl.Completed, "client %s", id)
		require.Zero(t, cl.Refused, "client %s", id)
		total += cl.Completed
	}
	return total
}

var lossy = sim.LinkConfig{Latency: sim.Uniform(200*time.Microsecond, 2*time.Millisecond), Loss: 0.05, Reorder: 0.1, ReorderDelay: 3 * time.Millisecond}

func TestDirectoryLossyCoherent(t *testing.T) {
	c := newCluster(t, 1, Config{}, ids("n", 3), ids("c", 3), lossy)
	c.w.AddChecker("swmr", swmr(c.servers))
	total := c.runAndDrain(t, 5*time.Second, 5*time.Second)
	t.Logf("%d ops, n1 stats %+v, n1 protocol %+v", total, c.w.Node("n1").(*Server).Stats(), c.w.Node("n1").(*Server).Protocol().Stats())
	require.Greater(t, total, uint64(300))
	var hits uint64
	for _, id := range c.servers {
		hits += c.w.Node(id).(*Server).Protocol().Stats().Hits
	}
	require.Positive(t, hits)
}

func TestDirectoryCrashRestart(t *testing.T) {
	for _, wt := range []bool{false, true} {
		t.Run(fmt.Sprintf("writethrough=%v", wt), func(t *testing.T) {
			c := newCluster(t, 7, Config{WriteThrough: wt}, ids("n", 3), ids("c", 3), lossy)
			c.w.AddChecker("swmr", swmr(c.servers))
			c.w.At(2*time.Second, "crash n2", func(w *sim.World) { require.NoError(t, w.Crash("n2")) })
			c.w.At(2300*time.Millisecond, "restart n2", func(w *sim.World) { require.NoError(t, w.Restart("n2")) })
			total := c.runAndDrain(t, 5*time.Second, 5*time.Second)
			t.Logf("%d ops, n1 %+v", total, c.w.Node("n1").(*Server).Stats())
			require.Greater(t, total, uint64(200))
			s := c.w.Node("n2").(*Server)
			require.Equal(t, uint64(2), s.Stats().Epoch)
			require.Positive(t, c.w.Node("n1").(*Server).Stats().PeerRestarts)
		})
	}
}

func TestBroadcastRuns(t *testing.T) {
	c := newCluster(t, 3, Config{Protocol: ProtocolBroadcast, Memory: "mem"}, ids("n", 3), ids("c", 3), lossy)
	total := c.runAndDrain(t, 3*time.Second, 5*time.Second)
	require.Greater(t, total, uint64(100))
}

// driver sends fixed requests at start and keeps the replies.
type driver struct {
	to      nodes.NodeID
	reqs    []*Request
	replies map[uint64]*Reply
}

func (d *driver) Start(env nodes.Env) {
	for _, r := range d.reqs {
		env.Send(d.to, r)
	}
}
func (d *driver) Receive(_ nodes.NodeID, m nodes.Message) {
	if r, ok := m.(*Reply); ok {
		d.replies[r.Req] = r
	}
}
func (d *driver) Fire(nodes.Timer) {}

func TestBadInput(t *testing.T) {
	d := &driver{to: "n1", replies: map[uint64]*Reply{}, reqs: []*Request{
		{Client: "d", Req: 1, Op: OpGet, Key: ""},
		{Client: "d", Req: 2, Op: OpPut, Key: "k", Value: make([]byte, 101)},
		{Client: "d", Req: 3, Op: OpPut, Key: "k", Value: []byte("v")},
		{Client: "d", Req: 4, Op: OpGet, Key: "k"},
	}}
	newServer, err := NewServer(Config{Nodes: ids("n", 2), MaxValueBytes: 100})
	require.NoError(t, err)
	w, err := sim.New(sim.Config{Seed: 1, Nodes: append(ids("n", 2), "d"), Network: sim.LinkConfig{Latency: sim.Constant(time.Millisecond)},
		Factory: func(id nodes.NodeID) nodes.Node {
			if id == "d" {
				return d
			}
			return newServer(id)
		}, WireCheck: true})
	require.NoError(t, err)
	require.NoError(t, w.Run(time.Second))
	require.Equal(t, nodes.ServiceBadRequest, d.replies[1].Service)
	require.Contains(t, d.replies[1].Detail, "key is empty")
	require.Equal(t, nodes.ServiceBadRequest, d.replies[2].Service)
	require.Contains(t, d.replies[2].Detail, "value length 101 exceeds MaxValueBytes 100")
	require.Equal(t, nodes.ServiceOK, d.replies[3].Service)
	require.Equal(t, nodes.ServiceOK, d.replies[4].Service)
	require.True(t, d.replies[4].Found)
	require.Equal(t, "v", string(d.replies[4].Value))
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Nodes: ids("n", 3), Protocol: "snoopy"}, `protocol: "snoopy" unknown`},
		{Config{}, "nodes: 0 listed"},
		{Config{Nodes: []nodes.NodeID{"a", "a"}}, `nodes: "a" listed twice`},
		{Config{Nodes: ids("n", 3), Protocol: ProtocolBroadcast}, "memory: empty"},
		{Config{Nodes: ids("n", 3), Protocol: ProtocolBroadcast, Memory: "n1"}, `memory: "n1" is also one of nodes`},
		{Config{Nodes: ids("n", 3), Capacity: -1}, "capacity: -1"},
		{Config{Nodes: ids("n", 3), MaxValueBytes: 2 << 20}, "max_value_bytes: 2097152"},
		{Config{Nodes: ids("n", 3), Tick: -time.Second}, "tick: -1s"},
	} {
		_, err := NewServer(tc.cfg)
		require.ErrorContains(t, err, tc.want)
	}
	_, err := NewClient(ClientConfig{Servers: ids("n", 1), Writes: 2})
	require.ErrorContains(t, err, "writes: 2")
}
