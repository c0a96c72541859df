package sim

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/escpos"
)

// newPrinter returns a printer writing to a temporary directory.
func newPrinter(t *testing.T, cfg Config) (*Printer, string) {
	t.Helper()
	if cfg.Output == "" {
		cfg.Output = t.TempDir()
	}
	p, err := NewPrinter(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p, cfg.Output
}

func open(t *testing.T, p *Printer) *Conn {
	t.Helper()
	c, err := p.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func touch(t *testing.T, dir, name string) func() {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return func() { os.Remove(path) }
}

// files lists the directory's non-hidden files, sorted.
func files(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	slices.Sort(out)
	return out
}

func readFile(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// status asks the Conn for DLE EOT 1–4 over its byte stream, as a driver
// does, and parses the replies.
func status(t *testing.T, c *Conn) core.Status {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	defer c.SetDeadline(time.Time{})
	s, err := escpos.QueryStatus(context.Background(), c, c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRegistered(t *testing.T) {
	d, err := core.Lookup("sim")
	if err != nil {
		t.Fatal(err)
	}
	cfg := d.Config()
	src := `sim {
  output           = "out/kitchen"
  render           = false
  paper_out_after  = 3
  disconnect_after = 1000
  speed            = 150
  xoff_at          = 512
}`
	f, diags := hclsyntax.ParseConfig([]byte(src), "t.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	content, _ := f.Body.Content(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "sim"}}})
	if diags := gohcl.DecodeBody(content.Blocks[0].Body, nil, cfg); diags.HasErrors() {
		t.Fatal(diags)
	}
	c := cfg.(*Config)
	c.ResolvePaths("/etc/comandera")
	if c.Output != "/etc/comandera/out/kitchen" || c.render() || c.PaperOutAfter != 3 || c.DisconnectAfter != 1000 || c.Speed != 150 || c.XOffAt != 512 {
		t.Errorf("decoded %+v", c)
	}
	var _ core.ProfileSetter = c
	c.SetProfile(profile(t, "generic-58mm"))
	if c.Profile().DotsPerLine != 384 {
		t.Errorf("profile not set")
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	// The interfaces the queue and server discover by type assertion.
	c.Output = t.TempDir()
	conn, err := d.Open(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var (
		_ core.StatusReader = conn.(core.StatusReader)
		_ core.Reader       = conn.(core.Reader)
		_ core.Labeler      = conn.(core.Labeler)
		_ core.Deadliner    = conn.(core.Deadliner)
	)
}

func TestValidate(t *testing.T) {
	// Every built-in command set has an interpreter; another is refused.
	for _, name := range []string{"star-tsp650", "star-tsp100"} {
		var c Config
		c.SetProfile(profile(t, name))
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	var c Config
	pcl := profile(t, "generic-80mm")
	pcl.CommandSet = "pcl"
	c.SetProfile(pcl)
	if err := c.Validate(); !errors.Is(err, ErrUnsupported) {
		t.Errorf("command set pcl: %v, want ErrUnsupported", err)
	}

	for _, tc := range []struct {
		cfg  Config
		prof string
		want string
	}{
		{Config{PaperOutAfter: -1}, "", "paper_out_after"},
		{Config{DisconnectAfter: -1}, "", "disconnect_after"},
		{Config{Speed: -1}, "", "speed"},
		{Config{XOffAt: 10}, "", "xoff_at needs a speed"},
	} {
		c := tc.cfg
		if tc.prof != "" {
			c.SetProfile(profile(t, tc.prof))
		}
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

func TestTicketFiles(t *testing.T) {
	p, dir := newPrinter(t, Config{})
	c := open(t, p)
	c.Label("job/42")
	if _, err := c.Write(bs(kitchenTicket(t), "second ticket", lf, esc, 'p', 0, 25, 250)); err != nil {
		t.Fatal(err)
	}
	// The first ticket is on disk as soon as it is cut.
	if got := files(t, dir); !slices.Equal(got, []string{"job_42.json", "job_42.png", "job_42.txt"}) {
		t.Errorf("after the cut: %q", got)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	want := []string{"job_42-2.json", "job_42-2.png", "job_42-2.txt", "job_42.json", "job_42.png", "job_42.txt"}
	if got := files(t, dir); !slices.Equal(got, want) {
		t.Errorf("files %q, want %q", got, want)
	}
	if txt := readFile(t, dir, "job_42.txt"); !strings.HasPrefix(txt, "COCINA\nPedido nº 8812 · 21:47\n") {
		t.Errorf("transcript %q", txt)
	}
	var sc Sidecar
	if err := json.Unmarshal([]byte(readFile(t, dir, "job_42-2.json")), &sc); err != nil {
		t.Fatal(err)
	}
	if sc.Job != "job_42" || sc.Ticket != 2 || sc.Cut != "none" || len(sc.Drawer) != 1 || sc.Drawer[0].Pin != 2 ||
		sc.Lines != 1 || sc.Image != "job_42-2.png" || sc.WidthDots != 576 || sc.Profile != "generic-80mm" || sc.Bytes != 19 {
		t.Errorf("sidecar %+v", sc)
	}
	// The same label again (a retry) does not overwrite.
	c = open(t, p)
	c.Label("job/42")
	c.Write(bs("retry", lf))
	c.Close()
	if !slices.Contains(files(t, dir), "job_42.try2.png") {
		t.Errorf("retry files: %q", files(t, dir))
	}
	// No label: timestamp and sequence.
	defer func(f func() time.Time) { now = f }(now)
	now = func() time.Time { return time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC) }
	c = open(t, p)
	c.Write(bs("anon", lf))
	c.Close()
	if !slices.Contains(files(t, dir), "20260102T150405.000-0001.txt") {
		t.Errorf("unlabelled files: %q", files(t, dir))
	}
	// No temporary files are left behind.
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
}

func TestNoRenderAndMemory(t *testing.T) {
	off := false
	p, dir := newPrinter(t, Config{Render: &off})
	c := open(t, p)
	c.Write(bs("sin imagen", lf, gs, 'V', 0))
	c.Close()
	if got := files(t, dir); len(got) != 2 || !strings.HasSuffix(got[0], ".json") || !strings.HasSuffix(got[1], ".txt") {
		t.Errorf("render=false files %q", got)
	}
	// Without an output directory, tickets stay in memory.
	cfg := Config{}
	mp, err := NewPrinter(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	c = open(t, mp)
	c.Write(bs("en memoria", lf, gs, 'V', 1, "dos", lf))
	c.Close()
	ts := mp.Tickets()
	if len(ts) != 2 || ts[0].Lines[0] != "en memoria" || ts[0].Image == nil || ts[1].Cut != "" {
		t.Errorf("memory tickets %+v", ts)
	}
}

func TestStatusDLEEOT(t *testing.T) {
	p, dir := newPrinter(t, Config{})
	c := open(t, p)
	defer c.Close()
	s := status(t, c)
	if s.State() != core.StateOnline {
		t.Errorf("state %v", s.State())
	}
	// The reply bytes are escpos.StatusReply's for the state.
	c.Write(bs(dle, 4, 1, dle, 4, 2, dle, 4, 3, dle, 4, 4))
	got := make([]byte, 4)
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	want := []byte{0x12, 0x12, 0x12, 0x12}
	for i := range want {
		want[i] = escpos.StatusReply(byte(i+1), core.Status{Known: true, Online: true})
	}
	if !slices.Equal(got, want) {
		t.Errorf("replies % x, want % x", got, want)
	}
	for _, tc := range []struct {
		file  string
		state core.PrinterState
		bits  [4]byte // expected replies to DLE EOT 1..4
	}{
		{"PAPER_OUT", core.StatePaperOut, [4]byte{0x1a, 0x32, 0x12, 0x7e}},
		{"COVER_OPEN", core.StateCoverOpen, [4]byte{0x1a, 0x16, 0x12, 0x12}},
	} {
		rm := touch(t, dir, tc.file)
		if s := status(t, c); s.State() != tc.state {
			t.Errorf("%s: DLE EOT state %v", tc.file, s.State())
		}
		if s, err := c.Status(context.Background()); err != nil || s.State() != tc.state {
			t.Errorf("%s: Status %v %v", tc.file, s.State(), err)
		}
		c.Write(bs(dle, 4, 1, dle, 4, 2, dle, 4, 3, dle, 4, 4))
		var r [4]byte
		io.ReadFull(c, r[:])
		if r != tc.bits {
			t.Errorf("%s: replies % x, want % x", tc.file, r, tc.bits)
		}
		// Printing fails without spending the job: ErrNotReady.
		if _, err := c.Write(bs("x", lf)); !errors.Is(err, core.ErrNotReady) {
			t.Errorf("%s: Write err %v, want ErrNotReady", tc.file, err)
		}
		rm()
	}
	if _, err := c.Write(bs("x", lf)); err != nil {
		t.Errorf("after clearing faults: %v", err)
	}
}

func TestOffline(t *testing.T) {
	p, dir := newPrinter(t, Config{})
	c := open(t, p)
	defer c.Close()
	rm := touch(t, dir, "OFFLINE")
	if _, err := p.Open(context.Background()); !errors.Is(err, core.ErrOffline) {
		t.Errorf("Open: %v, want ErrOffline", err)
	}
	if _, err := c.Write(bs("x", lf)); !errors.Is(err, core.ErrOffline) {
		t.Errorf("Write: %v, want ErrOffline", err)
	}
	if _, err := c.Status(context.Background()); !errors.Is(err, core.ErrOffline) {
		t.Errorf("Status: %v, want ErrOffline", err)
	}
	rm()
	if _, err := c.Write(bs("x", lf)); err != nil {
		t.Errorf("Write after OFFLINE removed: %v", err)
	}
}

func TestPaperOutAfter(t *testing.T) {
	p, dir := newPrinter(t, Config{PaperOutAfter: 2})
	c := open(t, p)
	_, err := c.Write(bs("uno", lf, gs, 'V', 0, "dos", lf, gs, 'V', 0, "tres", lf, gs, 'V', 0))
	if !errors.Is(err, core.ErrNotReady) {
		t.Errorf("Write: %v, want ErrNotReady", err)
	}
	c.Close()
	if got := files(t, dir); len(got) != 6 {
		t.Errorf("files %q: want two tickets", got)
	}
	if s, _ := p.Status(); s.State() != core.StatePaperOut {
		t.Errorf("state %v", s.State())
	}
	c = open(t, p)
	if _, err := c.Write(bs("cuatro", lf)); !errors.Is(err, core.ErrNotReady) {
		t.Errorf("Write after paper out: %v", err)
	}
	if s := status(t, c); s.State() != core.StatePaperOut {
		t.Errorf("DLE EOT while paper out: %v", s.State())
	}
	c.Close()
	p.Refill()
	c = open(t, p)
	if _, err := c.Write(bs("cinco", lf)); err != nil {
		t.Errorf("after Refill: %v", err)
	}
	c.Close()
}

func TestDisconnectAfter(t *testing.T) {
	p, dir := newPrinter(t, Config{DisconnectAfter: 100})
	job := kitchenTicket(t)
	c := open(t, p)
	c.Label("8812")
	n, err := c.Write(job)
	if !errors.Is(err, core.ErrOffline) || n != 100 {
		t.Fatalf("Write = %d, %v; want 100, ErrOffline", n, err)
	}
	if _, err := c.Write(job); !errors.Is(err, core.ErrOffline) {
		t.Errorf("Write on a dropped link: %v", err)
	}
	c.Close()
	var sc Sidecar
	json.Unmarshal([]byte(readFile(t, dir, "8812.json")), &sc)
	if !strings.Contains(strings.Join(sc.Warnings, " "), "link dropped after 100 bytes") || sc.Bytes != 100 {
		t.Errorf("partial ticket sidecar %+v", sc)
	}
	// The fault fires once: the retry completes.
	c = open(t, p)
	c.Label("8812")
	if _, err := c.Write(job); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if txt := readFile(t, dir, "8812.try2.txt"); !strings.Contains(txt, "21:47:05") {
		t.Errorf("retried ticket %q", txt)
	}
}

func TestDeadlineAndClose(t *testing.T) {
	p, _ := newPrinter(t, Config{})
	c := open(t, p)
	c.SetDeadline(time.Now().Add(20 * time.Millisecond))
	buf := make([]byte, 4)
	if _, err := c.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Read: %v, want deadline exceeded", err)
	}
	if _, err := c.Write(bs("x")); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Write after deadline: %v", err)
	}
	c.SetDeadline(time.Time{})
	done := make(chan error)
	go func() { _, err := c.Read(buf); done <- err }()
	time.Sleep(10 * time.Millisecond)
	c.Close()
	if err := <-done; err != io.EOF {
		t.Errorf("Read after Close: %v, want EOF", err)
	}
	if _, err := c.Write(bs("x")); err == nil {
		t.Errorf("Write after Close succeeded")
	}
}

// TestSpeed checks a speed makes writes wait for the paper: 100 mm of paper
// at 1000 mm/s takes at least 0.1 s. Only a lower bound is checked.
func TestSpeed(t *testing.T) {
	p, _ := newPrinter(t, Config{Speed: 1000})
	c := open(t, p)
	defer c.Close()
	mm100 := 100 * 203 * 10 / 254
	job := bs("x", lf)
	for range mm100 / 255 {
		job = append(job, esc, 'J', 255)
	}
	start := time.Now()
	if _, err := c.Write(bs(job, strings.Repeat("y", recvBuffer+1), lf)); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 80*time.Millisecond {
		t.Errorf("100 mm at 1000 mm/s took %v", d)
	}
	// Close returns promptly even while a Write waits.
	c2 := open(t, p)
	closed := make(chan struct{})
	// Close writes the ticket's files: wait for it before t.TempDir is removed.
	defer func() { <-closed }()
	go func() { defer close(closed); time.Sleep(20 * time.Millisecond); c2.Close() }()
	start = time.Now()
	long := bs(strings.Repeat(string(bs(esc, 'J', 255)), 200), strings.Repeat("z", recvBuffer+1))
	if _, err := c2.Write(long); err == nil {
		t.Errorf("Write interrupted by Close returned no error")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v to interrupt a waiting Write", d)
	}
}

func TestXOffXOn(t *testing.T) {
	p, _ := newPrinter(t, Config{Speed: 500, XOffAt: 64})
	c := open(t, p)
	defer c.Close()
	// 128 bytes that feed 20 mm: 40 ms of printing, more than 64 unprinted.
	job := bs(strings.Repeat("a", 120), esc, 'J', 160)
	got := make(chan []byte, 4)
	go func() {
		b := make([]byte, 1)
		for {
			c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Read(b); err != nil {
				close(got)
				return
			}
			got <- []byte{b[0]}
		}
	}()
	if _, err := c.Write(job); err != nil {
		t.Fatal(err)
	}
	if b := <-got; b == nil || b[0] != escpos.XOFF {
		t.Fatalf("first reply %v, want XOFF", b)
	}
	if b := <-got; b == nil || b[0] != escpos.XON {
		t.Fatalf("second reply %v, want XON", b)
	}
}

func TestServeTCP(t *testing.T) {
	p, dir := newPrinter(t, Config{DisconnectAfter: 500})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error)
	go func() { served <- p.Serve(ctx, l) }()

	// A job with a status request in it; the reply comes back on the socket.
	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	nc.Write(bs(dle, 4, 1, "tcp job", lf, gs, 'V', 0))
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 1)
	if _, err := io.ReadFull(nc, b); err != nil || b[0] != 0x12 {
		t.Errorf("DLE EOT 1 over TCP: % x %v", b, err)
	}
	nc.(*net.TCPConn).CloseWrite()
	io.Copy(io.Discard, nc) // the printer closes when done
	nc.Close()
	waitFiles(t, dir, 3)

	// The second job crosses disconnect_after: the connection is reset.
	nc, _ = net.Dial("tcp", l.Addr().String())
	_, werr := nc.Write(bytesOf(2000))
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	_, rerr := io.ReadAll(nc)
	if werr == nil && rerr == nil {
		t.Errorf("a dropped link looks clean to the client")
	}
	nc.Close()
	cancel()
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

func bytesOf(n int) []byte {
	b := make([]byte, 0, n)
	for len(b) < n {
		b = append(b, "linea de prueba\n"...)
	}
	return b[:n]
}

// waitFiles waits for at least n files in dir.
func waitFiles(t *testing.T, dir string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := files(t, dir)
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("files %q: want %d", got, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
