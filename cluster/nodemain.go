package cluster

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/distsync/distsync/nodes"
)

// NodeEnv, set to "1", makes a test binary run a node instead of its
// tests: tests that need real node processes call RunNode from TestMain
// when it is set, and Launch then starts the test binary itself.
const NodeEnv = "DISTSYNC_CLUSTER_TEST_NODE"

// RunNode runs a node from the arguments Launch passes ("node --config F
// --id N [--enable-fault-injection]") until SIGTERM or SIGINT, as
// `distsync node` does, and returns the process's exit code. It lets a test
// binary stand in for distsync (see NodeEnv).
func RunNode(args []string, stderr io.Writer) int {
	var config, id string
	faults := false
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "--config", "--id":
			if i+1 == len(args) {
				fmt.Fprintf(stderr, "%s: no value\n", args[i])
				return 2
			}
			if args[i] == "--config" {
				config = args[i+1]
			} else {
				id = args[i+1]
			}
			i++
		case "--enable-fault-injection":
			faults = true
		}
	}
	f, err := Load(config)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	p, err := StartProcess(f, nodes.NodeID(id), Options{EnableFaultInjection: faults, Logger: logger})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case <-sig:
	case <-p.Host.Done():
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.Stop(ctx); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}
