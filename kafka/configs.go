package kafka

// Behavior: the config APIs, for topics (resource type 2), on the engine
// calls the native front end uses (engine.Describe, AlterTopicConfigs).
// Another resource type, a broker's configs included, gets INVALID_REQUEST
// for that resource. Every resource is answered on its own, with the
// engine's message naming the refused key.
//
//	DescribeConfigs          every topic config by Kafka name with its
//	                         effective value (or only those asked for); an
//	                         override is DYNAMIC_TOPIC_CONFIG, the rest
//	                         DEFAULT_CONFIG; no synonyms, no documentation
//	AlterConfigs             Kafka's: the keys given become the topic's whole
//	                         override set, a key left out goes back to its
//	                         default; a null value removes the key
//	IncrementalAlterConfigs  per key SET, DELETE, or APPEND / SUBTRACT on the
//	                         comma-separated list the key holds; keys not named
//	                         keep their values
//
// validate_only runs every check and changes nothing. flush.policy and
// flush.ms cannot be altered (engine.AlterTopicConfigs says why).

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/netio"
)

// errOnlyTopicConfigs answers a config request for another resource type.
func errOnlyTopicConfigs(t kmsg.ConfigResourceType) error {
	return fmt.Errorf("%w: resource type %d: only topic configs (type 2) are served", engine.ErrInvalidRequest, t)
}

func (h *Handler) describeConfigs(r *netio.Responder, hdr requestHeader, q *kmsg.DescribeConfigsRequest) {
	resp := kmsg.NewPtrDescribeConfigsResponse()
	resp.Version = q.Version
	for _, res := range q.Resources {
		rr := kmsg.NewDescribeConfigsResponseResource()
		rr.ResourceType, rr.ResourceName = res.ResourceType, res.ResourceName
		var err error
		if res.ResourceType != kmsg.ConfigResourceTypeTopic {
			err = errOnlyTopicConfigs(res.ResourceType)
		} else if info := h.cfg.Engine.Describe(res.ResourceName)[0]; info.Err != nil {
			err = info.Err
		} else {
			rr.Configs = topicConfigs(info, res.ConfigNames)
		}
		rr.ErrorCode, rr.ErrorMessage = h.codeAndMessage(err)
		resp.Resources = append(resp.Resources, rr)
	}
	h.reply(r, hdr, resp)
}

// topicConfigs lists the topic's configs sorted by name: only names when
// it is not nil, as Kafka does (a name the topic lacks is left out).
func topicConfigs(info engine.TopicInfo, names []string) []kmsg.DescribeConfigsResponseResourceConfig {
	var out []kmsg.DescribeConfigsResponseResourceConfig
	for k, v := range info.Configs {
		if names != nil && !slices.Contains(names, k) {
			continue
		}
		c := kmsg.NewDescribeConfigsResponseResourceConfig()
		c.Name, c.Value = k, ptr(v)
		_, override := info.Overrides[k]
		c.IsDefault, c.Source = !override, kmsg.ConfigSourceDefaultConfig
		if override {
			c.Source = kmsg.ConfigSourceDynamicTopicConfig
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (h *Handler) alterConfigs(r *netio.Responder, hdr requestHeader, q *kmsg.AlterConfigsRequest) {
	resp := kmsg.NewPtrAlterConfigsResponse()
	resp.Version = q.Version
	for _, res := range q.Resources {
		rr := kmsg.NewAlterConfigsResponseResource()
		rr.ResourceType, rr.ResourceName = res.ResourceType, res.ResourceName
		rr.ErrorCode, rr.ErrorMessage = h.alterTopic(res.ResourceType, res.ResourceName, q.ValidateOnly, func(info engine.TopicInfo) (map[string]string, error) {
			changes := make(map[string]string, len(res.Configs)+len(info.Overrides))
			for k := range info.Overrides {
				changes[k] = "" // back to the default unless named below
			}
			for _, c := range res.Configs {
				changes[c.Name] = ""
				if c.Value != nil {
					changes[c.Name] = *c.Value
				}
			}
			return changes, nil
		})
		resp.Resources = append(resp.Resources, rr)
	}
	h.reply(r, hdr, resp)
}

func (h *Handler) incrementalAlterConfigs(r *netio.Responder, hdr requestHeader, q *kmsg.IncrementalAlterConfigsRequest) {
	resp := kmsg.NewPtrIncrementalAlterConfigsResponse()
	resp.Version = q.Version
	for _, res := range q.Resources {
		rr := kmsg.NewIncrementalAlterConfigsResponseResource()
		rr.ResourceType, rr.ResourceName = res.ResourceType, res.ResourceName
		rr.ErrorCode, rr.ErrorMessage = h.alterTopic(res.ResourceType, res.ResourceName, q.ValidateOnly, func(info engine.TopicInfo) (map[string]string, error) {
			changes := make(map[string]string, len(res.Configs))
			for _, c := range res.Configs {
				v, err := incrementalValue(info, c, changes)
				if err != nil {
					return nil, fmt.Errorf("%w: topic %q: %w", engine.ErrInvalidConfig, res.ResourceName, err)
				}
				changes[c.Name] = v
			}
			return changes, nil
		})
		resp.Resources = append(resp.Resources, rr)
	}
	h.reply(r, hdr, resp)
}

// incrementalValue is the value key c.Name gets from op c.Op: "" removes
// the override. APPEND and SUBTRACT start from the value an earlier op of
// the same request gave the key, else from the topic's effective value.
func incrementalValue(info engine.TopicInfo, c kmsg.IncrementalAlterConfigsRequestResourceConfig, changed map[string]string) (string, error) {
	switch c.Op {
	case kmsg.IncrementalAlterConfigOpDelete:
		return "", nil
	case kmsg.IncrementalAlterConfigOpSet, kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
	default:
		return "", fmt.Errorf("key %q: unknown operation %d", c.Name, c.Op)
	}
	if c.Value == nil {
		return "", fmt.Errorf("key %q: operation %s without a value", c.Name, c.Op)
	}
	if c.Op == kmsg.IncrementalAlterConfigOpSet {
		return *c.Value, nil
	}
	cur, ok := changed[c.Name]
	if !ok {
		cur = info.Configs[c.Name]
	}
	var items []string
	if cur != "" {
		items = strings.Split(cur, ",")
	}
	for _, v := range strings.Split(*c.Value, ",") {
		i := slices.Index(items, v)
		switch {
		case c.Op == kmsg.IncrementalAlterConfigOpAppend && i < 0:
			items = append(items, v)
		case c.Op == kmsg.IncrementalAlterConfigOpSubtract && i >= 0:
			items = slices.Delete(items, i, i+1)
		}
	}
	return strings.Join(items, ","), nil
}

// alterTopic applies the changes build returns for topic name (resource
// type typ) and returns the resource's error code and message.
func (h *Handler) alterTopic(typ kmsg.ConfigResourceType, name string, validateOnly bool,
	build func(engine.TopicInfo) (map[string]string, error)) (int16, *string) {
	if typ != kmsg.ConfigResourceTypeTopic {
		return h.codeAndMessage(errOnlyTopicConfigs(typ))
	}
	info := h.cfg.Engine.Describe(name)[0]
	if info.Err != nil {
		return h.codeAndMessage(info.Err)
	}
	changes, err := build(info)
	if err == nil {
		err = h.cfg.Admin.AlterTopicConfigs(name, changes, validateOnly)
	}
	return h.codeAndMessage(err)
}

// codeAndMessage is err's Kafka code and message, (0, nil) for nil.
func (h *Handler) codeAndMessage(err error) (int16, *string) {
	if err == nil {
		return 0, nil
	}
	return h.code(err), ptr(err.Error())
}
