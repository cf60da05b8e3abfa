package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/distsync/distsync/cluster"
	"github.com/distsync/distsync/scenarios/spec"
	"github.com/distsync/distsync/scenarios/tcprun"
)

// runTCP runs scenario s against the real cluster of f.tcp.
func runTCP(cmd *cobra.Command, s *spec.Scenario, f runFlags, format outputFormat) error {
	if f.trace != "" {
		return usageError{fmt.Errorf("--trace: a run against a real cluster has no trace (the simulator's)")}
	}
	cf, err := cluster.Load(f.tcp)
	if err != nil {
		return usageError{fmt.Errorf("--tcp: %w", err)}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if ctx == nil {
		ctx = context.Background()
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "running %s against the cluster of %s for %v (not deterministic)\n", s.Name, f.tcp, s.Duration.D())
	res, err := tcprun.Run(ctx, s, tcprun.Options{Cluster: cf, Binary: self, Seed: f.seed})
	if err != nil {
		return usageError{err}
	}
	return finishRun(cmd, f, format, res)
}
