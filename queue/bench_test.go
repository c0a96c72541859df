package queue

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/comandera/comandera/core"
)

// A kitchen ticket as the backend sends it.
var benchDoc = core.Document{
	{Kind: core.KindText, Text: "COCINA", Align: "center", Bold: true, Width: 2, Height: 2},
	{Kind: core.KindText, Text: "Mesa 12 · Camarero: Lucía"},
	{Kind: core.KindLine, Text: "-"},
	{Kind: core.KindColumns, Columns: []string{"2x Tortilla española", "17,00 €"}},
	{Kind: core.KindColumns, Columns: []string{"1x Croquetas de jamón", "9,50 €"}},
	{Kind: core.KindColumns, Columns: []string{"3x Caña", "7,50 €"}},
	{Kind: core.KindText, Text: "Sin cebolla", Underline: true},
	{Kind: core.KindQR, Text: "https://example.com/t/8812", Size: 6, Level: "m"},
	{Kind: core.KindFeed, N: 2},
	{Kind: core.KindCut, Cut: "partial"},
}

// noop prints nothing, instantly; while paused it reports the cover open.
type noop struct{ paused atomic.Bool }

func (p *noop) Print(context.Context, *Job) error { return nil }
func (p *noop) Status(context.Context) (core.Status, error) {
	if p.paused.Load() {
		return core.Status{Known: true, CoverOpen: true}, nil
	}
	return core.Status{}, nil
}

func benchQueue(b *testing.B, printers int, paused bool) (*Queue, []*noop) {
	return benchQueueOpts(b, printers, paused, nil)
}

func benchQueueOpts(b *testing.B, printers int, paused bool, sinks []string) (*Queue, []*noop) {
	var pcs []PrinterConfig
	var ps []*noop
	for i := range printers {
		p := &noop{}
		p.paused.Store(paused)
		ps = append(ps, p)
		pcs = append(pcs, PrinterConfig{Name: fmt.Sprint("p", i), Printer: p, QueueLimit: 1 << 30, PollEvery: time.Millisecond})
	}
	q, err := Open(b.TempDir()+"/"+FileName, Options{Logger: slog.New(slog.DiscardHandler), Printers: pcs, Sinks: sinks})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { q.Close() })
	return q, ps
}

// submitParallel submits b.N jobs from 64 goroutines and reports jobs/s and
// accept-latency percentiles (from sending a job to Submit returning). With
// rate > 0 the clients together offer rate jobs/s, each job sent at its
// scheduled time (or at once when its client is behind, which the jobs/s
// figure then shows); else each client sends its next job as soon as the
// last was accepted.
func submitParallel(b *testing.B, q *Queue, printers int, rate float64) {
	const clients = 64
	var (
		next int64
		mu   sync.Mutex
		lats = make([]time.Duration, 0, b.N)
		wg   sync.WaitGroup
	)
	b.ReportAllocs()
	reportCommits(nil, q)
	b.ResetTimer()
	start := time.Now()
	for g := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for i := atomic.AddInt64(&next, 1); i <= int64(b.N); i = atomic.AddInt64(&next, 1) {
				if rate > 0 {
					time.Sleep(time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))))
				}
				t0 := time.Now()
				_, _, err := q.Submit(context.Background(), Request{
					Printer:        fmt.Sprint("p", (g+int(i))%printers),
					Document:       benchDoc,
					IdempotencyKey: fmt.Sprint("order-", i),
					Metadata:       []byte(`{"order":8812,"table":12}`),
				})
				if err != nil {
					b.Error(err)
					return
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lats = append(lats, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(lats)
	pct := func(p float64) float64 {
		if len(lats) == 0 {
			return 0
		}
		return float64(lats[min(len(lats)-1, int(float64(len(lats))*p))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "jobs/s")
	reportCommits(b, q)
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(pct(0.999), "p999-ms")
}

// BenchmarkSubmitParallel: 64 concurrent submitters, each Submit fsync'd
// before it returns (group-committed), printers paused so only submissions
// write.
func BenchmarkSubmitParallel(b *testing.B) {
	q, _ := benchQueue(b, 2, true)
	submitParallel(b, q, 2, 0)
}

// BenchmarkSubmitRate5000: 64 clients offering 5,000 jobs/s in total, the
// load issue 3 sets for the whole server, while two no-op printers print.
func BenchmarkSubmitRate5000(b *testing.B) {
	q, _ := benchQueue(b, 2, false)
	submitParallel(b, q, 2, 5000)
}

// BenchmarkSubmitParallelPrinting: the same while two no-op printers print
// everything submitted (each printed job adds its printing/printed changes).
func BenchmarkSubmitParallelPrinting(b *testing.B) {
	q, _ := benchQueue(b, 2, false)
	submitParallel(b, q, 2, 0)
}

// BenchmarkWorkers measures how fast workers drain a full queue into no-op
// printers: each job is two durable state changes (printing, printed), the
// printed of one job committed together with the printing of the next, and
// the printers' commits grouped by Batch.
func BenchmarkWorkers(b *testing.B) {
	for _, printers := range []int{1, 4} {
		b.Run(fmt.Sprint("printers=", printers), func(b *testing.B) {
			q, ps := benchQueue(b, printers, true)
			last := make([]string, printers)
			var wg sync.WaitGroup
			var next atomic.Int64
			for range 32 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
						if _, _, err := q.Submit(context.Background(), Request{Printer: fmt.Sprint("p", i%int64(printers)), Document: benchDoc}); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			for i := range printers {
				jobs, err := q.List(Filter{Printer: fmt.Sprint("p", i), Limit: 1})
				if err != nil {
					b.Fatal(err)
				}
				if len(jobs) > 0 {
					last[i] = jobs[0].ID
				}
			}
			reportCommits(nil, q) // reset the counters
			b.ResetTimer()
			start := time.Now()
			for _, p := range ps {
				p.paused.Store(false)
			}
			for _, id := range last {
				if id == "" {
					continue
				}
				j, err := q.Wait(context.Background(), id)
				if err != nil || j.State != core.JobPrinted {
					b.Fatalf("%v %v", j, err)
				}
			}
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "jobs/s")
			reportCommits(b, q)
		})
	}
}

// reportCommits reports the mean group-commit size and duration since the
// last call.
func reportCommits(b *testing.B, q *Queue) {
	c := q.commit
	commits, calls, nanos := c.commits.Swap(0), c.calls.Swap(0), c.nanos.Swap(0)
	if b != nil && commits > 0 {
		b.ReportMetric(float64(calls)/float64(commits), "writes/commit")
		b.ReportMetric(float64(nanos)/float64(commits)/1e6, "ms/commit")
	}
}
