package sim

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// ServePTY makes p a serial printer on a new pseudo-terminal: it calls ready
// with the path of the terminal side (the "serial port" a driver opens, such
// as /dev/pts/3), then serves the stream like ServeStream until ctx is done.
// The terminal is in raw mode, so bytes pass unchanged.
func (p *Printer) ServePTY(ctx context.Context, idle time.Duration, ready func(path string)) error {
	ptm, pts, err := pty.Open()
	if err != nil {
		return fmt.Errorf("sim: creating a pseudo-terminal: %w", err)
	}
	defer pts.Close()
	if err := makeRaw(pts); err != nil {
		ptm.Close()
		return fmt.Errorf("sim: pseudo-terminal raw mode: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { ptm.Close() })
	defer stop()
	defer ptm.Close()
	ready(pts.Name())
	return p.ServeStream(ctx, ptm, idle)
}

// makeRaw turns off the line discipline's processing (echo, CR/LF mapping,
// signals, flow control), like cfmakeraw(3).
func makeRaw(f *os.File) error {
	fd := int(f.Fd())
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON | unix.IXOFF
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
	return unix.IoctlSetTermios(fd, unix.TCSETS, t)
}
