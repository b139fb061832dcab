package andromeda

import "fmt"

// Quota is a quota: its limit, usage, key and expiration functions. AddMultiQuotaUsage
// and ReduceMultiQuotaUsage change several together; NewQuotaHolds holds from one. Its
// functions receive the request's QuotaID and Data, like AddQuotaUsage's do: a per-user
// quota can take the user from Data.
type Quota struct {
	// GetQuotaLimit returns the quota's limit; required to add or hold.
	GetQuotaLimit GetQuota
	// GetQuotaUsage loads the usage when the key is missing; without it a missing key
	// starts at zero.
	GetQuotaUsage GetQuota
	// GetQuotaUsageKey returns the Redis key of the quota's usage; required. On a cluster
	// the keys of quotas changed together must share a hash slot: give them a common
	// hash tag.
	GetQuotaUsageKey GetQuotaKey
	// GetQuotaUsageExpiration returns how long a stored usage is kept (0: no expiration).
	GetQuotaUsageExpiration GetQuotaExpiration
}

// mustBeQuota panics, naming the field, when q lacks a required function (the limit only
// when needLimit) or holds a nil one. field is the quota's path in config, or empty when
// its functions are config's own fields.
func mustBeQuota(config, field string, q Quota, needLimit bool) {
	name := func(f string) string {
		if field == "" {
			return f
		}
		return fmt.Sprintf("%s.%s", field, f)
	}
	if needLimit {
		mustSet(config, configField{name("GetQuotaLimit"), q.GetQuotaLimit})
	}
	mustSet(config, configField{name("GetQuotaUsageKey"), q.GetQuotaUsageKey})
	mustBeUsable(config, configField{name("GetQuotaUsage"), q.GetQuotaUsage},
		configField{name("GetQuotaUsageExpiration"), q.GetQuotaUsageExpiration})
}

// usageLoader returns the loader of q's usage when its key is missing.
func (q Quota) usageLoader(cache Cache, pace GetQuotaUsageConfig) *loader {
	return newUsageLoader(cache, q.GetQuotaUsage, q.GetQuotaUsageExpiration, pace)
}
