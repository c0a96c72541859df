package queue

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/comandera/comandera/core"
	bolt "go.etcd.io/bbolt"
)

// The kill -9 test runs this test binary again as a child process that
// submits jobs as fast as it can and prints a line for each Submit that
// returned; the parent kills it with SIGKILL mid-stream. The child keeps an
// event sink nobody consumes, so the parent can check after each kill that
// every state change on disk has its sink entry, in order.
const crashChildEnv = "COMANDERA_QUEUE_CRASH_CHILD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// logPrinter appends "ID reprint\n" to a file for each copy it prints. An
// O_APPEND write of one short line survives the process being killed.
type logPrinter struct {
	f *os.File
}

func newLogPrinter(path string) (*logPrinter, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	return &logPrinter{f}, err
}

func (p *logPrinter) Print(ctx context.Context, j *Job) error {
	_, err := fmt.Fprintf(p.f, "%s %t\n", j.ID, j.Reprint)
	time.Sleep(200 * time.Microsecond) // a fast printer
	return err
}

func (p *logPrinter) Status(context.Context) (core.Status, error) { return core.Status{}, nil }

func crashPrinters(lp Printer) []PrinterConfig {
	var out []PrinterConfig
	for _, name := range []string{"kitchen", "bar"} {
		pc := fast(name, lp)
		pc.QueueLimit = 1 << 20
		out = append(out, pc)
	}
	return out
}

func crashChild(dir string) {
	lp, err := newLogPrinter(filepath.Join(dir, "printed.log"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	q, err := Open(filepath.Join(dir, FileName), Options{Printers: crashPrinters(lp), Sinks: []string{"mqtt"}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	round := os.Getenv("ROUND")
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	emit := func(format string, args ...any) {
		mu.Lock()
		fmt.Fprintf(out, format, args...)
		out.Flush() // one write per line, after Submit returned
		mu.Unlock()
	}
	for g := range 16 {
		go func() {
			for i := 0; ; i++ {
				key := ""
				if i%2 == 0 {
					key = fmt.Sprintf("r%s-g%d-%d", round, g, i)
				}
				printer := []string{"kitchen", "bar"}[(g+i)%2]
				j, _, err := q.Submit(context.Background(), Request{Printer: printer, Content: "ticket " + key, IdempotencyKey: key})
				if err != nil {
					emit("err %v\n", err)
					continue
				}
				emit("ok %s %s %s\n", j.ID, printer, key)
				if key != "" && i%4 == 0 {
					// A client retrying after a timeout.
					j2, existed, err := q.Submit(context.Background(), Request{Printer: printer, Content: "ticket " + key, IdempotencyKey: key})
					if err == nil {
						emit("dup %s %s %t\n", j2.ID, key, existed)
					}
				}
			}
		}()
	}
	select {}
}

func TestKill9(t *testing.T) {
	dir := t.TempDir()
	type ack struct{ id, printer, key string }
	var acks []ack
	rounds := 4
	for round := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, fmt.Sprint("ROUND=", round))
		cmd.Stderr = os.Stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(stdout)
		target := 300 + 150*round
		n := 0
		deadline := time.Now().Add(30 * time.Second)
		for n < target && time.Now().Before(deadline) {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("round %d: child stopped: %v", round, err)
			}
			f := strings.Fields(line)
			switch f[0] {
			case "ok":
				key := ""
				if len(f) > 3 {
					key = f[3]
				}
				acks = append(acks, ack{f[1], f[2], key})
				n++
			case "dup":
				if f[3] != "true" {
					t.Errorf("retry of key %s made a new job %s", f[2], f[1])
				}
			case "err":
				t.Errorf("child: %s", line)
			}
		}
		if err := cmd.Process.Kill(); err != nil { // SIGKILL
			t.Fatal(err)
		}
		// Lines already written before the kill count too: their Submit returned.
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				break
			}
			if f := strings.Fields(line); len(f) >= 3 && f[0] == "ok" {
				key := ""
				if len(f) > 3 {
					key = f[3]
				}
				acks = append(acks, ack{f[1], f[2], key})
			}
		}
		_ = cmd.Wait()
		t.Logf("round %d: %d jobs acknowledged so far", round, len(acks))
		checkSinkOnDisk(t, filepath.Join(dir, FileName))
	}

	// Reopen and let everything print.
	lp, err := newLogPrinter(filepath.Join(dir, "printed.log"))
	if err != nil {
		t.Fatal(err)
	}
	q := openAt(t, filepath.Join(dir, FileName), Options{Printers: crashPrinters(lp), Sinks: []string{"mqtt"}, Sink: quickDrain})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	work := make(chan ack)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for a := range work {
				j, err := q.Wait(ctx, a.id)
				if err != nil {
					t.Errorf("acknowledged job %s: %v", a.id, err)
					continue
				}
				if j.State != core.JobPrinted {
					t.Errorf("job %s: %s", a.id, j.State)
				}
				if a.key != "" {
					again, existed, err := q.Submit(ctx, Request{Printer: a.printer, Content: "ticket " + a.key, IdempotencyKey: a.key})
					if err != nil || !existed || again.ID != a.id {
						t.Errorf("key %s after crashes: %v existed=%v err=%v, want %s", a.key, again, existed, err, a.id)
					}
				}
			}
		}()
	}
	for _, a := range acks {
		work <- a
	}
	close(work)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	lp.f.Close()
	data, err := os.ReadFile(filepath.Join(dir, "printed.log"))
	if err != nil {
		t.Fatal(err)
	}
	plain, marked := map[string]int{}, map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		if f[1] == "true" {
			marked[f[0]]++
		} else {
			plain[f[0]]++
		}
	}
	reprints := 0
	for _, a := range acks {
		if plain[a.id]+marked[a.id] == 0 {
			t.Errorf("job %s never printed", a.id)
		}
		if plain[a.id] > 1 {
			t.Errorf("job %s printed %d times without a REPRINT mark", a.id, plain[a.id])
		}
		reprints += marked[a.id]
	}
	t.Logf("%d acknowledged jobs, all printed; %d marked reprints after %d kills", len(acks), reprints, rounds)
	// Jobs whose Submit returned after the last line was read print too.
	eventually(t, "queues drained", func() bool { return q.Depth("kitchen")+q.Depth("bar") == 0 })
	if jobs, err := q.List(Filter{State: core.JobPrinting}); err != nil || len(jobs) != 0 {
		t.Fatalf("jobs left printing: %d %v", len(jobs), err)
	}

	// The sink, consumed now, holds every change of every job across the
	// kills: each acknowledged job's chain ends printed.
	s := q.Sink("mqtt")
	chains := map[string][]Event{}
	for s.Pending() > 0 {
		e := next(t, s)
		ev := decodeEntry(t, e)
		chains[ev.Job.ID] = append(chains[ev.Job.ID], ev)
		if err := s.Ack(e.ID); err != nil {
			t.Fatal(err)
		}
	}
	final := map[string]core.JobState{}
	for id, c := range chains {
		final[id] = c[len(c)-1].State
	}
	checkChains(t, chains, final)
	for _, a := range acks {
		if c := chains[a.id]; len(c) == 0 || c[len(c)-1].State != core.JobPrinted {
			t.Errorf("acknowledged job %s: sink chain %v does not end printed", a.id, chainString(c))
		}
	}
	t.Logf("sink: %d jobs' changes delivered in order after %d kills", len(chains), rounds)
}

// checkSinkOnDisk reads the database a killed process left: every job's
// changes in the sink form a chain from its creation to the state stored
// for it, and every entry belongs to a stored job.
func checkSinkOnDisk(t *testing.T, path string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	chains := map[string][]Event{}
	stored := map[string]core.JobState{}
	err = db.View(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bSinks).Bucket([]byte("mqtt")).ForEach(func(k, v []byte) error {
			var ev Event
			if err := json.Unmarshal(v[8:], &ev); err != nil {
				return err
			}
			chains[ev.Job.ID] = append(chains[ev.Job.ID], ev)
			return nil
		}); err != nil {
			return err
		}
		return tx.Bucket(bJobs).ForEach(func(k, v []byte) error {
			var j Job
			if err := json.Unmarshal(v, &j); err != nil {
				return err
			}
			stored[j.ID] = j.State
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	checkChains(t, chains, stored)
}

// checkChains: for each job in want, its events go "" > queued, each from
// the state the one before reached, and end in want's state; no event
// belongs to a job not in want.
func checkChains(t *testing.T, chains map[string][]Event, want map[string]core.JobState) {
	t.Helper()
	bad := 0
	fail := func(format string, args ...any) {
		if bad++; bad <= 10 {
			t.Errorf(format, args...)
		}
	}
	for id, st := range want {
		c := chains[id]
		if len(c) == 0 {
			fail("job %s (%s) has no sink entries", id, st)
			continue
		}
		var prev core.JobState
		for _, ev := range c {
			if ev.Previous != prev {
				fail("job %s: sink chain %s breaks at %s", id, chainString(c), change(ev))
				break
			}
			prev = ev.State
		}
		if prev != st {
			fail("job %s is %s but its sink chain %s ends %s", id, st, chainString(c), prev)
		}
	}
	for id := range chains {
		if _, ok := want[id]; !ok {
			fail("sink entries %s for job %s, which is not stored", chainString(chains[id]), id)
		}
	}
	if bad > 10 {
		t.Errorf("… %d problems in all", bad)
	}
}

func chainString(c []Event) string {
	var parts []string
	for _, ev := range c {
		parts = append(parts, change(ev))
	}
	return strings.Join(parts, ", ")
}
