package lab

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Outcome is the life of one batch: when its fetch was issued, when it was
// done, and how it ended.
type Outcome struct {
	ID       uint64
	Issued   time.Time
	Finished time.Time
	Digest   uint64
	CPU      time.Duration
	// Values is what the body gave before it was folded into --features values.
	Values  int
	Retries int
	Err     error
}

// Latency holds per-batch latency percentiles in milliseconds.
type Latency struct {
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// Report holds the keys of `runtime-lab run --json` that a Go baseline measures.
type Report struct {
	Executor       string   `json:"executor"`
	Batches        int      `json:"batches"`
	IOMs           int      `json:"io_ms"`
	CPUMs          float64  `json:"cpu_ms"`
	CPURounds      uint64   `json:"cpu_rounds"`
	Features       int      `json:"features"`
	ValuesPerBatch *int     `json:"values_per_batch"`
	Workers        int      `json:"workers"`
	Connections    string   `json:"connections"`
	MaxInFlight    *int     `json:"max_in_flight"`
	GIL            bool     `json:"gil"`
	Cores          int      `json:"cores"`
	WallMs         float64  `json:"wall_ms"`
	IdealMs        float64  `json:"ideal_ms"`
	Efficiency     float64  `json:"efficiency"`
	CPUPerBatchMs  float64  `json:"cpu_per_batch_ms"`
	Latency        Latency  `json:"latency_ms"`
	CPUUserMs      float64  `json:"cpu_user_ms"`
	CPUSysMs       float64  `json:"cpu_sys_ms"`
	PeakRSSKb      int      `json:"peak_rss_kb"`
	ThreadsPeak    int64    `json:"threads_peak"`
	OK             int      `json:"ok"`
	Failed         int      `json:"failed"`
	RetriesTotal   int      `json:"retries"`
	FailedIDs      []uint64 `json:"failed_ids"`
	Checksum       string   `json:"checksum"`
	Errors         []string `json:"errors"`
	UpstreamURL    string   `json:"upstream"`
	UpstreamKind   string   `json:"upstream_kind"`
	RuntimeVersion string   `json:"runtime"`
}

// RunClock measures a run: CPU usage from its start, and the peak thread
// count, sampled every millisecond by a goroutine (which owns no thread).
type RunClock struct {
	user, system time.Duration
	threadsPeak  int64
	stop         chan struct{}
	stopped      sync.WaitGroup
}

// StartClock starts measuring; call it just before the run's work begins.
func StartClock() *RunClock {
	clock := &RunClock{stop: make(chan struct{})}
	clock.user, clock.system = usage()
	clock.sample()
	clock.stopped.Add(1)
	go func() {
		defer clock.stopped.Done()
		ticker := time.NewTicker(time.Millisecond)
		defer ticker.Stop()
		for {
			select {
			case <-clock.stop:
				return
			case <-ticker.C:
				clock.sample()
			}
		}
	}()
	return clock
}

func (c *RunClock) sample() {
	threads := int64(procStatusField("Threads:"))
	for {
		peak := atomic.LoadInt64(&c.threadsPeak)
		if threads <= peak || atomic.CompareAndSwapInt64(&c.threadsPeak, peak, threads) {
			return
		}
	}
}

// Report builds the run report from every batch's outcome.
func (c *RunClock) Report(w *Workload, executor string, outcomes []Outcome) Report {
	close(c.stop)
	c.stopped.Wait()
	c.sample()
	user, system := usage()
	sort.Slice(outcomes, func(i, j int) bool { return outcomes[i].ID < outcomes[j].ID })
	report := Report{
		Executor: executor, Batches: w.Batches, IOMs: w.IOMs, CPUMs: w.CPUMs,
		CPURounds: w.CPURounds, Features: w.Features, Workers: w.Workers,
		Connections: map[bool]string{true: "pooled", false: "fresh"}[w.Pooled],
		Cores:       runtime.NumCPU(), FailedIDs: []uint64{}, Errors: []string{},
		UpstreamURL: w.Upstream, UpstreamKind: w.UpstreamKind, RuntimeVersion: runtime.Version(),
		CPUUserMs: ms(user - c.user), CPUSysMs: ms(system - c.system),
		PeakRSSKb: procStatusField("VmHWM:"), ThreadsPeak: atomic.LoadInt64(&c.threadsPeak),
	}
	var digests []uint64
	var cpuTimes, latencies []float64
	var first, last time.Time
	type kind struct {
		first string
		count int
	}
	var kinds []string
	byKind := map[string]*kind{}
	for i, outcome := range outcomes {
		if i == 0 || outcome.Issued.Before(first) {
			first = outcome.Issued
		}
		if i == 0 || outcome.Finished.After(last) {
			last = outcome.Finished
		}
		latencies = append(latencies, ms(outcome.Finished.Sub(outcome.Issued)))
		report.RetriesTotal += outcome.Retries
		if outcome.Err == nil {
			digests = append(digests, outcome.Digest)
			cpuTimes = append(cpuTimes, ms(outcome.CPU))
			if report.ValuesPerBatch == nil || outcome.Values > *report.ValuesPerBatch {
				values := outcome.Values
				report.ValuesPerBatch = &values
			}
			continue
		}
		report.FailedIDs = append(report.FailedIDs, outcome.ID)
		name := "other"
		var batchErr *BatchError
		if errors.As(outcome.Err, &batchErr) {
			name = batchErr.Kind
		}
		if seen, ok := byKind[name]; ok {
			seen.count++
		} else {
			byKind[name] = &kind{first: outcome.Err.Error(), count: 1}
			kinds = append(kinds, name)
		}
	}
	for _, name := range kinds {
		seen := byKind[name]
		plural := "es"
		if seen.count == 1 {
			plural = ""
		}
		report.Errors = append(report.Errors, fmt.Sprintf("%s (%d batch%s)", seen.first, seen.count, plural))
	}
	report.OK, report.Failed = len(digests), len(report.FailedIDs)
	report.Checksum = fmt.Sprintf("%016x", CombineDigests(digests))
	if len(outcomes) > 0 {
		report.WallMs = ms(last.Sub(first))
	}
	sort.Float64s(cpuTimes)
	if len(cpuTimes) > 0 {
		report.CPUPerBatchMs = cpuTimes[len(cpuTimes)/2]
	}
	waves := (w.Batches + report.Cores - 1) / report.Cores
	report.IdealMs = float64(w.IOMs) + float64(waves)*report.CPUPerBatchMs
	if report.WallMs > 0 {
		report.Efficiency = math.Min(report.IdealMs/report.WallMs, 1)
	}
	sort.Float64s(latencies)
	report.Latency = Latency{P50: percentile(latencies, 0.5), P99: percentile(latencies, 0.99)}
	if len(latencies) > 0 {
		report.Latency.Max = latencies[len(latencies)-1]
	}
	return report
}

// Print writes the report as one JSON object on stdout.
func (r Report) Print() {
	encoded, err := json.Marshal(r)
	if err != nil {
		fmt.Fprintln(os.Stderr, "error: cannot encode the report:", err)
		os.Exit(1)
	}
	fmt.Println(string(encoded))
}

// percentile is the nearest-rank percentile of ascending values (0 for none).
func percentile(sorted []float64, quantile float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(quantile * float64(len(sorted))))
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

func ms(d time.Duration) float64 { return d.Seconds() * 1e3 }

func usage() (time.Duration, time.Duration) {
	var self syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &self); err != nil {
		return 0, 0
	}
	return time.Duration(self.Utime.Nano()), time.Duration(self.Stime.Nano())
}

// procStatusField reads a numeric field of /proc/self/status (`VmHWM:` in KiB, `Threads:`).
func procStatusField(field string) int {
	file, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer file.Close()
	scanner := bufio.NewScanner(file)
	for scanner.Scan() {
		if line := scanner.Text(); strings.HasPrefix(line, field) {
			fields := strings.Fields(strings.TrimPrefix(line, field))
			if len(fields) > 0 {
				value, _ := strconv.Atoi(fields[0])
				return value
			}
		}
	}
	return 0
}
