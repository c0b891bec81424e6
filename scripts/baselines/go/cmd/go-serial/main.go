// go-serial is the first article's serial Go client: one blocking
// net/http GET after another, each batch preprocessed before the next fetch.
//
// Run with: cargo run --release -- run -e go-serial --batches 4 --io-ms 100
package main

import (
	"time"

	"runtimelab/baselines/lab"
)

func main() {
	workload := lab.ParseWorkload("go-serial", "one request at a time, net/http")
	clock := lab.StartClock()
	outcomes := make([]lab.Outcome, 0, workload.Batches)
	for id := 0; id < workload.Batches; id++ {
		outcomes = append(outcomes, workload.FetchAndProcess(uint64(id), time.Now()))
	}
	clock.Report(workload, "go-serial", outcomes).Print()
}
