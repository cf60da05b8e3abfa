package mesi

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// bcast3 is a broadcast network of caches n1, n2, n3 and the memory node.
func bcast3(t *testing.T, capacity int, wt bool) *network {
	return newBroadcastNetwork(t, 3, capacity, wt)
}

// kinds lists the kinds of the messages waiting on the link from→to.
func (net *network) kinds(from, to NodeID) []MsgKind {
	var ks []MsgKind
	for _, m := range net.links[pair{from, to}] {
		ks = append(ks, m.Kind)
	}
	return ks
}

func TestBroadcastReadMissTakesExclusiveFromMemory(t *testing.T) {
	net := bcast3(t, 4, false)
	net.get("n1", 1, "k")
	require.Equal(t, []MsgKind{ReadReq}, net.kinds("n1", "n2"))
	require.Equal(t, []MsgKind{ReadReq}, net.kinds("n1", "n3"))
	require.Equal(t, 2, net.inFlight(), "no MemRead before every peer answered")
	net.deliver("n1", "n2", ReadReq)
	net.deliver("n1", "n3", ReadReq)
	require.Equal(t, Invalid, net.deliver("n2", "n1", ReadResp).State)
	require.Empty(t, net.done["n1"])
	require.Equal(t, Invalid, net.deliver("n3", "n1", ReadResp).State)
	net.deliver("n1", memNode, MemRead)
	net.deliver(memNode, "n1", MemData)
	require.Equal(t, Completion{Req: 1, Key: "k"}, net.lastDone("n1"))
	require.Equal(t, Exclusive, net.state("n1", "k"))
	require.Zero(t, net.inFlight())
	require.NoError(t, net.check("k", Write{}))
	require.Equal(t, uint64(1), net.nodes[memNode].Stats().Fetches)

	// A second read hits.
	net.get("n1", 2, "k")
	require.True(t, net.lastDone("n1").Hit)
	require.Zero(t, net.inFlight())
}

func TestBroadcastSecondReaderShares(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write bool // n1 writes before n2 reads: n1 is in M, not E
	}{
		{"owner in E", false},
		{"owner in M writes back", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			net := bcast3(t, 4, false)
			net.get("n1", 1, "k")
			net.drain()
			want, last := Write{}, Write{}
			if tc.write {
				net.put("n1", 2, "k", "x")
				c := net.lastDone("n1")
				require.True(t, c.Hit, "E → M silently")
				want, last = Write{[]byte("x"), 1}, Write{[]byte("x"), 1}
				require.Equal(t, want, Write{c.Value, c.Version})
			}
			net.get("n2", 3, "k")
			net.deliver("n2", "n1", ReadReq)
			require.Equal(t, Shared, net.state("n1", "k"))
			require.Equal(t, tc.write, net.nodes["n1"].WritingBack("k"))
			if tc.write {
				require.Equal(t, []MsgKind{MemWrite}, net.kinds("n1", memNode))
			}
			net.deliver("n2", "n3", ReadReq)
			require.Equal(t, Invalid, net.deliver("n3", "n2", ReadResp).State)
			r := net.deliver("n1", "n2", ReadResp)
			require.Equal(t, map[bool]State{false: Exclusive, true: Modified}[tc.write], r.State)
			c := net.lastDone("n2")
			require.Equal(t, want, Write{c.Value, c.Version})
			require.Equal(t, Shared, net.state("n2", "k"))
			require.NoError(t, net.check("k", last), "memory unsettled while the MemWrite flies")
			if tc.write {
				v, ver, _ := net.nodes[memNode].Memory("k")
				require.Equal(t, Write{}, Write{v, ver})
				net.deliver("n1", memNode, MemWrite)
				net.deliver(memNode, "n1", MemWriteAck)
				v, ver, _ = net.nodes[memNode].Memory("k")
				require.Equal(t, want, Write{v, ver})
				require.Equal(t, uint64(1), net.nodes["n1"].Stats().WriteBacks)
			}
			require.False(t, net.nodes["n1"].WritingBack("k"))
			require.Zero(t, net.inFlight())
			require.NoError(t, net.check("k", last))
		})
	}
}

func TestBroadcastWriteInvalidatesPeers(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(net *network)
		miss  bool // n1 holds no copy: it asks memory for its version
		owner bool // n3 holds the line in M and writes it back on the BInv
	}{
		{"sharers", func(net *network) {
			for i, id := range []NodeID{"n1", "n2"} {
				net.get(id, uint64(10+i), "k")
				net.drain()
			}
		}, false, false},
		{"write miss", func(net *network) {
			net.get("n2", 10, "k")
			net.drain()
		}, true, false},
		{"owner in M", func(*network) {}, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			net := bcast3(t, 4, false)
			net.put("n3", 1, "k", "v0")
			net.drain()
			require.Equal(t, Modified, net.state("n3", "k"))
			tc.setup(net)
			v0 := Write{[]byte("v0"), 1}

			net.put("n1", 2, "k", "v1")
			require.Equal(t, []MsgKind{BInv}, net.kinds("n1", "n2"))
			require.Equal(t, []MsgKind{BInv}, net.kinds("n1", "n3"))
			if tc.miss {
				require.Equal(t, []MsgKind{MemRead}, net.kinds("n1", memNode))
			} else {
				require.Equal(t, Shared, net.state("n1", "k"), "the S copy stays until the acks are in")
				require.Empty(t, net.kinds("n1", memNode))
			}
			net.deliver("n1", "n2", BInv)
			require.Equal(t, Invalid, net.state("n2", "k"))
			net.deliver("n2", "n1", BInvAck)
			net.deliver("n1", "n3", BInv)
			require.Equal(t, Invalid, net.state("n3", "k"))
			if tc.owner {
				require.Equal(t, []MsgKind{MemWrite}, net.kinds("n3", memNode))
				require.NoError(t, net.check("k", v0), "the old value is on its way to memory")
			}
			ack := net.deliver("n3", "n1", BInvAck)
			require.Equal(t, uint64(1), ack.Version)
			if tc.miss {
				require.Len(t, net.done["n1"], 0, "the write waits for memory's version")
				net.deliver("n1", memNode, MemRead)
				net.deliver(memNode, "n1", MemData)
			}
			c := net.lastDone("n1")
			require.Equal(t, Completion{Req: 2, Key: "k", Value: []byte("v1"), Version: 2, Put: true}, c)
			require.Equal(t, Modified, net.state("n1", "k"))
			net.drain()
			require.NoError(t, net.check("k", Write{c.Value, c.Version}))
			v, ver, _ := net.nodes[memNode].Memory("k")
			require.Equal(t, v0, Write{v, ver}, "memory lags the M copy")
			require.Equal(t, uint64(2), net.nodes["n2"].Stats().Invalidations, "n3's write and n1's")

			// A write hit on M completes at once with the next version.
			net.put("n1", 3, "k", "v2")
			require.Equal(t, Completion{Req: 3, Key: "k", Value: []byte("v2"), Version: 3, Put: true, Hit: true}, net.lastDone("n1"))
			require.Zero(t, net.inFlight())
		})
	}
}

func TestBroadcastWriteThrough(t *testing.T) {
	net := bcast3(t, 4, true)
	net.put("n1", 1, "k", "a")
	for _, id := range []NodeID{"n2", "n3"} {
		net.deliver("n1", id, BInv)
		net.deliver(id, "n1", BInvAck)
	}
	net.deliver("n1", memNode, MemRead)
	net.deliver(memNode, "n1", MemData)
	require.Empty(t, net.done["n1"], "the Put waits for memory")
	require.Equal(t, Exclusive, net.state("n1", "k"), "clean: memory gets the value")
	require.True(t, net.nodes["n1"].WritingBack("k"))
	require.NoError(t, net.check("k", Write{}))
	net.deliver("n1", memNode, MemWrite)
	net.deliver(memNode, "n1", MemWriteAck)
	require.Equal(t, Completion{Req: 1, Key: "k", Value: []byte("a"), Version: 1, Put: true}, net.lastDone("n1"))
	last := Write{[]byte("a"), 1}
	require.NoError(t, net.check("k", last))

	// A write to the E line sends no invalidation, only the MemWrite.
	net.put("n1", 2, "k", "b")
	require.Equal(t, 1, net.inFlight())
	net.deliver("n1", memNode, MemWrite)
	net.deliver(memNode, "n1", MemWriteAck)
	require.Equal(t, Completion{Req: 2, Key: "k", Value: []byte("b"), Version: 2, Put: true}, net.lastDone("n1"))
	last = Write{[]byte("b"), 2}

	// A reader finds it in E: no write-back.
	net.get("n2", 3, "k")
	net.drain()
	require.Equal(t, "b", string(net.lastDone("n2").Value))
	require.Equal(t, Shared, net.state("n1", "k"))
	require.Equal(t, uint64(2), net.nodes["n1"].Stats().WriteBacks)
	require.NoError(t, net.check("k", last))
}

func TestBroadcastEvictionWritesBack(t *testing.T) {
	net := newBroadcastNetwork(t, 2, 1, false)
	net.put("n1", 1, "a", "x")
	net.drain()
	net.get("n1", 2, "b")
	net.deliver("n1", "n2", ReadReq)
	net.deliver("n2", "n1", ReadResp)
	net.deliver("n1", memNode, MemRead)
	net.deliver(memNode, "n1", MemData) // installing b evicts a, in M
	require.Equal(t, []MsgKind{MemWrite}, net.kinds("n1", memNode))
	require.True(t, net.nodes["n1"].WritingBack("a"))
	require.True(t, net.nodes["n1"].Busy("a"))
	s := net.nodes["n1"].Stats()
	require.Equal(t, [2]uint64{1, 1}, [2]uint64{s.Evictions, s.WriteBacks})
	require.NoError(t, net.check("a", Write{[]byte("x"), 1}))
	net.drain()
	require.True(t, net.nodes["n1"].Idle())
	v, ver, _ := net.nodes[memNode].Memory("a")
	require.Equal(t, Write{[]byte("x"), 1}, Write{v, ver})
	require.NoError(t, net.check("a", Write{[]byte("x"), 1}))
	require.NoError(t, net.check("b", Write{}))
}

func TestBroadcastCrash(t *testing.T) {
	net := bcast3(t, 4, false)
	net.put("n1", 1, "k", "old")
	net.drain()
	net.get("n2", 2, "k") // n1 writes "old" back
	net.drain()
	net.put("n1", 3, "k", "new")
	net.drain()
	require.Equal(t, Modified, net.state("n1", "k"))

	net.get("n1", 4, "j") // ReadReqs in flight when n1 crashes
	net.nodes["n1"].Crash()
	require.Equal(t, uint64(1), net.nodes["n1"].LostWrites())
	require.Empty(t, net.nodes["n1"].Lines())
	require.True(t, net.nodes["n1"].Idle())
	net.drain() // the ReadResps for the lost read are dropped
	require.Empty(t, net.done["n1"][2:], "the lost read never completes")
	net.nodes[memNode].Crash()
	net.get("n3", 5, "k")
	net.drain()
	c := net.lastDone("n3")
	require.Equal(t, Write{[]byte("old"), 1}, Write{c.Value, c.Version}, "memory survived its crash")
	require.NoError(t, net.check("k", Write{[]byte("old"), 1}))

	// The restarted node works as before (reusing the lost version).
	net.put("n1", 6, "k", "newer")
	net.drain()
	require.Equal(t, uint64(2), net.lastDone("n1").Version)
	require.NoError(t, net.check("k", Write{[]byte("newer"), 2}))
}

func TestBroadcastBadInput(t *testing.T) {
	ids := []NodeID{"m", "n1"}
	base := Config{Self: "n1", Nodes: ids, Memory: "m", Capacity: 2, MaxKeyBytes: 4, MaxValueBytes: 3}
	for _, tc := range []struct {
		name string
		mut  func(*Config)
		want string
	}{
		{"empty self", func(c *Config) { c.Self = "" }, "Config.Self is empty"},
		{"no memory", func(c *Config) { c.Memory = "" }, "Config.Memory is empty"},
		{"memory missing", func(c *Config) { c.Memory = "x" }, `Config.Memory "x" is not in Config.Nodes [m n1]`},
		{"no nodes", func(c *Config) { c.Nodes = nil }, "Config.Nodes is empty"},
		{"self missing", func(c *Config) { c.Nodes = []NodeID{"m"} }, `Config.Self "n1" is not in Config.Nodes`},
		{"duplicate", func(c *Config) { c.Nodes = []NodeID{"m", "n1", "n1"} }, `holds "n1" twice`},
		{"capacity", func(c *Config) { c.Capacity = 0 }, "Config.Capacity 0"},
		{"max key", func(c *Config) { c.MaxKeyBytes = -2 }, "Config.MaxKeyBytes -2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			tc.mut(&c)
			_, err := NewBroadcast(c)
			require.ErrorContains(t, err, tc.want)
		})
	}
	memCfg := base
	memCfg.Self, memCfg.Capacity = "m", 0
	mem, err := NewBroadcast(memCfg)
	require.NoError(t, err, "the memory node needs no capacity")
	b, err := NewBroadcast(base)
	require.NoError(t, err)
	require.Equal(t, "broadcast", b.Name())
	for _, tc := range []struct {
		name string
		call func() error
		want string
	}{
		{"get empty key", func() error { return b.Get(1, "", 0) }, "Get: key is empty"},
		{"get long key", func() error { return b.Get(1, "abcde", 0) }, "key length 5 exceeds MaxKeyBytes 4"},
		{"put empty key", func() error { return b.Put(1, "", nil, 0) }, "Put: key is empty"},
		{"put long value", func() error { return b.Put(1, "k", []byte("abcd"), 0) }, "value length 4 exceeds MaxValueBytes 3"},
		{"get on memory", func() error { return mem.Get(1, "k", 0) }, `Get "k": node m is the memory node`},
		{"put on memory", func() error { return mem.Put(1, "k", nil, 0) }, `Put "k": node m is the memory node`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			require.ErrorContains(t, err, tc.want)
			require.True(t, errors.Is(err, ErrBadRequest))
			require.Empty(t, b.Outbox())
			require.Empty(t, mem.Outbox())
			require.Empty(t, b.Completions())
		})
	}
	require.Panics(t, func() { b.Deliver(Message{Kind: MemRead, Key: "k", From: "n1", To: "n1"}, 0) })
	require.Panics(t, func() { mem.Deliver(Message{Kind: ReadReq, Key: "k", From: "n1", To: "m"}, 0) })
	require.Panics(t, func() { b.Deliver(Message{Kind: ReadReq, Key: "k", From: "m", To: "n2"}, 0) })
	d, err := NewDirectory(Config{Self: "n1", Nodes: ids, Home: homeFixed("n1"), Capacity: 1})
	require.NoError(t, err)
	require.Equal(t, "directory", d.Name())
	require.Panics(t, func() { d.Deliver(Message{Kind: ReadReq, Key: "k", From: "m", To: "n1"}, 0) })
	require.Equal(t, "MemWrite-Ack", MemWriteAck.String())
	require.Equal(t, "MsgKind(99)", MsgKind(99).String())
}
