package spec

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Roles a selector may name: leader(S) is the service's leader when the
// fault fires, follower(S) one of its followers, random(S) any of its
// servers that is up. The queue service has a Raft group per set of
// queues, not one leader: leader(queues) is the leader of the group of
// queue q0 (under the current ring), follower(queues) any other queue
// server, and random(queues) any queue server; a queue scenario's spares
// count among its servers. The cache service has no leader: only
// random(caches) selects a cache node (leader(caches) and
// follower(caches) are errors), and never a broadcast cache's memory node
// mem, which faults name instead.
var Roles = []string{"leader", "follower", "random"}

// EventLeaderElected is the event of an on: trigger that fires once a
// leader of the service exists.
const EventLeaderElected = "leader-elected"

// ParseSelector splits a role selector such as "leader(locks)" into its
// role and service; ok is false if target does not have the form
// role(service).
func ParseSelector(target string) (role, service string, ok bool) {
	role, rest, ok := strings.Cut(target, "(")
	if !ok || !strings.HasSuffix(rest, ")") {
		return "", "", false
	}
	service = strings.TrimSuffix(rest, ")")
	if role == "" || service == "" || strings.ContainsAny(service, "()") {
		return "", "", false
	}
	return role, service, true
}

// isSelector reports whether target is written as a selector (it may be
// malformed).
func isSelector(target string) bool { return strings.ContainsAny(target, "()") }

// actions names what f does, as its YAML fields say it. A window of loss,
// duplication and reordering counts as one action.
func actions(f *Fault) []string {
	var out []string
	add := func(on bool, name string) {
		if on {
			out = append(out, name)
		}
	}
	add(f.Crash != "", "crash")
	add(f.Restart != "", "restart")
	add(f.Pause != "", "pause")
	add(f.Resume != "", "resume")
	add(f.Partition != nil, "partition")
	add(f.OneWay != nil, "one_way")
	add(f.Isolate != "", "isolate")
	add(f.Bridge != nil, "bridge")
	add(f.Heal, "heal")
	add(f.Loss != nil || f.Duplicate != nil || f.Reorder != nil, "window")
	add(f.Clog != nil, "clog")
	add(f.Skew != nil, "skew")
	add(f.Drift != nil, "drift")
	add(f.DiskFault != nil, "disk")
	add(f.Join != "", "join")
	add(f.Leave != "", "leave")
	return out
}

const allActions = "crash, restart, pause, resume, partition, one_way, isolate, bridge, heal, loss, duplicate, reorder, clog, skew, drift, disk, join or leave"

func (v *validator) faults() *Error {
	for i := range v.s.Faults {
		if err := v.fault(i); err != nil {
			return err
		}
	}
	if err := v.timeline(); err != nil {
		return err
	}
	return v.ring()
}

// fault checks one fault on its own: its trigger, its action, its times
// and the nodes it names.
func (v *validator) fault(i int) *Error {
	f := &v.s.Faults[i]
	p := fmt.Sprintf("faults[%d]", i)
	acts := actions(f)
	switch len(acts) {
	case 0:
		return v.errf(p, "no action: give one of %s", allActions)
	case 1:
	default:
		return v.errf(p, "%s and %s in one fault: give each its own entry", acts[0], acts[1])
	}
	act := acts[0]
	windowed := act == "window" || act == "clog" || act == "disk"
	partition := act == "partition" || act == "one_way" || act == "isolate" || act == "bridge"
	for _, m := range []struct {
		name, with string
		set, ok    bool
	}{
		{"restart_after", "crash", f.RestartAfter != nil, act == "crash"},
		{"resume_after", "pause", f.ResumeAfter != nil, act == "pause"},
		{"heal_after", "partition, one_way, isolate and bridge", f.HealAfter != nil, partition},
		{"link", "loss, duplicate and reorder", f.Link != nil, act == "window"},
		{"for", "loss, duplicate, reorder, clog and disk", f.For != nil, windowed},
	} {
		if m.set && !m.ok {
			return v.errf(p+"."+m.name, "only with %s", m.with)
		}
	}
	if err := v.trigger(p, f, windowed); err != nil {
		return err
	}
	if err := v.times(p, f); err != nil {
		return err
	}
	return v.action(p, act, f)
}

// trigger checks that f has exactly one trigger that suits its action.
func (v *validator) trigger(p string, f *Fault, windowed bool) *Error {
	n := 0
	for _, set := range []bool{f.At != nil, f.From != nil || f.To != nil, f.On != nil} {
		if set {
			n++
		}
	}
	switch {
	case n == 0:
		return v.errf(p, "no trigger: give at, from and to, or on")
	case n > 1:
		return v.errf(p, "more than one trigger: give only one of at, from/to and on")
	case f.From != nil && f.To == nil:
		return v.errf(p+".to", "required with from: the end of the window")
	case f.To != nil && f.From == nil:
		return v.errf(p+".from", "required with to: the start of the window")
	case f.From != nil && !windowed:
		return v.errf(p+".from", "a from/to window is only for loss, duplicate, reorder, clog and disk; use at")
	case f.From != nil && f.For != nil:
		return v.errf(p+".for", "not with from/to: the window already ends at to")
	case f.From == nil && f.For == nil && (f.Clog != nil || actions(f)[0] == "window"):
		return v.errf(p, "a %s window needs from and to, or for", windowName(f))
	}
	if t := f.On; t != nil {
		switch {
		case t.Ops < 0 || t.Ops > MaxOps:
			return v.errf(p+".on.ops", "%d outside [1, %d]", t.Ops, int(MaxOps))
		case t.Event == "" && t.Ops == 0:
			return v.errf(p+".on", "give event: %s, or ops: N (after N completed operations)", EventLeaderElected)
		case t.Event != "" && t.Event != EventLeaderElected:
			return v.errf(p+".on.event", "unknown event %q (known: %s)", t.Event, EventLeaderElected)
		case t.Event != "" && t.Ops > 0:
			return v.errf(p+".on.ops", "not with event %s: a trigger waits for one thing", t.Event)
		case t.Ops > 0 && len(v.s.Workload) == 0:
			return v.errf(p+".on.ops", "the scenario has no workload, so no operation ever completes")
		}
		if t.Service != "" {
			if err := v.service(p+".on.service", t.Service); err != nil {
				return err
			}
		}
		if t.Event == EventLeaderElected {
			switch {
			case t.Service == "caches":
				return v.errf(p+".on.service", "caches have no leader, so none is elected: trigger with on: {ops: N} or at")
			case t.Service == "" && v.s.Cluster.Caches > 0:
				return v.errf(p+".on.event", "the scenario sizes caches, which have no leader, so none is elected: trigger with on: {ops: N} or at")
			}
		}
	}
	return nil
}

func windowName(f *Fault) string {
	if f.Clog != nil {
		return "clog"
	}
	var names []string
	for _, x := range []struct {
		name string
		p    *float64
	}{{"loss", f.Loss}, {"duplicate", f.Duplicate}, {"reorder", f.Reorder}} {
		if x.p != nil {
			names = append(names, x.name)
		}
	}
	return strings.Join(names, "/")
}

// times checks that f starts and ends within the fault phase, before the
// quiet settle phase.
func (v *validator) times(p string, f *Fault) *Error {
	end := v.s.faultEnd()
	phase := fmt.Sprintf("faults must end by %v (duration %v minus settle %v), before the quiet phase", end, v.s.Duration, v.s.Settle)
	late := func(t time.Duration) string {
		if t > v.s.Duration.D() {
			return fmt.Sprintf("%v is beyond the duration: %s", t, phase)
		}
		return fmt.Sprintf("%v is in the settle phase: %s", t, phase)
	}
	var start time.Duration
	startPath, earliest := p+".at", ""
	switch {
	case f.At != nil:
		start = f.At.D()
	case f.From != nil:
		start, startPath = f.From.D(), p+".from"
		if *f.To <= *f.From {
			return v.errf(p+".to", "%v is not after from %v", f.To, f.From)
		}
		if f.To.D() > end {
			return v.errf(p+".to", "%s", late(f.To.D()))
		}
	case f.On != nil:
		start, startPath, earliest = f.On.After.D(), p+".on.after", " at the earliest"
	}
	if start > end {
		return v.errf(startPath, "%s", late(start))
	}
	for _, d := range []struct {
		name string
		d    *Duration
	}{{"restart_after", f.RestartAfter}, {"resume_after", f.ResumeAfter}, {"heal_after", f.HealAfter}, {"for", f.For}} {
		switch {
		case d.d == nil:
		case *d.d <= 0:
			return v.errf(p+"."+d.name, "must be above 0")
		case d.d.D() > end-start:
			return v.errf(p+"."+d.name, "the fault ends at %v%s, after the fault phase: %s", start+min(d.d.D(), MaxDuration), earliest, phase)
		}
	}
	return nil
}

// action checks what f does and the nodes it names.
func (v *validator) action(p, act string, f *Fault) *Error {
	switch act {
	case "crash":
		return v.target(p+".crash", f.Crash, true)
	case "restart":
		return v.target(p+".restart", f.Restart, true)
	case "pause":
		return v.target(p+".pause", f.Pause, true)
	case "resume":
		if isSelector(f.Resume) {
			return v.errf(p+".resume", "%q: resume takes a node name; end a selector's pause with resume_after", f.Resume)
		}
		return v.target(p+".resume", f.Resume, false)
	case "isolate":
		return v.target(p+".isolate", f.Isolate, true)
	case "partition":
		return v.partition(p+".partition", f.Partition)
	case "one_way":
		return v.oneWay(p+".one_way", f.OneWay)
	case "bridge":
		return v.bridge(p+".bridge", f.Bridge)
	case "window":
		for _, x := range []struct {
			name string
			p    *float64
		}{{"loss", f.Loss}, {"duplicate", f.Duplicate}, {"reorder", f.Reorder}} {
			if x.p != nil {
				if err := v.probability(p+"."+x.name, *x.p); err != nil {
					return err
				}
			}
		}
		if f.Link != nil {
			return v.link(p+".link", f.Link.From, f.Link.To)
		}
	case "clog":
		if err := v.link(p+".clog", f.Clog.From, f.Clog.To); err != nil {
			return err
		}
		switch {
		case f.Clog.Delay <= 0:
			return v.errf(p+".clog.delay", "required: the extra delay of each message, above 0")
		case f.Clog.Delay.D() > MaxDuration:
			return v.errf(p+".clog.delay", "%v exceeds the limit of %v", f.Clog.Delay, MaxDuration)
		}
	case "skew":
		if err := v.target(p+".skew.node", f.Skew.Node, true); err != nil {
			return err
		}
		if off := f.Skew.Offset.D(); off == 0 || off < -MaxDuration || off > MaxDuration {
			return v.errf(p+".skew.offset", "%v: want a jump of the clock, such as 2s or -500ms, of at most %v either way", f.Skew.Offset, MaxDuration)
		}
	case "drift":
		if err := v.target(p+".drift.node", f.Drift.Node, true); err != nil {
			return err
		}
		if r := f.Drift.Rate; !(r >= -MaxDrift && r <= MaxDrift) {
			return v.errf(p+".drift.rate", "%v outside [-%v, %v]: the clock runs at (1 + rate) times real speed", r, MaxDrift, MaxDrift)
		}
	case "disk":
		return v.diskFault(p+".disk", f.DiskFault)
	case "join":
		return v.ringNode(p+".join", "join", f.Join)
	case "leave":
		return v.ringNode(p+".leave", "leave", f.Leave)
	}
	return nil
}

// ringNode checks the node of a join or leave: a queue node by name.
func (v *validator) ringNode(path, act, name string) *Error {
	switch {
	case v.s.Cluster.Queues == 0:
		return v.errf(path, "%s changes the ring of the queue service: only when cluster.queues > 0", act)
	case isSelector(name):
		return v.errf(path, "%q: %s takes a node name, not a selector (%s)", name, act, v.nodeRange())
	case v.isClient[name]:
		return v.errf(path, "%s is a client: %s takes a queue node (%s)", name, act, v.nodeRange())
	case !v.isServer[name]:
		return v.errf(path, "unknown node %q (%s)", name, v.nodeRange())
	}
	return nil
}

// nodeRange describes the scenario's nodes, for messages.
func (v *validator) nodeRange() string {
	span := func(ids []string) string {
		if len(ids) == 1 {
			return ids[0]
		}
		return ids[0] + ".." + ids[len(ids)-1]
	}
	spares := min(max(v.s.Cluster.Spares, 0), len(v.servers)-1)
	out := "cluster has " + span(v.servers[:len(v.servers)-spares])
	switch {
	case spares == 1:
		out += ", spare " + span(v.servers[len(v.servers)-spares:])
	case spares > 1:
		out += ", spares " + span(v.servers[len(v.servers)-spares:])
	}
	if v.memory != "" {
		out += ", memory " + v.memory
	}
	if len(v.clients) > 0 {
		out += ", clients " + span(v.clients)
	}
	return out
}

// isNode reports whether name is one of the scenario's nodes: a server
// (spares included), the memory node or a client.
func (v *validator) isNode(name string) bool {
	return v.isServer[name] || v.isClient[name] || (v.memory != "" && name == v.memory)
}

// target checks a node name, or a role selector where selectors are
// allowed.
func (v *validator) target(path, name string, selectorOK bool) *Error {
	if name == "" {
		return v.errf(path, "required: a node name (%s)", v.nodeRange())
	}
	if !isSelector(name) {
		if !v.isNode(name) {
			return v.errf(path, "unknown node %q (%s)", name, v.nodeRange())
		}
		return nil
	}
	role, service, ok := ParseSelector(name)
	switch {
	case !ok:
		return v.errf(path, "malformed selector %q: want role(service), such as leader(locks)", name)
	case !selectorOK:
		return v.errf(path, "%q: a role selector is not allowed here; name a node (%s)", name, v.nodeRange())
	case !slices.Contains(Roles, role):
		return v.errf(path, "unknown role %q in %q (known: %s)", role, name, strings.Join(Roles, ", "))
	}
	if err := v.service(path, service); err != nil {
		return err
	}
	if service == "caches" && role != "random" {
		return v.errf(path, "%q: caches have no leader; use random(caches) or a node name (%s)", name, v.nodeRange())
	}
	if role == "follower" && len(v.servers) == 1 {
		return v.errf(path, "%q: a cluster of one %s server has no followers", name, service)
	}
	return nil
}

// names checks a list of node names (no selectors, none twice).
func (v *validator) names(path string, ids []string) *Error {
	if len(ids) == 0 {
		return v.errf(path, "required: a list of node names (%s)", v.nodeRange())
	}
	for j, id := range ids {
		q := fmt.Sprintf("%s[%d]", path, j)
		if err := v.target(q, id, false); err != nil {
			return err
		}
		if slices.Index(ids, id) < j {
			return v.errf(q, "%s is listed twice", id)
		}
	}
	return nil
}

func (v *validator) partition(path string, groups [][]string) *Error {
	if len(groups) < 2 {
		return v.errf(path, "needs at least two groups (nodes in no group keep talking to every node)")
	}
	in := map[string]int{}
	for g, ids := range groups {
		gp := fmt.Sprintf("%s[%d]", path, g)
		if err := v.names(gp, ids); err != nil {
			return err
		}
		for j, id := range ids {
			if other, dup := in[id]; dup {
				return v.errf(fmt.Sprintf("%s[%d]", gp, j), "%s is also in group %d", id, other)
			}
			in[id] = g
		}
	}
	return nil
}

func (v *validator) oneWay(path string, o *OneWay) *Error {
	if err := v.names(path+".from", o.From); err != nil {
		return err
	}
	if err := v.names(path+".to", o.To); err != nil {
		return err
	}
	for j, id := range o.To {
		if slices.Contains(o.From, id) {
			return v.errf(fmt.Sprintf("%s.to[%d]", path, j), "%s is also in from", id)
		}
	}
	return nil
}

func (v *validator) bridge(path string, b *Bridge) *Error {
	if err := v.names(path+".a", b.A); err != nil {
		return err
	}
	if err := v.names(path+".b", b.B); err != nil {
		return err
	}
	if err := v.target(path+".node", b.Node, false); err != nil {
		return err
	}
	for j, id := range b.B {
		if slices.Contains(b.A, id) {
			return v.errf(fmt.Sprintf("%s.b[%d]", path, j), "%s is also in a", id)
		}
	}
	if slices.Contains(b.A, b.Node) || slices.Contains(b.B, b.Node) {
		return v.errf(path+".node", "%s is also in a half", b.Node)
	}
	servers := v.servers
	if v.memory != "" {
		servers = append(slices.Clip(servers), v.memory)
	}
	for _, id := range servers {
		if id != b.Node && !slices.Contains(b.A, id) && !slices.Contains(b.B, id) {
			return v.errf(path, "server %s is in neither a, b nor node: a bridge places every server (clients need not be placed: they reach every node)", id)
		}
	}
	return nil
}

// link checks a directed link between two distinct named nodes.
func (v *validator) link(path, from, to string) *Error {
	if err := v.target(path+".from", from, false); err != nil {
		return err
	}
	if err := v.target(path+".to", to, false); err != nil {
		return err
	}
	if from == to {
		return v.errf(path+".to", "%s is also from: a link joins two nodes", to)
	}
	return nil
}

func (v *validator) diskFault(path string, d *DiskFault) *Error {
	if err := v.target(path+".node", d.Node, true); err != nil {
		return err
	}
	if err := v.probability(path+".torn_writes", d.TornWrites); err != nil {
		return err
	}
	if err := v.probability(path+".corrupt_read", d.CorruptRead); err != nil {
		return err
	}
	if s := d.SlowSync; !(s == 0 || (s >= 1 && s <= MaxSlowSync)) {
		return v.errf(path+".slow_sync", "factor %v: want 1 to %v times slower (0 leaves syncs alone)", s, MaxSlowSync)
	}
	if d.TornWrites == 0 && d.CorruptRead == 0 && d.SlowSync == 0 {
		return v.errf(path, "no disk fault: give torn_writes, corrupt_read or slow_sync")
	}
	return nil
}
