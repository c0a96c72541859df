// Package devinfo holds what the hardware drivers (usblp, libusb, serial, net)
// share about identifying a printer: the IEEE 1284 device ID parser, the
// printer-class port status byte, profile suggestion from USB IDs and model
// names, and the printers.hcl block discovery suggests.
package devinfo

import (
	"encoding/binary"
	"errors"
	"strings"
)

// MaxDeviceIDFields bounds how many key:value pairs ParseDeviceID keeps, so a
// device answering garbage cannot make it allocate without limit.
const MaxDeviceIDFields = 64

// A DeviceID is a parsed IEEE 1284 device ID string, such as
// "MFG:EPSON;CMD:ESC/POS;MDL:TM-T20III;CLS:PRINTER;".
type DeviceID struct {
	Manufacturer string   // MFG or MANUFACTURER
	Model        string   // MDL or MODEL
	CommandSet   []string // CMD or COMMAND SET, split on commas
	Serial       string   // SN, SERN or SERIALNUMBER
	Class        string   // CLS or CLASS
	Description  string   // DES or DESCRIPTION
	// Fields holds every key (upper-cased, spaces trimmed) with its first
	// non-empty value.
	Fields map[string]string
	// Raw is the ID string as the device sent it, without the length prefix.
	Raw string
}

var aliases = map[string]string{
	"MFG": "MFG", "MANUFACTURER": "MFG",
	"MDL": "MDL", "MODEL": "MDL",
	"CMD": "CMD", "COMMAND SET": "CMD", "COMMANDSET": "CMD", "COMMAND_SET": "CMD",
	"SN": "SN", "SERN": "SN", "SERIALNUMBER": "SN", "SERIAL NUMBER": "SN", "SERIAL": "SN",
	"CLS": "CLS", "CLASS": "CLS",
	"DES": "DES", "DESCRIPTION": "DES",
}

// ParseDeviceID parses an IEEE 1284 device ID string. It is lenient the way
// real printers require: keys are case-insensitive and may have spaces
// around them, the last pair may lack its ';', the first non-empty value of a
// duplicated key wins, pairs without ':' and control characters are skipped.
// Long names (MANUFACTURER, MODEL, COMMAND SET) are folded into the short ones.
func ParseDeviceID(s string) DeviceID {
	id := DeviceID{Raw: s, Fields: map[string]string{}}
	for pair := range strings.SplitSeq(s, ";") {
		if len(id.Fields) >= MaxDeviceIDFields {
			break
		}
		k, v, ok := strings.Cut(pair, ":")
		if !ok {
			continue
		}
		k = strings.ToUpper(clean(k))
		v = clean(v)
		if k == "" {
			continue
		}
		if a, ok := aliases[k]; ok {
			k = a
		}
		if old, dup := id.Fields[k]; dup && old != "" {
			continue
		}
		id.Fields[k] = v
	}
	id.Manufacturer = id.Fields["MFG"]
	id.Model = id.Fields["MDL"]
	id.Serial = id.Fields["SN"]
	id.Class = id.Fields["CLS"]
	id.Description = id.Fields["DES"]
	for c := range strings.SplitSeq(id.Fields["CMD"], ",") {
		if c = strings.TrimSpace(c); c != "" {
			id.CommandSet = append(id.CommandSet, c)
		}
	}
	return id
}

// clean drops control characters and invalid UTF-8 and trims spaces.
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
	return strings.TrimSpace(s)
}

// ErrNoDeviceID means a device returned no usable IEEE 1284 ID.
var ErrNoDeviceID = errors.New("no IEEE 1284 device ID")

// ParseDeviceIDBuffer parses the buffer a printer returns to the USB printer
// class GET_DEVICE_ID request (and Linux's LPIOC_GET_DEVICE_ID): two bytes of
// big-endian length, which counts themselves, then the ID string. Bytes past
// the length are garbage and ignored. A length that cannot be right (smaller
// than 2 or larger than the buffer) is tried little-endian, as some firmware
// sends it, and failing that the string is taken up to the first NUL.
func ParseDeviceIDBuffer(b []byte) (DeviceID, error) {
	if len(b) < 3 {
		return DeviceID{}, ErrNoDeviceID
	}
	n := int(binary.BigEndian.Uint16(b))
	if n < 2 || n > len(b) {
		n = int(binary.LittleEndian.Uint16(b))
	}
	if n < 2 || n > len(b) {
		n = len(b)
	}
	s := b[2:n]
	if i := strings.IndexByte(string(s), 0); i >= 0 {
		s = s[:i]
	}
	if !strings.Contains(string(s), ":") {
		return DeviceID{}, ErrNoDeviceID
	}
	return ParseDeviceID(string(s)), nil
}
