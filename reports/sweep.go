package reports

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/distsync/distsync/scenarios"
)

// SweepVersion is the version of the SweepReport JSON format. Readers
// refuse any other version.
const SweepVersion = 1

// SweepReport is what `sweep --json` writes, `sweep merge` combines and
// `report` reads: one summary per seed, per scenario.
type SweepReport struct {
	// Version is SweepVersion for reports written by this code.
	Version int    `json:"version"`
	Shard   string `json:"shard,omitempty"`
	// Swarm says the sweep added random swarm faults (sweep --swarm) to
	// scenarios without a swarm section; a re-run of a seed must too.
	Swarm     bool            `json:"swarm,omitempty"`
	Scenarios []ScenarioSweep `json:"scenarios"`
}

// ScenarioSweep is the sweep of one scenario.
type ScenarioSweep struct {
	Scenario string        `json:"scenario"`
	File     string        `json:"file"`
	Seeds    []SeedOutcome `json:"seeds"`
}

// SeedOutcome is one seed of a sweep, as its JSON records it.
type SeedOutcome struct {
	Seed      uint64        `json:"seed"`
	Passed    bool          `json:"passed"`
	TraceHash string        `json:"trace_hash"`
	Failure   string        `json:"failure,omitempty"`
	Check     string        `json:"check,omitempty"`
	Events    uint64        `json:"events"`
	Virtual   time.Duration `json:"virtual_ns"`
	Wall      time.Duration `json:"wall_ns"`
	Faults    []string      `json:"faults,omitempty"` // fault kinds that fired
	Replay    string        `json:"replay,omitempty"`
	// OK, Failed and Unknown count the clients' operations by outcome;
	// P50 and P99 are their latencies.
	OK      int           `json:"ops_ok"`
	Failed  int           `json:"ops_failed"`
	Unknown int           `json:"ops_unknown"`
	P50     time.Duration `json:"p50_ns"`
	P99     time.Duration `json:"p99_ns"`
	// Elections counts leaders taking office; Recovery is the longest
	// time to elect after a leader loss (0 when no leader was lost, the
	// rest of the run when none came back).
	Elections int           `json:"elections"`
	Recovery  time.Duration `json:"recovery_ns,omitempty"`
}

// Outcome summarises one run for a sweep.
func Outcome(r *scenarios.Result) SeedOutcome {
	o := SeedOutcome{Seed: r.Seed, Passed: r.Passed, TraceHash: r.TraceHash, Events: r.Stats.Events,
		Virtual: r.Virtual, Wall: r.Wall, Faults: FiredKinds(r), Elections: len(r.Elections)}
	if !r.Passed && r.Failure != nil {
		o.Check, o.Failure, o.Replay = r.Failure.Check, r.Failure.Message, r.ReplayCommand()
	}
	for _, op := range r.Ops {
		switch op.Outcome {
		case scenarios.OutcomeOK:
			o.OK++
		case scenarios.OutcomeFail:
			o.Failed++
		default:
			o.Unknown++
		}
	}
	o.P50, _ = r.Percentile("", 50)
	o.P99, _ = r.Percentile("", 99)
	for _, rec := range r.Recoveries() {
		d := r.Virtual - rec.Lost
		if rec.Elected > 0 {
			d = rec.Elected - rec.Lost
		}
		o.Recovery = max(o.Recovery, d)
	}
	return o
}

// FiredKinds lists the fault kinds that really fired in a run: applied
// scheduled faults, and every fault the simulator counted.
func FiredKinds(r *scenarios.Result) []string {
	seen := map[string]bool{}
	for _, f := range r.Faults {
		if f.Applied {
			seen[f.Kind] = true
		}
	}
	s := r.Stats
	for kind, n := range map[string]uint64{
		"crash": s.Crashes, "partition": s.Partitions, "pause": s.Pauses, "clog": s.Net.Clogged,
		"loss": s.Net.DroppedLoss, "duplicate": s.Net.Duplicated, "reorder": s.Net.Reordered,
		"clock": s.ClockFaults, "torn-write": s.Disk.TornWrites, "corrupt-read": s.Disk.CorruptReads,
	} {
		if n > 0 {
			seen[kind] = true
		}
	}
	return sortedKeys(seen)
}

// Metric is a number per seed that a sweep's histogram shows.
type Metric struct {
	Name string
	// Label names the metric with its unit, for axes and tables.
	Label string
	// Value returns the seed's value, and false when the seed has none.
	Value func(SeedOutcome) (float64, bool)
}

func always(f func(SeedOutcome) float64) func(SeedOutcome) (float64, bool) {
	return func(o SeedOutcome) (float64, bool) { return f(o), true }
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Metrics are the metrics a sweep report can draw, by name.
var Metrics = []Metric{
	{"events", "events per seed", always(func(o SeedOutcome) float64 { return float64(o.Events) })},
	{"virtual", "virtual time (s)", always(func(o SeedOutcome) float64 { return o.Virtual.Seconds() })},
	{"wall", "wall time (s)", always(func(o SeedOutcome) float64 { return o.Wall.Seconds() })},
	{"sim-rate", "simulated seconds per wall second", func(o SeedOutcome) (float64, bool) {
		return o.Virtual.Seconds() / o.Wall.Seconds(), o.Wall > 0
	}},
	{"ops", "operations ok", always(func(o SeedOutcome) float64 { return float64(o.OK) })},
	{"throughput", "operations ok per virtual second", func(o SeedOutcome) (float64, bool) {
		return float64(o.OK) / o.Virtual.Seconds(), o.Virtual > 0
	}},
	{"unknown", "operations without an answer", always(func(o SeedOutcome) float64 { return float64(o.Unknown) })},
	{"p50", "latency p50 (ms)", func(o SeedOutcome) (float64, bool) { return ms(o.P50), o.OK+o.Failed > 0 }},
	{"p99", "latency p99 (ms)", func(o SeedOutcome) (float64, bool) { return ms(o.P99), o.OK+o.Failed > 0 }},
	{"elections", "leader changes", always(func(o SeedOutcome) float64 { return float64(o.Elections) })},
	{"recovery", "longest time to elect after a leader loss (ms)", func(o SeedOutcome) (float64, bool) {
		return ms(o.Recovery), o.Recovery > 0
	}},
}

// DefaultMetric is the metric a sweep report draws unless told otherwise.
const DefaultMetric = "p99"

// MetricNames lists the names of Metrics.
func MetricNames() []string {
	var out []string
	for _, m := range Metrics {
		out = append(out, m.Name)
	}
	return out
}

// LookupMetric returns the metric called name, or an error that lists the
// known ones.
func LookupMetric(name string) (Metric, error) {
	for _, m := range Metrics {
		if m.Name == name {
			return m, nil
		}
	}
	return Metric{}, fmt.Errorf("unknown metric %q (known: %s)", name, strings.Join(MetricNames(), ", "))
}

// MetricValues returns the metric's value for every seed that has one.
func MetricValues(m Metric, seeds []SeedOutcome) []float64 {
	var out []float64
	for _, o := range seeds {
		if v, ok := m.Value(o); ok {
			out = append(out, v)
		}
	}
	return out
}

// SweepSummary returns a sweep's tables: per scenario the seeds run and
// failed, the simulation's speed and the metric's spread; how many seeds
// exercised each fault kind; and the failing seeds with their replay
// commands. wall is the sweep's wall time (0 when unknown, as after a
// merge).
func SweepSummary(sw *SweepReport, m Metric) []Section {
	per := Section{Title: "Scenarios",
		Header: []string{"scenario", "seeds", "failed", "events/s", "sim-s/wall-s", m.Name + " min", "median", "max"}}
	kinds := map[string]int{}
	fails := Section{Title: "Failing seeds"}
	for _, sc := range sw.Scenarios {
		var ev uint64
		var vt, wt time.Duration
		nf := 0
		for _, o := range sc.Seeds {
			ev, vt, wt = ev+o.Events, vt+o.Virtual, wt+o.Wall
			if !o.Passed {
				nf++
				fails.List = append(fails.List, fmt.Sprintf("FAIL %s seed %d: %s: %s\nreplay: %s", sc.Scenario, o.Seed, o.Check, o.Failure, o.Replay))
			}
			for _, k := range o.Faults {
				kinds[k]++
			}
		}
		vals := MetricValues(m, sc.Seeds)
		slices.Sort(vals)
		lo, mid, hi := "-", "-", "-"
		if len(vals) > 0 {
			lo, mid, hi = num(vals[0]), num(vals[(len(vals)-1)/2]), num(vals[len(vals)-1])
		}
		per.Rows = append(per.Rows, []string{sc.Scenario, strconv.Itoa(len(sc.Seeds)), strconv.Itoa(nf),
			fmt.Sprintf("%.0f", float64(ev)/max(wt.Seconds(), 1e-9)), fmt.Sprintf("%.0f", vt.Seconds()/max(wt.Seconds(), 1e-9)),
			lo, mid, hi})
	}
	per.Note = "metric " + m.Name + ": " + m.Label
	secs := []Section{per}
	if len(kinds) > 0 {
		k := Section{Title: "Fault kinds", Header: []string{"fault kind", "seeds where it fired"}}
		for _, name := range sortedKeys(kinds) {
			k.Rows = append(k.Rows, []string{name, strconv.Itoa(kinds[name])})
		}
		secs = append(secs, k)
	}
	if len(fails.List) > 0 {
		secs = append(secs, fails)
	}
	return secs
}

// num formats a metric value compactly.
func num(v float64) string {
	switch {
	case v == float64(int64(v)) && v < 1e9:
		return strconv.FormatInt(int64(v), 10)
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 1:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.3g", v)
}

// Failed counts the failing seeds of a sweep.
func (sw *SweepReport) Failed() int {
	n := 0
	for _, sc := range sw.Scenarios {
		for _, o := range sc.Seeds {
			if !o.Passed {
				n++
			}
		}
	}
	return n
}

// Representative picks the seed of a scenario a report shows in full:
// the first failing seed, else the first seed. ok is false when the
// scenario has no seeds.
func (sc *ScenarioSweep) Representative() (o SeedOutcome, ok bool) {
	for _, o := range sc.Seeds {
		if !o.Passed {
			return o, true
		}
	}
	if len(sc.Seeds) == 0 {
		return SeedOutcome{}, false
	}
	return sc.Seeds[0], true
}
