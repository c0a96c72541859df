package mqtt

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/comandera/comandera/queue"
)

// The fleet simulation's size. The defaults keep `go test ./...` quick; the
// full run is
//
//	go test ./connector/mqtt -run TestFleet -v -timeout 30m -fleet.boxes=200 -fleet.jobs=20000
var (
	fleetBoxes      = flag.Int("fleet.boxes", 10, "fleet simulation: boxes (each a Service with sim printers and a connector)")
	fleetJobs       = flag.Int("fleet.jobs", 500, "fleet simulation: jobs spread over the boxes")
	fleetPublishers = flag.Int("fleet.publishers", 8, "fleet simulation: concurrent publishers on the backend side")
	fleetDir        = flag.String("fleet.dir", "", "fleet simulation: directory for the boxes' data and sim output (default a temporary one)")
)

// A fleet of boxes on one broker: jobs spread over them are all printed
// exactly once. It reports throughput and the latency from the publish to
// the job's printed_at.
func TestFleet(t *testing.T) {
	nBoxes, nJobs := *fleetBoxes, *fleetJobs
	if testing.Short() {
		nBoxes, nJobs = min(nBoxes, 4), min(nJobs, 100)
	}
	root := *fleetDir
	if root == "" {
		root = t.TempDir()
	} else {
		root = filepath.Join(root, fmt.Sprintf("fleet-%d", time.Now().UnixNano()))
		t.Cleanup(func() { os.RemoveAll(root) })
	}
	br := startBroker(t, "", nil)

	// The boxes, started in parallel.
	boxes := make([]*box, nBoxes)
	start := time.Now()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range boxes {
		dir := filepath.Join(root, fmt.Sprintf("box-%03d", i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		b := newBox(t, br.url(), fmt.Sprintf("box-%03d", i), inDir(dir))
		b.opts.StatusCheck = time.Second
		b.opts.Logger = testLogger().With("box", b.id)
		boxes[i] = b
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			b.start()
		}()
	}
	wg.Wait()
	for _, b := range boxes {
		b.connected()
	}
	t.Logf("%d boxes connected in %s", nBoxes, time.Since(start).Round(time.Millisecond))

	// The backend: printed events of every box, and the publish times.
	var (
		mu       sync.Mutex
		sentAt   = make(map[string]time.Time, nJobs)
		printed  = make(map[string]time.Time, nJobs)
		events   atomic.Int64
		badSig   atomic.Int64
		allDone  = make(chan struct{})
		doneOnce sync.Once
	)
	watcher := newBackendFunc(t, br.url(), []string{"comandera/+/events"}, func(p *paho.Publish) {
		events.Add(1)
		if queue.Verify([]byte(testSecret), p.Payload, p.Properties.User.Get(PropSignature)) != nil {
			badSig.Add(1)
			return
		}
		var cb queue.Callback
		if json.Unmarshal(p.Payload, &cb) != nil || cb.Job == nil || cb.State != "printed" {
			return
		}
		mu.Lock()
		if _, dup := printed[cb.Job.IdempotencyKey]; !dup {
			printed[cb.Job.IdempotencyKey] = cb.Job.PrintedAt
		}
		n := len(printed)
		mu.Unlock()
		if n == nJobs {
			doneOnce.Do(func() { close(allDone) })
		}
	})
	_ = watcher

	markers := make([]string, nJobs)
	for i := range markers {
		markers[i] = fmt.Sprintf("F%06d", i)
	}
	pubs := make([]*backend, *fleetPublishers)
	for i := range pubs {
		pubs[i] = newBackend(t, br.url(), nil)
	}
	work := make(chan int, nJobs)
	for i := range nJobs {
		work <- i
	}
	close(work)
	begin := time.Now()
	var pwg sync.WaitGroup
	for _, pub := range pubs {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			for i := range work {
				b := boxes[i%nBoxes]
				key := "fleet-" + markers[i]
				payload := jobJSON(markers[i], "idempotency_key", key)
				mu.Lock()
				sentAt[key] = time.Now()
				mu.Unlock()
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				_, err := pub.cm.Publish(ctx, &paho.Publish{QoS: 1, Topic: b.conn.Topics().Jobs, Payload: payload})
				cancel()
				if err != nil {
					t.Errorf("publish %s: %v", key, err)
					return
				}
			}
		}()
	}
	pwg.Wait()
	published := time.Since(begin)
	timeout := 5*time.Minute + time.Duration(nJobs)*10*time.Millisecond
	select {
	case <-allDone:
	case <-time.After(timeout):
		mu.Lock()
		n := len(printed)
		mu.Unlock()
		t.Fatalf("%d of %d jobs printed after %s", n, nJobs, timeout)
	}
	elapsed := time.Since(begin)

	// Exactly once: every ticket on paper once, nothing else printed.
	counts := countTickets(t, root, markers)
	checkOnce(t, counts, markers)
	if n := badSig.Load(); n != 0 {
		t.Errorf("%d events with a bad signature", n)
	}
	var dups, rejected, dropped uint64
	for _, b := range boxes {
		st := b.conn.Stats()
		dups += st.Duplicates
		rejected += st.Rejected
		dropped += st.Dropped
	}
	if rejected != 0 || dropped != 0 {
		t.Errorf("rejected %d, dropped %d", rejected, dropped)
	}

	lat := make([]time.Duration, 0, nJobs)
	mu.Lock()
	for k, at := range printed {
		lat = append(lat, at.Sub(sentAt[k]))
	}
	mu.Unlock()
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	t.Logf("fleet: %d boxes, %d jobs: published in %s, all printed in %s: %.0f jobs/s; publish-to-printed latency p50 %s, p90 %s, p99 %s, max %s; %d events; %d redeliveries deduplicated",
		nBoxes, nJobs, published.Round(time.Millisecond), elapsed.Round(time.Millisecond),
		float64(nJobs)/elapsed.Seconds(), pct(0.50).Round(time.Millisecond), pct(0.90).Round(time.Millisecond),
		pct(0.99).Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond), events.Load(), dups)
}

// newBackendFunc connects a client that calls fn for each message on
// filters (from paho's receive goroutine).
func newBackendFunc(t testing.TB, brokerURL string, filters []string, fn func(*paho.Publish)) *backend {
	t.Helper()
	be := newBackendWith(t, brokerURL, nil, filters, fn)
	return be
}
