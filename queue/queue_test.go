package queue

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/comandera/comandera/core"
	bolt "go.etcd.io/bbolt"
)

func TestIDs(t *testing.T) {
	var g idGen
	base := time.Now()
	prev := ""
	for i := range 10000 {
		now := base
		switch {
		case i%1000 == 999:
			now = base.Add(-time.Hour) // the clock steps back
		case i%3 == 0:
			now = base.Add(time.Duration(i) * time.Millisecond)
		}
		id := g.next(now)
		if len(id) != idLen || !ValidID(id) {
			t.Fatalf("bad ID %q", id)
		}
		if id <= prev {
			t.Fatalf("IDs not increasing: %q after %q", id, prev)
		}
		b, _ := decodeID(id)
		if encodeID(b) != id {
			t.Fatalf("round trip %q", id)
		}
		prev = id
	}
	// A generator seeded with an ID from "the future" (an earlier run with a
	// clock ahead) still goes up.
	var g2 idGen
	future := (&idGen{}).next(base.Add(24 * time.Hour))
	g2.observe(future)
	if id := g2.next(base); id <= future {
		t.Fatalf("after observe: %q <= %q", id, future)
	}
	if tm, ok := IDTime(prev); !ok || tm.Year() < 2020 {
		t.Fatalf("IDTime(%q) = %v, %v", prev, tm, ok)
	}
	for _, bad := range []string{"", "x", "01ARZ3NDEKTSV4RRFFQ69G5FAVX", "81ARZ3NDEKTSV4RRFFQ69G5FAV", "01ARZ3NDEKTSV4RRFFQ69G5FA!", "../../etc/passwd"} {
		if ValidID(bad) {
			t.Errorf("ValidID(%q) = true", bad)
		}
	}
}

func TestSubmitValidation(t *testing.T) {
	q, _ := openQueue(t, Options{Printers: []PrinterConfig{fast("p", newFake())}})
	doc := core.Document{{Kind: core.KindText, Text: "hola"}}
	cases := []struct {
		name string
		r    Request
		want error
		msg  string
	}{
		{"no content", Request{Printer: "p"}, ErrInvalid, "no content"},
		{"two kinds", Request{Printer: "p", Content: "a", Document: doc}, ErrInvalid, "two kinds"},
		{"empty raw", Request{Printer: "p", Raw: []byte{}}, ErrInvalid, "empty"},
		{"bad document", Request{Printer: "p", Document: core.Document{{Kind: core.KindText, Text: "x", Width: 9}}}, ErrInvalid, "width 9"},
		{"unknown printer", Request{Printer: "nope", Content: "a"}, ErrUnknownPrinter, `"nope"`},
		{"copies", Request{Printer: "p", Content: "a", Copies: MaxCopies + 1}, ErrInvalid, "copies"},
		{"metadata array", Request{Printer: "p", Content: "a", Metadata: json.RawMessage(`[1]`)}, ErrInvalid, "metadata"},
		{"metadata broken", Request{Printer: "p", Content: "a", Metadata: json.RawMessage(`{"a":`)}, ErrInvalid, "metadata"},
		{"callback relative", Request{Printer: "p", Content: "a", CallbackURL: "/cb"}, ErrInvalid, "callback_url"},
		{"callback ftp", Request{Printer: "p", Content: "a", CallbackURL: "ftp://x/cb"}, ErrInvalid, "callback_url"},
		{"callback credentials", Request{Printer: "p", Content: "a", CallbackURL: "http://u:p@x/cb"}, ErrInvalid, "credentials"},
		{"long key", Request{Printer: "p", Content: "a", IdempotencyKey: strings.Repeat("k", MaxKeyLen+1)}, ErrInvalid, "idempotency key"},
		{"negative ttl", Request{Printer: "p", Content: "a", ExpiresIn: -time.Second}, ErrInvalid, "negative"},
		{"bad utf8", Request{Printer: "p", Content: "\xff"}, ErrInvalid, "UTF-8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := q.Submit(context.Background(), c.r)
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("err = %v, want %v containing %q", err, c.want, c.msg)
			}
		})
	}
	if n := len(must(q.List(Filter{}))); n != 0 {
		t.Fatalf("%d jobs stored after rejected submissions", n)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestStateTransitions drives one job through each path of the state machine
// and checks its final state, attempts and the exact events.
func TestStateTransitions(t *testing.T) {
	paperOut := core.Status{Known: true, PaperOut: true}
	online := core.Status{Known: true, Online: true}
	cases := []struct {
		name      string
		req       Request
		setup     func(f *fake)
		state     core.JobState
		attempts  int
		events    []string
		prints    int
		lastError string
	}{
		{
			name:     "prints",
			state:    core.JobPrinted,
			attempts: 1, prints: 1,
			events: []string{">queued", "queued>printing", "printing>printed"},
		},
		{
			name:  "copies print in a row",
			req:   Request{Copies: 3},
			state: core.JobPrinted, attempts: 1, prints: 3,
			events: []string{">queued", "queued>printing", "printing>printed"},
		},
		{
			name: "permanent error fails at once",
			setup: func(f *fake) {
				f.failFn = func(*Job, int) error { return Permanent(errors.New("cannot encode")) }
			},
			state: core.JobFailed, attempts: 1,
			events:    []string{">queued", "queued>printing", "printing>failed"},
			lastError: "cannot encode",
		},
		{
			name: "transient errors until MaxAttempts",
			setup: func(f *fake) {
				f.failFn = func(*Job, int) error { return errors.New("cutter jam") }
			},
			state: core.JobFailed, attempts: 3,
			events: []string{">queued", "queued>printing", "printing>queued", "queued>printing",
				"printing>queued", "queued>printing", "printing>failed"},
			lastError: "gave up after 3 attempts",
		},
		{
			name: "transient error then printed",
			setup: func(f *fake) {
				f.failFn = func(_ *Job, call int) error {
					if call == 1 {
						return errors.New("write timeout")
					}
					return nil
				}
			},
			state: core.JobPrinted, attempts: 2, prints: 1,
			events: []string{">queued", "queued>printing", "printing>queued", "queued>printing", "printing>printed"},
		},
		{
			name: "offline never fails a job",
			setup: func(f *fake) {
				f.failFn = func(_ *Job, call int) error {
					if call <= 4 { // more than MaxAttempts
						return fmt.Errorf("dial: %w", core.ErrOffline)
					}
					return nil
				}
			},
			state: core.JobPrinted, attempts: 5, prints: 1,
		},
		{
			name: "not ready does not spend an attempt",
			setup: func(f *fake) {
				f.failFn = func(_ *Job, call int) error {
					if call == 1 {
						return fmt.Errorf("cover open: %w", core.ErrNotReady)
					}
					return nil
				}
			},
			state: core.JobPrinted, attempts: 1, prints: 1,
			events: []string{">queued", "queued>printing", "printing>queued", "queued>printing", "printing>printed"},
		},
		{
			name: "paper out waits before printing",
			setup: func(f *fake) {
				var n atomic.Int32
				f.statusFn = func() (core.Status, error) {
					if n.Add(1) <= 3 {
						return paperOut, nil
					}
					return online, nil
				}
			},
			state: core.JobPrinted, attempts: 1, prints: 1,
			events: []string{">queued", "queued>printing", "printing>printed"},
		},
		{
			name: "panic fails the job",
			setup: func(f *fake) {
				f.failFn = func(*Job, int) error { panic("driver bug") }
			},
			state: core.JobFailed, attempts: 1,
			events:    []string{">queued", "queued>printing", "printing>failed"},
			lastError: "panicked: driver bug",
		},
		{
			name:  "expired before it prints",
			req:   Request{ExpiresIn: time.Nanosecond},
			state: core.JobExpired, attempts: 0,
			events:    []string{">queued", "queued>expired"},
			lastError: "expired",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFake()
			if c.setup != nil {
				c.setup(f)
			}
			q, _ := openQueue(t, Options{Printers: []PrinterConfig{fast("p", f)}})
			rec := record(q)
			r := c.req
			r.Printer = "p"
			j := submit(t, q, r)
			got := wait(t, q, j.ID)
			if got.State != c.state || got.Attempts != c.attempts {
				t.Errorf("state %s attempts %d (last error %q), want %s %d", got.State, got.Attempts, got.LastError, c.state, c.attempts)
			}
			if n := len(f.ids()); n != c.prints {
				t.Errorf("printed %d times, want %d", n, c.prints)
			}
			if !strings.Contains(got.LastError, c.lastError) {
				t.Errorf("last error %q, want it to contain %q", got.LastError, c.lastError)
			}
			if c.state == core.JobPrinted && got.PrintedAt.IsZero() {
				t.Error("printed_at not set")
			}
			if c.events != nil {
				eventually(t, "events", func() bool { return len(rec.states(j.ID)) >= len(c.events) })
				if ev := rec.states(j.ID); !slices.Equal(ev, c.events) {
					t.Errorf("events\n got %q\nwant %q", ev, c.events)
				}
			}
			if d := q.Depth("p"); d != 0 {
				t.Errorf("depth %d after a final state", d)
			}
		})
	}
}

func TestIdempotencyConcurrent(t *testing.T) {
	f := newFake()
	q, _ := openQueue(t, Options{Printers: []PrinterConfig{fast("kitchen", f), fast("bar", f)}})
	const n = 100
	var (
		wg      sync.WaitGroup
		ids     = make([]string, n)
		created atomic.Int32
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			j, existed, err := q.Submit(context.Background(), Request{Printer: "kitchen", Content: "order 8812", IdempotencyKey: "order-8812"})
			if err != nil {
				t.Error(err)
				return
			}
			if !existed {
				created.Add(1)
			}
			ids[i] = j.ID
		}()
	}
	wg.Wait()
	if created.Load() != 1 {
		t.Fatalf("%d submissions created a job, want 1", created.Load())
	}
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("different jobs for one key: %s and %s", id, ids[0])
		}
	}
	if jobs := must(q.List(Filter{})); len(jobs) != 1 {
		t.Fatalf("%d jobs stored, want 1", len(jobs))
	}
	// Keys are per printer: the same key on another printer is another job.
	other, existed, err := q.Submit(context.Background(), Request{Printer: "bar", Content: "x", IdempotencyKey: "order-8812"})
	if err != nil || existed || other.ID == ids[0] {
		t.Fatalf("same key on another printer: %v %v %v", other, existed, err)
	}
	// After the job printed, the key still returns it.
	wait(t, q, ids[0])
	again, existed, err := q.Submit(context.Background(), Request{Printer: "kitchen", Content: "order 8812", IdempotencyKey: "order-8812"})
	if err != nil || !existed || again.ID != ids[0] || again.State != core.JobPrinted {
		t.Fatalf("retry after printing: %+v %v %v", again, existed, err)
	}
	if c := f.callsFor(ids[0]); c != 1 {
		t.Fatalf("printed %d times", c)
	}
}

func TestIdempotencyWindow(t *testing.T) {
	q, _ := openQueue(t, Options{
		Printers:          []PrinterConfig{fast("p", newFake())},
		IdempotencyWindow: 50 * time.Millisecond,
	})
	a := submit(t, q, Request{Printer: "p", IdempotencyKey: "k"})
	time.Sleep(60 * time.Millisecond)
	b, existed, err := q.Submit(context.Background(), Request{Printer: "p", Content: "x", IdempotencyKey: "k"})
	if err != nil || existed || b.ID == a.ID {
		t.Fatalf("after the window the key must make a new job: %v %v", existed, err)
	}
	time.Sleep(60 * time.Millisecond)
	wait(t, q, a.ID)
	wait(t, q, b.ID)
	_, keys, err := q.prune()
	if err != nil || keys != 1 {
		t.Fatalf("prune removed %d keys (%v), want 1", keys, err)
	}
}

// TestCrashRecovery writes the state a crash leaves (a job "printing") into
// the database and checks the reopened queue prints it again, marked REPRINT.
func TestCrashRecovery(t *testing.T) {
	f := newFake()
	f.statusFn = func() (core.Status, error) { return core.Status{Known: true, CoverOpen: true}, nil }
	path := t.TempDir() + "/" + FileName
	be := newBackend(t, "k")
	be.down.Store(true)
	q1, err := Open(path, Options{Logger: testLogger(t), Printers: []PrinterConfig{fast("p", f)}, Callback: fastCallbacks("k")})
	if err != nil {
		t.Fatal(err)
	}
	a := submit(t, q1, Request{Printer: "p", Content: "A", CallbackURL: be.srv.URL})
	b := submit(t, q1, Request{Printer: "p", Content: "B"})
	if err := q1.Close(); err != nil {
		t.Fatal(err)
	}
	// What a power cut between "printing" and "printed" leaves on disk.
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		j, err := getJob(tx, a.ID)
		if err != nil {
			return err
		}
		j.State, j.Attempts = core.JobPrinting, 1
		return tx.Bucket(bJobs).Put([]byte(a.ID), mustJSON(j))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}

	f2 := newFake()
	be.down.Store(false)
	q2 := openAt(t, path, Options{Printers: []PrinterConfig{fast("p", f2)}, Callback: fastCallbacks("k")})
	ja, jb := wait(t, q2, a.ID), wait(t, q2, b.ID)
	// The backend hears of the interrupted print and the reprint. (The
	// "queued>printing" before the crash was never written: the test wrote
	// the state directly.)
	eventually(t, "callbacks", func() bool { return len(be.states(a.ID)) == 4 })
	if got := be.states(a.ID); !slices.Equal(got, []string{">queued", "printing>queued", "queued>printing", "printing>printed"}) {
		t.Fatalf("callbacks %q", got)
	}
	if ja.State != core.JobPrinted || !ja.Reprint {
		t.Fatalf("A: %+v", ja)
	}
	if jb.State != core.JobPrinted || jb.Reprint {
		t.Fatalf("B (was queued) must print normally: %+v", jb)
	}
	p := f2.prints()
	if len(p) != 2 || p[0].ID != a.ID || !p[0].Reprint || p[1].ID != b.ID || p[1].Reprint {
		t.Fatalf("prints after restart: %+v", p)
	}
	if ja.Attempts != 2 {
		t.Fatalf("attempts %d, want 2 (the interrupted one counts)", ja.Attempts)
	}
}

// TestCrashRecoveryHungPrint leaves a job printing for real: Print ignores
// its context, Shutdown gives up, and the next Open reprints the job.
func TestCrashRecoveryHungPrint(t *testing.T) {
	f := newFake()
	release := make(chan struct{})
	defer close(release)
	f.started = make(chan string, 1)
	f.failFn = func(*Job, int) error { <-release; return nil } // ignores ctx
	path := t.TempDir() + "/" + FileName
	q1, err := Open(path, Options{Logger: testLogger(t), Printers: []PrinterConfig{fast("p", f)}})
	if err != nil {
		t.Fatal(err)
	}
	a := submit(t, q1, Request{Printer: "p"})
	<-f.started
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := q1.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	f2 := newFake()
	q2 := openAt(t, path, Options{Printers: []PrinterConfig{fast("p", f2)}})
	j := wait(t, q2, a.ID)
	if j.State != core.JobPrinted || !j.Reprint || len(f2.prints()) != 1 || !f2.prints()[0].Reprint {
		t.Fatalf("after restart: %+v prints %+v", j, f2.prints())
	}
}

func TestShutdownFinishesJobInHand(t *testing.T) {
	f := newFake()
	f.started = make(chan string, 1)
	f.hold = make(chan struct{})
	path := t.TempDir() + "/" + FileName
	q, err := Open(path, Options{Logger: testLogger(t), Printers: []PrinterConfig{fast("p", f)}})
	if err != nil {
		t.Fatal(err)
	}
	a := submit(t, q, Request{Printer: "p"})
	b := submit(t, q, Request{Printer: "p"})
	<-f.started
	done := make(chan error)
	go func() { done <- q.Close() }()
	eventually(t, "closed", func() bool {
		_, _, err := q.Submit(context.Background(), Request{Printer: "p", Content: "late"})
		return errors.Is(err, ErrClosed)
	})
	close(f.hold)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	q2 := openAt(t, path, Options{})
	ja, _ := q2.Get(a.ID)
	jb, _ := q2.Get(b.ID)
	if ja.State != core.JobPrinted || jb.State != core.JobQueued {
		t.Fatalf("after shutdown: a %s, b %s; want printed, queued", ja.State, jb.State)
	}
}

func TestOrderPerPrinter(t *testing.T) {
	fa, fb := newFake(), newFake()
	q, _ := openQueue(t, Options{Printers: []PrinterConfig{fast("a", fa), fast("b", fb)}})
	const n = 150
	var wg sync.WaitGroup
	var mu sync.Mutex
	want := map[string][]string{}
	for _, p := range []string{"a", "b"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ids []string
			for i := range n {
				ids = append(ids, submit(t, q, Request{Printer: p, Content: fmt.Sprint(i)}).ID)
			}
			mu.Lock()
			want[p] = ids
			mu.Unlock()
		}()
	}
	wg.Wait()
	for _, id := range append(want["a"], want["b"]...) {
		wait(t, q, id)
	}
	if got := fa.ids(); !slices.Equal(got, want["a"]) {
		t.Errorf("printer a: order differs")
	}
	if got := fb.ids(); !slices.Equal(got, want["b"]) {
		t.Errorf("printer b: order differs")
	}
	if fa.maxInflight.Load() != 1 || fb.maxInflight.Load() != 1 {
		t.Errorf("interleaved prints: %d, %d at once", fa.maxInflight.Load(), fb.maxInflight.Load())
	}
	// List: newest first, filters, paging.
	jobs := must(q.List(Filter{Printer: "a", Limit: 10}))
	if len(jobs) != 10 || jobs[0].ID != want["a"][n-1] || jobs[9].ID != want["a"][n-10] {
		t.Fatalf("list order wrong")
	}
	page2 := must(q.List(Filter{Printer: "a", Limit: 10, Before: jobs[9].ID}))
	if len(page2) != 10 || page2[0].ID != want["a"][n-11] {
		t.Fatalf("second page wrong")
	}
	if jobs[0].Content != "" {
		t.Fatal("List must not carry payloads")
	}
	if got := must(q.List(Filter{State: core.JobQueued})); len(got) != 0 {
		t.Fatalf("%d queued after all printed", len(got))
	}
	if got := must(q.List(Filter{State: core.JobPrinted, Limit: 1000})); len(got) != 2*n {
		t.Fatalf("%d printed, want %d", len(got), 2*n)
	}
}

func TestRetryBackoff(t *testing.T) {
	f := newFake()
	var mu sync.Mutex
	var times []time.Time
	f.failFn = func(*Job, int) error {
		mu.Lock()
		times = append(times, time.Now())
		mu.Unlock()
		return errors.New("paper jam")
	}
	pc := fast("p", f)
	pc.MaxAttempts, pc.RetryBackoff, pc.RetryMax = 4, 20*time.Millisecond, 60*time.Millisecond
	q, _ := openQueue(t, Options{Printers: []PrinterConfig{pc}})
	j := wait(t, q, submit(t, q, Request{Printer: "p"}).ID)
	if j.State != core.JobFailed || j.Attempts != 4 {
		t.Fatalf("%s after %d attempts", j.State, j.Attempts)
	}
	if len(times) != 4 {
		t.Fatalf("%d tries", len(times))
	}
	// Delays are base·2^(n-1) capped, with jitter in [d/2, d].
	for i, min := range []time.Duration{10, 20, 30} {
		if gap := times[i+1].Sub(times[i]); gap < min*time.Millisecond {
			t.Errorf("retry %d after %s, want at least %dms", i+1, gap, min)
		}
	}
}

func TestBackoff(t *testing.T) {
	for n := 1; n <= 10; n++ {
		for range 100 {
			d := backoff(time.Second, 30*time.Second, n)
			full := min(time.Second<<(n-1), 30*time.Second)
			if d < full/2 || d > full {
				t.Fatalf("backoff(%d) = %s, want in [%s, %s]", n, d, full/2, full)
			}
		}
	}
}

func TestFailover(t *testing.T) {
	down, fb := newFake(), newFake()
	down.failFn = func(*Job, int) error { return fmt.Errorf("connect: %w", core.ErrOffline) }
	pa := fast("kitchen", down)
	pa.Fallback, pa.FailoverAfter = "bar", 100*time.Millisecond
	q, _ := openQueue(t, Options{Printers: []PrinterConfig{pa, fast("bar", fb)}})
	rec := record(q)
	var ids []string
	start := time.Now()
	for i := range 5 {
		ids = append(ids, submit(t, q, Request{Printer: "kitchen", Content: fmt.Sprint(i), IdempotencyKey: fmt.Sprint("k", i)}).ID)
	}
	for _, id := range ids {
		j := wait(t, q, id)
		if j.State != core.JobPrinted || j.Printer != "bar" || j.FailedOverFrom != "kitchen" {
			t.Fatalf("job %s: %s on %s from %q", id, j.State, j.Printer, j.FailedOverFrom)
		}
	}
	if el := time.Since(start); el < 100*time.Millisecond {
		t.Errorf("failed over after %s, before FailoverAfter", el)
	}
	if got := fb.ids(); !slices.Equal(got, ids) {
		t.Errorf("fallback printed %v, want %v (order kept)", got, ids)
	}
	info, _ := q.Printer("kitchen")
	if info.State != core.StateOffline || info.DownSince.IsZero() {
		t.Errorf("kitchen info %+v", info)
	}
	// The failover is an event; the key still finds the job.
	if ev := rec.states(ids[4]); !slices.Contains(ev, "queued>queued") {
		t.Errorf("no failover event: %v", ev)
	}
	j, existed, err := q.Submit(context.Background(), Request{Printer: "kitchen", Content: "4", IdempotencyKey: "k4"})
	if err != nil || !existed || j.ID != ids[4] {
		t.Fatalf("key after failover: %v %v %v", j, existed, err)
	}
	// A new job for the still-dead printer moves over too.
	late := wait(t, q, submit(t, q, Request{Printer: "kitchen"}).ID)
	if late.Printer != "bar" {
		t.Fatalf("late job printed on %s", late.Printer)
	}
}

func TestPaperOutResumes(t *testing.T) {
	f := newFake()
	var paper atomic.Bool
	var polls atomic.Int32
	f.statusFn = func() (core.Status, error) {
		polls.Add(1)
		return core.Status{Known: true, Online: paper.Load(), PaperOut: !paper.Load()}, nil
	}
	q, _ := openQueue(t, Options{Printers: []PrinterConfig{fast("p", f)}})
	j := submit(t, q, Request{Printer: "p"})
	eventually(t, "status polls", func() bool { return polls.Load() >= 5 })
	if g, _ := q.Get(j.ID); g.State != core.JobQueued || g.Attempts != 0 || len(f.ids()) != 0 {
		t.Fatalf("while paper out: %s, %d attempts", g.State, g.Attempts)
	}
	if info, _ := q.Printer("p"); info.State != core.StatePaperOut {
		t.Fatalf("printer state %s", info.State)
	}
	paper.Store(true)
	g := wait(t, q, j.ID)
	if g.State != core.JobPrinted || g.Attempts != 1 {
		t.Fatalf("after paper: %s, %d attempts", g.State, g.Attempts)
	}
}

func TestExpiryWhilePrinterDown(t *testing.T) {
	f := newFake()
	f.statusFn = func() (core.Status, error) { return core.Status{}, fmt.Errorf("usb: %w", core.ErrOffline) }
	pc := fast("p", f)
	pc.TTL = 80 * time.Millisecond
	q, _ := openQueue(t, Options{Printers: []PrinterConfig{pc}})
	a := submit(t, q, Request{Printer: "p"})
	b := submit(t, q, Request{Printer: "p", ExpiresIn: time.Hour})
	ja := wait(t, q, a.ID)
	if ja.State != core.JobExpired || len(f.ids()) != 0 {
		t.Fatalf("a: %s", ja.State)
	}
	if ja.ExpiresAt.Sub(ja.CreatedAt) != 80*time.Millisecond {
		t.Fatalf("TTL not applied: %s", ja.ExpiresAt.Sub(ja.CreatedAt))
	}
	if jb, _ := q.Get(b.ID); jb.State != core.JobQueued {
		t.Fatalf("b: %s", jb.State)
	}
	// The sweeper expires jobs behind the head too, while the worker waits.
	n, err := q.sweep()
	if err != nil || n != 0 {
		t.Fatalf("sweep: %d %v", n, err)
	}
}

func TestSweeperExpiresBehindHead(t *testing.T) {
	f := newFake()
	f.statusFn = func() (core.Status, error) { return core.Status{}, fmt.Errorf("usb: %w", core.ErrOffline) }
	q, _ := openQueue(t, Options{Printers: []PrinterConfig{fast("p", f)}})
	head := submit(t, q, Request{Printer: "p"})
	behind := submit(t, q, Request{Printer: "p", ExpiresIn: 30 * time.Millisecond})
	if j := wait(t, q, behind.ID); j.State != core.JobExpired {
		t.Fatalf("behind: %s", j.State)
	}
	if j, _ := q.Get(head.ID); j.State != core.JobQueued {
		t.Fatalf("head: %s", j.State)
	}
}

func TestPanicFailsOnlyItsJob(t *testing.T) {
	f := newFake()
	f.failFn = func(j *Job, _ int) error {
		if j.Content == "boom" {
			var m map[string]int
			m["x"] = 1 // a nil map write: a real runtime panic
		}
		return nil
	}
	q, _ := openQueue(t, Options{Printers: []PrinterConfig{fast("p", f)}})
	a := submit(t, q, Request{Printer: "p", Content: "ok 1"})
	b := submit(t, q, Request{Printer: "p", Content: "boom"})
	c := submit(t, q, Request{Printer: "p", Content: "ok 2"})
	if j := wait(t, q, b.ID); j.State != core.JobFailed || !strings.Contains(j.LastError, "panicked") {
		t.Fatalf("b: %s %q", j.State, j.LastError)
	}
	for _, id := range []string{a.ID, c.ID} {
		if j := wait(t, q, id); j.State != core.JobPrinted {
			t.Fatalf("%s: %s", id, j.State)
		}
	}
}

func TestCancel(t *testing.T) {
	f := newFake()
	f.started = make(chan string, 1)
	f.hold = make(chan struct{})
	q, _ := openQueue(t, Options{Printers: []PrinterConfig{fast("p", f)}})
	a := submit(t, q, Request{Printer: "p"})
	b := submit(t, q, Request{Printer: "p"})
	<-f.started // a is printing
	ctx := context.Background()

	_, err := q.Cancel(ctx, a.ID)
	var se *StateError
	if !errors.Is(err, ErrNotQueued) || !errors.As(err, &se) || se.State != core.JobPrinting || !strings.Contains(err.Error(), "printing") {
		t.Fatalf("cancel printing: %v", err)
	}
	jb, err := q.Cancel(ctx, b.ID)
	if err != nil || jb.State != core.JobCanceled {
		t.Fatalf("cancel queued: %v %v", jb, err)
	}
	if _, err := q.Cancel(ctx, b.ID); !errors.Is(err, ErrNotQueued) || !strings.Contains(err.Error(), "already canceled") {
		t.Fatalf("cancel twice: %v", err)
	}
	if _, err := q.Cancel(ctx, "01ARZ3NDEKTSV4RRFFQ69G5FAV"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("cancel unknown: %v", err)
	}
	if _, err := q.Cancel(ctx, "nonsense"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("cancel malformed: %v", err)
	}
	close(f.hold)
	if j := wait(t, q, a.ID); j.State != core.JobPrinted {
		t.Fatalf("a: %s", j.State)
	}
	if slices.Contains(f.ids(), b.ID) {
		t.Fatal("canceled job printed")
	}
	if _, err := q.Cancel(ctx, a.ID); !errors.Is(err, ErrNotQueued) {
		t.Fatalf("cancel printed: %v", err)
	}
}

func TestWait(t *testing.T) {
	f := newFake()
	f.hold = make(chan struct{})
	q, _ := openQueue(t, Options{Printers: []PrinterConfig{fast("p", f)}})
	a := submit(t, q, Request{Printer: "p"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	j, err := q.Wait(ctx, a.ID)
	if !errors.Is(err, context.DeadlineExceeded) || j == nil || j.State.Final() {
		t.Fatalf("wait timeout: %v %v", j, err)
	}
	go func() {
		time.Sleep(20 * time.Millisecond)
		close(f.hold)
	}()
	j = wait(t, q, a.ID)
	if j.State != core.JobPrinted || j.Content != "ticket" {
		t.Fatalf("wait: %+v", j)
	}
	if _, err := q.Wait(context.Background(), "01ARZ3NDEKTSV4RRFFQ69G5FAV"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("wait unknown: %v", err)
	}
}

func TestReprint(t *testing.T) {
	f := newFake()
	doc := core.Document{{Kind: core.KindText, Text: "Mesa 12 · Lucía", Bold: true}, {Kind: core.KindCut, Cut: "partial"}}
	q, _ := openQueue(t, Options{Printers: []PrinterConfig{fast("p", f), fast("q", f)}})
	orig := wait(t, q, submit(t, q, Request{Printer: "p", Document: doc, Copies: 2, Metadata: json.RawMessage(`{"order":8812}`)}).ID)
	r, err := q.Reprint(context.Background(), orig.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	j := wait(t, q, r.ID)
	if j.State != core.JobPrinted || !j.Reprint || j.ReprintOf != orig.ID || j.Copies != 2 || j.Printer != "p" ||
		string(j.Metadata) != `{"order":8812}` || len(j.Document) != 2 || j.Document[0].Text != "Mesa 12 · Lucía" {
		t.Fatalf("reprint: %+v", j)
	}
	r2, err := q.Reprint(context.Background(), orig.ID, "q")
	if err != nil || wait(t, q, r2.ID).Printer != "q" {
		t.Fatalf("reprint elsewhere: %v", err)
	}
	if _, err := q.Reprint(context.Background(), orig.ID, "nope"); !errors.Is(err, ErrUnknownPrinter) {
		t.Fatalf("reprint to unknown: %v", err)
	}
}

func TestQueueFull(t *testing.T) {
	f := newFake()
	f.statusFn = func() (core.Status, error) { return core.Status{Known: true, CoverOpen: true}, nil }
	pc := fast("p", f)
	pc.QueueLimit = 3
	q, _ := openQueue(t, Options{Printers: []PrinterConfig{pc}})
	for range 3 {
		submit(t, q, Request{Printer: "p"})
	}
	_, _, err := q.Submit(context.Background(), Request{Printer: "p", Content: "x"})
	var fe *FullError
	if !errors.Is(err, ErrQueueFull) || !errors.As(err, &fe) || fe.RetryAfter < time.Second || fe.Depth != 3 || fe.Limit != 3 {
		t.Fatalf("4th submit: %v", err)
	}
	if fe.RetryAfter%time.Second != 0 {
		t.Fatalf("RetryAfter %s not whole seconds", fe.RetryAfter)
	}
	if q.Depth("p") != 3 {
		t.Fatalf("depth %d", q.Depth("p"))
	}
	// A keyed retry of an accepted job still answers, even when full.
	if _, existed, err := q.Submit(context.Background(), Request{Printer: "p", Content: "x", IdempotencyKey: "k"}); err == nil || existed {
		t.Fatalf("new key on a full queue: %v", err)
	}
}

func TestEventsInCommitOrder(t *testing.T) {
	f := newFake()
	q, _ := openQueue(t, Options{Printers: []PrinterConfig{fast("a", f), fast("b", f)}})
	rec := record(q)
	var wg sync.WaitGroup
	var ids sync.Map
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			j := submit(t, q, Request{Printer: []string{"a", "b"}[i%2]})
			ids.Store(j.ID, true)
		}()
	}
	wg.Wait()
	ids.Range(func(k, _ any) bool { wait(t, q, k.(string)); return true })
	eventually(t, "all events", func() bool { return len(rec.events()) >= 600 })
	evs := rec.events()
	last := map[string]core.JobState{}
	prevID := ""
	for _, e := range evs {
		if e.ID <= prevID {
			t.Fatalf("event IDs out of order")
		}
		prevID = e.ID
		if last[e.Job.ID] != e.Previous {
			t.Fatalf("job %s: event %s>%s after %s", e.Job.ID, e.Previous, e.State, last[e.Job.ID])
		}
		last[e.Job.ID] = e.State
	}
	if rec.sub.Dropped() != 0 {
		t.Fatalf("dropped %d", rec.sub.Dropped())
	}
}

func TestSlowSubscriberDoesNotBlock(t *testing.T) {
	f := newFake()
	q, _ := openQueue(t, Options{Printers: []PrinterConfig{fast("p", f)}})
	sub := q.Subscribe(2) // never read
	defer sub.Close()
	var last *Job
	for range 20 {
		last = submit(t, q, Request{Printer: "p"})
	}
	wait(t, q, last.ID)
	eventually(t, "drops counted", func() bool { return sub.Dropped() >= 58 })
	if len(sub.C) != 2 {
		t.Fatalf("buffer holds %d", len(sub.C))
	}
}

func TestPrune(t *testing.T) {
	f := newFake()
	q, _ := openQueue(t, Options{Printers: []PrinterConfig{fast("p", f)}, KeepJobs: 5})
	var ids []string
	for i := range 12 {
		r := Request{Printer: "p"}
		if i < 2 {
			r.IdempotencyKey = fmt.Sprint("key", i) // inside the window: kept
		}
		ids = append(ids, submit(t, q, r).ID)
	}
	pending := submit(t, q, Request{Printer: "p", ExpiresIn: time.Hour})
	for _, id := range ids {
		wait(t, q, id)
	}
	wait(t, q, pending.ID)
	jobs, _, err := q.prune()
	if err != nil {
		t.Fatal(err)
	}
	if jobs != 13-5-2 { // 13 final, keep the newest 5 and the 2 keyed ones
		t.Errorf("pruned %d, want 6", jobs)
	}
	left := must(q.List(Filter{Limit: 100}))
	var got []string
	for _, j := range left {
		got = append(got, j.ID)
	}
	for _, id := range ids[:2] {
		if !slices.Contains(got, id) {
			t.Errorf("keyed job %s inside the window was pruned", id)
		}
	}
	// The newest 5 final jobs survive; the old unkeyed ones are gone.
	for _, id := range []string{ids[2], ids[3], ids[4], ids[5], ids[6]} {
		if slices.Contains(got, id) {
			t.Errorf("old job %s kept", id)
		}
	}
	if len(got) != 2+5 {
		t.Errorf("%d jobs left, want 7", len(got))
	}
	if _, err := q.Get(ids[2]); !errors.Is(err, ErrNotFound) {
		t.Errorf("pruned job still readable: %v", err)
	}
	// Pruning by age.
	q2, _ := openQueue(t, Options{Printers: []PrinterConfig{fast("p", newFake())}, KeepFor: time.Millisecond})
	old := wait(t, q2, submit(t, q2, Request{Printer: "p"}).ID)
	time.Sleep(5 * time.Millisecond)
	if n, _, err := q2.prune(); err != nil || n != 1 {
		t.Fatalf("age prune: %d %v", n, err)
	}
	if _, err := q2.Get(old.ID); !errors.Is(err, ErrNotFound) {
		t.Fatal("old job kept")
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	f := newFake()
	cases := []struct {
		name string
		ps   []PrinterConfig
		msg  string
	}{
		{"self fallback", []PrinterConfig{{Name: "a", Printer: f, Fallback: "a"}}, "itself"},
		{"unknown fallback", []PrinterConfig{{Name: "a", Printer: f, Fallback: "z"}}, "not configured"},
		{"duplicate", []PrinterConfig{{Name: "a", Printer: f}, {Name: "a", Printer: f}}, "twice"},
		{"no printer", []PrinterConfig{{Name: "a"}}, "no Printer"},
	}
	for _, c := range cases {
		if _, err := Open(dir+"/q.db", Options{Printers: c.ps}); err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	q := openAt(t, dir+"/q.db", Options{})
	_ = q
	if _, err := Open(dir+"/q.db", Options{}); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second open: %v", err)
	}
}

func TestJobJSON(t *testing.T) {
	f := newFake()
	q, _ := openQueue(t, Options{Printers: []PrinterConfig{fast("p", f)}})
	j := wait(t, q, submit(t, q, Request{Printer: "p", Raw: []byte{0x1b, 0x40, 'h', 'i'}, Metadata: json.RawMessage(`{"table":12}`)}).ID)
	b, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	for _, k := range []string{"job_id", "printer", "state", "content_base64", "copies", "metadata", "created_at", "updated_at", "printed_at", "attempts"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, b)
		}
	}
	for _, k := range []string{"expires_at", "next_attempt_at", "reprint", "last_error", "document", "content"} {
		if _, ok := m[k]; ok {
			t.Errorf("JSON has empty %q: %s", k, b)
		}
	}
	if m["content_base64"] != "G0BoaQ==" || m["state"] != "printed" {
		t.Errorf("JSON: %s", b)
	}
}

func TestStateDir(t *testing.T) {
	t.Setenv("STATE_DIRECTORY", "/var/lib/comandera:/var/lib/other")
	if d := StateDir("./comandera-data"); d != "/var/lib/comandera" {
		t.Fatal(d)
	}
	t.Setenv("STATE_DIRECTORY", "")
	if d := StateDir("./comandera-data"); d != "./comandera-data" {
		t.Fatal(d)
	}
}

func TestCopiesResumeAfterFailure(t *testing.T) {
	f := newFake()
	f.failFn = func(_ *Job, call int) error {
		if call == 2 { // the second copy fails once
			return errors.New("write timeout")
		}
		return nil
	}
	q, _ := openQueue(t, Options{Printers: []PrinterConfig{fast("p", f)}})
	j := wait(t, q, submit(t, q, Request{Printer: "p", Copies: 3}).ID)
	if j.State != core.JobPrinted || j.Attempts != 2 {
		t.Fatalf("%s after %d attempts", j.State, j.Attempts)
	}
	if n, calls := len(f.ids()), f.callsFor(j.ID); n != 3 || calls != 4 {
		t.Fatalf("%d copies printed in %d calls, want 3 in 4 (the retry resumes at the failed copy)", n, calls)
	}
}

func FuzzRequestValidate(f *testing.F) {
	f.Add("ticket", []byte(nil), `{"order":1}`, "https://backend.example/cb", "key", 1)
	f.Add("", []byte{0x1b, 0x40}, `[]`, "javascript:alert(1)", "", 0)
	f.Add("\xff", []byte{}, `{"a":`, "http://[::1", "k\x00", -1)
	f.Fuzz(func(t *testing.T, content string, raw []byte, meta, cb, key string, copies int) {
		r := Request{Printer: "p", Content: content, Raw: raw, CallbackURL: cb, IdempotencyKey: key, Copies: copies}
		if meta != "" {
			r.Metadata = json.RawMessage(meta)
		}
		err := r.validate()
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("error not ErrInvalid: %v", err)
		}
		if err == nil {
			if r.Metadata != nil && !json.Valid(r.Metadata) {
				t.Fatalf("accepted bad metadata %q", meta)
			}
			if (content != "") == (raw != nil) {
				t.Fatalf("accepted content %q and raw %v", content, raw)
			}
		}
	})
}

func TestPayloadRoundTrip(t *testing.T) {
	doc := core.Document{
		{Kind: core.KindText, Text: "COCINA ñ €", Align: "center", Bold: true, Underline: true, Invert: true, Width: 2, Height: 3, Font: "b"},
		{Kind: core.KindColumns, Columns: []string{"2x Tortilla", "17,00 €"}},
		{Kind: core.KindQR, Text: "https://example.com", Size: 6, Level: "h"},
		{Kind: core.KindBarcode, Text: "4006381333931", Symbology: "ean13", HRI: true, BarHeight: 80, ModuleWidth: 3},
		{Kind: core.KindImage, Image: []byte{0x89, 'P', 'N', 'G', 0, 1, 2}},
		{Kind: core.KindFeed, N: 2}, {Kind: core.KindCut, Cut: "partial"}, {Kind: core.KindDrawer, N: 1}, {Kind: core.KindBeep, N: 2},
	}
	for _, p := range []payload{newPayload("", nil, doc), newPayload("hola\n", nil, nil), newPayload("", []byte{0x1b, 0x40, 0}, nil)} {
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var got payload
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.document(), p.document()) || got.Content != p.Content || !bytes.Equal(got.Raw, p.Raw) {
			t.Fatalf("round trip of %s", b)
		}
	}
}

// TestNonOfflineErrorsDoNotFailOver shows that errors which do not say the
// printer is unreachable (a quirks plugin that crashed, an unclassified driver
// error) are retried without marking the printer down, so they never move its
// jobs to the fallback.
func TestNonOfflineErrorsDoNotFailOver(t *testing.T) {
	flaky, fb := newFake(), newFake()
	flaky.failFn = func(_ *Job, call int) error {
		if call <= 3 {
			return errors.New("plugin crashed")
		}
		return nil
	}
	pa := fast("kitchen", flaky)
	pa.Fallback, pa.FailoverAfter, pa.MaxAttempts = "bar", time.Millisecond, 10
	q, _ := openQueue(t, Options{Printers: []PrinterConfig{pa, fast("bar", fb)}})
	j := wait(t, q, submit(t, q, Request{Printer: "kitchen", Content: "x"}).ID)
	if j.State != core.JobPrinted || j.Printer != "kitchen" || j.FailedOverFrom != "" || j.Attempts != 4 {
		t.Fatalf("job %s on %s (from %q) after %d attempts", j.State, j.Printer, j.FailedOverFrom, j.Attempts)
	}
	if len(fb.ids()) != 0 {
		t.Errorf("the fallback printed %v", fb.ids())
	}
	if j.Reprint {
		t.Errorf("a retry after an error before any byte was sent is marked REPRINT")
	}
}

// TestPartialWriteRetryIsMarked shows that a retry after a failure part-way
// through a job (some bytes may be on the paper) prints with REPRINT.
func TestPartialWriteRetryIsMarked(t *testing.T) {
	f := newFake()
	f.failFn = func(_ *Job, call int) error {
		if call == 1 {
			return Partial(fmt.Errorf("link dropped after 300 bytes: %w", core.ErrOffline))
		}
		return nil
	}
	q, _ := openQueue(t, Options{Printers: []PrinterConfig{fast("kitchen", f)}})
	j := wait(t, q, submit(t, q, Request{Printer: "kitchen", Content: "x"}).ID)
	if j.State != core.JobPrinted || j.Attempts != 2 || !j.Reprint {
		t.Fatalf("job %s after %d attempts, reprint %v", j.State, j.Attempts, j.Reprint)
	}
}

// A subscriber resuming after an event gets the events since it, in order,
// and is told when some may be missing.
func TestSubscribeAfter(t *testing.T) {
	f := newFake()
	q, _ := openQueue(t, Options{Printers: []PrinterConfig{fast("p", f)}})
	rec := record(q)
	var last *Job
	for range 4 {
		last = submit(t, q, Request{Printer: "p"})
	}
	wait(t, q, last.ID)
	eventually(t, "all events", func() bool { return len(rec.events()) >= 12 })
	evs := rec.events()
	drain := func(s *Subscription) []string {
		var ids []string
		for len(s.C) > 0 {
			ids = append(ids, (<-s.C).ID)
		}
		s.Close()
		return ids
	}
	idsOf := func(evs []Event) []string {
		var ids []string
		for _, e := range evs {
			ids = append(ids, e.ID)
		}
		return ids
	}
	for _, tc := range []struct {
		name     string
		after    string
		want     []string
		complete bool
	}{
		{"from the middle", evs[4].ID, idsOf(evs[5:]), true},
		{"from the first", evs[0].ID, idsOf(evs[1:]), true},
		{"from the latest", evs[len(evs)-1].ID, nil, true},
		{"from before the queue was opened", "00000000000000000000000000", idsOf(evs), false},
		{"not resuming", "", nil, false},
	} {
		s, complete := q.SubscribeAfter(10, tc.after)
		if got := drain(s); !slices.Equal(got, tc.want) || complete != tc.complete {
			t.Errorf("%s: %d events, complete %v; want %d, %v", tc.name, len(got), complete, len(tc.want), tc.complete)
		}
	}
}

// The bus keeps at least RecentEvents events, and fewer than twice that.
func TestRecentEventsBounded(t *testing.T) {
	var b bus
	for i := range 3*RecentEvents + 7 {
		b.publish([]*Event{{ID: fmt.Sprintf("%08d", i)}})
		if n := len(b.recent); i >= RecentEvents && (n < RecentEvents || n >= 2*RecentEvents) {
			t.Fatalf("after %d events %d are kept", i+1, n)
		}
	}
	last := 3*RecentEvents + 6
	if _, complete := b.add(1, fmt.Sprintf("%08d", 10)); complete {
		t.Error("resuming after an event no longer kept: complete")
	}
	s, complete := b.add(1, fmt.Sprintf("%08d", last-5))
	if !complete || len(s.C) != 5 || (<-s.C).ID != fmt.Sprintf("%08d", last-4) {
		t.Errorf("resuming 5 events back: complete %v, %d events", complete, len(s.C))
	}
}

// Events with large metadata are kept within the byte bound.
func TestRecentEventsByteBound(t *testing.T) {
	var b bus
	meta := json.RawMessage(`{"m":"` + strings.Repeat("x", MaxMetadataBytes-10) + `"}`)
	for i := range 500 {
		b.publish([]*Event{{ID: fmt.Sprintf("%08d", i), Job: &Job{Metadata: meta}}})
		if b.size > 2*recentBytes+MaxMetadataBytes+512 {
			t.Fatalf("after %d events they take %d bytes", i+1, b.size)
		}
	}
	if min := recentBytes / (MaxMetadataBytes + 512); len(b.recent) < min {
		t.Errorf("%d events kept, want at least %d", len(b.recent), min)
	}
}
