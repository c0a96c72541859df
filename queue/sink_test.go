package queue

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/comandera/comandera/core"
	bolt "go.etcd.io/bbolt"
)

// next takes one entry from s, failing after 10 seconds.
func next(t testing.TB, s *Sink) Entry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e, err := s.Next(ctx)
	if err != nil {
		t.Fatalf("sink %s: next: %v", s.Name(), err)
	}
	return e
}

func decodeEntry(t testing.TB, e Entry) Event {
	t.Helper()
	var ev Event
	if err := json.Unmarshal(e.Event, &ev); err != nil {
		t.Fatalf("entry %d: %v: %s", e.ID, err, e.Event)
	}
	return ev
}

// quickDrain: tests that leave entries unacknowledged close at once.
var quickDrain = SinkOptions{Drain: 10 * time.Millisecond}

func change(ev Event) string { return string(ev.Previous) + ">" + string(ev.State) }

// pausedPrinter reports paper out, so jobs stay queued.
func pausedPrinter() *fake {
	f := newFake()
	f.setStatus(func() (core.Status, error) { return core.Status{Known: true, PaperOut: true}, nil })
	return f
}

func TestSinkEventIsJSONMarshal(t *testing.T) {
	at := time.Date(2026, 11, 26, 23, 27, 22, 889475339, time.UTC)
	for _, e := range []*Event{
		{ID: "01M8D2YRR93E48WJR1XX6KP98Y", Time: at, State: core.JobQueued,
			Job: &Job{ID: "01M8D2YRR93E48WJR1XX6KP98X", Printer: "cocina", State: core.JobQueued, Copies: 1, CreatedAt: at, UpdatedAt: at,
				IdempotencyKey: "pedido <8812> & \"ñ\"", Metadata: json.RawMessage(`{"mesa":12,"nota":"<sin cebolla>"}`)}},
		{ID: "01M8D2YRR93E48WJR1XX6KP98Z", Time: at.Add(time.Second), Previous: core.JobPrinting, State: core.JobPrinted,
			Job: &Job{ID: "01M8D2YRR93E48WJR1XX6KP98X", Printer: "cocina", State: core.JobPrinted, PrintedAt: at, Attempts: 1}},
		{ID: "01M8D2YRR93E48WJR1XX6KP990", Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Previous: core.JobQueued, State: core.JobQueued,
			Job: &Job{ID: "01M8D2YRR93E48WJR1XX6KP98X", Printer: "barra", FailedOverFrom: "cocina", LastError: "offline"}},
	} {
		rec, err := json.Marshal(e.Job)
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendEvent(nil, e, rec); !bytes.Equal(got, want) {
			t.Errorf("appendEvent:\n got %s\nwant %s", got, want)
		}
	}
}

// Every change of every job is in the sink, in commit order (the order
// subscribers see), and Ack removes entries.
func TestSinkEntriesInOrderAndAck(t *testing.T) {
	f := newFake()
	q, _ := openQueue(t, Options{Printers: []PrinterConfig{fast("kitchen", f), fast("bar", f)}, Sinks: []string{"mqtt", "other"}, Sink: quickDrain})
	rec := record(q)
	var jobs []*Job
	for i := range 20 {
		jobs = append(jobs, submit(t, q, Request{Printer: []string{"kitchen", "bar"}[i%2]}))
	}
	for _, j := range jobs {
		wait(t, q, j.ID)
	}
	want := len(jobs) * 3
	eventually(t, "all events published", func() bool { return len(rec.events()) == want })
	s := q.Sink("mqtt")
	if s == nil || q.Sink("other") == nil || q.Sink("nope") != nil {
		t.Fatal("Sink by name")
	}
	if n := s.Pending(); n != want {
		t.Fatalf("pending %d, want %d", n, want)
	}
	var lastID uint64
	for i, ev := range rec.events() {
		e := next(t, s)
		got := decodeEntry(t, e)
		if e.ID <= lastID {
			t.Errorf("entry IDs not increasing: %d after %d", e.ID, lastID)
		}
		lastID = e.ID
		if got.ID != ev.ID || got.State != ev.State || got.Previous != ev.Previous || got.Job.ID != ev.Job.ID || !got.Time.Equal(ev.Time) || !e.Time.Equal(ev.Time) {
			t.Fatalf("entry %d: %s %s %s, event %s %s %s", i, got.ID, change(got), got.Job.ID, ev.ID, change(ev), ev.Job.ID)
		}
		if err := s.Ack(e.ID); err != nil {
			t.Fatal(err)
		}
		if n := s.Pending(); n != want-i-1 {
			t.Fatalf("after %d acks: pending %d", i+1, n)
		}
	}
	if err := s.Ack(lastID, lastID, 1<<60); err != nil { // already gone: ignored
		t.Fatal(err)
	}
	st := s.Stats()
	if st.Pending != 0 || st.Bytes != 0 || st.Acked != uint64(want) || st.Dropped != 0 {
		t.Errorf("stats %+v", st)
	}
	// The other sink has its own copy of everything.
	if n := q.Sink("other").Pending(); n != want {
		t.Errorf("other sink: %d pending, want %d", n, want)
	}
	// Next waits for the next change.
	got := make(chan Entry, 1)
	go func() { got <- next(t, s) }()
	select {
	case e := <-got:
		t.Fatalf("Next returned %d with the sink empty", e.ID)
	case <-time.After(50 * time.Millisecond):
	}
	j := submit(t, q, Request{Printer: "kitchen"})
	select {
	case e := <-got:
		if ev := decodeEntry(t, e); ev.Job.ID != j.ID || ev.State != core.JobQueued {
			t.Errorf("woke with %s %s", ev.Job.ID, change(ev))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Next did not wake for a new job")
	}
}

// When Submit returns, the job's creation event is in every sink, like its
// callback entry (same transaction; the kill -9 test shows it holds across
// crashes).
func TestSinkEntryInSameTransaction(t *testing.T) {
	q, _ := openQueue(t, Options{Printers: []PrinterConfig{fast("p", pausedPrinter())}, Sinks: []string{"mqtt"}})
	for range 20 {
		j := submit(t, q, Request{Printer: "p"})
		found := false
		_ = q.db.View(func(tx *bolt.Tx) error {
			return tx.Bucket(bSinks).Bucket([]byte("mqtt")).ForEach(func(k, v []byte) error {
				found = found || bytes.Contains(v, []byte(`"job_id":"`+j.ID+`"`))
				return nil
			})
		})
		if !found {
			t.Fatalf("job %s has no sink entry after Submit", j.ID)
		}
	}
}

// Entries survive a restart; the consumer continues at the first entry it
// has not acknowledged; IDs are never reused.
func TestSinkRestartResumes(t *testing.T) {
	path := t.TempDir() + "/" + FileName
	opts := Options{Logger: testLogger(t), Printers: []PrinterConfig{fast("p", pausedPrinter())}, Sinks: []string{"mqtt"}, Sink: quickDrain}
	q1, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	var jobs []*Job
	for range 5 {
		jobs = append(jobs, submit(t, q1, Request{Printer: "p"}))
	}
	s := q1.Sink("mqtt")
	e0, e1, e2 := next(t, s), next(t, s), next(t, s) // e2 is handed out, never acknowledged
	if err := s.Ack(e0.ID, e1.ID); err != nil {
		t.Fatal(err)
	}
	_ = e2
	if err := q1.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Next(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Next after Close: %v, want ErrClosed", err)
	}
	if err := s.Ack(e2.ID); !errors.Is(err, ErrClosed) {
		t.Errorf("Ack after Close: %v, want ErrClosed", err)
	}

	q2 := openAt(t, path, opts)
	s = q2.Sink("mqtt")
	if n := s.Pending(); n != 3 {
		t.Fatalf("pending after restart %d, want 3", n)
	}
	var got []string
	var last uint64
	for range 3 {
		e := next(t, s)
		got = append(got, decodeEntry(t, e).Job.ID)
		last = e.ID
	}
	if want := []string{jobs[2].ID, jobs[3].ID, jobs[4].ID}; !slices.Equal(got, want) {
		t.Fatalf("after restart: %v, want %v", got, want)
	}
	// Rewind goes back to the first entry not acknowledged.
	s.Rewind()
	if e := next(t, s); e.ID != e2.ID {
		t.Errorf("after Rewind: entry %d, want %d", e.ID, e2.ID)
	}
	j := submit(t, q2, Request{Printer: "p"})
	s.Rewind()
	var e Entry
	for e = next(t, s); decodeEntry(t, e).Job.ID != j.ID; e = next(t, s) {
	}
	if e.ID <= last {
		t.Errorf("new entry %d reuses an ID (last before: %d)", e.ID, last)
	}
}

// Ack takes effect at once (Pending, Next, Rewind) and reaches the disk
// within AckDelay, or at Close.
func TestSinkAckDeferred(t *testing.T) {
	path := t.TempDir() + "/" + FileName
	opts := Options{Logger: testLogger(t), Printers: []PrinterConfig{fast("p", pausedPrinter())}, Sinks: []string{"mqtt"},
		Sink: SinkOptions{Drain: quickDrain.Drain, AckDelay: time.Hour}}
	q := openAt(t, path, opts)
	for range 3 {
		submit(t, q, Request{Printer: "p"})
	}
	s := q.Sink("mqtt")
	e0 := next(t, s)
	if err := s.Ack(e0.ID); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Pending != 2 || st.Acked != 1 {
		t.Errorf("after Ack: %+v", st)
	}
	if n := sinkLen(t, q, "mqtt"); n != 3 {
		t.Errorf("%d entries on disk, want 3 (the deletion waits for AckDelay)", n)
	}
	s.Rewind()
	if e := next(t, s); e.ID == e0.ID {
		t.Error("an acknowledged entry was handed out again")
	}
	q.Close() // deletes what was acknowledged
	opts.Sink.AckDelay = 10 * time.Millisecond
	q = openAt(t, path, opts)
	s = q.Sink("mqtt")
	if n := s.Pending(); n != 2 {
		t.Fatalf("pending after reopening %d, want 2", n)
	}
	e1, e2 := next(t, s), next(t, s)
	if err := s.Ack(e1.ID, e2.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "deleted within AckDelay", func() bool { return sinkLen(t, q, "mqtt") == 0 })
	if st := s.Stats(); st.Pending != 0 || st.Bytes != 0 || st.Acked != 2 {
		t.Errorf("stats %+v", st)
	}
}

// The bounds drop the oldest entries, count them, and keep the rest in
// order.
func TestSinkBounds(t *testing.T) {
	t.Run("max_entries", func(t *testing.T) {
		path := t.TempDir() + "/" + FileName
		opts := Options{Logger: testLogger(t), Printers: []PrinterConfig{fast("p", pausedPrinter())}, Sinks: []string{"mqtt"}, Sink: SinkOptions{MaxEntries: 5, Drain: quickDrain.Drain}}
		q := openAt(t, path, opts)
		var jobs []string
		for range 8 {
			jobs = append(jobs, submit(t, q, Request{Printer: "p"}).ID)
		}
		s := q.Sink("mqtt")
		if st := s.Stats(); st.Pending != 5 || st.Dropped != 3 {
			t.Fatalf("stats %+v, want 5 pending, 3 dropped", st)
		}
		for _, id := range jobs[3:] {
			if got := decodeEntry(t, next(t, s)).Job.ID; got != id {
				t.Fatalf("entry for %s, want %s (the newest five, in order)", got, id)
			}
		}
		// A lower bound applies at the next Open.
		q.Close()
		opts.Sink.MaxEntries = 2
		q = openAt(t, path, opts)
		s = q.Sink("mqtt")
		if st := s.Stats(); st.Pending != 2 || st.Dropped != 3 {
			t.Fatalf("after reopening with max 2: %+v", st)
		}
		if got := decodeEntry(t, next(t, s)).Job.ID; got != jobs[6] {
			t.Errorf("oldest kept %s, want %s", got, jobs[6])
		}
	})
	t.Run("max_bytes", func(t *testing.T) {
		q, _ := openQueue(t, Options{Printers: []PrinterConfig{fast("p", pausedPrinter())}, Sinks: []string{"mqtt"}, Sink: SinkOptions{MaxBytes: 3000}})
		meta := json.RawMessage(`{"note":"` + string(bytes.Repeat([]byte("x"), 600)) + `"}`)
		for range 10 {
			submit(t, q, Request{Printer: "p", Metadata: meta})
		}
		st := q.Sink("mqtt").Stats()
		if st.Bytes > 3000 || st.Pending < 2 || st.Pending+int(st.Dropped) != 10 {
			t.Errorf("stats %+v: want at most 3000 bytes and every entry kept or counted", st)
		}
	})
	t.Run("max_age", func(t *testing.T) {
		path := t.TempDir() + "/" + FileName
		opts := Options{Logger: testLogger(t), Printers: []PrinterConfig{fast("p", pausedPrinter())}, Sinks: []string{"mqtt", "old"},
			PruneEvery: 10 * time.Millisecond, Sink: SinkOptions{MaxAge: 200 * time.Millisecond}}
		q := openAt(t, path, opts)
		for range 4 {
			submit(t, q, Request{Printer: "p"})
		}
		if n := q.Sink("mqtt").Pending(); n != 4 {
			t.Fatalf("pending %d right after submitting", n)
		}
		eventually(t, "old entries pruned and counted", func() bool {
			st := q.Sink("mqtt").Stats()
			return st.Pending == 0 && st.Dropped == 4
		})
		// A sink no longer configured keeps its entries until they are too old.
		submit(t, q, Request{Printer: "p"})
		q.Close()
		opts.Sinks, opts.PruneEvery = []string{"mqtt"}, 0
		opts.Sink.MaxAge = time.Hour
		q = openAt(t, path, opts)
		if n := sinkLen(t, q, "old"); n != 1 {
			t.Fatalf("unconfigured sink: %d entries, want 1 (kept while young)", n)
		}
		q.Close()
		time.Sleep(20 * time.Millisecond)
		opts.Sink.MaxAge = 10 * time.Millisecond
		q = openAt(t, path, opts)
		if n := sinkLen(t, q, "old"); n != 0 {
			t.Fatalf("unconfigured sink: %d entries after max_age, want 0", n)
		}
	})
}

func sinkLen(t testing.TB, q *Queue, name string) int {
	n := 0
	_ = q.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bSinks).Bucket([]byte(name)); b != nil {
			n = b.Stats().KeyN
		}
		return nil
	})
	return n
}

// A sink entry's Callback body is, byte for byte, the body the HTTP
// callback POSTs for the same event, time and attempt.
func TestSinkCallbackIsTheHTTPBody(t *testing.T) {
	type post struct {
		body []byte
		ts   int64
	}
	var (
		mu    sync.Mutex
		posts []post
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		ts, _ := strconv.ParseInt(r.Header.Get(HeaderTimestamp), 10, 64)
		if err := Verify([]byte("k"), b, r.Header.Get(HeaderSignature)); err != nil {
			t.Errorf("callback: %v", err)
		}
		mu.Lock()
		posts = append(posts, post{b, ts})
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	q, _ := openQueue(t, Options{Printers: []PrinterConfig{fast("p", newFake())}, Callback: fastCallbacks("k"), Sinks: []string{"mqtt"}, Sink: quickDrain})
	j := submit(t, q, Request{Printer: "p", CallbackURL: srv.URL, Metadata: json.RawMessage(`{"mesa": 12, "nota": "<sin cebolla> & ñ"}`)})
	wait(t, q, j.ID)
	eventually(t, "three callbacks", func() bool { mu.Lock(); defer mu.Unlock(); return len(posts) == 3 })
	s := q.Sink("mqtt")
	for i := range 3 {
		e := next(t, s)
		cb, body, err := e.Callback(time.Unix(posts[i].ts, 0), 1)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(body, posts[i].body) {
			t.Errorf("event %d:\nsink body %s\nHTTP body %s", i, body, posts[i].body)
		}
		if cb.ID != decodeEntry(t, e).ID || cb.Timestamp != posts[i].ts || cb.Attempt != 1 {
			t.Errorf("callback %+v", cb)
		}
	}
}

// Shutdown lets an attached consumer deliver the last events, and does not
// wait long for one that makes no progress.
func TestSinkDrainOnShutdown(t *testing.T) {
	t.Run("delivering", func(t *testing.T) {
		f := newFake()
		f.hold = make(chan struct{})
		q, _ := openQueue(t, Options{Printers: []PrinterConfig{fast("p", f)}, Sinks: []string{"mqtt"}})
		s := q.Sink("mqtt")
		var (
			mu  sync.Mutex
			got []string
		)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				e, err := s.Next(context.Background())
				if err != nil {
					return
				}
				time.Sleep(5 * time.Millisecond) // a broker round trip
				ev := decodeEntry(t, e)
				mu.Lock()
				got = append(got, ev.Job.ID+" "+change(ev))
				mu.Unlock()
				if s.Ack(e.ID) != nil {
					return
				}
			}
		}()
		j := submit(t, q, Request{Printer: "p"})
		eventually(t, "printing", func() bool { return len(q.Printers()[0].Current) > 0 })
		go func() { time.Sleep(20 * time.Millisecond); close(f.hold) }()
		if err := q.Close(); err != nil { // the job in hand finishes: its printed event is the last
			t.Fatal(err)
		}
		<-done
		mu.Lock()
		defer mu.Unlock()
		want := []string{j.ID + " >queued", j.ID + " queued>printing", j.ID + " printing>printed"}
		if !slices.Equal(got, want) {
			t.Fatalf("delivered before the close: %q, want %q", got, want)
		}
	})
	t.Run("stalled", func(t *testing.T) {
		q, _ := openQueue(t, Options{Printers: []PrinterConfig{fast("p", pausedPrinter())}, Sinks: []string{"mqtt"}, Sink: SinkOptions{Drain: 100 * time.Millisecond}})
		s := q.Sink("mqtt")
		submit(t, q, Request{Printer: "p"})
		next(t, s) // taken, never acknowledged (the broker is down)
		start := time.Now()
		if err := q.Close(); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Close took %s with a stalled consumer", d)
		}
	})
}

func TestSinkOpenErrors(t *testing.T) {
	for _, sinks := range [][]string{{""}, {"mqtt", "mqtt"}, {"a\x00b"}, {string(bytes.Repeat([]byte("x"), 65))}} {
		_, err := Open(t.TempDir()+"/"+FileName, Options{Printers: []PrinterConfig{fast("p", newFake())}, Sinks: sinks})
		if err == nil {
			t.Errorf("sinks %q: no error", sinks)
		}
	}
}

// BenchmarkSubmitParallelSink is BenchmarkSubmitParallel with the "mqtt"
// sink: each Submit also writes its event to the sink in its transaction.
func BenchmarkSubmitParallelSink(b *testing.B) {
	q, _ := benchQueueOpts(b, 2, true, []string{"mqtt"})
	submitParallel(b, q, 2, 0)
}

// BenchmarkSinkConsume: a consumer taking and acknowledging entries one at
// a time (what the MQTT connector does), while nothing else writes.
func BenchmarkSinkConsume(b *testing.B) {
	q, _ := benchQueueOpts(b, 1, true, []string{"mqtt"})
	for i := 0; i < b.N; i++ {
		if _, _, err := q.Submit(context.Background(), Request{Printer: "p0", Document: benchDoc}); err != nil {
			b.Fatal(err)
		}
	}
	s := q.Sink("mqtt")
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		e, err := s.Next(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Ack(e.ID); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "entries/s")
	if n := s.Pending(); n != 0 {
		b.Fatal(fmt.Sprint(n, " left"))
	}
}
