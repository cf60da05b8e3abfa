package scenarios

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/distsync/distsync/scenarios/spec"
	"github.com/distsync/distsync/sim"
)

// ShrinkOptions bound and observe a Shrink.
type ShrinkOptions struct {
	// MaxRuns bounds how many times the scenario runs in all, the first
	// run included (default 200).
	MaxRuns int
	// MaxTime, if set, bounds the wall-clock time of the whole shrink. A
	// shrink cut short by it depends on the machine's speed; MaxRuns does
	// not.
	MaxTime time.Duration
	// Extra checks are passed to every run (see RunOptions.Extra).
	Extra []ExtraCheck
	// Progress, if set, is called after every run with the pass running
	// ("start", "faults", "windows", "timeline", "duration", "clients",
	// "swarm"), the
	// runs so far and the faults of the smallest failing scenario so far.
	Progress func(step string, run int, faults int)
}

// ShrinkResult is the smallest failing scenario a Shrink found.
type ShrinkResult struct {
	// Scenario is the minimized scenario, named after the original with
	// "-min" appended; it fails Check on the seed it was shrunk with.
	Scenario *spec.Scenario
	// Check is the check that fails, before and after.
	Check string
	// Runs is how many times the scenario ran, the first run included.
	Runs int
	// Exhausted says the run or time budget ran out before the passes
	// stopped making progress: Scenario fails, but may not be minimal.
	Exhausted bool
	// Before and After measure the original and the minimized scenario.
	Before, After ShrinkStats
	// Failure is the failure of the minimized scenario's run.
	Failure *Failure
}

// ShrinkStats measure how big a scenario is.
type ShrinkStats struct {
	Faults int
	// FaultSeconds sums the faults' windows: restart_after, resume_after,
	// heal_after, for, to-from; a crash, pause or network fault with no
	// end lasts until its restart, resume or heal if the file has one at
	// a fixed time, else until the quiet phase (duration-settle).
	FaultSeconds float64
	Duration     time.Duration
	Clients      int
}

// Shrink minimizes a scenario that fails on seed while it still fails
// the same way: the same check, on the same seed. It is delta debugging
// in the spirit of Zeller's ddmin over the scenario's parts, in passes
// repeated until none makes progress or the budget runs out:
//
//  1. faults: ddmin over the fault list, removing chunks of faults at
//     halving granularity. A crash and the later "restart:" of the same
//     target (a pause and its "resume:") are removed together, so no
//     candidate restarts a node nothing crashed.
//  2. windows: each remaining fault's restart_after, resume_after,
//     heal_after, for and from-to window is halved while it still fails.
//  3. timeline: the schedule is compressed: each fault that starts at a
//     fixed time, with every fault starting at or after it, moves earlier
//     by half the gap before it while the scenario still fails.
//  4. duration: the run is cut to just past the failure (failure time +
//     settle + a margin), then halved; faults starting in the quiet phase
//     are dropped and windows running into it are clipped.
//  5. clients: each workload's clients are halved, then decremented; a
//     workload is dropped if another one remains.
//  6. swarm: the swarm section is dropped (its faults are random; a file
//     without it is easier to read).
//
// A candidate that does not validate (when the original does), or does
// not build, counts as not failing. Runs are
// sequential and every decision follows the order of the file, so the
// same scenario, seed and options shrink to the same result (unless
// MaxTime cuts it short). Shrink returns an error if s passes on seed.
func Shrink(s *spec.Scenario, seed sim.Seed, opts ShrinkOptions) (*ShrinkResult, error) {
	if opts.MaxRuns <= 0 {
		opts.MaxRuns = 200
	}
	sh := &shrinker{seed: seed, opts: opts, start: time.Now(), step: "start"}
	orig := cloneScenario(s)
	// Candidates are validated only if the original is valid: one built
	// in Go may lack what a file needs and still run.
	sh.validate = validates(orig)
	sh.runs = 1
	res, err := RunScenario(orig, RunOptions{Seed: seed, Extra: opts.Extra})
	if err != nil {
		return nil, err
	}
	if res.Passed || res.Failure == nil {
		return nil, fmt.Errorf("scenario %s: seed %d passes: nothing to shrink", s.Name, seed)
	}
	sh.check, sh.best, sh.failure = res.Failure.Check, orig, res.Failure
	sh.progress()

	passes := []struct {
		step string
		run  func() bool
	}{
		{"faults", sh.shrinkFaults},
		{"windows", sh.shortenWindows},
		{"timeline", sh.moveEarlier},
		{"duration", sh.shortenRun},
		{"clients", sh.removeClients},
		{"swarm", sh.dropSwarm},
	}
	for progress := true; progress && !sh.exhausted; {
		progress = false
		for _, p := range passes {
			sh.step = p.step
			if p.run() {
				progress = true
			}
		}
	}

	small := cloneScenario(sh.best)
	if !strings.HasSuffix(small.Name, "-min") {
		small.Name += "-min"
	}
	small.File = ""
	return &ShrinkResult{
		Scenario: small, Check: sh.check, Runs: sh.runs, Exhausted: sh.exhausted,
		Before: statsOf(s), After: statsOf(small), Failure: sh.failure,
	}, nil
}

// shrinker is the state of one Shrink: the smallest failing scenario so
// far and the budget spent.
type shrinker struct {
	seed      sim.Seed
	opts      ShrinkOptions
	start     time.Time
	validate  bool
	check     string
	best      *spec.Scenario
	failure   *Failure
	runs      int
	step      string
	exhausted bool
}

// try runs candidate c and keeps it as the best if it fails the same
// check; it returns whether it did.
func (sh *shrinker) try(c *spec.Scenario) bool {
	if sh.exhausted || sh.runs >= sh.opts.MaxRuns ||
		sh.opts.MaxTime > 0 && time.Since(sh.start) >= sh.opts.MaxTime {
		sh.exhausted = true
		return false
	}
	if sh.validate && !validates(c) {
		return false
	}
	sh.runs++
	res, err := RunScenario(c, RunOptions{Seed: sh.seed, Extra: sh.opts.Extra})
	fails := err == nil && !res.Passed && res.Failure != nil && res.Failure.Check == sh.check
	if fails {
		sh.best, sh.failure = c, res.Failure
	}
	sh.progress()
	return fails
}

func (sh *shrinker) progress() {
	if sh.opts.Progress != nil {
		sh.opts.Progress(sh.step, sh.runs, len(sh.best.Faults))
	}
}

// faultUnits groups fault indices into what is removed together: each
// fault alone, except that a "restart: X" joins the latest earlier
// "crash: X" not yet restarted, and a "resume: X" the latest earlier
// "pause: X".
func faultUnits(faults []spec.Fault) [][]int {
	var units [][]int
	open := func(kind, target string) int {
		for u := len(units) - 1; u >= 0; u-- {
			f := &faults[units[u][0]]
			lead, _ := describe(f)
			if lead == kind && len(units[u]) == 1 && (f.Crash == target || f.Pause == target) {
				return u
			}
		}
		return -1
	}
	for i := range faults {
		f := &faults[i]
		u := -1
		switch {
		case f.Restart != "":
			u = open("crash", f.Restart)
		case f.Resume != "":
			u = open("pause", f.Resume)
		}
		if u >= 0 {
			units[u] = append(units[u], i)
		} else {
			units = append(units, []int{i})
		}
	}
	return units
}

// withUnits returns a copy of the best scenario keeping only the faults
// of units, in file order.
func (sh *shrinker) withUnits(units [][]int) *spec.Scenario {
	var keep []int
	for _, u := range units {
		keep = append(keep, u...)
	}
	slices.Sort(keep)
	c := cloneScenario(sh.best)
	all := c.Faults
	c.Faults = nil
	for _, i := range keep {
		c.Faults = append(c.Faults, all[i])
	}
	return c
}

// shrinkFaults is ddmin over the fault units: it tries removing each of n
// chunks; after a removal it goes on with n-1 chunks, after none with 2n,
// until the chunks are single units and none can go.
func (sh *shrinker) shrinkFaults() bool {
	units := faultUnits(sh.best.Faults)
	changed := false
	n := 2
	for len(units) > 0 && !sh.exhausted {
		n = min(n, len(units))
		size := (len(units) + n - 1) / n
		removed := false
		for lo := 0; lo < len(units); lo += size {
			rest := slices.Concat(units[:lo], units[min(lo+size, len(units)):])
			c := sh.withUnits(rest)
			if sh.try(c) {
				// The best scenario's faults are now rest's, renumbered.
				units = faultUnits(c.Faults)
				removed, changed = true, true
				n = max(n-1, 2)
				break
			}
		}
		if !removed {
			if n >= len(units) {
				break
			}
			n = min(2*n, len(units))
		}
	}
	return changed
}

// minWindow is the shortest fault window shortenWindows tries.
const minWindow = 10 * time.Millisecond

// windowField reads and writes one length of a fault.
type windowField struct {
	get func(f *spec.Fault) (time.Duration, bool)
	set func(f *spec.Fault, d time.Duration)
}

func afterField(p func(f *spec.Fault) **spec.Duration) windowField {
	return windowField{
		get: func(f *spec.Fault) (time.Duration, bool) {
			if d := *p(f); d != nil {
				return d.D(), true
			}
			return 0, false
		},
		set: func(f *spec.Fault, d time.Duration) { *p(f) = durationPtr(d) },
	}
}

var windowFields = []windowField{
	afterField(func(f *spec.Fault) **spec.Duration { return &f.RestartAfter }),
	afterField(func(f *spec.Fault) **spec.Duration { return &f.ResumeAfter }),
	afterField(func(f *spec.Fault) **spec.Duration { return &f.HealAfter }),
	afterField(func(f *spec.Fault) **spec.Duration { return &f.For }),
	{
		get: func(f *spec.Fault) (time.Duration, bool) {
			if f.From != nil && f.To != nil {
				return f.To.D() - f.From.D(), true
			}
			return 0, false
		},
		set: func(f *spec.Fault, d time.Duration) { f.To = durationPtr(f.From.D() + d) },
	}}

// shortenWindows halves each length of each fault while the scenario
// still fails.
func (sh *shrinker) shortenWindows() bool {
	changed := false
	for i := 0; i < len(sh.best.Faults); i++ {
		for _, fld := range windowFields {
			for !sh.exhausted {
				cur, ok := fld.get(&sh.best.Faults[i])
				half := (cur / 2).Round(time.Millisecond)
				if !ok || half < minWindow || half >= cur {
					break
				}
				c := cloneScenario(sh.best)
				fld.set(&c.Faults[i], half)
				if !sh.try(c) {
					break
				}
				changed = true
			}
		}
	}
	return changed
}

// minShift is the smallest move earlier moveEarlier tries.
const minShift = 50 * time.Millisecond

// moveEarlier compresses the timeline. For each fault in file order that
// starts at a fixed time, it moves that fault and every fault starting at
// or after it earlier by half the gap before it (to the latest fault
// starting before it, or to 0), while the scenario still fails. The order
// of the faults in time is kept; faults fired by triggers do not move.
func (sh *shrinker) moveEarlier() bool {
	changed := false
	for i := 0; i < len(sh.best.Faults); i++ {
		for !sh.exhausted {
			start, ok := startOf(&sh.best.Faults[i])
			if !ok {
				break
			}
			var prev time.Duration
			for j := range sh.best.Faults {
				if t, ok := startOf(&sh.best.Faults[j]); ok && t < start {
					prev = max(prev, t)
				}
			}
			shift := ((start - prev) / 2).Round(time.Millisecond)
			if shift < minShift {
				break
			}
			c := cloneScenario(sh.best)
			for j := range c.Faults {
				f := &c.Faults[j]
				if t, ok := startOf(f); !ok || t < start {
					continue
				}
				for _, p := range []**spec.Duration{&f.At, &f.From, &f.To} {
					if *p != nil {
						*p = durationPtr((*p).D() - shift)
					}
				}
			}
			if !sh.try(c) {
				break
			}
			changed = true
		}
	}
	return changed
}

// runMargin is how far past the failure shortenRun lets the faults phase
// run, before rounding up to runRound.
const (
	runMargin = 200 * time.Millisecond
	runRound  = 100 * time.Millisecond
)

// shortenRun cuts the run to just past the failure, then tries halving
// it, keeping the settle time.
func (sh *shrinker) shortenRun() bool {
	changed := false
	for !sh.exhausted {
		cur, st := sh.best.Duration.D(), settle(sh.best)
		fit := roundUp(sh.failure.At+st+runMargin, runRound)
		half := roundUp(cur/2, runRound)
		var cands []time.Duration
		if fit < cur {
			cands = append(cands, fit)
		}
		if half < cur && half < fit && half > st {
			cands = append(cands, half)
		}
		ok := false
		for _, d := range cands {
			if sh.try(fitRun(sh.best, d)) {
				ok = true
				break
			}
		}
		if !ok {
			break
		}
		changed = true
	}
	return changed
}

// fitRun returns a copy of s that runs for d: faults that would start in
// the quiet phase are dropped, windows reaching into it are clipped.
func fitRun(s *spec.Scenario, d time.Duration) *spec.Scenario {
	c := cloneScenario(s)
	c.Duration = spec.Duration(d)
	quiet := d - settle(c)
	c.Faults = nil
	for _, f := range s.Faults {
		start, ok := startOf(&f)
		if ok && start >= quiet {
			continue
		}
		if ok {
			for _, fld := range windowFields {
				if l, has := fld.get(&f); has && start+l > quiet {
					fld.set(&f, quiet-start)
				}
			}
		}
		c.Faults = append(c.Faults, f)
	}
	return c
}

// removeClients drops workloads and halves, then decrements, each
// workload's clients while the scenario still fails; one client remains.
func (sh *shrinker) removeClients() bool {
	changed := false
	for i := 0; i < len(sh.best.Workload) && !sh.exhausted; i++ {
		if len(sh.best.Workload) > 1 {
			c := cloneScenario(sh.best)
			c.Workload = slices.Delete(c.Workload, i, i+1)
			if sh.try(c) {
				changed = true
				i--
				continue
			}
		}
		for step := sh.best.Workload[i].Clients / 2; step >= 1 && !sh.exhausted; {
			n := sh.best.Workload[i].Clients
			if n-step < 1 {
				step = n - 1
				continue
			}
			c := cloneScenario(sh.best)
			c.Workload[i].Clients = n - step
			if sh.try(c) {
				changed = true
				step = min(step, (n-step)/2)
			} else {
				step /= 2
			}
		}
	}
	return changed
}

// dropSwarm drops the swarm section if the scenario still fails
// without it.
func (sh *shrinker) dropSwarm() bool {
	if sh.best.Swarm == nil {
		return false
	}
	c := cloneScenario(sh.best)
	c.Swarm = nil
	return sh.try(c)
}

// cloneScenario copies s deeply, so that neither editing a candidate nor
// validating it (which fills in defaults) changes another.
func cloneScenario(s *spec.Scenario) *spec.Scenario { return s.Clone() }

// validates reports whether a copy of s passes spec validation (left
// untouched: Validate fills in defaults).
func validates(s *spec.Scenario) bool { return cloneScenario(s).Validate() == nil }

func durationPtr(d time.Duration) *spec.Duration {
	v := spec.Duration(d)
	return &v
}

func roundUp(d, unit time.Duration) time.Duration {
	return (d + unit - 1) / unit * unit
}

// startOf returns when fault f starts, if it starts at a fixed time.
func startOf(f *spec.Fault) (time.Duration, bool) {
	switch {
	case f.At != nil:
		return f.At.D(), true
	case f.From != nil:
		return f.From.D(), true
	}
	return 0, false
}

// statsOf measures s.
func statsOf(s *spec.Scenario) ShrinkStats {
	st := ShrinkStats{Faults: len(s.Faults), Duration: s.Duration.D()}
	for _, wl := range s.Workload {
		st.Clients += wl.Clients
	}
	quiet := s.Duration.D() - settle(s)
	for i := range s.Faults {
		f := &s.Faults[i]
		length, explicit := time.Duration(0), false
		for _, fld := range windowFields {
			if l, ok := fld.get(f); ok {
				length, explicit = length+l, true
			}
		}
		if !explicit {
			length = openLength(s.Faults, i, quiet)
		}
		st.FaultSeconds += length.Seconds()
	}
	return st
}

// openLength is how long fault i, which names no end, lasts: until the
// first later restart, resume or heal that ends it at a fixed time, else
// until quiet. Instantaneous faults (restart, resume, heal, skew) and
// faults with no fixed start last 0.
func openLength(faults []spec.Fault, i int, quiet time.Duration) time.Duration {
	f := &faults[i]
	start, ok := startOf(f)
	kind, target := describe(f)
	if !ok || start >= quiet {
		return 0
	}
	ends := func(g *spec.Fault) bool {
		switch kind {
		case "crash":
			return g.Restart == target
		case "pause":
			return g.Resume == target
		case "partition", "one-way", "isolate", "bridge":
			return g.Heal
		}
		return false
	}
	switch kind {
	case "restart", "resume", "heal", "skew":
		return 0
	}
	for j := i + 1; j < len(faults); j++ {
		if end, ok := startOf(&faults[j]); ok && end >= start && ends(&faults[j]) {
			return min(end, quiet) - start
		}
	}
	return quiet - start
}
