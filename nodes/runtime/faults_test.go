package runtime

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/nodes"
)

// faultCluster starts k probes on loopback that reconnect quickly.
func faultCluster(t *testing.T, k int) map[nodes.NodeID]*Host {
	t.Helper()
	hosts, _, _ := startCluster(t, ids(k), probeFactory(nil, nil), func(c *Config) {
		c.BackoffMax = 50 * time.Millisecond
	})
	return hosts
}

// sendNotes makes h's node send notes first..last-1 to each of to.
func sendNotes(t *testing.T, h *Host, first, last uint64, to ...nodes.NodeID) {
	t.Helper()
	inspect(t, h, func(p *probe) {
		for k := first; k < last; k++ {
			for _, id := range to {
				p.env.Send(id, &note{N: k})
			}
		}
	})
}

// waitReceived waits until h's probe has received want notes.
func waitReceived(t *testing.T, h *Host, want int) {
	t.Helper()
	require.Eventually(t, func() bool { return received(t, h) >= want }, 10*time.Second, 5*time.Millisecond,
		"%s received %d of %d; stats %+v", h.ID(), received(t, h), want, h.Stats())
	require.Equal(t, want, received(t, h))
}

// gotFrom returns the numbers of the notes h's probe received from from.
func gotFrom(t *testing.T, h *Host, from nodes.NodeID) []uint64 {
	t.Helper()
	var out []uint64
	inspect(t, h, func(p *probe) {
		for _, d := range p.got {
			if d.from == from {
				out = append(out, d.n)
			}
		}
	})
	return out
}

func TestFaultsDropBlocksOnlyThatPeerAndHeals(t *testing.T) {
	hosts := faultCluster(t, 3)
	n1, n2, n3 := hosts["n1"], hosts["n2"], hosts["n3"]
	require.NoError(t, n1.SetFaults(Faults{Drop: []nodes.NodeID{"n2", "n2"}}))
	require.Equal(t, Faults{Drop: []nodes.NodeID{"n2"}}, n1.Faults())

	const k = 20
	sendNotes(t, n1, 0, k, "n2", "n3")
	inspect(t, n1, func(p *probe) { p.env.Send("n1", &note{N: 999}) }) // to self: never faulted
	require.Equal(t, uint64(k), n1.Stats().FaultDropped, "%+v", n1.Stats())
	waitReceived(t, n3, k)
	require.Equal(t, []uint64{999}, gotFrom(t, n1, "n1"))
	// n2 can still reach n1: the partition is one way.
	sendNotes(t, n2, 0, 1, "n1")
	require.Eventually(t, func() bool { return len(gotFrom(t, n1, "n2")) == 1 }, 10*time.Second, 5*time.Millisecond)

	// Heal. One connection keeps order, so had any dropped note been
	// queued it would arrive before the marker.
	require.NoError(t, n1.SetFaults(Faults{}))
	require.Equal(t, Faults{}, n1.Faults())
	sendNotes(t, n1, 100, 101, "n2")
	waitReceived(t, n2, 1)
	require.Equal(t, []uint64{100}, gotFrom(t, n2, "n1"))
	require.Equal(t, uint64(k), n1.Stats().FaultDropped)
}

func TestFaultsLoss(t *testing.T) {
	hosts := faultCluster(t, 2)
	n1, n2 := hosts["n1"], hosts["n2"]

	require.NoError(t, n1.SetFaults(Faults{Loss: 1}))
	sendNotes(t, n1, 0, 50, "n2")
	inspect(t, n1, func(p *probe) { p.env.Send("n1", &note{N: 999}) }) // to self: never faulted
	st := n1.Stats()
	require.Equal(t, uint64(50), st.FaultDropped, "%+v", st)
	require.Zero(t, st.Enqueued, "%+v", st)
	require.Equal(t, []uint64{999}, gotFrom(t, n1, "n1"))

	require.NoError(t, n1.SetFaults(Faults{Loss: 0}))
	sendNotes(t, n1, 100, 150, "n2")
	waitReceived(t, n2, 50)
	got := gotFrom(t, n2, "n1")
	require.Equal(t, uint64(100), got[0], "nothing sent under Loss 1 arrived")
	require.Equal(t, uint64(50), n1.Stats().FaultDropped)

	// In between, some are lost and some are not (seed 1: deterministic).
	require.NoError(t, n1.SetFaults(Faults{Loss: 0.5}))
	sendNotes(t, n1, 200, 400, "n2")
	st = n1.Stats()
	lost := st.FaultDropped - 50
	require.Greater(t, lost, uint64(20), "%+v", st)
	require.Less(t, lost, uint64(180), "%+v", st)
	require.Equal(t, uint64(50+200), st.Enqueued+lost+st.DroppedQueueFull, "%+v", st)
}

func TestFaultsDelayHoldsMessagesBack(t *testing.T) {
	hosts := faultCluster(t, 2)
	n1, n2 := hosts["n1"], hosts["n2"]
	// A first message, undelayed, so that the connection is up and the
	// delay measured below is the fault's, not the dial's.
	sendNotes(t, n1, 0, 1, "n2")
	waitReceived(t, n2, 1)

	const delay = 150 * time.Millisecond
	require.NoError(t, n1.SetFaults(Faults{Delay: delay, Jitter: 50 * time.Millisecond}))
	start := time.Now()
	sendNotes(t, n1, 1, 6, "n2")
	require.Equal(t, uint64(5), n1.Stats().FaultDelayed)
	waitReceived(t, n2, 6)
	require.GreaterOrEqual(t, time.Since(start), delay, "delayed messages arrived early")
	require.ElementsMatch(t, []uint64{0, 1, 2, 3, 4, 5}, gotFrom(t, n2, "n1"))
}

func TestFaultsDelayOverMaxDelayedDrops(t *testing.T) {
	hosts := faultCluster(t, 2)
	n1 := hosts["n1"]
	n1.tr.faults.mu.Lock()
	n1.tr.faults.maxHeld = 5
	n1.tr.faults.mu.Unlock()
	require.NoError(t, n1.SetFaults(Faults{Delay: MaxFaultDelay}))
	sendNotes(t, n1, 0, 8, "n2")
	st := n1.Stats()
	require.Equal(t, uint64(5), st.FaultDelayed, "%+v", st)
	require.Equal(t, uint64(3), st.FaultDropped, "%+v", st)
}

func TestFaultsDuplicateDeliversTwice(t *testing.T) {
	hosts := faultCluster(t, 2)
	n1, n2 := hosts["n1"], hosts["n2"]
	require.NoError(t, n1.SetFaults(Faults{Duplicate: 1}))
	const k = 10
	sendNotes(t, n1, 0, k, "n2")
	require.Equal(t, uint64(k), n1.Stats().FaultDuplicated)
	waitReceived(t, n2, 2*k)
	got := gotFrom(t, n2, "n1")
	slices.Sort(got)
	for i := range uint64(k) {
		require.Equal(t, []uint64{i, i}, got[2*i:2*i+2], "%v", got)
	}
}

func TestStopWithDelayedMessagesPendingIsPrompt(t *testing.T) {
	hosts := faultCluster(t, 2)
	n1 := hosts["n1"]
	require.NoError(t, n1.SetFaults(Faults{Delay: MaxFaultDelay, Jitter: time.Second}))
	const k = 100
	sendNotes(t, n1, 0, k, "n2")
	require.Equal(t, uint64(k), n1.Stats().FaultDelayed)

	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- n1.Stop() }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(MaxFaultDelay / 2):
		t.Fatalf("Stop waited for the delayed messages")
	}
	t.Logf("Stop took %v", time.Since(start))
	st := n1.Stats()
	require.Equal(t, uint64(k), st.FaultDropped, "held messages are discarded and counted: %+v", st)
	require.Zero(t, st.Enqueued, "%+v", st)
	n1.tr.faults.mu.Lock()
	require.Empty(t, n1.tr.faults.held)
	n1.tr.faults.mu.Unlock()
	require.Zero(t, received(t, hosts["n2"]))
}

func TestSetFaultsRejectsBadValues(t *testing.T) {
	hosts := faultCluster(t, 2)
	n1 := hosts["n1"]
	good := Faults{Drop: []nodes.NodeID{"n2"}, Loss: 0.1}
	require.NoError(t, n1.SetFaults(good))
	tests := []struct {
		name  string
		f     Faults
		field string
		value string
	}{
		{"negative loss", Faults{Loss: -0.1}, "loss", "-0.1"},
		{"loss over one", Faults{Loss: 1.5}, "loss", "1.5"},
		{"NaN loss", Faults{Loss: math.NaN()}, "loss", "NaN"},
		{"duplicate over one", Faults{Duplicate: 2}, "duplicate", "2"},
		{"negative delay", Faults{Delay: -time.Millisecond}, "delay", "-1ms"},
		{"delay over the limit", Faults{Delay: 11 * time.Second}, "delay", "11s"},
		{"jitter over the limit", Faults{Jitter: time.Minute}, "jitter", "1m0s"},
		{"unknown peer", Faults{Drop: []nodes.NodeID{"n2", "n9"}}, "drop", `"n9"`},
		{"self", Faults{Drop: []nodes.NodeID{"n1"}}, "drop", `"n1"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := n1.SetFaults(tc.f)
			var fe *FaultError
			require.True(t, errors.As(err, &fe), "%v", err)
			require.Equal(t, tc.field, fe.Field)
			require.Equal(t, tc.value, fe.Value)
			require.Contains(t, err.Error(), tc.field+": "+tc.value)
			require.Equal(t, good, n1.Faults(), "a refused change changes nothing")
		})
	}
}

func TestFaultsJSON(t *testing.T) {
	f := Faults{Drop: []nodes.NodeID{"n2", "n3"}, Loss: 0.25, Delay: 50 * time.Millisecond, Jitter: 1500 * time.Microsecond, Duplicate: 0.5}
	b, err := json.Marshal(f)
	require.NoError(t, err)
	require.JSONEq(t, `{"drop":["n2","n3"],"loss":0.25,"delay":"50ms","jitter":"1.5ms","duplicate":0.5}`, string(b))
	var back Faults
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, f, back)

	b, err = json.Marshal(Faults{})
	require.NoError(t, err)
	require.Equal(t, `{}`, string(b))

	back = f
	require.NoError(t, json.Unmarshal([]byte(`{}`), &back))
	require.Equal(t, Faults{}, back, "decoding replaces every field")

	for _, tc := range []struct{ body, field string }{
		{`{"dealy":"5ms"}`, "dealy"},
		{`{"delay":5}`, "delay"},
		{`{"delay":"5 parsecs"}`, "delay"},
		{`{"jitter":true}`, "jitter"},
		{`{"loss":"high"}`, "loss"},
		{`{"drop":"n2"}`, "drop"},
		{`{"drop":[2]}`, "drop"},
	} {
		err := json.Unmarshal([]byte(tc.body), &back)
		var fe *FaultError
		require.True(t, errors.As(err, &fe), "%s: %v", tc.body, err)
		require.Equal(t, tc.field, fe.Field, "%s: %v", tc.body, err)
	}
}
