package specs

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	pgov1 "pgo.dev/pgo/api/v1"
)

// What the pods of a cluster (instances and the repository host) share.

// image is the database image of a cluster: spec.image, or the operator's
// image for its PostgreSQL version.
func image(c *pgov1.PGCluster, opts Options) string {
	if c.Spec.Image != "" {
		return c.Spec.Image
	}
	return opts.PostgresImages[c.Spec.PostgresVersion]
}

// fieldEnv is an environment variable from the pod's own fields.
func fieldEnv(name, path string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: path}}}
}

// containerSecurity locks every container down: no privilege, a
// read-only root, no capabilities.
func containerSecurity() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(false),
		ReadOnlyRootFilesystem:   ptr.To(true),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
	}
}

// podSecurity runs a pod as the PostgreSQL user, its volumes in its group.
func podSecurity(opts Options) *corev1.PodSecurityContext {
	return &corev1.PodSecurityContext{
		RunAsNonRoot: ptr.To(true),
		RunAsUser:    ptr.To(opts.PostgresUID),
		RunAsGroup:   ptr.To(opts.PostgresGID),
		FSGroup:      ptr.To(opts.PostgresGID),
		// Always (the default) makes every file of the volume group
		// writable at each mount; PostgreSQL then refuses its data
		// directory. The instance manager also sets 0700 before each
		// start.
		FSGroupChangePolicy: ptr.To(corev1.FSGroupChangeOnRootMismatch),
		SeccompProfile:      &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// copyManager is the init container that copies the postgres-operator
// binary into the pod's bin volume, for the images that hold PostgreSQL
// and pgBackRest but not pgo.
func copyManager(name string, opts Options) corev1.Container {
	return corev1.Container{
		Name:            name,
		Image:           opts.OperatorImage,
		Command:         []string{"postgres-operator", "copy-to", binDir},
		VolumeMounts:    []corev1.VolumeMount{{Name: "bin", MountPath: binDir}},
		SecurityContext: containerSecurity(),
	}
}
