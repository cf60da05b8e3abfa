package scenarios_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/scenarios"
	"github.com/distsync/distsync/scenarios/spec"
	"github.com/distsync/distsync/sim"
)

func shrinkSec(s float64) *spec.Duration {
	v := spec.Duration(time.Duration(s * float64(time.Second)))
	return &v
}

func shrinkProb(v float64) *float64 { return &v }

// termStorm is 20 s of five lock servers and four clients in two
// workloads under eleven faults of every kind that may or may not bump
// the Raft term, plus a swarm of link faults.
func termStorm() *spec.Scenario {
	return &spec.Scenario{
		Name: "term-storm", Description: "leader crashes, partitions, loss and pauses",
		Duration: spec.Duration(20 * time.Second), Cluster: spec.Cluster{Locks: 5},
		Workload: []spec.Workload{
			{Service: "locks", Clients: 2, Rate: "50/s", Resources: 4, Wait: "500ms"},
			{Service: "locks", Clients: 2, Rate: "20/s", Resources: 8, Shared: 0.3},
		},
		Faults: []spec.Fault{
			{At: shrinkSec(2), Crash: "leader(locks)", RestartAfter: shrinkSec(1)},
			{From: shrinkSec(3.5), To: shrinkSec(5), Loss: shrinkProb(0.2)},
			{At: shrinkSec(5), Partition: [][]string{{"n1", "n2"}, {"n3", "n4", "n5"}}, HealAfter: shrinkSec(1)},
			{At: shrinkSec(6.5), Pause: "random(locks)", ResumeAfter: shrinkSec(0.5)},
			{At: shrinkSec(8), Crash: "leader(locks)", RestartAfter: shrinkSec(1)},
			{From: shrinkSec(9.5), To: shrinkSec(11), Loss: shrinkProb(0.3)},
			{At: shrinkSec(11), Isolate: "leader(locks)", HealAfter: shrinkSec(1)},
			{At: shrinkSec(13), Crash: "n2"},
			{At: shrinkSec(14), Restart: "n2"},
			{At: shrinkSec(15), Pause: "leader(locks)", ResumeAfter: shrinkSec(1)},
			{At: shrinkSec(16), Crash: "leader(locks)", RestartAfter: shrinkSec(0.5)},
		},
		Swarm: &spec.Swarm{Faults: []string{"duplicate", "reorder"},
			Every: spec.Range{Min: spec.Duration(time.Second), Max: spec.Duration(2 * time.Second)}},
		Check: []string{spec.CheckRaftSafety, spec.CheckLockSafety, spec.CheckLiveness},
	}
}

// termAtMost fails a run as soon as some live server's term exceeds k: a
// failure made on purpose, which only faults that bump the term cause.
func termAtMost(k uint64) scenarios.ExtraCheck {
	return scenarios.ExtraCheck{Name: fmt.Sprintf("term-at-most-%d", k), Check: func(run *scenarios.Run) error {
		if m := run.Locks.MaxTerm(); m > k {
			return fmt.Errorf("term %d > %d", m, k)
		}
		return nil
	}}
}

// withoutFault returns s without fault i and, if it is a crash, without
// the later restart of the same target (what Shrink removes together).
func withoutFault(s *spec.Scenario, i int) *spec.Scenario {
	c := *s
	c.Faults = nil
	dropRestart := s.Faults[i].Crash
	for j, f := range s.Faults {
		switch {
		case j == i:
		case j > i && dropRestart != "" && f.Restart == dropRestart:
			dropRestart = ""
		default:
			c.Faults = append(c.Faults, f)
		}
	}
	return &c
}

func TestShrinkTermStorm(t *testing.T) {
	const seed = sim.Seed(1)
	check := termAtMost(3)
	opts := scenarios.ShrinkOptions{Extra: []scenarios.ExtraCheck{check}}
	var calls, lastRun int
	opts.Progress = func(step string, run, faults int) { calls, lastRun = calls+1, run }
	s := termStorm()
	start := time.Now()
	res, err := scenarios.Shrink(s, seed, opts)
	require.NoError(t, err)
	elapsed := time.Since(start)
	require.Equal(t, termStorm(), s, "Shrink changed its input")
	require.Equal(t, check.Name, res.Check)
	require.False(t, res.Exhausted)
	require.Equal(t, res.Runs, calls)
	require.Equal(t, res.Runs, lastRun)
	require.Equal(t, "term-storm-min", res.Scenario.Name)

	small := res.Scenario
	t.Logf("%d runs in %v: %+v -> %+v, failure %+v", res.Runs, elapsed, res.Before, res.After, res.Failure)
	for _, f := range small.Faults {
		kind, target := "?", ""
		switch {
		case f.Crash != "":
			kind, target = "crash", f.Crash
		case f.Restart != "":
			kind, target = "restart", f.Restart
		case f.Pause != "":
			kind, target = "pause", f.Pause
		case f.Isolate != "":
			kind, target = "isolate", f.Isolate
		case f.Partition != nil:
			kind, target = "partition", fmt.Sprint(f.Partition)
		case f.Loss != nil:
			kind = "loss"
		}
		t.Logf("  %s %s at %v", kind, target, f.At.D())
	}
	require.Equal(t, len(s.Faults), res.Before.Faults)
	require.Equal(t, len(small.Faults), res.After.Faults)
	require.Less(t, res.After.Faults, res.Before.Faults)
	require.Less(t, res.After.FaultSeconds, res.Before.FaultSeconds)
	require.Less(t, res.After.Duration, res.Before.Duration)
	require.Less(t, res.After.Clients, res.Before.Clients)
	require.Nil(t, small.Swarm, "the swarm of link faults does not bump terms")
	for _, f := range small.Faults {
		require.Nil(t, f.Loss, "a loss window survived: %+v", f)
	}
	for i, f := range small.Faults {
		if f.Restart == "" {
			continue
		}
		crashed := false
		for _, g := range small.Faults[:i] {
			crashed = crashed || g.Crash == f.Restart
		}
		require.True(t, crashed, "restart %s without its crash", f.Restart)
	}

	// Reproducible: the minimized scenario fails the same way on the seed.
	again, err := scenarios.RunScenario(small, scenarios.RunOptions{Seed: seed, Extra: opts.Extra})
	require.NoError(t, err)
	require.False(t, again.Passed)
	require.Equal(t, res.Failure, again.Failure)

	// What `distsync shrink` writes parses back to a scenario that fails
	// the same way.
	data, err := spec.Marshal(small)
	require.NoError(t, err)
	parsed, err := spec.Parse("term-storm-min.yaml", data)
	require.NoError(t, err, "%s", data)
	fromFile, err := scenarios.RunScenario(parsed, scenarios.RunOptions{Seed: seed, Extra: opts.Extra})
	require.NoError(t, err)
	require.Equal(t, res.Failure, fromFile.Failure, "%s", data)
	t.Logf("minimized file:\n%s", data)

	// 1-minimal: without any one of its faults it no longer fails so.
	for i, f := range small.Faults {
		if f.Restart != "" {
			continue // removed with its crash
		}
		r, err := scenarios.RunScenario(withoutFault(small, i), scenarios.RunOptions{Seed: seed, Extra: opts.Extra})
		require.NoError(t, err)
		require.False(t, !r.Passed && r.Failure.Check == check.Name, "fault %d is not needed", i)
	}

	// Deterministic: the same input shrinks to the same output.
	opts.Progress = nil
	twice, err := scenarios.Shrink(termStorm(), seed, opts)
	require.NoError(t, err)
	require.Equal(t, res.Scenario, twice.Scenario)
	require.Equal(t, res.Runs, twice.Runs)
	require.Equal(t, res.Failure, twice.Failure)
}

func TestShrinkPassingScenario(t *testing.T) {
	s := termStorm()
	s.Duration, s.Faults, s.Swarm = spec.Duration(5*time.Second), nil, nil
	_, err := scenarios.Shrink(s, 1, scenarios.ShrinkOptions{})
	require.ErrorContains(t, err, "seed 1 passes: nothing to shrink")
}

func TestShrinkRespectsMaxRuns(t *testing.T) {
	const seed = sim.Seed(1)
	extra := []scenarios.ExtraCheck{termAtMost(3)}
	calls := 0
	res, err := scenarios.Shrink(termStorm(), seed, scenarios.ShrinkOptions{
		MaxRuns: 5, Extra: extra,
		Progress: func(string, int, int) { calls++ },
	})
	require.NoError(t, err)
	require.True(t, res.Exhausted)
	require.Equal(t, 5, res.Runs)
	require.Equal(t, 5, calls)
	// What it has so far still fails, the same way.
	again, err := scenarios.RunScenario(res.Scenario, scenarios.RunOptions{Seed: seed, Extra: extra})
	require.NoError(t, err)
	require.Equal(t, res.Failure, again.Failure)

	one, err := scenarios.Shrink(termStorm(), seed, scenarios.ShrinkOptions{MaxRuns: 1, Extra: extra})
	require.NoError(t, err)
	require.Equal(t, 1, one.Runs)
	require.True(t, one.Exhausted)
	require.Equal(t, one.Before, one.After)
}
