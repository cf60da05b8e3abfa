package spec_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/scenarios/spec"
)

// base is a valid scenario; the cases below change one line of it, or
// its faults (line 10 on), or add lines in place of its disk (line 6).
var base = []string{
	"name: t",
	"description: A test scenario.",
	"duration: 20s",
	"cluster: {locks: 5}",
	"network: {latency: {dist: uniform, min: 1ms, max: 5ms}}",
	"disk: {torn_writes: 0.5}",
	"workload:",
	"  - {service: locks, clients: 4, rate: 100/s, resources: 8}",
	"faults:",
	"  - {at: 2s, crash: n1, restart_after: 1s}",
	"check: [raft-safety, lock-safety, linearizable, liveness]",
}

// line returns base with line n (1-based) replaced by text.
func line(n int, text string) string {
	l := append([]string(nil), base...)
	l[n-1] = text
	return strings.Join(l, "\n") + "\n"
}

// faults returns base with the faults replaced: fault i is on line 10+i.
func faults(fs ...string) string {
	l := append([]string(nil), base[:9]...)
	for _, f := range fs {
		l = append(l, "  - "+f)
	}
	l = append(l, base[10])
	return strings.Join(l, "\n") + "\n"
}

type badCase struct {
	name  string
	input string
	line  int
	field string
	msg   string
}

var badCases = []badCase{
	// Decoding.
	{"unknown field", line(6, "colour: red"), 6, "colour", "unknown field (known: name, description"},
	{"unknown fault field", faults("{at: 2s, crash: n1, restart_afer: 1s}"), 10, "faults[0].restart_afer", `unknown field (did you mean "restart_after"?)`},
	{"unknown nested field", line(4, "cluster: {locks: 5, lcoks: 3}"), 4, "cluster.lcoks", `did you mean "locks"?`},
	{"wrong type int", line(8, "  - {service: locks, clients: many, resources: 8}"), 8, "workload[0].clients", `want a whole number, got the string "many"`},
	{"float for int", line(8, "  - {service: locks, clients: 1.5, resources: 8}"), 8, "workload[0].clients", `want a whole number, got "1.5"`},
	{"wrong type float", line(6, "disk: {torn_writes: high}"), 6, "disk.torn_writes", "want a number"},
	{"wrong type bool", faults("{at: 2s, heal: yes}"), 10, "faults[0].heal", "want true or false"},
	{"wrong type list", line(11, "check: raft-safety"), 11, "check", "want a list"},
	{"wrong type mapping", line(4, "cluster: 5"), 4, "cluster", "want a mapping of locks, queues, caches"},
	{"wrong type string", faults("{at: 2s, crash: [n1]}"), 10, "faults[0].crash", "want a string, got a list"},
	{"duration without unit", line(3, "duration: 20"), 3, "duration", `"20" is not a duration`},
	{"duration garbage", faults("{at: soon, crash: n1}"), 10, "faults[0].at", `"soon" is not a duration`},
	{"duration mapping", line(3, "duration: {s: 1}"), 3, "duration", "want a duration such as 1.5s"},
	{"duplicate key", line(6, "name: again"), 6, "name", "repeated key (first at line 1)"},
	{"duplicate key in flow", faults("{at: 2s, at: 3s, crash: n1}"), 10, "faults[0].at", "repeated key (first at line 10)"},
	{"alias", line(6, "disk: *net"), 6, "", "unknown anchor"},
	{"defined alias", strings.Replace(line(6, "disk: *net"), "network: {", "network: &net {", 1), 6, "disk", "aliases (*net) are not supported"},
	{"control character", line(6, "disk: {torn_writes: 0.5}\x01"), 6, "", "control characters are not allowed"},
	{"invalid utf-8", line(4, "cluster: {locks: 5} # \xff"), 4, "", "invalid"},
	{"syntax error", line(6, "disk: {torn_writes: ["), 7, "", "did not find expected node content"},
	{"top-level list", "- a\n- b\n", 1, "", "want a mapping of scenario fields"},
	{"second document", strings.Join(base, "\n") + "\n---\nname: u\n", 12, "", "a second YAML document"},
	{"empty", "", 1, "", "empty file"},
	{"comments only", "# nothing\n\n", 1, "", "empty file"},
	{"null document", "---\n~\n", 2, "", "empty document"},

	// Header.
	{"name missing", line(1, "name: ''"), 1, "name", "required"},
	{"name characters", line(1, "name: Leader Crash"), 1, "name", `"Leader Crash": use only lowercase letters`},
	{"name too long", line(1, "name: "+strings.Repeat("a", 65)), 1, "name", "65 characters, over the limit of 64"},
	{"description missing", line(2, "description: ' '"), 2, "description", "required: one line"},
	{"description two lines", line(2, `description: "one\ntwo"`), 2, "description", "must be one line"},
	{"description control", line(2, `description: "bell\a"`), 2, "description", "control"},
	{"duration zero", line(3, "duration: 0s"), 3, "duration", "required"},
	{"duration too long", line(3, "duration: 2h"), 3, "duration", "2h0m0s exceeds the limit of 1h0m0s"},
	{"duration negative", line(3, "duration: -5s"), 3, "duration", "negative duration -5s"},
	{"negative hold", line(8, "  - {service: locks, clients: 4, resources: 8, hold: -1ms}"), 8, "workload[0].hold", "negative duration"},
	{"settle too long", line(6, "settle: 20s"), 6, "settle", "leaves no time for faults"},

	// Cluster.
	{"locks too many", line(4, "cluster: {locks: 12}"), 4, "cluster.locks", "12 servers, outside [0, 9]"},
	{"locks negative", line(4, "cluster: {locks: -1}"), 4, "cluster.locks", "outside [0, 9]"},
	{"two services", line(4, "cluster: {locks: 3, queues: 3}"), 4, "cluster", "one service per scenario is supported for now"},
	{"locks and caches", line(4, "cluster: {locks: 3, caches: 3}"), 4, "cluster", "locks and caches both sized: one service per scenario is supported for now"},
	{"three services", line(4, "cluster: {locks: 3, queues: 3, caches: 3}"), 4, "cluster", "locks, queues and caches all sized: one service per scenario"},
	{"no servers", line(4, "cluster: {locks: 0}"), 4, "cluster", "no servers"},

	// Network and disk.
	{"latency unknown dist", line(5, "network: {latency: {dist: gauss}}"), 5, "network.latency.dist", `unknown distribution "gauss"`},
	{"latency no dist", line(5, "network: {latency: {min: 1ms}}"), 5, "network.latency.dist", "required"},
	{"latency max below min", line(5, "network: {latency: {dist: uniform, min: 5ms, max: 1ms}}"), 5, "network.latency.max", "uniform max 1ms below min 5ms"},
	{"latency stray param", line(5, "network: {latency: {dist: constant, value: 1ms, min: 1ms}}"), 5, "network.latency.min", "not a parameter of constant (it takes value)"},
	{"loss above 1", line(5, "network: {loss: 1.5}"), 5, "network.loss", "probability 1.5 outside [0, 1]"},
	{"duplicate negative", line(5, "network: {duplicate: -0.1}"), 5, "network.duplicate", "outside [0, 1]"},
	{"reorder nan", line(5, "network: {reorder: .nan}"), 5, "network.reorder", "outside [0, 1]"},
	{"torn writes above 1", line(6, "disk: {torn_writes: 2}"), 6, "disk.torn_writes", "outside [0, 1]"},
	{"sector bytes", line(6, "disk: {sector_bytes: -1}"), 6, "disk.sector_bytes", "outside [0, 1048576]"},
	{"sync latency stray", line(6, "disk: {sync_latency: {dist: exponential, min: 1ms, stddev: 1ms}}"), 6, "disk.sync_latency.stddev", "it takes min and mean"},

	// Workloads.
	{"service unknown", line(8, "  - {service: foo, clients: 4, resources: 8}"), 8, "workload[0].service", `unknown service "foo" (known: locks, queues, caches)`},
	{"caches workload without caches", line(8, "  - {service: caches, clients: 4, resources: 8}"), 8, "workload[0].service", "service caches has no servers: cluster.caches is 0"},
	{"service missing", line(8, "  - {clients: 4, resources: 8}"), 8, "workload[0].service", "required"},
	{"clients zero", line(8, "  - {service: locks, clients: 0, resources: 8}"), 8, "workload[0].clients", "0 clients, outside [1, 64]"},
	{"clients too many", line(8, "  - {service: locks, clients: 65, resources: 8}"), 8, "workload[0].clients", "outside [1, 64]"},
	{"clients in all", line(8, "  - {service: locks, clients: 40, resources: 8}\n  - {service: locks, clients: 30, resources: 8}"), 9, "workload[1].clients", "70 clients over all workloads"},
	{"rate no unit", line(8, "  - {service: locks, clients: 4, rate: 200, resources: 8}"), 8, "workload[0].rate", `"200": want operations per second as N/s`},
	{"rate zero", line(8, "  - {service: locks, clients: 4, rate: 0/s, resources: 8}"), 8, "workload[0].rate", "N/s"},
	{"rate too high", line(8, "  - {service: locks, clients: 4, rate: 200000/s, resources: 8}"), 8, "workload[0].rate", "N <= 100000"},
	{"resources zero", line(8, "  - {service: locks, clients: 4}"), 8, "workload[0].resources", "outside [1, 1000000]"},
	{"distribution unknown", line(8, "  - {service: locks, clients: 4, resources: 8, distribution: pareto}"), 8, "workload[0].distribution", `unknown distribution "pareto": want uniform or zipf`},
	{"zipf exponent", line(8, "  - {service: locks, clients: 4, resources: 8, distribution: zipf, zipf_s: 0.9}"), 8, "workload[0].zipf_s", "must be above 1"},
	{"zipf exponent uniform", line(8, "  - {service: locks, clients: 4, resources: 8, zipf_s: 1.5}"), 8, "workload[0].zipf_s", "only with distribution: zipf"},
	{"shared above 1", line(8, "  - {service: locks, clients: 4, resources: 8, shared: 1.5}"), 8, "workload[0].shared", "outside [0, 1]"},
	{"wait unknown", line(8, "  - {service: locks, clients: 4, resources: 8, wait: sometimes}"), 8, "workload[0].wait", `"sometimes": want none, forever, or a duration`},
	{"wait too long", line(8, "  - {service: locks, clients: 4, resources: 8, wait: 11m}"), 8, "workload[0].wait", "up to 10m0s"},
	{"wait zero", line(8, "  - {service: locks, clients: 4, resources: 8, wait: 0s}"), 8, "workload[0].wait", "above 0"},
	{"ttl too long", line(8, "  - {service: locks, clients: 4, resources: 8, ttl: 2m}"), 8, "workload[0].ttl", "2m0s exceeds the limit of 1m0s"},
	{"hold too long", line(8, "  - {service: locks, clients: 4, resources: 8, hold: 30s}"), 8, "workload[0].hold", "exceeds the scenario's duration"},

	// Checks.
	{"check unknown", line(11, "check: [raft-safety, safety]"), 11, "check[1]", `unknown check "safety" (known: raft-safety, lock-safety, linearizable, liveness, queue-safety, at-least-once, coherence)`},
	{"check twice", line(11, "check: [liveness, liveness]"), 11, "check[1]", "liveness is listed twice"},
	{"check empty", line(11, "check: []"), 11, "check", "required"},
	{"check missing", line(11, "# no checks"), 1, "check", "required"},
	{"linearizable without workload", strings.Replace(line(8, "# none"), "workload:\n", "workload: []\n", 1), 11, "check[2]", "linearizable needs a workload"},

	// Fault triggers.
	{"no trigger", faults("{crash: n1}"), 10, "faults[0]", "no trigger"},
	{"two triggers", faults("{at: 1s, on: {ops: 5}, crash: n1}"), 10, "faults[0]", "more than one trigger"},
	{"from without to", faults("{from: 1s, loss: 0.1}"), 10, "faults[0].to", "required with from"},
	{"to without from", faults("{to: 1s, loss: 0.1}"), 10, "faults[0].from", "required with to"},
	{"to before from", faults("{from: 5s, to: 4s, loss: 0.1}"), 10, "faults[0].to", "4s is not after from 5s"},
	{"from with crash", faults("{from: 1s, to: 2s, crash: n1}"), 10, "faults[0].from", "only for loss, duplicate, reorder, clog and disk; use at"},
	{"for with from", faults("{from: 1s, to: 2s, for: 1s, loss: 0.1}"), 10, "faults[0].for", "not with from/to"},
	{"window without end", faults("{at: 1s, loss: 0.5}"), 10, "faults[0]", "a loss window needs from and to, or for"},
	{"clog without end", faults("{at: 1s, clog: {from: n1, to: n2, delay: 100ms}}"), 10, "faults[0]", "a clog window needs from and to, or for"},
	{"on nothing", faults("{on: {}, crash: n1}"), 10, "faults[0].on", "give event: leader-elected, or ops: N"},
	{"on unknown event", faults("{on: {event: sunrise}, crash: n1}"), 10, "faults[0].on.event", `unknown event "sunrise" (known: leader-elected)`},
	{"on event and ops", faults("{on: {event: leader-elected, ops: 5}, crash: n1}"), 10, "faults[0].on.ops", "not with event leader-elected"},
	{"on negative ops", faults("{on: {ops: -5}, crash: n1}"), 10, "faults[0].on.ops", "outside [1, 1000000000]"},
	{"on unknown service", faults("{on: {event: leader-elected, service: dns}, crash: n1}"), 10, "faults[0].on.service", `unknown service "dns"`},

	// Fault actions and their modifiers.
	{"no action", faults("{at: 1s}"), 10, "faults[0]", "no action: give one of crash"},
	{"two actions", faults("{at: 1s, crash: n1, pause: n2}"), 10, "faults[0]", "crash and pause in one fault"},
	{"restart_after with pause", faults("{at: 1s, pause: n1, restart_after: 1s}"), 10, "faults[0].restart_after", "only with crash"},
	{"resume_after with crash", faults("{at: 1s, crash: n1, resume_after: 1s}"), 10, "faults[0].resume_after", "only with pause"},
	{"heal_after with crash", faults("{at: 1s, crash: n1, heal_after: 1s}"), 10, "faults[0].heal_after", "only with partition"},
	{"link with clog", faults("{at: 1s, for: 1s, clog: {from: n1, to: n2, delay: 1s}, link: {from: n1, to: n2}}"), 10, "faults[0].link", "only with loss"},
	{"for with crash", faults("{at: 1s, crash: n1, for: 1s}"), 10, "faults[0].for", "only with loss"},
	{"heal_after zero", faults("{at: 1s, isolate: n1, heal_after: 0s}"), 10, "faults[0].heal_after", "must be above 0"},

	// Times.
	{"at in settle", faults("{at: 18s, crash: n1}"), 10, "faults[0].at", "18s is in the settle phase: faults must end by 17s (duration 20s minus settle 3s), before the quiet phase"},
	{"at beyond duration", faults("{at: 1h, crash: n1}"), 10, "faults[0].at", "1h0m0s is beyond the duration: faults must end by 17s"},
	{"restart_after in settle", faults("{at: 15s, crash: n1, restart_after: 5s}"), 10, "faults[0].restart_after", "the fault ends at 20s, after the fault phase: faults must end by 17s"},
	{"for in settle", faults("{at: 15s, for: 1h, loss: 0.5}"), 10, "faults[0].for", "after the fault phase"},
	{"to in settle", faults("{from: 10s, to: 19s, loss: 0.1}"), 10, "faults[0].to", "19s is in the settle phase"},
	{"on after in settle", faults("{on: {event: leader-elected, after: 18s}, crash: n1}"), 10, "faults[0].on.after", "in the settle phase"},
	{"on heal in settle", faults("{on: {event: leader-elected, after: 16s}, isolate: n1, heal_after: 2s}"), 10, "faults[0].heal_after", "ends at 18s at the earliest"},

	// Nodes.
	{"unknown node", faults("{at: 2s, crash: n9}"), 10, "faults[0].crash", `unknown node "n9" (cluster has n1..n5, clients c1..c4)`},
	{"unknown client", faults("{at: 2s, pause: c9}"), 10, "faults[0].pause", `unknown node "c9"`},
	{"malformed selector", faults("{at: 2s, crash: leader(locks}"), 10, "faults[0].crash", `malformed selector "leader(locks"`},
	{"unknown role", faults("{at: 2s, crash: boss(locks)}"), 10, "faults[0].crash", `unknown role "boss" in "boss(locks)" (known: leader, follower, random)`},
	{"selector absent service", faults("{at: 2s, crash: leader(queues)}"), 10, "faults[0].crash", "service queues has no servers: cluster.queues is 0"},
	{"selector caches on locks", faults("{at: 2s, crash: random(caches)}"), 10, "faults[0].crash", "service caches has no servers: cluster.caches is 0"},
	{"selector unknown service", faults("{at: 2s, isolate: leader(dns)}"), 10, "faults[0].isolate", `unknown service "dns"`},
	{"selector in partition", faults("{at: 2s, partition: [[leader(locks)], [n2]]}"), 10, "faults[0].partition[0][0]", "a role selector is not allowed here"},
	{"selector in clog", faults("{at: 2s, for: 1s, clog: {from: leader(locks), to: n2, delay: 1s}}"), 10, "faults[0].clog.from", "not allowed here"},
	{"resume selector", faults("{at: 2s, resume: leader(locks)}"), 10, "faults[0].resume", "resume takes a node name"},
	{"skew unknown node", faults("{at: 2s, skew: {node: n6, offset: 1s}}"), 10, "faults[0].skew.node", `unknown node "n6"`},
	{"disk no node", faults("{at: 2s, disk: {torn_writes: 1}}"), 10, "faults[0].disk.node", "required: a node name"},
	{"follower of one", line(4, "cluster: {locks: 1}") + "", 0, "", ""}, // replaced below

	// Partitions.
	{"partition one group", faults("{at: 2s, partition: [[n1, n2]]}"), 10, "faults[0].partition", "needs at least two groups"},
	{"partition empty group", faults("{at: 2s, partition: [[n1], []]}"), 10, "faults[0].partition[1]", "required: a list of node names"},
	{"partition overlap", faults("{at: 2s, partition: [[n1, n2], [n2, n3]]}"), 10, "faults[0].partition[1][0]", "n2 is also in group 0"},
	{"partition twice in group", faults("{at: 2s, partition: [[n1, n1], [n3]]}"), 10, "faults[0].partition[0][1]", "n1 is listed twice"},
	{"one way overlap", faults("{at: 2s, one_way: {from: [n1, n2], to: [n2]}}"), 10, "faults[0].one_way.to[0]", "n2 is also in from"},
	{"one way empty", faults("{at: 2s, one_way: {from: [], to: [n2]}}"), 10, "faults[0].one_way.from", "required"},
	{"bridge unplaced server", faults("{at: 2s, bridge: {a: [n1], node: n3, b: [n4, n5]}}"), 10, "faults[0].bridge", "server n2 is in neither a, b nor node"},
	{"bridge node in half", faults("{at: 2s, bridge: {a: [n1, n2, n3], node: n3, b: [n4, n5]}}"), 10, "faults[0].bridge.node", "n3 is also in a half"},
	{"bridge halves overlap", faults("{at: 2s, bridge: {a: [n1, n2], node: n3, b: [n2, n4, n5]}}"), 10, "faults[0].bridge.b[0]", "n2 is also in a"},
	{"bridge selector", faults("{at: 2s, bridge: {a: [n1, n2], node: leader(locks), b: [n4, n5]}}"), 10, "faults[0].bridge.node", "not allowed here"},

	// Windows, clogs, clocks and disks.
	{"window loss above 1", faults("{at: 2s, for: 1s, loss: 1.5}"), 10, "faults[0].loss", "outside [0, 1]"},
	{"window duplicate negative", faults("{at: 2s, for: 1s, duplicate: -1}"), 10, "faults[0].duplicate", "outside [0, 1]"},
	{"window link to itself", faults("{at: 2s, for: 1s, reorder: 0.5, link: {from: n1, to: n1}}"), 10, "faults[0].link.to", "n1 is also from"},
	{"window link unknown", faults("{at: 2s, for: 1s, loss: 0.5, link: {from: n1, to: x}}"), 10, "faults[0].link.to", `unknown node "x"`},
	{"clog no delay", faults("{at: 2s, for: 1s, clog: {from: n1, to: n2}}"), 10, "faults[0].clog.delay", "required"},
	{"clog negative delay", faults("{at: 2s, for: 1s, clog: {from: n1, to: n2, delay: -1s}}"), 10, "faults[0].clog.delay", "negative duration"},
	{"clog to itself", faults("{at: 2s, for: 1s, clog: {from: n2, to: n2, delay: 1s}}"), 10, "faults[0].clog.to", "n2 is also from"},
	{"skew zero", faults("{at: 2s, skew: {node: n1, offset: 0s}}"), 10, "faults[0].skew.offset", "want a jump of the clock"},
	{"skew huge", faults("{at: 2s, skew: {node: n1, offset: -2h}}"), 10, "faults[0].skew.offset", "at most 1h0m0s either way"},
	{"drift too fast", faults("{at: 2s, drift: {node: n1, rate: 0.6}}"), 10, "faults[0].drift.rate", "0.6 outside [-0.5, 0.5]"},
	{"drift nan", faults("{at: 2s, drift: {node: n1, rate: .nan}}"), 10, "faults[0].drift.rate", "outside [-0.5, 0.5]"},
	{"disk nothing", faults("{at: 2s, disk: {node: n1}}"), 10, "faults[0].disk", "no disk fault"},
	{"disk torn above 1", faults("{at: 2s, disk: {node: n1, torn_writes: 1.5}}"), 10, "faults[0].disk.torn_writes", "outside [0, 1]"},
	{"disk corrupt negative", faults("{at: 2s, disk: {node: n1, corrupt_read: -0.5}}"), 10, "faults[0].disk.corrupt_read", "outside [0, 1]"},
	{"disk slow sync faster", faults("{at: 2s, disk: {node: n1, slow_sync: 0.5}}"), 10, "faults[0].disk.slow_sync", "want 1 to 1e+06 times slower"},

	// The timeline.
	{"restart never crashed", faults("{at: 5s, restart: n2}"), 10, "faults[0].restart", "n2 is not down at 5s: a restart needs an earlier crash of n2"},
	{"restart before crash", faults("{at: 5s, restart: n2}", "{at: 6s, crash: n2}"), 10, "faults[0].restart", "n2 is not down at 5s"},
	{"restart restarted", faults("{at: 2s, crash: n2, restart_after: 1s}", "{at: 4s, restart: n2}"), 11, "faults[1].restart", "n2 is not down at 4s"},
	{"restart restarts itself", faults("{at: 2s, crash: n2, restart_after: 5s}", "{at: 4s, restart: n2}"), 11, "faults[1].restart", "n2 restarts by itself: faults[0] has restart_after"},
	{"crash twice", faults("{at: 2s, crash: n2}", "{at: 3s, crash: n2}"), 11, "faults[1].crash", "n2 is already down at 3s (faults[0] crashed it)"},
	{"restart selector never crashed", faults("{at: 5s, restart: leader(locks)}"), 10, "faults[0].restart", "no earlier crash: leader(locks)"},
	{"restart selector other selector", faults("{at: 2s, crash: follower(locks)}", "{at: 5s, restart: leader(locks)}"), 11, "faults[1].restart", "no earlier crash: leader(locks)"},
	{"triggered restart never crashed", faults("{on: {ops: 10}, restart: n3}"), 10, "faults[0].restart", "no earlier crash of n3 in this file"},
	{"triggered resume never paused", faults("{on: {ops: 10}, resume: n3}"), 10, "faults[0].resume", "no earlier pause of n3 in this file"},
	{"resume never paused", faults("{at: 5s, resume: n2}"), 10, "faults[0].resume", "n2 is not paused at 5s: a resume needs an earlier pause of n2"},
	{"resume resumes itself", faults("{at: 2s, pause: n2, resume_after: 5s}", "{at: 4s, resume: n2}"), 11, "faults[1].resume", "n2 resumes by itself"},
	{"pause twice", faults("{at: 2s, pause: n2}", "{at: 3s, pause: n2}"), 11, "faults[1].pause", "n2 is already paused at 3s (by faults[0])"},
	{"pause down", faults("{at: 2s, crash: n2}", "{at: 3s, pause: n2}"), 11, "faults[1].pause", "n2 is down at 3s"},

	// Swarm.
	{"swarm unknown kind", line(6, "swarm: {faults: [crash, meteor], every: {min: 1s, max: 2s}}"), 6, "swarm.faults[1]", `unknown fault kind "meteor" (known: crash, partition`},
	{"swarm kind twice", line(6, "swarm: {faults: [crash, crash], every: {min: 1s, max: 2s}}"), 6, "swarm.faults[1]", "crash is listed twice"},
	{"swarm no kinds", line(6, "swarm: {faults: [], every: {min: 1s, max: 2s}}"), 6, "swarm.faults", "required"},
	{"swarm every zero", line(6, "swarm: {faults: [crash], every: {min: 0s, max: 2s}}"), 6, "swarm.every.min", "above 0"},
	{"swarm every inverted", line(6, "swarm: {faults: [crash], every: {min: 3s, max: 2s}}"), 6, "swarm.every.max", "2s below min 3s"},
	{"swarm every long", line(6, "swarm: {faults: [crash], every: {min: 1s, max: 30s}}"), 6, "swarm.every.max", "exceeds the scenario's duration"},
	{"swarm range without kind", line(6, "swarm: {faults: [crash], every: {min: 1s, max: 2s}, loss: {min: 0, max: 0.1}}"), 6, "swarm.loss", "not among swarm.faults"},
	{"swarm range above 1", line(6, "swarm: {faults: [loss], every: {min: 1s, max: 2s}, loss: {min: 0, max: 1.1}}"), 6, "swarm.loss.max", "outside [0, 1]"},
	{"swarm range inverted", line(6, "swarm: {faults: [reorder], every: {min: 1s, max: 2s}, reorder: {min: 0.5, max: 0.1}}"), 6, "swarm.reorder.max", "0.1 below min 0.5"},
	{"swarm wrong type", line(6, "swarm: [crash]"), 6, "swarm", "want a mapping of faults, every"},
}

func init() {
	for i, c := range badCases {
		if c.name == "follower of one" {
			in := strings.Replace(faults("{at: 2s, crash: follower(locks)}"), "locks: 5", "locks: 1", 1)
			badCases[i] = badCase{c.name, in, 10, "faults[0].crash", `"follower(locks)": a cluster of one locks server has no followers`}
		}
	}
}

func TestBadInput(t *testing.T) {
	_, err := spec.Parse("t.yaml", []byte(strings.Join(base, "\n")))
	require.NoError(t, err, "the base scenario is valid")
	for _, c := range badCases {
		t.Run(c.name, func(t *testing.T) { requireBad(t, c) })
	}
}

// requireBad checks that c's input fails to parse with c's error.
func requireBad(t *testing.T, c badCase) {
	t.Helper()
	s, err := spec.Parse("t.yaml", []byte(c.input))
	require.Error(t, err, "input:\n%s", c.input)
	require.Nil(t, s)
	require.ErrorIs(t, err, spec.ErrInvalid)
	var e *spec.Error
	require.True(t, errors.As(err, &e), "%T", err)
	require.Equal(t, "t.yaml", e.File)
	require.Equal(t, c.line, e.Line, "%v\ninput:\n%s", err, c.input)
	require.Equal(t, c.field, e.Field, "%v", err)
	require.Contains(t, e.Msg, c.msg)
	want := fmt.Sprintf("t.yaml:%d: ", c.line)
	if c.field != "" {
		want += c.field + ": "
	}
	require.True(t, strings.HasPrefix(err.Error(), want), "%q does not start with %q", err, want)
	require.NotContains(t, err.Error(), "\n")
}

func TestTooLarge(t *testing.T) {
	_, err := spec.Parse("big.yaml", make([]byte, spec.MaxFileSize+1))
	require.ErrorIs(t, err, spec.ErrInvalid)
	require.Equal(t, "big.yaml: file is over the size limit of 1048576 bytes (1 MiB)", err.Error())
}

// TestValidTimelines are fault schedules that must be accepted.
func TestValidTimelines(t *testing.T) {
	for _, fs := range [][]string{
		{"{at: 2s, crash: n2, restart_after: 1s}", "{at: 4s, crash: n2}", "{at: 5s, restart: n2}"},
		{"{at: 2s, crash: leader(locks)}", "{at: 5s, restart: leader(locks)}"},
		{"{at: 2s, crash: random(locks)}", "{at: 5s, restart: n3}"},
		{"{on: {event: leader-elected}, crash: n4}", "{at: 5s, restart: n4}"},
		{"{on: {ops: 100}, crash: leader(locks)}", "{on: {ops: 200}, restart: leader(locks)}"},
		{"{at: 2s, pause: random(locks)}", "{at: 3s, resume: n1}"},
		{"{at: 2s, pause: n1}", "{at: 3s, crash: n1}", "{at: 4s, restart: n1}"},
		{"{at: 2s, crash: c1, restart_after: 1s}", "{at: 3s, pause: c1, resume_after: 1s}"},
		{"{at: 17s, heal: true}"},
		{"{from: 0s, to: 17s, loss: 0}"},
		{"{on: {event: leader-elected, after: 2s}, for: 1s, clog: {from: n1, to: c2, delay: 1ms}}"},
	} {
		_, err := spec.Parse("t.yaml", []byte(faults(fs...)))
		require.NoError(t, err, "%v", fs)
	}
}
