package mesi

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// fixed4 is a 4-node network where n4 is the home of every key.
func fixed4(t *testing.T, capacity int, wt bool) *network {
	return newNetwork(t, 4, capacity, wt, func([]NodeID) func(string) NodeID { return homeFixed("n4") })
}

func TestReadMissGetsExclusive(t *testing.T) {
	net := fixed4(t, 4, false)
	net.get("n1", 1, "k")
	m := net.deliver("n1", "n4", GetS)
	require.Equal(t, "k", m.Key)
	d := net.deliver("n4", "n1", Data)
	require.Equal(t, Exclusive, d.State)
	require.Equal(t, Completion{Req: 1, Key: "k"}, net.lastDone("n1"))
	require.Equal(t, Exclusive, net.state("n1", "k"))
	de, _ := net.home("k").DirectoryEntry("k")
	require.Equal(t, DirEntry{State: DirEM, Owner: "n1", Grant: 1}, de)
	require.Zero(t, net.inFlight())

	// A second read hits.
	net.get("n1", 2, "k")
	require.True(t, net.lastDone("n1").Hit)
}

// readers makes n1 and n2 hold k in S with value "v0" written by n3.
func readers(t *testing.T, net *network) {
	net.put("n3", 100, "k", "v0")
	net.drain()
	net.get("n1", 1, "k")
	net.deliver("n1", "n4", GetS)
	net.deliver("n4", "n3", FwdGetS)
	net.deliver("n3", "n4", DataToHome)
	d := net.deliver("n4", "n1", Data)
	require.Equal(t, Shared, d.State)
	net.get("n2", 2, "k")
	net.deliver("n2", "n4", GetS)
	require.Equal(t, Shared, net.deliver("n4", "n2", Data).State)
	for _, id := range []NodeID{"n1", "n2", "n3"} {
		require.Equal(t, Shared, net.state(id, "k"), id)
	}
	de, _ := net.home("k").DirectoryEntry("k")
	require.Equal(t, DirS, de.State)
	require.Equal(t, []NodeID{"n1", "n2", "n3"}, de.Sharers)
	require.Equal(t, "v0", string(net.lastDone("n2").Value))
}

func TestSecondReaderShared(t *testing.T) {
	net := fixed4(t, 4, false)
	net.get("n1", 1, "k")
	net.drain()
	net.get("n2", 2, "k")
	net.deliver("n2", "n4", GetS)
	net.deliver("n4", "n1", FwdGetS)
	net.deliver("n1", "n4", DataToHome)
	net.deliver("n4", "n2", Data)
	require.Equal(t, Shared, net.state("n1", "k"))
	require.Equal(t, Shared, net.state("n2", "k"))
	de, _ := net.home("k").DirectoryEntry("k")
	require.Equal(t, []NodeID{"n1", "n2"}, de.Sharers)
	require.Empty(t, de.WaitingOn)
}

func TestWriteInvalidatesSharers(t *testing.T) {
	for _, acksFirst := range []bool{false, true} {
		name := "data-first"
		if acksFirst {
			name = "acks-first"
		}
		t.Run(name, func(t *testing.T) {
			net := fixed4(t, 4, false)
			readers(t, net) // n1, n2, n3 in S
			net.put("n1", 3, "k", "v1")
			net.deliver("n1", "n4", GetM)
			de, _ := net.home("k").DirectoryEntry("k")
			require.Equal(t, DirEntry{State: DirEM, Owner: "n1", Grant: 2}, de)
			if !acksFirst {
				d := net.deliver("n4", "n1", Data)
				require.Equal(t, 2, d.Acks)
			}
			net.deliver("n4", "n2", Inv)
			net.deliver("n2", "n1", InvAck)
			net.deliver("n4", "n3", Inv)
			require.Len(t, net.done["n1"], 1, "the Put waits for the last ack")
			net.deliver("n3", "n1", InvAck)
			if acksFirst {
				require.Len(t, net.done["n1"], 1, "the Put waits for the Data")
				require.Equal(t, 2, net.deliver("n4", "n1", Data).Acks)
			}
			c := net.lastDone("n1")
			require.Equal(t, Completion{Req: 3, Key: "k", Value: []byte("v1"), Version: 2<<32 | 1, Put: true}, c)
			require.Equal(t, Modified, net.state("n1", "k"))
			require.Equal(t, Invalid, net.state("n2", "k"))
			require.Equal(t, Invalid, net.state("n3", "k"))
			require.NoError(t, net.check("k", Write{[]byte("v1"), 2<<32 | 1}))
			require.Equal(t, uint64(1), net.nodes["n2"].Stats().Invalidations)

			// A write hit on M completes at once with the next version.
			net.put("n1", 4, "k", "v2")
			require.Equal(t, Completion{Req: 4, Key: "k", Value: []byte("v2"), Version: 2<<32 | 2, Put: true, Hit: true}, net.lastDone("n1"))
			require.Zero(t, net.inFlight())
		})
	}
}

func TestFwdGetSToModifiedUpdatesMemory(t *testing.T) {
	net := fixed4(t, 4, false)
	net.put("n1", 1, "k", "x")
	net.deliver("n1", "n4", GetM)
	net.deliver("n4", "n1", Data)
	require.Equal(t, Modified, net.state("n1", "k"))
	v, ver, _ := net.home("k").Memory("k")
	require.Nil(t, v)
	require.Zero(t, ver)

	net.get("n2", 2, "k")
	net.deliver("n2", "n4", GetS)
	net.put("n3", 3, "k", "y") // queued at the home behind the Fwd-GetS
	net.deliver("n3", "n4", GetM)
	de, _ := net.home("k").DirectoryEntry("k")
	require.Equal(t, NodeID("n1"), de.WaitingOn)
	require.Equal(t, 1, de.Queued)
	net.deliver("n4", "n1", FwdGetS)
	require.Equal(t, Shared, net.state("n1", "k"))
	net.deliver("n1", "n4", DataToHome)
	require.Equal(t, "x", string(net.deliver("n4", "n2", Data).Value))
	v, ver, _ = net.home("k").Memory("k")
	require.Equal(t, "x", string(v))
	require.Equal(t, uint64(1<<32|1), ver)
	require.NoError(t, net.check("k", Write{[]byte("x"), 1<<32 | 1}))
	// The queued GetM is served now: two sharers to invalidate.
	require.Equal(t, 2, net.deliver("n4", "n3", Data).Acks)
	net.drain()
	require.Equal(t, "y", string(net.lastDone("n3").Value))
	require.NoError(t, net.check("k", Write{[]byte("y"), 2<<32 | 1}))
}

func TestReadMissDataPrecedesNextInv(t *testing.T) {
	// n2 reads k from owner n1 through the home; n3's GetM, queued behind
	// the Fwd-GetS, invalidates n2 only after the home sent n2 its Data,
	// so per-pair FIFO order delivers the Data first and the Inv removes
	// the copy it made.
	net := fixed4(t, 4, false)
	net.put("n1", 1, "k", "x")
	net.drain()
	net.get("n2", 2, "k")
	net.deliver("n2", "n4", GetS)
	net.put("n3", 3, "k", "y")
	net.deliver("n3", "n4", GetM) // queued behind the Fwd-GetS
	net.deliver("n4", "n1", FwdGetS)
	net.deliver("n1", "n4", DataToHome)
	var kinds []MsgKind
	for _, m := range net.links[pair{"n4", "n2"}] {
		kinds = append(kinds, m.Kind)
	}
	require.Equal(t, []MsgKind{Data, Inv}, kinds)
	net.deliver("n4", "n2", Data)
	require.Equal(t, "x", string(net.lastDone("n2").Value))
	require.Equal(t, Shared, net.state("n2", "k"))
	net.deliver("n4", "n2", Inv)
	require.Equal(t, Invalid, net.state("n2", "k"))
	net.drain()
	require.Equal(t, "y", string(net.lastDone("n3").Value))
	require.NoError(t, net.check("k", Write{[]byte("y"), 2<<32 | 1}))
}

func TestEvictionRacesFwdGetM(t *testing.T) {
	// a's home is n4, b's is n3; capacity 1.
	net := newNetwork(t, 4, 1, false, func([]NodeID) func(string) NodeID {
		return func(k string) NodeID {
			if k == "b" {
				return "n3"
			}
			return "n4"
		}
	})
	net.put("n1", 1, "a", "x")
	net.drain()
	net.put("n2", 2, "a", "y")
	net.deliver("n2", "n4", GetM) // Fwd-GetM n4→n1 now in flight
	net.get("n1", 3, "b")
	net.deliver("n1", "n3", GetS)
	net.deliver("n3", "n1", Data) // installing b evicts a: PutM
	require.True(t, net.nodes["n1"].WritingBack("a"))
	require.Equal(t, uint64(1), net.nodes["n1"].Stats().WriteBacks)
	net.get("n1", 4, "a") // waits for the write-back
	require.Len(t, net.done["n1"], 2)

	net.deliver("n4", "n1", FwdGetM) // MI^A → II^A
	net.deliver("n1", "n4", PutM)    // stale: n2 owns a
	net.deliver("n1", "n4", DataToHome)
	v, _, _ := net.home("a").Memory("a")
	require.Equal(t, "x", string(v))
	net.deliver("n1", "n2", Data)
	require.Equal(t, Completion{Req: 2, Key: "a", Value: []byte("y"), Version: 2<<32 | 1, Put: true}, net.lastDone("n2"))
	require.NoError(t, net.check("a", Write{[]byte("y"), 2<<32 | 1}))
	net.deliver("n4", "n1", PutAck)
	require.False(t, net.nodes["n1"].WritingBack("a"))
	net.drain() // n1's queued read of a goes to n2 via the home
	require.Equal(t, "y", string(net.lastDone("n1").Value))
	require.NoError(t, net.check("a", Write{[]byte("y"), 2<<32 | 1}))
	require.NoError(t, net.check("b", Write{}))
}

func TestEvictionRacesFwdGetS(t *testing.T) {
	net := newNetwork(t, 4, 1, false, func([]NodeID) func(string) NodeID {
		return func(k string) NodeID {
			if k == "b" {
				return "n3"
			}
			return "n4"
		}
	})
	net.put("n1", 1, "a", "x")
	net.drain()
	net.get("n2", 2, "a")
	net.deliver("n2", "n4", GetS)
	net.get("n1", 3, "b")
	net.deliver("n1", "n3", GetS)
	net.deliver("n3", "n1", Data)    // PutM a
	net.deliver("n4", "n1", FwdGetS) // MI^A → SI^A
	net.deliver("n1", "n4", PutM)    // the home drops n1 from the sharers
	net.deliver("n1", "n4", DataToHome)
	net.deliver("n4", "n2", Data)
	net.drain()
	de, _ := net.home("a").DirectoryEntry("a")
	require.Equal(t, DirEntry{State: DirS, Sharers: []NodeID{"n2"}, Grant: 1}, de)
	require.NoError(t, net.check("a", Write{[]byte("x"), 1<<32 | 1}))
}

func TestWriteThroughKeepsMemoryCurrent(t *testing.T) {
	net := fixed4(t, 4, true)
	var last Write
	for i, w := range []struct {
		node NodeID
		val  string
	}{{"n1", "a"}, {"n1", "b"}, {"n2", "c"}, {"n4", "d"}} {
		net.put(w.node, uint64(i+1), "k", w.val)
		net.drain()
		c := net.lastDone(w.node)
		require.Equal(t, w.val, string(c.Value))
		last = Write{c.Value, c.Version}
		v, ver, _ := net.home("k").Memory("k")
		require.Equal(t, last, Write{v, ver})
		require.Equal(t, Invalid, net.state(w.node, "k"), "no M line stays")
		require.NoError(t, net.check("k", last))
		net.get("n3", uint64(100+i), "k")
		net.drain()
		require.Equal(t, w.val, string(net.lastDone("n3").Value))
	}
}

func TestCrashedOwnerLosesWrite(t *testing.T) {
	net := fixed4(t, 4, false)
	net.put("n1", 1, "k", "old")
	net.drain()
	net.get("n2", 2, "k") // memory gets "old"
	net.drain()
	net.put("n1", 3, "k", "new")
	net.drain()
	require.Equal(t, Modified, net.state("n1", "k"))

	net.get("n3", 4, "k")
	net.deliver("n3", "n4", GetS) // Fwd-GetS n4→n1 in flight
	net.nodes["n1"].Crash()
	require.Equal(t, uint64(1), net.nodes["n1"].LostWrites())
	net.collect("n1")
	net.deliver("n1", "n4", Reset)   // the home serves n3 from memory
	net.deliver("n4", "n1", FwdGetS) // dropped: for the lost ownership
	net.drain()
	c := net.lastDone("n3")
	require.Equal(t, "old", string(c.Value))
	require.Equal(t, uint64(1<<32|1), c.Version)
	require.NoError(t, net.check("k", Write{[]byte("old"), 1<<32 | 1}))

	// The restarted node works as before.
	net.put("n1", 5, "k", "newer")
	net.drain()
	require.Equal(t, uint64(3<<32|1), net.lastDone("n1").Version)
	require.NoError(t, net.check("k", Write{[]byte("newer"), 3<<32 | 1}))
}

func TestCrashedRequesterDoesNotWedgeHome(t *testing.T) {
	net := fixed4(t, 4, false)
	readers(t, net)
	net.put("n1", 3, "k", "v1")
	net.deliver("n1", "n4", GetM) // Data and Invs in flight
	net.nodes["n1"].Crash()
	net.collect("n1")
	net.drain()
	de, _ := net.home("k").DirectoryEntry("k")
	require.Equal(t, DirEntry{State: DirS, Sharers: []NodeID{"n2", "n3"}, Grant: 2}, de,
		"n1's Reset ended its ownership; the nodes its grant invalidated are sharers again")
	net.put("n2", 4, "k", "v2")
	net.drain()
	require.Equal(t, "v2", string(net.lastDone("n2").Value))
	require.NoError(t, net.check("k", Write{[]byte("v2"), 3<<32 | 1}))
}

func TestHomeIsAlsoCache(t *testing.T) {
	net := newNetwork(t, 2, 2, false, func([]NodeID) func(string) NodeID { return homeFixed("n1") })
	net.put("n1", 1, "k", "a") // to itself
	net.drain()
	require.Equal(t, Modified, net.state("n1", "k"))
	net.get("n2", 2, "k")
	net.drain()
	require.Equal(t, "a", string(net.lastDone("n2").Value))
	net.put("n2", 3, "k", "b")
	net.drain()
	net.get("n1", 4, "k")
	net.drain()
	require.Equal(t, "b", string(net.lastDone("n1").Value))
	require.NoError(t, net.check("k", Write{[]byte("b"), 2<<32 | 1}))
}

func TestBadInput(t *testing.T) {
	ids := []NodeID{"n1"}
	base := Config{Self: "n1", Nodes: ids, Home: homeFixed("n1"), Capacity: 2, MaxKeyBytes: 4, MaxValueBytes: 3}
	for _, tc := range []struct {
		name string
		mut  func(*Config)
		want string
	}{
		{"empty self", func(c *Config) { c.Self = "" }, "Config.Self is empty"},
		{"nil home", func(c *Config) { c.Home = nil }, "Config.Home is nil"},
		{"no nodes", func(c *Config) { c.Nodes = nil }, "Config.Nodes is empty"},
		{"self missing", func(c *Config) { c.Nodes = []NodeID{"n2"} }, `Config.Self "n1" is not in Config.Nodes`},
		{"duplicate", func(c *Config) { c.Nodes = []NodeID{"n1", "n1"} }, `holds "n1" twice`},
		{"capacity", func(c *Config) { c.Capacity = 0 }, "Config.Capacity 0"},
		{"max value", func(c *Config) { c.MaxValueBytes = -1 }, "Config.MaxValueBytes -1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			tc.mut(&c)
			_, err := NewDirectory(c)
			require.ErrorContains(t, err, tc.want)
		})
	}
	d, err := NewDirectory(base)
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		call func() error
		want string
	}{
		{"get empty key", func() error { return d.Get(1, "", 0) }, "Get: key is empty"},
		{"get long key", func() error { return d.Get(1, "abcde", 0) }, "key length 5 exceeds MaxKeyBytes 4"},
		{"put empty key", func() error { return d.Put(1, "", nil, 0) }, "Put: key is empty"},
		{"put long value", func() error { return d.Put(1, "k", []byte("abcd"), 0) }, "value length 4 exceeds MaxValueBytes 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			require.ErrorContains(t, err, tc.want)
			require.True(t, errors.Is(err, ErrBadRequest))
			require.Empty(t, d.Outbox())
			require.Empty(t, d.Completions())
		})
	}
	require.Panics(t, func() { d.Deliver(Message{Kind: GetS, Key: "k", From: "n1", To: "n2"}, 0) })
	require.True(t, strings.Contains(Message{Kind: FwdGetM}.String(), "Fwd-GetM"))
}
