package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/distsync/distsync/cluster"
	"github.com/distsync/distsync/nodes"
)

// shutdownGrace bounds a clean shutdown on SIGTERM.
const shutdownGrace = 10 * time.Second

func newNodeCmd() *cobra.Command {
	var (
		config, id string
		faults     bool
		logLevel   string
	)
	cmd := &cobra.Command{
		Use:   "node --config cluster.yaml --id n1",
		Short: "Run one node of a real cluster (TCP, HTTP API) until SIGTERM",
		Long: `node runs one node of a real distsync cluster in this process: the very
node code the simulator tests, on the wall clock, fsynced files and TCP. The
cluster file lists every node's id, peer and HTTP addresses, data directory
and services (locks, queues, caches); see README "Running a real cluster".

The node serves its HTTP API on its http address, talks to its peers on its
peer address (every connection authenticated with the cluster token), and
recovers its state from its data directory on start: a node killed with
SIGKILL restarts from its write-ahead log. SIGTERM or SIGINT shut it down
cleanly (HTTP requests finish, queued frames are flushed).

--enable-fault-injection also serves the admin endpoint (the transport's
fault filter: partitions, loss, delay) on the node's loopback admin address.
It is off by default.`,
		Example: `  distsync node --config out/cluster/cluster.yaml --id n1`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			level, err := parseLevel(logLevel)
			if err != nil {
				return usageError{err}
			}
			f, err := cluster.Load(config)
			if err != nil {
				return usageError{err}
			}
			logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			return runNode(ctx, f, nodes.NodeID(id), cluster.Options{EnableFaultInjection: faults, Logger: logger}, logger)
		},
	}
	cmd.Flags().StringVar(&config, "config", "", "the cluster file (required)")
	cmd.Flags().StringVar(&id, "id", "", "this node's id in the cluster file (required)")
	cmd.Flags().BoolVar(&faults, "enable-fault-injection", false, "serve the admin endpoint of the fault filter on the node's loopback admin address")
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	_ = cmd.MarkFlagRequired("config")
	_ = cmd.MarkFlagRequired("id")
	return cmd
}

// runNode runs a node until ctx ends (a signal) or the node fails.
func runNode(ctx context.Context, f *cluster.File, id nodes.NodeID, opts cluster.Options, logger *slog.Logger) error {
	if _, err := f.Node(id); err != nil {
		return usageError{err}
	}
	p, err := cluster.StartProcess(f, id, opts)
	if err != nil {
		return err
	}
	logger.Info("node up", "node", id, "http", p.Node.HTTP, "peer", p.Node.Peer, "services", p.Node.Services)
	var failure error
	select {
	case <-ctx.Done():
		logger.Info("shutting down", "node", id)
	case <-p.Host.Done():
		failure = p.Host.Err()
		if failure == nil {
			failure = fmt.Errorf("node %s: event loop ended", id)
		}
	case err := <-p.Failed():
		failure = fmt.Errorf("node %s: http: %w", id, err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := p.Stop(sctx); err != nil && failure == nil {
		failure = err
	}
	if failure != nil {
		fmt.Fprintln(os.Stderr, "distsync node:", failure)
	}
	return failure
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("--log-level: %q is not debug, info, warn or error", s)
	}
	return l, nil
}
