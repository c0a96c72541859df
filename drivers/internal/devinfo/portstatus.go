package devinfo

import (
	"strings"

	"github.com/comandera/comandera/core"
)

// Bits of the parallel-port status byte a USB printer-class device returns
// to GET_PORT_STATUS (and Linux usblp to the LPGETSTATUS ioctl). Only these
// three are defined by the USB printer class; the others are reserved.
const (
	PortNotError = 0x08 // 1: no error (nERROR is active low)
	PortSelect   = 0x10 // 1: selected, on line
	PortPaperOut = 0x20 // 1: paper empty
)

// PortStatus decodes a printer-class port status byte. Paper out is reported
// as such and not also as an error (printers pull nERROR low when paper runs
// out), so State names the most specific cause.
func PortStatus(b byte) core.Status {
	s := core.Status{
		Known:    true,
		Online:   b&PortSelect != 0,
		PaperOut: b&PortPaperOut != 0,
		Error:    b&PortNotError == 0 && b&PortPaperOut == 0,
	}
	var why []string
	if s.PaperOut {
		why = append(why, "paper out")
	}
	if !s.Online {
		why = append(why, "not selected (off line)")
	}
	if s.Error {
		why = append(why, "error")
	}
	s.Detail = strings.Join(why, ", ")
	return s
}

// Merge combines the port status with the richer DLE EOT status of the same
// printer: the DLE EOT reply wins where it says more (cover open, paper low,
// error cause); paper out, off line and error from either are kept.
func Merge(port, dle core.Status) core.Status {
	if !dle.Known {
		return port
	}
	if !port.Known {
		return dle
	}
	s := dle
	s.PaperOut = s.PaperOut || port.PaperOut
	s.Online = s.Online && port.Online
	s.Error = s.Error || port.Error
	if port.Detail != "" {
		if s.Detail != "" {
			s.Detail += "; "
		}
		s.Detail += "port status: " + port.Detail
	}
	return s
}
