package scenarios_test

import (
	"flag"
	"path/filepath"
	"testing"

	"github.com/distsync/distsync/scenarios"
	"github.com/distsync/distsync/scenarios/spec"
	"github.com/distsync/distsync/sim"
)

var (
	flagSeeds    = flag.Int("seeds", 0, "seeds per scenario file (default 8, 2 with -short)")
	flagSeed     = flag.Uint64("seed", 0, "run only this seed (replay)")
	flagScenario = flag.String("scenario", "", "run only the scenario of this name")
)

// TestScenarios runs every shipped scenario file over a few seeds. A
// failure names the seed and the two commands that replay it.
func TestScenarios(t *testing.T) {
	all, err := spec.LoadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	seeds := *flagSeeds
	if seeds <= 0 {
		seeds = 8
		if testing.Short() {
			seeds = 2
		}
	}
	ran := 0
	for _, s := range all {
		s.File = filepath.Join("scenarios", filepath.Base(s.File)) // for replay commands run from the repository root
		if *flagScenario != "" && s.Name != *flagScenario {
			continue
		}
		ran++
		t.Run(s.Name, func(t *testing.T) {
			list := make([]sim.Seed, 0, seeds)
			if *flagSeed != 0 {
				list = append(list, sim.Seed(*flagSeed))
			} else {
				for i := 1; i <= seeds; i++ {
					list = append(list, sim.Seed(i))
				}
			}
			for _, seed := range list {
				res, err := scenarios.RunScenario(s, scenarios.RunOptions{Seed: seed})
				if err != nil {
					t.Fatalf("seed %d: %v", seed, err)
				}
				if !res.Passed {
					t.Fatalf("FAIL %s at t=%v (seed %d): %s\nreplay: %s\n        %s",
						res.Failure.Check, res.Failure.At, seed, res.Failure.Message, res.GoTestCommand(), res.ReplayCommand())
				}
				for _, f := range res.Faults {
					if !f.Applied {
						t.Logf("seed %d: fault %d (%s %s) %s", seed, f.Index, f.Kind, f.Target, f.Note)
					}
				}
			}
		})
	}
	if ran == 0 {
		t.Fatalf("no scenario named %q", *flagScenario)
	}
}
