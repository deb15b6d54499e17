package pipeline

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Proc is one newsflow service run as a process, the way users run it: the demo's driver, the
// end-to-end tests, the deployment checks and the benchmarks start the real binaries with it.
type Proc struct {
	Name  string   // for messages
	Bin   string   // path of the binary
	Args  []string // e.g. serve --admin-addr …
	Env   []string // added to this process's environment
	Admin string   // host:port of the service's admin server
	Log   string   // file that receives stdout and stderr (appended)

	cmd  *exec.Cmd
	done chan error
}

// Start starts the process.
func (p *Proc) Start() error {
	f, err := os.OpenFile(p.Log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	p.cmd = exec.Command(p.Bin, p.Args...)
	p.cmd.Env = append(os.Environ(), p.Env...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("starting %s: %w", p.Name, err)
	}
	p.done = make(chan error, 1)
	go func() { p.done <- p.cmd.Wait(); f.Close() }()
	return nil
}

// Pid is the running process's id (0 when not running).
func (p *Proc) Pid() int {
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// WaitReady polls /readyz until it answers 200; it fails early, with the log's tail, when the
// process exits.
func (p *Proc) WaitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case err := <-p.done:
			p.done <- err
			return fmt.Errorf("%s exited during start-up: %v; log %s:\n%s", p.Name, err, p.Log, Tail(p.Log, 25))
		default:
		}
		res, err := http.Get("http://" + p.Admin + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready within %v; log %s:\n%s", p.Name, timeout, p.Log, Tail(p.Log, 25))
}

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	if p.done == nil {
		return false
	}
	select {
	case err := <-p.done:
		p.done <- err // keep it for Stop and WaitReady
		return true
	default:
		return false
	}
}

// Stop sends sig and waits for the exit; after timeout it kills the process and says so. It
// returns the process's exit error (nil for status 0); stopping a stopped Proc does nothing.
func (p *Proc) Stop(sig syscall.Signal, timeout time.Duration) error {
	if p.cmd == nil {
		return nil
	}
	defer func() { p.cmd = nil }()
	_ = p.cmd.Process.Signal(sig)
	select {
	case err := <-p.done:
		return err
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		err := <-p.done
		return errors.Join(fmt.Errorf("%s did not exit within %v after %v (killed)", p.Name, timeout, sig), err)
	}
}

// Tail returns the last n lines of the file at path.
func Tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// FreeAddr returns a loopback address nobody listens on right now, for a service the caller is
// about to start (the bench and deploy/checks run the real binaries on their own ports).
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
