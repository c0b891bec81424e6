package lab

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// MaxBodyBytes is the largest response body a client accepts, as in the Rust fetchers.
const MaxBodyBytes = 16 * 1024 * 1024

// The headers of every request, as the Rust clients send them
// (crates/pipeline/src/wire.rs): runtime-lab's User-Agent, which the CLI
// passes in RUNTIME_LAB_USER_AGENT, "Accept: */*", and no Accept-Encoding;
// net/http adds "Connection: close" itself when keep-alive is off.
var userAgent = userAgentFromEnvironment()

func userAgentFromEnvironment() string {
	if agent := os.Getenv("RUNTIME_LAB_USER_AGENT"); agent != "" {
		return agent
	}
	return "runtime-lab"
}

// baseBackoff is the first pause before a retry; each retry doubles it, with jitter.
const baseBackoff = 20 * time.Millisecond

// Workload is the workload flags, parsed and checked, with the calibrated CPU work.
type Workload struct {
	Batches      int
	IOMs         int
	CPUMs        float64
	CPURounds    uint64
	Features     int
	Workers      int
	Pooled       bool
	TimeoutMs    int
	Retries      int
	Upstream     string
	UpstreamKind string
	FeatureStore bool
	client       *http.Client
}

// usageError reports bad input the way the Rust CLI does: "NAME: error: ..."
// on stderr and exit status 2.
func usageError(name string) func(format string, args ...interface{}) {
	return func(format string, args ...interface{}) {
		fmt.Fprintf(os.Stderr, "%s: error: %s\n", name, fmt.Sprintf(format, args...))
		os.Exit(2)
	}
}

// ParseWorkload parses the workload flags (exit 2 on bad input), calibrates
// the kernel when there is CPU work, and builds the HTTP client.
func ParseWorkload(name, description string) *Workload {
	flags := flag.NewFlagSet(name, flag.ExitOnError)
	flags.Usage = func() {
		fmt.Fprintf(flags.Output(), "%s: %s\n\nUsage of %s:\n", name, description, name)
		flags.PrintDefaults()
	}
	w := &Workload{}
	var connections string
	var version bool
	flags.IntVar(&w.Batches, "batches", 32, "feature batches to fetch and preprocess")
	flags.IntVar(&w.Batches, "n", 32, "short for --batches")
	flags.IntVar(&w.IOMs, "io-ms", 1000, "the feature store answers each request after this many milliseconds")
	flags.Float64Var(&w.CPUMs, "cpu-ms", 0, "calibrated single-core CPU time to preprocess one batch, in milliseconds")
	flags.IntVar(&w.Features, "features", 1024, "feature values per batch")
	flags.IntVar(&w.Workers, "workers", runtime.NumCPU(), "GOMAXPROCS: OS threads that run goroutines at once")
	flags.StringVar(&connections, "connections", "fresh", "fresh (a new connection per request) or pooled (keep-alive)")
	flags.IntVar(&w.TimeoutMs, "timeout-ms", 0, "per-request timeout, each attempt [default: 2 x io + 2000 + batches x cpu]")
	flags.IntVar(&w.Retries, "retries", 2, "retries per batch after a connect error, reset, timeout or 5xx")
	flags.StringVar(&w.Upstream, "upstream", "", "base URL of a running feature store, or any URL with {id} in it")
	flags.StringVar(&w.UpstreamKind, "upstream-kind", "", "what the upstream is, as runtime-lab's probe decided: feature-store, template or url [default: template if the URL holds {id}, else feature-store]")
	flags.BoolVar(&version, "version", false, "print the Go version and exit")
	_ = flags.Parse(os.Args[1:]) // ExitOnError: a bad flag exits with status 2
	if version {
		fmt.Println(runtime.Version())
		os.Exit(0)
	}
	usage := usageError(name)
	switch {
	case !validUpstreamKind(w.UpstreamKind):
		usage("--upstream-kind must be feature-store, template or url, got %q", w.UpstreamKind)
	case w.Batches < 1:
		usage("--batches must be at least 1")
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
	case w.TimeoutMs < 0 || w.Retries < 0 || w.Retries > 10:
		usage("--timeout-ms must be positive and --retries between 0 and 10")
	case w.Upstream == "":
		usage("--upstream is required: a running feature store, or any URL with {id} in it")
	case !strings.HasPrefix(w.Upstream, "http://"):
		usage("--upstream %q: only plain http:// upstreams are supported", w.Upstream)
	}
	exitWithParent()
	w.Pooled = connections == "pooled"
	w.setUpstreamKind()
	if w.TimeoutMs == 0 {
		w.TimeoutMs = 2*w.IOMs + 2000 + int(math.Ceil(float64(w.Batches)*w.CPUMs))
	}
	if w.CPUMs > 0 {
		w.CPURounds = uint64(math.Max(1, math.Round(w.CPUMs*Calibrate(w.Features))))
	}
	runtime.GOMAXPROCS(w.Workers)
	w.client = newClient(w)
	return w
}

// validUpstreamKind: empty (not given) or one of the probe's kinds.
func validUpstreamKind(kind string) bool {
	switch kind {
	case "", "feature-store", "template", "url":
		return true
	}
	return false
}

// setUpstreamKind settles the kind: what the CLI's probe decided, or, when
// none was given, the guess of Rust's Upstream::parse (a template when the
// URL holds {id}, otherwise the base of a feature store).
func (w *Workload) setUpstreamKind() {
	if w.UpstreamKind == "" {
		w.UpstreamKind = "feature-store"
		if strings.Contains(w.Upstream, "{id}") {
			w.UpstreamKind = "template"
		}
	}
	w.FeatureStore = w.UpstreamKind == "feature-store"
}

// newClient is net/http's client: with fresh connections keep-alive is off,
// so every request dials, sends "Connection: close" and closes; with pooled
// connections every batch in flight may keep its connection idle for reuse.
func newClient(w *Workload) *http.Client {
	transport := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: time.Duration(w.TimeoutMs) * time.Millisecond}).DialContext,
		DisableKeepAlives:   !w.Pooled,
		MaxIdleConns:        0, // no limit
		MaxIdleConnsPerHost: w.Batches,
		// No Accept-Encoding, as the Rust clients; a body compressed anyway
		// is decoded in fetchOnce, as they do.
		DisableCompression: true,
	}
	return &http.Client{Transport: transport, Timeout: time.Duration(w.TimeoutMs) * time.Millisecond}
}

// RequestURL is the URL of attempt `attempt` (0 for the first) of batch `id`.
func (w *Workload) RequestURL(id uint64, attempt int) string {
	if !w.FeatureStore {
		return strings.ReplaceAll(w.Upstream, "{id}", strconv.FormatUint(id, 10))
	}
	return fmt.Sprintf("%s/features/%d?delay_ms=%d&n=%d&attempt=%d",
		strings.TrimRight(w.Upstream, "/"), id, w.IOMs, w.Features, attempt)
}

// Fetch gets batch `id`, retrying transient failures: the body and the retries made.
func (w *Workload) Fetch(id uint64) ([]byte, int, error) {
	attempt := 0
	for {
		body, err := w.fetchOnce(id, attempt)
		var batchErr *BatchError
		if err == nil || attempt >= w.Retries || !errors.As(err, &batchErr) || !retryable(batchErr) {
			return body, attempt, err
		}
		attempt++
		time.Sleep(backoff(id, attempt))
	}
}

func (w *Workload) fetchOnce(id uint64, attempt int) ([]byte, error) {
	request, err := http.NewRequest(http.MethodGet, w.RequestURL(id, attempt), nil)
	if err != nil {
		return nil, &BatchError{Kind: "http", Message: "http error: " + err.Error()}
	}
	request.Header.Set("User-Agent", userAgent)
	request.Header.Set("Accept", "*/*")
	response, err := w.client.Do(request)
	if err != nil {
		return nil, classify(err, w.TimeoutMs)
	}
	defer response.Body.Close()
	if response.StatusCode < 200 || response.StatusCode >= 300 {
		return nil, &BatchError{Kind: "status", Status: response.StatusCode,
			Message: fmt.Sprintf("upstream answered status %d", response.StatusCode)}
	}
	body, err := io.ReadAll(io.LimitReader(response.Body, MaxBodyBytes+1))
	if err != nil {
		return nil, classify(err, w.TimeoutMs)
	}
	if len(body) > MaxBodyBytes {
		return nil, &BatchError{Kind: "body-too-large",
			Message: fmt.Sprintf("response body larger than %d bytes", MaxBodyBytes)}
	}
	return decodeContent(response.Header.Get("Content-Encoding"), body)
}

// decodeContent undoes a gzip or deflate Content-Encoding, within MaxBodyBytes.
func decodeContent(encoding string, body []byte) ([]byte, error) {
	var reader io.Reader
	var err error
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "", "identity":
		return body, nil
	case "gzip", "x-gzip":
		reader, err = gzip.NewReader(bytes.NewReader(body))
	case "deflate":
		reader, err = zlib.NewReader(bytes.NewReader(body))
	default:
		return nil, &BatchError{Kind: "decode", Message: fmt.Sprintf("unsupported content-encoding %q", encoding)}
	}
	if err != nil {
		return nil, &BatchError{Kind: "decode", Message: "cannot decode the body: " + err.Error()}
	}
	decoded, err := io.ReadAll(io.LimitReader(reader, MaxBodyBytes+1))
	if err != nil {
		return nil, &BatchError{Kind: "decode", Message: "cannot decode the body: " + err.Error()}
	}
	if len(decoded) > MaxBodyBytes {
		return nil, &BatchError{Kind: "body-too-large",
			Message: fmt.Sprintf("response body larger than %d bytes", MaxBodyBytes)}
	}
	return decoded, nil
}

// FetchAndProcess is one batch, start to end.
func (w *Workload) FetchAndProcess(id uint64, issued time.Time) Outcome {
	outcome := Outcome{ID: id, Issued: issued}
	body, retries, err := w.Fetch(id)
	outcome.Retries = retries
	if err == nil {
		outcome.Digest, outcome.CPU, outcome.Values, err = w.Process(id, body)
	}
	outcome.Err = err
	outcome.Finished = time.Now()
	return outcome
}

func classify(err error, timeoutMs int) *BatchError {
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return &BatchError{Kind: "timeout", Message: fmt.Sprintf("no answer within %d ms", timeoutMs)}
	}
	var opErr *net.OpError
	if errors.Is(err, syscall.ECONNREFUSED) || (errors.As(err, &opErr) && opErr.Op == "dial") {
		return &BatchError{Kind: "connect", Message: "connect failed: " + err.Error()}
	}
	return &BatchError{Kind: "http", Message: "http error: " + err.Error()}
}

// retryable: connect errors, resets, timeouts and 5xx; never 4xx or malformed bodies.
func retryable(err *BatchError) bool {
	switch err.Kind {
	case "connect", "http", "timeout":
		return true
	case "status":
		return err.Status >= 500
	}
	return false
}

// backoff is the pause before retry `attempt` (1-based): exponential, with
// jitter that is deterministic in the batch and attempt, as in the Rust fetchers.
func backoff(id uint64, attempt int) time.Duration {
	jitter := float64(Mix(id^(uint64(attempt)<<40))>>11)/float64(uint64(1)<<53) + 0.5
	doublings := attempt
	if doublings > 10 {
		doublings = 10
	}
	if doublings > 0 {
		doublings--
	}
	return time.Duration(float64(baseBackoff) * float64(uint64(1)<<doublings) * jitter)
}

// exitWithParent asks the kernel for SIGTERM when the parent dies, so that a
// run that `runtime-lab run` gives up on (its watchdog) leaves no process behind.
func exitWithParent() {
	_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, uintptr(syscall.SIGTERM), 0)
}
