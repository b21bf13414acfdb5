// Package l2 is the gateway's shared second cache tier in Redis.
package l2
