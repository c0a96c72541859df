package usblp

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"unsafe"

	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/drivers/internal/devinfo"
)

// Ioctl numbers from linux/lp.h and drivers/usb/class/usblp.c.
const (
	lpGetStatus   = 0x060b // LPGETSTATUS: int *, the port status byte
	deviceIDSize  = 1024   // USBLP_DEVICE_ID_SIZE
	iocRead       = 2      // _IOC_READ
	iocNrDeviceID = 1      // IOCNR_GET_DEVICE_ID
)

// lpiocGetDeviceID is LPIOC_GET_DEVICE_ID(len) = _IOC(_IOC_READ, 'P', 1, len).
func lpiocGetDeviceID(size uintptr) uintptr {
	return iocRead<<iocDirShift | size<<16 | 'P'<<8 | iocNrDeviceID
}

// system is the seam between the driver and the operating system: where the
// device nodes and their sysfs entries are, how a node is opened and how
// ioctls reach it. Tests point it at a temporary tree, a pty and fake ioctls.
type system struct {
	devDir    string   // directory of the lpN nodes
	classDirs []string // sysfs class directories with an lpN entry per printer
	open      func(path string) (*os.File, error)
	ioctl     func(fd, req uintptr, arg unsafe.Pointer) syscall.Errno
}

var host = &system{
	devDir:    "/dev/usb",
	classDirs: []string{"/sys/class/usbmisc", "/sys/class/usb"},
	open: func(path string) (*os.File, error) {
		// os.OpenFile puts the descriptor in non-blocking mode under Go's
		// poller (usblp implements poll), so deadlines and Close interrupt
		// a write the printer is not taking.
		return os.OpenFile(path, os.O_RDWR|syscall.O_NOCTTY, 0)
	},
	ioctl: func(fd, req uintptr, arg unsafe.Pointer) syscall.Errno {
		_, _, e := syscall.Syscall(syscall.SYS_IOCTL, fd, req, uintptr(arg))
		return e
	},
}

// node is one lpN printer and what sysfs says about it.
type node struct {
	name         string // lp0
	path         string // /dev/usb/lp0
	hasIDs       bool
	vendor       uint16
	product      uint16
	serial       string
	manufacturer string
	productName  string
	ieee1284     string // the interface's ieee1284_id attribute, if any
}

func (n node) ids() string {
	if !n.hasIDs {
		return n.name + " (USB IDs unknown)"
	}
	s := fmt.Sprintf("%s %s:%s", n.name, devinfo.HexID(n.vendor), devinfo.HexID(n.product))
	if n.serial != "" {
		s += " serial " + n.serial
	}
	return s
}

// nodes lists the lpN printers: the device nodes and the sysfs entries,
// whichever exist.
func (s *system) nodes() ([]node, error) {
	var names []string
	ents, err := os.ReadDir(s.devDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	for _, e := range ents {
		if isLP(e.Name()) {
			names = append(names, e.Name())
		}
	}
	for _, dir := range s.classDirs {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if isLP(e.Name()) && !slices.Contains(names, e.Name()) {
				names = append(names, e.Name())
			}
		}
	}
	slices.SortFunc(names, func(a, b string) int {
		if len(a) != len(b) {
			return len(a) - len(b) // lp2 before lp10
		}
		return strings.Compare(a, b)
	})
	nodes := make([]node, 0, len(names))
	for _, name := range names {
		nodes = append(nodes, s.identify(name))
	}
	return nodes, nil
}

func isLP(name string) bool {
	rest, ok := strings.CutPrefix(name, "lp")
	if !ok || rest == "" {
		return false
	}
	for _, r := range rest {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// identify reads what sysfs knows about lpN: the USB interface is the
// class entry's device link, the USB device its parent.
func (s *system) identify(name string) node {
	n := node{name: name, path: filepath.Join(s.devDir, name)}
	for _, dir := range s.classDirs {
		intf, err := filepath.EvalSymlinks(filepath.Join(dir, name, "device"))
		if err != nil {
			continue
		}
		dev := filepath.Dir(intf)
		v, verr := readHex(filepath.Join(dev, "idVendor"))
		p, perr := readHex(filepath.Join(dev, "idProduct"))
		if verr == nil && perr == nil {
			n.hasIDs, n.vendor, n.product = true, v, p
		}
		n.serial = readAttr(filepath.Join(dev, "serial"))
		n.manufacturer = readAttr(filepath.Join(dev, "manufacturer"))
		n.productName = readAttr(filepath.Join(dev, "product"))
		n.ieee1284 = readAttr(filepath.Join(intf, "ieee1284_id"))
		break
	}
	return n
}

// readAttr reads a small sysfs attribute, trimmed; "" if it is missing.
func readAttr(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	b, _ := io.ReadAll(io.LimitReader(f, 4096))
	return strings.TrimSpace(strings.ToValidUTF8(string(b), ""))
}

func readHex(path string) (uint16, error) {
	s := readAttr(path)
	if s == "" {
		return 0, os.ErrNotExist
	}
	return devinfo.ParseHexID(s)
}

// resolve finds the node with the configured USB identity.
func (s *system) resolve(set settings) (node, error) {
	nodes, err := s.nodes()
	if err != nil {
		return node{}, fmt.Errorf("usblp: listing printers: %w: %w", err, core.ErrOffline)
	}
	want := devinfo.HexID(set.vendor) + ":" + devinfo.HexID(set.product)
	if set.serial != "" {
		want += " serial " + set.serial
	}
	var match []node
	var seen []string
	for _, n := range nodes {
		seen = append(seen, n.ids())
		if n.hasIDs && n.vendor == set.vendor && n.product == set.product && (set.serial == "" || n.serial == set.serial) {
			match = append(match, n)
		}
	}
	switch len(match) {
	case 1:
		return match[0], nil
	case 0:
		found := "no usblp printers are attached"
		if len(seen) > 0 {
			found = "attached: " + strings.Join(seen, ", ")
		}
		return node{}, fmt.Errorf("usblp: no printer %s is connected (%s): %w", want, found, core.ErrOffline)
	default:
		var names []string
		for _, n := range match {
			names = append(names, n.ids())
		}
		return node{}, fmt.Errorf("usblp: %d printers match %s (%s): add serial to the usblp block to choose one: %w",
			len(match), want, strings.Join(names, ", "), core.ErrOffline)
	}
}

// openError explains why path could not be opened.
func openError(path string, err error) error {
	var errno syscall.Errno
	errors.As(err, &errno)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("usblp: %s does not exist: the printer is unplugged or off: %w", path, core.ErrOffline)
	case errno == syscall.EACCES || errno == syscall.EPERM:
		who := "the user comandera runs as"
		if u, uerr := user.Current(); uerr == nil {
			who = fmt.Sprintf("user %q", u.Username)
		}
		return fmt.Errorf("usblp: permission denied opening %s: add %s to the lp group (sudo usermod -aG lp USER, then restart comandera) "+
			"or install the udev rule deploy/99-comandera.rules (sudo cp deploy/99-comandera.rules /etc/udev/rules.d/ && "+
			"sudo udevadm control --reload-rules && sudo udevadm trigger): %w", path, who, core.ErrOffline)
	case errno == syscall.EBUSY:
		return fmt.Errorf("usblp: %s is in use by another program (CUPS, or another comandera): %w", path, core.ErrOffline)
	case unplugged(errno):
		return fmt.Errorf("usblp: %s: printer disconnected (%v): %w", path, errno, core.ErrOffline)
	}
	return fmt.Errorf("usblp: opening %s: %w: %w", path, err, core.ErrOffline)
}

// unplugged reports the errors usblp returns once the printer is gone.
func unplugged(errno syscall.Errno) bool {
	switch errno {
	case syscall.ENODEV, syscall.EIO, syscall.ENXIO, syscall.ESHUTDOWN, syscall.EPIPE:
		return true
	}
	return false
}

// portStatus runs LPGETSTATUS on f.
func (s *system) portStatus(f *os.File) (byte, error) {
	var st int32
	if err := s.control(f, lpGetStatus, unsafe.Pointer(&st)); err != nil {
		return 0, fmt.Errorf("LPGETSTATUS: %w", err)
	}
	return byte(st), nil
}

// deviceID runs LPIOC_GET_DEVICE_ID on f and parses the answer.
func (s *system) deviceID(f *os.File) (devinfo.DeviceID, error) {
	buf := make([]byte, deviceIDSize)
	if err := s.control(f, lpiocGetDeviceID(deviceIDSize), unsafe.Pointer(&buf[0])); err != nil {
		return devinfo.DeviceID{}, fmt.Errorf("LPIOC_GET_DEVICE_ID: %w", err)
	}
	return devinfo.ParseDeviceIDBuffer(buf)
}

func (s *system) control(f *os.File, req uintptr, arg unsafe.Pointer) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var errno syscall.Errno
	if err := rc.Control(func(fd uintptr) { errno = s.ioctl(fd, req, arg) }); err != nil {
		return err
	}
	if errno != 0 {
		return errno
	}
	return nil
}
