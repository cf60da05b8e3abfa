package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// LatencyKind names a latency distribution.
type LatencyKind uint8

// Latency distributions.
const (
	LatencyConstant    LatencyKind = iota + 1 // always Base
	LatencyUniform                            // uniform in [Base, Max]
	LatencyNormal                             // normal around Base with StdDev, clamped at 0
	LatencyExponential                        // Base plus an exponential tail of mean Mean
)

var latencyKindNames = [...]string{
	LatencyConstant: "constant", LatencyUniform: "uniform",
	LatencyNormal: "normal", LatencyExponential: "exponential",
}

// String returns the distribution's name as scenario files spell it.
func (k LatencyKind) String() string {
	if int(k) < len(latencyKindNames) && latencyKindNames[k] != "" {
		return latencyKindNames[k]
	}
	return fmt.Sprintf("latency-kind-%d", uint8(k))
}

// ParseLatencyKind returns the distribution named s.
func ParseLatencyKind(s string) (LatencyKind, error) {
	for k, name := range latencyKindNames {
		if name != "" && name == s {
			return LatencyKind(k), nil
		}
	}
	return 0, fmt.Errorf("latency distribution %q: want constant, uniform, normal or exponential", s)
}

// Latency is a distribution of delays: of a network link, or of a disk
// write or sync. The zero value means "no delay".
type Latency struct {
	Kind   LatencyKind
	Base   time.Duration // constant value; uniform minimum; normal mean; exponential minimum
	Max    time.Duration // uniform maximum
	StdDev time.Duration // normal standard deviation
	Mean   time.Duration // exponential: mean of the tail added to Base
}

// Constant returns a fixed delay.
func Constant(d time.Duration) Latency { return Latency{Kind: LatencyConstant, Base: d} }

// Uniform returns a delay uniform in [lo, hi].
func Uniform(lo, hi time.Duration) Latency { return Latency{Kind: LatencyUniform, Base: lo, Max: hi} }

// Normal returns a normally distributed delay, clamped at zero.
func Normal(mean, stddev time.Duration) Latency {
	return Latency{Kind: LatencyNormal, Base: mean, StdDev: stddev}
}

// Exponential returns min plus an exponentially distributed tail of the
// given mean: most delays are short, a few are long.
func Exponential(min, tailMean time.Duration) Latency {
	return Latency{Kind: LatencyExponential, Base: min, Mean: tailMean}
}

// Validate reports a distribution that cannot be drawn from, naming field.
func (l Latency) Validate(field string) error {
	if l.Kind == 0 {
		if l != (Latency{}) {
			return fmt.Errorf("%s: parameters set without a distribution", field)
		}
		return nil
	}
	if l.Base < 0 {
		return fmt.Errorf("%s: negative latency %v", field, l.Base)
	}
	switch l.Kind {
	case LatencyConstant:
	case LatencyUniform:
		if l.Max < l.Base {
			return fmt.Errorf("%s: uniform max %v below min %v", field, l.Max, l.Base)
		}
	case LatencyNormal:
		if l.StdDev < 0 {
			return fmt.Errorf("%s: negative standard deviation %v", field, l.StdDev)
		}
	case LatencyExponential:
		if l.Mean < 0 {
			return fmt.Errorf("%s: negative exponential mean %v", field, l.Mean)
		}
	default:
		return fmt.Errorf("%s: unknown distribution %d", field, uint8(l.Kind))
	}
	return nil
}

// Draw returns one delay from the distribution, never negative.
func (l *Latency) Draw(r *rand.Rand) time.Duration {
	switch l.Kind {
	case LatencyConstant:
		return l.Base
	case LatencyUniform:
		if l.Max == l.Base {
			return l.Base
		}
		return l.Base + time.Duration(r.Int64N(int64(l.Max-l.Base)+1))
	case LatencyNormal:
		d := float64(l.Base) + r.NormFloat64()*float64(l.StdDev)
		if d < 0 {
			return 0
		}
		return time.Duration(d)
	case LatencyExponential:
		tail := r.ExpFloat64() * float64(l.Mean)
		if tail > math.MaxInt64/4 {
			tail = math.MaxInt64 / 4
		}
		return l.Base + time.Duration(tail)
	}
	return 0
}

// String renders the distribution for reports.
func (l Latency) String() string {
	switch l.Kind {
	case LatencyConstant:
		return l.Base.String()
	case LatencyUniform:
		return fmt.Sprintf("uniform(%v..%v)", l.Base, l.Max)
	case LatencyNormal:
		return fmt.Sprintf("normal(%v±%v)", l.Base, l.StdDev)
	case LatencyExponential:
		return fmt.Sprintf("exponential(%v+%v)", l.Base, l.Mean)
	}
	return "0"
}
