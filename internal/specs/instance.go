package specs

import (
	"slices"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/instanceapi"
	"pgo.dev/pgo/internal/naming"
)

// Paths in a database pod.
const (
	binDir       = "/opt/pgo/bin"
	managerPath  = binDir + "/postgres-operator"
	socketDir    = "/var/run/pgo"
	secretsDir   = "/etc/pgo"
	tlsDir       = "/etc/pgo/tls"
	dataMount    = "/pgdata"
	walMount     = "/pgwal"
	HostnameTopo = "kubernetes.io/hostname"
)

// storage is the data volume an instance gets.
func storage(c *pgov1.PGCluster, inst Instance) pgov1.PGStorage {
	switch {
	case inst.Replica != nil && inst.Replica.Spec.Storage != nil:
		return *inst.Replica.Spec.Storage
	case inst.Replica != nil && c.Spec.ReplicaStorage != nil:
		return *c.Spec.ReplicaStorage
	}
	return c.Spec.PrimaryStorage
}

func claim(c *pgov1.PGCluster, inst Instance, name string, s pgov1.PGStorage) *corev1.PersistentVolumeClaim {
	mode := s.AccessMode
	if mode == "" {
		mode = corev1.ReadWriteOnce
	}
	return &corev1.PersistentVolumeClaim{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: c.Namespace, Labels: labels(c, InstanceLabels(c.Name, inst.Name)), Annotations: annotations(c)},
		Spec: corev1.PersistentVolumeClaimSpec{
			StorageClassName: s.StorageClassName,
			AccessModes:      []corev1.PersistentVolumeAccessMode{mode},
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: s.Size}},
		},
	}
}

// Claims are an instance's PersistentVolumeClaims: data, and WAL when the
// cluster has a WAL volume. The controller owns them, so that they outlive
// the instance's pods.
func Claims(c *pgov1.PGCluster, inst Instance) []*corev1.PersistentVolumeClaim {
	out := []*corev1.PersistentVolumeClaim{claim(c, inst, naming.DataVolume(inst.Name), storage(c, inst))}
	if c.Spec.WALStorage != nil {
		out = append(out, claim(c, inst, naming.WALVolume(inst.Name), *c.Spec.WALStorage))
	}
	return out
}

// StatefulSet runs one instance: one pod whose PID 1 is the instance
// manager, on the instance's own volumes. It updates only when pgo deletes
// the pod, so that pgo chooses the order (replicas first, the primary after
// a switchover).
func StatefulSet(c *pgov1.PGCluster, inst Instance, opts Options) *appsv1.StatefulSet {
	replicas := int32(1)
	if c.Spec.Shutdown {
		replicas = 0
	}
	podLabels := labels(c, InstanceLabels(c.Name, inst.Name))
	return &appsv1.StatefulSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"},
		ObjectMeta: metav1.ObjectMeta{Name: inst.Name, Namespace: c.Namespace, Labels: podLabels, Annotations: annotations(c)},
		Spec: appsv1.StatefulSetSpec{
			Replicas:            &replicas,
			ServiceName:         naming.PodsService(c.Name),
			Selector:            &metav1.LabelSelector{MatchLabels: InstanceLabels(c.Name, inst.Name)},
			PodManagementPolicy: appsv1.ParallelPodManagement,
			UpdateStrategy:      appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels, Annotations: annotations(c)},
				Spec:       podSpec(c, inst, opts),
			},
		},
	}
}

func podSpec(c *pgov1.PGCluster, inst Instance, opts Options) corev1.PodSpec {
	image := image(c, opts)
	resources := corev1.ResourceRequirements(c.Spec.Resources)
	tolerations := c.Spec.Tolerations
	nodeAffinity := c.Spec.NodeAffinity
	priority := 1
	if r := inst.Replica; r != nil {
		if r.Spec.Resources != nil {
			resources = corev1.ResourceRequirements(*r.Spec.Resources)
		}
		if r.Spec.Tolerations != nil {
			tolerations = r.Spec.Tolerations
		}
		if r.Spec.NodeAffinity != nil {
			nodeAffinity = r.Spec.NodeAffinity
		}
		if r.Spec.FailoverPriority != nil {
			priority = int(*r.Spec.FailoverPriority)
		}
	}
	env := []corev1.EnvVar{
		fieldEnv(instanceapi.EnvPodName, "metadata.name"),
		fieldEnv(instanceapi.EnvPodNamespace, "metadata.namespace"),
		fieldEnv(instanceapi.EnvPodIP, "status.podIP"),
		{Name: instanceapi.EnvCluster, Value: c.Name},
		{Name: instanceapi.EnvDataDir, Value: DataDir(c)},
		{Name: instanceapi.EnvPort, Value: strconv.Itoa(int(c.Spec.Port))},
		{Name: instanceapi.EnvSocketDir, Value: socketDir},
		{Name: instanceapi.EnvSuperuserPasswordFile, Value: secretsDir + "/superuser/password"},
		{Name: instanceapi.EnvAPIPasswordFile, Value: secretsDir + "/api/password"},
		{Name: instanceapi.EnvAppUser, Value: string(c.Spec.User)},
		{Name: instanceapi.EnvAppDatabase, Value: Database(c)},
		{Name: instanceapi.EnvAppPasswordFile, Value: secretsDir + "/app/password"},
		{Name: instanceapi.EnvTLSCertFile, Value: tlsDir + "/tls.crt"},
		{Name: instanceapi.EnvTLSKeyFile, Value: tlsDir + "/tls.key"},
		{Name: instanceapi.EnvTLSCAFile, Value: tlsDir + "/ca.crt"},
		{Name: instanceapi.EnvClusterCAFile, Value: secretsDir + "/cluster/ca.crt"},
		{Name: instanceapi.EnvAPICertFile, Value: secretsDir + "/cluster/tls.crt"},
		{Name: instanceapi.EnvAPIKeyFile, Value: secretsDir + "/cluster/tls.key"},
		{Name: instanceapi.EnvReplicationCertFile, Value: secretsDir + "/replication/tls.crt"},
		{Name: instanceapi.EnvReplicationKeyFile, Value: secretsDir + "/replication/tls.key"},
		{Name: instanceapi.EnvFailoverPriority, Value: strconv.Itoa(priority)},
		// WAL goes to the cluster's repositories through pgBackRest.
		{Name: instanceapi.EnvArchive, Value: instanceapi.ArchivePgBackRest},
	}
	env = append(env, backRestEnv()...)
	mounts := []corev1.VolumeMount{
		{Name: "pgdata", MountPath: dataMount},
		{Name: "bin", MountPath: binDir, ReadOnly: true},
		{Name: "run", MountPath: socketDir},
		{Name: "tmp", MountPath: "/tmp"},
		{Name: "secrets", MountPath: secretsDir, ReadOnly: true},
	}
	volumes := []corev1.Volume{
		{Name: "pgdata", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: naming.DataVolume(inst.Name)}}},
		{Name: "bin", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{Name: "run", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{Name: "secrets", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
			DefaultMode: ptr.To[int32](0o440),
			Sources:     append(secretSources(c), instanceBackRestSources(c)...),
		}}},
	}
	if c.Spec.WALStorage != nil {
		env = append(env, corev1.EnvVar{Name: instanceapi.EnvWALDir, Value: WALDir(c)})
		mounts = append(mounts, corev1.VolumeMount{Name: "pgwal", MountPath: walMount})
		volumes = append(volumes, corev1.Volume{Name: "pgwal", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: naming.WALVolume(inst.Name)}}})
	}
	ports := []corev1.ContainerPort{
		{Name: "postgres", ContainerPort: c.Spec.Port, Protocol: corev1.ProtocolTCP},
		{Name: "api", ContainerPort: naming.APIPort, Protocol: corev1.ProtocolTCP},
	}
	// Readiness is probed every 2 s, so that a member is in its Service
	// within seconds of PostgreSQL taking connections (a new cluster is
	// ready in seconds, not at the next 10 s tick), and leaves it after
	// 10 s of failed probes; liveness keeps Patroni's 10 s period and a
	// minute of tolerance.
	probe := func(path string, period, failures int32) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromInt32(naming.APIPort), Scheme: corev1.URISchemeHTTPS}},
			PeriodSeconds:    period,
			TimeoutSeconds:   5,
			FailureThreshold: failures,
		}
	}
	containerSecurity := containerSecurity()
	sidecarMounts := slices.DeleteFunc(slices.Clone(mounts), func(m corev1.VolumeMount) bool { return m.Name == "bin" })
	sidecarMounts = append(sidecarMounts, corev1.VolumeMount{Name: "bin", MountPath: binDir, ReadOnly: true})
	return corev1.PodSpec{
		ServiceAccountName:            naming.InstanceServiceAccount(c.Name),
		EnableServiceLinks:            ptr.To(false),
		TerminationGracePeriodSeconds: ptr.To[int64](60),
		SecurityContext:               podSecurity(opts),
		InitContainers:                []corev1.Container{copyManager("instance-manager", opts)},
		Containers: []corev1.Container{{
			Name:            "database",
			Image:           image,
			Command:         []string{managerPath, "instance", "run"},
			Env:             env,
			Ports:           ports,
			Resources:       resources,
			VolumeMounts:    mounts,
			ReadinessProbe:  probe(instanceapi.PathReadiness, 2, 5),
			LivenessProbe:   probe(instanceapi.PathLiveness, 10, 6),
			SecurityContext: containerSecurity,
		}, backRestSidecar(c, image, sidecarMounts, containerSecurity)},
		Volumes:     volumes,
		Tolerations: tolerations,
		Affinity:    affinity(c, nodeAffinity),
	}
}

// secretSources project the passwords and certificates into /etc/pgo.
func secretSources(c *pgov1.PGCluster) []corev1.VolumeProjection {
	password := func(secret, dir string) corev1.VolumeProjection {
		return corev1.VolumeProjection{Secret: &corev1.SecretProjection{
			LocalObjectReference: corev1.LocalObjectReference{Name: secret},
			Items:                []corev1.KeyToPath{{Key: naming.KeyPassword, Path: dir + "/password"}},
		}}
	}
	serverCert, caSecret := naming.ServerCertSecret(c.Name), naming.ServerCertSecret(c.Name)
	caKey := naming.KeyCACert
	if t := c.Spec.TLS; t != nil && t.TLSSecret != "" {
		serverCert, caSecret = string(t.TLSSecret), string(t.CASecret)
	}
	sources := []corev1.VolumeProjection{
		password(naming.SuperuserSecret(c.Name), "superuser"),
		password(naming.APISecret(c.Name), "api"),
		password(naming.UserSecret(c.Name, string(c.Spec.User)), "app"),
		{Secret: &corev1.SecretProjection{
			LocalObjectReference: corev1.LocalObjectReference{Name: serverCert},
			Items: []corev1.KeyToPath{
				{Key: corev1.TLSCertKey, Path: "tls/tls.crt"},
				{Key: corev1.TLSPrivateKeyKey, Path: "tls/tls.key"},
			},
		}},
	}
	if caSecret == serverCert {
		sources[len(sources)-1].Secret.Items = append(sources[len(sources)-1].Secret.Items, corev1.KeyToPath{Key: caKey, Path: "tls/ca.crt"})
	} else {
		sources = append(sources, corev1.VolumeProjection{Secret: &corev1.SecretProjection{
			LocalObjectReference: corev1.LocalObjectReference{Name: caSecret},
			Items:                []corev1.KeyToPath{{Key: caKey, Path: "tls/ca.crt"}},
		}})
	}
	// The cluster's own CA and the replication user's certificate, both
	// from the operator, whatever the user gave PostgreSQL.
	sources = append(sources,
		corev1.VolumeProjection{Secret: &corev1.SecretProjection{
			LocalObjectReference: corev1.LocalObjectReference{Name: naming.ServerCertSecret(c.Name)},
			Items: []corev1.KeyToPath{
				{Key: naming.KeyCACert, Path: "cluster/ca.crt"},
				{Key: corev1.TLSCertKey, Path: "cluster/tls.crt"},
				{Key: corev1.TLSPrivateKeyKey, Path: "cluster/tls.key"},
			},
		}},
		corev1.VolumeProjection{Secret: &corev1.SecretProjection{
			LocalObjectReference: corev1.LocalObjectReference{Name: naming.ReplicationCertSecret(c.Name)},
			Items: []corev1.KeyToPath{
				{Key: corev1.TLSCertKey, Path: "replication/tls.crt"},
				{Key: corev1.TLSPrivateKeyKey, Path: "replication/tls.key"},
			},
		}})
	return sources
}

// affinity keeps a cluster's instances on different nodes (as asked) and on
// nodes with the requested label.
func affinity(c *pgov1.PGCluster, node *pgov1.PGNodeAffinity) *corev1.Affinity {
	var a corev1.Affinity
	term := corev1.PodAffinityTerm{
		LabelSelector: &metav1.LabelSelector{MatchLabels: ClusterLabels(c.Name)},
		TopologyKey:   HostnameTopo,
	}
	switch c.Spec.PodAntiAffinity {
	case pgov1.PodAntiAffinityRequired:
		a.PodAntiAffinity = &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{term}}
	case pgov1.PodAntiAffinityDisabled:
	default:
		a.PodAntiAffinity = &corev1.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{Weight: 100, PodAffinityTerm: term}}}
	}
	if node != nil {
		sel := corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: node.Key, Operator: corev1.NodeSelectorOpIn, Values: []string{node.Value}}}}
		if node.Type == pgov1.NodeAffinityRequired {
			a.NodeAffinity = &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{sel}}}
		} else {
			a.NodeAffinity = &corev1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{{Weight: 100, Preference: sel}}}
		}
	}
	if a.PodAntiAffinity == nil && a.NodeAffinity == nil {
		return nil
	}
	return &a
}
