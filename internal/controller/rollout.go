package controller

// rolloutMember is an instance as the rollout sees it.
type rolloutMember struct {
	Name    string
	Primary bool
	// Current is true when the instance's pod runs the StatefulSet's
	// current template.
	Current bool
	Ready   bool
}

// rolloutStep is the next step of a rolling change.
type rolloutStep struct {
	// DeletePod: the instance whose pod to delete, so that its StatefulSet
	// recreates it from the new template.
	DeletePod string
	// SwitchoverTo: hand the primary role to this (updated) replica first.
	SwitchoverTo string
	// Waiting says what the rollout waits for.
	Waiting string
}

// nextRollout orders a rolling change: one instance at a time, replicas
// first, then a switchover to an updated replica, then the old primary (now
// a replica). Clients see one switchover, not a primary restart.
func nextRollout(members []rolloutMember) (rolloutStep, bool) {
	outdated := false
	for _, m := range members {
		if !m.Current {
			outdated = true
		}
	}
	if !outdated {
		return rolloutStep{}, false
	}
	for _, m := range members {
		if !m.Ready {
			return rolloutStep{Waiting: m.Name + " to be ready"}, true
		}
	}
	var primary *rolloutMember
	for i, m := range members {
		if m.Primary {
			primary = &members[i]
		}
	}
	if primary == nil {
		return rolloutStep{Waiting: "a primary"}, true
	}
	for _, m := range members {
		if !m.Primary && !m.Current {
			return rolloutStep{DeletePod: m.Name}, true
		}
	}
	for _, m := range members {
		if !m.Primary && m.Current {
			return rolloutStep{SwitchoverTo: m.Name}, true
		}
	}
	return rolloutStep{DeletePod: primary.Name}, true
}
