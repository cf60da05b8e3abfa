package lockmgr

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCompatibility(t *testing.T) {
	cases := []struct {
		held, asked Mode
		granted     bool
	}{
		{Shared, Shared, true},
		{Shared, Exclusive, false},
		{Exclusive, Shared, false},
		{Exclusive, Exclusive, false},
	}
	for _, tc := range cases {
		t.Run(tc.held.String()+"-"+tc.asked.String(), func(t *testing.T) {
			h := newHarness(t, Config{})
			a, b := h.open("a"), h.open("b")
			requireGranted(t, h.acquire("a", a, "r", tc.held, NoWait))
			res := h.acquire("b", b, "r", tc.asked, NoWait)
			if tc.granted {
				requireGranted(t, res)
				assert.Equal(t, []SessionID{a, b}, h.holders("r"))
			} else {
				requireRejected(t, res, ErrWouldBlock)
				assert.Equal(t, []SessionID{a}, h.holders("r"))
			}
		})
	}
}

func TestTokenIsGrantIndex(t *testing.T) {
	h := newHarness(t, Config{})
	a, b := h.open("a"), h.open("b")
	tokA := requireGranted(t, h.acquire("a", a, "r", Exclusive, Forever))
	assert.Equal(t, Token(h.index), tokA, "immediate grant: the Acquire's own index")
	res := h.acquire("b", b, "r", Exclusive, Forever)
	require.Equal(t, StatusQueued, res.Status)
	assert.Equal(t, h.index, res.Request)

	require.Equal(t, StatusOK, h.release("a", a, "r").Status)
	require.Len(t, h.events, 1)
	ev := h.events[0]
	assert.Equal(t, Event{Kind: EventGranted, Client: "b", Session: b, Resource: "r", Mode: Exclusive,
		Request: res.Request, Token: Token(h.index)}, ev, "a later grant: the index of the freeing entry")
	assert.Greater(t, ev.Token, tokA)
	assert.Equal(t, []HolderInfo{{Session: b, Client: "b", Mode: Exclusive, Token: ev.Token}}, h.m.Holders("r"))
}

func TestFIFOOrderAndNoBarging(t *testing.T) {
	h := newHarness(t, Config{})
	s := map[ClientID]SessionID{}
	for _, c := range []ClientID{"a", "b", "c", "d", "e"} {
		s[c] = h.open(c)
	}
	requireGranted(t, h.acquire("a", s["a"], "r", Shared, Forever))
	assert.Equal(t, StatusQueued, h.acquire("b", s["b"], "r", Exclusive, Forever).Status)
	// A shared request behind a queued exclusive one queues too.
	assert.Equal(t, StatusQueued, h.acquire("c", s["c"], "r", Shared, Forever).Status)
	requireRejected(t, h.acquire("d", s["d"], "r", Shared, NoWait), ErrWouldBlock)
	assert.Equal(t, StatusQueued, h.acquire("d", s["d"], "r", Shared, Forever).Status)
	assert.Equal(t, StatusQueued, h.acquire("e", s["e"], "r", Exclusive, Forever).Status)
	assert.Equal(t, []SessionID{s["b"], s["c"], s["d"], s["e"]}, h.waiters("r"))

	h.release("a", s["a"], "r")
	assert.Equal(t, []SessionID{s["b"]}, h.holders("r"))
	// b's release grants c and d together (compatible), not e.
	h.release("b", s["b"], "r")
	assert.Equal(t, []SessionID{s["c"], s["d"]}, h.holders("r"))
	require.Len(t, h.events, 2)
	assert.Equal(t, h.events[0].Token, h.events[1].Token, "granted by the same entry")
	assert.Equal(t, []SessionID{s["e"]}, h.waiters("r"))
	h.release("c", s["c"], "r")
	assert.Empty(t, h.events)
	h.release("d", s["d"], "r")
	assert.Equal(t, []SessionID{s["e"]}, h.holders("r"))
	h.release("e", s["e"], "r")
	assert.Empty(t, h.m.Resources(), "a free resource is forgotten")
	st := h.m.Stats()
	assert.Equal(t, Stats{Sessions: 5, Grants: 5, Waits: 4}, st)
}

func TestReacquireIsIdempotent(t *testing.T) {
	h := newHarness(t, Config{})
	a := h.open("a")
	tok := requireGranted(t, h.acquire("a", a, "r", Exclusive, NoWait))
	assert.Equal(t, tok, requireGranted(t, h.acquire("a", a, "r", Exclusive, NoWait)))
	assert.Equal(t, tok, requireGranted(t, h.acquire("a", a, "r", Shared, Forever)), "exclusive covers shared")
	assert.Equal(t, uint64(1), h.m.Stats().ActiveLocks)

	tokS := requireGranted(t, h.acquire("a", a, "s", Shared, NoWait))
	assert.Equal(t, tokS, requireGranted(t, h.acquire("a", a, "s", Shared, NoWait)))
}

func TestUpgradeSoleHolderGrantedAtOnce(t *testing.T) {
	h := newHarness(t, Config{})
	a := h.open("a")
	tokS := requireGranted(t, h.acquire("a", a, "r", Shared, NoWait))
	tokX := requireGranted(t, h.acquire("a", a, "r", Exclusive, NoWait))
	assert.Greater(t, tokX, tokS, "an upgrade is a new grant with a new token")
	assert.Equal(t, []HolderInfo{{Session: a, Client: "a", Mode: Exclusive, Token: tokX}}, h.m.Holders("r"))
}

func TestUpgradeQueuesAheadOfOrdinaryWaiters(t *testing.T) {
	h := newHarness(t, Config{})
	a, b, c := h.open("a"), h.open("b"), h.open("c")
	requireGranted(t, h.acquire("a", a, "r", Shared, NoWait))
	requireGranted(t, h.acquire("b", b, "r", Shared, NoWait))
	assert.Equal(t, StatusQueued, h.acquire("c", c, "r", Exclusive, Forever).Status)
	requireRejected(t, h.acquire("a", a, "r", Exclusive, NoWait), ErrWouldBlock)
	up := h.acquire("a", a, "r", Exclusive, Forever)
	require.Equal(t, StatusQueued, up.Status)
	ws := h.m.Waiters("r")
	require.Len(t, ws, 2)
	assert.Equal(t, a, ws[0].Session)
	assert.True(t, ws[0].Upgrade)
	assert.False(t, ws[1].Upgrade)

	h.release("b", b, "r")
	require.Len(t, h.events, 1)
	assert.Equal(t, EventGranted, h.events[0].Kind)
	assert.Equal(t, up.Request, h.events[0].Request)
	assert.Equal(t, []HolderInfo{{Session: a, Client: "a", Mode: Exclusive, Token: Token(h.index)}}, h.m.Holders("r"))
	assert.Equal(t, []SessionID{c}, h.waiters("r"))
}

func TestReleaseDuringUpgradeAbortsIt(t *testing.T) {
	h := newHarness(t, Config{})
	a, b := h.open("a"), h.open("b")
	requireGranted(t, h.acquire("a", a, "r", Shared, NoWait))
	requireGranted(t, h.acquire("b", b, "r", Shared, NoWait))
	up := h.acquire("a", a, "r", Exclusive, Forever)
	require.Equal(t, StatusQueued, up.Status)
	require.Equal(t, StatusOK, h.release("a", a, "r").Status)
	require.Len(t, h.events, 1)
	assert.Equal(t, EventAborted, h.events[0].Kind)
	assert.ErrorIs(t, h.events[0].Err, ErrReleased)
	assert.Equal(t, []SessionID{b}, h.holders("r"))
	assert.Empty(t, h.waiters("r"))
}

func TestOneWaitPerSession(t *testing.T) {
	h := newHarness(t, Config{})
	a, b := h.open("a"), h.open("b")
	requireGranted(t, h.acquire("a", a, "r", Exclusive, NoWait))
	requireGranted(t, h.acquire("a", a, "s", Exclusive, NoWait))
	require.Equal(t, StatusQueued, h.acquire("b", b, "r", Exclusive, Forever).Status)
	requireRejected(t, h.acquire("b", b, "s", Exclusive, Forever), ErrAlreadyWaiting)
	requireRejected(t, h.acquire("b", b, "s", Exclusive, NoWait), ErrWouldBlock)
	requireGranted(t, h.acquire("b", b, "t", Exclusive, Forever))
}

func TestCancelWait(t *testing.T) {
	h := newHarness(t, Config{})
	a, b, c := h.open("a"), h.open("b"), h.open("c")
	requireGranted(t, h.acquire("a", a, "r", Exclusive, NoWait))
	wb := h.acquire("b", b, "r", Exclusive, Timeout)
	require.Equal(t, StatusQueued, wb.Status)
	require.Equal(t, StatusQueued, h.acquire("c", c, "r", Shared, Forever).Status)
	assert.Equal(t, []WaiterInfo{
		{Session: b, Client: "b", Resource: "r", Mode: Exclusive, Request: wb.Request, Wait: WaitPolicy{Kind: Timeout, Timeout: 1e9}},
		{Session: c, Client: "c", Resource: "r", Mode: Shared, Request: wb.Request + 1, Wait: WaitPolicy{Kind: Forever}},
	}, h.m.Waiting())

	requireRejected(t, h.apply(CancelWait{Session: b, Resource: "r", RequestIndex: wb.Request + 7}), ErrNotWaiting)
	require.Equal(t, StatusOK, h.apply(CancelWait{Session: b, Resource: "r", RequestIndex: wb.Request}).Status)
	require.Len(t, h.events, 1)
	assert.Equal(t, EventAborted, h.events[0].Kind)
	assert.ErrorIs(t, h.events[0].Err, ErrTimeout)
	assert.Equal(t, []SessionID{c}, h.waiters("r"))
	// A second cancel of the same request is a no-op.
	requireRejected(t, h.apply(CancelWait{Session: b, Resource: "r", RequestIndex: wb.Request}), ErrNotWaiting)
	assert.Equal(t, uint64(1), h.m.Stats().Timeouts)

	// Cancelling the head waiter can grant the ones behind it.
	h2 := newHarness(t, Config{})
	a, b, c = h2.open("a"), h2.open("b"), h2.open("c")
	requireGranted(t, h2.acquire("a", a, "r", Shared, NoWait))
	wb = h2.acquire("b", b, "r", Exclusive, Timeout)
	require.Equal(t, StatusQueued, h2.acquire("c", c, "r", Shared, Forever).Status)
	h2.apply(CancelWait{Session: b, Resource: "r", RequestIndex: wb.Request})
	require.Len(t, h2.events, 2)
	assert.Equal(t, EventAborted, h2.events[0].Kind)
	assert.Equal(t, EventGranted, h2.events[1].Kind)
	assert.Equal(t, []SessionID{a, c}, h2.holders("r"))
}

func TestReleaseByNonHolderLeavesTableUntouched(t *testing.T) {
	h := newHarness(t, Config{})
	a, b := h.open("a"), h.open("b")
	requireGranted(t, h.acquire("a", a, "r", Exclusive, NoWait))
	require.Equal(t, StatusQueued, h.acquire("b", b, "r", Exclusive, Forever).Status)
	before := h.m.tableBytes()
	res := h.release("b", b, "r")
	requireRejected(t, res, ErrNotHolder)
	assert.Contains(t, res.Err.Error(), `Release.Resource = "r"`)
	assert.Equal(t, before, h.m.tableBytes())
	requireRejected(t, h.release("b", b, "nothing"), ErrNotHolder)
	assert.Equal(t, before, h.m.tableBytes())
}

func TestApplyPanicsOnNonIncreasingIndex(t *testing.T) {
	m := New(Config{})
	m.Apply(5, OpenSession{Client: "a", Seq: 1, TTL: 1e9})
	assert.PanicsWithValue(t, "lockmgr: apply index 5 not after last applied index 5", func() {
		m.Apply(5, KeepAlive{Client: "a", Seq: 2, Session: 5})
	})
	assert.Panics(t, func() { New(Config{MaxTTL: -1}) })
}

func TestQueueBound(t *testing.T) {
	h := newHarness(t, Config{MaxQueueLength: 2})
	a := h.open("a")
	requireGranted(t, h.acquire("a", a, "r", Exclusive, NoWait))
	for _, c := range []ClientID{"b", "c"} {
		require.Equal(t, StatusQueued, h.acquire(c, h.open(c), "r", Exclusive, Forever).Status)
	}
	requireRejected(t, h.acquire("d", h.open("d"), "r", Exclusive, Forever), ErrQueueFull)
}

func TestLockAndSessionBounds(t *testing.T) {
	h := newHarness(t, Config{MaxLocksPerSession: 1, MaxSessions: 2})
	a, b := h.open("a"), h.open("b")
	requireRejected(t, h.apply(OpenSession{Client: "c", Seq: 1, TTL: 1e9}), ErrTooManySessions)
	requireGranted(t, h.acquire("a", a, "r", Exclusive, NoWait))
	requireRejected(t, h.acquire("a", a, "s", Exclusive, NoWait), ErrTooManyLocks)
	requireGranted(t, h.acquire("b", b, "s", Exclusive, NoWait))
	requireRejected(t, h.acquire("a", a, "s", Exclusive, Forever), ErrTooManyLocks)
}

func TestQueriesOfUnknownThings(t *testing.T) {
	m := New(Config{})
	assert.Nil(t, m.Holders("x"))
	assert.Nil(t, m.Waiters("x"))
	assert.Nil(t, m.Waiting())
	assert.Nil(t, m.WaitsFor(3))
	_, ok := m.Session(3)
	assert.False(t, ok)
	assert.Empty(t, m.Sessions())
	assert.Equal(t, DefaultMaxTTL, m.Config().MaxTTL)
	assert.Zero(t, m.LastApplied())
}
