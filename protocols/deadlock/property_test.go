package deadlock

import (
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// oracle is a brute-force wait-for graph: a plain edge set and
// reachability by exhaustive search.
type oracle struct {
	waiting map[OwnerID]uint64
	edges   map[OwnerID]map[OwnerID]bool
}

func newOracle() *oracle {
	return &oracle{waiting: map[OwnerID]uint64{}, edges: map[OwnerID]map[OwnerID]bool{}}
}

func (o *oracle) add(w OwnerID, holders []OwnerID, idx uint64) {
	o.waiting[w] = idx
	if o.edges[w] == nil {
		o.edges[w] = map[OwnerID]bool{}
	}
	for _, h := range holders {
		o.edges[w][h] = true
	}
}

func (o *oracle) removeWaiter(w OwnerID) {
	delete(o.waiting, w)
	delete(o.edges, w)
}

func (o *oracle) removeOwner(x OwnerID) {
	o.removeWaiter(x)
	for _, out := range o.edges {
		delete(out, x)
	}
}

// reaches reports whether there is a non-empty path from a to b.
func (o *oracle) reaches(a, b OwnerID) bool {
	seen := map[OwnerID]bool{}
	frontier := []OwnerID{a}
	for len(frontier) > 0 {
		n := frontier[len(frontier)-1]
		frontier = frontier[:len(frontier)-1]
		for m := range o.edges[n] {
			if m == b {
				return true
			}
			if !seen[m] {
				seen[m] = true
				frontier = append(frontier, m)
			}
		}
	}
	return false
}

func (o *oracle) acyclic() bool {
	for n := range o.edges {
		if o.reaches(n, n) {
			return false
		}
	}
	return true
}

func (o *oracle) sortedEdges() []Edge {
	var es []Edge
	for from, out := range o.edges {
		for to := range out {
			es = append(es, Edge{From: from, To: to})
		}
	}
	slices.SortFunc(es, func(a, b Edge) int {
		if a.From != b.From {
			return int(a.From) - int(b.From)
		}
		return int(a.To) - int(b.To)
	})
	return es
}

// checkCycle verifies that cycle is a real cycle of the oracle starting at w.
func (o *oracle) checkCycle(t *rapid.T, w OwnerID, cycle []OwnerID) {
	if cycle[0] != w {
		t.Fatalf("cycle %v does not start at waiter %d", cycle, w)
	}
	seen := map[OwnerID]bool{}
	for i, n := range cycle {
		if seen[n] {
			t.Fatalf("cycle %v repeats %d", cycle, n)
		}
		seen[n] = true
		next := cycle[(i+1)%len(cycle)]
		if !o.edges[n][next] {
			t.Fatalf("cycle %v uses missing edge %d->%d", cycle, n, next)
		}
	}
}

func TestGraphMatchesOracle(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		g, o := New(), newOracle()
		owner := rapid.Custom(func(t *rapid.T) OwnerID {
			return OwnerID(rapid.IntRange(1, 8).Draw(t, "owner"))
		})
		var index uint64
		steps := rapid.IntRange(1, 80).Draw(t, "steps")
		for range steps {
			switch rapid.IntRange(0, 5).Draw(t, "op") {
			case 0, 1, 2, 3:
				w := owner.Draw(t, "waiter")
				holders := rapid.SliceOfN(owner, 0, 4).Draw(t, "holders")
				holders = slices.DeleteFunc(holders, func(h OwnerID) bool { return h == w })
				index++
				o.add(w, holders, index)
				want := o.reaches(w, w)
				cycle := g.AddWait(w, holders, index)
				if (cycle != nil) != want {
					t.Fatalf("AddWait(%d, %v) cycle %v, oracle says cyclic=%v", w, holders, cycle, want)
				}
				for cycle != nil {
					o.checkCycle(t, w, cycle)
					v := Victim(cycle, func(x OwnerID) uint64 { return o.waiting[x] })
					for _, x := range cycle {
						if o.waiting[x] > o.waiting[v] {
							t.Fatalf("victim %d (index %d) is not the youngest of %v", v, o.waiting[v], cycle)
						}
					}
					g.RemoveWaiter(v)
					o.removeWaiter(v)
					cycle = g.FindCycle(w)
					if (cycle != nil) != o.reaches(w, w) {
						t.Fatalf("FindCycle(%d) = %v disagrees with the oracle", w, cycle)
					}
				}
			case 4:
				w := owner.Draw(t, "waiter")
				g.RemoveWaiter(w)
				o.removeWaiter(w)
			case 5:
				x := owner.Draw(t, "owner")
				g.RemoveOwner(x)
				o.removeOwner(x)
			}
			if !o.acyclic() {
				t.Fatalf("oracle graph cyclic after resolution")
			}
			if err := g.CheckInvariants(); err != nil {
				t.Fatal(err)
			}
			if got, want := g.Edges(), o.sortedEdges(); !slices.Equal(got, want) {
				t.Fatalf("edges %v, oracle %v", got, want)
			}
			for x := OwnerID(1); x <= 8; x++ {
				_, want := o.waiting[x]
				if g.IsWaiting(x) != want {
					t.Fatalf("IsWaiting(%d) = %v, oracle %v", x, !want, want)
				}
			}
		}
	})
}
