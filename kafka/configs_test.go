package kafka_test

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// describeTopicConfigs returns topic's configs by name at version v.
func describeTopicConfigs(k *kconn, v int16, topic string, names ...string) (map[string]kmsg.DescribeConfigsResponseResourceConfig, int16) {
	k.t.Helper()
	req := kmsg.NewPtrDescribeConfigsRequest()
	rr := kmsg.NewDescribeConfigsRequestResource()
	rr.ResourceType, rr.ResourceName, rr.ConfigNames = kmsg.ConfigResourceTypeTopic, topic, names
	req.Resources = append(req.Resources, rr)
	resp := do[*kmsg.DescribeConfigsResponse](k, req, v)
	got := map[string]kmsg.DescribeConfigsResponseResourceConfig{}
	for _, c := range resp.Resources[0].Configs {
		got[c.Name] = c
	}
	return got, resp.Resources[0].ErrorCode
}

func value(c kmsg.DescribeConfigsResponseResourceConfig) string {
	if c.Value == nil {
		return "<null>"
	}
	return *c.Value
}

// DescribeConfigs at every version, AlterConfigs replacing the whole
// override set, IncrementalAlterConfigs changing one key at a time, and
// validate_only changing nothing.
func TestConfigs(t *testing.T) {
	b := startBroker(t)
	k := dial(t, b.KafkaAddr())
	createTopic(t, k, "conf", 1)
	for v := int16(0); v <= 4; v++ {
		got, code := describeTopicConfigs(k, v, "conf")
		c, ok := got["retention.ms"]
		isDefault := c.IsDefault // v0; later versions say it with Source
		if v >= 1 {
			isDefault = c.Source == kmsg.ConfigSourceDefaultConfig
		}
		if code != 0 || !ok || value(c) != "604800000" || !isDefault || len(got) < 10 {
			t.Fatalf("v%d: error %d, retention.ms %+v, %d configs", v, code, c, len(got))
		}
	}
	if got, _ := describeTopicConfigs(k, 4, "conf", "segment.ms", "no.such.key"); len(got) != 1 {
		t.Fatalf("two names asked, one known: %v", got)
	}
	if _, code := describeTopicConfigs(k, 4, "absent"); code != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("unknown topic: error %d", code)
	}

	alter := func(v int16, validateOnly bool, kv ...string) int16 {
		t.Helper()
		req := kmsg.NewPtrAlterConfigsRequest()
		req.ValidateOnly = validateOnly
		rr := kmsg.NewAlterConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, "conf"
		for i := 0; i < len(kv); i += 2 {
			c := kmsg.NewAlterConfigsRequestResourceConfig()
			c.Name, c.Value = kv[i], ptrTo(kv[i+1])
			rr.Configs = append(rr.Configs, c)
		}
		req.Resources = append(req.Resources, rr)
		return do[*kmsg.AlterConfigsResponse](k, req, v).Resources[0].ErrorCode
	}
	check := func(key, want string, override bool) {
		t.Helper()
		got, _ := describeTopicConfigs(k, 4, "conf", key)
		wantSource := kmsg.ConfigSourceDefaultConfig
		if override {
			wantSource = kmsg.ConfigSourceDynamicTopicConfig
		}
		if c := got[key]; value(c) != want || c.Source != wantSource {
			t.Fatalf("%s = %s (source %v), want %s (%v)", key, value(c), c.Source, want, wantSource)
		}
	}
	if code := alter(0, true, "retention.ms", "1000"); code != 0 {
		t.Fatalf("validate only: error %d", code)
	}
	check("retention.ms", "604800000", false)
	if code := alter(1, false, "retention.ms", "1000", "cleanup.policy", "compact"); code != 0 {
		t.Fatalf("alter: error %d", code)
	}
	check("retention.ms", "1000", true)
	if code := alter(2, false, "cleanup.policy", "compact"); code != 0 {
		t.Fatalf("alter without retention.ms: error %d", code)
	}
	check("retention.ms", "604800000", false) // left out: back to the default
	for key, val := range map[string]string{"no.such.key": "1", "flush.policy": "always", "retention.ms": "soon"} {
		if code := alter(2, false, key, val); code != kerr.InvalidConfig.Code {
			t.Fatalf("%s=%s: error %d, want INVALID_CONFIG", key, val, code)
		}
	}

	incr := func(v int16, ops ...kmsg.IncrementalAlterConfigsRequestResourceConfig) int16 {
		t.Helper()
		req := kmsg.NewPtrIncrementalAlterConfigsRequest()
		rr := kmsg.NewIncrementalAlterConfigsRequestResource()
		rr.ResourceType, rr.ResourceName, rr.Configs = kmsg.ConfigResourceTypeTopic, "conf", ops
		req.Resources = append(req.Resources, rr)
		return do[*kmsg.IncrementalAlterConfigsResponse](k, req, v).Resources[0].ErrorCode
	}
	op := func(name string, o kmsg.IncrementalAlterConfigOp, val string) kmsg.IncrementalAlterConfigsRequestResourceConfig {
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name, c.Op = name, o
		if val != "" {
			c.Value = &val
		}
		return c
	}
	if code := incr(0, op("retention.ms", kmsg.IncrementalAlterConfigOpSet, "2000"), op("cleanup.policy", kmsg.IncrementalAlterConfigOpAppend, "delete")); code != 0 {
		t.Fatalf("set and append: error %d", code)
	}
	check("retention.ms", "2000", true)
	check("cleanup.policy", "compact,delete", true)
	if code := incr(1, op("cleanup.policy", kmsg.IncrementalAlterConfigOpSubtract, "compact")); code != 0 {
		t.Fatalf("subtract: error %d", code)
	}
	check("cleanup.policy", "delete", true)
	check("retention.ms", "2000", true) // not named: kept
	if code := incr(1, op("retention.ms", kmsg.IncrementalAlterConfigOpDelete, "")); code != 0 {
		t.Fatalf("delete: error %d", code)
	}
	check("retention.ms", "604800000", false)
	if code := incr(1, op("retention.ms", kmsg.IncrementalAlterConfigOpSet, "")); code != kerr.InvalidConfig.Code {
		t.Fatalf("set without a value: error %d", code)
	}

	req := kmsg.NewPtrDescribeConfigsRequest()
	rr := kmsg.NewDescribeConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeBroker, "0"
	req.Resources = append(req.Resources, rr)
	if code := do[*kmsg.DescribeConfigsResponse](k, req, 4).Resources[0].ErrorCode; code != kerr.InvalidRequest.Code {
		t.Fatalf("broker configs: error %d, want INVALID_REQUEST", code)
	}
}

func ptrTo(s string) *string { return &s }
