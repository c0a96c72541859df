package escpos

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/comandera/comandera/core"
)

// DLE EOT n asks the printer for one status byte:
// n=1 printer, n=2 offline cause, n=3 error cause, n=4 roll paper sensor.
const (
	StatusPrinter = 1
	StatusOffline = 2
	StatusError   = 3
	StatusPaper   = 4
)

// StatusRequest returns the DLE EOT n command.
func StatusRequest(n byte) []byte { return []byte{DLE, EOT, n} }

// IsStatusReply reports whether b has the fixed bits every DLE EOT reply has
// (bit 0 = 0, bit 1 = 1, bit 4 = 1, bit 7 = 0), which tells it apart from ASB
// bytes, XON/XOFF and stray data.
func IsStatusReply(b byte) bool { return b&0x93 == 0x12 }

// ParseStatus combines the replies to DLE EOT 1, 2, 3 and 4 into a Status.
// Every reply must carry the fixed bits; anything else is an error, never a
// guess.
func ParseStatus(printer, offline, errCause, paper byte) (core.Status, error) {
	for i, b := range []byte{printer, offline, errCause, paper} {
		if !IsStatusReply(b) {
			return core.Status{}, fmt.Errorf("escpos: reply %#02x to DLE EOT %d lacks the fixed bits", b, i+1)
		}
	}
	s := core.Status{
		Known:     true,
		Online:    printer&0x08 == 0,
		CoverOpen: offline&0x04 != 0,
		PaperOut:  offline&0x20 != 0 || paper&0x60 == 0x60,
		PaperLow:  paper&0x0c == 0x0c,
		Error:     offline&0x40 != 0 || errCause&0x68 != 0,
	}
	switch {
	case errCause&0x08 != 0:
		s.Detail = "autocutter error"
	case errCause&0x20 != 0:
		s.Detail = "unrecoverable error"
	case errCause&0x40 != 0:
		s.Detail = "auto-recoverable error (head temperature or voltage)"
	}
	return s, nil
}

// StatusReply returns what a printer in state s answers to DLE EOT n; the sim
// uses it so drivers can be tested against real reply bytes.
func StatusReply(n byte, s core.Status) byte {
	b := byte(0x12)
	switch n {
	case StatusPrinter:
		if !s.Online || s.CoverOpen || s.PaperOut || s.Error {
			b |= 0x08
		}
	case StatusOffline:
		if s.CoverOpen {
			b |= 0x04
		}
		if s.PaperOut {
			b |= 0x20
		}
		if s.Error {
			b |= 0x40
		}
	case StatusError:
		if s.Error {
			b |= 0x20
		}
	case StatusPaper:
		if s.PaperLow || s.PaperOut {
			b |= 0x0c
		}
		if s.PaperOut {
			b |= 0x60
		}
	}
	return b
}

// ErrNoReply means the printer did not answer a status request.
var ErrNoReply = errors.New("escpos: no status reply")

// QueryStatus sends DLE EOT 1 to 4 on w and reads each answer from r, skipping
// bytes that are not status replies (XON/XOFF, ASB, leftovers). The caller
// bounds the reads: r must return (with an error) when ctx's deadline passes,
// for example through a read deadline on the connection.
func QueryStatus(ctx context.Context, w io.Writer, r io.Reader) (core.Status, error) {
	var replies [4]byte
	buf := make([]byte, 1)
	for i := range replies {
		if _, err := w.Write(StatusRequest(byte(i + 1))); err != nil {
			return core.Status{}, err
		}
		for skipped := 0; ; skipped++ {
			if err := ctx.Err(); err != nil {
				return core.Status{}, fmt.Errorf("%w: %v", ErrNoReply, err)
			}
			if skipped > 64 {
				return core.Status{}, fmt.Errorf("%w: 64 bytes without a status reply", ErrNoReply)
			}
			n, err := r.Read(buf)
			if n == 1 && IsStatusReply(buf[0]) {
				replies[i] = buf[0]
				break
			}
			if err != nil {
				return core.Status{}, fmt.Errorf("%w: %v", ErrNoReply, err)
			}
		}
	}
	return ParseStatus(replies[0], replies[1], replies[2], replies[3])
}
