package lockmgr

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCheckInvariantsDetectsCorruption breaks the table of busyHarness in
// one way at a time and requires CheckInvariants to name the problem.
// busyHarness: sessions a=1 b=2 c=3 d=4; "r" held shared by a and b, with
// a's upgrade and c's shared request queued; "x" held by c, d queued.
func TestCheckInvariantsDetectsCorruption(t *testing.T) {
	cases := []struct {
		name    string
		corrupt func(m *Manager)
		want    string
	}{
		{"exclusive with two holders", func(m *Manager) { m.resources["r"].setMode(Exclusive) }, "held exclusive by 2"},
		{"holder without session", func(m *Manager) { delete(m.sessions, 2); m.stats.Sessions-- }, "no live session"},
		{"token from the future", func(m *Manager) { m.resources["x"].setToken(0, Token(m.lastIndex+1)) }, "token"},
		{"tokens out of grant order", func(m *Manager) { m.resources["r"].setToken(0, Token(m.lastIndex)) }, "token"},
		{"head compatible with holders", func(m *Manager) { m.resources["x"].setMode(Shared) }, "compatible with the holders"},
		{"waiter of a closed session", func(m *Manager) { m.sessions[4].waitRes = "" }, "waiter 4"},
		{"upgrade behind an ordinary waiter", func(m *Manager) {
			q := m.resources["r"].ext.queue
			q[1].mode = Exclusive
			q[0], q[1] = q[1], q[0]
		}, "upgrade at 1"},
		{"held list out of step", func(m *Manager) { m.sessions[1].held = nil }, "does not list it"},
		{"graph edge missing", func(m *Manager) { m.graph.SetWait(4, nil, 999) }, "edges"},
		{"graph waiter extra", func(m *Manager) { m.graph.AddWait(2, nil, 5) }, "waiters"},
		{"gauge off", func(m *Manager) { m.stats.ActiveLocks++ }, "stats say"},
		{"client session count", func(m *Manager) { m.clients["a"].sessions = 7 }, "sessions counted"},
		{"idle list", func(m *Manager) { m.idle.len++ }, "idle list"},
		{"client sequence", func(m *Manager) { m.clients["b"].lastSeq = 0 }, "seq 0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := busyHarness(t).m
			require.NoError(t, m.CheckInvariants())
			tc.corrupt(m)
			err := m.CheckInvariants()
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrInvariant))
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
