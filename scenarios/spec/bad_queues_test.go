package spec_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/scenarios/spec"
)

// qbase is a valid queue scenario with one spare; the cases below change
// one line of it, or its faults (line 10 on), or add lines in place of its
// disk (line 6).
var qbase = []string{
	"name: q",
	"description: A queue test scenario.",
	"duration: 20s",
	"cluster: {queues: 3, spares: 1}",
	"network: {latency: {dist: uniform, min: 1ms, max: 5ms}}",
	"disk: {torn_writes: 0.5}",
	"workload:",
	"  - {service: queues, clients: 4, rate: 100/s, resources: 4, produce: 0.6}",
	"faults:",
	"  - {at: 2s, join: n4}",
	"check: [raft-safety, queue-safety, at-least-once, liveness]",
}

// qline returns qbase with line n (1-based) replaced by text.
func qline(n int, text string) string {
	l := append([]string(nil), qbase...)
	l[n-1] = text
	return strings.Join(l, "\n") + "\n"
}

// qfaults returns qbase with the faults replaced: fault i is on line 10+i.
func qfaults(fs ...string) string {
	l := append([]string(nil), qbase[:9]...)
	for _, f := range fs {
		l = append(l, "  - "+f)
	}
	l = append(l, qbase[10])
	return strings.Join(l, "\n") + "\n"
}

// qworkload is a queues workload line with extra fields.
func qworkload(extra string) string {
	return "  - {service: queues, clients: 4, resources: 4, " + extra + "}"
}

// lworkload is a locks workload line (of the locks base) with extra fields.
func lworkload(extra string) string {
	return "  - {service: locks, clients: 4, resources: 8, " + extra + "}"
}

var queueBadCases = []badCase{
	// Cluster.
	{"spares without queues", line(4, "cluster: {locks: 5, spares: 1}"), 4, "cluster.spares", "only with queues (cluster.queues is 0)"},
	{"spares negative", qline(4, "cluster: {queues: 3, spares: -1}"), 4, "cluster.spares", "-1 spares, outside [0, 9]"},
	{"spares too many", qline(4, "cluster: {queues: 3, spares: 10}"), 4, "cluster.spares", "10 spares, outside [0, 9]"},
	{"queue nodes too many", qline(4, "cluster: {queues: 9, spares: 8}"), 4, "cluster.spares", "9 queue servers and 8 spares make 17 queue nodes, over the limit of 16"},
	{"queues too many", qline(4, "cluster: {queues: 10}"), 4, "cluster.queues", "10 servers, outside [0, 9]"},
	{"queues and caches", qline(4, "cluster: {queues: 3, caches: 3}"), 4, "cluster", "queues and caches both sized: one service per scenario is supported for now"},
	{"queues and locks", qline(4, "cluster: {queues: 3, locks: 3}"), 4, "cluster", "locks and queues both sized: one service per scenario is supported for now"},
	{"spares wrong type", qline(4, "cluster: {queues: 3, spares: one}"), 4, "cluster.spares", "want a whole number"},

	// Workloads: the service.
	{"queues workload without queues", line(8, "  - {service: queues, clients: 4, resources: 8}"), 8, "workload[0].service", "service queues has no servers: cluster.queues is 0"},
	{"locks workload without locks", qline(8, "  - {service: locks, clients: 4, resources: 8}"), 8, "workload[0].service", "service locks has no servers: cluster.locks is 0"},

	// Workloads: fields of the other service.
	{"shared on queues", qline(8, qworkload("shared: 0.3")), 8, "workload[0].shared", "only for service locks (this workload is of queues)"},
	{"hold on queues", qline(8, qworkload("hold: 10ms")), 8, "workload[0].hold", "only for service locks"},
	{"wait on queues", qline(8, qworkload("wait: forever")), 8, "workload[0].wait", "only for service locks"},
	{"ttl on queues", qline(8, qworkload("ttl: 10s")), 8, "workload[0].ttl", "only for service locks"},
	{"produce on locks", line(8, lworkload("produce: 0.5")), 8, "workload[0].produce", "only for service queues (this workload is of locks)"},
	{"produce zero on locks", line(8, lworkload("produce: 0")), 8, "workload[0].produce", "only for service queues"},
	{"poison on locks", line(8, lworkload("poison: 0.1")), 8, "workload[0].poison", "only for service queues"},
	{"dlq on locks", line(8, lworkload("dlq: 0.1")), 8, "workload[0].dlq", "only for service queues"},
	{"visibility on locks", line(8, lworkload("visibility: 1s")), 8, "workload[0].visibility", "only for service queues"},
	{"process on locks", line(8, lworkload("process: 5ms")), 8, "workload[0].process", "only for service queues"},
	{"payload on locks", line(8, lworkload("payload: 64")), 8, "workload[0].payload", "only for service queues"},

	// Workloads: queue fields.
	{"produce above 1", qline(8, qworkload("produce: 1.5")), 8, "workload[0].produce", "probability 1.5 outside [0, 1]"},
	{"produce negative", qline(8, qworkload("produce: -0.1")), 8, "workload[0].produce", "outside [0, 1]"},
	{"produce nan", qline(8, qworkload("produce: .nan")), 8, "workload[0].produce", "outside [0, 1]"},
	{"produce wrong type", qline(8, qworkload("produce: half")), 8, "workload[0].produce", "want a number"},
	{"poison above 1", qline(8, qworkload("poison: 2")), 8, "workload[0].poison", "probability 2 outside [0, 1]"},
	{"dlq negative", qline(8, qworkload("dlq: -1")), 8, "workload[0].dlq", "outside [0, 1]"},
	{"visibility negative", qline(8, qworkload("visibility: -1s")), 8, "workload[0].visibility", "negative duration -1s"},
	{"visibility too long", qline(8, qworkload("visibility: 13h")), 8, "workload[0].visibility", "13h0m0s exceeds the limit of 12h0m0s"},
	{"process negative", qline(8, qworkload("process: -5ms")), 8, "workload[0].process", "negative duration"},
	{"process too long", qline(8, qworkload("process: 30s")), 8, "workload[0].process", "30s exceeds the scenario's duration 20s"},
	{"process beyond max", qline(8, qworkload("process: 2h")), 8, "workload[0].process", "exceeds the scenario's duration"},
	{"payload negative", qline(8, qworkload("payload: -1")), 8, "workload[0].payload", "-1 bytes, outside [0, 1048576]"},
	{"payload too large", qline(8, qworkload("payload: 1048577")), 8, "workload[0].payload", "outside [0, 1048576]"},
	{"resources zero on queues", qline(8, "  - {service: queues, clients: 4}"), 8, "workload[0].resources", "outside [1, 1000000]"},
	{"zipf on queues uniform", qline(8, qworkload("zipf_s: 1.5")), 8, "workload[0].zipf_s", "only with distribution: zipf"},

	// Checks.
	{"lock-safety on queues", qline(11, "check: [raft-safety, lock-safety]"), 11, "check[1]", "lock-safety is a check of service locks, which this scenario does not size (cluster.locks is 0)"},
	{"linearizable on queues", qline(11, "check: [linearizable]"), 11, "check[0]", "linearizable is a check of service locks"},
	{"queue-safety on locks", line(11, "check: [raft-safety, queue-safety]"), 11, "check[1]", "queue-safety is a check of service queues, which this scenario does not size (cluster.queues is 0)"},
	{"at-least-once on locks", line(11, "check: [liveness, at-least-once]"), 11, "check[1]", "at-least-once is a check of service queues"},
	{"at-least-once without workload", strings.Replace(qline(8, "# none"), "workload:\n", "workload: []\n", 1), 11, "check[2]", "at-least-once needs a workload"},

	// Joins and leaves: where they may be.
	{"join on locks", faults("{at: 2s, join: n2}"), 10, "faults[0].join", "join changes the ring of the queue service: only when cluster.queues > 0"},
	{"leave on locks", faults("{at: 2s, leave: n2}"), 10, "faults[0].leave", "leave changes the ring of the queue service: only when cluster.queues > 0"},
	{"join selector", qfaults("{at: 2s, join: random(queues)}"), 10, "faults[0].join", `"random(queues)": join takes a node name, not a selector (cluster has n1..n3, spare n4, clients c1..c4)`},
	{"leave selector", qfaults("{at: 2s, leave: leader(queues)}"), 10, "faults[0].leave", "leave takes a node name, not a selector"},
	{"join unknown node", qfaults("{at: 2s, join: n5}"), 10, "faults[0].join", `unknown node "n5" (cluster has n1..n3, spare n4, clients c1..c4)`},
	{"join client", qfaults("{at: 2s, join: c1}"), 10, "faults[0].join", "c1 is a client: join takes a queue node"},
	{"leave client", qfaults("{at: 2s, leave: c2}"), 10, "faults[0].leave", "c2 is a client: leave takes a queue node"},
	{"join empty", qfaults("{at: 2s, join: ''}"), 10, "faults[0]", "no action: give one of crash"},
	{"join wrong type", qfaults("{at: 2s, join: [n4]}"), 10, "faults[0].join", "want a string, got a list"},
	{"join and crash", qfaults("{at: 2s, crash: n1, join: n4}"), 10, "faults[0]", "crash and join in one fault"},
	{"join and leave", qfaults("{at: 2s, join: n4, leave: n1}"), 10, "faults[0]", "join and leave in one fault"},
	{"join from/to", qfaults("{from: 2s, to: 3s, join: n4}"), 10, "faults[0].from", "a from/to window is only for loss, duplicate, reorder, clog and disk; use at"},
	{"leave from/to", qfaults("{from: 2s, to: 3s, leave: n1}"), 10, "faults[0].from", "use at"},
	{"join for", qfaults("{at: 2s, for: 1s, join: n4}"), 10, "faults[0].for", "only with loss"},
	{"join restart_after", qfaults("{at: 2s, join: n4, restart_after: 1s}"), 10, "faults[0].restart_after", "only with crash"},
	{"leave heal_after", qfaults("{at: 2s, leave: n1, heal_after: 1s}"), 10, "faults[0].heal_after", "only with partition"},
	{"join no trigger", qfaults("{join: n4}"), 10, "faults[0]", "no trigger"},
	{"join in settle", qfaults("{at: 18s, join: n4}"), 10, "faults[0].at", "18s is in the settle phase: faults must end by 17s"},
	{"leave on after in settle", qfaults("{on: {event: leader-elected, after: 18s}, leave: n1}"), 10, "faults[0].on.after", "in the settle phase"},

	// Joins and leaves: the ring.
	{"join initial", qfaults("{at: 2s, join: n2}"), 10, "faults[0].join", "n2 is already on the ring at 2s: it is on the initial ring n1..n3; join a spare or a node that left"},
	{"join twice", qfaults("{at: 2s, join: n4}", "{at: 3s, join: n4}"), 11, "faults[1].join", "n4 is already on the ring at 3s (faults[0] joined it)"},
	{"join twice out of order", qfaults("{at: 3s, join: n4}", "{at: 2s, join: n4}"), 10, "faults[0].join", "n4 is already on the ring at 3s (faults[1] joined it)"},
	{"leave spare", qfaults("{at: 2s, leave: n4}"), 10, "faults[0].leave", "n4 is not on the ring at 2s: it is a spare, which only a join puts on the ring"},
	{"leave twice", qfaults("{at: 2s, leave: n1}", "{at: 3s, leave: n1}"), 11, "faults[1].leave", "n1 is not on the ring at 3s (faults[0] removed it)"},
	{"leave before join", qfaults("{at: 2s, leave: n4}", "{at: 3s, join: n4}"), 10, "faults[0].leave", "n4 is not on the ring at 2s"},
	{"leave last", qfaults("{at: 2s, leave: n1}", "{at: 3s, leave: n2}", "{at: 4s, leave: n3}"), 12, "faults[2].leave", "n3 is the last node on the ring at 4s: a ring cannot be empty"},
	{"leave last of one", strings.Replace(qfaults("{at: 2s, leave: n1}"), "queues: 3, spares: 1", "queues: 1", 1), 10, "faults[0].leave", "n1 is the last node on the ring at 2s"},

	// Selectors and triggers.
	{"selector locks on queues", qfaults("{at: 2s, crash: leader(locks)}"), 10, "faults[0].crash", "service locks has no servers: cluster.locks is 0"},
	{"follower of one queue server", strings.Replace(qfaults("{at: 2s, crash: follower(queues)}"), "queues: 3, spares: 1", "queues: 1", 1), 10, "faults[0].crash", `"follower(queues)": a cluster of one queues server has no followers`},
	{"on service locks on queues", qfaults("{on: {event: leader-elected, service: locks}, crash: n1}"), 10, "faults[0].on.service", "service locks has no servers: cluster.locks is 0"},
	{"on service queues on locks", faults("{on: {event: leader-elected, service: queues}, crash: n1}"), 10, "faults[0].on.service", "service queues has no servers: cluster.queues is 0"},
	{"bridge unplaced spare", qfaults("{at: 2s, bridge: {a: [n1], node: n2, b: [n3]}}"), 10, "faults[0].bridge", "server n4 is in neither a, b nor node"},
	{"crash unknown node with spares", qfaults("{at: 2s, crash: n5}"), 10, "faults[0].crash", `unknown node "n5" (cluster has n1..n3, spare n4, clients c1..c4)`},
}

func TestBadQueueInput(t *testing.T) {
	_, err := spec.Parse("t.yaml", []byte(strings.Join(qbase, "\n")))
	require.NoError(t, err, "the queue base scenario is valid")
	for _, c := range queueBadCases {
		t.Run(c.name, func(t *testing.T) { requireBad(t, c) })
	}
}

// TestValidQueueTimelines are queue scenarios' fault schedules that must
// be accepted.
func TestValidQueueTimelines(t *testing.T) {
	for _, fs := range [][]string{
		{"{at: 2s, join: n4}", "{at: 4s, leave: n1}", "{at: 6s, join: n1}", "{at: 8s, leave: n4}"},
		{"{at: 2s, leave: n3}", "{at: 2s, join: n3}"},
		{"{at: 2s, leave: n1}", "{at: 3s, leave: n2}", "{at: 4s, join: n4}", "{at: 5s, leave: n3}"},
		{"{on: {event: leader-elected, service: queues}, leave: n2}", "{at: 5s, join: n2}"},
		{"{on: {event: leader-elected, after: 2s}, join: n4}", "{at: 5s, leave: n4}"},
		{"{on: {ops: 100}, join: n4}", "{on: {ops: 200}, leave: n4}"},
		{"{on: {ops: 100}, join: n4}", "{at: 3s, leave: n1}", "{at: 4s, leave: n2}", "{at: 5s, leave: n3}"},
		{"{at: 17s, leave: n3}"},
		{"{at: 2s, crash: leader(queues), restart_after: 1s}", "{at: 3s, isolate: follower(queues), heal_after: 1s}", "{at: 4s, pause: random(queues), resume_after: 1s}"},
		{"{at: 2s, crash: n4}", "{at: 3s, restart: n4}", "{at: 4s, join: n4}"},
		{"{at: 2s, crash: random(queues)}", "{at: 5s, restart: n4}"},
		{"{at: 2s, for: 1s, clog: {from: n4, to: n1, delay: 10ms}}", "{at: 3s, partition: [[n1, n4], [n2, n3]], heal_after: 1s}"},
		{"{at: 2s, bridge: {a: [n1, n4], node: n2, b: [n3]}, heal_after: 1s}"},
		{"{at: 2s, disk: {node: leader(queues), torn_writes: 1}}"},
		{"{on: {event: leader-elected, service: queues, after: 3s}, crash: leader(queues), restart_after: 500ms}"},
	} {
		_, err := spec.Parse("t.yaml", []byte(qfaults(fs...)))
		require.NoError(t, err, "%v", fs)
	}
}
