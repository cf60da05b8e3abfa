package wal_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/distsync/distsync/protocols/wal"
	"github.com/distsync/distsync/sim"
)

// TestCrashRecoveryProperty drives a log on the simulated disk with random
// appends, syncs, rotations, compactions and crashes (with torn writes).
// After every crash the replay must be a prefix of what was appended since
// the oldest kept record, and must hold every record the log had reported
// durable: all but the last Unsynced() ones appended.
func TestCrashRecoveryProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		seed := rapid.Uint64().Draw(t, "seed")
		cfg := sim.DiskConfig{
			TornWrites:  rapid.SampledFrom([]float64{0, 0.5, 1}).Draw(t, "torn"),
			SectorBytes: rapid.SampledFrom([]int{16, 64, 512}).Draw(t, "sector"),
		}
		opts := wal.Options{SegmentBytes: rapid.Int64Range(64, 2048).Draw(t, "segmentBytes")}
		h := newSim(t, seed, cfg)
		w, _, _ := mustOpen(t, h.disk(), opts)
		var model []rec // every record from FirstSeq on, durable or not
		durable := 0    // model[:durable] is known durable
		crashes := 0

		crash := func() {
			first := w.FirstSeq()
			h.crash()
			var got []rec
			w, got, _ = mustOpen(t, h.disk(), opts)
			require.Equal(t, first, w.FirstSeq(), "compaction is durable, the first record stays")
			require.GreaterOrEqual(t, len(got), durable, "a durable record was lost")
			require.LessOrEqual(t, len(got), len(model))
			requireRecs(t, model[:len(got)], got)
			model, durable = model[:len(got)], len(got)
			crashes++
		}

		steps := rapid.IntRange(1, 80).Draw(t, "steps")
		for range steps {
			switch op := rapid.IntRange(0, 11).Draw(t, "op"); {
			case op <= 5:
				seq := w.NextSeq()
				r := rec{seq, wal.RecordType(rapid.IntRange(1, 255).Draw(t, "type")), payload(seq, rapid.IntRange(0, 300).Draw(t, "size"))}
				pos, err := w.Append(r.Typ, r.Payload)
				require.NoError(t, err)
				require.Equal(t, seq, pos.Seq)
				model = append(model, r)
			case op <= 7:
				require.NoError(t, w.Sync())
			case op == 8:
				require.NoError(t, w.Rotate())
			case op == 9:
				_, err := w.RemoveBefore(rapid.Uint64Range(0, w.NextSeq()+1).Draw(t, "removeBefore"))
				require.NoError(t, err)
				dropped := 0
				for dropped < len(model) && model[dropped].Seq < w.FirstSeq() {
					dropped++
				}
				require.LessOrEqual(t, dropped, durable, "only sealed, synced segments go")
				model, durable = model[dropped:], durable-dropped
			default:
				crash()
			}
			// Unsynced counts the records a crash may lose: never one
			// reported durable before.
			require.GreaterOrEqual(t, len(model)-w.Unsynced(), durable)
			durable = len(model) - w.Unsynced()
			require.NoError(t, w.CheckInvariants())
		}
		crash()
	})
}
