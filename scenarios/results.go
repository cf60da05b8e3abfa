package scenarios

import (
	"fmt"
	"slices"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/distsync/distsync/nodes/locks"
	"github.com/distsync/distsync/protocols/lockmgr"
	"github.com/distsync/distsync/sim"
)

// ResultVersion is the version of the Result JSON format. Readers refuse
// any other version: bump it when a field changes meaning or goes away.
const ResultVersion = 1

// Result is everything one run of a scenario produced: the verdict, the
// operations the clients saw, the faults and whether they fired, and the
// simulator's counters. It is what `distsync run --json` writes and what
// reports are drawn from.
type Result struct {
	// Version is ResultVersion for results written by this code.
	Version   int           `json:"version"`
	Scenario  string        `json:"scenario"`
	File      string        `json:"file,omitempty"`
	Seed      uint64        `json:"seed"`
	TraceHash string        `json:"trace_hash"`
	Passed    bool          `json:"passed"`
	Failure   *Failure      `json:"failure,omitempty"`
	Checks    []CheckResult `json:"checks"`
	// Virtual is how much virtual time ran; Wall how long it took.
	Virtual time.Duration `json:"virtual_ns"`
	Wall    time.Duration `json:"wall_ns"`
	Stats   sim.Stats     `json:"stats"`
	Ops     []OpRecord    `json:"ops"`
	Faults  []FaultRecord `json:"faults"`
	// Swarm lists the fault kinds this seed switched on (swarm scenarios).
	Swarm []string `json:"swarm,omitempty"`
	// Real is set for a run against a real cluster (distsync run --tcp):
	// it is not deterministic, has no trace-hash and cannot be replayed;
	// Virtual is then wall-clock time too.
	Real bool `json:"real,omitempty"`
	// Terms is the highest Raft term reached.
	Terms uint64 `json:"terms"`
	// Elections is every leader taking office; LeaderLost the times the
	// leader crashed or stepped down. Recoveries pairs them.
	Elections  []Election      `json:"elections"`
	LeaderLost []time.Duration `json:"leader_lost_ns"`
	// Locks are the lock table's counters (nil when the run has no lock
	// service, or it ended in a panic).
	Locks *LockStats `json:"locks,omitempty"`
	// Queues sums up a queue run (nil when the run has no queue service,
	// or it ended in a panic).
	Queues *QueueStats `json:"queues,omitempty"`
	// Caches sums up a cache run (nil without the cache service).
	Caches *CacheStats `json:"caches,omitempty"`
	// Linearization is porcupine's account of a history that is not
	// linearizable (or whose check ran out of time), for its
	// visualisation. It lives in memory only: not in the JSON.
	Linearization *porcupine.LinearizationInfo `json:"-"`
}

// LockStats are the lock table's counters at the end of a run, read from
// the replica that applied the most of the log.
type LockStats struct {
	Grants    uint64 `json:"grants"`
	Waits     uint64 `json:"waits"`
	Deadlocks uint64 `json:"deadlocks"`
	Victims   uint64 `json:"victims"`
	Timeouts  uint64 `json:"timeouts"`
	Expired   uint64 `json:"expired"`
}

// Recovery is how long the cluster was without a leader after losing one.
type Recovery struct {
	Lost    time.Duration `json:"lost_ns"`
	Elected time.Duration `json:"elected_ns"` // 0 if no leader came back
}

// Recoveries pairs each loss of the leader with the next election.
func (r *Result) Recoveries() []Recovery {
	var out []Recovery
	for _, lost := range r.LeaderLost {
		rec := Recovery{Lost: lost}
		for _, e := range r.Elections {
			if e.At >= lost {
				rec.Elected = e.At
				break
			}
		}
		out = append(out, rec)
	}
	return out
}

// Failure is the first check that failed.
type Failure struct {
	Check   string        `json:"check"`
	At      time.Duration `json:"at_ns"`
	Event   uint64        `json:"event"`
	Message string        `json:"message"`
}

// CheckResult is the verdict of one check.
type CheckResult struct {
	Name   string `json:"name"`
	Passed bool   `json:"passed"`
	Detail string `json:"detail,omitempty"`
	// Skipped marks a check this kind of run cannot make (a run against a
	// real cluster cannot read every replica's state); Passed is then
	// true, so it fails nothing, and reports say "n/a".
	Skipped bool `json:"skipped,omitempty"`
}

// Outcome of a client operation.
const (
	OutcomeOK      = "ok"      // the operation took effect as asked
	OutcomeFail    = "fail"    // the system answered with a refusal or an error
	OutcomeUnknown = "unknown" // no answer by the end of the run
)

// OpRecord is one client operation with its virtual times.
type OpRecord struct {
	Service string        `json:"service"`
	Kind    string        `json:"kind"`
	Client  string        `json:"client"`
	Key     string        `json:"key,omitempty"`
	Call    time.Duration `json:"call_ns"`
	Return  time.Duration `json:"return_ns,omitempty"`
	Outcome string        `json:"outcome"`
	Detail  string        `json:"detail,omitempty"`
}

// Latency returns how long the operation took (0 if it never completed).
func (o OpRecord) Latency() time.Duration {
	if o.Outcome == OutcomeUnknown {
		return 0
	}
	return o.Return - o.Call
}

// FaultRecord is one fault of the run and what became of it.
type FaultRecord struct {
	Index   int           `json:"index"`
	Line    int           `json:"line,omitempty"`
	Kind    string        `json:"kind"`
	Target  string        `json:"target,omitempty"`
	Start   time.Duration `json:"start_ns"`
	End     time.Duration `json:"end_ns,omitempty"`
	Applied bool          `json:"applied"`
	Note    string        `json:"note,omitempty"`
}

// lockOps converts a lock history into operation records.
func lockOps(h *History) []OpRecord {
	out := make([]OpRecord, 0, len(h.Ops))
	for _, op := range h.Ops {
		r := OpRecord{Service: "locks", Kind: op.Op.Kind.String(), Client: string(op.Op.Client),
			Key: string(op.Op.Resource), Call: op.Call, Outcome: OutcomeUnknown}
		if op.Done {
			r.Return = op.Return
			r.Outcome = OutcomeOK
			if op.Result.Status == lockmgr.StatusRejected {
				r.Outcome = OutcomeFail
				if op.Result.Err != nil {
					r.Detail = op.Result.Err.Error()
				}
			}
			if op.Op.Kind == locks.OpAcquire && op.Result.Status == lockmgr.StatusGranted {
				r.Detail = fmt.Sprintf("token %d", op.Result.Token)
			}
		}
		out = append(out, r)
	}
	return out
}

// Percentile returns the p-th percentile (0..100) of the latencies of the
// completed operations of kind ("" for all), and how many there were.
func (r *Result) Percentile(kind string, p float64) (time.Duration, int) {
	var lat []time.Duration
	for _, o := range r.Ops {
		if o.Outcome != OutcomeUnknown && (kind == "" || o.Kind == kind) {
			lat = append(lat, o.Latency())
		}
	}
	if len(lat) == 0 {
		return 0, 0
	}
	slices.Sort(lat)
	i := int(p / 100 * float64(len(lat)-1))
	return lat[i], len(lat)
}

// Throughput returns the operations completed ok per second, per bucket of
// virtual time.
func (r *Result) Throughput(bucket time.Duration) []float64 {
	if bucket <= 0 || r.Virtual <= 0 {
		return nil
	}
	out := make([]float64, int(r.Virtual/bucket)+1)
	for _, o := range r.Ops {
		if o.Outcome == OutcomeOK {
			out[int(o.Return/bucket)] += 1 / bucket.Seconds()
		}
	}
	return out
}

// InFault reports whether virtual time t falls in an applied fault window.
func (r *Result) InFault(t time.Duration) bool {
	for _, f := range r.Faults {
		if f.Applied && t >= f.Start && (t < f.End || f.End == 0 && t == f.Start) {
			return true
		}
	}
	return false
}

// Availability returns the fraction of operations invoked during fault
// windows, and outside them, that completed ok (-1 when there were none).
func (r *Result) Availability() (during, outside float64) {
	var n, ok [2]int
	for _, o := range r.Ops {
		i := 1
		if r.InFault(o.Call) {
			i = 0
		}
		n[i]++
		if o.Outcome == OutcomeOK {
			ok[i]++
		}
	}
	frac := func(i int) float64 {
		if n[i] == 0 {
			return -1
		}
		return float64(ok[i]) / float64(n[i])
	}
	return frac(0), frac(1)
}

// ReplayCommand is the command that runs this result's seed again, with a
// trace.
func (r *Result) ReplayCommand() string {
	file := r.File
	if file == "" {
		file = r.Scenario
	}
	return fmt.Sprintf("distsync replay %s --seed %d --trace out/%d.jsonl", file, r.Seed, r.Seed)
}

// GoTestCommand is the go test command that runs this result's seed again.
func (r *Result) GoTestCommand() string {
	return fmt.Sprintf("go test ./scenarios/ -run TestScenarios/%s -seed %d", r.Scenario, r.Seed)
}

// LockOps, QueueOps and CacheOps turn a history into the operation
// records of a Result (a TCP run builds its Result from them).
func LockOps(h *History) []OpRecord { return lockOps(h) }

// QueueOps: see LockOps.
func QueueOps(h *QueueHistory) []OpRecord { return queueOps(h) }

// CacheOps: see LockOps.
func CacheOps(h *CacheHistory) []OpRecord { return cacheOps(h) }
