package main

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/protocols/hashring"
)

func TestRingLookupPrintsKeyTabNode(t *testing.T) {
	out, err := run(t, "ring", "lookup", "--nodes", "node_0,node_1,node_2", "--vnodes", "2", "key_1", "key_2", "k11")
	require.NoError(t, err, out)
	// The hand-computed example of protocols/hashring.
	require.Equal(t, "key_1\tnode_2\nkey_2\tnode_1\nk11\tnode_0\n", out)

	r, err := hashring.New(hashring.DefaultVNodes, hashring.XXHash, "a", "b", "c")
	require.NoError(t, err)
	out, err = run(t, "ring", "lookup", "--nodes", "a, b ,c", "--hash", "xxhash", "orders", "payments")
	require.NoError(t, err, out)
	require.Equal(t, "orders\t"+string(r.Lookup("orders"))+"\npayments\t"+string(r.Lookup("payments"))+"\n", out)
}

func TestRingStats(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"plain", nil, []string{"ring: md5, 150 vnodes, 4 nodes, 20000 keys", "load/avg", "load: max/avg "}},
		{"add", []string{"--add", "e"}, []string{"keys after", "moved: ", "only keys to e moved: yes"}},
		{"remove", []string{"--remove", "b", "--hash", "xxhash", "--vnodes", "40"},
			[]string{"ring: xxhash, 40 vnodes", "ideal K/N = 25.00 %", "only keys from b moved: yes"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"ring", "stats", "--nodes", "a,b,c,d", "--keys", "20000"}, tc.args...)
			out, err := run(t, args...)
			require.NoError(t, err, out)
			for _, w := range tc.want {
				require.Contains(t, out, w)
			}
			for _, node := range []string{"a", "b", "c", "d"} {
				require.Contains(t, out, "│ "+node+" ")
			}
			for _, line := range strings.Split(out, "\n") {
				require.LessOrEqual(t, len([]rune(line)), 100, "line wider than 100 columns: %q", line)
			}
		})
	}
}

func TestRingStatsKeyCountsAddUp(t *testing.T) {
	out, err := run(t, "ring", "stats", "--nodes", "x,y", "--keys", "1000", "--vnodes", "10")
	require.NoError(t, err, out)
	total := 0
	for _, line := range strings.Split(out, "\n") {
		f := strings.Split(line, "│")
		if len(f) == 6 && (strings.TrimSpace(f[1]) == "x" || strings.TrimSpace(f[1]) == "y") {
			n, err := strconv.Atoi(strings.TrimSpace(f[2]))
			require.NoError(t, err, line)
			total += n
		}
	}
	require.Equal(t, 1000, total, out)
}

func TestRingBadInputIsExit2(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"ring", "lookup", "--nodes", "a,,c", "k"}, `node 2 is empty`},
		{[]string{"ring", "lookup", "--nodes", "", "k"}, "--nodes: required"},
		{[]string{"ring", "lookup", "--nodes", "a,b,a", "k"}, `add node "a": already on the ring`},
		{[]string{"ring", "lookup", "--nodes", "a,b"}, "requires at least 1 arg"},
		{[]string{"ring", "lookup", "--nodes", "a", "--hash", "sha1", "k"}, `hash "sha1": unknown`},
		{[]string{"ring", "lookup", "--nodes", "a", "--vnodes", "0", "k"}, "--vnodes 0"},
		{[]string{"ring", "stats", "--nodes", "a,b", "--add", "a"}, `add node "a": already on the ring`},
		{[]string{"ring", "stats", "--nodes", "a,b", "--remove", "z"}, `remove node "z": not on the ring`},
		{[]string{"ring", "stats", "--nodes", "a", "--remove", "a"}, "empty"},
		{[]string{"ring", "stats", "--nodes", "a,b", "--add", "c", "--remove", "a"}, "give one at most"},
		{[]string{"ring", "stats", "--nodes", "a,b", "--keys", "0"}, "--keys 0"},
		{[]string{"ring", "stats", "--nodes", "a,b", "--keys", "many"}, "invalid argument"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			out, err := run(t, tc.args...)
			require.Error(t, err, out)
			var u usageError
			require.True(t, errors.As(err, &u), "want a usage error (exit 2), got %v", err)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestRingHelpHasExamples(t *testing.T) {
	for _, sub := range []string{"lookup", "stats"} {
		out, err := run(t, "ring", sub, "--help")
		require.NoError(t, err)
		require.Contains(t, out, "Examples:")
		require.Contains(t, out, "distsync ring "+sub+" --nodes")
	}
}
