// go-goroutines is the first article's Go client: one goroutine per batch,
// each fetching with net/http and preprocessing on its own, scheduled by the
// Go runtime on GOMAXPROCS (--workers) threads, which preempts a goroutine
// that computes too long, so I/O and CPU work overlap across the cores.
//
// Run with: cargo run --release -- run -e go-goroutines --batches 16 --io-ms 100 --cpu-ms 100
package main

import (
	"sync"
	"time"

	"runtimelab/baselines/lab"
)

func main() {
	workload := lab.ParseWorkload("go-goroutines", "one goroutine per batch, net/http")
	clock := lab.StartClock()
	outcomes := make([]lab.Outcome, workload.Batches)
	var done sync.WaitGroup
	for id := 0; id < workload.Batches; id++ {
		done.Add(1)
		go func(id int) {
			defer done.Done()
			outcomes[id] = workload.FetchAndProcess(uint64(id), time.Now())
		}(id)
	}
	done.Wait()
	clock.Report(workload, "go-goroutines", outcomes).Print()
}
