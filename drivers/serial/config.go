package serial

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/comandera/comandera/core"
	bugst "go.bug.st/serial"
)

// Config is the serial block of a printer in printers.hcl. Set what the
// printer's self-test page shows:
//
//	serial {
//	  port         = "/dev/serial/by-id/usb-Prolific_USB-Serial_Controller-if00-port0"
//	  baud         = 38400
//	  flow_control = "dsrdtr"
//	}
type Config struct {
	// Port is the device: /dev/ttyUSB0, /dev/ttyAMA0, a stable
	// /dev/serial/by-id/… link, or COM3 on Windows.
	Port string `hcl:"port"`
	// Baud is the line speed. Default 9600.
	Baud int `hcl:"baud,optional"`
	// DataBits is 5 to 8. Default 8.
	DataBits int `hcl:"data_bits,optional"`
	// Parity is none (default), odd, even, mark or space.
	Parity string `hcl:"parity,optional"`
	// StopBits is 1 (default) or 2.
	StopBits int `hcl:"stop_bits,optional"`
	// FlowControl is none (default), xonxoff (the printer sends XOFF and XON
	// in its input stream), rtscts (the printer drives CTS) or dsrdtr (the
	// printer drives DSR).
	FlowControl string `hcl:"flow_control,optional"`
	// ReadyTimeout is how long writing may be held back (XOFF, ready line
	// low, port not taking data) before the write fails and the printer is
	// reported offline. Default "30s".
	ReadyTimeout string `hcl:"ready_timeout,optional"`
	// StatusTimeout is how long to wait for each reply to DLE EOT (asked
	// only of printers whose profile speaks ESC/POS). Default "500ms".
	StatusTimeout string `hcl:"status_timeout,optional"`

	profile *core.Profile // set by SetProfile
}

// SetProfile implements core.ProfileSetter: the driver asks DLE EOT only of
// a printer whose profile speaks ESC/POS (or when no profile is set).
func (c *Config) SetProfile(p *core.Profile) { c.profile = p }

// Flow control modes.
const (
	FlowNone    = "none"
	FlowXonXoff = "xonxoff"
	FlowRTSCTS  = "rtscts"
	FlowDSRDTR  = "dsrdtr"
)

// Defaults for the optional settings.
const (
	DefaultBaud          = 9600
	DefaultReadyTimeout  = 30 * time.Second
	DefaultStatusTimeout = 500 * time.Millisecond
)

type settings struct {
	port          string
	mode          bugst.Mode
	flow          string
	readyTimeout  time.Duration
	statusTimeout time.Duration
	// foreign names the profile's command set when it is not ESC/POS: the
	// printer is not asked DLE EOT.
	foreign string
	profile string
}

// Validate checks the values the schema cannot.
func (c *Config) Validate() error {
	_, err := c.settings()
	return err
}

// ResolvePaths makes a relative port path (one with a slash in it, not a
// bare name like COM3) relative to the configuration file's directory.
func (c *Config) ResolvePaths(dir string) {
	if strings.ContainsRune(c.Port, '/') && !filepath.IsAbs(c.Port) {
		c.Port = filepath.Join(dir, c.Port)
	}
}

func (c *Config) settings() (settings, error) {
	var errs []error
	s := settings{port: c.Port, mode: bugst.Mode{BaudRate: c.Baud, DataBits: c.DataBits}}
	if c.Port == "" {
		errs = append(errs, errors.New(`port is empty: set it to the device, like "/dev/ttyUSB0"; run "comandera scan" to list ports`))
	}
	if s.mode.BaudRate == 0 {
		s.mode.BaudRate = DefaultBaud
	}
	if s.mode.BaudRate < 50 || s.mode.BaudRate > 4000000 {
		errs = append(errs, fmt.Errorf("baud %d: want a line speed like 9600, 19200, 38400 or 115200", c.Baud))
	}
	if s.mode.DataBits == 0 {
		s.mode.DataBits = 8
	}
	if s.mode.DataBits < 5 || s.mode.DataBits > 8 {
		errs = append(errs, fmt.Errorf("data_bits %d: want 5 to 8", c.DataBits))
	}
	switch strings.ToLower(c.Parity) {
	case "", "none":
		s.mode.Parity = bugst.NoParity
	case "odd":
		s.mode.Parity = bugst.OddParity
	case "even":
		s.mode.Parity = bugst.EvenParity
	case "mark":
		s.mode.Parity = bugst.MarkParity
	case "space":
		s.mode.Parity = bugst.SpaceParity
	default:
		errs = append(errs, fmt.Errorf("parity %q: want none, odd, even, mark or space", c.Parity))
	}
	switch c.StopBits {
	case 0, 1:
		s.mode.StopBits = bugst.OneStopBit
	case 2:
		s.mode.StopBits = bugst.TwoStopBits
	default:
		errs = append(errs, fmt.Errorf("stop_bits %d: want 1 or 2", c.StopBits))
	}
	switch f := strings.ToLower(c.FlowControl); f {
	case "", FlowNone:
		s.flow = FlowNone
	case FlowXonXoff, FlowRTSCTS, FlowDSRDTR:
		s.flow = f
	default:
		errs = append(errs, fmt.Errorf("flow_control %q: want none, xonxoff, rtscts or dsrdtr", c.FlowControl))
	}
	s.readyTimeout = duration("ready_timeout", c.ReadyTimeout, DefaultReadyTimeout, &errs)
	s.statusTimeout = duration("status_timeout", c.StatusTimeout, DefaultStatusTimeout, &errs)
	if p := c.profile; p != nil && p.CommandSet != "" && p.CommandSet != core.CommandSetESCPOS {
		s.foreign, s.profile = p.CommandSet, p.Name
	}
	return s, errors.Join(errs...)
}

func duration(name, v string, def time.Duration, errs *[]error) time.Duration {
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		*errs = append(*errs, fmt.Errorf("%s: %q is not a positive duration like \"30s\"", name, v))
		return def
	}
	return d
}

// bitsPerChar is the line time of one byte in bits: start, data, parity,
// stop.
func (s settings) bitsPerChar() int {
	bits := 1 + s.mode.DataBits + 1
	if s.mode.Parity != bugst.NoParity {
		bits++
	}
	if s.mode.StopBits == bugst.TwoStopBits {
		bits++
	}
	return bits
}

// lineRate is the line's speed in bytes per second.
func (s settings) lineRate() float64 { return float64(s.mode.BaudRate) / float64(s.bitsPerChar()) }

// lineChunk is the write size without flow control: about a second of line
// time, so one write never blocks near ready_timeout (a 32 KiB write takes
// 34 s at 9600 baud), and at most an io.Copy buffer.
func (s settings) lineChunk() int { return min(max(int(s.lineRate()), 256), 32<<10) }

// flowChunk is how many bytes a flow-controlled write sends before it looks
// at the printer's XOFF or ready line again and waits for the port to
// drain: about 10 ms of line time, so at most that much is in flight when
// the printer says stop (printers keep a margin of a few hundred bytes).
func (s settings) flowChunk() int {
	return min(max(s.mode.BaudRate/s.bitsPerChar()/100, 16), 256)
}
