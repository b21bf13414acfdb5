package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of the CPU times in /proc/PID/stat: 100 on
// every Linux architecture Go supports (the kernel converts to it whatever
// its own HZ).
const clockTicks = 100

// parseStatCPU returns utime+stime (clock ticks) from the text of
// /proc/PID/stat. The command name (field 2) is in parentheses and may hold
// spaces and parentheses itself, so fields are counted after the last ')'.
func parseStatCPU(stat []byte) (int64, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("stat: no ')' after the command name")
	}
	f := strings.Fields(string(stat[i+1:]))
	// After the name: state(3) ppid(4) ... utime(14) stime(15).
	const utime, stime = 14 - 3, 15 - 3
	if len(f) <= stime {
		return 0, fmt.Errorf("stat: %d fields after the command name, want more than %d", len(f), stime)
	}
	u, err1 := strconv.ParseInt(f[utime], 10, 64)
	s, err2 := strconv.ParseInt(f[stime], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("stat: utime/stime: %w", err)
	}
	return u + s, nil
}

// parseChildren returns the pids listed in /proc/PID/task/TID/children.
func parseChildren(b []byte) []int {
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if p, err := strconv.Atoi(f); err == nil && p > 0 {
			pids = append(pids, p)
		}
	}
	return pids
}

// procTree returns pid and its descendants (nginx and Varnish run workers
// under a master; a wrapper such as taskset execs in place). A process that
// exits meanwhile is left out. The walk is bounded by maxTree.
func procTree(pid int) []int {
	const maxTree = 4096
	out := []int{pid}
	for i := 0; i < len(out) && len(out) < maxTree; i++ {
		tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", out[i]))
		if err != nil {
			continue
		}
		for _, t := range tasks {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", out[i], t.Name()))
			if err != nil {
				continue
			}
			out = append(out, parseChildren(b)...)
		}
	}
	return out
}

// treeCPU returns the CPU time (clock ticks, user+system) of pid and its
// descendants, dead threads included (the kernel adds them to the process).
func treeCPU(pid int) int64 {
	var t int64
	for _, p := range procTree(pid) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			continue
		}
		if c, err := parseStatCPU(b); err == nil {
			t += c
		}
	}
	return t
}

// selfCPU returns this process's CPU time in clock ticks, or 0 where
// /proc is missing.
func selfCPU() int64 {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0
	}
	c, _ := parseStatCPU(b) // 0 on a malformed stat: the column reads 0
	return c
}
