package rules

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/resource"
)

// MaxReplicas is the most replicas a cluster has besides its primary.
const MaxReplicas = 32

// Replicas checks the number of replicas of a new cluster.
func Replicas(n int32) string { return Range(int(n), 0, MaxReplicas) }

// AddedReplicas checks how many replicas to add to a cluster.
func AddedReplicas(n int32) string { return Range(int(n), 1, MaxReplicas) }

// The PostgreSQL major versions pgo knows how to run: the bounds of
// spec.postgresVersion. Which of them a cluster may run is the operator's
// configuration (package pgoconfig): the versions it has images for.
const (
	MinPostgresVersion = 13
	MaxPostgresVersion = 17
)

// PostgresVersion checks a PostgreSQL major version; 0 is the default.
func PostgresVersion(v int32) string {
	if v == 0 {
		return ""
	}
	return Range(int(v), MinPostgresVersion, MaxPostgresVersion)
}

// Examples of quantities, for the reasons of Quantity.
const (
	ExampleCPU    = "500m or 2"
	ExampleMemory = "256Mi or 2Gi"
	ExampleSize   = "1Gi or 20Gi"
)

// Quantity parses a size or CPU amount such as 1Gi, 512Mi or 500m; it must
// be greater than zero. example is shown in the reason.
func Quantity(value, example string) (resource.Quantity, string) {
	q, err := resource.ParseQuantity(value)
	if err != nil {
		return q, "is not a quantity; give one such as " + example
	}
	if q.Sign() <= 0 {
		return q, "must be greater than zero, such as " + example
	}
	return q, ""
}

// Limit checks a CPU or memory limit against its request: it follows the
// limit.
func Limit(limit, request resource.Quantity) string {
	if limit.Cmp(request) < 0 {
		return fmt.Sprintf("is less than the request %s; a limit must be at least the request", request.String())
	}
	return ""
}
