package goredis

import "errors"

// Outcome turns what a client returned for a script command into Run's answer: the
// client's nil reply (nilReply, such as redis.Nil) is a reply, and an error that is not a
// reply from Redis is marked ErrNotSent when marker shows the command was never written.
func Outcome(reply any, err, nilReply error, marker *Marker) (any, error) {
	if err == nil || errors.Is(err, nilReply) {
		return reply, nil
	}
	var redisErr interface {
		error
		RedisError()
	}
	if !marker.Written() && !errors.As(err, &redisErr) {
		return nil, NotSent(err)
	}
	return nil, err
}
