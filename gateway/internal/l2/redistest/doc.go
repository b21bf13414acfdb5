// Package redistest runs real Redis servers for tests: a redis-server on a
// free loopback port (Start), a Redis Cluster of masters (StartCluster), and
// a master watched by a Sentinel (StartSentinel), each killed by PID in
// t.Cleanup, with fault injection (Kill, Restart, Stop/Cont, Pause,
// KillClients).
//
// It imports nothing of the gateway, so that the L2 tier's own tests can use
// it; gateway tests use it through gatewaytest, which re-exports it.
package redistest
