package usblp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/escpos"
	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// fakeHost is a temporary /dev/usb and sysfs tree whose lpN nodes are
// symlinks to pty slaves; the test plays each printer on the pty master and
// answers the ioctls through the system seam.
type fakeHost struct {
	t    *testing.T
	root string
	sys  *system

	mu       sync.Mutex
	printers map[string]*fakePrinter // by pty slave path
	openErr  error                   // returned by the next opens, if set
}

func newFakeHost(t *testing.T) *fakeHost {
	t.Helper()
	root := t.TempDir()
	h := &fakeHost{t: t, root: root, printers: map[string]*fakePrinter{}}
	for _, d := range []string{"dev/usb", "sys/class/usbmisc", "sys/devices/usb1"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	h.sys = &system{
		devDir:    filepath.Join(root, "dev/usb"),
		classDirs: []string{filepath.Join(root, "sys/class/usbmisc"), filepath.Join(root, "sys/class/usb")},
		open: func(path string) (*os.File, error) {
			h.mu.Lock()
			err := h.openErr
			h.mu.Unlock()
			if err != nil {
				return nil, &os.PathError{Op: "open", Path: path, Err: err}
			}
			return host.open(path)
		},
		ioctl: h.ioctl,
	}
	return h
}

func (h *fakeHost) driver() Driver { return Driver{sys: h.sys} }

// fakePrinter is the printer end of a pty.
type fakePrinter struct {
	master *os.File
	slave  *os.File // kept open so the pty lives while the driver reopens it
	path   string   // the slave's path

	mu       sync.Mutex
	port     byte          // LPGETSTATUS answer
	portErr  syscall.Errno // LPGETSTATUS error, if set
	id       []byte        // LPIOC_GET_DEVICE_ID answer; nil: EINVAL
	answer   bool          // answers DLE EOT
	state    core.Status   // what it answers
	got      bytes.Buffer
	stopRead chan struct{}
	done     chan struct{}
}

// addPrinter creates lpN with the given USB identity, backed by a new pty.
// ieee1284 is the interface's sysfs ieee1284_id ("" for none).
func (h *fakeHost) addPrinter(name string, vid, pid uint16, serial, product, ieee1284 string) *fakePrinter {
	t := h.t
	t.Helper()
	master, slave, err := pty.Open()
	if err != nil {
		t.Fatalf("pty: %v", err)
	}
	makeRaw(t, slave)
	p := &fakePrinter{master: master, slave: slave, path: slave.Name(), port: 0x18, state: core.Status{Known: true, Online: true}}
	t.Cleanup(func() { master.Close(); slave.Close() })
	h.mu.Lock()
	h.printers[p.path] = p
	h.mu.Unlock()

	dev := filepath.Join(h.root, "sys/devices/usb1", "1-"+name)
	intf := filepath.Join(dev, "1-"+name+":1.0")
	must(t, os.MkdirAll(intf, 0o755))
	for file, v := range map[string]string{
		"idVendor": fmt.Sprintf("%04x\n", vid), "idProduct": fmt.Sprintf("%04x\n", pid),
		"serial": serial + "\n", "manufacturer": "EPSON\n", "product": product + "\n",
	} {
		if file == "serial" && serial == "" {
			continue
		}
		must(t, os.WriteFile(filepath.Join(dev, file), []byte(v), 0o644))
	}
	if ieee1284 != "" {
		must(t, os.WriteFile(filepath.Join(intf, "ieee1284_id"), []byte(ieee1284+"\n"), 0o644))
	}
	class := filepath.Join(h.root, "sys/class/usbmisc", name)
	must(t, os.MkdirAll(class, 0o755))
	must(t, os.Symlink(intf, filepath.Join(class, "device")))
	must(t, os.Symlink(p.path, filepath.Join(h.root, "dev/usb", name)))
	return p
}

// removePrinter unplugs lpN from the tree (the pty is left to the test).
func (h *fakeHost) removePrinter(name string) {
	must(h.t, os.RemoveAll(filepath.Join(h.root, "sys/class/usbmisc", name)))
	must(h.t, os.Remove(filepath.Join(h.root, "dev/usb", name)))
}

func (h *fakeHost) ioctl(fd, req uintptr, arg unsafe.Pointer) syscall.Errno {
	path, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
	if err != nil {
		return syscall.EBADF
	}
	h.mu.Lock()
	p := h.printers[path]
	h.mu.Unlock()
	if p == nil {
		return syscall.ENOTTY
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch req {
	case lpGetStatus:
		if p.portErr != 0 {
			return p.portErr
		}
		*(*int32)(arg) = int32(p.port)
		return 0
	case lpiocGetDeviceID(deviceIDSize):
		if p.id == nil {
			return syscall.EINVAL
		}
		copy(unsafe.Slice((*byte)(arg), deviceIDSize), p.id)
		return 0
	}
	return syscall.ENOTTY
}

// serve reads everything the driver sends; when answer is set it replies to
// DLE EOT n. It stops after limit bytes (0: no limit), closing the master:
// to the driver that is an unplug (EIO).
func (p *fakePrinter) serve(limit int) {
	p.done = make(chan struct{})
	go func() {
		defer close(p.done)
		buf := make([]byte, 32<<10)
		var last [2]byte
		for {
			n, err := p.master.Read(buf)
			p.mu.Lock()
			for _, b := range buf[:n] {
				if p.got.Len() == limit && limit > 0 {
					break
				}
				p.got.WriteByte(b)
				if p.answer && last[0] == escpos.DLE && last[1] == escpos.EOT && b >= 1 && b <= 4 {
					p.master.Write([]byte{escpos.StatusReply(b, p.state)})
				}
				last[0], last[1] = last[1], b
			}
			reached := limit > 0 && p.got.Len() >= limit
			p.mu.Unlock()
			if reached {
				p.master.Close()
				return
			}
			if err != nil {
				return
			}
		}
	}()
}

// waitFor waits until the printer has received n bytes.
func (p *fakePrinter) waitFor(t *testing.T, n int) []byte {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		p.mu.Lock()
		l := p.got.Len()
		p.mu.Unlock()
		if l >= n {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return bytes.Clone(p.got.Bytes())
}

func makeRaw(t *testing.T, f *os.File) {
	t.Helper()
	fd := int(f.Fd())
	tio, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	tio.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON | unix.IXOFF
	tio.Oflag &^= unix.OPOST
	tio.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	tio.Cflag &^= unix.CSIZE | unix.PARENB
	tio.Cflag |= unix.CS8
	tio.Cc[unix.VMIN], tio.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, tio); err != nil {
		t.Fatal(err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func deviceIDBuf(s string) []byte {
	b := make([]byte, 2, 2+len(s))
	binary.BigEndian.PutUint16(b, uint16(2+len(s)))
	return append(b, s...)
}

func randomJob(n int) []byte {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}
