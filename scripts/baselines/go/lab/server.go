package lab

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
)

// ReadyPrefix starts the one readiness line a server prints on stdout; HOST:PORT follows it.
const ReadyPrefix = "listening on http://"

// Server is the flags of `runtime-lab serve`, parsed and checked: where to
// listen, and the workload of one request, whose batches are the fan-out.
type Server struct {
	Addr     string
	Workload *Workload
}

// ParseServer parses serve's flags (exit 2 on bad input), calibrates the
// kernel for --cpu-ms spread over the request's batches, sets GOMAXPROCS to
// --workers, and builds the HTTP client of the upstream.
func ParseServer(name, description string) *Server {
	flags := flag.NewFlagSet(name, flag.ExitOnError)
	flags.Usage = func() {
		fmt.Fprintf(flags.Output(), "%s: %s\n\nUsage of %s:\n", name, description, name)
		flags.PrintDefaults()
	}
	s := &Server{Workload: &Workload{Retries: 2, Pooled: true}}
	w := s.Workload
	var connections string
	var version bool
	flags.IntVar(&w.Workers, "workers", runtime.NumCPU(), "GOMAXPROCS: OS threads that run goroutines at once")
	flags.StringVar(&s.Addr, "addr", "127.0.0.1:8080", "address to listen on (port 0 picks a free one)")
	flags.IntVar(&w.Batches, "fanout", 1, "feature batches fetched per request")
	flags.IntVar(&w.IOMs, "io-ms", 20, "the feature store answers each fetch after this many milliseconds")
	flags.Float64Var(&w.CPUMs, "cpu-ms", 5, "calibrated single-core CPU time per request, spread over its batches")
	flags.IntVar(&w.Features, "features", 1024, "feature values per batch")
	flags.StringVar(&connections, "connections", "pooled", "connections to the upstream: pooled (keep-alive) or fresh")
	flags.StringVar(&w.Upstream, "upstream", "", "base URL of a running feature store, or any URL with {id} in it")
	flags.BoolVar(&version, "version", false, "print the Go version and exit")
	_ = flags.Parse(os.Args[1:]) // ExitOnError: a bad flag exits with status 2
	if version {
		fmt.Println(runtime.Version())
		os.Exit(0)
	}
	usage := usageError(name)
	switch {
	case w.Batches < 1 || w.Batches > 1024:
		usage("--fanout must be between 1 and 1024")
	case w.IOMs < 0 || w.IOMs > 60000:
		usage("--io-ms must be between 0 and 60000")
	case !(w.CPUMs >= 0 && w.CPUMs <= 60000):
		usage("--cpu-ms must be between 0 and 60000")
	case w.Features < 1 || w.Features > 100000:
		usage("--features must be between 1 and 100000")
	case w.Workers < 1 || w.Workers > 4096:
		usage("--workers must be between 1 and 4096")
	case connections != "fresh" && connections != "pooled":
		usage("--connections must be fresh or pooled, got %q", connections)
	case w.Upstream == "":
		usage("--upstream is required: a running feature store, or any URL with {id} in it")
	case !strings.HasPrefix(w.Upstream, "http://"):
		usage("--upstream %q: only plain http:// upstreams are supported", w.Upstream)
	}
	exitWithParent()
	w.Pooled = connections == "pooled"
	w.FeatureStore = !strings.Contains(w.Upstream, "{id}")
	// --cpu-ms is per request; each batch burns its share, as in the Rust servers.
	w.CPUMs /= float64(w.Batches)
	w.TimeoutMs = 2*w.IOMs + 2000 + int(math.Ceil(float64(w.Batches)*w.CPUMs))
	if w.CPUMs > 0 {
		w.CPURounds = uint64(math.Max(1, math.Round(w.CPUMs*Calibrate(w.Features))))
	}
	runtime.GOMAXPROCS(w.Workers)
	w.client = newClient(w)
	// Every request in flight may park its connections for the next one.
	w.client.Transport.(*http.Transport).MaxIdleConnsPerHost = 4096
	return s
}

// prediction is the body of a /predict answer, in the Rust servers' key order.
type prediction struct {
	ID      uint64 `json:"id"`
	Digest  string `json:"digest"`
	Batches int    `json:"batches"`
}

// ServeHTTP answers GET /predict?id=N and GET /health as the Rust servers do.
func (s *Server) ServeHTTP(response http.ResponseWriter, request *http.Request) {
	path := request.URL.Path
	if path != "/predict" && path != "/health" {
		answer(response, http.StatusNotFound, map[string]string{"error": "no route " + path})
		return
	}
	if request.Method != http.MethodGet {
		answer(response, http.StatusMethodNotAllowed,
			map[string]string{"error": fmt.Sprintf("%s takes GET, not %s", path, request.Method)})
		return
	}
	if path == "/health" {
		answer(response, http.StatusOK, map[string]string{"status": "ok"})
		return
	}
	values, present := request.URL.Query()["id"]
	if !present {
		answer(response, http.StatusBadRequest, map[string]string{"error": "missing ?id=N"})
		return
	}
	id, err := strconv.ParseUint(values[0], 10, 64)
	if err != nil {
		answer(response, http.StatusBadRequest,
			map[string]string{"error": fmt.Sprintf("id %q is not a non-negative integer", values[0])})
		return
	}
	fanout := uint64(s.Workload.Batches)
	if id > (math.MaxUint64-fanout)/fanout {
		answer(response, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("id %d is too large", id)})
		return
	}
	status, body := s.Predict(id)
	answer(response, status, body)
}

// Predict fetches the request's batches N*S .. N*S+S concurrently, one
// goroutine each, then preprocesses them on this goroutine: the answer's
// status and body.
func (s *Server) Predict(id uint64) (int, interface{}) {
	w := s.Workload
	first := id * uint64(w.Batches)
	bodies := make([][]byte, w.Batches)
	errs := make([]error, w.Batches)
	var fetched sync.WaitGroup
	for i := range bodies {
		fetched.Add(1)
		go func(i int) {
			defer fetched.Done()
			bodies[i], _, errs[i] = w.Fetch(first + uint64(i))
		}(i)
	}
	fetched.Wait()
	digests := make([]uint64, 0, w.Batches)
	for i, body := range bodies {
		batch := first + uint64(i)
		err := errs[i]
		var digest uint64
		if err == nil {
			digest, _, err = w.Preprocess(batch, body)
		}
		if err != nil {
			return http.StatusBadGateway, map[string]string{"error": fmt.Sprintf("batch %d: %s", batch, err)}
		}
		digests = append(digests, digest)
	}
	return http.StatusOK, prediction{ID: id, Digest: fmt.Sprintf("%016x", CombineDigests(digests)), Batches: w.Batches}
}

func answer(response http.ResponseWriter, status int, body interface{}) {
	encoded, err := json.Marshal(body)
	if err != nil {
		status, encoded = http.StatusInternalServerError, []byte(`{"error":"cannot encode the answer"}`)
	}
	response.Header().Set("Content-Type", "application/json")
	response.WriteHeader(status)
	_, _ = response.Write(encoded)
}
