// Package broker assembles one Spate broker from its parts: the storage
// engine (engine/), the gnet network server (netio/) speaking the native
// protocol (wire/), and the admin HTTP endpoint (/metrics, /health).
//
// Starting a broker is a library call, so tests start real brokers in the
// test process on port 0 and the `spate broker` command is only flags and a
// call to New and Run.
//
// # Configuration
//
// A Config starts from DefaultConfig (the embedded defaults `make run`
// uses) and takes values from, in increasing precedence:
//
//  1. a config file in Kafka's server.properties form (`--config FILE`),
//  2. environment variables SPATE_<KEY> (log.flush.policy →
//     SPATE_LOG_FLUSH_POLICY),
//  3. command-line flags (--data-dir, --addr, --admin-addr, and
//     --set key=value for any key).
//
// An unknown key in a file or in --set is an error; so is a value that does
// not parse or is out of range. Config.Keys lists every key with its doc.
package broker
