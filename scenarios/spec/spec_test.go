package spec_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/scenarios/spec"
)

// full uses every field of the format.
const full = `name: everything
description: Every field of the scenario format, set once.
duration: 30s
settle: 4s
cluster: {locks: 5}
network:
  latency: {dist: uniform, min: 1ms, max: 10ms}
  loss: 0.01
  duplicate: 0.02
  reorder: 0.05
  reorder_delay: 30ms
disk:
  write_latency: {dist: constant, value: 50us}
  sync_latency: {dist: normal, mean: 1ms, stddev: 200us}
  torn_writes: 0.5
  corrupt_read: 0.001
  sector_bytes: 4096
workload:
  - {service: locks, clients: 8, rate: 200/s, resources: 16, shared: 0.3}
  - {service: locks, clients: 2, rate: 12.5/s, resources: 4, distribution: zipf, zipf_s: 1.2, hold: 20ms, wait: forever, ttl: 20s}
  - {service: locks, clients: 1, resources: 1, wait: none}
faults:
  - {at: 2s, crash: leader(locks), restart_after: 2s}
  - {at: 5s, partition: [[n1, n2, c1], [n3, n4, n5]], heal_after: 2s}
  - {from: 8s, to: 10s, loss: 0.3}
  - {at: 8s, for: 1s, duplicate: 0.2, reorder: 0.4, link: {from: n1, to: n2}}
  - {at: 11s, crash: n2}
  - {at: 12s, restart: n2}
  - {at: 12s, pause: random(locks), resume_after: 500ms}
  - {at: 13s, pause: c3}
  - {at: 14s, resume: c3}
  - {at: 14s, one_way: {from: [n1], to: [n2, n3]}, heal_after: 1s}
  - {at: 16s, isolate: follower(locks)}
  - {at: 17s, heal: true}
  - {at: 18s, bridge: {a: [n1, n2], node: n3, b: [n4, n5]}, heal_after: 1s}
  - {at: 20s, clog: {from: n2, to: n3, delay: 300ms}, for: 1s}
  - {at: 21s, skew: {node: leader(locks), offset: -1500ms}}
  - {at: 21s, drift: {node: n5, rate: -0.2}}
  - {from: 22s, to: 24s, disk: {node: n4, torn_writes: 1, corrupt_read: 0.01, slow_sync: 10}}
  - {on: {event: leader-elected, service: locks, after: 3s}, crash: follower(locks), restart_after: 500ms}
  - {on: {ops: 500}, crash: random(locks)}
  - {on: {ops: 800, after: 10s}, restart: random(locks)}
check: [raft-safety, lock-safety, linearizable, liveness]
swarm:
  faults: [crash, partition, loss]
  every: {min: 1s, max: 3s}
  loss: {min: 0.01, max: 0.1}
`

// fullQueues is a queue scenario that uses every queue field: spares,
// every field of a queues workload, joins and leaves, and the queue
// checks.
const fullQueues = `name: queues-everything
description: Every queue field of the scenario format, set once.
duration: 30s
settle: 5s
cluster: {queues: 3, spares: 1}
network:
  latency: {dist: uniform, min: 1ms, max: 5ms}
workload:
  - {service: queues, clients: 6, rate: 300/s, resources: 8, distribution: zipf, zipf_s: 1.3, produce: 0.6, poison: 0.02, dlq: 0.1, visibility: 800ms, process: 20ms, payload: 256}
  - {service: queues, clients: 2, resources: 2, produce: 0}
  - {service: queues, clients: 1, resources: 1}
faults:
  - {at: 3s, join: n4}
  - {on: {event: leader-elected, service: queues, after: 5s}, crash: leader(queues), restart_after: 1s}
  - {at: 9s, leave: n1}
  - {at: 11s, isolate: follower(queues), heal_after: 1s}
  - {at: 13s, pause: random(queues), resume_after: 500ms}
  - {at: 15s, crash: n4}
  - {at: 16s, restart: n4}
  - {on: {ops: 2000}, join: n1}
  - {at: 20s, partition: [[n1, n2], [n3, n4]], heal_after: 2s}
  - {at: 24s, leave: n2}
check: [raft-safety, queue-safety, at-least-once, liveness]
`

func TestParseQueues(t *testing.T) {
	s := parse(t, fullQueues)
	require.Equal(t, spec.Cluster{Queues: 3, Spares: 1}, s.Cluster)
	servers, clients := s.Nodes()
	require.Equal(t, []string{"n1", "n2", "n3", "n4"}, servers, "the spare n4 follows the servers")
	require.Len(t, clients, 9)

	w := s.Workload[0]
	require.Equal(t, "queues", w.Service)
	require.Equal(t, 8, w.Resources)
	require.Equal(t, "zipf", w.Distribution)
	require.Equal(t, 1.3, w.ZipfS)
	require.Equal(t, 300.0, w.RatePerSecond())
	require.NotNil(t, w.Produce)
	require.Equal(t, 0.6, *w.Produce)
	require.Equal(t, 0.6, w.ProduceOrDefault())
	require.Equal(t, 0.02, w.Poison)
	require.Equal(t, 0.1, w.DLQ)
	require.Equal(t, 800*time.Millisecond, w.Visibility.D())
	require.Equal(t, 20*time.Millisecond, w.Process.D())
	require.Equal(t, 256, w.Payload)

	require.NotNil(t, s.Workload[1].Produce, "produce: 0 is kept")
	require.Equal(t, 0.0, s.Workload[1].ProduceOrDefault(), "a consumers-only workload")
	require.NotNil(t, s.Workload[2].Produce, "Validate fills in the default")
	require.Equal(t, spec.DefaultProduce, *s.Workload[2].Produce)
	require.Equal(t, "uniform", s.Workload[2].Distribution)
	require.Equal(t, 0.5, spec.Workload{Service: "queues"}.ProduceOrDefault())

	require.Equal(t, "n4", s.Faults[0].Join)
	require.Equal(t, "n1", s.Faults[2].Leave)
	require.Equal(t, "n1", s.Faults[7].Join)
	require.Equal(t, 2000, s.Faults[7].On.Ops)
	require.Equal(t, "queues", s.Faults[1].On.Service)
	require.Equal(t, []string{spec.CheckRaftSafety, spec.CheckQueueSafety, spec.CheckAtLeastOnce, spec.CheckLiveness}, s.Check)

	out, err := spec.Marshal(s)
	require.NoError(t, err)
	again, err := spec.Parse("again.yaml", out)
	require.NoError(t, err, "%s", out)
	require.Equal(t, forget(s), forget(again))
	require.Contains(t, string(out), "cluster: {queues: 3, spares: 1}\n")
	require.Contains(t, string(out), "produce: 0.6, poison: 0.02, dlq: 0.1, visibility: 800ms, process: 20ms, payload: 256}\n")
	require.Contains(t, string(out), "  - {service: queues, clients: 2, resources: 2, distribution: uniform, produce: 0}\n")
	require.Contains(t, string(out), "  - {at: 3s, join: n4}\n")
	require.Contains(t, string(out), "  - {at: 24s, leave: n2}\n")
	require.Contains(t, string(out), "check: [raft-safety, queue-safety, at-least-once, liveness]\n")
	require.NotContains(t, string(out), "locks")
}

func TestQueuesBuiltInGo(t *testing.T) {
	at := func(d time.Duration) *spec.Duration { v := spec.Duration(d); return &v }
	s := &spec.Scenario{
		Name: "queues-built", Description: "Built in Go.", Duration: spec.Duration(10 * time.Second),
		Cluster:  spec.Cluster{Queues: 2, Spares: 2},
		Workload: []spec.Workload{{Service: "queues", Clients: 2, Resources: 2, Visibility: spec.Duration(time.Second)}},
		Faults:   []spec.Fault{{At: at(time.Second), Join: "n3"}, {At: at(2 * time.Second), Join: "n4"}, {At: at(3 * time.Second), Leave: "n1"}},
		Check:    []string{spec.CheckQueueSafety, spec.CheckAtLeastOnce},
	}
	require.NoError(t, s.Validate())
	require.Equal(t, spec.DefaultProduce, *s.Workload[0].Produce)
	servers, _ := s.Nodes()
	require.Equal(t, []string{"n1", "n2", "n3", "n4"}, servers)
	out, err := spec.Marshal(s)
	require.NoError(t, err)
	again, err := spec.Parse("built.yaml", out)
	require.NoError(t, err, "%s", out)
	require.Equal(t, forget(s), forget(again))

	s.Faults[1].Join = "n5"
	_, err = spec.Marshal(s)
	require.ErrorIs(t, err, spec.ErrInvalid)
	require.Contains(t, err.Error(), `faults[1].join: unknown node "n5" (cluster has n1..n2, spares n3..n4, clients c1..c2)`)

	s.Faults[1].Join = "n3"
	err = s.Validate()
	require.ErrorIs(t, err, spec.ErrInvalid)
	require.Equal(t, "faults[1].join: n3 is already on the ring at 2s (faults[0] joined it)", err.Error())
}

func parse(t *testing.T, text string) *spec.Scenario {
	t.Helper()
	s, err := spec.Parse("full.yaml", []byte(text))
	require.NoError(t, err)
	return s
}

// forget clears what Marshal does not keep: the file and the lines.
func forget(s *spec.Scenario) *spec.Scenario {
	s = s.Clone()
	s.File = ""
	for i := range s.Faults {
		s.Faults[i].Line = 0
	}
	return s
}

func TestParseFull(t *testing.T) {
	s := parse(t, full)
	require.Equal(t, "everything", s.Name)
	require.Equal(t, "full.yaml", s.File)
	require.Equal(t, 30*time.Second, s.Duration.D())
	require.Equal(t, 4*time.Second, s.Settle.D())
	require.Equal(t, &spec.Latency{Dist: "uniform", Min: spec.Duration(time.Millisecond), Max: spec.Duration(10 * time.Millisecond)}, s.Network.Latency)
	require.Equal(t, 200*time.Microsecond, s.Disk.SyncLatency.StdDev.D())
	require.Len(t, s.Workload, 3)
	require.Equal(t, "uniform", s.Workload[0].Distribution, "default distribution")
	require.Equal(t, 12.5, s.Workload[1].RatePerSecond())
	require.Len(t, s.Faults, 20)
	require.Equal(t, 23, s.Faults[0].Line)
	require.Equal(t, 42, s.Faults[19].Line)
	require.Equal(t, [][]string{{"n1", "n2", "c1"}, {"n3", "n4", "n5"}}, s.Faults[1].Partition)
	require.Equal(t, -1500*time.Millisecond, s.Faults[14].Skew.Offset.D())
	require.Equal(t, 500, s.Faults[18].On.Ops)
	require.Equal(t, &spec.FloatRange{Min: 0.01, Max: 0.1}, s.Swarm.Loss)

	servers, clients := s.Nodes()
	require.Equal(t, []string{"n1", "n2", "n3", "n4", "n5"}, servers)
	require.Len(t, clients, 11)
	require.Equal(t, "c11", clients[10])
}

func TestDefaults(t *testing.T) {
	s := parse(t, `name: d
description: Defaults.
duration: 10s
cluster: {locks: 3}
workload:
  - {service: locks, clients: 2, resources: 4, distribution: zipf}
check: [raft-safety]
`)
	require.Equal(t, spec.DefaultSettle, s.Settle.D())
	require.Equal(t, spec.DefaultZipfS, s.Workload[0].ZipfS)
	require.Nil(t, s.Faults)
}

func TestMarshalRoundTrip(t *testing.T) {
	s := parse(t, full)
	out, err := spec.Marshal(s)
	require.NoError(t, err)
	again, err := spec.Parse("again.yaml", out)
	require.NoError(t, err, "%s", out)
	require.Equal(t, forget(s), forget(again))
	require.Contains(t, string(out), "duration: 30s\n")
	require.Contains(t, string(out), "  - {at: 2s, crash: leader(locks), restart_after: 2s}\n")
	require.Contains(t, string(out), "check: [raft-safety, lock-safety, linearizable, liveness]\n")
	require.Contains(t, string(out), "offset: -1.5s")
	require.Contains(t, string(out), "stddev: 200us}")
	require.Contains(t, string(out), "  - {on: {event: leader-elected, service: locks, after: 3s}, crash: follower(locks)")
}

func TestMarshalBuiltInGo(t *testing.T) {
	at := func(d time.Duration) *spec.Duration { v := spec.Duration(d); return &v }
	s := &spec.Scenario{
		Name: "built", Description: "Built in Go.", Duration: spec.Duration(10 * time.Second),
		Cluster:  spec.Cluster{Locks: 3},
		Workload: []spec.Workload{{Service: "locks", Clients: 2, Resources: 2}},
		Faults:   []spec.Fault{{At: at(time.Second), Crash: "leader(locks)", RestartAfter: at(time.Second)}},
		Check:    []string{spec.CheckRaftSafety},
	}
	require.NoError(t, s.Validate())
	out, err := spec.Marshal(s)
	require.NoError(t, err)
	again, err := spec.Parse("built.yaml", out)
	require.NoError(t, err, "%s", out)
	require.Equal(t, forget(s), forget(again))

	s.Faults[0].Crash = "n7"
	_, err = spec.Marshal(s)
	require.ErrorIs(t, err, spec.ErrInvalid)
	require.Contains(t, err.Error(), `faults[0].crash: unknown node "n7" (cluster has n1..n3, clients c1..c2)`)
}

func TestClone(t *testing.T) {
	s := parse(t, full)
	c := s.Clone()
	require.Equal(t, s, c)
	c.Faults[1].Partition[0][0] = "n5"
	*c.Faults[0].At = 0
	c.Workload[0].Clients = 1
	c.Swarm.Loss.Max = 1
	c.Check[0] = "x"
	require.Equal(t, "n1", s.Faults[1].Partition[0][0])
	require.Equal(t, 2*time.Second, s.Faults[0].At.D())
	require.Equal(t, 8, s.Workload[0].Clients)
	require.Equal(t, 0.1, s.Swarm.Loss.Max)
	require.Equal(t, "raft-safety", s.Check[0])
	require.Nil(t, (*spec.Scenario)(nil).Clone())
}

func TestErrorFormat(t *testing.T) {
	e := &spec.Error{File: "scenarios/x.yaml", Line: 12, Field: "faults[2].crash", Msg: `unknown node "n9"`}
	require.Equal(t, `scenarios/x.yaml:12: faults[2].crash: unknown node "n9"`, e.Error())
	require.Equal(t, `scenarios/x.yaml: empty`, (&spec.Error{File: "scenarios/x.yaml", Msg: "empty"}).Error())
	require.Equal(t, `name: required`, (&spec.Error{Field: "name", Msg: "required"}).Error())
	require.ErrorIs(t, e, spec.ErrInvalid)
}

// shipped loads the scenario files of package scenarios.
func shipped(t *testing.T) []*spec.Scenario {
	t.Helper()
	all, err := spec.LoadDir("..")
	require.NoError(t, err)
	return all
}

func TestShippedScenarios(t *testing.T) {
	all := shipped(t)
	require.GreaterOrEqual(t, len(all), 12)
	files := make([]string, len(all))
	for i, s := range all {
		files[i] = s.File
		require.NotEmpty(t, s.Description, s.File)
		require.LessOrEqual(t, s.Duration.D(), 30*time.Second, "%s: keep shipped scenarios short", s.File)
		require.GreaterOrEqual(t, s.Settle.D(), 3*time.Second, s.File)
		out, err := spec.Marshal(s)
		require.NoError(t, err, s.File)
		again, err := spec.Parse(s.File, out)
		require.NoError(t, err, "%s:\n%s", s.File, out)
		require.Equal(t, forget(s), forget(again), s.File)
	}
	require.True(t, slices.IsSorted(files))
}

// TestShippedScenariosCoverEveryFault checks that the shipped files
// together use every fault kind, selector and trigger.
func TestShippedScenariosCoverEveryFault(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range shipped(t) {
		for _, sv := range []string{"locks", "queues", "caches"} {
			if n := map[string]int{"locks": s.Cluster.Locks, "queues": s.Cluster.Queues, "caches": s.Cluster.Caches}[sv]; n > 0 {
				seen["service "+sv] = true
			}
		}
		if s.Swarm != nil {
			seen["swarm"] = true
		}
		for _, f := range s.Faults {
			target := func(kind, x string) {
				if x == "" {
					return
				}
				if role, _, ok := spec.ParseSelector(x); ok {
					seen[kind+" "+role] = true
				} else {
					seen[kind+" named"] = true
				}
			}
			target("crash", f.Crash)
			target("restart", f.Restart)
			target("pause", f.Pause)
			target("resume", f.Resume)
			target("isolate", f.Isolate)
			link := map[bool]string{true: " one link", false: " all links"}[f.Link != nil]
			for kind, on := range map[string]bool{
				"partition": f.Partition != nil, "one_way": f.OneWay != nil, "bridge": f.Bridge != nil,
				"heal": f.Heal, "heal_after": f.HealAfter != nil, "restart_after": f.RestartAfter != nil,
				"resume_after": f.ResumeAfter != nil, "clog": f.Clog != nil, "skew": f.Skew != nil,
				"drift": f.Drift != nil, "loss" + link: f.Loss != nil, "duplicate" + link: f.Duplicate != nil,
				"reorder" + link: f.Reorder != nil, "at": f.At != nil, "from/to": f.From != nil,
				"on leader-elected": f.On != nil && f.On.Event == spec.EventLeaderElected,
				"on ops":            f.On != nil && f.On.Ops > 0,
				"disk torn_writes":  f.DiskFault != nil && f.DiskFault.TornWrites > 0,
				"disk corrupt_read": f.DiskFault != nil && f.DiskFault.CorruptRead > 0,
				"disk slow_sync":    f.DiskFault != nil && f.DiskFault.SlowSync > 0,
			} {
				if on {
					seen[kind] = true
				}
			}
		}
	}
	want := []string{"service locks", "swarm",
		"crash leader", "crash follower", "crash random", "crash named", "restart named", "restart follower",
		"restart_after", "pause leader", "pause random", "pause named", "resume named", "resume_after",
		"partition", "one_way", "isolate leader", "isolate named", "isolate random", "bridge", "heal", "heal_after",
		"loss all links", "loss one link", "duplicate all links", "duplicate one link",
		"reorder all links", "reorder one link", "clog", "skew", "drift",
		"disk torn_writes", "disk corrupt_read", "disk slow_sync",
		"at", "from/to", "on leader-elected", "on ops"}
	for _, w := range want {
		require.True(t, seen[w], "no shipped scenario covers %s", w)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()

	_, err := spec.Load(filepath.Join(dir, "missing.yaml"))
	require.ErrorIs(t, err, spec.ErrInvalid)
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.Equal(t, filepath.Join(dir, "missing.yaml")+": cannot open: no such file or directory", err.Error())

	_, err = spec.Load(dir)
	require.ErrorIs(t, err, spec.ErrInvalid)
	require.Contains(t, err.Error(), dir+": is a directory")

	_, err = spec.LoadDir(filepath.Join(dir, "nope"))
	require.ErrorIs(t, err, spec.ErrInvalid)
	require.Contains(t, err.Error(), "cannot read directory")

	require.NoError(t, os.WriteFile(filepath.Join(dir, "README.md"), []byte("# not a scenario\n"), 0o644))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "sub.yaml"), 0o755))
	_, err = spec.LoadDir(dir)
	require.ErrorIs(t, err, spec.ErrInvalid)
	require.Equal(t, dir+": no scenario files (*.yaml, *.yml) in this directory", err.Error())

	empty := filepath.Join(dir, "empty.yaml")
	require.NoError(t, os.WriteFile(empty, nil, 0o644))
	_, err = spec.Load(empty)
	require.ErrorIs(t, err, spec.ErrInvalid)
	require.Equal(t, empty+":1: empty file: no scenario in it", err.Error())

	big := filepath.Join(dir, "big.yml")
	require.NoError(t, os.WriteFile(big, []byte("# "+strings.Repeat("x", spec.MaxFileSize)+"\n"), 0o644))
	_, err = spec.Load(big)
	require.ErrorIs(t, err, spec.ErrInvalid)
	require.Equal(t, big+": file is over the size limit of 1048576 bytes (1 MiB)", err.Error())

	// A directory with bad files reports each of them.
	_, err = spec.LoadDir(dir)
	require.ErrorIs(t, err, spec.ErrInvalid)
	require.Contains(t, err.Error(), empty+":1: empty file")
	require.Contains(t, err.Error(), big+": file is over the size limit")
}

func TestLoadDirDuplicateNames(t *testing.T) {
	dir := t.TempDir()
	s := parse(t, full)
	out, err := spec.Marshal(s)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.yaml"), out, 0o644))
	all, err := spec.LoadDir(dir)
	require.NoError(t, err)
	require.Len(t, all, 1)
	require.Equal(t, filepath.Join(dir, "a.yaml"), all[0].File)

	require.NoError(t, os.WriteFile(filepath.Join(dir, "b.yml"), out, 0o644))
	_, err = spec.LoadDir(dir)
	require.ErrorIs(t, err, spec.ErrInvalid)
	var e *spec.Error
	require.True(t, errors.As(err, &e))
	require.Equal(t, filepath.Join(dir, "b.yml"), e.File)
	require.Equal(t, 1, e.Line)
	require.Equal(t, "name", e.Field)
	require.Contains(t, e.Msg, "also the name of "+filepath.Join(dir, "a.yaml"))
}

func TestValidateWithoutLines(t *testing.T) {
	s := parse(t, full)
	s.File = ""
	s.Faults[3].Link.To = "n1"
	err := s.Validate()
	require.ErrorIs(t, err, spec.ErrInvalid)
	require.Equal(t, "line 26: faults[3].link.to: n1 is also from: a link joins two nodes", err.Error())
	for i := range s.Faults {
		s.Faults[i].Line = 0
	}
	require.Equal(t, "faults[3].link.to: n1 is also from: a link joins two nodes", s.Validate().Error())
}

// TestPackageDocExample keeps the examples of the package comment valid.
func TestPackageDocExample(t *testing.T) {
	src, err := os.ReadFile("spec.go")
	require.NoError(t, err)
	example := func(intro string) *spec.Scenario {
		_, rest, ok := strings.Cut(string(src), intro+"\n//\n")
		require.True(t, ok, intro)
		example, _, ok := strings.Cut(rest, "\n//\n")
		require.True(t, ok)
		var b strings.Builder
		for _, l := range strings.Split(example, "\n") {
			b.WriteString(strings.TrimPrefix(l, "//\t") + "\n")
		}
		s, err := spec.Parse("doc", []byte(b.String()))
		require.NoError(t, err, "%s", b.String())
		return s
	}
	s := example("// A scenario file:")
	require.Equal(t, "leader-crash-under-load", s.Name)
	require.Len(t, s.Faults, 3)

	s = example("joins the ring later:")
	require.Equal(t, "queue-node-joins", s.Name)
	require.Equal(t, 1, s.Cluster.Spares)
	require.Len(t, s.Faults, 3)
	require.Equal(t, "n4", s.Faults[0].Join)

	s = example("can be faulted by name:")
	require.Equal(t, "cache-memory-crash", s.Name)
	require.Equal(t, spec.CacheProtocolBroadcast, s.CacheProtocol())
	servers, _ := s.Nodes()
	require.Equal(t, []string{"n1", "n2", "n3", "mem"}, servers)
	require.Equal(t, "mem", s.Faults[0].Crash)
}
