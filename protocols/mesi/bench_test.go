package mesi

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkCacheHit measures a Get of a present key in a 1,000-line cache;
// it must not allocate.
func BenchmarkCacheHit(b *testing.B) {
	const lines = 1000
	c, err := NewCache(lines)
	if err != nil {
		b.Fatal(err)
	}
	keys := make([]string, lines)
	for i := range keys {
		keys[i] = fmt.Sprintf("key-%04d", i)
		c.Put(Line{Key: keys[i], State: Shared, Value: []byte("v")})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, ok := c.Get(keys[i%lines], 0); !ok {
			b.Fatal("miss")
		}
	}
}

// BenchmarkWriteWithSharers measures the coherence messages one write
// costs when s other nodes share the line, for each protocol: each
// iteration makes the s sharers read the key, then node n1 writes it; only
// the write's messages are counted, in the steady state (one round is run
// before the timer starts). Directory: n1..n{s+1} and the home n{s+2};
// 2 + 2s messages (GetM, Data, s Inv, s Inv-Ack). Broadcast: caches
// n1..n{s+1} and the memory node; n1 writes from S, 2p messages for its p
// peers (p BInv, p BInv-Ack; here p = s: every peer is a sharer, but a
// broadcast reaches every cache, sharer or not).
func BenchmarkWriteWithSharers(b *testing.B) {
	for _, proto := range []string{"directory", "broadcast"} {
		for _, s := range []int{1, 2, 4, 8} {
			b.Run(fmt.Sprintf("%s/sharers=%d", proto, s), func(b *testing.B) {
				var net *network
				if proto == "directory" {
					net = newNetwork(b, s+2, 16, false, func(ids []NodeID) func(string) NodeID {
						return homeFixed(ids[len(ids)-1])
					})
				} else {
					net = newBroadcastNetwork(b, s+1, 16, false)
				}
				writer, sharers := net.caches[0], net.caches[1:s+1]
				total := func() uint64 {
					var n uint64
					for _, id := range net.ids {
						n += net.nodes[id].Stats().Messages
					}
					return n
				}
				req := uint64(0)
				round := func() uint64 {
					for _, id := range sharers {
						req++
						net.get(id, req, "k")
					}
					net.drain()
					before := total()
					req++
					net.put(writer, req, "k", "v")
					net.drain()
					return total() - before
				}
				round()
				var writeMsgs uint64
				b.ResetTimer()
				for range b.N {
					writeMsgs += round()
				}
				b.ReportMetric(float64(writeMsgs)/float64(b.N), "msgs/write")
			})
		}
	}
}

// BenchmarkHitRate measures the hit rate of one node's LRU cache under a
// Zipf workload (10,000 keys, exponent 1.1, k0 hottest; a miss fills the
// line) against its capacity, the figure the original design quotes as
// 70-90%. One op is one access.
func BenchmarkHitRate(b *testing.B) {
	for _, capacity := range []int{16, 64, 256, 1024, 4096} {
		b.Run(fmt.Sprintf("capacity=%d", capacity), func(b *testing.B) {
			c, err := NewCache(capacity)
			if err != nil {
				b.Fatal(err)
			}
			zipf := rand.NewZipf(rand.New(rand.NewPCG(1, 2)), 1.1, 1, 9999)
			keys := make([]string, 10000)
			for i := range keys {
				keys[i] = fmt.Sprintf("k%d", i)
			}
			var hits, misses int
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				k := keys[zipf.Uint64()]
				if _, ok := c.Get(k, 0); ok {
					hits++
					continue
				}
				misses++
				c.Put(Line{Key: k, State: Shared})
			}
			b.ReportMetric(100*float64(hits)/float64(hits+misses), "hit%")
		})
	}
}
