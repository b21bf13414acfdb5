// Package gatewaytest runs the real parts a gateway test needs: a
// redis-server or a Redis Cluster on free loopback ports (StartRedis,
// StartRedisCluster), origins, and a gateway, each stopped in t.Cleanup, in
// the manner of net/http/httptest.
package gatewaytest
