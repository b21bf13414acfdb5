package l2

import (
	"context"
	"runtime"
	"sync"
	"unsafe"

	"github.com/redis/go-redis/v9"
)

// Reads are pipelined automatically: [Tier.Get] hands its key to one of a
// few reader goroutines, and a reader sends every key waiting at that moment
// as one pipeline of GETs (one write and one read on the connection for the
// lot, one GET command per key so a cluster client spreads them over its
// nodes). A lone read goes out at once, on its own; reads that arrive while
// the readers are busy with a round trip wait for the next one, so batches
// form only under load, where they pay: with 64 requests in flight on one
// core, an L2 hit cost about 60 µs of gateway CPU with one GET per round
// trip, most of it the two system calls of each.
const (
	// maxGetBatch bounds the keys of one pipeline.
	maxGetBatch = 128
	// minGetReaders is the least number of reader goroutines (pipelines
	// in flight at once); GOMAXPROCS when larger.
	minGetReaders = 4
)

// getCall is one read waiting for its batch. The reader fills s and err,
// then signals done (buffered: the reader never blocks on it, even for a
// caller that gave up).
type getCall struct {
	key  []byte
	s    string
	err  error
	done chan struct{}
}

var getCallPool = sync.Pool{New: func() any { return &getCall{done: make(chan struct{}, 1)} }}

// getReaders returns how many reader goroutines New starts.
func getReaders() int { return max(minGetReaders, runtime.GOMAXPROCS(0)) }

// roundTrip sends c's key to Redis with whatever other reads are waiting,
// and returns the reply (redis.Nil for an absent key). ok is false when the
// caller's ctx ended or the Tier closed first; c then belongs to the reader
// and must not be reused.
func (t *Tier) roundTrip(ctx context.Context, c *getCall) (s string, err error, ok bool) {
	select {
	case t.getq <- c:
	case <-t.stopCtx.Done():
		return "", ErrClosed, false
	case <-ctx.Done():
		return "", ctx.Err(), false
	}
	select {
	case <-c.done:
		return c.s, c.err, true
	case <-t.stopCtx.Done():
		return "", ErrClosed, false
	case <-ctx.Done():
		return "", ctx.Err(), false
	}
}

// getLoop is a reader: it takes the first waiting read, every other one
// already queued (up to maxGetBatch), and answers them with one round trip.
func (t *Tier) getLoop() {
	defer t.wg.Done()
	batch := make([]*getCall, 0, maxGetBatch)
	cmds := make([]*redis.StringCmd, 0, maxGetBatch)
	for {
		select {
		case c := <-t.getq:
			batch = append(batch[:0], c)
		case <-t.stopCtx.Done():
			return
		}
	fill:
		for len(batch) < maxGetBatch {
			select {
			case c := <-t.getq:
				batch = append(batch, c)
			default:
				break fill
			}
		}
		cmds = t.getBatch(batch, cmds[:0])
		clear(batch) // the calls go back to their callers' pool
	}
}

// getBatch answers the reads of batch with one round trip: a plain GET for
// one, a pipeline for more.
func (t *Tier) getBatch(batch []*getCall, cmds []*redis.StringCmd) []*redis.StringCmd {
	ctx := t.stopCtx
	t.st.readTrips.Add(1)
	// The strings alias the calls' key buffers only during the round trip:
	// go-redis writes them to the connection before Exec returns, and
	// nothing keeps the commands.
	if len(batch) == 1 {
		c := batch[0]
		c.s, c.err = t.client.Get(ctx, unsafe.String(unsafe.SliceData(c.key), len(c.key))).Result()
		c.done <- struct{}{}
		return cmds
	}
	pipe := t.client.Pipeline()
	for _, c := range batch {
		cmds = append(cmds, pipe.Get(ctx, unsafe.String(unsafe.SliceData(c.key), len(c.key))))
	}
	// Exec reports the first failed command's error, redis.Nil included:
	// each command carries its own.
	_, _ = pipe.Exec(ctx)
	for i, c := range batch {
		c.s, c.err = cmds[i].Result()
		c.done <- struct{}{}
	}
	clear(cmds)
	return cmds
}
