package lockmgr

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSessionExpiryReleasesLocksAndGrantsWaiters(t *testing.T) {
	h := newHarness(t, Config{})
	a, b, c := h.open("a"), h.open("b"), h.open("c")
	requireGranted(t, h.acquire("a", a, "r1", Exclusive, NoWait))
	requireGranted(t, h.acquire("a", a, "r2", Shared, NoWait))
	wb := h.acquire("b", b, "r1", Exclusive, Forever)
	require.Equal(t, StatusQueued, wb.Status)
	wc := h.acquire("c", c, "r2", Exclusive, Forever)
	require.Equal(t, StatusQueued, wc.Status)
	requireGranted(t, h.acquire("a", a, "r4", Shared, Forever))

	info, ok := h.m.Session(a)
	require.True(t, ok)
	assert.Equal(t, []Resource{"r1", "r2", "r4"}, info.Held)

	// A stale expiry (the session was renewed since) is refused.
	renewed := info.Renewed
	require.Equal(t, StatusOK, h.apply(KeepAlive{Client: "a", Seq: h.next("a"), Session: a}).Status)
	requireRejected(t, h.apply(ExpireSession{Session: a, LastRenewal: renewed}), ErrSessionRenewed)
	info, _ = h.m.Session(a)

	res := h.apply(ExpireSession{Session: a, LastRenewal: info.Renewed})
	require.Equal(t, StatusOK, res.Status)
	expiry := Token(h.index)
	assert.Equal(t, []Event{
		{Kind: EventGranted, Client: "b", Session: b, Resource: "r1", Mode: Exclusive, Request: wb.Request, Token: expiry},
		{Kind: EventGranted, Client: "c", Session: c, Resource: "r2", Mode: Exclusive, Request: wc.Request, Token: expiry},
	}, h.events)
	_, ok = h.m.Session(a)
	assert.False(t, ok)
	assert.Equal(t, []SessionID{b}, h.holders("r1"))
	assert.Equal(t, []SessionID{c}, h.holders("r2"))
	assert.Nil(t, h.m.Holders("r4"))
	assert.Equal(t, uint64(1), h.m.Stats().Expired)
	requireRejected(t, h.apply(ExpireSession{Session: a}), ErrUnknownSession)
}

func TestExpiryAbortsTheSessionsWait(t *testing.T) {
	h := newHarness(t, Config{})
	a, b := h.open("a"), h.open("b")
	requireGranted(t, h.acquire("a", a, "r", Exclusive, NoWait))
	wb := h.acquire("b", b, "r", Exclusive, Forever)
	h.apply(ExpireSession{Session: b})
	require.Len(t, h.events, 1)
	ev := h.events[0]
	assert.Equal(t, EventAborted, ev.Kind)
	assert.Equal(t, wb.Request, ev.Request)
	assert.ErrorIs(t, ev.Err, ErrSessionExpired)
	assert.Contains(t, ev.Err.Error(), fmt.Sprintf("request %d", wb.Request))
	assert.Empty(t, h.waiters("r"))

	// The waiting client's retry learns the outcome from the cache.
	retry := h.apply(Acquire{Client: "b", Seq: h.seq["b"], Session: b, Resource: "r", Mode: Exclusive, Wait: WaitPolicy{Kind: Forever}})
	requireRejected(t, retry, ErrSessionExpired)
}

func TestCloseSessionReleasesAndAborts(t *testing.T) {
	h := newHarness(t, Config{})
	a, b, c := h.open("a"), h.open("b"), h.open("c")
	requireGranted(t, h.acquire("a", a, "r", Shared, NoWait))
	requireGranted(t, h.acquire("b", b, "s", Exclusive, NoWait))
	require.Equal(t, StatusQueued, h.acquire("a", a, "s", Exclusive, Forever).Status)
	require.Equal(t, StatusQueued, h.acquire("c", c, "r", Exclusive, Forever).Status)
	require.Equal(t, StatusOK, h.close("a", a).Status)
	require.Len(t, h.events, 2)
	assert.Equal(t, EventAborted, h.events[0].Kind)
	assert.ErrorIs(t, h.events[0].Err, ErrSessionClosed)
	assert.Equal(t, Event{Kind: EventGranted, Client: "c", Session: c, Resource: "r", Mode: Exclusive,
		Request: h.events[1].Request, Token: Token(h.index)}, h.events[1])
	assert.Equal(t, uint64(2), h.m.Stats().Sessions)
}

func TestExactlyOnceUnderRetries(t *testing.T) {
	h := newHarness(t, Config{})
	open := OpenSession{Client: "a", Seq: 1, TTL: time.Second}
	first := h.apply(open)
	require.Equal(t, StatusOK, first.Status)
	assert.Equal(t, first, h.apply(open), "a retried OpenSession returns the same session")
	assert.Len(t, h.m.Sessions(), 1)

	acq := Acquire{Client: "a", Seq: 2, Session: first.Session, Resource: "r", Mode: Exclusive}
	g := h.apply(acq)
	requireGranted(t, g)
	assert.Equal(t, g, h.apply(acq))
	assert.Equal(t, uint64(1), h.m.Stats().Grants, "applied once")

	rel := Release{Client: "a", Seq: 3, Session: first.Session, Resource: "r"}
	require.Equal(t, StatusOK, h.apply(rel).Status)
	assert.Equal(t, StatusOK, h.apply(rel).Status, "a retried Release is not a release by a non-holder")
	requireRejected(t, h.apply(acq), ErrStaleSequence)
	assert.Equal(t, uint64(1), h.m.Stats().Grants)

	// A rejected command is cached too: its retry gets the same error.
	bad := Acquire{Client: "a", Seq: 4, Session: first.Session, Resource: "", Mode: Shared}
	r1 := h.apply(bad)
	assert.Equal(t, r1, h.apply(bad))
}

func TestRetryOfQueuedAcquire(t *testing.T) {
	h := newHarness(t, Config{})
	a, b := h.open("a"), h.open("b")
	requireGranted(t, h.acquire("a", a, "r", Exclusive, NoWait))
	acq := Acquire{Client: "b", Seq: h.next("b"), Session: b, Resource: "r", Mode: Exclusive, Wait: WaitPolicy{Kind: Forever}}
	q := h.apply(acq)
	require.Equal(t, StatusQueued, q.Status)
	assert.Equal(t, q, h.apply(acq), "still waiting: Queued again, not queued twice")
	assert.Len(t, h.waiters("r"), 1)

	h.release("a", a, "r")
	require.Len(t, h.events, 1)
	token := h.events[0].Token
	g := h.apply(acq)
	assert.Equal(t, Result{Status: StatusGranted, Token: token, Request: q.Request}, g,
		"after the grant, a retry returns the grant")
}

func TestCloseSessionRetryWithinIdleWindow(t *testing.T) {
	h := newHarness(t, Config{})
	a := h.open("a")
	cl := CloseSession{Client: "a", Seq: h.next("a"), Session: a}
	require.Equal(t, StatusOK, h.apply(cl).Status)
	assert.Equal(t, StatusOK, h.apply(cl).Status, "the idle client's entry still answers the retry")
}

func TestIdleClientsBounded(t *testing.T) {
	h := newHarness(t, Config{MaxIdleClients: 3})
	h.open("keep")
	for i := range 10 {
		c := ClientID(fmt.Sprintf("c%d", i))
		s := h.open(c)
		h.close(c, s)
	}
	// Clients with live sessions are never evicted; idle ones are, oldest first.
	assert.Len(t, h.m.clients, 4)
	for _, c := range []ClientID{"keep", "c7", "c8", "c9"} {
		assert.Contains(t, h.m.clients, c)
	}
	// An evicted client starts afresh: its old sequence numbers are accepted again.
	res := h.apply(OpenSession{Client: "c0", Seq: 1, TTL: time.Second})
	assert.Equal(t, StatusOK, res.Status)
	// Bad commands from unknown clients do not grow the table beyond the bound.
	for i := range 20 {
		h.apply(KeepAlive{Client: ClientID(fmt.Sprintf("x%d", i)), Seq: 1, Session: 12345})
	}
	assert.LessOrEqual(t, h.m.idle.len, 3)
}
