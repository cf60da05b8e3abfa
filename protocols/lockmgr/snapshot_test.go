package lockmgr

import (
	"bytes"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// busyHarness builds a table with every kind of state: shared and
// exclusive holders, an upgrade waiter, ordinary waiters, an idle client,
// cached results of every status.
func busyHarness(t testing.TB) *harness {
	h := newHarness(t, Config{})
	a, b, c, d := h.open("a"), h.open("b"), h.open("c"), h.open("d")
	requireGranted(t, h.acquire("a", a, "r", Shared, NoWait))
	requireGranted(t, h.acquire("b", b, "r", Shared, NoWait))
	requireGranted(t, h.acquire("c", c, "x", Exclusive, NoWait))
	h.acquire("a", a, "r", Exclusive, Forever)
	h.acquire("c", c, "r", Shared, Timeout)
	h.acquire("d", d, "x", Shared, Forever)
	requireRejected(t, h.acquire("b", b, "r", Exclusive, NoWait), ErrWouldBlock)
	e := h.open("e")
	h.close("e", e)
	return h
}

func TestSnapshotRoundTrip(t *testing.T) {
	h := busyHarness(t)
	snap := h.m.Snapshot()
	assert.Equal(t, snap, h.m.Snapshot(), "deterministic")

	m2 := New(Config{})
	require.NoError(t, m2.Restore(snap))
	require.NoError(t, m2.CheckInvariants())
	assert.Equal(t, snap, m2.Snapshot())
	assert.Equal(t, h.m.Stats(), m2.Stats())
	assert.Equal(t, h.m.Sessions(), m2.Sessions())
	assert.Equal(t, h.m.Waiting(), m2.Waiting())
	assert.Equal(t, h.m.graph.Edges(), m2.graph.Edges())

	// Both continue identically.
	cmds := []Command{
		Release{Client: "b", Seq: 10, Session: 2, Resource: "r"},
		ExpireSession{Session: 3},
		Acquire{Client: "b", Seq: 11, Session: 2, Resource: "x", Mode: Exclusive, Wait: WaitPolicy{Kind: Forever}},
	}
	for _, c := range cmds {
		h.index++
		r1 := h.m.Apply(h.index, c)
		e1 := append([]Event{}, h.m.Events()...)
		r2 := m2.Apply(h.index, c)
		assert.Equal(t, r1, r2)
		assert.Equal(t, e1, append([]Event{}, m2.Events()...))
		assert.Equal(t, h.m.Snapshot(), m2.Snapshot())
	}
}

func TestRestoreRejectsCorruption(t *testing.T) {
	h := busyHarness(t)
	snap := h.m.Snapshot()
	m2 := busyHarness(t).m
	before := m2.Snapshot()
	for i := range snap {
		for _, b := range []byte{snap[i] ^ 0x01, snap[i] ^ 0x80, ^snap[i]} {
			bad := bytes.Clone(snap)
			bad[i] = b
			err := m2.Restore(bad)
			require.Error(t, err, "byte %d: the CRC catches every single-byte change", i)
			assert.True(t, errors.Is(err, ErrMalformed), "byte %d: %v", i, err)
			assert.Equal(t, before, m2.Snapshot(), "a failed restore leaves the state alone")
		}
		err := m2.Restore(snap[:i])
		require.Error(t, err, "truncated at %d", i)
		assert.True(t, errors.Is(err, ErrMalformed))
	}
	assert.Error(t, m2.Restore(append(bytes.Clone(snap), 0)))
}

// TestRestoreBodyRejectsInconsistency: bodies with a valid CRC but an
// impossible content are refused by the parser and the invariant check.
func TestRestoreBodyRejectsInconsistency(t *testing.T) {
	body := busyHarness(t).m.snapshotBody()
	accepted := 0
	for i := range body {
		for _, b := range []byte{body[i] ^ 0x01, body[i] ^ 0x80, ^body[i]} {
			bad := bytes.Clone(body)
			bad[i] = b
			m := New(Config{})
			err := m.Restore(seal(bad))
			if err == nil {
				// Some flips still encode a consistent table (another
				// request index, another message text): accepted, and
				// consistent.
				require.NoError(t, m.CheckInvariants())
				accepted++
				continue
			}
			require.True(t, errors.Is(err, ErrMalformed), "byte %d: %v", i, err)
		}
	}
	t.Logf("%d of %d corrupted bodies were still consistent tables", accepted, 3*len(body))
}

// FuzzRestore: Restore never panics; what it accepts satisfies the
// invariants and snapshots back to the same bytes. The fuzzer mutates the
// body and the test seals it, so the parser itself is explored rather than
// the CRC check.
func FuzzRestore(f *testing.F) {
	f.Add(busyHarness(f).m.snapshotBody())
	f.Add(New(Config{}).snapshotBody())
	f.Fuzz(func(t *testing.T, body []byte) {
		m := New(Config{})
		if err := m.Restore(seal(bytes.Clone(body))); err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if err := m.CheckInvariants(); err != nil {
			t.Fatal(err)
		}
		if got := m.snapshotBody(); !bytes.Equal(got, body) {
			t.Fatalf("restore(%x) snapshots to %x", body, got)
		}
	})
}
