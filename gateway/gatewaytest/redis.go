package gatewaytest

import (
	"testing"

	"github.com/flowcache/flowcache/gateway/internal/l2/redistest"
)

// The Redis harness lives in gateway/internal/l2/redistest, which imports
// nothing of the gateway, so that the L2 tier's own tests can use it without
// an import cycle (gatewaytest imports gateway, which imports the tier).
// These names are the ones gateway tests use.

// Redis is a redis-server started by [StartRedis]: Addr, and Kill, Restart,
// Stop/Cont (SIGSTOP/SIGCONT), Pause (CLIENT PAUSE), KillClients (CLIENT
// KILL TYPE) and Do for fault tests. See [redistest.Server].
type Redis = redistest.Server

// RedisCluster is a Redis Cluster started by [StartRedisCluster]. See
// [redistest.Cluster].
type RedisCluster = redistest.Cluster

// RedisSentinel is a master and its Sentinel started by
// [StartRedisSentinel]. See [redistest.Sentinel].
type RedisSentinel = redistest.Sentinel

// StartRedis starts a redis-server on a free loopback port, without
// persistence, killed by PID in t.Cleanup. A missing redis-server fails the
// test when CI is set and skips it otherwise.
func StartRedis(tb testing.TB) *Redis {
	tb.Helper()
	return redistest.Start(tb)
}

// StartRedisCluster starts n (>= 3) masters in cluster mode, joins them with
// redis-cli --cluster create --cluster-replicas 0, and returns when the
// cluster is ok.
func StartRedisCluster(tb testing.TB, n int) *RedisCluster {
	tb.Helper()
	return redistest.StartCluster(tb, n)
}

// StartRedisSentinel starts a master and one Sentinel monitoring it as
// masterName.
func StartRedisSentinel(tb testing.TB, masterName string) *RedisSentinel {
	tb.Helper()
	return redistest.StartSentinel(tb, masterName)
}
