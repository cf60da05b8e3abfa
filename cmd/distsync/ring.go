package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/distsync/distsync/protocols/hashring"
	"github.com/distsync/distsync/reports"
)

// ringFlags are the flags shared by the ring subcommands.
type ringFlags struct {
	nodes  string
	vnodes int
	hash   string
	keys   int
	add    string
	remove string
}

// maxRingNodes and maxRingKeys bound the ring commands' work.
const (
	maxRingNodes = 1_000
	maxRingKeys  = 10_000_000
)

func newRingCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ring",
		Short: "Explore the consistent-hash ring that places queues on nodes",
		Long: `ring works with the consistent-hash ring of protocols/hashring, as in the
original design: every node gets --vnodes virtual nodes (150 by default) at
MD5("<node>:<i>") on a 2^128 ring, and a key belongs to the first virtual node
clockwise from MD5(key). --hash xxhash uses the 64-bit xxHash instead, which
is faster but places keys differently.

Exit code: 0 on success, 1 if a check fails, 2 on bad input.`,
		Example: `  distsync ring lookup --nodes a,b,c orders payments
  distsync ring stats --nodes a,b,c,d --keys 100000 --add e`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newRingLookupCmd(), newRingStatsCmd())
	return cmd
}

// ringCommonFlags registers --nodes, --vnodes and --hash.
func ringCommonFlags(cmd *cobra.Command, f *ringFlags) {
	fl := cmd.Flags()
	fl.StringVar(&f.nodes, "nodes", "", "the nodes, comma-separated (required)")
	fl.IntVar(&f.vnodes, "vnodes", hashring.DefaultVNodes, "virtual nodes per node (1 to 10000)")
	fl.StringVar(&f.hash, "hash", "md5", "hash placing nodes and keys: md5 or xxhash")
}

func newRingLookupCmd() *cobra.Command {
	var f ringFlags
	cmd := &cobra.Command{
		Use:   "lookup --nodes A,B,... KEY...",
		Short: "Print the node that owns each key",
		Long: `lookup prints, for each KEY, a line "KEY<TAB>NODE": the node that owns the key
on a ring of --nodes.`,
		Example: `  distsync ring lookup --nodes a,b,c orders payments
  distsync ring lookup --nodes n1,n2,n3 --vnodes 50 --hash xxhash user:42`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := buildRing(f)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			for _, key := range args {
				fmt.Fprintf(out, "%s\t%s\n", key, r.Lookup(key))
			}
			return nil
		},
	}
	ringCommonFlags(cmd, &f)
	return cmd
}

func newRingStatsCmd() *cobra.Command {
	var f ringFlags
	cmd := &cobra.Command{
		Use:   "stats --nodes A,B,... [--keys N] [--add X | --remove X]",
		Short: "Print how evenly keys spread over the nodes, and how many move",
		Long: `stats places the keys "key-0" to "key-(N-1)" on a ring of --nodes and prints
each node's load: its keys, its share of them and its load over the average;
then the largest load over the average and the standard deviation of the
loads.

With --add X (or --remove X) it also places the keys on the ring with X added
(or removed), prints the loads after, the fraction of keys that moved next to
the ideal (K/N), and checks that only keys going to X (or leaving X) moved.`,
		Example: `  distsync ring stats --nodes a,b,c --keys 100000
  distsync ring stats --nodes a,b,c,d --add e
  distsync ring stats --nodes a,b,c,d --remove b --vnodes 50 --hash xxhash`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runRingStats(cmd.OutOrStdout(), f) },
	}
	ringCommonFlags(cmd, &f)
	fl := cmd.Flags()
	fl.IntVar(&f.keys, "keys", 100_000, "number of keys to place (1 to 10000000)")
	fl.StringVar(&f.add, "add", "", "also show what changes when this node joins")
	fl.StringVar(&f.remove, "remove", "", "also show what changes when this node leaves")
	return cmd
}

// parseNodes reads --nodes: comma-separated, non-empty ids.
func parseNodes(s string) ([]hashring.NodeID, error) {
	if strings.TrimSpace(s) == "" {
		return nil, usageError{errors.New("--nodes: required, e.g. --nodes a,b,c")}
	}
	parts := strings.Split(s, ",")
	if len(parts) > maxRingNodes {
		return nil, usageError{fmt.Errorf("--nodes: %d nodes, at most %d", len(parts), maxRingNodes)}
	}
	nodes := make([]hashring.NodeID, len(parts))
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" {
			return nil, usageError{fmt.Errorf("--nodes %q: node %d is empty", s, i+1)}
		}
		nodes[i] = hashring.NodeID(p)
	}
	return nodes, nil
}

// buildRing makes the ring the flags describe; any problem is bad input.
func buildRing(f ringFlags) (*hashring.Ring, error) {
	nodes, err := parseNodes(f.nodes)
	if err != nil {
		return nil, err
	}
	h, err := hashring.HashByName(f.hash)
	if err != nil {
		return nil, usageError{fmt.Errorf("--hash: %w", err)}
	}
	if f.vnodes < 1 || f.vnodes > hashring.MaxVNodes {
		return nil, usageError{fmt.Errorf("--vnodes %d: must be between 1 and %d", f.vnodes, hashring.MaxVNodes)}
	}
	r, err := hashring.New(f.vnodes, h, nodes...)
	if err != nil {
		return nil, usageError{fmt.Errorf("--nodes: %w", err)}
	}
	return r, nil
}

// loadStats summarises the keys per node.
type loadStats struct {
	maxOverAvg, minOverAvg, stddev, avg float64
}

func statsOf(nodes []hashring.NodeID, load map[hashring.NodeID]int, keys int) loadStats {
	avg := float64(keys) / float64(len(nodes))
	s := loadStats{avg: avg, minOverAvg: math.Inf(1)}
	var sq float64
	for _, n := range nodes {
		c := float64(load[n])
		s.maxOverAvg = max(s.maxOverAvg, c/avg)
		s.minOverAvg = min(s.minOverAvg, c/avg)
		sq += (c - avg) * (c - avg)
	}
	s.stddev = math.Sqrt(sq / float64(len(nodes)))
	return s
}

func (s loadStats) String() string {
	return fmt.Sprintf("max/avg %.3f, min/avg %.3f, stddev %.1f keys (%.1f %% of avg %.1f)",
		s.maxOverAvg, s.minOverAvg, s.stddev, 100*s.stddev/s.avg, s.avg)
}

func runRingStats(out io.Writer, f ringFlags) error {
	r, err := buildRing(f)
	if err != nil {
		return err
	}
	if f.keys < 1 || f.keys > maxRingKeys {
		return usageError{fmt.Errorf("--keys %d: must be between 1 and %d", f.keys, maxRingKeys)}
	}
	if f.add != "" && f.remove != "" {
		return usageError{errors.New("--add and --remove: give one at most")}
	}
	var after *hashring.Ring
	var change, flag string
	switch {
	case f.add != "":
		change, flag = f.add, "--add"
		after, _ = hashring.New(r.VNodes(), r.Hash(), r.Nodes()...)
		if err := after.Add(hashring.NodeID(f.add)); err != nil {
			return usageError{fmt.Errorf("--add: %w", err)}
		}
	case f.remove != "":
		change, flag = f.remove, "--remove"
		after, _ = hashring.New(r.VNodes(), r.Hash(), r.Nodes()...)
		if err := after.Remove(hashring.NodeID(f.remove)); err != nil {
			return usageError{fmt.Errorf("--remove: %w", err)}
		}
		if after.Len() == 0 {
			return usageError{fmt.Errorf("--remove %s: would leave the ring empty", f.remove)}
		}
	}
	owners := make([]hashring.NodeID, f.keys)
	load := map[hashring.NodeID]int{}
	for i := range owners {
		owners[i] = r.Lookup("key-" + strconv.Itoa(i))
		load[owners[i]]++
	}
	fmt.Fprintf(out, "ring: %s, %d vnodes, %d nodes, %d keys\n\n", r.Hash().Name(), r.VNodes(), r.Len(), f.keys)
	header := []string{"node", "keys", "share", "load/avg"}
	if after == nil {
		rows := loadRows(r.Nodes(), load, r.Len(), f.keys, nil, 0)
		if err := reports.Table(out, reports.Text, header, rows); err != nil {
			return err
		}
		fmt.Fprintf(out, "load: %s\n", statsOf(r.Nodes(), load, f.keys))
		return nil
	}
	loadAfter := map[hashring.NodeID]int{}
	moved, stray := 0, 0
	x := hashring.NodeID(change)
	for i, was := range owners {
		now := after.Lookup("key-" + strconv.Itoa(i))
		loadAfter[now]++
		if now != was {
			moved++
			if now != x && was != x {
				stray++
			}
		}
	}
	all := mergeNodes(r.Nodes(), after.Nodes())
	header = append(header, "keys after", "share after", "load/avg after")
	rows := loadRows(all, load, r.Len(), f.keys, loadAfter, after.Len())
	for i, n := range all {
		if !r.Has(n) {
			rows[i][1], rows[i][2], rows[i][3] = "-", "-", "-"
		}
		if !after.Has(n) {
			rows[i][4], rows[i][5], rows[i][6] = "-", "-", "-"
		}
	}
	if err := reports.Table(out, reports.Text, header, rows); err != nil {
		return err
	}
	fmt.Fprintf(out, "load before: %s\n", statsOf(r.Nodes(), load, f.keys))
	fmt.Fprintf(out, "load after:  %s\n", statsOf(after.Nodes(), loadAfter, f.keys))
	ideal := 1 / float64(after.Len())
	if f.remove != "" {
		ideal = 1 / float64(r.Len())
	}
	fmt.Fprintf(out, "moved: %d of %d keys (%.2f %%); ideal K/N = %.2f %%\n",
		moved, f.keys, 100*float64(moved)/float64(f.keys), 100*ideal)
	dir := "to"
	if f.remove != "" {
		dir = "from"
	}
	if stray > 0 {
		fmt.Fprintf(out, "only keys %s %s moved: no, %d keys moved between other nodes\n", dir, x, stray)
		return fmt.Errorf("ring stats %s %s: %d keys moved between other nodes", flag, x, stray)
	}
	fmt.Fprintf(out, "only keys %s %s moved: yes\n", dir, x)
	return nil
}

// loadRows makes one row per node: keys, share and load over the average,
// and the same after a change if loadAfter is not nil.
func loadRows(nodes []hashring.NodeID, load map[hashring.NodeID]int, n, keys int, loadAfter map[hashring.NodeID]int, nAfter int) [][]string {
	cells := func(c, count int) []string {
		avg := float64(keys) / float64(count)
		return []string{strconv.Itoa(c), fmt.Sprintf("%.2f %%", 100*float64(c)/float64(keys)), fmt.Sprintf("%.3f", float64(c)/avg)}
	}
	rows := make([][]string, 0, len(nodes))
	for _, node := range nodes {
		row := append([]string{string(node)}, cells(load[node], n)...)
		if loadAfter != nil {
			row = append(row, cells(loadAfter[node], nAfter)...)
		}
		rows = append(rows, row)
	}
	return rows
}

// mergeNodes returns the sorted union of two sorted node lists.
func mergeNodes(a, b []hashring.NodeID) []hashring.NodeID {
	out := make([]hashring.NodeID, 0, len(a)+1)
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || i < len(a) && a[i] < b[j]:
			out = append(out, a[i])
			i++
		case i == len(a) || b[j] < a[i]:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i, j = i+1, j+1
		}
	}
	return out
}
