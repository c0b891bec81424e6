// Package lab is what every Go baseline shares: the workload flags, the
// preprocess kernel, its calibration, the client's failure policy and the
// run report.
//
// The kernel is a line-by-line copy of crates/pipeline/src/kernel.rs, so that
// a Go baseline reports the same per-batch digest and run checksum as every
// Rust executor, and folds every batch into exactly --features values first
// (FoldValues), as Rust does, so that the calibrated rounds cost the same
// whatever the body's size. Every product is wrapped in an explicit float64 conversion:
// the Go specification lets a compiler fuse x*y + z into one FMA instruction
// (with one rounding instead of two) unless a conversion rounds the product
// first, and the Rust kernel never fuses. Only the first kernel round enters
// the digest; the further rounds are the CPU work, calibrated here, in Go, to
// take --cpu-ms of one core.
package lab

import (
	"encoding/json"
	"fmt"
	"math"
	"math/bits"
	"runtime"
	"sort"
	"syscall"
	"time"
)

// Mix is the SplitMix64 finaliser; uint64 arithmetic wraps as Rust's wrapping_* does.
func Mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// BatchDigest mixes a batch's id, its size and the kernel's first round.
func BatchDigest(id uint64, nValues int, firstRound float64) uint64 {
	return Mix(Mix(id) ^ bits.RotateLeft64(Mix(uint64(nValues)), 17) ^ math.Float64bits(firstRound))
}

// CombineDigests folds batch digests into one checksum, independently of their order.
func CombineDigests(digests []uint64) uint64 {
	var sum uint64
	for _, digest := range digests {
		sum += Mix(digest)
	}
	return sum
}

// KernelRound normalises the values to zero mean and unit variance, applies
// a soft-sign plus quadratic transform, and reduces to a weighted sum and a peak.
func KernelRound(values []float64, round uint64) float64 {
	n := float64(len(values))
	total := 0.0
	for _, value := range values {
		total += value
	}
	mean := total / n
	squares := 0.0
	for _, value := range values {
		squares += float64((value - mean) * (value - mean))
	}
	variance := squares / n
	invStd := 1.0 / (math.Sqrt(variance) + 1e-12)
	// A per-round shift keeps every round's result distinct, so no round can be skipped.
	shift := float64(float64(round%7) * 1e-3)
	weighted := 0.0
	peak := -math.MaxFloat64
	for i, value := range values {
		z := float64((value-mean)*invStd) + shift
		transformed := z/(1.0+math.Abs(z)) + float64(float64(0.05*z)*z)
		weighted += float64(transformed * (float64(i%16) + 1.0))
		if transformed > peak {
			peak = transformed
		}
	}
	return weighted/n + peak
}

// BatchError says why one batch failed; Kind groups errors in the report as Rust does.
type BatchError struct {
	Kind    string
	Message string
	Status  int
}

func (e *BatchError) Error() string { return e.Message }

func decodeError(format string, args ...interface{}) *BatchError {
	return &BatchError{Kind: "decode", Message: "malformed feature batch: " + fmt.Sprintf(format, args...)}
}

type featureBatch struct {
	ID     *uint64   `json:"id"`
	Values []float64 `json:"values"`
}

// FoldValues folds a batch's values into exactly `features` values, as
// crates/pipeline/src/kernel.rs's fold_values does: a batch of exactly
// `features` values is used unchanged; otherwise slot i starts at 0.0 and
// value j is added into slot j % features, in order.
func FoldValues(values []float64, features int) []float64 {
	if len(values) == features {
		return values
	}
	slots := make([]float64, features)
	for j, value := range values {
		slots[j%features] += value
	}
	return slots
}

// FoldBody is the values of a body that is not a feature batch, folded as
// FoldValues folds: byte j is the value byte / 255.0, added into slot j % features.
func FoldBody(body []byte, features int) []float64 {
	slots := make([]float64, features)
	for j, b := range body {
		slots[j%features] += float64(b) / 255.0
	}
	return slots
}

// Decode returns the feature values of a body, a feature batch from a
// feature store or the bytes of any other service's answer, folded into
// --features values, and the number of values the body gave.
func (w *Workload) Decode(id uint64, body []byte) ([]float64, int, error) {
	if !w.FeatureStore {
		return FoldBody(body, w.Features), len(body), nil
	}
	var batch featureBatch
	if err := json.Unmarshal(body, &batch); err != nil {
		return nil, 0, decodeError("%v", err)
	}
	if batch.ID == nil {
		return nil, 0, decodeError("missing field `id`")
	}
	if *batch.ID != id {
		return nil, 0, decodeError("asked for batch %d, got batch %d", id, *batch.ID)
	}
	if len(batch.Values) == 0 {
		return nil, 0, decodeError("batch has no values")
	}
	return FoldValues(batch.Values, w.Features), len(batch.Values), nil
}

// Process decodes and preprocesses one batch: its digest, the CPU time it
// took and the values the body gave before folding.
//
// The goroutine is locked to its OS thread meanwhile, so that the thread's
// CPU clock measures this batch alone.
func (w *Workload) Process(id uint64, body []byte) (uint64, time.Duration, int, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before := ThreadCPUTime()
	digest, given, err := w.Preprocess(id, body)
	if err != nil {
		return 0, 0, 0, err
	}
	return digest, ThreadCPUTime() - before, given, nil
}

// Preprocess decodes one batch and runs the kernel's rounds on it: its
// digest and the values the body gave before folding.
func (w *Workload) Preprocess(id uint64, body []byte) (uint64, int, error) {
	values, given, err := w.Decode(id, body)
	if err != nil {
		return 0, 0, err
	}
	first := KernelRound(values, 0)
	sink := first
	for round := uint64(1); round < w.CPURounds; round++ {
		sink += KernelRound(values, round)
	}
	keep(sink)
	return BatchDigest(id, given, first), given, nil
}

var sinkHole float64

// keep stores a result where the compiler cannot prove it unused.
func keep(value float64) { sinkHole = value }

// ThreadCPUTime is the CPU time of the calling OS thread so far.
func ThreadCPUTime() time.Duration {
	const rusageThread = 1 // RUSAGE_THREAD on Linux
	var usage syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &usage); err != nil {
		return 0
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
}

// Calibrate measures kernel rounds per millisecond of one thread's CPU time:
// the median of short samples after one to warm up, as the Rust Calibration does.
func Calibrate(features int) float64 {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if features < 1 {
		features = 1
	}
	values := make([]float64, features)
	for i := range values {
		values[i] = float64(Mix(uint64(i))>>11)/float64(uint64(1)<<53) - 0.5
	}
	// getrusage is a system call that costs about a round of a few hundred
	// values: read the clock once every 4,096 values' worth of rounds, as
	// the Rust Calibration does, so that small batches measure the kernel.
	roundsPerRead := 4096 / features
	if roundsPerRead < 1 {
		roundsPerRead = 1
	}
	sample := func() float64 {
		start := ThreadCPUTime()
		rounds := uint64(0)
		sink := 0.0
		for {
			for i := 0; i < roundsPerRead; i++ {
				sink += KernelRound(values, rounds)
				rounds++
			}
			elapsed := ThreadCPUTime() - start
			if elapsed >= 10*time.Millisecond {
				keep(sink)
				return float64(rounds) / (elapsed.Seconds() * 1e3)
			}
		}
	}
	sample()
	samples := make([]float64, 9)
	for i := range samples {
		samples[i] = sample()
	}
	sort.Float64s(samples)
	return samples[len(samples)/2]
}
