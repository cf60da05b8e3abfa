package hashring

import (
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// genNodes draws 1 to 8 distinct node ids from a small alphabet (so names
// share prefixes and some contain the ':' of the labels).
func genNodes(t *rapid.T, label string) []NodeID {
	ids := rapid.SliceOfNDistinct(rapid.StringMatching(`[ab:1]{1,4}`), 1, 8, rapid.ID[string]).Draw(t, label)
	out := make([]NodeID, len(ids))
	for i, s := range ids {
		out[i] = NodeID(s)
	}
	return out
}

func genHash(t *rapid.T) Hash {
	return rapid.SampledFrom([]Hash{MD5, XXHash, collidingHash{}}).Draw(t, "hash")
}

func genKeys(t *rapid.T) []string {
	return rapid.SliceOfN(rapid.String(), 1, 30).Draw(t, "keys")
}

// build makes a ring or fails the property.
func build(t *rapid.T, vnodes int, h Hash, nodes []NodeID) *Ring {
	r, err := New(vnodes, h, nodes...)
	require.NoError(t, err)
	require.NoError(t, r.CheckInvariants())
	return r
}

// refFor returns the reference points of a ring.
func refFor(h Hash, nodes []NodeID, vnodes int) []refPoint {
	if h == MD5 {
		h = nil // the reference computes MD5 itself
	}
	return refPoints(nodes, vnodes, h)
}

func TestPropertyMatchesReference(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		nodes, h := genNodes(t, "nodes"), genHash(t)
		vnodes := rapid.IntRange(1, 12).Draw(t, "vnodes")
		r := build(t, vnodes, h, nodes)
		pts := refFor(h, nodes, vnodes)
		n := rapid.IntRange(1, 10).Draw(t, "n")
		for _, key := range genKeys(t) {
			pos := posBig(h.Position(key))
			if h == MD5 {
				pos = md5Big(key)
			}
			require.Equal(t, refLookup(pts, pos), r.Lookup(key), "key %q", key)
			require.Equal(t, refPreference(pts, pos, n), r.Preference(key, n), "key %q", key)
		}
	})
}

func TestPropertyInsertionOrderDoesNotMatter(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		nodes, h := genNodes(t, "nodes"), genHash(t)
		vnodes := rapid.IntRange(1, 12).Draw(t, "vnodes")
		a := build(t, vnodes, h, nodes)
		shuffled := rapid.Permutation(nodes).Draw(t, "order")
		// Build the second ring the long way: add the nodes one by one in
		// another order, with a node outside the alphabet ("extra") added
		// after the first and removed at the end.
		b := build(t, vnodes, h, nil)
		for i, n := range shuffled {
			require.NoError(t, b.Add(n))
			if i == 0 {
				require.NoError(t, b.Add("extra"))
			}
		}
		require.NoError(t, b.Remove("extra"))
		require.NoError(t, b.CheckInvariants())
		require.Equal(t, a.points, b.points)
		require.Equal(t, a.Nodes(), b.Nodes())
		for _, key := range genKeys(t) {
			require.Equal(t, a.Lookup(key), b.Lookup(key))
			require.Equal(t, a.Preference(key, 3), b.Preference(key, 3))
		}
	})
}

func TestPropertyAddMovesKeysOnlyToTheNewNode(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		nodes, h := genNodes(t, "nodes"), genHash(t)
		vnodes := rapid.IntRange(1, 12).Draw(t, "vnodes")
		r := build(t, vnodes, h, nodes)
		extra := NodeID(rapid.StringMatching(`[abc:2]{1,5}`).Filter(func(s string) bool {
			return !slices.Contains(nodes, NodeID(s))
		}).Draw(t, "new"))
		keys := genKeys(t)
		before := make([]NodeID, len(keys))
		for i, k := range keys {
			before[i] = r.Lookup(k)
		}
		require.NoError(t, r.Add(extra))
		require.NoError(t, r.CheckInvariants())
		for i, k := range keys {
			if after := r.Lookup(k); after != before[i] {
				require.Equal(t, extra, after, "key %q moved from %q to %q, not to the new node", k, before[i], after)
			}
		}
		// And removing it again puts every key back.
		require.NoError(t, r.Remove(extra))
		for i, k := range keys {
			require.Equal(t, before[i], r.Lookup(k))
		}
	})
}

func TestPropertyRemoveMovesOnlyTheRemovedNodesKeys(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		nodes, h := genNodes(t, "nodes"), genHash(t)
		if len(nodes) < 2 {
			nodes = append(nodes, "zz")
		}
		vnodes := rapid.IntRange(1, 12).Draw(t, "vnodes")
		r := build(t, vnodes, h, nodes)
		gone := rapid.SampledFrom(nodes).Draw(t, "gone")
		keys := genKeys(t)
		before := make([]NodeID, len(keys))
		for i, k := range keys {
			before[i] = r.Lookup(k)
		}
		require.NoError(t, r.Remove(gone))
		require.NoError(t, r.CheckInvariants())
		require.False(t, r.Has(gone))
		for i, k := range keys {
			after := r.Lookup(k)
			require.NotEqual(t, gone, after)
			if before[i] != gone {
				require.Equal(t, before[i], after, "key %q of %q moved when %q left", k, before[i], gone)
			}
		}
	})
}

func TestPropertyPreferenceIsDistinctAndStartsWithTheOwner(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		nodes, h := genNodes(t, "nodes"), genHash(t)
		r := build(t, rapid.IntRange(1, 12).Draw(t, "vnodes"), h, nodes)
		n := rapid.IntRange(-1, 12).Draw(t, "n")
		for _, key := range genKeys(t) {
			pref := r.Preference(key, n)
			require.Len(t, pref, max(0, min(n, len(nodes))))
			seen := map[NodeID]bool{}
			for _, p := range pref {
				require.False(t, seen[p], "%q twice in %v", p, pref)
				require.True(t, r.Has(p))
				seen[p] = true
			}
			if len(pref) > 0 {
				require.Equal(t, r.Lookup(key), pref[0])
				// A shorter list is a prefix of a longer one.
				require.Equal(t, pref[:1], r.Preference(key, 1))
			}
		}
	})
}

func BenchmarkRingLookup(b *testing.B) {
	for _, h := range Hashes {
		b.Run(h.Name(), func(b *testing.B) {
			var nodes []NodeID
			for i := 0; i < 10; i++ {
				nodes = append(nodes, NodeID(fmt.Sprintf("node-%d", i)))
			}
			r, err := New(DefaultVNodes, h, nodes...)
			if err != nil {
				b.Fatal(err)
			}
			keys := make([]string, 1024)
			for i := range keys {
				keys[i] = fmt.Sprintf("queue-%d", i)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if r.Lookup(keys[i&1023]) == "" {
					b.Fatal("empty owner")
				}
			}
		})
	}
}
