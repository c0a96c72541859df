package e2e

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the server die with the test binary, so an
// interrupted test run leaves no server behind.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
