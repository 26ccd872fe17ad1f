package rules

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/validate/content"
	"k8s.io/apimachinery/pkg/labels"
)

// Labels and annotations a user gives a cluster.

// MaxMetadataEntries is the most labels, or annotations, of a cluster.
const MaxMetadataEntries = 64

// ReservedKeyPrefix starts the label and annotation keys that belong to pgo.
const ReservedKeyPrefix = "pgo.dev/"

// MetadataKey checks the key of a label or an annotation.
func MetadataKey(key string) string {
	if msgs := content.IsLabelKey(key); len(msgs) > 0 {
		return "is not a valid key: " + strings.Join(msgs, "; ")
	}
	if strings.HasPrefix(key, ReservedKeyPrefix) {
		return "is under " + ReservedKeyPrefix + ", which belongs to pgo; choose another key"
	}
	return ""
}

// LabelValue checks the value of a label (annotations take any value).
func LabelValue(value string) string {
	if msgs := content.IsLabelValue(value); len(msgs) > 0 {
		return "is not a valid label value: " + strings.Join(msgs, "; ")
	}
	return ""
}

// Selector reads a label selector such as env=prod,team!=db.
func Selector(selector string) (labels.Selector, string) {
	parsed, err := labels.Parse(selector)
	if err != nil {
		return nil, fmt.Sprintf("is not a label selector (%v); give one such as env=prod", err)
	}
	return parsed, ""
}
