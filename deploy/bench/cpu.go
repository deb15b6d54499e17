package main

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// A cpuMeter measures where a measured window's CPU went: each process it was given (services,
// kcat), the Kafka broker and the search node when they are local processes, the bench itself
// (the load generator and the baseline clients), and the whole machine. On 2 shared cores the
// ratios are bounded by CPU: a side that spends more CPU seconds per article than its baseline
// cannot keep up with it once both fill the cores, however well it overlaps its work. The meter
// turns that bound into figures (cpuCeiling), so that a ratio short of its goal shows whether
// the stage wastes time waiting or is out of CPU.
type cpuMeter struct {
	procs       []meteredProc
	self0       float64
	busy0, all0 uint64
	steal0      uint64
}

type meteredProc struct {
	name string
	pid  int
	cpu0 float64
}

// peerProcs are the broker and the search node as local processes, found (once) by the port
// they listen on; a remote one (not listening here) is left out, and so is its CPU.
func (b *bench) peerProcs() []meteredProc {
	if b.peers != nil {
		return append([]meteredProc(nil), *b.peers...)
	}
	out := []meteredProc{}
	defer func() { b.peers = &out }()
	add := func(name, hostport string) {
		_, port, err := net.SplitHostPort(hostport)
		if err != nil {
			return
		}
		if pid := listenerPID(port); pid > 0 {
			out = append(out, meteredProc{name: name, pid: pid})
		}
	}
	add("kafka broker", strings.Split(b.o.brokers, ",")[0])
	if u, err := url.Parse(b.o.searchURL); err == nil {
		hp := u.Host
		if u.Port() == "" {
			hp = net.JoinHostPort(u.Hostname(), map[bool]string{true: "443", false: "80"}[u.Scheme == "https"])
		}
		add("search node", hp)
	}
	return append([]meteredProc(nil), out...)
}

// meter starts a cpuMeter over the given services (and the broker, the search node and the
// bench).
func (b *bench) meter(svcs ...*svc) *cpuMeter {
	m := &cpuMeter{procs: b.peerProcs()}
	for _, s := range svcs {
		m.procs = append(m.procs, meteredProc{name: s.Name, pid: s.Pid()})
	}
	for i := range m.procs {
		m.procs[i].cpu0 = procCPU(m.procs[i].pid)
	}
	m.self0 = selfCPU()
	m.busy0, m.all0, m.steal0 = machineCPU()
	return m
}

// cpuWindow is what a cpuMeter measured over one window.
type cpuWindow struct {
	perProc map[string]float64 // CPU seconds
	self    float64
	// machine: CPU seconds of the whole machine that were busy, and all there were (cores ×
	// wall time), and stolen by the host.
	busy, all, steal float64
}

// total is the CPU seconds of everything measured (the listed processes and the bench).
func (w cpuWindow) total() float64 {
	t := w.self
	for _, c := range w.perProc {
		t += c
	}
	return t
}

// stop ends the window; extra adds processes measured otherwise (kcat, from its exit status).
func (m *cpuMeter) stop(extra map[string]float64) cpuWindow {
	w := cpuWindow{perProc: map[string]float64{}}
	for _, p := range m.procs {
		if c := procCPU(p.pid); c >= p.cpu0 {
			w.perProc[p.name] += c - p.cpu0
		}
	}
	for k, v := range extra {
		w.perProc[k] += v
	}
	w.self = selfCPU() - m.self0
	busy, all, steal := machineCPU()
	w.busy, w.all, w.steal = ticks(busy-m.busy0), ticks(all-m.all0), ticks(steal-m.steal0)
	return w
}

// recordCPU adds the window's usage rows (phase names the window) and, for n articles, its CPU
// microseconds per article over everything measured.
func (b *bench) recordCPU(run int, phase string, w cpuWindow, n int) float64 {
	for name, c := range w.perProc {
		if name == "kafka broker" || name == "search node" || name == "kcat" {
			b.usage(Usage{Process: name, Phase: phase, CPUSeconds: c})
		}
	}
	b.usage(Usage{Process: "bench (load generator, baseline client)", Phase: phase, CPUSeconds: w.self})
	perArticle := w.total() / float64(n) * 1e6
	b.add(run, Result{Name: phase + ": CPU per article, every process measured", Unit: "µs", Value: perArticle,
		Note: "the services, kcat, the Kafka broker and the search node (when local), and the bench's own load generator and baseline client, over the whole run"})
	if w.all > 0 {
		b.add(run, Result{Name: phase + ": machine CPU busy", Unit: "%", Value: 100 * w.busy / w.all,
			Note: "of all cores over the run, from /proc/stat (steal counted as not busy)"})
	}
	return perArticle
}

// cpuCeiling adds the bound CPU sets on a ratio: the baseline's CPU per article over the measured
// side's. When both sides fill the cores (machine CPU busy near 100%), the measured side cannot
// reach a higher ratio than this without spending less CPU per article.
func (b *bench) cpuCeiling(run int, name string, measured, baseline float64) {
	if measured <= 0 || baseline <= 0 {
		return
	}
	b.add(run, Result{Name: name + ": CPU-bound ceiling of the ratio", Unit: "ratio", Value: baseline / measured,
		Note: "baseline CPU per article over the measured side's (rows above): the most the ratio can be when both sides fill the cores"})
}

// procCPU is the CPU seconds (user + system) pid has used, or 0.
func procCPU(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return ticks(uint64(ut + st))
}

// ticks converts USER_HZ ticks to seconds.
func ticks(t uint64) float64 { return float64(t) / 100 }

// selfCPU is the CPU seconds the bench has used.
func selfCPU() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// machineCPU is the machine's busy, total and stolen CPU ticks so far, from /proc/stat.
func machineCPU() (busy, all, steal uint64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	if len(f) < 9 {
		return 0, 0, 0
	}
	var v [8]uint64
	for i := range v {
		v[i], _ = strconv.ParseUint(f[i+1], 10, 64)
		all += v[i]
	}
	steal = v[7]
	return all - v[3] - v[4] - steal, all, steal
}

// listenerPID is the local process listening on TCP port, or 0: the socket's inode from
// /proc/net/tcp{,6}, then the process holding it among /proc/*/fd.
func listenerPID(port string) int {
	p, err := strconv.Atoi(port)
	if err != nil {
		return 0
	}
	want := fmt.Sprintf(":%04X", p)
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n")[1:] {
			c := strings.Fields(l)
			if len(c) > 9 && c[3] == "0A" && strings.HasSuffix(c[1], want) { // 0A: LISTEN
				inodes["socket:["+c[9]+"]"] = true
			}
		}
	}
	if len(inodes) == 0 {
		return 0
	}
	fds, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range fds {
		if t, err := os.Readlink(fd); err == nil && inodes[t] {
			pid, _ := strconv.Atoi(strings.Split(fd, "/")[2])
			return pid
		}
	}
	return 0
}
