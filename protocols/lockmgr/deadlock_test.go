package lockmgr

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDeadlockRings builds rings of n clients, each holding its own
// resource and then asking for the next client's: the last request closes
// the cycle. It must be detected once, with the youngest request (the last
// one) as the victim, and the rest of the ring must then drain in order.
func TestDeadlockRings(t *testing.T) {
	for n := 2; n <= 8; n++ {
		for _, mode := range []Mode{Exclusive, Shared} {
			t.Run(fmt.Sprintf("%d-%v", n, mode), func(t *testing.T) { testRing(t, n, mode) })
		}
	}
}

func testRing(t *testing.T, n int, asked Mode) {
	h := newHarness(t, Config{})
	clients := make([]ClientID, n)
	sessions := make([]SessionID, n)
	res := func(i int) Resource { return Resource(fmt.Sprintf("r%d", i%n)) }
	for i := range n {
		clients[i] = ClientID(fmt.Sprintf("c%d", i))
		sessions[i] = h.open(clients[i])
		requireGranted(t, h.acquire(clients[i], sessions[i], res(i), Exclusive, NoWait))
	}
	requests := make([]Result, n)
	for i := range n {
		requests[i] = h.acquire(clients[i], sessions[i], res(i+1), asked, Forever)
		if i < n-1 {
			require.Equal(t, StatusQueued, requests[i].Status, "client %d", i)
			assert.Zero(t, h.m.Stats().Deadlocks)
		}
	}
	victim := requests[n-1]
	requireRejected(t, victim, ErrDeadlockVictim)
	assert.Contains(t, victim.Err.Error(), fmt.Sprintf("request %d", h.index))
	assert.Empty(t, h.events, "the victim is the request being applied: no event")
	st := h.m.Stats()
	assert.Equal(t, uint64(1), st.Deadlocks)
	assert.Equal(t, uint64(1), st.Victims)
	assert.Equal(t, uint64(n-1), st.Waiting)

	// The victim gives up its lock; the chain unwinds from its predecessor.
	h.release(clients[n-1], sessions[n-1], res(n-1))
	for i := n - 2; i >= 0; i-- {
		require.Len(t, h.events, 1, "step %d", i)
		assert.Equal(t, EventGranted, h.events[0].Kind)
		assert.Equal(t, sessions[i], h.events[0].Session)
		assert.Equal(t, requests[i].Request, h.events[0].Request)
		h.release(clients[i], sessions[i], res(i))
	}
	assert.Equal(t, uint64(1), h.m.Stats().Deadlocks, "resolution detected nothing more")
}

func TestUpgradeDeadlock(t *testing.T) {
	h := newHarness(t, Config{})
	a, b := h.open("a"), h.open("b")
	requireGranted(t, h.acquire("a", a, "r", Shared, NoWait))
	requireGranted(t, h.acquire("b", b, "r", Shared, NoWait))
	ua := h.acquire("a", a, "r", Exclusive, Forever)
	require.Equal(t, StatusQueued, ua.Status)
	assert.Equal(t, []SessionID{b}, h.m.WaitsFor(a))
	requireRejected(t, h.acquire("b", b, "r", Exclusive, Forever), ErrDeadlockVictim)
	assert.Equal(t, uint64(1), h.m.Stats().Deadlocks)
	// b still holds its shared lock; releasing it lets a's upgrade through.
	h.release("b", b, "r")
	require.Len(t, h.events, 1)
	assert.Equal(t, ua.Request, h.events[0].Request)
	assert.Equal(t, []HolderInfo{{Session: a, Client: "a", Mode: Exclusive, Token: Token(h.index)}}, h.m.Holders("r"))
}

func TestEdgesToEarlierConflictingWaiters(t *testing.T) {
	h := newHarness(t, Config{})
	a, b, c, d := h.open("a"), h.open("b"), h.open("c"), h.open("d")
	requireGranted(t, h.acquire("a", a, "r", Shared, NoWait))
	h.acquire("b", b, "r", Exclusive, Forever)
	h.acquire("c", c, "r", Shared, Forever)
	h.acquire("d", d, "r", Exclusive, Forever)
	assert.Equal(t, []SessionID{a}, h.m.WaitsFor(b))
	assert.Equal(t, []SessionID{b}, h.m.WaitsFor(c), "shared behind exclusive: waits for the exclusive waiter only")
	assert.Equal(t, []SessionID{a, b, c}, h.m.WaitsFor(d))
	h.release("a", a, "r")
	assert.Nil(t, h.m.WaitsFor(b), "granted: no edges")
	assert.Equal(t, []SessionID{b}, h.m.WaitsFor(c), "b is now a conflicting holder")
	assert.Equal(t, []SessionID{b, c}, h.m.WaitsFor(d))
}

// TestDeadlockThroughQueueOrder: a cycle that exists only through the
// no-barging rule (a shared request waits for an earlier exclusive waiter
// although its lock is compatible with the holders).
func TestDeadlockThroughQueueOrder(t *testing.T) {
	h := newHarness(t, Config{})
	a, b, c := h.open("a"), h.open("b"), h.open("c")
	requireGranted(t, h.acquire("a", a, "r", Shared, NoWait))
	requireGranted(t, h.acquire("c", c, "s", Exclusive, NoWait))
	require.Equal(t, StatusQueued, h.acquire("b", b, "r", Exclusive, Forever).Status) // b -> a
	require.Equal(t, StatusQueued, h.acquire("a", a, "s", Exclusive, Forever).Status) // a -> c
	// c asks for r in shared mode: compatible with a, but queued behind b.
	requireRejected(t, h.acquire("c", c, "r", Shared, Forever), ErrDeadlockVictim) // c -> b -> a -> c
}
