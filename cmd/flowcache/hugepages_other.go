//go:build !linux

package main

// startHugePages does nothing outside Linux (see hugepages_linux.go).
func startHugePages() (end func()) { return func() {} }
