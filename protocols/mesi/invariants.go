package mesi

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
)

// CheckSWMR checks the single-writer/multiple-reader invariant of one key
// given the stable state of every node's line (absent or Invalid means no
// copy): either one node holds it in M or E and no other node holds a
// valid copy, or any number of nodes hold it in S.
func CheckSWMR(key string, lines map[NodeID]State) error {
	var owners, sharers []NodeID
	for _, n := range slices.Sorted(maps.Keys(lines)) {
		switch s := lines[n]; s {
		case Modified, Exclusive:
			owners = append(owners, n)
		case Shared:
			sharers = append(sharers, n)
		case Invalid:
		default:
			return fmt.Errorf("mesi: SWMR %q: node %s holds state %v", key, n, s)
		}
	}
	if len(owners) > 1 {
		return fmt.Errorf("mesi: SWMR %q: %d owners %v", key, len(owners), owners)
	}
	if len(owners) == 1 && len(sharers) > 0 {
		return fmt.Errorf("mesi: SWMR %q: owner %s (%v) alongside sharers %v", key, owners[0], lines[owners[0]], sharers)
	}
	return nil
}

// CheckSWMRAll checks CheckSWMR for every key some node holds, keys in
// sorted order, given each node's stable lines (Protocol.Lines).
func CheckSWMRAll(lines map[NodeID][]Line) error {
	states := map[string]map[NodeID]State{}
	for n, ls := range lines { //det:ordered building a map
		for _, l := range ls {
			if states[l.Key] == nil {
				states[l.Key] = map[NodeID]State{}
			}
			states[l.Key][n] = l.State
		}
	}
	for _, k := range slices.Sorted(maps.Keys(states)) {
		if err := CheckSWMR(k, states[k]); err != nil {
			return err
		}
	}
	return nil
}

// Write is a value and its version: the ghost of the last completed write
// a checker tracks per key, or a home's memory.
type Write struct {
	// Value is the value written.
	Value []byte
	// Version is its version.
	Version uint64
}

// CheckData checks the data-value invariant of one key. last is the last
// completed write (the zero Write if none), lines the stable lines of the
// nodes holding a copy, memory the home's memory, and memorySettled tells
// that no write-back is in flight (no node's WritingBack and no home
// DirEntry.WaitingOn for the key):
//   - every copy is at least as new as last, and a copy of last's version
//     holds last's value (a write-through Put makes its value visible a
//     little before it completes, so newer copies may exist);
//   - every S and E copy holds the same version and value;
//   - when no M copy exists and memory is settled, memory is at least as
//     new as last and equal to every S and E copy.
func CheckData(key string, last Write, lines map[NodeID]Line, memory Write, memorySettled bool) error {
	var clean *Line
	var cleanNode NodeID
	dirty := false
	for _, n := range slices.Sorted(maps.Keys(lines)) {
		l := lines[n]
		if l.State == Invalid {
			continue
		}
		if l.Version < last.Version {
			return fmt.Errorf("mesi: data %q: node %s holds version %#x (%v), older than the last write %#x", key, n, l.Version, l.State, last.Version)
		}
		if l.Version == last.Version && !bytes.Equal(l.Value, last.Value) {
			return fmt.Errorf("mesi: data %q: node %s holds %q at version %#x, the last write was %q", key, n, l.Value, l.Version, last.Value)
		}
		if l.State == Modified {
			dirty = true
			continue
		}
		if clean == nil {
			clean, cleanNode = &l, n
		} else if clean.Version != l.Version || !bytes.Equal(clean.Value, l.Value) {
			return fmt.Errorf("mesi: data %q: node %s holds %q@%#x, node %s holds %q@%#x", key, cleanNode, clean.Value, clean.Version, n, l.Value, l.Version)
		}
	}
	if dirty || !memorySettled {
		return nil
	}
	if memory.Version < last.Version || memory.Version == last.Version && !bytes.Equal(memory.Value, last.Value) {
		return fmt.Errorf("mesi: data %q: no M copy, memory holds %q@%#x, the last write was %q@%#x", key, memory.Value, memory.Version, last.Value, last.Version)
	}
	if clean != nil && (clean.Version != memory.Version || !bytes.Equal(clean.Value, memory.Value)) {
		return fmt.Errorf("mesi: data %q: node %s holds %q@%#x, memory %q@%#x", key, cleanNode, clean.Value, clean.Version, memory.Value, memory.Version)
	}
	return nil
}

// CheckLocal checks the node's internal consistency: each key is in at
// most one of cache, transaction and write-back; queued client operations
// wait behind one of those; directory entries are well formed.
func (d *Directory) CheckLocal() error {
	for _, l := range d.cache.lines() {
		if l.State == Invalid || !l.State.valid() {
			return fmt.Errorf("mesi: node %s: line %q in state %v", d.cfg.Self, l.Key, l.State)
		}
		if d.pending[l.Key] != nil || d.evicting[l.Key] != nil {
			return fmt.Errorf("mesi: node %s: line %q cached and in a transient state", d.cfg.Self, l.Key)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(d.pending)) {
		if d.evicting[k] != nil {
			return fmt.Errorf("mesi: node %s: %q has a transaction and a write-back", d.cfg.Self, k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(d.waiting)) {
		if len(d.waiting[k]) > 0 && d.pending[k] == nil && d.evicting[k] == nil {
			return fmt.Errorf("mesi: node %s: %d operations on %q wait for nothing", d.cfg.Self, len(d.waiting[k]), k)
		}
	}
	for _, k := range d.HomeKeys() {
		e := d.entries[k]
		if !slices.IsSorted(e.sharers) || len(slices.Compact(slices.Clone(e.sharers))) != len(e.sharers) {
			return fmt.Errorf("mesi: home %s: %q sharers %v not a sorted set", d.cfg.Self, k, e.sharers)
		}
		switch e.state {
		case DirI:
			// Busy in I: the new owner of a Fwd-GetM wrote the line
			// back before the old owner's Data(home) came.
			if e.owner != "" || len(e.sharers) > 0 || e.busy != nil && e.busy.kind != GetM {
				return fmt.Errorf("mesi: home %s: %q in I with owner %q, sharers %v, busy %v", d.cfg.Self, k, e.owner, e.sharers, e.busy != nil)
			}
		case DirS:
			if e.owner != "" {
				return fmt.Errorf("mesi: home %s: %q in S with owner %q", d.cfg.Self, k, e.owner)
			}
		case DirEM:
			if e.owner == "" || len(e.sharers) > 0 {
				return fmt.Errorf("mesi: home %s: %q in EM with owner %q, sharers %v", d.cfg.Self, k, e.owner, e.sharers)
			}
		}
		if !slices.IsSorted(e.awaiting) || len(slices.Compact(slices.Clone(e.awaiting))) != len(e.awaiting) {
			return fmt.Errorf("mesi: home %s: %q awaiting %v not a sorted set", d.cfg.Self, k, e.awaiting)
		}
		if !slices.IsSorted(e.invalidated) || len(slices.Compact(slices.Clone(e.invalidated))) != len(e.invalidated) {
			return fmt.Errorf("mesi: home %s: %q invalidated %v not a sorted set", d.cfg.Self, k, e.invalidated)
		}
		if len(e.invalidated) > 0 && e.state != DirEM && e.busy == nil {
			return fmt.Errorf("mesi: home %s: %q in %v, not busy, with invalidations %v outstanding", d.cfg.Self, k, e.state, e.invalidated)
		}
		if len(e.awaiting) > 0 && (e.state == DirEM || e.busy != nil) {
			return fmt.Errorf("mesi: home %s: %q in %v, busy %v, while awaiting the Resets of %v", d.cfg.Self, k, e.state, e.busy != nil, e.awaiting)
		}
		if len(e.queue) > 0 && e.busy == nil && len(e.awaiting) == 0 {
			return fmt.Errorf("mesi: home %s: %d requests for %q queued behind nothing", d.cfg.Self, len(e.queue), k)
		}
	}
	return nil
}
