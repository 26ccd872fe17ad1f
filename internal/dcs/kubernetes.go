package dcs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"pgo.dev/pgo/internal/ha"
	"pgo.dev/pgo/internal/naming"
)

// ErrLockLost means another member holds the leader lock.
var ErrLockLost = errors.New("another member holds the leader lock")

// Kubernetes is one member's view of, and writes to, its cluster's state in
// the Kubernetes API.
type Kubernetes struct {
	Client    kubernetes.Interface
	Namespace string
	Cluster   string
	Member    string
	// Now is the clock; time.Now when nil.
	Now func() time.Time

	mu         sync.Mutex
	lease      *coordinationv1.Lease
	leaseSeen  string // holder and renew time of the lease last seen
	observedAt time.Time
	changes    chan struct{}
	dynamic    DynamicConfig
	labelled   string
	// members are the role, state and running of each member as its pod
	// last showed them (see noteMember).
	members map[string]string
}

func (k *Kubernetes) now() time.Time {
	if k.Now != nil {
		return k.Now()
	}
	return time.Now()
}

// Changes signals when the leader lock, a member's role or state, or the
// switchover request changed (see Watch).
func (k *Kubernetes) Changes() <-chan struct{} {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.changes == nil {
		k.changes = make(chan struct{}, 1)
	}
	return k.changes
}

// noteLease records a lease as seen now. Its expiry counts from the moment
// this member first saw its current holder and renewal, on this member's
// clock, so that clock skew between members does not matter.
func (k *Kubernetes) noteLease(lease *coordinationv1.Lease, seenAt time.Time) {
	key := ""
	if lease != nil {
		key = LeaseHolder(lease)
		if lease.Spec.RenewTime != nil {
			key += "@" + lease.Spec.RenewTime.UTC().Format(time.RFC3339Nano)
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if lease != nil && k.lease != nil && lease.ResourceVersion != "" && k.lease.ResourceVersion != "" {
		// Ignore a stale read that races a newer watch event.
		older, _ := strconv.ParseInt(lease.ResourceVersion, 10, 64)
		newer, _ := strconv.ParseInt(k.lease.ResourceVersion, 10, 64)
		if older != 0 && newer != 0 && older < newer {
			return
		}
	}
	previous := LeaseHolder(k.lease)
	k.lease = lease
	if key != k.leaseSeen || k.observedAt.IsZero() {
		k.leaseSeen, k.observedAt = key, seenAt
		// Wake the loop when the lock changes hands; a renewal needs no
		// action, and expiry has a timer of its own.
		if LeaseHolder(lease) != previous {
			k.notifyLocked()
		}
	}
}

// LeaderInstance is the instance holding a cluster's leader lock as a
// reader outside the cluster sees it: the holder of the lease, when its
// renewal has not expired, mapped from its pod name to the instance. It is
// "" when no one holds the lock.
func LeaderInstance(lease *coordinationv1.Lease, now time.Time) string {
	if lease == nil || LeaseHolder(lease) == "" || lease.Spec.RenewTime == nil {
		return ""
	}
	ttl := 30 * time.Second
	if lease.Spec.LeaseDurationSeconds != nil {
		ttl = time.Duration(*lease.Spec.LeaseDurationSeconds) * time.Second
	}
	if now.After(lease.Spec.RenewTime.Add(ttl)) {
		return ""
	}
	return naming.InstanceOfPod(LeaseHolder(lease))
}

// LeaseHolder is the member named in the lease, whether or not it expired.
func LeaseHolder(lease *coordinationv1.Lease) string {
	if lease == nil || lease.Spec.HolderIdentity == nil {
		return ""
	}
	return *lease.Spec.HolderIdentity
}

// Watch follows the leader lock, the members' states and the switchover
// requests until ctx ends, so that a released or taken lock, a leader that
// starts running, or a request, is noticed at once rather than at the next
// run of the loop.
func (k *Kubernetes) Watch(ctx context.Context) {
	go k.watch(ctx, func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
		opts.LabelSelector = naming.LabelCluster + "=" + k.Cluster
		return k.Client.CoreV1().Pods(k.Namespace).Watch(ctx, opts)
	}, k.noteMember)
	go k.watch(ctx, func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
		opts.FieldSelector = fields.OneTermEqualSelector("metadata.name", naming.LeaderLease(k.Cluster)).String()
		return k.Client.CoordinationV1().Leases(k.Namespace).Watch(ctx, opts)
	}, func(ev watch.Event) {
		switch ev.Type {
		case watch.Added, watch.Modified:
			if lease, ok := ev.Object.(*coordinationv1.Lease); ok {
				k.noteLease(lease, k.now())
			}
		case watch.Deleted:
			k.noteLease(nil, k.now())
		}
	})
	k.watch(ctx, func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
		opts.FieldSelector = fields.OneTermEqualSelector("metadata.name", naming.FailoverConfigMap(k.Cluster)).String()
		return k.Client.CoreV1().ConfigMaps(k.Namespace).Watch(ctx, opts)
	}, func(watch.Event) { k.notify() })
}

func (k *Kubernetes) watch(ctx context.Context, start func(context.Context, metav1.ListOptions) (watch.Interface, error), handle func(watch.Event)) {
	for ctx.Err() == nil {
		w, err := start(ctx, metav1.ListOptions{})
		if err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		for ev := range w.ResultChan() {
			handle(ev)
		}
		w.Stop()
	}
}

// noteMember wakes the loop when a member's role, state or running
// changes: a new leader that has finished its bootstrap and runs, say, so
// that a member waiting to clone from it starts at once rather than a
// loop_wait later. A new WAL position alone, which every member publishes
// every loop, wakes no one.
func (k *Kubernetes) noteMember(ev watch.Event) {
	pod, ok := ev.Object.(*corev1.Pod)
	if !ok {
		return
	}
	summary := ""
	var st MemberStatus
	if raw := pod.Annotations[naming.AnnotationStatus]; ev.Type != watch.Deleted && raw != "" && json.Unmarshal([]byte(raw), &st) == nil {
		summary = fmt.Sprintf("%s/%s/%t", st.Role, st.State, st.Running)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if pod.Name == k.Member && ev.Type != watch.Deleted && k.labelled != "" && pod.Labels[naming.LabelRole] != k.labelled {
		// Someone changed this member's label: label it again next time.
		k.labelled = ""
	}
	if k.members[pod.Name] == summary {
		return
	}
	if k.members == nil {
		k.members = map[string]string{}
	}
	if summary == "" {
		delete(k.members, pod.Name)
	} else {
		k.members[pod.Name] = summary
	}
	k.notifyLocked()
}

func (k *Kubernetes) notify() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.notifyLocked()
}

func (k *Kubernetes) notifyLocked() {
	if k.changes == nil {
		k.changes = make(chan struct{}, 1)
	}
	select {
	case k.changes <- struct{}{}:
	default:
	}
}

// Observe reads the cluster's state.
func (k *Kubernetes) Observe(ctx context.Context) (ha.Cluster, error) {
	var c ha.Cluster
	// The five reads go out at once: a loop that decides on them (a
	// switchover, a lock just released) waits for the slowest, not the sum.
	names := []string{naming.ConfigMap(k.Cluster), naming.SyncConfigMap(k.Cluster), naming.FailoverConfigMap(k.Cluster)}
	var (
		wg        sync.WaitGroup
		lease     *coordinationv1.Lease
		leaseErr  error
		read      = make([]*corev1.ConfigMap, len(names))
		readErr   = make([]error, len(names))
		pods      *corev1.PodList
		podsErr   error
		leaseSeen time.Time
	)
	wg.Go(func() {
		lease, leaseErr = k.Client.CoordinationV1().Leases(k.Namespace).Get(ctx, naming.LeaderLease(k.Cluster), metav1.GetOptions{})
		leaseSeen = k.now()
	})
	for n, name := range names {
		wg.Go(func() {
			read[n], readErr[n] = k.Client.CoreV1().ConfigMaps(k.Namespace).Get(ctx, name, metav1.GetOptions{})
		})
	}
	wg.Go(func() {
		pods, podsErr = k.Client.CoreV1().Pods(k.Namespace).List(ctx, metav1.ListOptions{LabelSelector: naming.LabelCluster + "=" + k.Cluster})
	})
	wg.Wait()

	switch {
	case apierrors.IsNotFound(leaseErr):
		k.noteLease(nil, leaseSeen)
	case leaseErr != nil:
		return c, fmt.Errorf("reading the leader lock: %w", leaseErr)
	default:
		k.noteLease(lease, leaseSeen)
	}
	cms := map[string]*corev1.ConfigMap{}
	for n, name := range names {
		switch err := readErr[n]; {
		case apierrors.IsNotFound(err):
		case err != nil:
			return c, fmt.Errorf("reading ConfigMap %s: %w", name, err)
		default:
			cms[name] = read[n]
		}
	}
	if podsErr != nil {
		return c, fmt.Errorf("listing the cluster's pods: %w", podsErr)
	}

	if cm := cms[naming.ConfigMap(k.Cluster)]; cm != nil {
		dc, cfg, _ := ParseDynamicConfig(cm.Data[naming.KeyConfig])
		k.mu.Lock()
		k.dynamic = dc
		k.mu.Unlock()
		c.Config = cfg
		if id := cm.Data[naming.KeyInitialize]; id != "" {
			c.Initialized = true
			c.SystemID, _ = strconv.ParseUint(id, 10, 64)
		}
	} else {
		c.Config = ha.DefaultConfig()
	}
	// The operator creates the sync ConfigMap empty: only a leader's
	// record is a sync state.
	if cm := cms[naming.SyncConfigMap(k.Cluster)]; cm != nil && cm.Data[naming.KeyLeader] != "" {
		c.Sync = ha.SyncState{Present: true, Leader: cm.Data[naming.KeyLeader], Standbys: splitList(cm.Data[naming.KeySyncStandby])}
	}
	if cm := cms[naming.FailoverConfigMap(k.Cluster)]; cm != nil && (cm.Data[naming.KeyLeader] != "" || cm.Data[naming.KeyCandidate] != "") {
		c.Failover = ha.FailoverRequest{Present: true, Leader: cm.Data[naming.KeyLeader], Candidate: cm.Data[naming.KeyCandidate]}
		c.Failover.Force = cm.Data[naming.KeyForce] == "true"
		if at := cm.Data[naming.KeyScheduledAt]; at != "" {
			c.Failover.ScheduledAt, _ = time.Parse(time.RFC3339, at)
		}
	} else if cm != nil {
		c.Failover.Refused = cm.Data[naming.KeyRefused]
	}

	c.Members = map[string]ha.Member{}
	for _, pod := range pods.Items {
		var st MemberStatus
		if raw := pod.Annotations[naming.AnnotationStatus]; raw != "" && json.Unmarshal([]byte(raw), &st) == nil {
			c.Members[pod.Name] = st.member(pod.Name)
		}
	}

	k.mu.Lock()
	defer k.mu.Unlock()
	c.Lock = k.lockLocked(c.Config.TTL)
	return c, nil
}

// Lock is the leader lock as this member last saw it: by its own write (an
// acquisition, a renewal, a release) or by the watch, which can be newer than
// the loop's last Observe.
func (k *Kubernetes) Lock() ha.Lock {
	k.mu.Lock()
	defer k.mu.Unlock()
	ttl := ha.DefaultConfig().TTL
	if k.dynamic.TTL > 0 {
		ttl = time.Duration(k.dynamic.TTL) * time.Second
	}
	return k.lockLocked(ttl)
}

func (k *Kubernetes) lockLocked(ttl time.Duration) ha.Lock {
	l := ha.Lock{Holder: LeaseHolder(k.lease), ObservedAt: k.observedAt, TTL: ttl}
	if k.lease != nil {
		if k.lease.Spec.LeaseDurationSeconds != nil {
			l.TTL = time.Duration(*k.lease.Spec.LeaseDurationSeconds) * time.Second
		}
		optime, _ := strconv.ParseUint(k.lease.Annotations[naming.AnnotationOptime], 10, 64)
		l.Optime = ha.LSN(optime)
		l.Timeline, _ = strconv.ParseInt(k.lease.Annotations[naming.AnnotationTimeline], 10, 64)
	}
	return l
}

// Dynamic is the dynamic configuration last read.
func (k *Kubernetes) Dynamic() DynamicConfig {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.dynamic
}

func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// writeLease creates or updates the lease from the last one seen, failing on
// a conflicting write by another member.
func (k *Kubernetes) writeLease(ctx context.Context, holderName string, ttl time.Duration, optime ha.LSN, timeline int64) error {
	k.mu.Lock()
	current := k.lease
	k.mu.Unlock()

	now := k.now()
	renew := metav1.NewMicroTime(now)
	seconds := int32(ttl / time.Second)
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: naming.LeaderLease(k.Cluster), Namespace: k.Namespace,
		Labels: map[string]string{naming.LabelCluster: k.Cluster}}}
	if current != nil {
		lease = current.DeepCopy()
	}
	if lease.Annotations == nil {
		lease.Annotations = map[string]string{}
	}
	lease.Annotations[naming.AnnotationOptime] = strconv.FormatUint(uint64(optime), 10)
	lease.Annotations[naming.AnnotationTimeline] = strconv.FormatInt(timeline, 10)
	if LeaseHolder(lease) != holderName {
		lease.Spec.AcquireTime = &renew
		if holderName != "" {
			transitions := int32(0)
			if lease.Spec.LeaseTransitions != nil {
				transitions = *lease.Spec.LeaseTransitions + 1
			}
			lease.Spec.LeaseTransitions = &transitions
		}
	}
	lease.Spec.HolderIdentity = &holderName
	lease.Spec.RenewTime = &renew
	lease.Spec.LeaseDurationSeconds = &seconds

	if current == nil {
		return fmt.Errorf("the leader lock, Lease %s, does not exist: the operator creates it with the cluster", naming.LeaderLease(k.Cluster))
	}
	written, err := k.Client.CoordinationV1().Leases(k.Namespace).Update(ctx, lease, metav1.UpdateOptions{})
	if err != nil {
		return err
	}
	// Count the expiry from before the write: this member's view of its own
	// lock expires no later than anyone else's.
	k.noteLease(written, now)
	return nil
}

// Acquire takes the leader lock, which must be free or expired by this
// member's clock; it fails when another member took it first.
func (k *Kubernetes) Acquire(ctx context.Context, ttl time.Duration, optime ha.LSN, timeline int64) error {
	k.mu.Lock()
	current, observedAt := k.lease, k.observedAt
	k.mu.Unlock()
	if h := LeaseHolder(current); h != "" && h != k.Member && k.now().Before(observedAt.Add(ttl)) {
		return fmt.Errorf("%w: %s", ErrLockLost, h)
	}
	err := k.writeLease(ctx, k.Member, ttl, optime, timeline)
	if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("%w: another member wrote it first", ErrLockLost)
	}
	if err != nil {
		return fmt.Errorf("taking the leader lock: %w", err)
	}
	return nil
}

// Renew renews the lock this member holds.
func (k *Kubernetes) Renew(ctx context.Context, ttl time.Duration, optime ha.LSN, timeline int64) error {
	k.mu.Lock()
	current := k.lease
	k.mu.Unlock()
	if h := LeaseHolder(current); h != k.Member {
		return fmt.Errorf("%w: %s", ErrLockLost, h)
	}
	err := k.writeLease(ctx, k.Member, ttl, optime, timeline)
	if apierrors.IsConflict(err) {
		// Someone else wrote the lease: read it again and see who holds it.
		lease, getErr := k.Client.CoordinationV1().Leases(k.Namespace).Get(ctx, naming.LeaderLease(k.Cluster), metav1.GetOptions{})
		if getErr != nil {
			return fmt.Errorf("renewing the leader lock: %w", getErr)
		}
		k.noteLease(lease, k.now())
		if LeaseHolder(lease) != k.Member {
			return fmt.Errorf("%w: %s", ErrLockLost, LeaseHolder(lease))
		}
		err = k.writeLease(ctx, k.Member, ttl, optime, timeline)
	}
	if err != nil {
		return fmt.Errorf("renewing the leader lock: %w", err)
	}
	return nil
}

// Release gives up the lock this member holds, recording the final WAL
// position so that the replica that has it can take over at once.
func (k *Kubernetes) Release(ctx context.Context, optime ha.LSN, timeline int64) error {
	k.mu.Lock()
	current := k.lease
	k.mu.Unlock()
	if LeaseHolder(current) != k.Member {
		return nil
	}
	ttl := time.Duration(0)
	if current.Spec.LeaseDurationSeconds != nil {
		ttl = time.Duration(*current.Spec.LeaseDurationSeconds) * time.Second
	}
	if err := k.writeLease(ctx, "", ttl, optime, timeline); err != nil {
		return fmt.Errorf("releasing the leader lock: %w", err)
	}
	return nil
}

// PublishMember writes this member's state to its pod.
func (k *Kubernetes) PublishMember(ctx context.Context, st MemberStatus) error {
	raw, err := json.Marshal(st)
	if err != nil {
		return err
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{naming.AnnotationStatus: string(raw)}}})
	if err != nil {
		return err
	}
	if _, err := k.Client.CoreV1().Pods(k.Namespace).Patch(ctx, k.Member, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("publishing the member state on pod %s: %w", k.Member, err)
	}
	return nil
}

// SetRole labels this member's pod with its role. As primary it also takes
// the primary label off every other pod of the cluster, so that the primary
// Service routes to it alone.
func (k *Kubernetes) SetRole(ctx context.Context, role string) error {
	k.mu.Lock()
	done := k.labelled == role
	k.mu.Unlock()
	if role == naming.RolePrimary {
		pods, err := k.Client.CoreV1().Pods(k.Namespace).List(ctx, metav1.ListOptions{
			LabelSelector: naming.LabelCluster + "=" + k.Cluster + "," + naming.LabelRole + "=" + naming.RolePrimary,
		})
		if err != nil {
			return fmt.Errorf("listing the pods labelled primary: %w", err)
		}
		labelled := false
		for _, pod := range pods.Items {
			if pod.Name == k.Member {
				labelled = true
				continue
			}
			if err := k.unlabelPrimary(ctx, pod.Name); err != nil {
				return err
			}
		}
		// Whatever took the label off this pod, put it back.
		done = done && labelled
	}
	if done {
		return nil
	}
	if err := k.patchRole(ctx, k.Member, role); err != nil {
		return err
	}
	k.mu.Lock()
	k.labelled = role
	k.mu.Unlock()
	return nil
}

// unlabelPrimary takes the primary label off another member's pod, if it
// still has it: that member may have labelled itself replica since the
// list, and removing its label then would keep it out of the replica
// Service for good.
func (k *Kubernetes) unlabelPrimary(ctx context.Context, pod string) error {
	path := "/metadata/labels/" + strings.ReplaceAll(strings.ReplaceAll(naming.LabelRole, "~", "~0"), "/", "~1")
	patch, err := json.Marshal([]map[string]string{
		{"op": "test", "path": path, "value": naming.RolePrimary},
		{"op": "remove", "path": path},
	})
	if err != nil {
		return err
	}
	_, err = k.Client.CoreV1().Pods(k.Namespace).Patch(ctx, pod, types.JSONPatchType, patch, metav1.PatchOptions{})
	switch {
	case err == nil, apierrors.IsNotFound(err), apierrors.IsInvalid(err):
		// Invalid: the test failed, the pod is no longer labelled primary.
		return nil
	default:
		return fmt.Errorf("taking the primary label off pod %s: %w", pod, err)
	}
}

func (k *Kubernetes) patchRole(ctx context.Context, pod, role string) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"labels": map[string]string{naming.LabelRole: role}}})
	if err != nil {
		return err
	}
	if _, err := k.Client.CoreV1().Pods(k.Namespace).Patch(ctx, pod, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("labelling pod %s: %w", pod, err)
	}
	return nil
}

// ForgetRole makes the next SetRole write the label even if unchanged (after
// the API was unreachable, say).
func (k *Kubernetes) ForgetRole() {
	k.mu.Lock()
	k.labelled = ""
	k.mu.Unlock()
}

// updateConfigMap reads one of the cluster's ConfigMaps (which the operator
// creates), lets change edit its data, and writes it with optimistic
// concurrency.
func (k *Kubernetes) updateConfigMap(ctx context.Context, name string, change func(data map[string]string) error) error {
	cms := k.Client.CoreV1().ConfigMaps(k.Namespace)
	cm, err := cms.Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return fmt.Errorf("ConfigMap %s does not exist: the operator creates it with the cluster", name)
	case err != nil:
		return fmt.Errorf("reading ConfigMap %s: %w", name, err)
	}
	if cm.Data == nil {
		cm.Data = map[string]string{}
	}
	if err := change(cm.Data); err != nil {
		return err
	}
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("writing ConfigMap %s: %w", name, err)
	}
	return nil
}

// MarkInitialized records the cluster as bootstrapped with a system
// identifier, unless another one is recorded already.
func (k *Kubernetes) MarkInitialized(ctx context.Context, systemID uint64) error {
	id := strconv.FormatUint(systemID, 10)
	return k.updateConfigMap(ctx, naming.ConfigMap(k.Cluster), func(data map[string]string) error {
		if current := data[naming.KeyInitialize]; current != "" && current != id {
			return fmt.Errorf("the cluster was initialized with system identifier %s, not %s", current, id)
		}
		data[naming.KeyInitialize] = id
		return nil
	})
}

// WriteSync records the synchronous standbys of leader; with no leader it
// clears the record.
func (k *Kubernetes) WriteSync(ctx context.Context, leader string, standbys []string) error {
	standbys = slices.Sorted(slices.Values(standbys))
	return k.updateConfigMap(ctx, naming.SyncConfigMap(k.Cluster), func(data map[string]string) error {
		if leader == "" {
			clear(data)
			return nil
		}
		data[naming.KeyLeader] = leader
		data[naming.KeySyncStandby] = strings.Join(standbys, ",")
		return nil
	})
}

// RequestFailover writes a switchover (leader set) or failover request.
func (k *Kubernetes) RequestFailover(ctx context.Context, req ha.FailoverRequest) error {
	return k.updateConfigMap(ctx, naming.FailoverConfigMap(k.Cluster), func(data map[string]string) error {
		clear(data)
		data[naming.KeyLeader] = req.Leader
		data[naming.KeyCandidate] = req.Candidate
		if !req.ScheduledAt.IsZero() {
			data[naming.KeyScheduledAt] = req.ScheduledAt.UTC().Format(time.RFC3339)
		}
		if req.Force {
			data[naming.KeyForce] = "true"
		}
		return nil
	})
}

// ClearFailover removes the switchover or failover request; a refused one
// leaves its reason behind.
func (k *Kubernetes) ClearFailover(ctx context.Context, refused string) error {
	return k.updateConfigMap(ctx, naming.FailoverConfigMap(k.Cluster), func(data map[string]string) error {
		clear(data)
		if refused != "" {
			data[naming.KeyRefused] = refused
		}
		return nil
	})
}

// Holder is the member holding the leader lock as last seen ("" when free).
func (k *Kubernetes) Holder() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return LeaseHolder(k.lease)
}
