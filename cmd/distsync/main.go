// Command distsync is the one binary of the distsync testbed: it runs
// simulations, sweeps seeds, replays a failing seed exactly and reports on
// what happened.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// usageError marks a bad command line or configuration: exit code 2.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

// failedError marks a run whose checks failed: exit code 1.
var errChecksFailed = errors.New("checks failed")

func main() {
	root := newRoot()
	err := root.Execute()
	if err == nil {
		return
	}
	fmt.Fprintln(os.Stderr, "distsync:", err)
	var u usageError
	if errors.As(err, &u) {
		os.Exit(2)
	}
	os.Exit(1)
}

// wrapArgs makes every command's argument errors usage errors (exit 2).
func wrapArgs(c *cobra.Command) {
	if c.Args != nil {
		check := c.Args
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := check(cmd, args); err != nil {
				var u usageError
				if errors.As(err, &u) {
					return err
				}
				return usageError{err}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		wrapArgs(sub)
	}
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "distsync",
		Short: "A deterministic simulation testbed for distributed synchronization",
		Long: `distsync is a deterministic simulation testbed for distributed systems: a lock
manager replicated by Raft, a durable queue placed by consistent hashing and a
MESI-coherent cache run in a simulated world (virtual clock, network, disk,
faults) where one seed gives one run, bit for bit. Scenario files say what to
run and which faults to inject; run, sweep, replay and shrink work on them.
The same node code runs as a real cluster over TCP: node, cluster, client.

Exit codes: 0 every check passed, 1 a check failed or the run could not
complete, 2 bad input (flags, arguments, scenario files).`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	root.Args = func(_ *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usageError{fmt.Errorf("unknown command %q", args[0])}
		}
		return nil
	}
	root.AddCommand(newRunCmd(), newSweepCmd(), newReplayCmd(), newShrinkCmd(), newChaosCmd(), newBenchCmd(), newReportCmd(), newRingCmd(),
		newNodeCmd(), newClusterCmd(), newClientCmd(), newLoadCmd())
	wrapArgs(root)
	return root
}
