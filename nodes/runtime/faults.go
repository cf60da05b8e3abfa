package runtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/distsync/distsync/nodes"
)

// MaxFaultDelay bounds Faults.Delay and Faults.Jitter.
const MaxFaultDelay = 10 * time.Second

// MaxDelayed bounds how many outbound messages a Host holds back at once
// for Faults.Delay and Faults.Jitter, all peers together. A message that
// would be held over it is dropped and counted in Stats.FaultDropped.
const MaxDelayed = 4096

// Faults are the network faults a node applies to what it sends. They
// apply to messages to peers only: messages to self and to local clients
// are never touched. The zero value is a healthy network.
//
// Faults encode to JSON with durations as strings ("50ms"), for example
// {"drop":["n2"],"loss":0.1,"delay":"50ms","jitter":"10ms","duplicate":0.01}.
// Decoding is strict: an unknown field, a number for a duration or a value
// of the wrong type is an error, a *FaultError naming the field.
type Faults struct {
	// Drop lists peers to which every message is dropped. A partition is
	// set by giving each side the other side's ids; giving only one side
	// makes a one-way partition.
	Drop []nodes.NodeID `json:"drop,omitempty"`
	// Loss is the probability (0..1) that an outbound message is dropped.
	Loss float64 `json:"loss,omitempty"`
	// Delay is added to every outbound message, plus a uniform random
	// extra in [0, Jitter]. Delayed messages may overtake one another (the
	// node contract allows reordering). At most MaxDelayed messages are
	// held at once; over it, messages are dropped and counted. Both are
	// bounded by MaxFaultDelay.
	Delay time.Duration `json:"delay,omitempty"`
	// Jitter is the bound of the uniform random extra delay; see Delay.
	Jitter time.Duration `json:"jitter,omitempty"`
	// Duplicate is the probability (0..1) that a message is sent twice.
	Duplicate float64 `json:"duplicate,omitempty"`
}

// faultsJSON is the wire form of Faults.
type faultsJSON struct {
	Drop      []nodes.NodeID `json:"drop,omitempty"`
	Loss      float64        `json:"loss,omitempty"`
	Delay     string         `json:"delay,omitempty"`
	Jitter    string         `json:"jitter,omitempty"`
	Duplicate float64        `json:"duplicate,omitempty"`
}

// MarshalJSON implements json.Marshaler: durations are strings like "50ms",
// and zero fields are left out.
func (f Faults) MarshalJSON() ([]byte, error) {
	w := faultsJSON{Drop: f.Drop, Loss: f.Loss, Duplicate: f.Duplicate}
	if f.Delay != 0 {
		w.Delay = f.Delay.String()
	}
	if f.Jitter != 0 {
		w.Jitter = f.Jitter.String()
	}
	return json.Marshal(w)
}

// UnmarshalJSON implements json.Unmarshaler. It is strict whatever the
// caller's decoder options: unknown fields and trailing data are refused;
// JSON null, by the encoding/json convention, changes nothing.
// Errors about one field are *FaultError. It checks the syntax of the
// values only; Host.SetFaults checks their ranges and peer ids.
func (f *Faults) UnmarshalJSON(data []byte) error {
	if string(bytes.TrimSpace(data)) == "null" {
		return nil // the encoding/json convention: null leaves the value alone
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var w faultsJSON
	if err := dec.Decode(&w); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te) && te.Field != "":
			field, _, _ := strings.Cut(te.Field, ".")
			return &FaultError{Field: field, Reason: "got a JSON " + te.Value + ", want " + jsonKind(field)}
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			name, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
			return &FaultError{Field: name, Reason: "unknown field"}
		}
		return fmt.Errorf("faults: %w", err)
	}
	if dec.More() {
		return errors.New("faults: trailing data after the object")
	}
	out := Faults{Drop: w.Drop, Loss: w.Loss, Duplicate: w.Duplicate}
	for _, d := range []struct {
		field string
		s     string
		v     *time.Duration
	}{{"delay", w.Delay, &out.Delay}, {"jitter", w.Jitter, &out.Jitter}} {
		if d.s == "" {
			continue
		}
		v, err := time.ParseDuration(d.s)
		if err != nil {
			return &FaultError{Field: d.field, Value: strconv.Quote(d.s), Reason: `want a duration like "50ms"`}
		}
		*d.v = v
	}
	*f = out
	return nil
}

// jsonKind describes what a field of the JSON form holds, for errors.
func jsonKind(field string) string {
	switch field {
	case "drop":
		return "an array of node ids"
	case "delay", "jitter":
		return `a duration string like "50ms"`
	default:
		return "a number in [0, 1]"
	}
}

// FaultError is the error of an invalid Faults: it names the field (as
// spelled in JSON: drop, loss, delay, jitter, duplicate) and the offending
// value.
type FaultError struct {
	// Field is the JSON name of the offending field.
	Field string
	// Value is the offending value, as text; empty when the field itself is
	// wrong (unknown, or of the wrong JSON type).
	Value string
	// Reason says what is wrong with it.
	Reason string
}

// Error implements error.
func (e *FaultError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("faults: %s: %s", e.Field, e.Reason)
	}
	return fmt.Sprintf("faults: %s: %s: %s", e.Field, e.Value, e.Reason)
}

// validate checks f against this node's peers and returns it normalized:
// Drop sorted and without duplicates.
func (f Faults) validate(self nodes.NodeID, peers map[nodes.NodeID]bool) (Faults, error) {
	for _, p := range []struct {
		field string
		v     float64
	}{{"loss", f.Loss}, {"duplicate", f.Duplicate}} {
		if !(p.v >= 0 && p.v <= 1) { // NaN fails too
			return Faults{}, &FaultError{Field: p.field, Value: strconv.FormatFloat(p.v, 'g', -1, 64), Reason: "outside [0, 1]"}
		}
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{{"delay", f.Delay}, {"jitter", f.Jitter}} {
		if d.v < 0 || d.v > MaxFaultDelay {
			return Faults{}, &FaultError{Field: d.field, Value: d.v.String(), Reason: fmt.Sprintf("outside [0, %v]", MaxFaultDelay)}
		}
	}
	drop := slices.Clone(f.Drop)
	for _, id := range drop {
		switch {
		case id == self:
			return Faults{}, &FaultError{Field: "drop", Value: strconv.Quote(string(id)), Reason: "is this node (faults apply to peers only)"}
		case !peers[id]:
			return Faults{}, &FaultError{Field: "drop", Value: strconv.Quote(string(id)), Reason: "not a peer"}
		}
	}
	slices.Sort(drop)
	drop = slices.Compact(drop)
	if len(drop) == 0 {
		drop = nil
	}
	f.Drop = drop
	return f, nil
}

// SetFaults replaces the network faults the node applies to what it sends
// to its peers; Faults{} heals. Messages already held for a delay are still
// sent when their delay ends. An invalid f (a probability outside [0, 1], a
// delay outside [0, MaxFaultDelay], an id in Drop that is not a peer) is
// refused with a *FaultError and changes nothing.
func (h *Host) SetFaults(f Faults) error {
	ff, err := f.validate(h.s.ID, h.tr.peers)
	if err != nil {
		return err
	}
	h.tr.faults.set(ff, h.seed, h.s.ID)
	h.s.logger.Info("network faults set", "drop", ff.Drop, "loss", ff.Loss, "delay", ff.Delay,
		"jitter", ff.Jitter, "duplicate", ff.Duplicate)
	return nil
}

// Faults returns the network faults in force (a copy).
func (h *Host) Faults() Faults { return h.tr.faults.get() }

// faultFilter applies Faults on the transport's outbound path. It is
// consulted on the event loop (transport.enqueue) and set from any
// goroutine; delayed frames are posted to their peer's queue by timers,
// which stop, with the frames they hold, when the transport stops.
type faultFilter struct {
	t  *transport
	on atomic.Bool // some fault is set: the fast path skips the lock when not

	mu      sync.Mutex
	f       Faults
	drop    map[nodes.NodeID]bool
	rng     *rand.Rand // created on the first set, from the Host's seed
	held    map[*heldFrame]struct{}
	maxHeld int  // MaxDelayed; tests lower it
	stopped bool // no more timers: everything held was discarded
	wg      sync.WaitGroup
}

// heldFrame is one frame waiting out its delay.
type heldFrame struct {
	timer *time.Timer
}

func (ff *faultFilter) init(t *transport) {
	ff.t = t
	ff.held = map[*heldFrame]struct{}{}
	ff.maxHeld = MaxDelayed
}

// set installs a validated f. The random source is a PCG seeded from the
// Host's seed and id, on a stream of its own (the node's Rand is another).
func (ff *faultFilter) set(f Faults, seed uint64, id nodes.NodeID) {
	ff.mu.Lock()
	defer ff.mu.Unlock()
	if ff.rng == nil {
		hash := fnv.New64a()
		_, _ = hash.Write([]byte("faults/" + string(id)))
		ff.rng = rand.New(rand.NewPCG(seed, hash.Sum64()))
	}
	ff.f = f
	ff.drop = make(map[nodes.NodeID]bool, len(f.Drop))
	for _, p := range f.Drop {
		ff.drop[p] = true
	}
	ff.on.Store(len(f.Drop) > 0 || f.Loss > 0 || f.Delay > 0 || f.Jitter > 0 || f.Duplicate > 0)
}

func (ff *faultFilter) get() Faults {
	ff.mu.Lock()
	defer ff.mu.Unlock()
	f := ff.f
	f.Drop = slices.Clone(f.Drop)
	return f
}

// apply sends frame to l's peer through the faults: it may drop it,
// duplicate it, or hold it for a delay. It never blocks on the network.
func (ff *faultFilter) apply(l *link, frame []byte) {
	ff.mu.Lock()
	defer ff.mu.Unlock()
	c := ff.t.c
	if ff.drop[l.id] || (ff.f.Loss > 0 && ff.rng.Float64() < ff.f.Loss) {
		c.faultDropped.Add(1)
		return
	}
	copies := 1
	if ff.f.Duplicate > 0 && ff.rng.Float64() < ff.f.Duplicate {
		copies = 2
		c.faultDuplicated.Add(1)
	}
	for range copies {
		d := ff.f.Delay
		if ff.f.Jitter > 0 {
			d += time.Duration(ff.rng.Int64N(int64(ff.f.Jitter) + 1))
		}
		if d <= 0 {
			ff.t.put(l, frame)
			continue
		}
		ff.hold(l, frame, d)
	}
}

// hold posts frame to l's queue after d, unless the filter stops first.
// Called with ff.mu held.
func (ff *faultFilter) hold(l *link, frame []byte, d time.Duration) {
	c := ff.t.c
	if ff.stopped || len(ff.held) >= ff.maxHeld {
		c.faultDropped.Add(1)
		return
	}
	c.faultDelayed.Add(1)
	hf := &heldFrame{}
	ff.wg.Add(1) // released by the timer's function, or by stop if it stops the timer first
	hf.timer = time.AfterFunc(d, func() {
		defer ff.wg.Done()
		ff.mu.Lock()
		if ff.stopped { // stop discarded (and counted) this frame
			ff.mu.Unlock()
			return
		}
		delete(ff.held, hf)
		ff.mu.Unlock()
		ff.t.put(l, frame)
	})
	ff.held[hf] = struct{}{} // under ff.mu, which the function takes first
}

// stop discards every frame still held (counted in FaultDropped), stops
// their timers and waits for the functions of those already firing.
func (ff *faultFilter) stop() {
	ff.mu.Lock()
	ff.stopped = true
	for hf := range ff.held {
		if hf.timer.Stop() {
			ff.wg.Done()
		}
		delete(ff.held, hf)
		ff.t.c.faultDropped.Add(1)
	}
	ff.mu.Unlock()
	ff.wg.Wait()
}
