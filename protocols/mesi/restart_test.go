package mesi

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestResetOwnerKeepsUninvalidatedSharers: an owner that restarts before
// its Invs reach the sharers leaves them holding S copies. The home must
// not grant the next writer M without invalidating them again (found by
// scenarios/cache-swarm.yaml seed 119, where the home's earlier Inv was
// still being retransmitted to a partitioned sharer).
func TestResetOwnerKeepsUninvalidatedSharers(t *testing.T) {
	net := fixed4(t, 4, false)
	readers(t, net) // n1, n2, n3 in S, home n4
	net.put("n1", 3, "k", "v1")
	net.deliver("n1", "n4", GetM) // Data to n1, Invs to n2 and n3 in flight
	net.nodes["n1"].Crash()
	net.collect("n1")
	net.deliver("n1", "n4", Reset)
	require.Equal(t, Shared, net.state("n3", "k"), "n3's Inv is still in flight")
	net.deliver("n4", "n2", Inv)
	net.deliver("n2", "n1", InvAck) // dropped: for n1's lost transaction

	net.put("n2", 4, "k", "v2")
	net.deliver("n2", "n4", GetM)
	d := net.deliver("n4", "n2", Data)
	require.Equal(t, 1, d.Acks, "n3 may still hold S: n2 must wait for its ack")
	require.NotEqual(t, Modified, net.state("n2", "k"))
	require.NoError(t, net.check("k", Write{[]byte("v0"), 1<<32 | 1}))
	net.drain()
	require.Equal(t, "v2", string(net.lastDone("n2").Value))
	require.Equal(t, Invalid, net.state("n3", "k"))
	require.NoError(t, net.check("k", Write{[]byte("v2"), 3<<32 | 1}))
}

// restartHome restarts a directory node from its durable state the way
// nodes/caches does, losing every message it had in flight.
func restartHome(t *testing.T, net *network, id NodeID) {
	t.Helper()
	old := net.nodes[id].(*Directory)
	fresh, err := NewDirectory(old.cfg)
	require.NoError(t, err)
	require.NoError(t, fresh.RestoreDurable(old.Durable()))
	fresh.SetTxnBase(1 << 40)
	fresh.Restart()
	net.nodes[id] = fresh
	for p := range net.links { //det:ordered each link is cleared independently
		if p.from == id {
			delete(net.links, p)
		}
	}
	net.collect(id)
}

// TestRestartedHomeLostInvs: a home that restarts with its Invs lost in
// flight no longer knows who holds the key. The sharers it had
// invalidated become sharers again, and a node that may hold M is
// awaited: nothing of the key is served before it has sent its Reset.
func TestRestartedHomeLostInvs(t *testing.T) {
	net := fixed4(t, 4, false)
	readers(t, net) // n1, n2, n3 in S, home n4
	net.put("n1", 3, "k", "v1")
	net.deliver("n1", "n4", GetM) // Data to n1, Invs to n2 and n3: all lost
	restartHome(t, net, "n4")
	de, _ := net.home("k").DirectoryEntry("k")
	require.Equal(t, DirEntry{State: DirS, Sharers: []NodeID{"n2", "n3"}, Grant: 2, Awaiting: []NodeID{"n1"}}, de)

	// n3 learns of the restart first (n2 is partitioned away): it crashes
	// its cache side and resets; its write waits for n1.
	net.nodes["n3"].Crash()
	net.collect("n3")
	net.deliver("n3", "n4", Reset)
	net.put("n3", 4, "k", "v2")
	net.deliver("n3", "n4", GetM)
	require.Equal(t, 1, net.home("k").entries["k"].queueLen(), "queued behind n1's Reset")

	net.nodes["n1"].Crash()
	net.collect("n1")
	net.deliver("n1", "n4", Reset)
	net.deliver("n4", "n3", Reset) // the restarted home's own Reset
	d := net.deliver("n4", "n3", Data)
	require.Equal(t, 1, d.Acks, "n2 never got its Inv: it still holds S")
	require.Equal(t, Shared, net.state("n2", "k"))
	require.NoError(t, net.check("k", Write{[]byte("v0"), 1<<32 | 1}))
	net.drain()
	require.Equal(t, Invalid, net.state("n2", "k"))
	require.Equal(t, Modified, net.state("n3", "k"))
	require.NoError(t, net.check("k", Write{[]byte("v2"), net.lastDone("n3").Version}))
}

// TestRestartedHomeDurableAwaiting: the awaited nodes survive another
// restart of the home.
func TestRestartedHomeDurableAwaiting(t *testing.T) {
	net := fixed4(t, 4, false)
	net.put("n1", 1, "k", "v")
	net.drain()
	restartHome(t, net, "n4")
	restartHome(t, net, "n4")
	de, _ := net.home("k").DirectoryEntry("k")
	require.Equal(t, []NodeID{"n1"}, de.Awaiting)
	require.Equal(t, DirI, de.State)
}

func (e *entry) queueLen() int { return len(e.queue) }

// TestOwnerCrashAfterFwdGetS: an owner answers a Fwd-GetS and crashes;
// its Data(home) is lost with it, while whatever it sent the reader
// arrives. The reader must not end up with data newer than memory, or
// the home, serving memory once it has the owner's Reset, would give the
// next reader an older value than the first one saw (found by
// scenarios/cache-swarm.yaml seed 754: the Primer's owner sends the
// reader's Data itself; here the home does, once memory holds the line).
func TestOwnerCrashAfterFwdGetS(t *testing.T) {
	net := fixed4(t, 4, false)
	net.put("n1", 1, "k", "x")
	net.drain()
	net.get("n2", 2, "k")
	net.deliver("n2", "n4", GetS)
	net.deliver("n4", "n1", FwdGetS)
	require.Equal(t, Shared, net.state("n1", "k"))
	require.Empty(t, net.links[pair{"n1", "n2"}], "the reader's Data comes from the home")
	delete(net.links, pair{"n1", "n4"}) // the Data(home) dies with n1
	net.nodes["n1"].Crash()
	net.collect("n1")
	net.drain()
	first := net.done["n2"][len(net.done["n2"])-1]
	net.get("n3", 3, "k")
	net.drain()
	second := net.lastDone("n3")
	require.Equal(t, first.Version, second.Version, "a later read saw an older version")
	require.Zero(t, second.Version, "x was lost with n1's Data(home): memory never had it")
	require.NoError(t, net.check("k", Write{}))
}
