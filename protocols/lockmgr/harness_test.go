package lockmgr

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// harness drives a Manager the way a node would: consecutive log indexes,
// one increasing sequence number per client, and the invariants checked
// after every apply.
type harness struct {
	t      testing.TB
	m      *Manager
	index  uint64
	seq    map[ClientID]uint64
	events []Event // events of the last apply, copied
}

func newHarness(t testing.TB, cfg Config) *harness {
	return &harness{t: t, m: New(cfg), seq: map[ClientID]uint64{}}
}

// apply applies cmd at the next index and checks the invariants.
func (h *harness) apply(cmd Command) Result {
	h.t.Helper()
	h.index++
	res := h.m.Apply(h.index, cmd)
	h.events = append([]Event(nil), h.m.Events()...)
	require.NoError(h.t, h.m.CheckInvariants(), "after %#v at index %d", cmd, h.index)
	return res
}

// next returns the client's next sequence number.
func (h *harness) next(c ClientID) uint64 {
	h.seq[c]++
	return h.seq[c]
}

func (h *harness) open(c ClientID) SessionID {
	h.t.Helper()
	res := h.apply(OpenSession{Client: c, Seq: h.next(c), TTL: 10 * time.Second})
	require.Equal(h.t, StatusOK, res.Status, "%v", res.Err)
	return res.Session
}

func (h *harness) acquire(c ClientID, s SessionID, r Resource, mode Mode, kind WaitKind) Result {
	h.t.Helper()
	w := WaitPolicy{Kind: kind}
	if kind == Timeout {
		w.Timeout = time.Second
	}
	return h.apply(Acquire{Client: c, Seq: h.next(c), Session: s, Resource: r, Mode: mode, Wait: w})
}

func (h *harness) release(c ClientID, s SessionID, r Resource) Result {
	h.t.Helper()
	return h.apply(Release{Client: c, Seq: h.next(c), Session: s, Resource: r})
}

func (h *harness) close(c ClientID, s SessionID) Result {
	h.t.Helper()
	return h.apply(CloseSession{Client: c, Seq: h.next(c), Session: s})
}

// holders returns the sessions holding r, in grant order.
func (h *harness) holders(r Resource) []SessionID {
	var out []SessionID
	for _, x := range h.m.Holders(r) {
		out = append(out, x.Session)
	}
	return out
}

// waiters returns the sessions waiting for r, in FIFO order.
func (h *harness) waiters(r Resource) []SessionID {
	var out []SessionID
	for _, x := range h.m.Waiters(r) {
		out = append(out, x.Session)
	}
	return out
}

// requireGranted checks a Granted result and returns its token.
func requireGranted(t testing.TB, res Result) Token {
	t.Helper()
	require.Equal(t, StatusGranted, res.Status, "result %+v", res)
	require.NoError(t, res.Err)
	return res.Token
}

// requireRejected checks a Rejected result wrapping sentinel.
func requireRejected(t testing.TB, res Result, sentinel error) {
	t.Helper()
	require.Equal(t, StatusRejected, res.Status, "result %+v", res)
	require.True(t, errors.Is(res.Err, sentinel), "error %v is not %v", res.Err, sentinel)
}

// tableBytes encodes the lock table proper (sessions, resources, queues,
// gauges), without the exactly-once cache that every command updates: a
// rejected command must leave it unchanged.
func (m *Manager) tableBytes() []byte {
	e := newEncoder(0)
	m.encodeSessions(e)
	m.encodeResources(e)
	st := m.Stats()
	for _, v := range []uint64{st.Sessions, st.ActiveLocks, st.Waiting, st.Grants, st.Waits, st.Deadlocks, st.Victims, st.Timeouts, st.Expired} {
		e.Uint(v)
	}
	for _, edge := range m.graph.Edges() {
		e.Uint(uint64(edge.From))
		e.Uint(uint64(edge.To))
	}
	return e.Bytes()
}
