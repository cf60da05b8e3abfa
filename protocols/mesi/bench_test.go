package mesi

import (
	"fmt"
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
// costs when s other nodes share the line: each iteration makes the s
// sharers read the key, then node n0 writes it; only the write's messages
// are counted (2 + 2s: GetM, Data, s Inv, s Inv-Ack).
func BenchmarkWriteWithSharers(b *testing.B) {
	for _, s := range []int{1, 2, 4, 8} {
		b.Run(fmt.Sprintf("sharers=%d", s), func(b *testing.B) {
			// n1 writes; n2..n{s+1} share; n{s+2} is the home.
			net := newNetwork(b, s+2, 16, false, func(ids []NodeID) func(string) NodeID {
				return homeFixed(ids[len(ids)-1])
			})
			writer := net.ids[0]
			total := func() uint64 {
				var n uint64
				for _, id := range net.ids {
					n += net.nodes[id].Stats().Messages
				}
				return n
			}
			var writeMsgs uint64
			req := uint64(0)
			b.ResetTimer()
			for range b.N {
				for _, id := range net.ids[1 : s+1] {
					req++
					net.get(id, req, "k")
				}
				net.drain()
				before := total()
				req++
				net.put(writer, req, "k", "v")
				net.drain()
				writeMsgs += total() - before
			}
			b.ReportMetric(float64(writeMsgs)/float64(b.N), "msgs/write")
		})
	}
}
