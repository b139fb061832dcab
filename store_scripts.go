package andromeda

import "github.com/ramadani/andromeda/internal/scripts"

// The scripts the store runs; internal/scripts defines each one's arguments and reply.
var (
	addScript         = NewScript(scripts.Add)
	addBatchScript    = NewScript(scripts.AddBatch)
	reduceScript      = NewScript(scripts.Reduce)
	multiAddScript    = NewScript(scripts.MultiAdd)
	multiReduceScript = NewScript(scripts.MultiReduce)
	holdScript        = NewScript(scripts.Hold)
	fencedLoadScript  = NewScript(scripts.FencedLoad)
	setScript         = NewScript(scripts.Set)
	touchScript       = NewScript(scripts.Touch)
	forgetScript      = NewScript(scripts.Forget)
	readUsageScript   = NewScript(scripts.ReadUsage)
)
