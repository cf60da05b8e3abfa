// Package lockcompare measures distributed lock throughput side by side,
// in one process and one run: an embedded 3-member etcd cluster
// (go.etcd.io/etcd/server/v3/embed) driven through concurrency.Mutex, and
// a 3-node distsync cluster (package cluster, lock service only) driven
// through its HTTP API. Both run on 127.0.0.1 with fsync on.
//
// One op is one lock acquire plus its release, of a resource drawn at
// random from Config.Resources. Each of Config.Clients clients opens one
// session first (not measured), then loops on ops. Each system gets a
// warm-up that is not measured, then Config.Duration measured; the two
// systems run one after the other, never at once.
package lockcompare

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// System names.
const (
	Etcd     = "etcd"
	Distsync = "distsync"
)

// Config configures a comparison.
type Config struct {
	// Clients is the number of concurrent clients per system.
	Clients int
	// Duration is the measured time per system.
	Duration time.Duration
	// Warmup runs before each measurement, not measured.
	Warmup time.Duration
	// Resources is the number of distinct lock names drawn from.
	Resources int
	// Systems are the systems to run, in order (default etcd, distsync).
	Systems []string
	// Dir holds the data directories (default: a new temporary directory,
	// removed afterwards).
	Dir string
	// EtcdConns is the number of etcd client connections (clientv3.Client)
	// the clients share, round robin (default 1, as etcd's own benchmark
	// tool: on this 2-core machine 1 or 2 did best, 4 and 8 worse).
	EtcdConns int
	// DistsyncClientIDs makes every distsync client name its own client id
	// and sequence numbers (the API's "client" and "seq" fields) instead of
	// using the HTTP server's pool of client ids.
	DistsyncClientIDs bool
	// CPUProfile, if set, receives a CPU profile of distsync's measured
	// window; EtcdCPUProfile one of etcd's.
	CPUProfile     string
	EtcdCPUProfile string
	// Trace, if set, receives an execution trace (runtime/trace) of the
	// first second of distsync's measured window: where its goroutines
	// wait, which a CPU profile does not show; EtcdTrace one of etcd's.
	Trace     string
	EtcdTrace string
	// Log receives progress lines (nil: none).
	Log io.Writer
}

// Latencies summarises op latencies, in milliseconds.
type Latencies struct {
	Mean float64 `json:"mean_ms"`
	P50  float64 `json:"p50_ms"`
	P95  float64 `json:"p95_ms"`
	P99  float64 `json:"p99_ms"`
	Max  float64 `json:"max_ms"`
}

// Result is one system's measurement.
type Result struct {
	System   string         `json:"system"`
	Clients  int            `json:"clients"`
	Seconds  float64        `json:"seconds"`
	Ops      int            `json:"ops"`
	OpsPerS  float64        `json:"ops_per_sec"`
	Errors   int            `json:"errors"`
	Latency  Latencies      `json:"latency"`
	ErrKinds map[string]int `json:"error_kinds,omitempty"`
	// Leader is the member that served the clients.
	Leader string `json:"leader"`
	// DiskFlushes and DiskWrites are the machine's block-device flush and
	// write requests completed during the measured window (all processes;
	// omitted where the kernel does not count them).
	DiskFlushes uint64 `json:"disk_flushes,omitempty"`
	DiskWrites  uint64 `json:"disk_writes,omitempty"`
}

// Report is a comparison's outcome.
type Report struct {
	Clients    int      `json:"clients"`
	Duration   string   `json:"duration"`
	Warmup     string   `json:"warmup"`
	Resources  int      `json:"resources"`
	GOMAXPROCS int      `json:"gomaxprocs"`
	NumCPU     int      `json:"num_cpu"`
	GoVersion  string   `json:"go_version"`
	Versions   []string `json:"versions"`
	Results    []Result `json:"results"`
	// Ratio is distsync's ops/s over etcd's (0 unless both ran).
	Ratio float64 `json:"ratio_distsync_over_etcd"`
}

// withDefaults fills zero fields.
func (c Config) withDefaults() Config {
	if c.Clients <= 0 {
		c.Clients = 64
	}
	if c.Duration <= 0 {
		c.Duration = 10 * time.Second
	}
	if c.Warmup < 0 {
		c.Warmup = 0
	}
	if c.Resources <= 0 {
		c.Resources = 1024
	}
	if len(c.Systems) == 0 {
		c.Systems = []string{Etcd, Distsync}
	}
	if c.EtcdConns <= 0 {
		c.EtcdConns = 1
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	return c
}

// Run runs the comparison.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg = cfg.withDefaults()
	for _, s := range cfg.Systems {
		if s != Etcd && s != Distsync {
			return nil, fmt.Errorf("lockcompare: system %q unknown (want %s or %s)", s, Etcd, Distsync)
		}
	}
	dir := cfg.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "lockcompare-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	quietGRPC()
	rep := &Report{Clients: cfg.Clients, Duration: cfg.Duration.String(), Warmup: cfg.Warmup.String(),
		Resources: cfg.Resources, GOMAXPROCS: runtime.GOMAXPROCS(0), NumCPU: runtime.NumCPU(),
		GoVersion: runtime.Version()}
	for i, s := range cfg.Systems {
		sub := filepath.Join(dir, fmt.Sprintf("%d-%s", i+1, s)) // a system may run twice
		runtime.GC()
		var res *Result
		var err error
		switch s {
		case Etcd:
			rep.Versions = append(rep.Versions, "etcd "+etcdVersion())
			res, err = runEtcd(ctx, cfg, sub)
		case Distsync:
			rep.Versions = append(rep.Versions, "distsync (this tree)")
			res, err = runDistsync(ctx, cfg, sub)
		}
		if err != nil {
			return rep, fmt.Errorf("lockcompare: %s: %w", s, err)
		}
		rep.Results = append(rep.Results, *res)
		settle(cfg, sub, cfg.Dir == "")
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		fmt.Fprintf(cfg.Log, "%s: stopped; %d goroutines left, heap %d MiB\n", s, runtime.NumGoroutine(), ms.HeapAlloc>>20)
	}
	var e, d float64
	for _, r := range rep.Results {
		switch r.System {
		case Etcd:
			e = r.OpsPerS
		case Distsync:
			d = r.OpsPerS
		}
	}
	if e > 0 && d > 0 {
		rep.Ratio = d / e
	}
	return rep, nil
}

// settle leaves the machine as the next system should find it: the data
// of the system that ran removed (if temporary) and every dirty page
// written back (sync(2)), so that the next system's fsyncs do not wait
// behind the previous system's writeback: without it, whichever system
// ran second could find the disk still busy with the first one's files.
func settle(cfg Config, dir string, remove bool) {
	start := time.Now()
	if remove {
		_ = os.RemoveAll(dir)
	}
	syscall.Sync()
	time.Sleep(time.Second)
	fmt.Fprintf(cfg.Log, "settled in %v (data removed: %v, sync(2))\n", time.Since(start).Round(time.Millisecond), remove)
}

// opFunc runs one op (acquire + release) of resource r for one client.
type opFunc func(ctx context.Context, r int) error

// window is a measurement: warm-up from start, measured [from, to).
type window struct {
	from, to time.Time
}

// profiles name the files that receive a CPU profile and an execution
// trace of a measured window ("": none).
type profiles struct {
	cpu, trace string
}

// drive runs every client's op loop through warm-up and measurement, and
// returns the measured ops: those that complete within the window (their
// latency counts whole, even if they started in the warm-up).
func drive(ctx context.Context, cfg Config, system string, clients []opFunc, prof profiles) (*Result, error) {
	start := time.Now()
	w := window{from: start.Add(cfg.Warmup), to: start.Add(cfg.Warmup + cfg.Duration)}
	type tally struct {
		lat  []time.Duration
		errs map[string]int
	}
	tallies := make([]tally, len(clients))
	var wg sync.WaitGroup
	for i, op := range clients {
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(uint64(start.UnixNano()), uint64(i)))
			t := &tallies[i]
			t.lat = make([]time.Duration, 0, 4096)
			t.errs = map[string]int{}
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(w.to) {
					return
				}
				err := op(ctx, rnd.IntN(cfg.Resources))
				t1 := time.Now()
				if t1.Before(w.from) || !t1.Before(w.to) {
					continue
				}
				if err != nil {
					t.errs[errKind(err)]++
					continue
				}
				t.lat = append(t.lat, t1.Sub(t0))
			}
		})
	}
	var disk [2]diskCounters
	diskOK := true
	wg.Go(func() {
		for i, at := range []time.Time{w.from, w.to} {
			select {
			case <-time.After(time.Until(at)):
			case <-ctx.Done():
				return
			}
			var ok bool
			disk[i], ok = readDisk()
			diskOK = diskOK && ok
		}
	})
	var cpuErr, traceErr error
	if prof.cpu != "" {
		wg.Go(func() { cpuErr = profileWindow(ctx, prof.cpu, w) })
	}
	if prof.trace != "" {
		tw := window{from: w.from, to: w.from.Add(min(cfg.Duration, time.Second))}
		wg.Go(func() { traceErr = traceWindow(ctx, prof.trace, tw) })
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := errors.Join(cpuErr, traceErr); err != nil {
		return nil, err
	}
	res := &Result{System: system, Clients: len(clients), Seconds: w.to.Sub(w.from).Seconds(), ErrKinds: map[string]int{}}
	var all []time.Duration
	for _, t := range tallies {
		all = append(all, t.lat...)
		for k, n := range t.errs {
			res.ErrKinds[k] += n
			res.Errors += n
		}
	}
	res.Ops = len(all)
	res.OpsPerS = float64(res.Ops) / res.Seconds
	res.Latency = summarise(all)
	if diskOK {
		res.DiskFlushes = disk[1].flushes - disk[0].flushes
		res.DiskWrites = disk[1].writes - disk[0].writes
	}
	return res, nil
}

// profileWindow writes a CPU profile of window w to path.
func profileWindow(ctx context.Context, path string, w window) error {
	return recordWindow(ctx, path, w, pprof.StartCPUProfile, pprof.StopCPUProfile)
}

// traceWindow writes an execution trace of window w to path.
func traceWindow(ctx context.Context, path string, w window) error {
	return recordWindow(ctx, path, w, trace.Start, trace.Stop)
}

// recordWindow waits for window w to open, starts a recorder writing to
// path, and stops it when the window closes (or ctx ends).
func recordWindow(ctx context.Context, path string, w window, start func(io.Writer) error, stop func()) error {
	select {
	case <-time.After(time.Until(w.from)):
	case <-ctx.Done():
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := start(f); err != nil {
		return err
	}
	select {
	case <-time.After(time.Until(w.to)):
	case <-ctx.Done():
	}
	stop()
	return f.Close()
}

// summarise computes latency percentiles (nearest rank).
func summarise(lat []time.Duration) Latencies {
	if len(lat) == 0 {
		return Latencies{}
	}
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	pct := func(p float64) float64 {
		i := int(p*float64(len(lat))+0.999999) - 1
		return ms(lat[max(0, min(i, len(lat)-1))])
	}
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	return Latencies{Mean: ms(sum / time.Duration(len(lat))), P50: pct(0.50), P95: pct(0.95), P99: pct(0.99), Max: ms(lat[len(lat)-1])}
}

// kindError is an error with a short kind for the error counts.
type kindError struct {
	kind string
	err  error
}

func (e *kindError) Error() string { return e.kind + ": " + e.err.Error() }
func (e *kindError) Unwrap() error { return e.err }

// errKind names an error for the counts: its kind if it has one, else its
// text cut short.
func errKind(err error) string {
	var k *kindError
	if errors.As(err, &k) {
		return k.kind
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "deadline exceeded"
	}
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 80 {
		s = s[:80]
	}
	return s
}
