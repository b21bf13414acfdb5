//go:build !unix

package policytest

import "testing"

// ReportCPU does nothing where process CPU time is not available.
func ReportCPU(*testing.B) func() { return func() {} }
