package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/distsync/distsync/httpapi/client"
	"github.com/distsync/distsync/loadgen"
)

// maxLoadDuration bounds `load --duration`.
const maxLoadDuration = 24 * time.Hour

type loadFlags struct {
	target
	service    string
	clients    int
	duration   time.Duration
	report     string
	resources  int
	valueBytes int
	writes     float64
	wait       time.Duration
	zipf       float64
	seed       uint64
	format     string
	timeout    time.Duration
	retries    int
}

func newLoadCmd() *cobra.Command {
	var f loadFlags
	cmd := &cobra.Command{
		Use:   "load --service locks|queue|cache --clients N --duration D [--cluster cluster.yaml] [--report DIR]",
		Short: "Measure a real cluster under a closed-loop load: ops/s and latency percentiles per operation",
		Long: `load runs N concurrent clients against a real cluster's HTTP API for a while,
each sending its next request as soon as the previous one is answered, and
prints per kind of operation: ok and failed counts, ok operations per second,
and the latency of the ok operations (p50, p95, p99, max).

  locks  each client opens a session, then acquires a random resource of
         --resources (exclusive, waiting up to --wait) and releases it; one
         operation is the acquire and the release ("acquire+release")
  queue  N producers enqueue --value-bytes messages into --resources queues,
         and N consumers dequeue and ack them
  cache  gets and puts (--writes of them) of --value-bytes values, the keys
         chosen by a Zipf distribution over --resources keys

This is a measurement of real processes on this machine, not a simulation:
the figures are not deterministic, and the output says so.

--report DIR also writes summary.txt, summary.md, result.json and plots (PNG
and SVG): latency per second (p50, p99), the latency CDF, and ok operations
per second.

The nodes: --cluster FILE or --endpoint URL, as for 'distsync client'.
Exit codes: 0 the run completed (errors are counted, not fatal), 1 the run
could not start (no node answered, a session could not be opened), 2 bad
flags.`,
		Example: `  distsync cluster up --nodes 3 --dir /tmp/c --base-port 18400
  distsync load --cluster /tmp/c/cluster.yaml --service locks --clients 64 --duration 10s
  distsync load --cluster /tmp/c/cluster.yaml --service cache --clients 64 --duration 10s --writes 0.1 --report out/load-cache`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runLoad(cmd, f) },
	}
	fl := cmd.Flags()
	f.addFlags(fl)
	fl.StringVar(&f.service, "service", "", "locks, queue or cache (required)")
	fl.IntVar(&f.clients, "clients", 16, fmt.Sprintf("concurrent clients (1-%d); the queue runs as many consumers besides", loadgen.MaxClients))
	fl.DurationVar(&f.duration, "duration", 10*time.Second, "how long the clients start operations")
	fl.StringVar(&f.report, "report", "", "write the report (tables, result.json, plots) into this directory")
	fl.IntVar(&f.resources, "resources", 0, fmt.Sprintf("lock resources, queues or cache keys (default %d, %d, %d)",
		loadgen.DefaultLockResources, loadgen.DefaultQueues, loadgen.DefaultCacheKeys))
	fl.IntVar(&f.valueBytes, "value-bytes", loadgen.DefaultValueBytes, "size of a queue message or cache value")
	fl.Float64Var(&f.writes, "writes", 0.2, "cache: the fraction of operations that are puts (0-1)")
	fl.DurationVar(&f.wait, "wait", loadgen.DefaultWait, "locks: how long an acquire queues for its lock")
	fl.Float64Var(&f.zipf, "zipf", loadgen.DefaultZipf, "cache: the Zipf exponent of the key distribution (above 1)")
	fl.Uint64Var(&f.seed, "seed", 0, "seed of the clients' random choices (default: the clock); the run stays non-deterministic")
	fl.StringVar(&f.format, "format", "text", "output: text, md or json (the result)")
	fl.DurationVar(&f.timeout, "timeout", client.DefaultTimeout, "how long one request attempt may take")
	fl.IntVar(&f.retries, "retries", client.DefaultRetries, "attempts after a 503 or a connection error, on the next node (0: none)")
	return cmd
}

// loadConfig validates the flags into a loadgen.Config; every error is a
// usage error naming the flag.
func loadConfig(cmd *cobra.Command, f loadFlags) (loadgen.Config, outputFormat, error) {
	bad := func(format string, args ...any) (loadgen.Config, outputFormat, error) {
		return loadgen.Config{}, outputFormat{}, usageError{fmt.Errorf(format, args...)}
	}
	changed := cmd.Flags().Changed
	switch {
	case f.service == "":
		return bad("--service: required: %s", strings.Join(loadgen.Services, ", "))
	case f.service != loadgen.ServiceLocks && f.service != loadgen.ServiceQueue && f.service != loadgen.ServiceCache:
		return bad("--service: %q, want %s", f.service, strings.Join(loadgen.Services, ", "))
	case f.clients < 1 || f.clients > loadgen.MaxClients:
		return bad("--clients: %d, want 1..%d", f.clients, loadgen.MaxClients)
	case f.duration <= 0 || f.duration > maxLoadDuration:
		return bad("--duration: %v, want a positive duration up to %v", f.duration, maxLoadDuration)
	case changed("resources") && f.resources < 1:
		return bad("--resources: %d, want at least 1", f.resources)
	case f.valueBytes < 1 || f.valueBytes > loadgen.MaxValueBytes:
		return bad("--value-bytes: %d, want 1..%d", f.valueBytes, loadgen.MaxValueBytes)
	case f.writes < 0 || f.writes > 1 || math.IsNaN(f.writes):
		return bad("--writes: %v, want a fraction in [0, 1]", f.writes)
	case f.wait <= 0:
		return bad("--wait: %v, want a positive duration", f.wait)
	case !(f.zipf > 1):
		return bad("--zipf: %v, want above 1", f.zipf)
	case f.timeout <= 0:
		return bad("--timeout: %v, want a positive duration", f.timeout)
	case f.retries < 0:
		return bad("--retries: %d is negative", f.retries)
	}
	for flag, service := range map[string]string{"writes": loadgen.ServiceCache, "zipf": loadgen.ServiceCache, "wait": loadgen.ServiceLocks} {
		if changed(flag) && f.service != service {
			return bad("--%s: only for --service %s", flag, service)
		}
	}
	format, err := parseFormat(f.format)
	if err != nil {
		return loadgen.Config{}, outputFormat{}, err
	}
	eps, tlsCfg, err := f.resolve()
	if err != nil {
		return loadgen.Config{}, outputFormat{}, err
	}
	if err := checkReportDir(f.report); err != nil {
		return loadgen.Config{}, outputFormat{}, err
	}
	retries := f.retries
	if retries == 0 {
		retries = -1
	}
	cfg := loadgen.Config{Endpoints: eps, TLS: tlsCfg, Timeout: f.timeout, Retries: retries, Service: f.service,
		Clients: f.clients, Duration: f.duration, Resources: f.resources, ValueBytes: f.valueBytes,
		Writes: f.writes, Wait: f.wait, Zipf: f.zipf, Seed: f.seed}
	if f.service != loadgen.ServiceCache {
		cfg.Writes = 0
	}
	return cfg, format, nil
}

func runLoad(cmd *cobra.Command, f loadFlags) error {
	cfg, format, err := loadConfig(cmd, f)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	who := fmt.Sprintf("%d clients", cfg.Clients)
	if cfg.Service == loadgen.ServiceQueue {
		who = fmt.Sprintf("%d producers and %d consumers", cfg.Clients, cfg.Clients)
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "load: %s, %s for %v against %s (real processes: not deterministic)\n",
		cfg.Service, who, cfg.Duration, strings.Join(cfg.Endpoints, ", "))
	r, err := loadgen.Run(ctx, cfg)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if format.json {
		fmt.Fprintln(cmd.ErrOrStderr(), loadgen.Warning)
		b, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(out, "%s\n", b); err != nil {
			return err
		}
	} else if err := loadgen.WriteSummary(out, format.table, r); err != nil {
		return err
	}
	if f.report != "" {
		files, err := loadgen.WriteReport(f.report, r)
		if err != nil {
			return err
		}
		w := out
		if format.json {
			w = cmd.ErrOrStderr()
		}
		fmt.Fprintf(w, "\nreport: %s (%s)\n", f.report, strings.Join(files, ", "))
	}
	if ctx.Err() != nil {
		fmt.Fprintln(cmd.ErrOrStderr(), "load: interrupted: the figures cover the part that ran")
	}
	return nil
}
