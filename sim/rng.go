package sim

import (
	"hash/fnv"
	"math/rand/v2"
)

// Seed is the one number a run is made from. Every random choice of a run
// (network, disk, faults, workloads, each node's election timeouts) comes
// from a named sub-stream of it.
type Seed uint64

// Stream returns the random stream called name. Streams are independent:
// drawing more from one never shifts another, so adding a random draw to the
// disk model does not change which messages the network drops.
func (s Seed) Stream(name string) *rand.Rand {
	return rand.New(s.Source(name))
}

// Source returns the PCG source behind Stream(name), for callers that want
// to avoid the *rand.Rand wrapper.
func (s Seed) Source(name string) *rand.PCG {
	h := fnv.New64a()
	_, _ = h.Write([]byte(name))
	k := h.Sum64()
	return rand.NewPCG(mix64(uint64(s)^0x9e3779b97f4a7c15), mix64(k^uint64(s)))
}

// mix64 is the splitmix64 finaliser: a bijection that spreads every input
// bit over every output bit.
func mix64(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
