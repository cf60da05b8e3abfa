// Command lockcompare measures lock throughput side by side in one run: an
// embedded 3-member etcd cluster (concurrency.Mutex Lock + Unlock) and a
// 3-node distsync cluster (HTTP acquire + release), both on 127.0.0.1 with
// fsync on, one after the other. See bench/README.md.
//
//	go run ./cmd/lockcompare --clients 64 --duration 10s --json out.json
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/distsync/distsync/bench/lockcompare"
	"github.com/distsync/distsync/reports"
)

func main() {
	var cfg lockcompare.Config
	var systems, jsonOut string
	var markdown, quiet bool
	flag.IntVar(&cfg.Clients, "clients", 64, "concurrent clients per system")
	flag.DurationVar(&cfg.Duration, "duration", 10*time.Second, "measured time per system")
	flag.DurationVar(&cfg.Warmup, "warmup", 2*time.Second, "warm-up per system, not measured")
	flag.IntVar(&cfg.Resources, "resources", 1024, "distinct lock names, drawn at random")
	flag.StringVar(&systems, "systems", "etcd,distsync", "systems to run, in order")
	flag.IntVar(&cfg.EtcdConns, "etcd-conns", 1, "etcd client connections (clientv3.Client) shared by the clients")
	flag.BoolVar(&cfg.DistsyncClientIDs, "distsync-client-ids", true,
		"distsync clients name their own client id and seq, as each etcd client has its own session; false: the HTTP server's pool of client ids")
	flag.StringVar(&cfg.Dir, "dir", "", "data directory (default: a temporary directory, removed afterwards)")
	flag.StringVar(&jsonOut, "json", "", "write the report as JSON to this file")
	flag.BoolVar(&markdown, "markdown", false, "print the table as Markdown")
	flag.StringVar(&cfg.CPUProfile, "cpuprofile", "", "write a CPU profile of distsync's measured window to this file")
	flag.StringVar(&cfg.EtcdCPUProfile, "etcd-cpuprofile", "", "write a CPU profile of etcd's measured window to this file")
	flag.StringVar(&cfg.Trace, "trace", "", "write an execution trace of the first second of distsync's measured window to this file")
	flag.StringVar(&cfg.EtcdTrace, "etcd-trace", "", "write an execution trace of the first second of etcd's measured window to this file")
	flag.BoolVar(&quiet, "quiet", false, "no progress lines")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "lockcompare: unexpected arguments:", flag.Args())
		os.Exit(2)
	}
	if cfg.Clients < 1 || cfg.Duration <= 0 || cfg.Resources < 1 || cfg.Warmup < 0 {
		fmt.Fprintln(os.Stderr, "lockcompare: --clients, --duration and --resources must be positive, --warmup not negative")
		os.Exit(2)
	}
	cfg.Systems = strings.Split(systems, ",")
	if !quiet {
		cfg.Log = os.Stderr
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := lockcompare.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "lockcompare:", err)
		os.Exit(1)
	}
	format := reports.Text
	if markdown {
		format = reports.Markdown
	}
	fmt.Printf("%d clients, %d resources, %s measured after %s warm-up, GOMAXPROCS %d, %s; %s\n\n",
		rep.Clients, rep.Resources, rep.Duration, rep.Warmup, rep.GOMAXPROCS, rep.GoVersion, strings.Join(rep.Versions, ", "))
	if err := rep.WriteTable(os.Stdout, format); err != nil {
		fmt.Fprintln(os.Stderr, "lockcompare:", err)
		os.Exit(1)
	}
	if jsonOut != "" {
		if err := rep.WriteJSON(jsonOut); err != nil {
			fmt.Fprintln(os.Stderr, "lockcompare:", err)
			os.Exit(1)
		}
	}
}
