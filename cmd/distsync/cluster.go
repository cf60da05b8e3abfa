package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/distsync/distsync/cluster"
	"github.com/distsync/distsync/reports"
)

// Defaults of `distsync cluster up`.
const (
	defaultClusterDir = "out/cluster"
	defaultBasePort   = 7400
)

func newClusterCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Start, inspect and stop a local cluster of real node processes on 127.0.0.1",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newClusterUpCmd(), newClusterDownCmd(), newClusterStatusCmd())
	return cmd
}

func newClusterUpCmd() *cobra.Command {
	var (
		spec     cluster.LocalSpec
		services string
		faults   bool
		wait     time.Duration
	)
	cmd := &cobra.Command{
		Use:   "up [--nodes 3] [--dir out/cluster] [--base-port 7400]",
		Short: "Start a local cluster: write its cluster file and token, start one node process per node, wait until all are healthy",
		Long: `up writes DIR/cluster.yaml and DIR/token (a fresh random cluster token, kept
if it exists), starts one 'distsync node' process per node (detached; logs in
DIR/nI.log, pids in DIR/nI.pid, data in DIR/nI), waits until every node's
/health answers, and prints the endpoints. Node i serves HTTP on
127.0.0.1:BASE+i and talks to peers on 127.0.0.1:BASE+100+i. Starting again on
the same DIR recovers every node from its data directory.`,
		Example: `  distsync cluster up --nodes 3
  curl -s localhost:7401/status
  distsync cluster down`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if services != "" {
				spec.Services = strings.Split(services, ",")
			}
			path, err := cluster.WriteLocal(spec)
			if err != nil {
				return usageError{err}
			}
			f, err := cluster.Load(path)
			if err != nil {
				return usageError{err}
			}
			self, err := os.Executable()
			if err != nil {
				return err
			}
			var extra []string
			if faults {
				extra = append(extra, "--enable-fault-injection")
			}
			if err := cluster.Launch(f, self, extra...); err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), wait)
			defer cancel()
			client, err := httpClient(f)
			if err != nil {
				return err
			}
			if err := cluster.WaitHealthy(ctx, f, client); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "cluster up: %d nodes, cluster file %s\n\n", len(f.Nodes), path)
			return printNodes(cmd, f, client)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&spec.Nodes, "nodes", 3, "number of nodes (1-9)")
	fl.StringVar(&spec.Dir, "dir", defaultClusterDir, "directory of the cluster file, token, logs, pids and data")
	fl.IntVar(&spec.BasePort, "base-port", defaultBasePort, "node i serves HTTP on BASE+i, peers on BASE+100+i, admin on BASE+200+i")
	fl.StringVar(&services, "services", "", "comma-separated services every node runs (default locks,queues,caches)")
	fl.BoolVar(&faults, "enable-fault-injection", false, "start the nodes with their fault-injection admin endpoint")
	fl.DurationVar(&wait, "wait", 30*time.Second, "how long to wait for every node to be healthy")
	return cmd
}

func newClusterDownCmd() *cobra.Command {
	var (
		dir   string
		grace time.Duration
	)
	cmd := &cobra.Command{
		Use:   "down [--dir out/cluster]",
		Short: "Stop a local cluster: SIGTERM every node (a clean shutdown), SIGKILL those still alive after --grace",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := cluster.Load(filepath.Join(dir, cluster.FileName))
			if err != nil {
				return usageError{err}
			}
			stopped, err := cluster.Down(f, grace)
			fmt.Fprintf(cmd.OutOrStdout(), "cluster down: stopped %d node(s) %v\n", len(stopped), stopped)
			return err
		},
	}
	cmd.Flags().StringVar(&dir, "dir", defaultClusterDir, "the directory 'cluster up' used")
	cmd.Flags().DurationVar(&grace, "grace", 10*time.Second, "how long a node may take to shut down cleanly")
	return cmd
}

func newClusterStatusCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "status [--dir out/cluster]",
		Short: "Print each node's endpoints and health",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := cluster.Load(filepath.Join(dir, cluster.FileName))
			if err != nil {
				return usageError{err}
			}
			client, err := httpClient(f)
			if err != nil {
				return err
			}
			return printNodes(cmd, f, client)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", defaultClusterDir, "the directory 'cluster up' used")
	return cmd
}

// httpClient returns a client for the cluster's HTTP API that does not
// follow redirects (callers see 307s) and times out.
func httpClient(f *cluster.File) (*http.Client, error) {
	tlsCfg, err := f.ClientTLS()
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if tlsCfg != nil {
		tr.TLSClientConfig = tlsCfg
	} else {
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}, nil
}

// printNodes prints a table of the cluster's nodes and their health.
func printNodes(cmd *cobra.Command, f *cluster.File, client *http.Client) error {
	var rows [][]string
	for i := range f.Nodes {
		n := &f.Nodes[i]
		health := "down"
		if resp, err := client.Get(f.URL(n) + "/health"); err == nil {
			resp.Body.Close()
			health = resp.Status
		}
		rows = append(rows, []string{string(n.ID), f.URL(n), n.Peer, strings.Join(n.Services, ","), health})
	}
	return reports.Table(cmd.OutOrStdout(), reports.Text, []string{"node", "http", "peer", "services", "health"}, rows)
}
