package spec

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits and defaults of a scenario.
const (
	MaxNameLen    = 64
	MaxDuration   = time.Hour
	DefaultSettle = 3 * time.Second
	MaxServers    = 9     // per service
	MaxQueueNodes = 16    // queue servers and spares together
	MaxClients    = 64    // over all workloads
	MaxRate       = 1e5   // operations per second of one workload
	MaxResources  = 1e6   // size of a workload's key or resource space
	DefaultZipfS  = 1.1   // zipf exponent when a zipf workload gives none
	MaxZipfS      = 100.0 // larger exponents all mean "always the first key"
	MaxWait       = 10 * time.Minute
	MaxTTL        = 60 * time.Second
	MaxDrift      = 0.5 // as sim.MaxDrift
	MaxSlowSync   = 1e6 // as sim.DiskConfig.Validate
	MaxSectorSize = 1 << 20
	MaxOps        = 1e9 // of an on: {ops: N} trigger

	DefaultProduce = 0.5            // a queues workload's produce when it gives none
	MaxVisibility  = 12 * time.Hour // of a queues workload's visibility timeout
	MaxPayload     = 1 << 20        // bytes of a queues workload's payload or a caches workload's values

	DefaultWrites        = 0.2       // a caches workload's writes when it gives none
	DefaultCacheCapacity = 64        // lines per cache node when cache.capacity is 0
	MaxCacheCapacity     = 1_000_000 // of cache.capacity
	// MemoryNode is the name of the memory node of a broadcast cache
	// scenario, beside the cache nodes n1..nN.
	MemoryNode = "mem"
)

// Cache protocols and write policies (cache.protocol, cache.write_policy);
// the first of each is the default.
const (
	CacheProtocolDirectory  = "directory"
	CacheProtocolBroadcast  = "broadcast"
	WritePolicyWriteBack    = "write-back"
	WritePolicyWriteThrough = "write-through"
)

var (
	CacheProtocols = []string{CacheProtocolDirectory, CacheProtocolBroadcast}
	WritePolicies  = []string{WritePolicyWriteBack, WritePolicyWriteThrough}
)

// Services are the services a cluster may size; Built are the ones that
// exist so far.
var (
	Services = []string{"locks", "queues", "caches"}
	Built    = []string{"locks", "queues", "caches"}
)

// Checks are the checks a scenario may ask for.
var Checks = []string{CheckRaftSafety, CheckLockSafety, CheckLinearizable, CheckLiveness, CheckQueueSafety, CheckAtLeastOnce, CheckCoherence}

// checkServices names the services a check is only for; the others suit
// every service.
var checkServices = map[string][]string{
	CheckRaftSafety:   {"locks", "queues"},
	CheckLockSafety:   {"locks"},
	CheckLinearizable: {"locks", "caches"},
	CheckQueueSafety:  {"queues"},
	CheckAtLeastOnce:  {"queues"},
	CheckCoherence:    {"caches"},
}

// SwarmFaults are the fault kinds a swarm may switch on.
var SwarmFaults = []string{"crash", "partition", "pause", "clog", "loss", "duplicate", "reorder", "clock", "disk"}

// Latency distributions and the parameters each takes.
var latencyParams = map[string][]string{
	"constant":    {"value"},
	"uniform":     {"min", "max"},
	"normal":      {"mean", "stddev"},
	"exponential": {"min", "mean"},
}

// Validate checks that s can run, and fills in defaults: settle 3s, a
// workload's distribution uniform, a zipf exponent of 1.1, a queues
// workload's produce 0.5, a caches workload's writes 0.2, and a cache
// section's protocol (directory), write policy (write-back) and capacity
// (64). Parse calls it; call it again after changing a
// scenario in Go. The error is an *Error naming the field (and its line,
// for a parsed scenario's faults).
func (s *Scenario) Validate() error { return s.validate(nil) }

// validator checks one scenario; pos holds the lines of a parsed one.
type validator struct {
	s   *Scenario
	pos positions
	// servers and clients are the node names, in order (servers hold a
	// queue scenario's spares too); isServer and isClient index them.
	// servers are what selectors pick from: a broadcast cache's memory
	// node is not among them, but is memory.
	servers, clients   []string
	isServer, isClient map[string]bool
	memory             string // MemoryNode in a broadcast cache scenario, else ""
}

func (s *Scenario) validate(pos positions) error {
	v := &validator{s: s, pos: pos}
	s.normalize()
	for _, step := range []func() *Error{v.header, v.durations, v.cluster, v.cache, v.network, v.workloads, v.checks, v.faults, v.swarm} {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

func (v *validator) errf(path, format string, args ...any) *Error {
	return &Error{File: v.s.File, Line: v.line(path), Field: path, Msg: fmt.Sprintf(format, args...)}
}

// line is the line of path, or of its nearest ancestor that has one.
func (v *validator) line(path string) int {
	for p := path; ; p = parentPath(p) {
		if l, ok := v.pos[p]; ok && l > 0 {
			return l
		}
		if i, ok := faultIndex(p); ok && i < len(v.s.Faults) && v.s.Faults[i].Line > 0 {
			return v.s.Faults[i].Line
		}
		if p == "" {
			return 0
		}
	}
}

// parentPath strips the last ".field" or "[i]" of path.
func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

// faultIndex returns i if p is "faults[i]" or below it.
func faultIndex(p string) (int, bool) {
	rest, ok := strings.CutPrefix(p, "faults[")
	if !ok {
		return 0, false
	}
	num, _, ok := strings.Cut(rest, "]")
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(num)
	return i, err == nil
}

var nameRE = regexp.MustCompile(`^[a-z0-9-]+$`)

func (v *validator) header() *Error {
	s := v.s
	switch {
	case s.Name == "":
		return v.errf("name", "required: a short name of lowercase letters, digits and dashes")
	case len(s.Name) > MaxNameLen:
		return v.errf("name", "%d characters, over the limit of %d", len(s.Name), MaxNameLen)
	case !nameRE.MatchString(s.Name):
		return v.errf("name", "%q: use only lowercase letters, digits and dashes [a-z0-9-]", s.Name)
	case strings.TrimSpace(s.Description) == "":
		return v.errf("description", "required: one line saying what the scenario does")
	case !utf8.ValidString(s.Description):
		return v.errf("description", "not valid UTF-8")
	case strings.ContainsFunc(s.Description, func(r rune) bool { return r == '\n' || r == '\r' }):
		return v.errf("description", "must be one line")
	case strings.ContainsFunc(s.Description, func(r rune) bool { return !unicode.IsPrint(r) }):
		return v.errf("description", "holds a control or unprintable character")
	}
	return nil
}

// durations checks the scenario's length and that no duration is
// negative (only a clock skew may go backwards).
func (v *validator) durations() *Error {
	s := v.s
	var bad *Error
	eachDuration(reflect.ValueOf(s).Elem(), "", func(path string, d Duration) bool {
		if d < 0 && !strings.HasSuffix(path, ".skew.offset") {
			bad = v.errf(path, "negative duration %v", d)
			return false
		}
		return true
	})
	if bad != nil {
		return bad
	}
	switch {
	case s.Duration <= 0:
		return v.errf("duration", "required: how long the scenario runs in virtual time, such as 30s")
	case s.Duration.D() > MaxDuration:
		return v.errf("duration", "%v exceeds the limit of %v", s.Duration, MaxDuration)
	}
	if s.Settle == 0 {
		s.Settle = Duration(DefaultSettle)
	}
	if s.Settle >= s.Duration {
		return v.errf("settle", "%v leaves no time for faults in a scenario of duration %v", s.Settle, s.Duration)
	}
	return nil
}

// faultEnd is when the fault phase ends: faults must be over by then.
func (s *Scenario) faultEnd() time.Duration { return s.Duration.D() - s.Settle.D() }

func (v *validator) cluster() *Error {
	c := v.s.Cluster
	for _, x := range []struct {
		name string
		n    int
	}{{"locks", c.Locks}, {"queues", c.Queues}, {"caches", c.Caches}} {
		path := "cluster." + x.name
		switch {
		case x.n < 0 || x.n > MaxServers:
			return v.errf(path, "%d servers, outside [0, %d]", x.n, MaxServers)
		case x.n > 0 && !slices.Contains(Built, x.name):
			return v.errf(path, "service %s is not built yet (built: %s)", x.name, strings.Join(Built, ", "))
		}
	}
	if c.Locks+c.Queues+c.Caches == 0 {
		return v.errf("cluster", "no servers: size a service, such as locks: 3 (1..%d)", MaxServers)
	}
	var sized []string
	for _, name := range Services {
		if v.s.present(name) {
			sized = append(sized, name)
		}
	}
	if len(sized) > 1 {
		both := "both"
		if len(sized) > 2 {
			both = "all"
		}
		list := strings.Join(sized[:len(sized)-1], ", ") + " and " + sized[len(sized)-1]
		return v.errf("cluster", "%s %s sized: one service per scenario is supported for now", list, both)
	}
	switch {
	case c.Spares < 0 || c.Spares > MaxServers:
		return v.errf("cluster.spares", "%d spares, outside [0, %d]", c.Spares, MaxServers)
	case c.Spares > 0 && c.Queues == 0:
		return v.errf("cluster.spares", "spares are queue nodes that join the ring later: only with queues (cluster.queues is 0)")
	case c.Queues+c.Spares > MaxQueueNodes:
		return v.errf("cluster.spares", "%d queue servers and %d spares make %d queue nodes, over the limit of %d", c.Queues, c.Spares, c.Queues+c.Spares, MaxQueueNodes)
	}
	v.servers, v.isServer = numbered("n", v.s.serverCount())
	return nil
}

// cache checks the cache section, fills in its defaults, and names the
// memory node of a broadcast cache.
func (v *validator) cache() *Error {
	c := v.s.Cache
	if c == nil {
		return nil
	}
	if v.s.Cluster.Caches == 0 {
		return v.errf("cache", "the cache service's settings: only when cluster.caches > 0 (it is 0)")
	}
	if c.Protocol == "" {
		c.Protocol = CacheProtocolDirectory
	}
	if !slices.Contains(CacheProtocols, c.Protocol) {
		return v.errf("cache.protocol", "unknown protocol %q (known: %s)", c.Protocol, strings.Join(CacheProtocols, ", "))
	}
	if c.WritePolicy == "" {
		c.WritePolicy = WritePolicyWriteBack
	}
	if !slices.Contains(WritePolicies, c.WritePolicy) {
		return v.errf("cache.write_policy", "unknown write policy %q (known: %s)", c.WritePolicy, strings.Join(WritePolicies, ", "))
	}
	if c.Capacity < 0 || c.Capacity > MaxCacheCapacity {
		return v.errf("cache.capacity", "%d lines, outside [0, %d] (0 for the default %d)", c.Capacity, MaxCacheCapacity, DefaultCacheCapacity)
	}
	if c.Capacity == 0 {
		c.Capacity = DefaultCacheCapacity
	}
	v.memory = v.s.memoryNode()
	return nil
}

// memoryNode is MemoryNode in a broadcast cache scenario, else "".
func (s *Scenario) memoryNode() string {
	if s.Cluster.Caches > 0 && s.CacheProtocol() == CacheProtocolBroadcast {
		return MemoryNode
	}
	return ""
}

// serverCount is the number of server nodes selectors pick from: the
// sized service's servers and, for queues, the spares (not a broadcast
// cache's memory node).
func (s *Scenario) serverCount() int {
	c := s.Cluster
	switch {
	case c.Locks > 0:
		return min(c.Locks, MaxServers)
	case c.Queues > 0:
		return min(c.Queues, MaxServers) + max(min(c.Spares, MaxServers), 0)
	case c.Caches > 0:
		return min(c.Caches, MaxServers)
	}
	return 0
}

// numbered returns prefix1..prefixN and a set of them.
func numbered(prefix string, n int) ([]string, map[string]bool) {
	out, set := make([]string, n), make(map[string]bool, n)
	for i := range out {
		out[i] = prefix + strconv.Itoa(i+1)
		set[out[i]] = true
	}
	return out, set
}

// Nodes returns the scenario's node names: the servers n1..nN of the
// sized service (N is cluster.locks, cluster.queues or cluster.caches)
// followed by a queue scenario's spares n(N+1)..n(N+S), or by a broadcast
// cache scenario's memory node MemoryNode ("mem"); then clients c1..cM
// numbered across workloads in file order. The memory node is a server
// that faults may name, but no selector picks it.
func (s *Scenario) Nodes() (servers, clients []string) {
	servers, _ = numbered("n", s.serverCount())
	if m := s.memoryNode(); m != "" {
		servers = append(servers, m)
	}
	total := 0
	for _, w := range s.Workload {
		total += max(w.Clients, 0)
	}
	clients, _ = numbered("c", min(total, MaxClients))
	return servers, clients
}

// present reports whether service has servers in the cluster.
func (s *Scenario) present(service string) bool {
	switch service {
	case "locks":
		return s.Cluster.Locks > 0
	case "queues":
		return s.Cluster.Queues > 0
	case "caches":
		return s.Cluster.Caches > 0
	}
	return false
}

func (v *validator) service(path, name string) *Error {
	switch {
	case name == "":
		return v.errf(path, "required: one of %s", strings.Join(Services, ", "))
	case !slices.Contains(Services, name):
		return v.errf(path, "unknown service %q (known: %s)", name, strings.Join(Services, ", "))
	case !slices.Contains(Built, name):
		return v.errf(path, "service %s is not built yet (built: %s)", name, strings.Join(Built, ", "))
	case !v.s.present(name):
		return v.errf(path, "service %s has no servers: cluster.%s is 0", name, name)
	}
	return nil
}

func (v *validator) probability(path string, p float64) *Error {
	if !(p >= 0 && p <= 1) {
		return v.errf(path, "probability %v outside [0, 1]", p)
	}
	return nil
}

// latency mirrors sim.Latency.Validate: a known distribution with its own
// parameters only.
func (v *validator) latency(path string, l *Latency) *Error {
	if l == nil {
		return nil
	}
	dists := "constant, uniform, normal or exponential"
	params, ok := latencyParams[l.Dist]
	switch {
	case l.Dist == "":
		return v.errf(path+".dist", "required: %s", dists)
	case !ok:
		return v.errf(path+".dist", "unknown distribution %q: want %s", l.Dist, dists)
	}
	for _, p := range []struct {
		name string
		d    Duration
	}{{"value", l.Value}, {"min", l.Min}, {"max", l.Max}, {"mean", l.Mean}, {"stddev", l.StdDev}} {
		if p.d != 0 && !slices.Contains(params, p.name) {
			return v.errf(path+"."+p.name, "not a parameter of %s (it takes %s)", l.Dist, strings.Join(params, " and "))
		}
		if p.d.D() > MaxDuration {
			return v.errf(path+"."+p.name, "%v exceeds the limit of %v", p.d, MaxDuration)
		}
	}
	if l.Dist == "uniform" && l.Max < l.Min {
		return v.errf(path+".max", "uniform max %v below min %v", l.Max, l.Min)
	}
	return nil
}

func (v *validator) network() *Error {
	n, d := v.s.Network, v.s.Disk
	if err := v.latency("network.latency", n.Latency); err != nil {
		return err
	}
	for _, p := range []struct {
		path string
		v    float64
	}{{"network.loss", n.Loss}, {"network.duplicate", n.Duplicate}, {"network.reorder", n.Reorder},
		{"disk.torn_writes", d.TornWrites}, {"disk.corrupt_read", d.CorruptRead}} {
		if err := v.probability(p.path, p.v); err != nil {
			return err
		}
	}
	if n.ReorderDelay.D() > MaxDuration {
		return v.errf("network.reorder_delay", "%v exceeds the limit of %v", n.ReorderDelay, MaxDuration)
	}
	if err := v.latency("disk.write_latency", d.WriteLatency); err != nil {
		return err
	}
	if err := v.latency("disk.sync_latency", d.SyncLatency); err != nil {
		return err
	}
	if d.SectorBytes < 0 || d.SectorBytes > MaxSectorSize {
		return v.errf("disk.sector_bytes", "%d outside [0, %d]", d.SectorBytes, MaxSectorSize)
	}
	return nil
}

var rateRE = regexp.MustCompile(`^([0-9]+(\.[0-9]+)?)/s$`)

// RatePerSecond returns the workload's rate as a number ("200/s" is 200),
// or 0 when it has none.
func (w Workload) RatePerSecond() float64 {
	m := rateRE.FindStringSubmatch(w.Rate)
	if m == nil {
		return 0
	}
	r, _ := strconv.ParseFloat(m[1], 64)
	return r
}

func (v *validator) workloads() *Error {
	total := 0
	for i := range v.s.Workload {
		w := &v.s.Workload[i]
		p := fmt.Sprintf("workload[%d]", i)
		if err := v.service(p+".service", w.Service); err != nil {
			return err
		}
		if w.Clients < 1 || w.Clients > MaxClients {
			return v.errf(p+".clients", "%d clients, outside [1, %d]", w.Clients, MaxClients)
		}
		if total += w.Clients; total > MaxClients {
			return v.errf(p+".clients", "%d clients over all workloads, over the limit of %d", total, MaxClients)
		}
		if w.Rate != "" {
			if r := w.RatePerSecond(); !(r > 0 && r <= MaxRate) {
				return v.errf(p+".rate", "%q: want operations per second as N/s, with 0 < N <= %d", w.Rate, int(MaxRate))
			}
		}
		if w.Resources < 1 || w.Resources > MaxResources {
			return v.errf(p+".resources", "%d, outside [1, %d]: the size of the key or resource space", w.Resources, int(MaxResources))
		}
		if w.Distribution == "" {
			w.Distribution = "uniform"
		}
		switch w.Distribution {
		case "uniform":
			if w.ZipfS != 0 {
				return v.errf(p+".zipf_s", "only with distribution: zipf")
			}
		case "zipf":
			if w.ZipfS == 0 {
				w.ZipfS = DefaultZipfS
			}
			if !(w.ZipfS > 1 && w.ZipfS <= MaxZipfS) {
				return v.errf(p+".zipf_s", "%v: the zipf exponent must be above 1 and at most %v", w.ZipfS, MaxZipfS)
			}
		default:
			return v.errf(p+".distribution", "unknown distribution %q: want uniform or zipf", w.Distribution)
		}
		for _, x := range []struct {
			name     string
			services []string
			set      bool
		}{
			{"shared", locks, w.Shared != 0}, {"hold", locks, w.Hold != 0},
			{"wait", locks, w.Wait != ""}, {"ttl", locks, w.TTL != 0},
			{"produce", queues, w.Produce != nil}, {"poison", queues, w.Poison != 0},
			{"dlq", queues, w.DLQ != 0}, {"visibility", queues, w.Visibility != 0},
			{"process", queues, w.Process != 0}, {"payload", queuesAndCaches, w.Payload != 0},
			{"writes", caches, w.Writes != nil},
		} {
			if x.set && !slices.Contains(x.services, w.Service) {
				return v.errf(p+"."+x.name, "only for service %s (this workload is of %s)", strings.Join(x.services, " or "), w.Service)
			}
		}
		var err *Error
		switch w.Service {
		case "locks":
			err = v.lockWorkload(p, w)
		case "queues":
			err = v.queueWorkload(p, w)
		case "caches":
			err = v.cacheWorkload(p, w)
		}
		if err != nil {
			return err
		}
	}
	v.clients, v.isClient = numbered("c", total)
	return nil
}

// The services a workload field is for.
var (
	locks           = []string{"locks"}
	queues          = []string{"queues"}
	caches          = []string{"caches"}
	queuesAndCaches = []string{"queues", "caches"}
)

// lockWorkload checks the fields of a locks workload.
func (v *validator) lockWorkload(p string, w *Workload) *Error {
	if err := v.probability(p+".shared", w.Shared); err != nil {
		return err
	}
	if w.Hold > v.s.Duration {
		return v.errf(p+".hold", "%v exceeds the scenario's duration %v", w.Hold, v.s.Duration)
	}
	if _, _, err := ParseWait(w.Wait); err != nil {
		return v.errf(p+".wait", "%v", err)
	}
	if w.TTL.D() > MaxTTL {
		return v.errf(p+".ttl", "%v exceeds the limit of %v", w.TTL, MaxTTL)
	}
	return nil
}

// queueWorkload checks the fields of a queues workload, and fills in its
// produce.
func (v *validator) queueWorkload(p string, w *Workload) *Error {
	if w.Produce == nil {
		d := DefaultProduce
		w.Produce = &d
	}
	for _, x := range []struct {
		name string
		v    float64
	}{{"produce", *w.Produce}, {"poison", w.Poison}, {"dlq", w.DLQ}} {
		if err := v.probability(p+"."+x.name, x.v); err != nil {
			return err
		}
	}
	switch {
	case w.Visibility.D() > MaxVisibility:
		return v.errf(p+".visibility", "%v exceeds the limit of %v", w.Visibility, MaxVisibility)
	case w.Process > v.s.Duration:
		return v.errf(p+".process", "%v exceeds the scenario's duration %v", w.Process, v.s.Duration)
	case w.Payload < 0 || w.Payload > MaxPayload:
		return v.errf(p+".payload", "%d bytes, outside [0, %d] (0 for the default)", w.Payload, MaxPayload)
	}
	return nil
}

// cacheWorkload checks the fields of a caches workload, and fills in its
// writes.
func (v *validator) cacheWorkload(p string, w *Workload) *Error {
	if w.Writes == nil {
		d := DefaultWrites
		w.Writes = &d
	}
	if err := v.probability(p+".writes", *w.Writes); err != nil {
		return err
	}
	if w.Payload < 0 || w.Payload > MaxPayload {
		return v.errf(p+".payload", "%d bytes, outside [0, %d] (0 for the default)", w.Payload, MaxPayload)
	}
	return nil
}

// ParseWait reads a workload's wait: "" or "none" (do not wait: zero,
// false), "forever" (0, true), or a duration above 0 up to 10m.
func ParseWait(s string) (timeout time.Duration, forever bool, err error) {
	switch s {
	case "", "none":
		return 0, false, nil
	case "forever":
		return 0, true, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 || d > MaxWait {
		return 0, false, fmt.Errorf("%q: want none, forever, or a duration above 0 up to %v", s, MaxWait)
	}
	return d, false, nil
}

func (v *validator) checks() *Error {
	if len(v.s.Check) == 0 {
		return v.errf("check", "required: a list of checks from %s", strings.Join(Checks, ", "))
	}
	for i, c := range v.s.Check {
		p := fmt.Sprintf("check[%d]", i)
		switch {
		case !slices.Contains(Checks, c):
			return v.errf(p, "unknown check %q (known: %s)", c, strings.Join(Checks, ", "))
		case slices.Index(v.s.Check, c) < i:
			return v.errf(p, "%s is listed twice", c)
		case c == CheckRaftSafety && v.s.present("caches"):
			return v.errf(p, "raft-safety checks Raft, which the cache service does not run (caches have no leader): use coherence")
		case checkServices[c] != nil && !slices.ContainsFunc(checkServices[c], v.s.present):
			svcs := checkServices[c]
			zero := "cluster." + strings.Join(svcs, " and cluster.") + " is 0"
			if len(svcs) > 1 {
				zero = "cluster." + strings.Join(svcs, " and cluster.") + " are 0"
			}
			return v.errf(p, "%s is a check of service %s, which this scenario does not size (%s)", c, strings.Join(svcs, " or "), zero)
		case c == CheckLinearizable && len(v.s.Workload) == 0:
			return v.errf(p, "linearizable needs a workload: it checks the clients' history")
		case c == CheckAtLeastOnce && len(v.s.Workload) == 0:
			return v.errf(p, "at-least-once needs a workload: it checks the clients' enqueues and deliveries")
		}
	}
	return nil
}

func (v *validator) swarm() *Error {
	sw := v.s.Swarm
	if sw == nil {
		return nil
	}
	if len(sw.Faults) == 0 {
		return v.errf("swarm.faults", "required: fault kinds from %s", strings.Join(SwarmFaults, ", "))
	}
	for i, k := range sw.Faults {
		p := fmt.Sprintf("swarm.faults[%d]", i)
		switch {
		case !slices.Contains(SwarmFaults, k):
			return v.errf(p, "unknown fault kind %q (known: %s)", k, strings.Join(SwarmFaults, ", "))
		case slices.Index(sw.Faults, k) < i:
			return v.errf(p, "%s is listed twice", k)
		}
	}
	switch {
	case sw.Every.Min <= 0:
		return v.errf("swarm.every.min", "required: the shortest mean time between faults, above 0")
	case sw.Every.Max < sw.Every.Min:
		return v.errf("swarm.every.max", "%v below min %v", sw.Every.Max, sw.Every.Min)
	case sw.Every.Max > v.s.Duration:
		return v.errf("swarm.every.max", "%v exceeds the scenario's duration %v", sw.Every.Max, v.s.Duration)
	}
	for _, r := range []struct {
		kind string
		r    *FloatRange
	}{{"loss", sw.Loss}, {"duplicate", sw.Duplicate}, {"reorder", sw.Reorder}} {
		p := "swarm." + r.kind
		switch {
		case r.r == nil:
		case !slices.Contains(sw.Faults, r.kind):
			return v.errf(p, "a range for %s, which is not among swarm.faults", r.kind)
		case !(r.r.Min >= 0 && r.r.Min <= 1):
			return v.errf(p+".min", "probability %v outside [0, 1]", r.r.Min)
		case !(r.r.Max >= 0 && r.r.Max <= 1):
			return v.errf(p+".max", "probability %v outside [0, 1]", r.r.Max)
		case r.r.Max < r.r.Min:
			return v.errf(p+".max", "%v below min %v", r.r.Max, r.r.Min)
		}
	}
	return nil
}

// normalize makes empty lists nil, so that a scenario and its Marshal
// output parse to equal values.
func (s *Scenario) normalize() { normalizeValue(reflect.ValueOf(s).Elem()) }

func normalizeValue(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			normalizeValue(v.Elem())
		}
	case reflect.Struct:
		for _, f := range fieldsOf(v.Type()) {
			normalizeValue(v.Field(f.index))
		}
	case reflect.Slice:
		if v.Len() == 0 {
			v.SetZero()
			return
		}
		for i := range v.Len() {
			normalizeValue(v.Index(i))
		}
	}
}
