package mesi

import (
	"fmt"
	"hash/fnv"
	"slices"
	"time"

	"github.com/stretchr/testify/require"
)

// pair is a directed link.
type pair struct{ from, to NodeID }

// tb is what the harness needs of a *testing.T or *rapid.T.
type tb interface {
	require.TestingT
	Helper()
	Fatalf(format string, args ...any)
}

// network is a tiny in-test network of Protocol nodes with per-pair FIFO
// queues.
type network struct {
	t      tb
	ids    []NodeID // every node, sorted
	caches []NodeID // the nodes with a cache (all but a broadcast memory node)
	nodes  map[NodeID]Protocol
	links  map[pair][]Message
	done   map[NodeID][]Completion
	now    time.Duration
}

// homeByHash spreads keys over ids.
func homeByHash(ids []NodeID) func(string) NodeID {
	return func(key string) NodeID {
		h := fnv.New32a()
		h.Write([]byte(key))
		return ids[int(h.Sum32())%len(ids)]
	}
}

// homeFixed makes every key's home the node h.
func homeFixed(h NodeID) func(string) NodeID { return func(string) NodeID { return h } }

// newNetwork returns a network of n Directory nodes n1..nn.
func newNetwork(t tb, n, capacity int, wt bool, home func([]NodeID) func(string) NodeID) *network {
	net := &network{t: t, nodes: map[NodeID]Protocol{}, links: map[pair][]Message{}, done: map[NodeID][]Completion{}}
	for i := range n {
		net.ids = append(net.ids, NodeID(fmt.Sprintf("n%d", i+1)))
	}
	net.caches = net.ids
	h := home(net.ids)
	for _, id := range net.ids {
		d, err := NewDirectory(Config{Self: id, Nodes: net.ids, Home: h, Capacity: capacity, WriteThrough: wt})
		require.NoError(t, err)
		net.nodes[id] = d
	}
	return net
}

// memNode is the memory node of the broadcast networks.
const memNode NodeID = "mem"

// newBroadcastNetwork returns a network of n Broadcast caches n1..nn and
// the memory node memNode.
func newBroadcastNetwork(t tb, n, capacity int, wt bool) *network {
	net := &network{t: t, nodes: map[NodeID]Protocol{}, links: map[pair][]Message{}, done: map[NodeID][]Completion{}}
	for i := range n {
		net.caches = append(net.caches, NodeID(fmt.Sprintf("n%d", i+1)))
	}
	net.ids = append([]NodeID{memNode}, net.caches...)
	for _, id := range net.ids {
		b, err := NewBroadcast(Config{Self: id, Nodes: net.ids, Memory: memNode, Capacity: capacity, WriteThrough: wt})
		require.NoError(t, err)
		net.nodes[id] = b
	}
	return net
}

// newProtocolNetwork returns a network of n caches running the named
// protocol (directory keys are spread over the nodes by hash).
func newProtocolNetwork(t tb, proto string, n, capacity int, wt bool) *network {
	if proto == "broadcast" {
		return newBroadcastNetwork(t, n, capacity, wt)
	}
	return newNetwork(t, n, capacity, wt, homeByHash)
}

// collect moves a node's outputs into the links and the completion log.
func (net *network) collect(id NodeID) {
	d := net.nodes[id]
	for _, m := range d.Outbox() {
		require.Equal(net.t, id, m.From)
		p := pair{m.From, m.To}
		net.links[p] = append(net.links[p], m)
	}
	net.done[id] = append(net.done[id], d.Completions()...)
}

func (net *network) get(id NodeID, req uint64, key string) {
	require.NoError(net.t, net.nodes[id].Get(req, key, net.now))
	net.collect(id)
}

func (net *network) put(id NodeID, req uint64, key, value string) {
	require.NoError(net.t, net.nodes[id].Put(req, key, []byte(value), net.now))
	net.collect(id)
}

// pairs returns the links with messages waiting, sorted.
func (net *network) pairs() []pair {
	var ps []pair
	for _, p := range net.sortedLinks() {
		if len(net.links[p]) > 0 {
			ps = append(ps, p)
		}
	}
	return ps
}

func (net *network) sortedLinks() []pair {
	ps := make([]pair, 0, len(net.links))
	for p := range net.links { //det:ordered sorted below
		ps = append(ps, p)
	}
	slices.SortFunc(ps, func(a, b pair) int {
		if a.from != b.from {
			if a.from < b.from {
				return -1
			}
			return 1
		}
		if a.to < b.to {
			return -1
		}
		if a.to > b.to {
			return 1
		}
		return 0
	})
	return ps
}

// peek returns the head of a link.
func (net *network) peek(from, to NodeID) (Message, bool) {
	q := net.links[pair{from, to}]
	if len(q) == 0 {
		return Message{}, false
	}
	return q[0], true
}

// deliver delivers the head of the link from→to, which must be of kind k.
func (net *network) deliver(from, to NodeID, k MsgKind) Message {
	net.t.Helper()
	q := net.links[pair{from, to}]
	require.NotEmpty(net.t, q, "no message %s→%s (want %v)", from, to, k)
	m := q[0]
	require.Equal(net.t, k, m.Kind, "head of %s→%s is %v", from, to, m)
	net.links[pair{from, to}] = q[1:]
	net.now += time.Millisecond
	net.nodes[to].Deliver(m, net.now)
	net.collect(to)
	return m
}

// deliverPair delivers whatever heads the link.
func (net *network) deliverPair(p pair) {
	q := net.links[p]
	m := q[0]
	net.links[p] = q[1:]
	net.now += time.Millisecond
	net.nodes[p.to].Deliver(m, net.now)
	net.collect(p.to)
}

// drain delivers everything, links in sorted order, until quiet.
func (net *network) drain() {
	for i := 0; ; i++ {
		require.Less(net.t, i, 100000, "network does not quiesce")
		ps := net.pairs()
		if len(ps) == 0 {
			return
		}
		net.deliverPair(ps[0])
	}
}

// inFlight counts the messages waiting.
func (net *network) inFlight() int {
	n := 0
	for _, p := range net.sortedLinks() {
		n += len(net.links[p])
	}
	return n
}

// lastDone returns a node's last completion.
func (net *network) lastDone(id NodeID) Completion {
	net.t.Helper()
	c := net.done[id]
	require.NotEmpty(net.t, c, "no completion at %s", id)
	return c[len(c)-1]
}

// state returns the stable state of key at id.
func (net *network) state(id NodeID, key string) State {
	l, ok := net.nodes[id].Line(key)
	if !ok {
		return Invalid
	}
	return l.State
}

// home returns the directory of key's home (directory networks only).
func (net *network) home(key string) *Directory {
	return net.nodes[net.nodes[net.ids[0]].(*Directory).cfg.Home(key)].(*Directory)
}

// check runs the SWMR, data-value and local invariants on key.
func (net *network) check(key string, last Write) error {
	local, swmr, data := net.checks(key, last)
	if local != nil {
		return local
	}
	if swmr != nil {
		return swmr
	}
	return data
}

// checks runs the local checks of every node, CheckSWMR and CheckData on
// key, and returns their results.
func (net *network) checks(key string, last Write) (local, swmr, data error) {
	states := map[NodeID]State{}
	lines := map[NodeID]Line{}
	settled := true
	var memory Write
	for _, id := range net.ids {
		d := net.nodes[id]
		if err := d.CheckLocal(); err != nil && local == nil {
			local = err
		}
		if l, ok := d.Line(key); ok {
			states[id], lines[id] = l.State, l
		}
		if !d.Settled(key) {
			settled = false
		}
		if v, ver, ok := d.Memory(key); ok {
			memory = Write{v, ver}
		}
	}
	return local, CheckSWMR(key, states), CheckData(key, last, lines, memory, settled)
}
