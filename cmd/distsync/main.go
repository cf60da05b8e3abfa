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

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "distsync",
		Short: "A deterministic simulation testbed for distributed synchronization",
		Long: `distsync runs a lock manager (Raft), a queue (consistent hashing + WAL) and a
cache (MESI) inside a deterministic simulator: one seed gives one run, bit
for bit. See README.md for what is built so far.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newChaosCmd())
	return root
}
