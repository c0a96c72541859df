package sim

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// Serve makes p a network printer on l (raw TCP, like port 9100): each
// connection is one job; DLE EOT replies and XON/XOFF go back on the same
// connection. A connection that cannot print (OFFLINE, paper out, the
// disconnect_after fault) is reset, as an unplugged printer would drop it.
// Serve returns when ctx is done (nil) or l fails; it closes l and every
// open connection, finishing their tickets.
func (p *Printer) Serve(ctx context.Context, l net.Listener) error {
	var (
		mu    sync.Mutex
		conns = map[net.Conn]bool{}
		wg    sync.WaitGroup
	)
	stop := context.AfterFunc(ctx, func() {
		l.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	defer stop()
	defer wg.Wait()
	for {
		nc, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		mu.Lock()
		conns[nc] = true
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.serveConn(ctx, nc)
			mu.Lock()
			delete(conns, nc)
			mu.Unlock()
		}()
	}
}

// reset closes a TCP connection with RST, as a printer losing power does.
func reset(nc net.Conn) {
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	nc.Close()
}

func (p *Printer) serveConn(ctx context.Context, nc net.Conn) {
	c, err := p.Open(ctx)
	if err != nil {
		p.log.Warn("sim: connection refused", "remote", nc.RemoteAddr(), "err", err)
		reset(nc)
		return
	}
	replies := p.pump(c, nc)
	buf := make([]byte, 64<<10)
	for {
		n, rerr := nc.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				p.log.Warn("sim: job failed", "remote", nc.RemoteAddr(), "err", werr)
				c.Close()
				<-replies
				reset(nc)
				return
			}
		}
		if rerr != nil {
			break
		}
	}
	if err := c.Close(); err != nil {
		p.log.Error("sim: job", "remote", nc.RemoteAddr(), "err", err)
	}
	<-replies
	nc.Close()
}

// pump copies c's replies to w until c is closed; the channel is closed
// when it is done.
func (p *Printer) pump(c *Conn, w io.Writer) chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 512)
		for {
			n, err := c.Read(buf)
			if n > 0 {
				if _, werr := w.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	return done
}

// DefaultIdle is how long a stream (serial line) must be silent before
// ServeStream ends the job in progress.
const DefaultIdle = time.Second

// ServeStream makes p a printer on a byte stream without connections, such
// as a serial line or a pseudo-terminal: bytes read from rw are printed,
// replies (DLE EOT answers, XON/XOFF) are written to rw. A job ends after
// idle of silence (0 means DefaultIdle); a job that fails (OFFLINE, paper
// out, disconnect_after) loses what follows until the next silence.
// ServeStream returns nil when ctx is done, or the read error that ended the
// stream.
func (p *Printer) ServeStream(ctx context.Context, rw io.ReadWriter, idle time.Duration) error {
	if idle <= 0 {
		idle = DefaultIdle
	}
	type chunk struct {
		b   []byte
		err error
	}
	chunks := make(chan chunk)
	ack := make(chan struct{})
	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := rw.Read(buf)
			select {
			case chunks <- chunk{buf[:n], err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
			select {
			case <-ack:
			case <-ctx.Done():
				return
			}
		}
	}()
	var (
		c       *Conn
		replies chan struct{}
		failed  bool
	)
	end := func() {
		if c != nil {
			if err := c.Close(); err != nil {
				p.log.Error("sim: job", "err", err)
			}
			<-replies
			c = nil
		}
	}
	timer := time.NewTimer(idle)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			end()
			return nil
		case <-timer.C:
			end()
			failed = false
		case ch := <-chunks:
			if len(ch.b) > 0 && !failed {
				if c == nil {
					var err error
					if c, err = p.Open(ctx); err != nil {
						p.log.Warn("sim: job refused", "err", err)
						c, failed = nil, true
					} else {
						replies = p.pump(c, rw)
					}
				}
				if c != nil {
					if _, err := c.Write(ch.b); err != nil {
						p.log.Warn("sim: job failed", "err", err)
						end()
						failed = true
					}
				}
			}
			if ch.err != nil {
				end()
				if ctx.Err() != nil || errors.Is(ch.err, io.EOF) {
					return nil
				}
				return ch.err
			}
			timer.Reset(idle)
			select {
			case ack <- struct{}{}:
			case <-ctx.Done():
				end()
				return nil
			}
		}
	}
}
