package scenarios_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/scenarios"
	"github.com/distsync/distsync/scenarios/spec"
)

func d(t time.Duration) *spec.Duration { v := spec.Duration(t); return &v }
func p(v float64) *float64             { return &v }

func everyFault() *spec.Scenario {
	return &spec.Scenario{
		Name: "every-fault", Description: "one of each fault", Duration: spec.Duration(20 * time.Second),
		Cluster: spec.Cluster{Locks: 5},
		Network: spec.Network{Latency: &spec.Latency{Dist: "uniform", Min: spec.Duration(time.Millisecond), Max: spec.Duration(5 * time.Millisecond)}},
		Workload: []spec.Workload{{Service: "locks", Clients: 4, Rate: "100/s", Resources: 4, Shared: 0.2, Wait: "500ms", TTL: spec.Duration(10 * time.Second)},
			{Service: "locks", Clients: 2, Rate: "20/s", Resources: 8, Distribution: "zipf"}},
		Faults: []spec.Fault{
			{At: d(time.Second), Crash: "leader(locks)", RestartAfter: d(time.Second)},
			{On: &spec.Trigger{Event: "leader-elected", After: spec.Duration(3 * time.Second)}, Crash: "follower(locks)", RestartAfter: d(500 * time.Millisecond)},
			{At: d(4 * time.Second), Partition: [][]string{{"n1", "n2"}, {"n3", "n4", "n5"}}, HealAfter: d(time.Second)},
			{At: d(6 * time.Second), Isolate: "leader(locks)", HealAfter: d(time.Second)},
			{At: d(8 * time.Second), OneWay: &spec.OneWay{From: []string{"n1"}, To: []string{"n2", "n3"}}, HealAfter: d(time.Second)},
			{At: d(9 * time.Second), Bridge: &spec.Bridge{A: []string{"n1", "n2"}, Node: "n3", B: []string{"n4", "n5"}}, HealAfter: d(time.Second)},
			{From: d(10 * time.Second), To: d(12 * time.Second), Loss: p(0.3)},
			{From: d(10 * time.Second), To: d(12 * time.Second), Duplicate: p(0.3), Link: &spec.Link{From: "n1", To: "n2"}},
			{At: d(11 * time.Second), For: d(time.Second), Reorder: p(0.5)},
			{At: d(12 * time.Second), Clog: &spec.Clog{From: "n2", To: "n3", Delay: spec.Duration(300 * time.Millisecond)}, For: d(time.Second)},
			{At: d(13 * time.Second), Pause: "random(locks)", ResumeAfter: d(500 * time.Millisecond)},
			{At: d(13 * time.Second), Skew: &spec.Skew{Node: "n4", Offset: spec.Duration(2 * time.Second)}},
			{At: d(13 * time.Second), Drift: &spec.Drift{Node: "n5", Rate: -0.2}},
			{At: d(14 * time.Second), DiskFault: &spec.DiskFault{Node: "n2", TornWrites: 1, CorruptRead: 0.01, SlowSync: 10}, For: d(2 * time.Second)},
			{At: d(14 * time.Second), Crash: "n2"},
			{At: d(15 * time.Second), Restart: "n2"},
			{On: &spec.Trigger{Ops: 500}, Crash: "random(locks)", RestartAfter: d(300 * time.Millisecond)},
		},
		Check: []string{"raft-safety", "lock-safety", "linearizable", "liveness"},
	}
}

func TestRunScenarioAppliesEveryFault(t *testing.T) {
	s := everyFault()
	res, err := scenarios.RunScenario(s, scenarios.RunOptions{Seed: 5})
	require.NoError(t, err)
	require.True(t, res.Passed, "%+v", res.Failure)
	require.Len(t, res.Faults, len(s.Faults))
	for _, f := range res.Faults {
		assert.True(t, f.Applied, "fault %d (%s %s): %s", f.Index, f.Kind, f.Target, f.Note)
	}
	assert.Positive(t, res.Stats.Crashes)
	assert.Positive(t, res.Stats.Partitions)
	assert.Positive(t, res.Stats.Net.Duplicated)
	p50, n := res.Percentile("acquire", 50)
	assert.Positive(t, n)
	assert.Positive(t, p50)
	during, outside := res.Availability()
	t.Logf("trace-hash %s, %d ops, acquire p50 %v, availability %.2f during faults, %.2f outside", res.TraceHash, len(res.Ops), p50, during, outside)
	again, err := scenarios.RunScenario(s, scenarios.RunOptions{Seed: 5})
	require.NoError(t, err)
	assert.Equal(t, res.TraceHash, again.TraceHash)
}

func TestFaultThatNeverAppliesSaysWhy(t *testing.T) {
	s := everyFault()
	s.Faults = []spec.Fault{
		{At: d(0), Crash: "leader(locks)"}, // at t=0 nobody leads yet
		{At: d(2 * time.Second), Restart: "n3"},
	}
	res, err := scenarios.RunScenario(s, scenarios.RunOptions{Seed: 1})
	require.NoError(t, err)
	assert.False(t, res.Faults[0].Applied)
	assert.Contains(t, res.Faults[0].Note, "never applied: no leader")
	assert.False(t, res.Faults[1].Applied)
	assert.Contains(t, res.Faults[1].Note, "never applied")
}
