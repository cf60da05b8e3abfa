package runtime

import (
	"context"
	"net"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/wire"
)

// typeNote is the test message's wire type (1-99 is for tests and gossip;
// gossip uses 1).
const typeNote nodes.MessageType = 90

// note is the test message: a number and optional padding.
type note struct {
	N   uint64
	Pad []byte
}

func (*note) Type() nodes.MessageType { return typeNote }

func (n *note) Encode(e *wire.Encoder) {
	e.Uvarint(n.N)
	e.Bytes0(n.Pad)
}

func init() {
	nodes.Register(typeNote, "runtime-test.note", func(d *wire.Decoder) nodes.Message {
		return &note{N: d.Uvarint(), Pad: d.Bytes0()}
	})
}

// delivery is one message a probe received.
type delivery struct {
	from nodes.NodeID
	n    uint64
}

// probe is a scriptable test node. Its fields are touched only on the event
// loop; tests read them through Host.Do.
type probe struct {
	env       nodes.Env
	got       []delivery
	fired     []nodes.Timer
	goroutine map[string]bool // goroutine ids that ran a handler

	onStart   func(p *probe)
	onReceive func(p *probe, from nodes.NodeID, m nodes.Message)
}

func (p *probe) Start(env nodes.Env) {
	p.env = env
	p.goroutine = map[string]bool{goid(): true}
	if p.onStart != nil {
		p.onStart(p)
	}
}

func (p *probe) Receive(from nodes.NodeID, m nodes.Message) {
	p.goroutine[goid()] = true
	if n, ok := m.(*note); ok {
		p.got = append(p.got, delivery{from: from, n: n.N})
	}
	if p.onReceive != nil {
		p.onReceive(p, from, m)
	}
}

func (p *probe) Fire(t nodes.Timer) {
	p.goroutine[goid()] = true
	p.fired = append(p.fired, t)
}

// probeFactory returns a factory of probes with the given hooks.
func probeFactory(onStart func(*probe), onReceive func(*probe, nodes.NodeID, nodes.Message)) nodes.Factory {
	return func(nodes.NodeID) nodes.Node { return &probe{onStart: onStart, onReceive: onReceive} }
}

// goid returns the id of the calling goroutine, parsed from its stack
// header ("goroutine 17 [running]:").
func goid() string {
	var b [64]byte
	n := goruntime.Stack(b[:], false)
	return strings.Fields(string(b[:n]))[1]
}

// ids returns n1..nk.
func ids(k int) []nodes.NodeID {
	out := make([]nodes.NodeID, k)
	for i := range out {
		out[i] = nodes.NodeID("n" + string(rune('1'+i)))
	}
	return out
}

// cluster binds one loopback listener per id, so every node knows every
// address before any starts.
func cluster(t *testing.T, idList []nodes.NodeID) (map[nodes.NodeID]net.Listener, map[nodes.NodeID]string) {
	t.Helper()
	lns := map[nodes.NodeID]net.Listener{}
	addrs := map[nodes.NodeID]string{}
	for _, id := range idList {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		lns[id] = ln
		addrs[id] = ln.Addr().String()
	}
	return lns, addrs
}

// startHost starts a Host and stops it when the test ends.
func startHost(t *testing.T, cfg Config) *Host {
	t.Helper()
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	h, err := Start(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, h.Stop()) })
	return h
}

// startCluster starts one Host per id, each on its own temp dir.
func startCluster(t *testing.T, idList []nodes.NodeID, f nodes.Factory, tweak func(*Config)) (map[nodes.NodeID]*Host, map[nodes.NodeID]string, map[nodes.NodeID]string) {
	t.Helper()
	lns, addrs := cluster(t, idList)
	hosts := map[nodes.NodeID]*Host{}
	dirs := map[nodes.NodeID]string{}
	for _, id := range idList {
		dirs[id] = t.TempDir()
		cfg := Config{ID: id, Peers: addrs, Listener: lns[id], Dir: dirs[id], Factory: f}
		if tweak != nil {
			tweak(&cfg)
		}
		hosts[id] = startHost(t, cfg)
	}
	return hosts, addrs, dirs
}

// inspect runs fn on h's loop with the probe and fails the test on error.
func inspect(t *testing.T, h *Host, fn func(p *probe)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, h.Do(ctx, func(n nodes.Node, _ nodes.Env) { fn(n.(*probe)) }))
}

// received returns how many notes h's probe got.
func received(t *testing.T, h *Host) int {
	t.Helper()
	var k int
	inspect(t, h, func(p *probe) { k = len(p.got) })
	return k
}
