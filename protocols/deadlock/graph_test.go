package deadlock

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ringIndex gives owner o the request index 100+o, so the last owner to
// start waiting in a ring built in id order is the youngest.
func ringIndex(o OwnerID) uint64 { return 100 + uint64(o) }

func TestRingsDetectedOnceWithYoungestVictim(t *testing.T) {
	for n := 2; n <= 8; n++ {
		t.Run(fmt.Sprintf("ring-%d", n), func(t *testing.T) {
			g := New()
			var cycles [][]OwnerID
			for i := 1; i <= n; i++ {
				next := OwnerID(i%n + 1)
				if c := g.AddWait(OwnerID(i), []OwnerID{next}, ringIndex(OwnerID(i))); c != nil {
					cycles = append(cycles, c)
				}
			}
			require.Len(t, cycles, 1, "exactly one detection")
			cycle := cycles[0]
			assert.Len(t, cycle, n)
			assert.Equal(t, OwnerID(n), cycle[0], "the cycle starts at the waiter that closed it")
			victim := Victim(cycle, ringIndex)
			assert.Equal(t, OwnerID(n), victim, "youngest request")
			assert.Equal(t, uint64(1), g.Stats().Deadlocks)
			g.RemoveWaiter(victim)
			require.NoError(t, g.CheckInvariants())
			assert.Nil(t, g.FindAnyCycle())
			assert.Equal(t, uint64(1), g.Stats().Deadlocks, "resolution detects nothing more")
		})
	}
}

func TestRingVictimIsYoungestWhateverItsPosition(t *testing.T) {
	// Owner 2 waits last but owner 3's request is younger.
	idx := map[OwnerID]uint64{1: 10, 2: 30, 3: 50}
	g := New()
	require.Nil(t, g.AddWait(3, []OwnerID{1}, idx[3]))
	require.Nil(t, g.AddWait(1, []OwnerID{2}, idx[1]))
	cycle := g.AddWait(2, []OwnerID{3}, idx[2])
	require.Equal(t, []OwnerID{2, 3, 1}, cycle)
	assert.Equal(t, OwnerID(3), Victim(cycle, func(o OwnerID) uint64 { return idx[o] }))
}

func TestVictimTieBrokenByOwner(t *testing.T) {
	same := func(OwnerID) uint64 { return 7 }
	assert.Equal(t, OwnerID(9), Victim([]OwnerID{4, 9, 2}, same))
	assert.Panics(t, func() { Victim(nil, same) })
}

func TestChainsNeverFlagged(t *testing.T) {
	for n := 2; n <= 16; n++ {
		g := New()
		for i := 1; i < n; i++ {
			assert.Nil(t, g.AddWait(OwnerID(i), []OwnerID{OwnerID(i + 1)}, uint64(i)))
		}
		// A fan-in onto the chain's tail and a diamond are still acyclic.
		assert.Nil(t, g.AddWait(OwnerID(n+1), []OwnerID{1, OwnerID(n)}, 1000))
		assert.Nil(t, g.AddWait(OwnerID(n+2), []OwnerID{OwnerID(n + 1), 1}, 1001))
		assert.Zero(t, g.Stats().Deadlocks)
		require.NoError(t, g.CheckInvariants())
	}
}

func TestReAddingKnownEdgesDoesNotReport(t *testing.T) {
	g := New()
	require.Nil(t, g.AddWait(1, []OwnerID{2}, 1))
	require.NotNil(t, g.AddWait(2, []OwnerID{1}, 2))
	// The cycle is left in place: adding the same edge again runs no DFS.
	assert.Nil(t, g.AddWait(2, []OwnerID{1}, 2))
	assert.Nil(t, g.SetWait(2, []OwnerID{1}, 2))
	assert.Equal(t, uint64(1), g.Stats().Deadlocks)
	assert.ErrorIs(t, g.CheckInvariants(), ErrInvariant)
}

func TestSelfLoopPanics(t *testing.T) {
	g := New()
	assert.Panics(t, func() { g.AddWait(3, []OwnerID{1, 3}, 1) })
	assert.Panics(t, func() { g.SetWait(3, []OwnerID{3}, 1) })
}

func TestRemoveOwnerAndInspection(t *testing.T) {
	g := New()
	g.AddWait(1, []OwnerID{3, 2, 3}, 5)
	g.AddWait(4, []OwnerID{3}, 6)
	g.AddWait(5, nil, 7)
	assert.Equal(t, []Edge{{1, 2}, {1, 3}, {4, 3}}, g.Edges())
	assert.Equal(t, []OwnerID{1, 4, 5}, g.Waiters())
	w, e := g.Len()
	assert.Equal(t, [2]int{3, 3}, [2]int{w, e})

	g.RemoveOwner(3)
	assert.Equal(t, []Edge{{1, 2}}, g.Edges())
	assert.True(t, g.IsWaiting(4), "a waiter that lost its last edge is still waiting")
	idx, ok := g.RequestIndex(4)
	assert.True(t, ok)
	assert.Equal(t, uint64(6), idx)
	g.RemoveOwner(1)
	assert.Empty(t, g.Edges())
	assert.False(t, g.IsWaiting(1))
	g.RemoveWaiter(42) // not waiting: no-op
	require.NoError(t, g.CheckInvariants())
}

func TestSetWaitReplacesEdges(t *testing.T) {
	g := New()
	g.AddWait(1, []OwnerID{2, 3}, 1)
	assert.Nil(t, g.SetWait(1, []OwnerID{3}, 1))
	assert.Equal(t, []OwnerID{3}, g.WaitsFor(1))
	g.AddWait(3, []OwnerID{4}, 2)
	cycle := g.SetWait(4, []OwnerID{1}, 3)
	assert.Equal(t, []OwnerID{4, 1, 3}, cycle)
}

func TestCheckInvariantsReportsCorruption(t *testing.T) {
	g := New()
	g.AddWait(1, []OwnerID{2}, 1)
	g.edges = 5
	err := g.CheckInvariants()
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrInvariant))
	assert.Contains(t, err.Error(), "edge count 5")
}
