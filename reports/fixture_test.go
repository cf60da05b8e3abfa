package reports

import (
	"fmt"
	"time"

	"github.com/distsync/distsync/scenarios"
	"github.com/distsync/distsync/sim"
)

const (
	ms1 = time.Millisecond
	s1  = time.Second
)

// fixture is a fixed, synthetic run of the lock service: every kind of
// operation and outcome, faults of each shape (a window, a crash ended by
// a restart, an instant, one never applied), two leader losses (one never
// recovered), a deadlock victim and a failed check with a long message.
func fixture() *scenarios.Result {
	r := &scenarios.Result{
		Version: scenarios.ResultVersion, Scenario: "fixture", File: "scenarios/fixture.yaml", Seed: 42,
		TraceHash: "0123456789abcdef", Virtual: 10 * s1, Wall: 2 * s1, Terms: 4,
		Stats: sim.Stats{Events: 123456, Timers: 2345, Crashes: 2, Restarts: 1, Partitions: 1, ClockFaults: 0,
			Net:  sim.NetStats{Sent: 5000, Delivered: 4800, DroppedLoss: 120, DroppedPartition: 40, DroppedDead: 40, Duplicated: 7, Reordered: 3},
			Disk: sim.DiskStats{Syncs: 900, TornWrites: 1, LostBytes: 512}},
		Faults: []scenarios.FaultRecord{
			{Index: 0, Line: 10, Kind: "crash", Target: "leader(locks)", Start: 2 * s1, End: 4 * s1, Applied: true},
			{Index: 1, Line: 11, Kind: "crash", Target: "n3", Start: 5 * s1, Applied: true},
			{Index: 2, Line: 12, Kind: "restart", Target: "n3", Start: 6 * s1, Applied: true},
			{Index: 3, Line: 13, Kind: "loss", Target: "all links", Start: 7 * s1, End: 8 * s1, Applied: true},
			{Index: 4, Line: 14, Kind: "skew", Target: "n2", Start: 9 * s1, Applied: true},
			{Index: 5, Line: 15, Kind: "pause", Target: "follower(locks)", Note: "never applied: no follower server is up"},
		},
		Elections: []scenarios.Election{
			{At: 150 * ms1, Node: "n1", Term: 1}, {At: 2*s1 + 180*ms1, Node: "n2", Term: 2},
			{At: 5*s1 + 210*ms1, Node: "n4", Term: 4},
		},
		LeaderLost: []time.Duration{2 * s1, 5 * s1, 9500 * ms1},
		Locks:      &scenarios.LockStats{Grants: 30, Waits: 6, Deadlocks: 1, Victims: 1, Timeouts: 2, Expired: 0},
		Checks: []scenarios.CheckResult{
			{Name: "raft-safety", Passed: true}, {Name: "lock-safety", Passed: true},
			{Name: "linearizable", Passed: true, Detail: "verdict ok"},
			{Name: "liveness", Passed: false, Detail: "liveness: 2 requests made before the quiet phase were never answered by the end of the run: c3 acquire r1 (seq 17), c4 release r2 (seq 9)"},
		},
		Failure: &scenarios.Failure{Check: "liveness", At: 10 * s1, Event: 123456,
			Message: "2 requests made before the quiet phase were never answered"},
	}
	add := func(kind, client, key string, call, ret time.Duration, outcome, detail string) {
		r.Ops = append(r.Ops, scenarios.OpRecord{Service: "locks", Kind: kind, Client: client, Key: key,
			Call: call, Return: ret, Outcome: outcome, Detail: detail})
	}
	for i, c := range []string{"c1", "c2", "c3", "c4"} {
		add("open", c, "", time.Duration(i)*10*ms1, time.Duration(i)*10*ms1+200*ms1, scenarios.OutcomeOK, "")
	}
	for i := range 24 {
		c := fmt.Sprintf("c%d", 1+i%4)
		call := 300*ms1 + time.Duration(i)*400*ms1
		lat := time.Duration(5+i*3) * ms1
		add("acquire", c, fmt.Sprintf("r%d", i%3), call, call+lat, scenarios.OutcomeOK, fmt.Sprintf("token %d", 10+i))
		add("release", c, fmt.Sprintf("r%d", i%3), call+lat+20*ms1, call+lat+20*ms1+time.Duration(4+i)*ms1, scenarios.OutcomeOK, "")
	}
	add("acquire", "c2", "r1", 2100*ms1, 3300*ms1, scenarios.OutcomeFail, "no quorum")
	add("acquire", "c3", "r2", 5500*ms1, 5900*ms1, scenarios.OutcomeFail, "lockmgr: deadlock victim: request 77")
	add("acquire", "c3", "r1", 9600*ms1, 0, scenarios.OutcomeUnknown, "")
	add("release", "c4", "r2", 9700*ms1, 0, scenarios.OutcomeUnknown, "")
	add("keepalive", "c1", "", 8*s1, 8*s1+12*ms1, scenarios.OutcomeOK, "")
	return r
}

// sweepFixture is a fixed sweep of two scenarios, one with a failing seed.
func sweepFixture() *SweepReport {
	seed := func(n uint64, passed bool, p99 time.Duration) SeedOutcome {
		o := SeedOutcome{Seed: n, Passed: passed, TraceHash: fmt.Sprintf("%016x", n*0x9e3779b9), Events: 40000 + n*1000,
			Virtual: 20 * s1, Wall: time.Duration(200+n*10) * ms1, Faults: []string{"crash", "loss"},
			OK: 1000 + int(n), Failed: 3, Unknown: 1, P50: 15 * ms1, P99: p99, Elections: 3, Recovery: time.Duration(150+n) * ms1}
		if !passed {
			o.Check, o.Failure = "lock-safety", `resource "r7" held exclusively by sessions 3 and 5`
			o.Replay = fmt.Sprintf("distsync replay scenarios/leader-crash.yaml --seed %d --trace out/%d.jsonl", n, n)
		}
		return o
	}
	return &SweepReport{Version: SweepVersion, Scenarios: []ScenarioSweep{
		{Scenario: "leader-crash", File: "scenarios/leader-crash.yaml", Seeds: []SeedOutcome{
			seed(1, true, 300*ms1), seed(2, false, 420*ms1), seed(3, true, 350*ms1), seed(4, true, 310*ms1)}},
		{Scenario: "clog", File: "scenarios/clog.yaml", Seeds: []SeedOutcome{
			seed(1, true, 150*ms1), seed(2, true, 150*ms1)}},
	}}
}
