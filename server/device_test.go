package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/comandera/comandera/config"
	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/queue"
)

// fakeDriver is a driver for tests, registered under test-only names. Its
// connections do what the test sets in behave.
type fakeDriver struct{ name string }

type fakeConfig struct{}

var (
	fakeMu     sync.Mutex
	fakeBehave = map[string]func(op string) error{} // driver name → called with "open", "status", "write", "close"
	fakeOpens  = map[string]*atomic.Int64{}
	fakeWrites = map[string]*fakeLog{}
)

type fakeLog struct {
	mu     sync.Mutex
	labels []string
	data   [][]byte
}

func init() {
	for _, n := range []string{"test-panic-write", "test-panic-open", "test-fake", "test-hang"} {
		core.Register(n, fakeDriver{n})
		fakeOpens[n] = new(atomic.Int64)
		fakeWrites[n] = &fakeLog{}
	}
	fakeBehave["test-panic-write"] = func(op string) error {
		if op == "write" {
			panic("driver bug: nil pointer in the write path")
		}
		return nil
	}
	fakeBehave["test-panic-open"] = func(op string) error {
		if op == "open" {
			panic("driver bug in Open")
		}
		return nil
	}
}

func (fakeDriver) Config() any { return &fakeConfig{} }

func (d fakeDriver) Open(ctx context.Context, cfg any) (core.Conn, error) {
	fakeOpens[d.name].Add(1)
	if err := d.behave("open"); err != nil {
		return nil, err
	}
	return &fakeConn{d: d, done: make(chan struct{})}, nil
}

func (d fakeDriver) behave(op string) error {
	fakeMu.Lock()
	f := fakeBehave[d.name]
	fakeMu.Unlock()
	if f == nil {
		return nil
	}
	return f(op)
}

type fakeConn struct {
	d      fakeDriver
	label  string
	closed atomic.Bool
	once   sync.Once
	done   chan struct{}
}

func (c *fakeConn) Label(id string) { c.label = id }

func (c *fakeConn) Status(ctx context.Context) (core.Status, error) {
	if err := c.d.behave("status"); err != nil {
		return core.Status{}, err
	}
	return core.Status{Known: true, Online: true}, nil
}

func (c *fakeConn) Write(b []byte) (int, error) {
	if c.d.name == "test-hang" {
		<-c.done // blocks until Close, like a wedged USB write
		return 0, errors.New("closed while writing")
	}
	if err := c.d.behave("write"); err != nil {
		return 0, err
	}
	l := fakeWrites[c.d.name]
	l.mu.Lock()
	l.labels = append(l.labels, c.label)
	l.data = append(l.data, append([]byte(nil), b...))
	l.mu.Unlock()
	return len(b), nil
}

func (c *fakeConn) Close() error {
	c.closed.Store(true)
	c.once.Do(func() { close(c.done) })
	return nil
}

// TestPanickingDriver: a driver that panics fails only the job in hand; the
// server and the other printers carry on.
func TestPanickingDriver(t *testing.T) {
	ts := newTestServer(t, `
server {
  listen = "127.0.0.1:0"
  token  = "`+testToken+`"
  data_dir = "data"
}
printer "ok" {
  sim {
    output = "OUT/ok"
    render = false
  }
}
printer "boom" {
  test-panic-write {}
}
printer "boom-open" {
  test-panic-open {}
}
`)
	submit := func(printer string) string {
		var j JobResponse
		if st, body := ts.call("POST", "/print", fmt.Sprintf(`{"printer": %q, "content": "hola"}`, printer), &j); st != 202 {
			t.Fatalf("%s: %d %s", printer, st, body)
		}
		return j.ID
	}
	wait := func(id string) *queue.Job {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		j, err := ts.svc.Wait(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	for round := 0; round < 2; round++ {
		a, b, c := submit("boom"), submit("ok"), submit("boom-open")
		ja, jb, jc := wait(a), wait(b), wait(c)
		if ja.State != core.JobFailed || !strings.Contains(ja.LastError, "panicked") || ja.Attempts != 1 {
			t.Errorf("boom job: %s attempts %d %q, want failed after 1 attempt with a panic", ja.State, ja.Attempts, ja.LastError)
		}
		if jc.State != core.JobFailed || !strings.Contains(jc.LastError, "panicked") {
			t.Errorf("boom-open job: %s %q", jc.State, jc.LastError)
		}
		if jb.State != core.JobPrinted {
			t.Errorf("ok job: %s %q", jb.State, jb.LastError)
		}
	}
	if st, _ := ts.call("GET", "/health", "", nil); st != 200 {
		t.Errorf("health after panics: %d", st)
	}
}

// TestDeviceReusesStatusConn: the connection opened to read the status
// carries the job that follows, labelled with its ID.
func TestDeviceReusesStatusConn(t *testing.T) {
	d := testDevice(t, "test-fake")
	ctx := context.Background()
	before := fakeOpens["test-fake"].Load()
	if st, err := d.Status(ctx); err != nil || st.State() != core.StateOnline {
		t.Fatalf("status %v %v", st, err)
	}
	job := &queue.Job{ID: "01M8CYMG709TJ6SZNNBSVK5XNR", Content: "Hola", Copies: 1}
	if err := d.Print(ctx, job); err != nil {
		t.Fatal(err)
	}
	if n := fakeOpens["test-fake"].Load() - before; n != 1 {
		t.Errorf("%d opens for status + print, want 1", n)
	}
	// Without a status check just before, Print opens its own.
	time.Sleep(idleKeep + 100*time.Millisecond)
	if err := d.Print(ctx, &queue.Job{ID: "01M8CYMG709TJ6SZNNBSVK5XNS", Content: "Otra", Copies: 1, Reprint: true}); err != nil {
		t.Fatal(err)
	}
	if n := fakeOpens["test-fake"].Load() - before; n != 2 {
		t.Errorf("%d opens, want 2", n)
	}
	l := fakeWrites["test-fake"]
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.labels) < 2 || l.labels[len(l.labels)-2] != job.ID {
		t.Errorf("labels %v", l.labels)
	}
	last := l.data[len(l.data)-1]
	if !strings.Contains(string(last), "REPRINT") || !strings.Contains(string(last), "Otra") {
		t.Errorf("a reprint lacks its banner: %q", last)
	}
}

// TestDeviceWriteBoundedByContext: a write that hangs is cut off by closing
// the connection when the context ends.
func TestDeviceWriteBoundedByContext(t *testing.T) {
	d := testDevice(t, "test-hang")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := d.Print(ctx, &queue.Job{ID: "01M8CYMG709TJ6SZNNBSVK5XNR", Content: "x", Copies: 1})
	if err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("err %v", err)
	}
	if queue.IsPermanent(err) {
		t.Error("an interrupted write must be retried, not failed")
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("took %s", time.Since(start))
	}
}

// TestDeviceErrorClasses: driver errors keep their class for the queue;
// encoding errors are permanent.
func TestDeviceErrorClasses(t *testing.T) {
	d := testDevice(t, "test-fake")
	ctx := context.Background()
	set := func(f func(op string) error) {
		fakeMu.Lock()
		fakeBehave["test-fake"] = f
		fakeMu.Unlock()
	}
	defer set(nil)
	set(func(op string) error {
		if op == "open" {
			return fmt.Errorf("no such device: %w", core.ErrOffline)
		}
		return nil
	})
	if _, err := d.Status(ctx); !errors.Is(err, core.ErrOffline) {
		t.Errorf("status: %v", err)
	}
	if err := d.Print(ctx, &queue.Job{ID: "01M8CYMG709TJ6SZNNBSVK5XNR", Content: "x", Copies: 1}); !errors.Is(err, core.ErrOffline) || queue.IsPermanent(err) {
		t.Errorf("print: %v", err)
	}
	set(func(op string) error {
		if op == "write" {
			return fmt.Errorf("paper out: %w", core.ErrNotReady)
		}
		return nil
	})
	if err := d.Print(ctx, &queue.Job{ID: "01M8CYMG709TJ6SZNNBSVK5XNR", Content: "x", Copies: 1}); !errors.Is(err, core.ErrNotReady) {
		t.Errorf("print: %v", err)
	}
	set(nil)
	bad := core.Document{{Kind: core.KindBarcode, Text: "12", Symbology: "ean13"}}
	if err := d.Print(ctx, &queue.Job{ID: "01M8CYMG709TJ6SZNNBSVK5XNR", Document: bad, Copies: 1}); !queue.IsPermanent(err) {
		t.Errorf("a document that cannot be encoded: %v, want permanent", err)
	}
}

func testDevice(t *testing.T, driver string) *device {
	t.Helper()
	prof, err := core.Builtin().Lookup(core.DefaultProfile)
	if err != nil {
		t.Fatal(err)
	}
	d, err := newDevice(&config.Printer{Name: "p", Driver: driver, DriverConfig: &fakeConfig{}, Profile: prof},
		nil, discardLogger(), newMetrics())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.close)
	return d
}
