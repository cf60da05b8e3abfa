package locks

import (
	"cmp"
	"maps"
	"slices"
)

// sortedKeys returns m's keys in order, so that iterating a map never lets
// Go's random map order reach an output.
func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	return slices.Sorted(maps.Keys(m))
}
