package starline

import (
	"errors"
	"fmt"
	"strings"

	"github.com/comandera/comandera/core"
)

// ASB decoding follows the specification's chapter on the automatic status
// ("Automatic Status Back", ASB):
//
//   - Header 1 (first byte) gives the length of the whole status: bits 1, 2,
//     3 and 5 hold the byte count (bit 5 is its high bit); bit 0 is fixed at
//     1, bits 4 and 7 at 0. "How to Identify Statuses": header 1 is
//     0**0***1, every other ASB byte 0**0***0, which tells ASB apart from
//     XON (0x11), XOFF (0x13) and the ENQ/EOT replies.
//   - Header 2 (second byte) is the ASB version; bit 7 set means a 2-byte
//     length and that many bytes of status data follow the ASB (Ethernet and
//     wireless LAN interfaces).
//   - Printer status 1 (third byte): bit 3 offline, bit 5 cover open, bit 6
//     offline by switch input.
//   - Printer status 2 (fourth byte, error information): bit 2 mechanical
//     error, bit 3 auto-cutter error, bit 5 non-recoverable error, bit 6
//     stopped by high head temperature.
//   - Printer status 3 (fifth byte, error information): bit 1 head up
//     error, bit 2 presenter paper jam, bit 3 black mark error, bit 5
//     command error, bit 6 receive buffer overflow.
//   - Printer status 4 (sixth byte, sensor information): bit 1 paper near
//     end (outer sensor), bit 2 paper near end (inner sensor), bit 3 paper
//     end.
//
// Version 1 (header 1 = 0x0F) is 7 bytes long; version 3 and later (0x23)
// are 9.

// StatusRequest returns ESC ACK SOH (1B 06 01), "Real-time printer status
// (ASB Status)" of the STAR Line Mode Command Specifications (section 3,
// Status commands; also in the STAR Graphic Mode Command Specifications,
// 3-1-3 Status): on a bidirectional interface the printer sends its
// automatic status (ASB, decoded by ParseASB) at once, on receiving the
// command rather than when it takes it from its receive buffer, even when
// it is offline for an error. The specification asks not to send it again
// before the answer has come.
func StatusRequest() []byte { return []byte{0x1b, 0x06, 0x01} }

// ErrNoASB means a reply holds no complete automatic status.
var ErrNoASB = errors.New("starline: no complete automatic status (ASB) in the reply")

// minASB is the shortest ASB that reaches printer status 4 (the paper
// sensors): header 1, header 2 and four status bytes.
const minASB = 6

// maxASBData bounds the status data an extended ASB may announce
// (0x0000 ≤ Length ≤ 0x0200 in the specification).
const maxASBData = 0x200

// IsASBHeader reports whether b can be header 1 of an ASB: bit 0 set, bits
// 4 and 7 clear.
func IsASBHeader(b byte) bool { return b&0x91 == 0x01 }

// ASBLength returns the byte count header 1 announces.
func ASBLength(h byte) int { return int(h>>1&0x07) | int(h>>2&0x08) }

// ParseASB decodes the last complete automatic status in reply (the most
// recent state when the printer sent several). Bytes before an ASB that
// cannot start one (XON/XOFF, leftovers) are skipped; an ASB whose fixed
// bits are wrong is not one. Nothing is guessed: a reply with no valid ASB
// is an error.
func ParseASB(reply []byte) (core.Status, error) {
	var last []byte
	for i := 0; i < len(reply); {
		h := reply[i]
		n := ASBLength(h)
		if !IsASBHeader(h) || n < minASB || i+n > len(reply) || !fixedBitsOK(reply[i+1:i+n]) {
			i++
			continue
		}
		last = reply[i : i+n]
		i += n
		// An extended ASB (header 2 bit 7) is followed by a 2-byte length
		// and that much status data, which this decoder does not need.
		if last[1]&0x80 != 0 && i+2 <= len(reply) {
			l := int(reply[i])<<8 | int(reply[i+1])
			if l <= maxASBData && i+2+l <= len(reply) {
				i += 2 + l
			}
		}
	}
	if last == nil {
		return core.Status{}, fmt.Errorf("%w (% x)", ErrNoASB, truncate(reply, 32))
	}
	return decodeASB(last), nil
}

// fixedBitsOK checks the bytes after header 1: bits 0, 4 and 7 are fixed
// at 0 (header 2's bit 7 is the extension flag).
func fixedBitsOK(b []byte) bool {
	for i, c := range b {
		mask := byte(0x91)
		if i == 0 {
			mask = 0x11
		}
		if c&mask != 0 {
			return false
		}
	}
	return true
}

func decodeASB(a []byte) core.Status {
	st1, st2, st3, st4 := a[2], a[3], a[4], a[5]
	s := core.Status{
		Known:     true,
		Online:    st1&0x08 == 0,
		CoverOpen: st1&0x20 != 0,
		PaperOut:  st4&0x08 != 0,
		PaperLow:  st4&0x06 != 0,
		Error:     st2&0x6c != 0 || st3&0x06 != 0,
	}
	var why []string
	for _, f := range []struct {
		on   bool
		what string
	}{
		{st2&0x08 != 0, "auto-cutter error"},
		{st2&0x04 != 0, "mechanical error"},
		{st2&0x20 != 0, "non-recoverable error"},
		{st2&0x40 != 0, "stopped by high head temperature"},
		{st3&0x02 != 0, "head up"},
		{st3&0x04 != 0, "presenter paper jam"},
		{st1&0x40 != 0, "offline by switch input"},
		{st3&0x40 != 0, "receive buffer overflow"},
		{st3&0x20 != 0, "command error"},
	} {
		if f.on {
			why = append(why, f.what)
		}
	}
	s.Detail = strings.Join(why, ", ")
	return s
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
