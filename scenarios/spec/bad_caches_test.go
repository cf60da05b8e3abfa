package spec_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/scenarios/spec"
)

// cbase is a valid broadcast cache scenario (its memory node is mem); the
// cases below change one line of it, or its faults (line 10 on). Line 5
// is its cache section.
var cbase = []string{
	"name: c",
	"description: A cache test scenario.",
	"duration: 20s",
	"cluster: {caches: 3}",
	"cache: {protocol: broadcast, write_policy: write-back, capacity: 32}",
	"disk: {torn_writes: 0.5}",
	"workload:",
	"  - {service: caches, clients: 4, rate: 100/s, resources: 8, writes: 0.3}",
	"faults:",
	"  - {at: 2s, crash: mem, restart_after: 1s}",
	"check: [coherence, linearizable, liveness]",
}

// directory is cbase's cache section in directory mode: no memory node.
const directory = "cache: {protocol: directory}"

// cline returns cbase with line n (1-based) replaced by text.
func cline(n int, text string) string {
	l := append([]string(nil), cbase...)
	l[n-1] = text
	return strings.Join(l, "\n") + "\n"
}

// cfaults returns cbase with the faults replaced: fault i is on line 10+i.
func cfaults(fs ...string) string {
	l := append([]string(nil), cbase[:9]...)
	for _, f := range fs {
		l = append(l, "  - "+f)
	}
	l = append(l, cbase[10])
	return strings.Join(l, "\n") + "\n"
}

// cdirFaults is cfaults in directory mode.
func cdirFaults(fs ...string) string {
	return strings.Replace(cfaults(fs...), cbase[4], directory, 1)
}

// cworkload is a caches workload line with extra fields.
func cworkload(extra string) string {
	return "  - {service: caches, clients: 4, resources: 8, " + extra + "}"
}

var cacheBadCases = []badCase{
	// Cluster.
	{"caches too many", cline(4, "cluster: {caches: 10}"), 4, "cluster.caches", "10 servers, outside [0, 9]"},
	{"caches negative", cline(4, "cluster: {caches: -1}"), 4, "cluster.caches", "-1 servers, outside [0, 9]"},
	{"caches and locks", cline(4, "cluster: {caches: 3, locks: 3}"), 4, "cluster", "locks and caches both sized: one service per scenario is supported for now"},
	{"caches and queues", cline(4, "cluster: {caches: 3, queues: 3}"), 4, "cluster", "queues and caches both sized: one service per scenario"},
	{"caches with spares", cline(4, "cluster: {caches: 3, spares: 1}"), 4, "cluster.spares", "only with queues (cluster.queues is 0)"},

	// The cache section.
	{"cache on locks", line(5, "cache: {protocol: directory}"), 5, "cache", "the cache service's settings: only when cluster.caches > 0 (it is 0)"},
	{"cache on queues", qline(5, "cache: {capacity: 8}"), 5, "cache", "only when cluster.caches > 0"},
	{"cache empty on locks", line(5, "cache: {}"), 5, "cache", "only when cluster.caches > 0"},
	{"protocol unknown", cline(5, "cache: {protocol: mosi}"), 5, "cache.protocol", `unknown protocol "mosi" (known: directory, broadcast)`},
	{"protocol capitalized", cline(5, "cache: {protocol: Directory}"), 5, "cache.protocol", `unknown protocol "Directory" (known: directory, broadcast)`},
	{"protocol number", cline(5, "cache: {protocol: 5}"), 5, "cache.protocol", `unknown protocol "5" (known: directory, broadcast)`},
	{"protocol list", cline(5, "cache: {protocol: [directory]}"), 5, "cache.protocol", "want a string, got a list"},
	{"write policy unknown", cline(5, "cache: {write_policy: write-around}"), 5, "cache.write_policy", `unknown write policy "write-around" (known: write-back, write-through)`},
	{"write policy underscore", cline(5, "cache: {protocol: broadcast, write_policy: write_through}"), 5, "cache.write_policy", `unknown write policy "write_through"`},
	{"capacity negative", cline(5, "cache: {capacity: -1}"), 5, "cache.capacity", "-1 lines, outside [0, 1000000] (0 for the default 64)"},
	{"capacity too large", cline(5, "cache: {capacity: 1000001}"), 5, "cache.capacity", "1000001 lines, outside [0, 1000000]"},
	{"capacity wrong type", cline(5, "cache: {capacity: big}"), 5, "cache.capacity", `want a whole number, got the string "big"`},
	{"capacity float", cline(5, "cache: {capacity: 1.5}"), 5, "cache.capacity", `want a whole number, got "1.5"`},
	{"cache unknown field", cline(5, "cache: {protocl: broadcast}"), 5, "cache.protocl", `unknown field (did you mean "protocol"?)`},
	{"cache wrong type", cline(5, "cache: broadcast"), 5, "cache", "want a mapping of protocol, write_policy, capacity"},
	{"cache repeated", cline(6, "cache: {capacity: 8}"), 6, "cache", "repeated key (first at line 5)"},

	// Workloads: the service.
	{"caches workload on locks", line(8, cworkload("writes: 0.5")), 8, "workload[0].service", "service caches has no servers: cluster.caches is 0"},
	{"queues workload on caches", cline(8, qworkload("produce: 0.5")), 8, "workload[0].service", "service queues has no servers: cluster.queues is 0"},
	{"locks workload on caches", cline(8, lworkload("shared: 0.5")), 8, "workload[0].service", "service locks has no servers: cluster.locks is 0"},

	// Workloads: fields of other services.
	{"produce on caches", cline(8, cworkload("produce: 0.5")), 8, "workload[0].produce", "only for service queues (this workload is of caches)"},
	{"produce zero on caches", cline(8, cworkload("produce: 0")), 8, "workload[0].produce", "only for service queues"},
	{"poison on caches", cline(8, cworkload("poison: 0.1")), 8, "workload[0].poison", "only for service queues (this workload is of caches)"},
	{"dlq on caches", cline(8, cworkload("dlq: 0.1")), 8, "workload[0].dlq", "only for service queues"},
	{"visibility on caches", cline(8, cworkload("visibility: 1s")), 8, "workload[0].visibility", "only for service queues"},
	{"process on caches", cline(8, cworkload("process: 5ms")), 8, "workload[0].process", "only for service queues"},
	{"shared on caches", cline(8, cworkload("shared: 0.3")), 8, "workload[0].shared", "only for service locks (this workload is of caches)"},
	{"hold on caches", cline(8, cworkload("hold: 10ms")), 8, "workload[0].hold", "only for service locks"},
	{"wait on caches", cline(8, cworkload("wait: forever")), 8, "workload[0].wait", "only for service locks"},
	{"ttl on caches", cline(8, cworkload("ttl: 10s")), 8, "workload[0].ttl", "only for service locks"},
	{"writes on locks", line(8, lworkload("writes: 0.5")), 8, "workload[0].writes", "only for service caches (this workload is of locks)"},
	{"writes zero on locks", line(8, lworkload("writes: 0")), 8, "workload[0].writes", "only for service caches"},
	{"writes on queues", qline(8, qworkload("writes: 0.5")), 8, "workload[0].writes", "only for service caches (this workload is of queues)"},
	{"payload on locks for both", line(8, lworkload("payload: 8")), 8, "workload[0].payload", "only for service queues or caches (this workload is of locks)"},

	// Workloads: cache fields.
	{"writes above 1", cline(8, cworkload("writes: 1.5")), 8, "workload[0].writes", "probability 1.5 outside [0, 1]"},
	{"writes negative", cline(8, cworkload("writes: -0.1")), 8, "workload[0].writes", "outside [0, 1]"},
	{"writes nan", cline(8, cworkload("writes: .nan")), 8, "workload[0].writes", "outside [0, 1]"},
	{"writes wrong type", cline(8, cworkload("writes: often")), 8, "workload[0].writes", "want a number"},
	{"payload negative on caches", cline(8, cworkload("payload: -1")), 8, "workload[0].payload", "-1 bytes, outside [0, 1048576]"},
	{"payload too large on caches", cline(8, cworkload("payload: 1048577")), 8, "workload[0].payload", "outside [0, 1048576]"},
	{"resources zero on caches", cline(8, "  - {service: caches, clients: 4}"), 8, "workload[0].resources", "outside [1, 1000000]"},
	{"resources too many on caches", cline(8, "  - {service: caches, clients: 4, resources: 1000001}"), 8, "workload[0].resources", "1000001, outside [1, 1000000]"},
	{"zipf on caches uniform", cline(8, cworkload("zipf_s: 1.5")), 8, "workload[0].zipf_s", "only with distribution: zipf"},
	{"distribution unknown on caches", cline(8, cworkload("distribution: hot")), 8, "workload[0].distribution", `unknown distribution "hot"`},
	{"rate bad on caches", cline(8, cworkload("rate: fast")), 8, "workload[0].rate", `"fast": want operations per second as N/s`},

	// Checks.
	{"raft-safety on caches", cline(11, "check: [raft-safety, coherence]"), 11, "check[0]", "raft-safety checks Raft, which the cache service does not run (caches have no leader): use coherence"},
	{"raft-safety on directory caches", strings.Replace(cline(11, "check: [coherence, raft-safety]"), cbase[4], directory, 1), 11, "check[1]", "raft-safety checks Raft"},
	{"lock-safety on caches", cline(11, "check: [coherence, lock-safety]"), 11, "check[1]", "lock-safety is a check of service locks, which this scenario does not size (cluster.locks is 0)"},
	{"queue-safety on caches", cline(11, "check: [queue-safety]"), 11, "check[0]", "queue-safety is a check of service queues, which this scenario does not size (cluster.queues is 0)"},
	{"at-least-once on caches", cline(11, "check: [coherence, at-least-once]"), 11, "check[1]", "at-least-once is a check of service queues"},
	{"coherence on locks", line(11, "check: [raft-safety, coherence]"), 11, "check[1]", "coherence is a check of service caches, which this scenario does not size (cluster.caches is 0)"},
	{"coherence on queues", qline(11, "check: [queue-safety, coherence]"), 11, "check[1]", "coherence is a check of service caches"},
	{"linearizable on queues both", qline(11, "check: [linearizable]"), 11, "check[0]", "linearizable is a check of service locks or caches, which this scenario does not size (cluster.locks and cluster.caches are 0)"},
	{"coherence twice", cline(11, "check: [coherence, liveness, coherence]"), 11, "check[2]", "coherence is listed twice"},
	{"linearizable without cache workload", strings.Replace(cline(8, "# none"), "workload:\n", "workload: []\n", 1), 11, "check[1]", "linearizable needs a workload"},

	// Selectors.
	{"leader of caches", cfaults("{at: 2s, crash: leader(caches)}"), 10, "faults[0].crash", `"leader(caches)": caches have no leader; use random(caches) or a node name (cluster has n1..n3, memory mem, clients c1..c4)`},
	{"follower of caches", cfaults("{at: 2s, isolate: follower(caches), heal_after: 1s}"), 10, "faults[0].isolate", `"follower(caches)": caches have no leader; use random(caches) or a node name`},
	{"leader of caches pause", cdirFaults("{at: 2s, pause: leader(caches)}"), 10, "faults[0].pause", `caches have no leader; use random(caches) or a node name (cluster has n1..n3, clients c1..c4)`},
	{"leader of caches disk", cfaults("{at: 2s, disk: {node: leader(caches), torn_writes: 1}}"), 10, "faults[0].disk.node", "caches have no leader"},
	{"follower of caches skew", cfaults("{at: 2s, skew: {node: follower(caches), offset: 1s}}"), 10, "faults[0].skew.node", "caches have no leader"},
	{"leader of caches drift", cfaults("{at: 2s, drift: {node: leader(caches), rate: 0.1}}"), 10, "faults[0].drift.node", "caches have no leader"},
	{"leader of caches restart", cfaults("{at: 2s, crash: random(caches)}", "{at: 3s, restart: leader(caches)}"), 11, "faults[1].restart", "caches have no leader"},
	{"leader of locks on caches", cfaults("{at: 2s, crash: leader(locks)}"), 10, "faults[0].crash", "service locks has no servers: cluster.locks is 0"},
	{"random of queues on caches", cfaults("{at: 2s, crash: random(queues)}"), 10, "faults[0].crash", "service queues has no servers"},
	{"selector of mem", cfaults("{at: 2s, crash: random(mem)}"), 10, "faults[0].crash", `unknown service "mem" (known: locks, queues, caches)`},

	// Triggers.
	{"on leader of caches", cfaults("{on: {event: leader-elected, service: caches}, crash: n1}"), 10, "faults[0].on.service", "caches have no leader, so none is elected: trigger with on: {ops: N} or at"},
	{"on leader default caches", cfaults("{on: {event: leader-elected, after: 2s}, crash: n1}"), 10, "faults[0].on.event", "the scenario sizes caches, which have no leader"},
	{"on leader of locks on caches", cfaults("{on: {event: leader-elected, service: locks}, crash: n1}"), 10, "faults[0].on.service", "service locks has no servers"},
	{"on service caches on locks", faults("{on: {event: leader-elected, service: caches}, crash: n1}"), 10, "faults[0].on.service", "service caches has no servers: cluster.caches is 0"},
	{"on ops without workload on caches", strings.Replace(strings.Replace(cfaults("{on: {ops: 5}, crash: n1}"), "workload:\n"+cbase[7]+"\n", "workload: []\n", 1), "linearizable, ", "", 1), 9, "faults[0].on.ops", "no workload"},

	// Joins and leaves stay queue-only.
	{"join on caches", cfaults("{at: 2s, join: n2}"), 10, "faults[0].join", "join changes the ring of the queue service: only when cluster.queues > 0"},
	{"leave on caches", cfaults("{at: 2s, leave: n1}"), 10, "faults[0].leave", "leave changes the ring of the queue service: only when cluster.queues > 0"},
	{"join mem", cfaults("{at: 2s, join: mem}"), 10, "faults[0].join", "only when cluster.queues > 0"},

	// The memory node.
	{"mem in directory mode", cdirFaults("{at: 2s, crash: mem}"), 10, "faults[0].crash", `unknown node "mem" (cluster has n1..n3, clients c1..c4)`},
	{"mem by default protocol", strings.Replace(cfaults("{at: 2s, pause: mem}"), cbase[4], "cache: {capacity: 16}", 1), 10, "faults[0].pause", `unknown node "mem"`},
	{"mem without cache section", strings.Replace(cfaults("{at: 2s, isolate: mem}"), cbase[4], "# no cache section", 1), 10, "faults[0].isolate", `unknown node "mem"`},
	{"mem on locks", faults("{at: 2s, crash: mem}"), 10, "faults[0].crash", `unknown node "mem" (cluster has n1..n5, clients c1..c4)`},
	{"mem on queues", qfaults("{at: 2s, partition: [[n1, mem], [n2]]}"), 10, "faults[0].partition[0][1]", `unknown node "mem"`},
	{"unknown node with mem", cfaults("{at: 2s, crash: n4}"), 10, "faults[0].crash", `unknown node "n4" (cluster has n1..n3, memory mem, clients c1..c4)`},
	{"mem twice in partition", cfaults("{at: 2s, partition: [[n1, mem], [mem, n2]]}"), 10, "faults[0].partition[1][0]", "mem is also in group 0"},
	{"mem listed twice", cfaults("{at: 2s, one_way: {from: [mem, mem], to: [n1]}}"), 10, "faults[0].one_way.from[1]", "mem is listed twice"},
	{"mem clog to itself", cfaults("{at: 2s, for: 1s, clog: {from: mem, to: mem, delay: 1s}}"), 10, "faults[0].clog.to", "mem is also from"},
	{"bridge unplaced mem", cfaults("{at: 2s, bridge: {a: [n1], node: n2, b: [n3]}}"), 10, "faults[0].bridge", "server mem is in neither a, b nor node"},
	{"bridge mem in half and node", cfaults("{at: 2s, bridge: {a: [n1, mem], node: mem, b: [n2, n3]}}"), 10, "faults[0].bridge.node", "mem is also in a half"},
	{"crash mem twice", cfaults("{at: 2s, crash: mem}", "{at: 3s, crash: mem}"), 11, "faults[1].crash", "mem is already down at 3s (faults[0] crashed it)"},
	{"restart mem never crashed", cfaults("{at: 2s, restart: mem}"), 10, "faults[0].restart", "mem is not down at 2s: a restart needs an earlier crash of mem"},
	{"restart mem after random crash", cfaults("{at: 2s, crash: random(caches)}", "{at: 5s, restart: mem}"), 11, "faults[1].restart", "mem is not down at 5s"},
	{"triggered restart mem after random crash", cfaults("{on: {ops: 5}, crash: random(caches)}", "{on: {ops: 50}, restart: mem}"), 11, "faults[1].restart", "no earlier crash of mem in this file"},
	{"resume mem after random pause", cfaults("{at: 2s, pause: random(caches)}", "{at: 5s, resume: mem}"), 11, "faults[1].resume", "mem is not paused at 5s"},
	{"pause mem down", cfaults("{at: 2s, crash: mem}", "{at: 3s, pause: mem}"), 11, "faults[1].pause", "mem is down at 3s"},
	{"restart mem restarts itself", cfaults("{at: 2s, crash: mem, restart_after: 5s}", "{at: 3s, restart: mem}"), 11, "faults[1].restart", "mem restarts by itself"},
}

func TestBadCacheInput(t *testing.T) {
	_, err := spec.Parse("t.yaml", []byte(strings.Join(cbase, "\n")))
	require.NoError(t, err, "the cache base scenario is valid")
	_, err = spec.Parse("t.yaml", []byte(cdirFaults("{at: 2s, crash: n1, restart_after: 1s}")))
	require.NoError(t, err, "the directory base scenario is valid")
	for _, c := range cacheBadCases {
		t.Run(c.name, func(t *testing.T) { requireBad(t, c) })
	}
}

// TestValidCacheTimelines are cache scenarios' fault schedules that must be
// accepted: in broadcast mode mem may be named wherever a server may.
func TestValidCacheTimelines(t *testing.T) {
	broadcast := [][]string{
		{"{at: 2s, crash: mem}", "{at: 3s, restart: mem}"},
		{"{at: 2s, pause: mem, resume_after: 1s}", "{at: 4s, pause: mem}", "{at: 5s, resume: mem}"},
		{"{at: 2s, partition: [[n1, mem], [n2, n3]], heal_after: 1s}"},
		{"{at: 2s, partition: [[mem], [n1, n2, n3, c1]]}", "{at: 4s, heal: true}"},
		{"{at: 2s, isolate: mem, heal_after: 1s}"},
		{"{at: 2s, one_way: {from: [mem], to: [n1, n2]}, heal_after: 1s}"},
		{"{at: 2s, bridge: {a: [n1, n2], node: mem, b: [n3]}, heal_after: 1s}"},
		{"{at: 2s, bridge: {a: [n1, mem], node: n2, b: [n3]}, heal_after: 1s}"},
		{"{at: 2s, for: 1s, clog: {from: mem, to: n1, delay: 5ms}}"},
		{"{from: 2s, to: 4s, loss: 0.3, link: {from: n2, to: mem}}"},
		{"{at: 2s, skew: {node: mem, offset: -1s}}", "{at: 3s, drift: {node: mem, rate: 0.1}}"},
		{"{at: 2s, for: 2s, disk: {node: mem, torn_writes: 1, slow_sync: 5}}"},
		{"{at: 2s, crash: random(caches), restart_after: 1s}", "{at: 4s, pause: random(caches), resume_after: 1s}", "{at: 6s, isolate: random(caches), heal_after: 1s}"},
		{"{at: 2s, crash: random(caches)}", "{at: 5s, restart: n3}"},
		{"{at: 2s, crash: random(caches)}", "{at: 5s, restart: random(caches)}"},
		{"{on: {ops: 100}, crash: mem}", "{on: {ops: 200}, restart: mem}"},
		{"{on: {ops: 100, after: 2s}, crash: random(caches), restart_after: 1s}"},
		{"{at: 2s, disk: {node: random(caches), corrupt_read: 0.1}}"},
		{"{at: 2s, crash: mem, restart_after: 1s}", "{at: 2s, crash: n1, restart_after: 1s}", "{at: 2s, crash: c1}"},
	}
	for _, fs := range broadcast {
		_, err := spec.Parse("t.yaml", []byte(cfaults(fs...)))
		require.NoError(t, err, "%v", fs)
	}
	for _, fs := range [][]string{
		{"{at: 2s, crash: random(caches)}", "{at: 5s, restart: n2}"},
		{"{at: 2s, bridge: {a: [n1], node: n2, b: [n3]}, heal_after: 1s}"},
		{"{at: 2s, partition: [[n1], [n2, n3]], heal_after: 1s}"},
		{"{on: {ops: 10}, isolate: random(caches), heal_after: 1s}"},
	} {
		_, err := spec.Parse("t.yaml", []byte(cdirFaults(fs...)))
		require.NoError(t, err, "%v", fs)
	}
}

// fullCaches is a directory cache scenario that uses every cache field.
const fullCaches = `name: caches-everything
description: Every cache field of the scenario format, in directory mode.
duration: 30s
settle: 4s
cluster: {caches: 4}
cache: {protocol: directory, write_policy: write-through, capacity: 128}
network:
  latency: {dist: uniform, min: 1ms, max: 5ms}
workload:
  - {service: caches, clients: 6, rate: 500/s, resources: 32, distribution: zipf, zipf_s: 1.4, writes: 0.35, payload: 48}
  - {service: caches, clients: 2, resources: 4, writes: 0}
  - {service: caches, clients: 1, resources: 1}
faults:
  - {at: 3s, crash: random(caches), restart_after: 1s}
  - {on: {ops: 1000}, isolate: random(caches), heal_after: 1s}
  - {at: 8s, partition: [[n1, n2], [n3, n4]], heal_after: 2s}
  - {at: 12s, crash: n4}
  - {at: 14s, restart: n4}
  - {at: 16s, bridge: {a: [n1], node: n2, b: [n3, n4]}, heal_after: 1s}
check: [coherence, linearizable, liveness]
`

// fullCachesBroadcast is a broadcast cache scenario that faults its
// memory node by name.
const fullCachesBroadcast = `name: caches-broadcast
description: A broadcast cache whose memory node is faulted by name.
duration: 20s
cluster: {caches: 3}
cache: {protocol: broadcast}
workload:
  - {service: caches, clients: 4, rate: 200/s, resources: 8, writes: 0.5, payload: 16}
faults:
  - {at: 2s, crash: mem, restart_after: 1s}
  - {at: 4s, partition: [[n1, mem], [n2, n3]], heal_after: 1s}
  - {at: 6s, pause: random(caches), resume_after: 500ms}
  - {from: 7s, to: 8s, loss: 0.2, link: {from: mem, to: n2}}
  - {at: 9s, bridge: {a: [n1, n2], node: mem, b: [n3]}, heal_after: 1s}
  - {on: {ops: 300, after: 10s}, disk: {node: mem, torn_writes: 1}, for: 1s}
  - {at: 13s, crash: mem}
  - {at: 14s, restart: mem}
check: [coherence, linearizable, liveness]
`

func TestParseCaches(t *testing.T) {
	s := parse(t, fullCaches)
	require.Equal(t, spec.Cluster{Caches: 4}, s.Cluster)
	require.Equal(t, &spec.CacheConfig{Protocol: "directory", WritePolicy: "write-through", Capacity: 128}, s.Cache)
	require.Equal(t, spec.CacheProtocolDirectory, s.CacheProtocol())
	require.True(t, s.WriteThrough())
	require.Equal(t, 128, s.CacheCapacity())
	servers, clients := s.Nodes()
	require.Equal(t, []string{"n1", "n2", "n3", "n4"}, servers, "no memory node in directory mode")
	require.Len(t, clients, 9)

	w := s.Workload[0]
	require.Equal(t, "caches", w.Service)
	require.Equal(t, 32, w.Resources)
	require.Equal(t, "zipf", w.Distribution)
	require.Equal(t, 1.4, w.ZipfS)
	require.Equal(t, 500.0, w.RatePerSecond())
	require.NotNil(t, w.Writes)
	require.Equal(t, 0.35, w.WritesOrDefault())
	require.Equal(t, 48, w.Payload)
	require.NotNil(t, s.Workload[1].Writes, "writes: 0 is kept")
	require.Equal(t, 0.0, s.Workload[1].WritesOrDefault(), "a read-only workload")
	require.NotNil(t, s.Workload[2].Writes, "Validate fills in the default")
	require.Equal(t, spec.DefaultWrites, *s.Workload[2].Writes)
	require.Equal(t, 0.2, spec.Workload{Service: "caches"}.WritesOrDefault())
	require.Nil(t, s.Workload[2].Produce, "no queue default on a caches workload")
	require.Equal(t, []string{spec.CheckCoherence, spec.CheckLinearizable, spec.CheckLiveness}, s.Check)

	out, err := spec.Marshal(s)
	require.NoError(t, err)
	again, err := spec.Parse("again.yaml", out)
	require.NoError(t, err, "%s", out)
	require.Equal(t, forget(s), forget(again))
	require.Contains(t, string(out), "cluster: {caches: 4}\ncache: {protocol: directory, write_policy: write-through, capacity: 128}\n")
	require.Contains(t, string(out), "  - {service: caches, clients: 2, resources: 4, distribution: uniform, writes: 0}\n")
	require.Contains(t, string(out), "  - {service: caches, clients: 1, resources: 1, distribution: uniform, writes: 0.2}\n")
	require.Contains(t, string(out), "check: [coherence, linearizable, liveness]\n")
	require.NotContains(t, string(out), "locks")
	require.NotContains(t, string(out), "queues")
}

func TestParseCachesBroadcast(t *testing.T) {
	s := parse(t, fullCachesBroadcast)
	require.Equal(t, &spec.CacheConfig{Protocol: "broadcast", WritePolicy: "write-back", Capacity: spec.DefaultCacheCapacity}, s.Cache, "Validate fills in the section's defaults")
	require.Equal(t, spec.CacheProtocolBroadcast, s.CacheProtocol())
	require.False(t, s.WriteThrough())
	require.Equal(t, 64, s.CacheCapacity())
	servers, clients := s.Nodes()
	require.Equal(t, []string{"n1", "n2", "n3", "mem"}, servers, "the memory node follows the cache nodes")
	require.Equal(t, []string{"c1", "c2", "c3", "c4"}, clients)
	require.Equal(t, "mem", s.Faults[0].Crash)
	require.Equal(t, [][]string{{"n1", "mem"}, {"n2", "n3"}}, s.Faults[1].Partition)
	require.Equal(t, "mem", s.Faults[4].Bridge.Node)
	require.Equal(t, "mem", s.Faults[5].DiskFault.Node)

	out, err := spec.Marshal(s)
	require.NoError(t, err)
	again, err := spec.Parse("again.yaml", out)
	require.NoError(t, err, "%s", out)
	require.Equal(t, forget(s), forget(again))
	require.Contains(t, string(out), "cache: {protocol: broadcast, write_policy: write-back, capacity: 64}\n")
	require.Contains(t, string(out), "  - {at: 2s, crash: mem, restart_after: 1s}\n")
	require.Contains(t, string(out), "  - {at: 4s, partition: [[n1, mem], [n2, n3]], heal_after: 1s}\n")
	require.Contains(t, string(out), "resources: 8, distribution: uniform, payload: 16, writes: 0.5}\n")
}

func TestCacheDefaults(t *testing.T) {
	s := parse(t, `name: d
description: Cache defaults.
duration: 10s
cluster: {caches: 2}
workload:
  - {service: caches, clients: 2, resources: 4}
check: [coherence]
`)
	require.Nil(t, s.Cache, "the section stays absent")
	require.Equal(t, "directory", s.CacheProtocol())
	require.False(t, s.WriteThrough())
	require.Equal(t, 64, s.CacheCapacity())
	require.Equal(t, 0.2, *s.Workload[0].Writes)
	servers, _ := s.Nodes()
	require.Equal(t, []string{"n1", "n2"}, servers)
	out, err := spec.Marshal(s)
	require.NoError(t, err)
	require.NotContains(t, string(out), "cache:")

	var none spec.Scenario
	require.Equal(t, "directory", none.CacheProtocol())
	require.False(t, none.WriteThrough())
	require.Equal(t, 64, none.CacheCapacity())

	s = parse(t, `name: d
description: An empty cache section.
duration: 10s
cluster: {caches: 2}
cache: {}
check: [coherence, liveness]
`)
	require.Equal(t, &spec.CacheConfig{Protocol: "directory", WritePolicy: "write-back", Capacity: 64}, s.Cache)
	out, err = spec.Marshal(s)
	require.NoError(t, err)
	again, err := spec.Parse("again.yaml", out)
	require.NoError(t, err, "%s", out)
	require.Equal(t, forget(s), forget(again))
}

func TestCachesBuiltInGo(t *testing.T) {
	at := func(d time.Duration) *spec.Duration { v := spec.Duration(d); return &v }
	s := &spec.Scenario{
		Name: "caches-built", Description: "Built in Go.", Duration: spec.Duration(10 * time.Second),
		Cluster:  spec.Cluster{Caches: 2},
		Cache:    &spec.CacheConfig{Protocol: spec.CacheProtocolBroadcast, WritePolicy: spec.WritePolicyWriteThrough},
		Workload: []spec.Workload{{Service: "caches", Clients: 2, Resources: 2, Payload: 8}},
		Faults:   []spec.Fault{{At: at(time.Second), Crash: spec.MemoryNode, RestartAfter: at(time.Second)}, {At: at(3 * time.Second), Isolate: "random(caches)"}},
		Check:    []string{spec.CheckCoherence, spec.CheckLinearizable},
	}
	require.NoError(t, s.Validate())
	require.Equal(t, spec.DefaultWrites, *s.Workload[0].Writes)
	require.Equal(t, spec.DefaultCacheCapacity, s.Cache.Capacity)
	require.True(t, s.WriteThrough())
	servers, _ := s.Nodes()
	require.Equal(t, []string{"n1", "n2", "mem"}, servers)
	out, err := spec.Marshal(s)
	require.NoError(t, err)
	again, err := spec.Parse("built.yaml", out)
	require.NoError(t, err, "%s", out)
	require.Equal(t, forget(s), forget(again))

	s.Cache.Protocol = spec.CacheProtocolDirectory
	_, err = spec.Marshal(s)
	require.ErrorIs(t, err, spec.ErrInvalid)
	require.Contains(t, err.Error(), `faults[0].crash: unknown node "mem" (cluster has n1..n2, clients c1..c2)`)

	s.Cache.Protocol = "snoopy"
	err = s.Validate()
	require.ErrorIs(t, err, spec.ErrInvalid)
	require.Equal(t, `cache.protocol: unknown protocol "snoopy" (known: directory, broadcast)`, err.Error())

	s.Cache.Protocol = ""
	s.Faults[0].Crash = "n1"
	s.Check = append(s.Check, spec.CheckRaftSafety)
	err = s.Validate()
	require.ErrorIs(t, err, spec.ErrInvalid)
	require.Equal(t, "check[2]: raft-safety checks Raft, which the cache service does not run (caches have no leader): use coherence", err.Error())
	require.Equal(t, spec.CacheProtocolDirectory, s.Cache.Protocol, "the default was filled in")
}
