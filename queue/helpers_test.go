package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/comandera/comandera/core"
)

// fake is a Printer for tests: it records what it printed and can be told to
// fail, panic, block or report a status.
type fake struct {
	mu       sync.Mutex
	printed  []printed
	calls    map[string]int // Print calls per job
	statusFn func() (core.Status, error)
	failFn   func(j *Job, call int) error // nil: success
	hold     chan struct{}                // non-nil: Print waits for it to close (or ctx)
	started  chan string                  // non-nil: receives the job ID when Print starts

	inflight, maxInflight atomic.Int32
}

type printed struct {
	ID      string
	Reprint bool
	At      time.Time
}

func newFake() *fake { return &fake{calls: map[string]int{}} }

func (f *fake) Print(ctx context.Context, j *Job) error {
	n := f.inflight.Add(1)
	defer f.inflight.Add(-1)
	for {
		m := f.maxInflight.Load()
		if n <= m || f.maxInflight.CompareAndSwap(m, n) {
			break
		}
	}
	if j.Content == "" && j.Raw == nil && j.Document == nil {
		return Permanent(fmt.Errorf("job %s reached the printer without payload", j.ID))
	}
	f.mu.Lock()
	f.calls[j.ID]++
	call := f.calls[j.ID]
	failFn, hold, started := f.failFn, f.hold, f.started
	f.mu.Unlock()
	if started != nil {
		started <- j.ID
	}
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if failFn != nil {
		if err := failFn(j, call); err != nil {
			return err
		}
	}
	f.mu.Lock()
	f.printed = append(f.printed, printed{j.ID, j.Reprint, time.Now()})
	f.mu.Unlock()
	return nil
}

func (f *fake) Status(ctx context.Context) (core.Status, error) {
	f.mu.Lock()
	fn := f.statusFn
	f.mu.Unlock()
	if fn == nil {
		return core.Status{}, nil
	}
	return fn()
}

func (f *fake) setStatus(fn func() (core.Status, error)) {
	f.mu.Lock()
	f.statusFn = fn
	f.mu.Unlock()
}

func (f *fake) setFail(fn func(j *Job, call int) error) {
	f.mu.Lock()
	f.failFn = fn
	f.mu.Unlock()
}

func (f *fake) ids() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, len(f.printed))
	for i, p := range f.printed {
		out[i] = p.ID
	}
	return out
}

func (f *fake) prints() []printed {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.printed)
}

func (f *fake) callsFor(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[id]
}

// testWriter sends log lines to t.Log.
type testWriter struct {
	t    testing.TB
	mu   *sync.Mutex
	done *atomic.Bool
}

func (w testWriter) Write(p []byte) (int, error) {
	if !w.done.Load() {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func testLogger(t testing.TB) *slog.Logger {
	done := new(atomic.Bool)
	t.Cleanup(func() { done.Store(true) })
	var w io.Writer = testWriter{t, new(sync.Mutex), done}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// fast returns printer settings with short timings.
func fast(name string, p Printer) PrinterConfig {
	return PrinterConfig{
		Name: name, Printer: p,
		MaxAttempts: 3, RetryBackoff: 5 * time.Millisecond, RetryMax: 20 * time.Millisecond,
		PollEvery: 5 * time.Millisecond, StatusTimeout: time.Second, PrintTimeout: 5 * time.Second,
	}
}

func openAt(t testing.TB, path string, opts Options) *Queue {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	if opts.SweepEvery == 0 {
		opts.SweepEvery = 10 * time.Millisecond
	}
	q, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

func openQueue(t testing.TB, opts Options) (*Queue, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "data", FileName)
	return openAt(t, path, opts), path
}

func submit(t testing.TB, q *Queue, r Request) *Job {
	t.Helper()
	if r.Content == "" && r.Raw == nil && r.Document == nil {
		r.Content = "ticket"
	}
	j, _, err := q.Submit(context.Background(), r)
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	return j
}

func wait(t testing.TB, q *Queue, id string) *Job {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	j, err := q.Wait(ctx, id)
	if err != nil {
		t.Fatalf("wait %s: %v (state %v)", id, err, state(j))
	}
	return j
}

func state(j *Job) core.JobState {
	if j == nil {
		return ""
	}
	return j.State
}

func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// recorder collects events for one job or all.
type recorder struct {
	sub *Subscription
	mu  sync.Mutex
	evs []Event
	wg  sync.WaitGroup
}

func record(q *Queue) *recorder {
	r := &recorder{sub: q.Subscribe(10000)}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for e := range r.sub.C {
			r.mu.Lock()
			r.evs = append(r.evs, e)
			r.mu.Unlock()
		}
	}()
	return r
}

func (r *recorder) states(id string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.evs {
		if e.Job.ID == id {
			out = append(out, fmt.Sprintf("%s>%s", e.Previous, e.State))
		}
	}
	return out
}

func (r *recorder) events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.evs)
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
